"""A 3-node cluster of real kiseki-server processes on loopback: any node serves every
protocol over the one namespace; kill -9 of the leader and of a follower under a
stream of writes; a leader cut off from the majority (the --test-faults switch); a
history of concurrent operations checked for linearizability; snapshots shipped to a
node that fell behind; the cluster secret between nodes."""
import datetime
import hashlib
import json
import os
import random
import socket
import struct
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import BotoCoreError, ClientError

from cluster import Cluster, body
from linearizability import check_register

BUCKET = "replicated"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    # Three metadata shards: the buckets of these tests spread over them (ADR 0009).
    # Lifecycle passes every second: only buckets with rules are touched (one test's).
    c = Cluster(tmp_path_factory.mktemp("cluster"), n=3,
                extra=["--raft-snapshot-entries", "64", "--shards", "3", "--lifecycle-interval-s", "1"])
    c.s3(1).create_bucket(Bucket=BUCKET)
    yield c
    c.close()


class Writers:
    """Threads that PUT distinct keys to the given nodes until stopped, retrying a
    failed PUT (as a client does) and recording what was acknowledged."""

    def __init__(self, cluster, nodes, prefix, threads=4, limit=400):
        self.cluster, self.nodes, self.prefix = cluster, nodes, prefix
        self.acked, self.errors = {}, []
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(t, limit)) for t in range(threads)]
        for t in self.threads:
            t.start()

    def run(self, t, limit):
        clients = {}
        for n in range(limit):  # bounded
            if self.stop_flag.is_set():
                return
            key = f"{self.prefix}/{t}/{n}"
            data = body(key, 20000 + 997 * (n % 7))
            for attempt in range(40):
                node = self.nodes[(t + attempt) % len(self.nodes)]
                if self.cluster.nodes[node].proc.poll() is not None:
                    continue
                try:
                    c = clients.get(node) or clients.setdefault(node, self.cluster.s3(node, read_timeout=15))
                    c.put_object(Bucket=BUCKET, Key=key, Body=data)
                    with self.lock:
                        self.acked[key] = hashlib.md5(data).hexdigest()
                    break
                except (ClientError, BotoCoreError, OSError) as e:
                    with self.lock:
                        self.errors.append((time.time(), node, str(e)[:120]))
                    time.sleep(0.1)

    def finish(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(timeout=120)


def check_present(cluster, acked, nodes):
    for node in nodes:
        s3 = cluster.s3(node)
        for key, md5 in acked.items():
            got = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
            assert hashlib.md5(got).hexdigest() == md5, f"{key} differs on node {node}"


def test_any_node_serves_the_one_namespace(cluster, tmp_path):
    data = os.urandom(3 << 20)
    cluster.s3(1).put_object(Bucket=BUCKET, Key="a/b/obj.bin", Body=data)
    assert cluster.s3(3).get_object(Bucket=BUCKET, Key="a/b/obj.bin")["Body"].read() == data
    keys = [o["Key"] for o in cluster.s3(2).list_objects_v2(Bucket=BUCKET, Prefix="a/")["Contents"]]
    assert keys == ["a/b/obj.bin"]
    # A multipart upload begun on one node, parts on others, completed on a third.
    parts = [os.urandom(5 << 20), os.urandom(1 << 20)]
    up = cluster.s3(1).create_multipart_upload(Bucket=BUCKET, Key="mp.bin")["UploadId"]
    etags = [cluster.s3(2 + i).upload_part(Bucket=BUCKET, Key="mp.bin", UploadId=up, PartNumber=i + 1,
                                           Body=p)["ETag"] for i, p in enumerate(parts)]
    cluster.s3(1).complete_multipart_upload(Bucket=BUCKET, Key="mp.bin", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]})
    assert cluster.s3(3).get_object(Bucket=BUCKET, Key="mp.bin")["Body"].read() == b"".join(parts)
    # NFS write on node 2, S3 read on node 1 (and the other way round).
    src = tmp_path / "nfs.bin"
    src.write_bytes(os.urandom(300000))
    subprocess.run(["nfs-cp", str(src), cluster.nodes[2].nfs_url(f"/default/{BUCKET}/over-nfs.bin")],
                   check=True, capture_output=True, timeout=60)
    assert cluster.s3(1).get_object(Bucket=BUCKET, Key="over-nfs.bin")["Body"].read() == src.read_bytes()
    out = tmp_path / "back.bin"
    subprocess.run(["nfs-cp", cluster.nodes[3].nfs_url(f"/default/{BUCKET}/a/b/obj.bin"), str(out)],
                   check=True, capture_output=True, timeout=60)
    assert out.read_bytes() == data
    # One set of root credentials and admin tokens for the whole cluster.
    for f in ("credentials", "admin-token"):
        texts = {open(os.path.join(n.data_dir, f)).read() for n in cluster.nodes.values()}
        assert len(texts) == 1, f


def test_cluster_status_json(cluster):
    r = cluster.nodes[2].cli("cluster", "status")
    st = json.loads(r.stdout)
    assert {n["node"] for n in st["nodes"]} == {1, 2, 3}
    assert all(n["reachable"] for n in st["nodes"])
    assert st["chunks_degraded"] == 0
    assert [s["shard"] for s in st["shards"]] == [0, 1, 2]
    assert all(s["leader"] in (1, 2, 3) for s in st["shards"])
    for n in st["nodes"]:
        assert len(n["shards"]) == 3 and all(sorted(s["voters"]) == [1, 2, 3] for s in n["shards"])
    text = cluster.nodes[1].cli("cluster", "status", json=False).stdout
    assert "leader" in text


def metric(node, name):
    with urllib.request.urlopen(f"{node.admin_url}/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return 0.0


def eventually(check, timeout=10):
    deadline = time.time() + timeout
    while True:
        try:
            return check()
        except (AssertionError, ClientError, urllib.error.HTTPError):
            if time.time() > deadline:
                raise
            time.sleep(0.1)


def test_bucket_configuration_is_the_clusters(cluster):
    """ADR 0011: a bucket's documents set through one node hold on the others (each
    drops its cached copy as it applies the change, a cached absence too); lifecycle
    passes run on the root shard's leader only."""
    s3 = {i: cluster.s3(i) for i in (1, 2, 3)}
    s3[1].create_bucket(Bucket="cfg")
    with pytest.raises(ClientError):
        s3[3].get_bucket_tagging(Bucket="cfg")  # node 3 now caches "no tags"
    for value, writer in (("v1", 2), ("v2", 1)):
        s3[writer].put_bucket_tagging(Bucket="cfg", Tagging={"TagSet": [{"Key": "k", "Value": value}]})
        for reader in (1, 2, 3):
            def same():
                assert s3[reader].get_bucket_tagging(Bucket="cfg")["TagSet"] == [{"Key": "k", "Value": value}]
            eventually(same)
    s3[1].put_object(Bucket="cfg", Key="pub/a", Body=b"a")
    s3[2].put_bucket_policy(Bucket="cfg", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::cfg/pub/*"}]}))
    url = f"{cluster.nodes[3].s3_endpoint}/cfg/pub/a"
    eventually(lambda: urllib.request.urlopen(url, timeout=5).read() == b"a" or None)
    # Objects under old/ expired long ago: the leader's next pass deletes them, once.
    before = {i: metric(n, "kiseki_lifecycle_expired_total") for i, n in cluster.nodes.items()}
    for k in range(3):
        s3[1 + k].put_object(Bucket="cfg", Key=f"old/{k}", Body=b"x")
    s3[3].put_bucket_lifecycle_configuration(Bucket="cfg", LifecycleConfiguration={"Rules": [
        {"ID": "old", "Filter": {"Prefix": "old/"}, "Status": "Enabled",
         "Expiration": {"Date": datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)}}]})

    def expired():
        assert "Contents" not in s3[2].list_objects_v2(Bucket="cfg", Prefix="old/")
    eventually(expired, timeout=30)
    leader = cluster.leader()

    def counted_by_the_leader():  # a pass counts a delete once it returns, a moment after it applies
        done = {i: metric(n, "kiseki_lifecycle_expired_total") - before[i] for i, n in cluster.nodes.items()}
        assert done[leader] == 3 and sum(done.values()) == 3, (leader, done)
    eventually(counted_by_the_leader, timeout=5)
    assert [o["Key"] for o in s3[3].list_objects_v2(Bucket="cfg")["Contents"]] == ["pub/a"]


def test_versions_and_locks_hold_on_every_node(cluster):
    """ADR 0012 in a cluster: versions written through different nodes list alike on
    every node, newest first; a delete by version through a third node brings the
    one before back; a locked version refuses deletion on every node; a key that
    becomes a prefix too (ADR 0013) reads alike on every node."""
    s3 = {i: cluster.s3(i) for i in (1, 2, 3)}
    s3[1].create_bucket(Bucket="vers", ObjectLockEnabledForBucket=True)
    ids = [s3[w].put_object(Bucket="vers", Key="k", Body=f"v{n}".encode())["VersionId"]
           for n, w in enumerate((1, 2, 3, 1))]
    for reader in (1, 2, 3):
        def listed():
            got = [v["VersionId"] for v in s3[reader].list_object_versions(Bucket="vers")["Versions"]]
            assert got == ids[::-1]
        eventually(listed)
    s3[3].delete_object(Bucket="vers", Key="k", VersionId=ids[3])
    r = s3[2].get_object(Bucket="vers", Key="k")  # reads wait for the writes before them
    assert r["Body"].read() == b"v2" and r["VersionId"] == ids[2]
    s3[2].put_object_legal_hold(Bucket="vers", Key="k", VersionId=ids[0], LegalHold={"Status": "ON"})
    for node in (1, 3):
        with pytest.raises(ClientError) as e:
            s3[node].delete_object(Bucket="vers", Key="k", VersionId=ids[0], BypassGovernanceRetention=True)
        assert e.value.response["Error"]["Code"] == "AccessDenied"
    # ADR 0013: the key "k" becomes a prefix too; every node applies the change alike.
    s3[3].put_object(Bucket="vers", Key="k/below", Body=b"below")
    for reader in (1, 2, 3):
        def both():
            assert [o["Key"] for o in s3[reader].list_objects_v2(Bucket="vers")["Contents"]] == ["k", "k/below"]
        eventually(both)
        assert s3[reader].get_object(Bucket="vers", Key="k")["Body"].read() == b"v2"
    s3[1].delete_object(Bucket="vers", Key="k")  # a delete marker; the key below stays
    for reader in (2, 3):
        def below_only():
            assert [o["Key"] for o in s3[reader].list_objects_v2(Bucket="vers")["Contents"]] == ["k/below"]
        eventually(below_only)


def test_namespaces_spread_over_shards(cluster, tmp_path):
    """Buckets land in every shard; a copy between buckets of different shards keeps
    its bytes after the source goes; deleting a bucket and crypto-shredding a tenant
    reach every shard; the reference counts agree with the layouts on every node."""
    s3 = cluster.s3(1)
    names = [f"spread-{i}" for i in range(6)]
    for n in names:
        s3.create_bucket(Bucket=n)
        s3.put_object(Bucket=n, Key="k", Body=n.encode() * 1000)
    for node in (2, 3):
        for n in names:
            assert cluster.s3(node).get_object(Bucket=n, Key="k")["Body"].read() == n.encode() * 1000
    # Every shard took some of them: each shard's leader applied more than its own setup.
    applied = [s["applied_index"] for s in cluster.own_shards(1)]
    assert all(a > 3 for a in applied), applied
    data = os.urandom(300000)
    s3.put_object(Bucket=names[0], Key="src", Body=data)
    for n in names[1:3]:
        s3.copy_object(Bucket=n, Key="copied", CopySource={"Bucket": names[0], "Key": "src"})
    s3.delete_object(Bucket=names[0], Key="src")
    for node in (1, 2, 3):
        for n in names[1:3]:
            assert cluster.s3(node).get_object(Bucket=n, Key="copied")["Body"].read() == data
    # A bucket with an object is not deleted; emptied, it is, on every node.
    with pytest.raises(ClientError):
        s3.delete_bucket(Bucket=names[5])
    s3.delete_object(Bucket=names[5], Key="k")
    s3.delete_bucket(Bucket=names[5])
    for node in (1, 2, 3):
        with pytest.raises(ClientError) as e:
            cluster.s3(node).head_bucket(Bucket=names[5])
        assert e.value.response["Error"]["Code"] in ("404", "NoSuchBucket")
    # A tenant whose namespaces sit in several shards is shredded and purged everywhere.
    admin = cluster.nodes[2]
    admin.cli("tenant", "create", "gone")
    for i in range(3):
        admin.cli("namespace", "create", "gone", f"gone-{i}")
    key = json.loads(admin.cli("key", "create", "gone").stdout)
    import boto3
    from botocore.config import Config
    g = boto3.client("s3", endpoint_url=cluster.nodes[3].s3_endpoint, aws_access_key_id=key["access_key_id"],
                     aws_secret_access_key=key["secret_key"], region_name="us-east-1",
                     config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 0}))
    for i in range(3):
        g.put_object(Bucket=f"gone-{i}", Key="x", Body=os.urandom(100000))
    admin.cli("tenant", "shred", "gone", "--yes")
    deadline = time.time() + 60
    while time.time() < deadline:
        u = json.loads(cluster.nodes[1].cli("usage").stdout)
        if not any(n["tenant"] == "gone" for n in u["namespaces"]):
            break
        time.sleep(0.5)
    else:
        raise AssertionError("the shredded tenant's namespaces are still listed")
    cluster.wait_caught_up()


def test_kill_a_follower_no_client_error(cluster):
    lead = cluster.leader()
    follower = [i for i in (1, 2, 3) if i != lead][0]
    w = Writers(cluster, [lead], "follower-kill", threads=4)
    time.sleep(1.5)
    cluster.kill(follower)
    time.sleep(2)
    w.finish()
    assert not w.errors, w.errors[:5]
    assert len(w.acked) > 20
    cluster.restart(follower)
    cluster.wait_caught_up()
    check_present(cluster, w.acked, [follower])


def test_kill_the_leader_under_writes(cluster):
    cluster.wait_caught_up()
    lead = cluster.leader()
    others = [i for i in (1, 2, 3) if i != lead]
    w = Writers(cluster, others, "leader-kill", threads=4)
    time.sleep(1.5)
    before = len(w.acked)
    killed_at = time.time()
    cluster.kill(lead)
    new = cluster.leader(among=others)
    assert new != lead
    time.sleep(2)
    w.finish()
    assert len(w.acked) > before, "writes did not go on after the election"
    # Errors (answers that are not acknowledgements) only around the election.
    late = [e for e in w.errors if e[0] > killed_at + 10 * cluster.election_ms / 1000]
    assert not late, late[:5]
    check_present(cluster, w.acked, others)
    cluster.restart(lead)
    cluster.wait_caught_up()
    check_present(cluster, w.acked, [lead])


def test_partitioned_leader_loses_only_unacknowledged_writes(cluster):
    cluster.wait_caught_up()
    lead = cluster.leader()
    others = [i for i in (1, 2, 3) if i != lead]
    s3_old = cluster.s3(lead, read_timeout=30)
    s3_old.put_object(Bucket=BUCKET, Key="part/before", Body=b"before")
    cluster.isolate(lead, others)
    try:
        # The majority elects a leader of its own and goes on.
        new = cluster.leader(among=others)
        assert new != lead
        cluster.s3(new).put_object(Bucket=BUCKET, Key="part/majority", Body=b"majority")
        # The old leader cannot commit: its write is not acknowledged.
        with pytest.raises((ClientError, BotoCoreError)):
            s3_old.put_object(Bucket=BUCKET, Key="part/minority", Body=b"minority")
        # Nor can it answer a read as if it were current.
        with pytest.raises((ClientError, BotoCoreError)):
            s3_old.get_object(Bucket=BUCKET, Key="part/majority")
    finally:
        cluster.heal(lead)
    cluster.wait_caught_up()
    for node in (1, 2, 3):
        s3 = cluster.s3(node)
        assert s3.get_object(Bucket=BUCKET, Key="part/before")["Body"].read() == b"before"
        assert s3.get_object(Bucket=BUCKET, Key="part/majority")["Body"].read() == b"majority"
        with pytest.raises(ClientError) as e:
            s3.get_object(Bucket=BUCKET, Key="part/minority")
        assert e.value.response["Error"]["Code"] == "NoSuchKey"


def test_history_is_linearizable_across_kills_and_partitions(cluster):
    """Clients write and read a few keys on every node while the leader is killed and a
    node is cut off; the checker looks for a linearization of each key's history."""
    cluster.wait_caught_up()
    keys = [f"lin/{k}" for k in range(4)]
    history = {k: [] for k in keys}
    lock = threading.Lock()
    stop = threading.Event()

    def client(cid):
        rnd = random.Random(cid)
        conns = {}
        for n in range(150):  # bounded
            if stop.is_set():
                return
            node = rnd.choice(cluster.live())
            key = rnd.choice(keys)
            c = conns.get(node) or conns.setdefault(node, cluster.s3(node, read_timeout=12))
            t0 = time.monotonic()
            if rnd.random() < 0.5:
                value = f"{cid}-{n}"
                try:
                    c.put_object(Bucket=BUCKET, Key=key, Body=value.encode())
                    op = (t0, time.monotonic(), "write", value)
                except (ClientError, BotoCoreError, OSError):
                    op = (t0, None, "write", value)  # may or may not have happened
            else:
                try:
                    got = c.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
                    op = (t0, time.monotonic(), "read", got)
                except ClientError as e:
                    if e.response["Error"]["Code"] != "NoSuchKey":
                        continue  # a failed read observed nothing
                    op = (t0, time.monotonic(), "read", None)
                except (BotoCoreError, OSError):
                    continue
            with lock:
                history[key].append(op)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(6)]
    for t in threads:
        t.start()
    time.sleep(2)
    lead = cluster.leader()
    cluster.kill(lead)
    time.sleep(3)
    cluster.restart(lead)
    time.sleep(1)
    lead = cluster.leader()
    others = [i for i in (1, 2, 3) if i != lead]
    cluster.isolate(others[0], [lead, others[1]])
    time.sleep(3)
    cluster.heal(others[0])
    time.sleep(2)
    stop.set()
    for t in threads:
        t.join(timeout=120)
    total = 0
    for key, ops in history.items():
        ok, why = check_register(ops)
        assert ok, f"{key}: {why}"
        total += len(ops)
    assert total > 100


def test_the_checker_finds_a_stale_read():
    # A read that returns the old value after a write of the new one completed.
    bad = [(0.0, 1.0, "write", "a"), (2.0, 3.0, "write", "b"), (4.0, 5.0, "read", "a")]
    assert not check_register(bad)[0]
    # Concurrent with the write, either value may be read.
    good = [(0.0, 1.0, "write", "a"), (2.0, 5.0, "write", "b"), (3.0, 4.0, "read", "a"), (3.5, 6.0, "read", "b")]
    assert check_register(good)[0]
    # A write whose answer was lost may take effect later, or never.
    maybe = [(0.0, 1.0, "write", "a"), (1.5, None, "write", "x"), (2.0, 3.0, "read", "a"), (4.0, 5.0, "read", "x")]
    assert check_register(maybe)[0]


def metric(node, name):
    """A metric summed over its label sets (one per shard)."""
    st, text = node.get("/metrics")
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name + " ") or line.startswith(name + "{"))


def test_a_node_far_behind_installs_a_snapshot(cluster):
    cluster.wait_caught_up()
    lead = cluster.leader()
    behind = [i for i in (1, 2, 3) if i != lead][0]
    cluster.kill(behind)
    s3 = cluster.s3(lead)
    written = {}
    for n in range(200):  # well past --raft-snapshot-entries 64 and its trailing entries
        key = f"snap/{n}"
        written[key] = body(key, 1000 + n)
        s3.put_object(Bucket=BUCKET, Key=key, Body=written[key])
    assert metric(cluster.nodes[lead], "kiseki_raft_snapshots_total") >= 1
    cluster.restart(behind)
    cluster.wait_caught_up()
    assert metric(cluster.nodes[behind], "kiseki_raft_snapshot_installs_total") >= 1
    assert "installed a snapshot" in cluster.nodes[behind].output()
    s3b = cluster.s3(behind)
    for key in random.sample(sorted(written), 20):
        assert s3b.get_object(Bucket=BUCKET, Key=key)["Body"].read() == written[key]
    listed = s3b.list_objects_v2(Bucket=BUCKET, Prefix="snap/", MaxKeys=1000)["KeyCount"]
    assert listed == 200


def test_peers_must_prove_the_cluster_secret(cluster):
    # A Raft stream that names itself another node but cannot prove the secret is
    # closed without an answer past the server's nonce and proof.
    lead = cluster.leader()
    other = [i for i in (1, 2, 3) if i != lead][0]
    raft_port = cluster.fabric[lead] + 1
    with socket.create_connection(("127.0.0.1", raft_port), timeout=5) as s:
        addr = b"127.0.0.1:1"
        s.sendall(b"KRFT" + bytes([1]) + struct.pack(">QQH", 0, other, len(addr)) + addr + os.urandom(32))
        answer = b""
        while len(answer) < 64:
            chunk = s.recv(64 - len(answer))
            assert chunk, "closed before the server proved itself"
            answer += chunk
        s.sendall(os.urandom(32))  # a wrong proof
        s.settimeout(5)
        assert s.recv(1) == b"", "a stream with a wrong proof was accepted"
    assert "failed to prove the cluster secret" in cluster.nodes[lead].output()


def test_join_a_fourth_node_and_remove_one_under_load(cluster):
    """Runs last: it changes the members. A node joins with --join through a
    follower, becomes a voter, serves reads; then another node is removed with
    `kiseki node remove`; writers on the nodes that stay see no error, and every
    acknowledged write is on every member afterwards."""
    cluster.wait_caught_up()
    lead = cluster.leader()
    follower = [i for i in (1, 2, 3) if i != lead][0]
    stays = [i for i in (1, 2, 3) if i != follower]
    w = Writers(cluster, stays, "membership", threads=3)
    time.sleep(1)
    cluster.start(4, join=f"127.0.0.1:{cluster.fabric[follower]}")
    deadline = time.time() + 60
    while time.time() < deadline:
        nodes = json.loads(cluster.nodes[lead].cli("node", "list").stdout)
        shards = cluster.own_shards(4)
        if any(n["id"] == 4 and n["raft_role"] == "voter" for n in nodes) and \
                all(4 in s["voters"] for s in shards):
            break
        time.sleep(0.3)
    else:
        raise AssertionError(f"node 4 did not become a voter of every shard: {nodes} {shards}")
    r = cluster.nodes[stays[0]].cli("node", "remove", str(follower))
    assert r.returncode == 0
    time.sleep(1.5)
    w.finish()
    assert not w.errors, w.errors[:5]
    assert len(w.acked) > 10
    nodes = {n["id"]: n for n in json.loads(cluster.nodes[4].cli("node", "list").stdout)}
    assert nodes[follower]["state"] == "removed"
    assert nodes[follower]["raft_role"] == ""
    assert nodes[4]["state"] == "active"
    # A removed id is not taken again.
    again = cluster.nodes[4].cli("node", "remove", str(follower), check=False)
    assert again.returncode != 0 and "not used again" in again.stderr
    members = stays + [4]
    cluster.wait_caught_up(among=members)
    check_present(cluster, w.acked, members)
    st = json.loads(cluster.nodes[4].cli("cluster", "status").stdout)
    assert {n["node"] for n in st["nodes"]} == set(members)
    cluster.kill(follower)
