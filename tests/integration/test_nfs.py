"""NFSv3 through independent clients: libnfs (its utilities, and a FUSE mount
made with it so that ordinary file-system calls, an fsx-style exerciser and fio
run through the NFS server), boto3 for the same data over S3, and a raw RPC
client for resends, UNSTABLE writes, crashes and bad bytes. One server for the
module unless a test needs its own."""
import errno
import hashlib
import json
import os
import random
import shutil
import socket
import struct
import subprocess
import time
import urllib.request

import pytest

import rpc_client as rpc
from exercisers import fio_verify, fsx
from kiseki_server import BUILD, Server

FUSE_BRIDGE = os.path.join(BUILD, "tests", "kiseki-nfs-fuse")
BUCKET = "nfs"


def run(cmd, timeout=300, check=True, **kw):
    r = subprocess.run(cmd, capture_output=True, timeout=timeout, **kw)
    if check:
        assert r.returncode == 0, f"{cmd}\nstdout: {r.stdout[-2000:]}\nstderr: {r.stderr[-2000:]}"
    return r


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(str(tmp_path_factory.mktemp("nfs") / "data"))
    yield s
    s.stop()


@pytest.fixture(scope="module")
def s3(server):
    c = server.s3_client()
    c.create_bucket(Bucket=BUCKET)
    return c


class Mount:
    def __init__(self, url, path):
        self.path = path
        os.makedirs(path, exist_ok=True)
        self.log = open(path + ".log", "w")
        self.proc = subprocess.Popen([FUSE_BRIDGE, url, path, "-f"], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while not os.path.ismount(path):
            assert self.proc.poll() is None, open(path + ".log").read()
            assert time.time() < deadline, "FUSE bridge did not mount"
            time.sleep(0.05)

    def close(self):
        subprocess.run(["fusermount3", "-u", self.path], check=False)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture(scope="module")
def mnt(server, s3, tmp_path_factory):
    m = Mount(server.nfs_url(f"/default/{BUCKET}"), str(tmp_path_factory.mktemp("mnt") / "m"))
    yield m.path
    m.close()


def rpc_root(server, path=f"/default/{BUCKET}", source_port=None):
    c = rpc.RpcClient(server.nfs_port, source_port=source_port)
    st, fh = c.mount(path)
    assert st == 0
    return c, fh


def metric(server, name, **labels):
    text = server.get("/metrics")[1]
    want = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else "")
    for line in text.splitlines():
        if line.startswith(want + " "):
            return float(line.split()[-1])
    return 0.0


# ---------------------------------------------------------------- POSIX through libnfs

def test_file_operations_through_libnfs_then_s3(mnt, s3, server):
    p = lambda *a: os.path.join(mnt, *a)
    os.mkdir(p("ops"))
    with open(p("ops", "a.txt"), "wb") as f:
        f.write(b"hello ")
    with open(p("ops", "a.txt"), "ab") as f:  # append
        f.write(b"world")
    assert open(p("ops", "a.txt"), "rb").read() == b"hello world"
    # write in the middle and past the end (a hole)
    fd = os.open(p("ops", "a.txt"), os.O_RDWR)
    os.pwrite(fd, b"W", 6)
    os.pwrite(fd, b"!", 20)
    os.close(fd)
    assert open(p("ops", "a.txt"), "rb").read() == b"hello World" + b"\0" * 9 + b"!"
    os.truncate(p("ops", "a.txt"), 5)
    assert open(p("ops", "a.txt"), "rb").read() == b"hello"
    os.truncate(p("ops", "a.txt"), 8)
    assert open(p("ops", "a.txt"), "rb").read() == b"hello\0\0\0"

    # rename a file over an existing one, and a directory over an empty one
    open(p("ops", "b.txt"), "wb").write(b"bbb")
    os.rename(p("ops", "b.txt"), p("ops", "a.txt"))
    assert open(p("ops", "a.txt"), "rb").read() == b"bbb"
    assert not os.path.exists(p("ops", "b.txt"))
    os.mkdir(p("ops", "d1"))
    open(p("ops", "d1", "inner"), "wb").write(b"inner")
    os.mkdir(p("ops", "d2"))
    os.rename(p("ops", "d1"), p("ops", "d2"))
    assert open(p("ops", "d2", "inner"), "rb").read() == b"inner"
    os.mkdir(p("ops", "full"))
    open(p("ops", "full", "x"), "wb").close()
    with pytest.raises(OSError) as e:
        os.rename(p("ops", "d2"), p("ops", "full"))
    assert e.value.errno in (errno.ENOTEMPTY, errno.EEXIST)

    # hard link, symlink
    os.link(p("ops", "a.txt"), p("ops", "hard"))
    assert os.stat(p("ops", "a.txt")).st_nlink == 2
    assert os.stat(p("ops", "hard")).st_ino == os.stat(p("ops", "a.txt")).st_ino
    os.symlink("d2/inner", p("ops", "sym"))
    assert os.readlink(p("ops", "sym")) == "d2/inner"
    assert open(p("ops", "sym"), "rb").read() == b"inner"

    # attributes
    os.chmod(p("ops", "a.txt"), 0o640)
    os.chown(p("ops", "a.txt"), 1234, 5678)
    os.utime(p("ops", "a.txt"), ns=(1_600_000_000_000_000_000, 1_500_000_000_123_456_000))
    st = os.stat(p("ops", "a.txt"))
    assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o640, 1234, 5678)
    assert st.st_mtime_ns == 1_500_000_000_123_456_000
    assert st.st_atime_ns == 1_600_000_000_000_000_000
    sv = os.statvfs(mnt)
    real = os.statvfs(server.data_dir)  # FSSTAT reports the space of the data directory
    assert (sv.f_blocks * sv.f_frsize) == real.f_blocks * real.f_frsize and 0 < sv.f_bavail <= sv.f_blocks

    # unlink, rmdir, and the errors POSIX gives
    os.unlink(p("ops", "hard"))
    assert os.stat(p("ops", "a.txt")).st_nlink == 1
    with pytest.raises(FileNotFoundError):
        os.unlink(p("ops", "hard"))
    with pytest.raises(OSError) as e:
        os.rmdir(p("ops", "full"))
    assert e.value.errno == errno.ENOTEMPTY
    with pytest.raises(FileExistsError):
        os.mkdir(p("ops", "full"))
    with pytest.raises(OSError) as e:
        open(p("ops", "n" * 256), "wb")
    assert e.value.errno == errno.ENAMETOOLONG
    os.unlink(p("ops", "full", "x"))
    os.rmdir(p("ops", "full"))
    assert sorted(os.listdir(p("ops"))) == ["a.txt", "d2", "sym"]

    # the same data over S3: a file is an object at once
    assert s3.get_object(Bucket=BUCKET, Key="ops/a.txt")["Body"].read() == b"bbb"
    assert s3.get_object(Bucket=BUCKET, Key="ops/d2/inner")["Body"].read() == b"inner"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="ops/")["Contents"]]
    assert "ops/a.txt" in keys and "ops/d2/inner" in keys


def test_s3_objects_read_through_nfs(mnt, s3, server, tmp_path):
    body = os.urandom(3 << 20)
    s3.put_object(Bucket=BUCKET, Key="from-s3/deep/obj.bin", Body=body)
    s3.put_object(Bucket=BUCKET, Key="from-s3/small.txt", Body=b"small")
    assert open(os.path.join(mnt, "from-s3", "deep", "obj.bin"), "rb").read() == body
    assert sorted(os.listdir(os.path.join(mnt, "from-s3"))) == ["deep", "small.txt"]
    # libnfs's own utilities, no FUSE in between
    out = tmp_path / "copy.bin"
    run(["nfs-cp", server.nfs_url(f"/default/{BUCKET}/from-s3/deep/obj.bin"), str(out)])
    assert out.read_bytes() == body
    r = run(["nfs-cat", server.nfs_url(f"/default/{BUCKET}/from-s3/small.txt")])
    assert r.stdout == b"small"
    src = tmp_path / "up.bin"
    src.write_bytes(os.urandom(1 << 20) + b"tail")
    run(["nfs-cp", str(src), server.nfs_url(f"/default/{BUCKET}/from-s3/up.bin")])
    assert s3.get_object(Bucket=BUCKET, Key="from-s3/up.bin")["Body"].read() == src.read_bytes()
    r = run(["nfs-ls", server.nfs_url(f"/default/{BUCKET}/from-s3")])
    names = {line.split()[-1] for line in r.stdout.decode().splitlines() if line.strip()}
    assert {"deep", "small.txt", "up.bin"} <= names
    # an S3 overwrite is seen by the next NFS read
    s3.put_object(Bucket=BUCKET, Key="from-s3/small.txt", Body=b"changed over S3")
    assert open(os.path.join(mnt, "from-s3", "small.txt"), "rb").read() == b"changed over S3"


def test_reads_of_every_shape_on_one_connection(server, s3):
    # A READ sends opened chunks as they lie after its reply; every other byte
    # (inline data, holes) is copied in. Odd lengths (XDR padding), ranges across
    # chunks, up to and past the end, many on one connection: each reply must be
    # framed right for the next one to parse.
    body = os.urandom((3 << 20) + 5)
    s3.put_object(Bucket=BUCKET, Key="shapes/chunked.bin", Body=body)
    s3.put_object(Bucket=BUCKET, Key="shapes/inline.txt", Body=b"seven b")
    c, root = rpc_root(server)
    st, d = c.lookup(root, "shapes")
    assert st == rpc.OK
    st, chunked = c.lookup(d, "chunked.bin")
    assert st == rpc.OK
    st, inline = c.lookup(d, "inline.txt")
    assert st == rpc.OK
    st, holey = c.create(d, "holey")
    assert st == rpc.OK
    tail = os.urandom(70001)
    assert c.write(holey, 200003, tail)[0] == rpc.OK
    files = {chunked: body, inline: b"seven b", holey: b"\0" * 200003 + tail}
    rng = random.Random(16)
    before = metric(server, "kiseki_nfs_requests_total", proc="READ")
    reads = 0
    for fh, want in files.items():
        shapes = [(0, len(want)), (0, 1 << 20), (1, 3), (len(want) - 1, 7), (len(want), 10)]
        shapes += [(rng.randrange(len(want)), rng.randrange(1, 1 << 20)) for _ in range(20)]
        for off, count in shapes:
            st, got, eof = c.read(fh, off, count)
            assert st == rpc.OK
            end = min(off + count, len(want))
            assert 0 < len(got) <= end - off or off >= len(want)
            assert got == want[off:off + len(got)], (off, count)
            assert eof == (off + len(got) >= len(want))
            reads += 1
    assert metric(server, "kiseki_nfs_requests_total", proc="READ") - before == reads
    c.close()


def test_readdirplus_of_10000_entries(mnt, server):
    d = os.path.join(mnt, "big")
    os.mkdir(d)
    names = {f"entry-{i:05d}-{'x' * (i % 40)}" for i in range(10000)}
    for n in names:
        os.close(os.open(os.path.join(d, n), os.O_CREAT | os.O_WRONLY, 0o644))
    before = metric(server, "kiseki_nfs_requests_total", proc="READDIRPLUS")
    with os.scandir(d) as it:
        listed = {e.name for e in it}
    assert listed == names
    calls = metric(server, "kiseki_nfs_requests_total", proc="READDIRPLUS") - before
    assert calls > 10, "10 000 entries must take many READDIRPLUS replies (cookies and verifiers)"
    # plain READDIR with cookies, straight over RPC, sees the same set
    c, root = rpc_root(server)
    st, dfh = c.lookup(root, "big")
    assert st == rpc.OK
    seen, cookie, verf = set(), 0, b"\0" * 8
    while True:
        st, entries, eof, verf = c.readdir(dfh, cookie, verf, count=4096)
        assert st == rpc.OK
        for name, _, ck in entries:
            seen.add(name)
            cookie = ck
        if eof:
            break
    assert seen - {".", ".."} == names

    # READDIRPLUS as libnfs asks for it (8 KiB replies), twice: the second
    # listing of the unchanged directory comes from the cache of listings and
    # says the same; a write is seen in the next listing at once.
    def plus_listing():
        out, cookie, verf = {}, 0, b"\0" * 8
        while True:
            st, entries, eof, verf = c.readdirplus(dfh, cookie, verf)
            assert st == rpc.OK
            for name, fileid, ck, attrs, fh in entries:
                assert attrs is not None and fh is not None, name
                out[name] = (fileid, attrs)
                cookie = ck
            if eof:
                return out
    first = plus_listing()
    assert set(first) - {".", ".."} == names
    misses = metric(server, "kiseki_gateway_dir_cache_misses_total")
    hits = metric(server, "kiseki_gateway_dir_cache_hits_total")
    assert plus_listing() == first
    assert metric(server, "kiseki_gateway_dir_cache_misses_total") == misses
    assert metric(server, "kiseki_gateway_dir_cache_hits_total") > hits + 50
    victim = sorted(names)[1234]
    st, fh = c.lookup(dfh, victim)
    assert st == rpc.OK
    assert c.write(fh, 0, b"fresh")[0] == rpc.OK
    st, now = c.getattr(fh)
    assert st == rpc.OK and now["size"] == 5
    after = plus_listing()
    assert after[victim][1]["size"] == 5 and after[victim][1]["mtime"] == now["mtime"]
    assert {n: a for n, a in after.items() if n != victim} == {n: a for n, a in first.items() if n != victim}
    c.close()


# ---------------------------------------------------------------- exercisers

def test_fsx_style_random_io(mnt):
    """Random writes, reads, truncates and reopens against an in-memory model."""
    fsx(os.path.join(mnt, "fsx.bin"), seed=1813, ops=2500)


def test_fio_verify(mnt):
    fio_verify(os.path.join(mnt, "fio"), "4k", 8)


# ---------------------------------------------------------------- exports

def admin(server, method, path, body=None):
    st, text = server.api(method, path, json.dumps(body).encode() if body is not None else None)
    return st, json.loads(text)


def test_exports_read_only_root_squash_and_allow_list(server, s3, tmp_path):
    s3.create_bucket(Bucket="exp")
    s3.put_object(Bucket="exp", Key="seed.txt", Body=b"seed")
    src = tmp_path / "f.txt"
    src.write_bytes(b"data")
    url = server.nfs_url("/default/exp/new.txt")

    st, body = admin(server, "PUT", "/api/v1/nfs/exports/default/exp", {"options": "ro"})
    assert st == 200 and body["options"].startswith("ro,")
    r = run(["nfs-cp", str(src), url], check=False)
    assert r.returncode != 0
    assert run(["nfs-cat", server.nfs_url("/default/exp/seed.txt")]).stdout == b"seed"
    c, root = rpc_root(server, "/default/exp")
    assert c.create(root, "x")[0] == rpc.ROFS
    c.close()

    # root squash: root's files belong to the anonymous ids; root may not write root's directory
    st, _ = admin(server, "PUT", "/api/v1/nfs/exports/default/exp", {"options": "rw,root_squash,anonuid=4242,anongid=4343"})
    assert st == 200
    c, root = rpc_root(server, "/default/exp")
    assert c.create(root, "squashed")[0] == rpc.ACCES  # the namespace root is 0755 root:root
    c.close()
    st, _ = admin(server, "PUT", "/api/v1/nfs/exports/default/exp", {"options": "rw,no_root_squash"})
    c, root = rpc_root(server, "/default/exp")
    st, dfh = c.nfs(rpc.MKDIR, rpc.Packer().opaque(root).opaque("open").u32(1).u32(0o777)
                    .u32(0).u32(0).u32(0).u32(0).u32(0).bytes())
    assert st == rpc.OK
    c.close()
    admin(server, "PUT", "/api/v1/nfs/exports/default/exp", {"options": "rw,root_squash,anonuid=4242,anongid=4343"})
    c, root = rpc_root(server, "/default/exp")
    _, opendir = c.lookup(root, "open")
    st, fh = c.create(opendir, "mine")
    assert st == rpc.OK
    attrs = c.getattr(fh)[1]
    assert (attrs["uid"], attrs["gid"]) == (4242, 4343)
    c.close()

    # allow-list without this client: MOUNT refuses, and old handles too
    c, root = rpc_root(server, "/default/exp")
    st, _ = admin(server, "PUT", "/api/v1/nfs/exports/default/exp", {"options": "rw,clients=10.9.0.0/16"})
    assert st == 200
    assert c.mount("/default/exp")[0] == 13  # MNT3ERR_ACCES
    assert c.getattr(root)[0] == rpc.ACCES
    c.close()
    st, body = admin(server, "GET", "/api/v1/nfs/exports")
    exp = [e for e in body if e["path"] == "/default/exp"][0]
    assert exp["configured"] and "clients=10.9.0.0/16" in exp["options"]
    assert admin(server, "PUT", "/api/v1/nfs/exports/default/nope", {"options": "ro"})[0] == 404
    assert admin(server, "PUT", "/api/v1/nfs/exports/default/exp", {"options": "bogus"})[0] == 400

    st, _ = admin(server, "DELETE", "/api/v1/nfs/exports/default/exp")
    assert st == 200
    run(["nfs-cp", str(src), url])  # back to the defaults: rw for this host
    assert s3.get_object(Bucket="exp", Key="new.txt")["Body"].read() == b"data"


def test_config_exports_and_export_all_off(tmp_path):
    s = Server(str(tmp_path / "data"), extra=["--nfs-export-all", "false"])
    try:
        s.cli("namespace", "create", "default", "cfg")  # made before the export can resolve
    finally:
        s.stop()
    s = Server(str(tmp_path / "data"), extra=["--nfs-export-all", "false",
                                              "--nfs-exports", "/default/cfg ro,clients=127.0.0.0/8"])
    try:
        s.cli("namespace", "create", "default", "hidden")
        c = rpc.RpcClient(s.nfs_port)
        assert c.mount("/default/cfg")[0] == 0
        assert c.mount("/default/hidden")[0] == 2  # MNT3ERR_NOENT: not exported
        assert c.mount("/default/missing")[0] == 2
        r = c.call(rpc.MOUNT, 3, 5)  # EXPORT
        u = r.body
        exports = []
        while u.u32():
            path = u.opaque().decode()
            groups = []
            while u.u32():
                groups.append(u.opaque().decode())
            exports.append((path, groups))
        assert exports == [("/default/cfg", ["127.0.0.0/8"])]
        c.close()
    finally:
        s.stop()
    bad = subprocess.run([os.path.join(BUILD, "src", "server", "kiseki-server"), "--data-dir", str(tmp_path / "data"),
                          "--s3-listen", "off", "--admin-listen", "127.0.0.1:0", "--nfs-listen", "127.0.0.1:0",
                          "--portmap-listen", "off", "--native-listen", "off", "--nfs-exports", "/default/cfg rw,wat"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "unknown export option" in bad.stdout + bad.stderr


# ---------------------------------------------------------------- handles, DRC, create modes

def test_stale_and_forged_handles(server, s3):
    c, root = rpc_root(server)
    st, fh = c.create(root, "doomed")
    assert st == rpc.OK and c.getattr(fh)[0] == rpc.OK
    assert c.remove(root, "doomed") == rpc.OK
    assert c.getattr(fh)[0] == rpc.STALE
    assert c.read(fh, 0, 10)[0] == rpc.STALE
    st, fh2 = c.create(root, "doomed")  # the name again: a new inode and generation
    assert st == rpc.OK and fh2 != fh and c.getattr(fh)[0] == rpc.STALE
    forged = bytearray(fh2)
    forged[3] ^= 1  # the inode number (a varint after version, tenant and namespace), without the MAC
    assert c.getattr(bytes(forged))[0] == rpc.BADHANDLE
    assert len(fh2) < 32  # the compact format: more READDIRPLUS entries per reply
    assert c.getattr(fh2[:-1])[0] == rpc.BADHANDLE
    assert c.getattr(b"")[0] == rpc.BADHANDLE
    c.close()


def test_duplicate_request_cache(server, s3):
    c, root = rpc_root(server)
    args = rpc.Packer().opaque(root).opaque("drc-file").u32(rpc.GUARDED).u32(1).u32(0o644) \
        .u32(0).u32(0).u32(0).u32(0).u32(0).bytes()
    first = c.call(rpc.NFS, 3, rpc.CREATE, args, xid=777001)
    again = c.call(rpc.NFS, 3, rpc.CREATE, args, xid=777001)  # a resend: same xid
    assert first.body.u32() == rpc.OK and again.body.u32() == rpc.OK
    assert first.body.d == again.body.d
    other = c.call(rpc.NFS, 3, rpc.CREATE, args, xid=777002)  # a new call
    assert other.body.u32() == rpc.EXIST
    assert c.remove(root, "drc-file", xid=777003) == rpc.OK
    assert c.remove(root, "drc-file", xid=777003) == rpc.OK  # resent REMOVE: the cached OK
    assert c.remove(root, "drc-file", xid=777004) == rpc.NOENT
    c.close()
    # another connection (another source port) is another client: its xids are its
    # own, so the same xid runs as a new call (it creates the file again)
    c2, root = rpc_root(server)
    assert c2.lookup(root, "drc-file")[0] == rpc.NOENT
    again = c2.call(rpc.NFS, 3, rpc.CREATE, args, xid=777001)
    assert again.body.u32() == rpc.OK
    assert c2.lookup(root, "drc-file")[0] == rpc.OK
    c2.close()


def test_create_modes(server, s3):
    c, root = rpc_root(server)
    verf = b"ABCDEFGH"
    st, fh = c.create(root, "excl", how=rpc.EXCLUSIVE, verf=verf)
    assert st == rpc.OK
    st, fh_again = c.create(root, "excl", how=rpc.EXCLUSIVE, verf=verf)  # a retried CREATE (new xid)
    assert st == rpc.OK and fh_again == fh
    assert c.create(root, "excl", how=rpc.EXCLUSIVE, verf=b"12345678")[0] == rpc.EXIST
    assert c.create(root, "excl", how=rpc.GUARDED)[0] == rpc.EXIST
    assert c.write(fh, 0, b"0123456789")[0] == rpc.OK
    st, fh3 = c.create(root, "excl", how=rpc.UNCHECKED, size=0)  # UNCHECKED truncates
    assert st == rpc.OK and fh3 == fh and c.getattr(fh)[1]["size"] == 0
    # MKNOD: Kiseki keeps no device or fifo nodes
    st, _ = c.nfs(rpc.MKNOD, rpc.Packer().opaque(root).opaque("fifo").u32(7)
                  .u32(0).u32(0).u32(0).u32(0).u32(0).u32(0).bytes())
    assert st == rpc.BADTYPE
    c.close()


def test_fsinfo_fsstat_pathconf_and_wcc(server, s3):
    c, root = rpc_root(server)
    st, u = c.nfs(rpc.FSINFO, rpc.Packer().opaque(root).bytes())
    assert st == rpc.OK
    u.post_op()
    rtmax, rtpref, rtmult, wtmax, wtpref, wtmult, dtpref = (u.u32() for _ in range(7))
    assert rtmax == wtmax == 1 << 20 and rtmult == wtmult == 4096
    assert u.u64() >= 1 << 40
    st, u = c.nfs(rpc.FSSTAT, rpc.Packer().opaque(root).bytes())
    assert st == rpc.OK
    u.post_op()
    tbytes, fbytes, abytes = u.u64(), u.u64(), u.u64()
    sv = os.statvfs(server.data_dir)
    assert tbytes == sv.f_blocks * sv.f_frsize
    assert abs(abytes - sv.f_bavail * sv.f_frsize) < 1 << 30 and abytes <= fbytes <= tbytes
    st, u = c.nfs(rpc.PATHCONF, rpc.Packer().opaque(root).bytes())
    assert st == rpc.OK
    u.post_op()
    u.u32()
    assert u.u32() == 255
    # weak cache consistency: WRITE's before and after attributes
    st, fh = c.create(root, "wcc")
    st, u = c.nfs(rpc.WRITE, rpc.Packer().opaque(fh).u64(0).u32(5).u32(rpc.FILE_SYNC).opaque(b"12345").bytes())
    pre, post = u.wcc()
    assert st == rpc.OK and pre["size"] == 0 and post["size"] == 5
    # READ of a directory, LOOKUP in a file, a name too long
    assert c.read(root, 0, 10)[0] == rpc.ISDIR
    assert c.lookup(fh, "x")[0] == rpc.NOTDIR
    assert c.lookup(root, "n" * 300)[0] == rpc.NAMETOOLONG
    assert c.lookup(root, "absent")[0] == rpc.NOENT
    c.close()


def test_names_must_be_valid_utf8(server, s3):
    c, root = rpc_root(server)
    for bad in (b"\xff", b"a\xc0\xafb", b"\xed\xa0\x80", b"cut\xe2\x82"):
        st, _ = c.create(root, bad)
        assert st == rpc.INVAL, bad
    st, _ = c.create(root, "caf\u00e9-\U0001F4F7".encode())
    assert st == rpc.OK
    assert c.lookup(root, "caf\u00e9-\U0001F4F7".encode())[0] == rpc.OK
    assert c.remove(root, "caf\u00e9-\U0001F4F7".encode()) == rpc.OK
    c.close()


def test_resent_call_after_a_crash_gets_its_first_result(tmp_path):
    # The duplicate request cache is in memory; behind it the Gateway keeps each
    # call's first result in the replicated state, keyed by client address, port,
    # procedure and xid: a client that resends after the server restarted gets
    # the first answer, not EXIST or NOENT.
    s = Server(str(tmp_path / "data"))
    s.cli("namespace", "create", "default", "retry")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    c, root = rpc_root(s, "/default/retry", source_port=port)
    args = rpc.Packer().opaque(root).opaque("once").u32(rpc.GUARDED).u32(1).u32(0o644) \
        .u32(0).u32(0).u32(0).u32(0).u32(0).bytes()
    first = c.call(rpc.NFS, 3, rpc.CREATE, args, xid=888001)
    assert first.body.u32() == rpc.OK
    st, fh = c.create(root, "gone")
    assert st == rpc.OK
    assert c.remove(root, "gone", xid=888003) == rpc.OK
    c.close()
    s.kill()

    s = Server(str(tmp_path / "data"))
    try:
        c, root = rpc_root(s, "/default/retry", source_port=port)
        again = c.call(rpc.NFS, 3, rpc.CREATE, args, xid=888001)
        assert again.body.u32() == rpc.OK, "a resent GUARDED CREATE must not answer EXIST"
        assert again.body.d[again.body.p:again.body.p + 60] == first.body.d[first.body.p:first.body.p + 60]
        assert c.remove(root, "gone", xid=888003) == rpc.OK, "a resent REMOVE must not answer NOENT"
        other = c.call(rpc.NFS, 3, rpc.CREATE, args, xid=888004)  # a new call
        assert other.body.u32() == rpc.EXIST
        c.close()
        # another source port is another client: the same xid is a new call there
        c2, root = rpc_root(s, "/default/retry")
        assert c2.call(rpc.NFS, 3, rpc.CREATE, args, xid=888001).body.u32() == rpc.EXIST
        c2.close()
    finally:
        s.stop()


# ---------------------------------------------------------------- UNSTABLE, COMMIT and a crash

def test_unstable_write_commit_and_crash(tmp_path):
    s = Server(str(tmp_path / "data"))
    s.cli("namespace", "create", "default", "crash")
    c, root = rpc_root(s, "/default/crash")
    st, fh = c.create(root, "f")
    a = os.urandom(200_000)
    st, committed, verf1 = c.write(fh, 0, a, stable=rpc.UNSTABLE)
    assert st == rpc.OK and committed == rpc.UNSTABLE
    st, cverf = c.commit(fh)
    assert st == rpc.OK and cverf == verf1  # a is durable now
    b = os.urandom(100_000)
    st, _, v = c.write(fh, 1 << 20, b, stable=rpc.UNSTABLE)
    assert v == verf1  # acknowledged, not committed
    c.close()
    s.kill()  # kill -9 between WRITE UNSTABLE and COMMIT

    s = Server(str(tmp_path / "data"))
    try:
        c = rpc.RpcClient(s.nfs_port)
        st, verf2 = c.commit(fh)  # the handle outlives the restart
        assert st == rpc.OK and verf2 != verf1  # new verifier: the client must resend
        st, committed, v = c.write(fh, 1 << 20, b, stable=rpc.UNSTABLE)
        assert st == rpc.OK and v == verf2
        assert c.commit(fh) == (rpc.OK, verf2)
        st, got, _ = c.read(fh, 0, 1 << 20)
        assert got[:len(a)] == a and got[len(a):] == b"\0" * ((1 << 20) - len(a))
        assert c.read(fh, 1 << 20, len(b))[1] == b
        c.close()
    finally:
        s.stop()


# ---------------------------------------------------------------- the wire: bad input, many calls in flight

def expect_closed(sock, timeout=10):
    sock.settimeout(timeout)
    try:
        while True:
            if not sock.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def test_bad_input_on_the_socket(server, s3):
    port = server.nfs_port
    healthy, root = rpc_root(server)

    # garbage: random bytes that are not a record of a call
    for seed in range(20):
        c = rpc.RpcClient(port)
        c.send_raw(random.Random(seed).randbytes(random.Random(seed).randrange(1, 5000)))
        c.sock.shutdown(socket.SHUT_WR)
        c.sock.settimeout(10)
        try:
            while c.sock.recv(65536):
                pass
        except OSError:
            pass
        c.close()
    # a huge fragment length: the connection is closed at once, nothing buffered
    c = rpc.RpcClient(port)
    c.send_raw(struct.pack(">I", 0xFFFFFFFF))
    assert expect_closed(c.sock)
    c.close()
    # a truncated record, then the peer goes away
    c = rpc.RpcClient(port)
    c.send_raw(struct.pack(">I", 0x80000000 | 1000) + b"x" * 10)
    c.close()
    # a call split over several fragments is one call
    c = rpc.RpcClient(port)
    msg = rpc.call_message(42, rpc.NFS, 3, rpc.GETATTR, rpc.Packer().opaque(root).bytes())
    c.send_raw(struct.pack(">I", 10) + msg[:10] + struct.pack(">I", 0x80000000 | (len(msg) - 10)) + msg[10:])
    r = rpc.Reply(c.recv_record())
    assert r.xid == 42 and r.accept_stat == 0 and r.body.u32() == rpc.OK

    # RPC-level errors, each as RFC 5531 gives them
    assert c.call(424242, 1, 0).accept_stat == 1                 # PROG_UNAVAIL
    r = c.call(rpc.NFS, 4, 0)
    assert r.accept_stat == 2 and r.mismatch == (3, 3)           # PROG_MISMATCH, versions 3..3
    assert c.call(rpc.NFS, 3, 99).accept_stat == 3                # PROC_UNAVAIL
    assert c.call(rpc.MOUNT, 3, 99).accept_stat == 3
    assert c.call(rpc.NFS, 3, rpc.GETATTR, b"\0\0\0\x40").accept_stat == 4   # GARBAGE_ARGS: fh cut short
    assert c.call(rpc.NFS, 3, rpc.WRITE, rpc.Packer().opaque(root).u64(0).bytes()).accept_stat == 4
    assert c.call(rpc.NFS, 3, rpc.LOOKUP, rpc.Packer().opaque(root).u32(0xFFFFFFF0).bytes()).accept_stat == 4
    c.send_raw(rpc.frame(rpc.call_message(50, rpc.NFS, 3, 0, rpcvers=3)))
    r = rpc.Reply(c.recv_record())
    assert r.reply_stat == 1 and r.reject_stat == 0 and r.detail == (2, 2)  # RPC_MISMATCH
    none_cred = rpc.Packer().u32(rpc.AUTH_NONE).u32(0).bytes()
    r = c.call(rpc.NFS, 3, rpc.GETATTR, rpc.Packer().opaque(root).bytes(), cred=none_cred)
    assert r.reply_stat == 1 and r.reject_stat == 1 and r.detail == 5  # AUTH_ERROR, AUTH_TOOWEAK
    assert c.call(rpc.NFS, 3, rpc.NULL, cred=none_cred).accept_stat == 0
    bad_cred = rpc.Packer().u32(rpc.AUTH_SYS).opaque(b"\0\0\0\0\0\0\x10\0").bytes()  # machine name overruns
    r = c.call(rpc.NFS, 3, rpc.GETATTR, rpc.Packer().opaque(root).bytes(), cred=bad_cred)
    assert r.reply_stat == 1 and r.reject_stat == 1 and r.detail == 1  # AUTH_BADCRED
    r = c.call(rpc.NFS, 3, rpc.GETATTR, rpc.Packer().opaque(root).bytes(),
               cred=rpc.Packer().u32(6).opaque(b"").bytes())  # RPCSEC_GSS: not offered
    assert r.reply_stat == 1 and r.reject_stat == 1
    c.close()

    # the server kept serving the client that behaved
    assert healthy.getattr(root)[0] == rpc.OK
    healthy.close()


def test_many_calls_in_flight_answered_out_of_order(server, s3):
    c, root = rpc_root(server)
    st, fh = c.create(root, "inflight")
    big = os.urandom(1 << 20)
    msgs, xids = [], []
    for i in range(40):
        xid = 900000 + i
        xids.append(xid)
        if i % 10 == 0:  # a few slow calls among fast ones
            args = rpc.Packer().opaque(fh).u64(i << 20).u32(len(big)).u32(rpc.FILE_SYNC).opaque(big).bytes()
            msgs.append(rpc.frame(rpc.call_message(xid, rpc.NFS, 3, rpc.WRITE, args)))
        else:
            msgs.append(rpc.frame(rpc.call_message(xid, rpc.NFS, 3, rpc.GETATTR, rpc.Packer().opaque(root).bytes())))
    c.send_raw(b"".join(msgs))
    order = []
    for _ in xids:
        r = rpc.Reply(c.recv_record())
        assert r.accept_stat == 0 and r.body.u32() == rpc.OK
        order.append(r.xid)
    assert sorted(order) == xids
    assert order != xids, "fast GETATTRs should overtake the 1 MiB FILE_SYNC writes"
    c.close()


def test_portmapper(tmp_path):
    from kiseki_server import free_port
    pm = free_port()
    s = Server(str(tmp_path / "data"), extra=["--portmap-listen", f"127.0.0.1:{pm}"])
    try:
        for port in (pm, s.nfs_port):  # on its own port and on the NFS port
            c = rpc.RpcClient(port)
            getport = lambda prog, vers, prot: c.call(rpc.PMAP, 2, 3, rpc.Packer().u32(prog).u32(vers)
                                                      .u32(prot).u32(0).bytes()).body.u32()
            assert getport(rpc.NFS, 3, 6) == s.nfs_port
            assert getport(rpc.MOUNT, 3, 6) == s.nfs_port
            assert getport(rpc.PMAP, 2, 6) == pm
            assert getport(rpc.NFS, 4, 6) == 0 and getport(rpc.NFS, 3, 17) == 0
            u = c.call(rpc.PMAP, 2, 4).body  # DUMP
            maps = set()
            while u.u32():
                maps.add((u.u32(), u.u32(), u.u32(), u.u32()))
            assert maps == {(rpc.PMAP, 2, 6, pm), (rpc.NFS, 3, 6, s.nfs_port), (rpc.MOUNT, 3, 6, s.nfs_port)}
            set_args = rpc.Packer().u32(1234).u32(1).u32(6).u32(99).bytes()
            assert c.call(rpc.PMAP, 2, 1, set_args).body.u32() == 0  # SET: refused
            assert c.call(rpc.PMAP, 3, 0).accept_stat == 2
            c.close()
        # NFS and MOUNT are not served on the portmapper's own port
        c = rpc.RpcClient(pm)
        assert c.call(rpc.NFS, 3, 0).accept_stat == 1
        c.close()
    finally:
        s.stop()


def test_mount_protocol_and_metrics(server, s3):
    c = rpc.RpcClient(server.nfs_port)
    assert c.mount(f"/default/{BUCKET}")[0] == 0
    assert c.mount(f"/default/{BUCKET}/ops/d2")[0] == 0  # a directory inside an export
    assert c.mount(f"/default/{BUCKET}/ops/a.txt")[0] == 20  # MNT3ERR_NOTDIR
    assert c.mount("/default/no-such-ns")[0] == 2
    assert c.mount("relative")[0] == 22  # MNT3ERR_INVAL
    u = c.call(rpc.MOUNT, 3, 2).body  # DUMP
    dumped = []
    while u.u32():
        dumped.append((u.opaque().decode(), u.opaque().decode()))
    assert ("127.0.0.1", f"/default/{BUCKET}") in dumped
    c.call(rpc.MOUNT, 3, 4)  # UMNTALL
    u = c.call(rpc.MOUNT, 3, 2).body
    assert u.u32() == 0
    c.close()
    assert metric(server, "kiseki_nfs_requests_total", proc="WRITE") > 0
    assert metric(server, "kiseki_nfs_errors_total", proc="LOOKUP", status="NOENT") > 0
    assert metric(server, "kiseki_nfs_request_seconds_count", proc="GETATTR") > 0


def test_rename_and_link_across_namespaces_is_xdev(server, s3):
    s3.create_bucket(Bucket="other-ns")
    c, root = rpc_root(server)
    st, other = c.mount("/default/other-ns")
    assert st == 0
    st, fh = c.create(root, "stays")
    assert st == rpc.OK
    st, u = c.nfs(rpc.RENAME, rpc.Packer().opaque(root).opaque("stays").opaque(other).opaque("moved").bytes())
    assert st == 18  # NFS3ERR_XDEV
    st, u = c.nfs(rpc.LINK, rpc.Packer().opaque(fh).opaque(other).opaque("linked").bytes())
    assert st == 18
    assert c.lookup(root, "stays")[0] == rpc.OK and c.lookup(other, "moved")[0] == rpc.NOENT
    c.close()
