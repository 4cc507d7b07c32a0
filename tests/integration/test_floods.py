"""Connection floods against one kiseki-server: 10 000 idle or slow connections
on S3, NFS and the admin port while another client is served throughout, with
the server's memory measured; the NFS partial-record flood stays within its
budget. The floods come from 127.0.0.2 and up, the served client from 127.0.0.1.
Every phase is bounded in time; latencies are printed, not asserted tightly
(speed is measured in benchmarks)."""
import resource
import selectors
import socket
import struct
import time

import boto3
import pytest
from botocore.config import Config

import rpc_client as rpc
from kiseki_server import Server

SOURCES = 20  # 127.0.0.2 .. 127.0.0.21


def flood_size():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return max(1000, min(10000, hard - 1000))


def open_flood(port, n, first=b""):
    socks = []
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((f"127.0.0.{2 + i % SOURCES}", 0))
        s.settimeout(10)
        s.connect(("127.0.0.1", port))
        if first:
            s.sendall(first)
        socks.append(s)
    return socks


def close_all(socks):
    for s in socks:
        s.close()


def rss_mb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def p99(samples):
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * 0.99))]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(str(tmp_path_factory.mktemp("floods") / "data"))
    yield s
    s.stop()


@pytest.fixture(scope="module")
def s3(server):
    ak, sk = server.root_credentials()
    c = boto3.client("s3", endpoint_url=server.s3_endpoint, aws_access_key_id=ak, aws_secret_access_key=sk,
                     region_name="us-east-1", config=Config(s3={"addressing_style": "path"},
                                                            retries={"max_attempts": 1}, connect_timeout=5,
                                                            read_timeout=5))
    c.create_bucket(Bucket="flood")
    c.put_object(Bucket="flood", Key="k", Body=b"x" * 1000)
    return c


def served_s3(s3, seconds, at_least=20):
    """GETs over S3 for `seconds`; every one must succeed. Returns latencies."""
    lat = []
    end = time.time() + seconds
    while time.time() < end or len(lat) < at_least:
        t = time.perf_counter()
        assert s3.get_object(Bucket="flood", Key="k")["Body"].read() == b"x" * 1000
        lat.append(time.perf_counter() - t)
    return lat


def test_s3_idle_flood(server, s3):
    n = flood_size()
    base = rss_mb(server.proc.pid)
    socks = open_flood(server.s3_port, n)
    try:
        time.sleep(0.5)
        lat = served_s3(s3, 2)
        mem = rss_mb(server.proc.pid)
        print(f"S3 with {n} idle connections: p99 {p99(lat) * 1000:.1f} ms over {len(lat)} GETs, "
              f"RSS {base:.0f} -> {mem:.0f} MB")
        assert mem < 300, f"server RSS {mem:.0f} MB with {n} idle connections"
        assert p99(lat) < 0.5
        # The flood is held, not refused: a request on one of its connections is served.
        socks[-1].sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert socks[-1].recv(100).startswith(b"HTTP/1.1 ")
    finally:
        close_all(socks)


def test_s3_slow_header_flood_is_cut_at_the_header_deadline(server, s3):
    n = flood_size()
    socks = open_flood(server.s3_port, n, first=b"GET /flood/k HTTP/1.1\r\nHost: local")
    try:
        sel = selectors.DefaultSelector()
        for s in socks:
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
        start = time.time()
        lat = []
        closed = 0
        # One more header byte from each every 2 s: progress, but never a whole header.
        next_drip = start + 2
        while closed < n and time.time() - start < 16:
            lat += served_s3(s3, 0.2, at_least=1)
            for key, _ in sel.select(timeout=0):
                try:
                    data = key.fileobj.recv(4096)
                except (ConnectionResetError, BlockingIOError):
                    data = b""
                if not data:
                    sel.unregister(key.fileobj)
                    closed += 1
            if time.time() >= next_drip:
                for key in list(sel.get_map().values()):
                    try:
                        key.fileobj.send(b"h")
                    except OSError:
                        pass
                next_drip += 2
        took = time.time() - start
        print(f"S3 slow-header flood of {n}: all closed after {took:.1f} s; "
              f"p99 of the served client {p99(lat) * 1000:.1f} ms over {len(lat)} GETs")
        assert closed == n, f"{n - closed} slow connections still open after {took:.0f} s"
        assert took > 8, "closed before the 10 s header deadline"
    finally:
        close_all(socks)


def nfs_null(port):
    c = rpc.RpcClient(port, timeout=5)
    try:
        t = time.perf_counter()
        c.call(rpc.NFS, 3, rpc.NULL)
        return time.perf_counter() - t
    finally:
        c.close()


def test_nfs_idle_flood(server):
    n = flood_size()
    base = rss_mb(server.proc.pid)
    socks = open_flood(server.nfs_port, n)
    try:
        time.sleep(0.5)
        lat = [nfs_null(server.nfs_port) for _ in range(50)]
        mem = rss_mb(server.proc.pid)
        print(f"NFS with {n} idle connections: NULL p99 {p99(lat) * 1000:.1f} ms, RSS {base:.0f} -> {mem:.0f} MB")
        assert mem < 300
        # A flood connection is served too when it speaks.
        c = rpc.RpcClient.__new__(rpc.RpcClient)
        c.sock, c.xid, c.buf = socks[-1], 0x5000, b""
        c.call(rpc.NFS, 3, rpc.NULL)
    finally:
        close_all(socks)


def test_nfs_partial_record_flood_stays_within_the_budget(server):
    base = rss_mb(server.proc.pid)
    socks = []
    body = b"\0" * ((3 << 20) - 4096)
    try:
        for i in range(200):  # 600 MiB of records that never complete
            s = socket.socket()
            s.bind((f"127.0.0.{2 + i % SOURCES}", 0))
            s.settimeout(10)
            s.connect(("127.0.0.1", server.nfs_port))
            try:
                s.sendall(struct.pack(">I", 0x80000000 | (3 << 20)) + body)
            except OSError:
                pass  # closed by the server: over the budget
            socks.append(s)
        time.sleep(1)
        mem = rss_mb(server.proc.pid)
        print(f"NFS partial-record flood: RSS {base:.0f} -> {mem:.0f} MB")
        assert mem - base < 300, f"partial records grew the server by {mem - base:.0f} MB"
        assert nfs_null(server.nfs_port) < 5
    finally:
        close_all(socks)


def test_admin_idle_flood(server):
    n = flood_size()
    socks = open_flood(server.port, n)
    try:
        lat = []
        for _ in range(50):
            t = time.perf_counter()
            assert server.get("/health") == (200, "ok\n")
            lat.append(time.perf_counter() - t)
        mem = rss_mb(server.proc.pid)
        print(f"admin with {n} idle connections (most refused past 256 per address): "
              f"p99 {p99(lat) * 1000:.1f} ms, RSS {mem:.0f} MB")
        assert mem < 300
    finally:
        close_all(socks)
