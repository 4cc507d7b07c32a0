"""Erasure coding, placement, repair and rebalancing on a 6-node cluster of real
kiseki-server processes (docs/cluster.md#erasure-coding): an ec=4+2 namespace
survives two killed nodes byte for byte; removing them, repair restores all six
fragments of every chunk (checked by asking every node, not by a counter); a flipped
bit in one fragment on disk is found by scrub and rebuilt; a replicas=3 namespace
survives a node whose disk is wiped while it runs; a third node killed during repair
loses nothing; a seventh node that joins takes its share, every chunk whole
throughout."""
import hashlib
import json
import os
import shutil
import threading
import time

import pytest

from cluster import Cluster, body

EC = "ecbucket"
REP = "repbucket"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    # Two nodes per failure domain: fragments spread over the three racks first.
    c = Cluster(tmp_path_factory.mktemp("ec"), n=6, extra=["--repair-interval-ms", "1000"],
                per_node=lambda i: ["--failure-domain", f"rack-{(i - 1) // 2}"])
    node = c.nodes[1]
    r = node.cli("namespace", "create", "default", EC, "--durability", "ec=4+2")
    assert EC in r.stdout
    node.cli("namespace", "create", "default", REP, "--durability", "replicas=3")
    yield c
    c.close()


def census(c, i):
    st, out = c.nodes[i].api("GET", "/api/v1/cluster/chunks")
    assert st == 200, out
    return json.loads(out)


def wait_whole(c, i, timeout=120, want_nodes=None):
    """Until every chunk has each slot on its home, as node i finds by asking every node."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        for n in c.live():
            c.nodes[n].api("POST", "/api/v1/cluster/repair")
        last = census(c, i)
        if last["short"] == 0 and last["strays"] == 0 and last["unreadable"] == 0 and (
                want_nodes is None or sorted(int(n) for n in last["records_by_node"]) == sorted(want_nodes)):
            return last
        time.sleep(0.5)
    raise AssertionError(f"chunks not whole: {last}")


OBJECTS = {}


def put_objects(c, node, bucket, prefix, n, sizes=(70000, 300000, 5000, 1 << 20)):
    s3 = c.s3(node)
    for k in range(n):
        key = f"{prefix}/{k}"
        data = body(key, sizes[k % len(sizes)])
        s3.put_object(Bucket=bucket, Key=key, Body=data)
        OBJECTS[(bucket, key)] = hashlib.md5(data).hexdigest()


def check_all(c, node, bucket=None):
    s3 = c.s3(node, read_timeout=60)
    for (b, key), md5 in OBJECTS.items():
        if bucket and b != bucket:
            continue
        got = s3.get_object(Bucket=b, Key=key)["Body"].read()
        assert hashlib.md5(got).hexdigest() == md5, (b, key)


def test_namespaces_show_their_durability(cluster):
    r = cluster.nodes[1].cli("namespace", "list", "default")
    rows = {n["name"]: n["durability"] for n in json.loads(r.stdout)}
    assert rows[EC] == "ec=4+2" and rows[REP] == "replicas=3"
    # Buckets made over S3 take the cluster's default.
    cluster.s3(3).create_bucket(Bucket="s3made")
    rows = {n["name"]: n["durability"] for n in json.loads(cluster.nodes[1].cli("namespace", "list", "default").stdout)}
    assert rows["s3made"] == "replicas=3"
    # A policy the cluster cannot place, and one that is no policy, are refused.
    r = cluster.nodes[1].cli("namespace", "create", "default", "toowide", "--durability", "ec=8+3", check=False)
    assert r.returncode != 0 and "11 fragments" in r.stderr
    r = cluster.nodes[1].cli("namespace", "create", "default", "nonsense", "--durability", "ec=4", check=False)
    assert r.returncode != 0 and "ec=K+M" in r.stderr


def test_fragments_spread_over_six_nodes_at_one_and_a_half_times(cluster):
    put_objects(cluster, 1, EC, "a", 24)
    put_objects(cluster, 2, REP, "r", 8)
    check_all(cluster, 3)
    c = wait_whole(cluster, 4)
    assert c["by_durability"]["ec=4+2"] > 0 and c["by_durability"]["replicas=3"] > 0
    # Every node holds records, and fragments are 6 per erasure-coded chunk.
    assert sorted(int(n) for n in c["records_by_node"]) == [1, 2, 3, 4, 5, 6]
    ec_chunks = c["by_durability"]["ec=4+2"]
    rep_chunks = c["by_durability"]["replicas=3"]
    assert c["slots_at_home"] == 6 * ec_chunks + 3 * rep_chunks


def test_two_nodes_killed_every_object_reads(cluster):
    cluster.kill(5)
    cluster.kill(6)
    check_all(cluster, 1)
    check_all(cluster, 3)


def test_a_third_node_killed_during_repair_loses_nothing(cluster):
    """Nodes 5 and 6 are removed (repair starts: every node rebuilds what it answers
    for) and node 4 is killed at once. A read answers the right bytes or an error,
    never others; once node 4 is back every object reads and repair completes: six
    fragments of every chunk on the four nodes left, found by asking each of them."""
    for dead in (5, 6):
        cluster.nodes[1].cli("node", "remove", str(dead))
    cluster.kill(4)
    s3 = cluster.s3(1, read_timeout=60)
    readable = 0
    for (b, key), md5 in OBJECTS.items():
        try:
            got = s3.get_object(Bucket=b, Key=key)["Body"].read()
        except Exception:  # fewer than K fragments reachable: an error, not other bytes
            continue
        assert hashlib.md5(got).hexdigest() == md5, (b, key)
        readable += 1
    assert readable > 0
    cluster.restart(4)
    c = wait_whole(cluster, 2, want_nodes=[1, 2, 3, 4])
    ec_chunks = c["by_durability"]["ec=4+2"]
    rep_chunks = c["by_durability"]["replicas=3"]
    assert c["slots_at_home"] == 6 * ec_chunks + 3 * rep_chunks
    # Six fragments over four nodes: no node holds more than two of a chunk, so
    # any one node may go again.
    assert sum(c["records_by_node"].values()) == 6 * ec_chunks + 3 * rep_chunks
    deadline = time.time() + 30
    while True:
        st = json.loads(cluster.nodes[1].cli("cluster", "status").stdout)
        if st["repair"]["every_node_passed"] and st["chunks_degraded"] == 0 or time.time() > deadline:
            break
        time.sleep(1)
    assert st["chunks_degraded"] == 0 and st["chunks_unreadable"] == 0, st
    check_all(cluster, 4)


def segment_records(path):
    """(offset of the payload, id, length) of every record of a segment file."""
    data = open(path, "rb").read()
    at = 0
    while at + 44 <= len(data) and data[at:at + 4] == b"KSCR":
        length = int.from_bytes(data[at + 8:at + 12], "big")
        yield at + 44, data[at + 12:at + 44], length
        at += 44 + length


def test_a_flipped_bit_in_a_fragment_is_found_by_scrub_and_rebuilt(cluster):
    node = 2
    seg_dir = os.path.join(cluster.nodes[node].data_dir, "chunks")
    target = None
    for f in sorted(os.listdir(seg_dir)):
        for off, rid, length in segment_records(os.path.join(seg_dir, f)):
            if rid[0] & 0x80 and length > 1000:
                target = (os.path.join(seg_dir, f), off + length // 2, rid.hex())
    assert target, "no fragment on node 2"
    path, off, key = target
    with open(path, "r+b") as f:
        f.seek(off)
        b = f.read(1)
        f.seek(off)
        f.write(bytes([b[0] ^ 0x10]))
    scrub = json.loads(cluster.nodes[node].cli("scrub").stdout)
    assert any(key in p for p in scrub["problems"]), scrub
    assert key in scrub["repaired"], scrub
    c = wait_whole(cluster, 1, want_nodes=[1, 2, 3, 4])
    assert c["unreadable"] == 0
    # The rebuilt fragment is good: a second scrub finds no damaged fragment.
    again = json.loads(cluster.nodes[node].cli("scrub").stdout)
    assert not again["repaired"] and not any(p.startswith("fragment") for p in again["problems"]), again
    check_all(cluster, 3)


def test_replicas_survive_a_disk_wiped_while_the_node_runs(cluster):
    node = 3
    seg_dir = os.path.join(cluster.nodes[node].data_dir, "chunks")
    for f in os.listdir(seg_dir):
        os.truncate(os.path.join(seg_dir, f), 0)
    # Reads go on, through this node too (its copies fail their checks: others answer).
    check_all(cluster, node, bucket=REP)
    check_all(cluster, node, bucket=EC)
    scrub = json.loads(cluster.nodes[node].cli("scrub").stdout)
    assert scrub["repaired"], scrub
    c = wait_whole(cluster, 1, want_nodes=[1, 2, 3, 4])
    assert c["slots_at_home"] == c["slots_expected"]
    check_all(cluster, 1)


def test_a_node_that_joins_takes_its_share_every_chunk_whole_throughout(cluster):
    before = census(cluster, 1)
    cluster.start(7, join=f"127.0.0.1:{cluster.fabric[1]}", wait=True)
    seen = []
    stop = threading.Event()

    def watch():
        while not stop.is_set():  # bounded by the rebalance below
            try:
                seen.append(census(cluster, 2))
            except AssertionError:
                pass
            time.sleep(0.2)

    t = threading.Thread(target=watch)
    t.start()
    try:
        c = wait_whole(cluster, 1, want_nodes=[1, 2, 3, 4, 7], timeout=180)
    finally:
        stop.set()
        t.join(timeout=60)
    assert c["records_by_node"]["7"] > 0
    assert c["chunks"] == before["chunks"]
    # Nothing was dropped before its new home held it.
    assert seen and all(x["below_target"] == 0 and x["unreadable"] == 0 for x in seen), \
        [x for x in seen if x["below_target"] or x["unreadable"]][:3]
    check_all(cluster, 7)


def test_a_silent_node_is_declared_lost_and_its_copies_rebuilt(tmp_path):
    """With --node-lost-after-s, the root shard's leader removes a node that has not
    answered for that long; repair then restores every chunk's copies elsewhere."""
    c = Cluster(tmp_path, n=4, extra=["--repair-interval-ms", "500", "--node-lost-after-s", "3"])
    try:
        s3 = c.s3(1)
        s3.create_bucket(Bucket="lost")
        data = {f"k{i}": body(f"lost{i}", 50000 + i) for i in range(12)}
        for k, v in data.items():
            s3.put_object(Bucket="lost", Key=k, Body=v)
        victim = next(i for i in (4, 3, 2) if i != c.leader())
        c.kill(victim)
        deadline = time.time() + 60
        while time.time() < deadline:
            nodes = {n["id"]: n["state"] for n in json.loads(c.nodes[1].cli("node", "list").stdout)}
            if nodes.get(victim) == "removed":
                break
            time.sleep(0.5)
        assert nodes.get(victim) == "removed", nodes
        alive = [i for i in (1, 2, 3, 4) if i != victim]
        w = wait_whole(c, alive[0], want_nodes=alive)
        assert w["slots_at_home"] == 3 * w["chunks"]
        for k, v in data.items():
            assert c.s3(alive[1]).get_object(Bucket="lost", Key=k)["Body"].read() == v
    finally:
        c.close()
