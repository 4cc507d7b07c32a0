"""Starts, kills, restarts and partitions a cluster of real kiseki-server processes on
loopback (docs/cluster.md). Every node serves S3, NFS and the admin API on ports of its
own; its fabric is on a free port whose next port (Raft) is free too."""
import base64
import hashlib
import json
import os
import time

from kiseki_server import Server, free_ports


def body(tag, size=70000):
    """Bytes that differ in every 4 KiB block from any other tag's."""
    seed = hashlib.sha256(tag.encode()).digest()
    out = bytearray()
    while len(out) < size:
        seed = hashlib.sha256(seed).digest()
        out += seed * 128
    return bytes(out[:size])


def free_port_pair():
    """A port P with P+1 free too (the fabric and Raft ports of one node)."""
    return free_ports(2)


class Cluster:
    def __init__(self, root, n=3, extra=(), election_ms=500, per_node=None):
        self.root = str(root)
        self.secret = os.path.join(self.root, "cluster.secret")
        with open(self.secret, "w") as f:
            f.write(base64.b64encode(os.urandom(32)).decode() + "\n")
        self.extra = list(extra)
        self.per_node = per_node or (lambda i: [])
        self.election_ms = election_ms
        self.fabric = {i: free_port_pair() for i in range(1, n + 1)}
        self.first = sorted(self.fabric)
        self.ports = {}
        self.nodes = {}
        for i in range(1, n + 1):
            self.start(i, wait=False)
        for i in range(1, n + 1):
            self.nodes[i].wait_ready(60)

    def initial(self):
        return ",".join(f"{i}=127.0.0.1:{self.fabric[i]}" for i in self.first)

    def args(self, i, join=None):
        a = ["--node-id", str(i), "--cluster-listen", f"127.0.0.1:{self.fabric[i]}",
             "--cluster-secret-file", self.secret, "--election-timeout-ms", str(self.election_ms),
             "--test-faults", *self.extra, *self.per_node(i)]
        if join:
            a += ["--join", join]
        else:
            a += ["--initial-cluster", self.initial()]
        return a

    def start(self, i, wait=True, join=None):
        if i not in self.fabric:
            self.fabric[i] = free_port_pair()
        data = os.path.join(self.root, f"node{i}", "data")
        os.makedirs(os.path.dirname(data), exist_ok=True)
        node = Server(data, extra=self.args(i, join), wait=False, ports=self.ports.get(i))
        self.ports[i] = {"admin": node.port, "s3": node.s3_port, "nfs": node.nfs_port, "native": node.native_port}
        self.nodes[i] = node
        if wait:
            node.wait_ready(60)
        return node

    def kill(self, i):
        self.nodes[i].kill()

    def stop(self, i):
        self.nodes[i].stop()

    def restart(self, i):
        return self.start(i)

    def live(self):
        return [i for i, n in self.nodes.items() if n.proc.poll() is None]

    def status(self, i):
        st, body = self.nodes[i].api("GET", "/api/v1/cluster")
        assert st == 200, body
        return json.loads(body)

    def own(self, i):
        """Node i's own view of shard 0 (role, leader, term, applied index ...)."""
        for n in self.status(i)["nodes"]:
            if n["node"] == i:
                return n["shards"][0]
        raise AssertionError(f"node {i} not in its own status")

    def own_shards(self, i):
        """Node i's own view of every shard."""
        for n in self.status(i)["nodes"]:
            if n["node"] == i:
                return n["shards"]
        raise AssertionError(f"node {i} not in its own status")

    def leader(self, among=None, timeout=30):
        """The node that leads shard 0, as every live node in `among` agrees."""
        among = among or self.live()
        deadline = time.time() + timeout
        while time.time() < deadline:
            seen = set()
            try:
                for i in among:
                    o = self.own(i)
                    seen.add(o["leader"] if o["leader"] else None)
            except (OSError, AssertionError):
                seen = {None}
            if len(seen) == 1 and None not in seen:
                lead = seen.pop()
                if lead in among and self.own(lead)["role"] == "leader":
                    return lead
            time.sleep(0.1)
        raise AssertionError("no leader agreed on by " + str(among))

    def wait_caught_up(self, among=None, timeout=60):
        """Until every node in `among` has applied what the leader has committed."""
        among = among or self.live()
        deadline = time.time() + timeout
        while time.time() < deadline:
            self.leader(among)
            views = {i: self.own_shards(i) for i in among}
            done = True
            for k in range(len(views[among[0]])):
                lead = views[among[0]][k]["leader"]
                if lead not in views:
                    done = False
                    break
                commit = views[lead][k]["commit_index"]
                done &= all(views[i][k]["applied_index"] >= commit for i in among)
            if done:
                return
            time.sleep(0.1)
        raise AssertionError("nodes did not catch up: " + str({i: self.own(i) for i in among}))

    def isolate(self, i, others):
        """Cuts node i off from `others` (both ways: the others' streams to i are refused by i)."""
        st, body = self.nodes[i].api("PUT", "/api/v1/cluster/faults",
                                     data=json.dumps({"isolate": sorted(others)}).encode())
        assert st == 200, body

    def heal(self, i):
        self.isolate(i, [])

    def s3(self, i, **config):
        from botocore.config import Config
        cfg = dict(retries={"max_attempts": 0, "mode": "standard"}, connect_timeout=5, read_timeout=30)
        cfg.update(config)
        return self.nodes[i].s3_client(**cfg)

    def close(self):
        for n in self.nodes.values():
            if n.proc.poll() is None:
                n.kill()
