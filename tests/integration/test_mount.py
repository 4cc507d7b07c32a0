"""kiseki mount: a real kiseki-server, a real FUSE mount made by the kiseki CLI
over the native protocol, and ordinary system calls, an fsx-style exerciser and
fio through it; the same data over S3 (boto3) and NFS (libnfs); the C example of
libkiseki; bad bytes on the native port; and a server killed under the mount.
One server and mount for the module unless a test needs its own."""
import errno
import hashlib
import json
import mmap
import os
import socket
import struct
import subprocess
import tempfile
import threading
import time

import pytest

from exercisers import fio_verify, fsx
from kiseki_server import BUILD, CLI, Server

BUCKET = "mnt"
EXAMPLE = os.path.join(BUILD, "tests", "kiseki-example-c")


def run(cmd, timeout=300, check=True, **kw):
    r = subprocess.run(cmd, capture_output=True, timeout=timeout, **kw)
    if check:
        assert r.returncode == 0, f"{cmd}\nstdout: {r.stdout[-2000:]}\nstderr: {r.stderr[-2000:]}"
    return r


def mount_dir():
    """A mount point that other users can reach (pytest's directories are 0700)."""
    d = tempfile.mkdtemp(prefix="kiseki-mnt-", dir="/tmp")
    os.chmod(d, 0o755)
    return d


class Mount:
    """`kiseki mount … -f` as a child process, unmounted by fusermount3 -u."""

    def __init__(self, server, path, options=("allow_other",), bucket=BUCKET, tenant="default", creds=None):
        self.path = path
        self.log_path = path + ".log"
        self.log = open(self.log_path, "w")
        who = ["--credentials", creds] if creds else ["--data-dir", server.data_dir]
        cmd = [CLI] + who + ["mount", "--endpoint", server.native, f"{tenant}/{bucket}", path,
                             "-f"] + [x for o in options for x in ("-o", o)]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while not os.path.ismount(path):
            assert self.proc.poll() is None, open(self.log_path).read()
            assert time.time() < deadline, "kiseki mount did not mount"
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
def server(tmp_path_factory):
    s = Server(str(tmp_path_factory.mktemp("mount") / "data"))
    yield s
    s.stop()


@pytest.fixture(scope="module")
def s3(server):
    c = server.s3_client()
    c.create_bucket(Bucket=BUCKET)
    return c


@pytest.fixture(scope="module")
def mnt(server, s3):
    m = Mount(server, mount_dir())
    yield m.path
    m.close()


def expect_errno(err, fn, *args):
    with pytest.raises(OSError) as e:
        fn(*args)
    assert e.value.errno == err, f"{fn.__name__}{args}: {e.value}"


# ---------------------------------------------------------------- POSIX

def test_create_flags_offsets_holes_and_truncate(mnt):
    p = os.path.join(mnt, "flags.txt")
    fd = os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o640)
    os.write(fd, b"hello")
    os.close(fd)
    expect_errno(errno.EEXIST, os.open, p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o640)
    assert os.stat(p).st_mode & 0o777 == 0o640
    fd = os.open(p, os.O_WRONLY | os.O_APPEND)
    os.write(fd, b" world")
    os.close(fd)
    assert open(p, "rb").read() == b"hello world"
    fd = os.open(p, os.O_WRONLY | os.O_TRUNC)
    os.close(fd)
    assert os.stat(p).st_size == 0
    # writes at offsets, past the end: a hole of zeros; reads past the end are empty
    fd = os.open(p, os.O_RDWR)
    os.pwrite(fd, b"tail", 100000)
    os.pwrite(fd, b"head", 0)
    assert os.pread(fd, 8, 99998) == b"\0\0tail"
    assert os.pread(fd, 10, 200000) == b""
    data = os.pread(fd, 200000, 0)
    assert data == b"head" + b"\0" * 99996 + b"tail"
    os.ftruncate(fd, 50)          # down
    os.ftruncate(fd, 70)          # up again: zeros, not the old bytes
    assert os.pread(fd, 100, 0) == b"head" + b"\0" * 66
    os.fsync(fd)
    os.close(fd)
    os.truncate(p, 3)
    assert open(p, "rb").read() == b"hea"
    expect_errno(errno.ENOENT, os.open, os.path.join(mnt, "nope"), os.O_RDONLY)
    expect_errno(errno.EISDIR, os.open, mnt, os.O_WRONLY)


def test_rename_links_symlinks_and_directories(mnt):
    d = os.path.join(mnt, "tree")
    os.mkdir(d, 0o755)
    a, b = os.path.join(d, "a"), os.path.join(d, "b")
    open(a, "w").write("A")
    open(b, "w").write("B")
    os.rename(a, b)                       # over a file: replaces it
    assert open(b).read() == "A" and not os.path.exists(a)
    sub, full = os.path.join(d, "sub"), os.path.join(d, "full")
    os.mkdir(sub)
    os.mkdir(full)
    open(os.path.join(full, "x"), "w").write("x")
    expect_errno(errno.ENOTEMPTY, os.rename, sub, full)   # over a non-empty directory
    expect_errno(errno.EISDIR, os.rename, b, sub)         # a file over a directory
    expect_errno(errno.ENOTDIR, os.rename, sub, b)        # a directory over a file
    os.rename(sub, os.path.join(full, "moved"))           # into another directory
    assert os.path.isdir(os.path.join(full, "moved"))
    expect_errno(errno.EINVAL, os.rename, full, os.path.join(full, "moved", "inside"))  # under itself
    # hard links and nlink
    ln = os.path.join(d, "hard")
    os.link(b, ln)
    assert os.stat(b).st_nlink == 2 and os.stat(ln).st_ino == os.stat(b).st_ino
    os.unlink(b)
    assert os.stat(ln).st_nlink == 1 and open(ln).read() == "A"
    # directories count their subdirectories in nlink
    assert os.stat(full).st_nlink == 3
    # symlinks
    s = os.path.join(d, "sym")
    os.symlink("hard", s)
    assert os.readlink(s) == "hard" and open(s).read() == "A"
    assert os.lstat(s).st_size == len("hard")
    expect_errno(errno.EEXIST, os.mkdir, full)
    expect_errno(errno.ENOTEMPTY, os.rmdir, full)
    expect_errno(errno.ENOTDIR, os.rmdir, ln)
    expect_errno(errno.EISDIR, os.unlink, full)
    os.rmdir(os.path.join(full, "moved"))
    os.unlink(os.path.join(full, "x"))
    os.rmdir(full)
    assert sorted(os.listdir(d)) == ["hard", "sym"]
    expect_errno(errno.EOPNOTSUPP, os.mkfifo, os.path.join(d, "fifo"))


def renameat2(old, new, flags):
    import ctypes
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    at_fdcwd = -100
    if libc.renameat2(at_fdcwd, old.encode(), at_fdcwd, new.encode(), flags) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def test_rename_noreplace_and_exchange(mnt):
    noreplace, exchange = 1, 2
    a, b, c = (os.path.join(mnt, n) for n in ("nr-a", "nr-b", "nr-c"))
    open(a, "w").write("A")
    open(b, "w").write("B")
    expect_errno(errno.EEXIST, renameat2, a, b, noreplace)
    assert open(a).read() == "A" and open(b).read() == "B"
    os.link(b, c)
    expect_errno(errno.EEXIST, renameat2, b, c, noreplace)  # even another link of the same file
    os.unlink(c)
    renameat2(a, c, noreplace)
    assert open(c).read() == "A" and not os.path.exists(a)
    expect_errno(errno.EINVAL, renameat2, b, c, exchange)
    os.unlink(b)
    os.unlink(c)


def test_attributes_times_statfs_mmap(mnt):
    p = os.path.join(mnt, "attrs.bin")
    open(p, "wb").write(os.urandom(1 << 20))
    os.chmod(p, 0o600)
    assert os.stat(p).st_mode & 0o7777 == 0o600
    os.chown(p, 1234, 5678)
    st = os.stat(p)
    assert (st.st_uid, st.st_gid) == (1234, 5678)
    ctime = st.st_ctime_ns
    os.utime(p, ns=(1_600_000_000_123_456_789, 1_700_000_000_987_654_321))
    st = os.stat(p)
    assert st.st_atime_ns == 1_600_000_000_123_456_789
    assert st.st_mtime_ns == 1_700_000_000_987_654_321   # nanoseconds kept
    assert st.st_ctime_ns >= ctime
    v = os.statvfs(mnt)
    assert v.f_bsize == 4096 and v.f_blocks > 0 and v.f_bavail <= v.f_blocks and v.f_namemax == 255
    with open(p, "rb") as f, mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as m:
        assert m[:] == open(p, "rb").read()
    fd = os.open(p, os.O_RDWR)
    os.pwrite(fd, b"synced", 10)
    os.fsync(fd)
    os.fdatasync(fd)
    os.close(fd)


def as_user(uid, fn):
    """Runs fn in a child process as uid:uid; returns its errno (0: success)."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            fn()
        except OSError as e:
            code = e.errno
        except BaseException:
            code = 255
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_permissions_for_a_non_root_uid(mnt):
    d = os.path.join(mnt, "perm")
    os.mkdir(d, 0o755)
    p = os.path.join(d, "root-only")
    open(p, "w").write("secret")
    os.chmod(p, 0o600)
    assert as_user(1000, lambda: open(p).read()) == errno.EACCES
    assert as_user(1000, lambda: open(os.path.join(d, "new"), "w")) == errno.EACCES
    assert as_user(1000, lambda: os.chmod(p, 0o666)) == errno.EPERM
    os.chmod(p, 0o644)
    assert as_user(1000, lambda: open(p).read()) == 0
    assert as_user(1000, lambda: open(p, "a")) == errno.EACCES
    home = os.path.join(d, "home")
    os.mkdir(home, 0o755)
    os.chown(home, 1000, 1000)
    def own_work():
        q = os.path.join(home, "mine")
        open(q, "w").write("ok")
        os.chmod(q, 0o600)
        os.rename(q, q + "2")
    assert as_user(1000, own_work) == 0
    st = os.stat(os.path.join(home, "mine2"))
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (1000, 1000, 0o600)
    assert as_user(1001, lambda: os.unlink(os.path.join(home, "mine2"))) == errno.EACCES


def test_10000_entry_directory(mnt):
    d = os.path.join(mnt, "big")
    os.mkdir(d)
    names = {f"entry-{i:05d}-{'x' * (i % 40)}" for i in range(10000)}
    for n in names:
        os.close(os.open(os.path.join(d, n), os.O_CREAT | os.O_WRONLY, 0o644))
    with os.scandir(d) as it:
        listed = {e.name for e in it}
    assert listed == names
    assert len(os.listdir(d)) == 10000


# ---------------------------------------------------------------- exercisers

def test_fsx_style_random_io(mnt):
    """Random writes, reads, truncates and reopens against an in-memory model."""
    fsx(os.path.join(mnt, "fsx.bin"), seed=2026, ops=3000)


def test_fio_verify(mnt):
    fio_verify(os.path.join(mnt, "fio"), "64k", 16, extra=["--fsync_on_close=1"])


# ---------------------------------------------------------------- other protocols

def test_written_on_the_mount_read_over_s3_and_nfs(mnt, s3, server, tmp_path):
    body = os.urandom(3 << 20) + b"end"
    os.makedirs(os.path.join(mnt, "x", "y"), exist_ok=True)
    with open(os.path.join(mnt, "x", "y", "file.bin"), "wb") as f:
        f.write(body)
    # close-to-open: closed on the mount, visible over S3 and NFS at once
    got = s3.get_object(Bucket=BUCKET, Key="x/y/file.bin")["Body"].read()
    assert hashlib.sha256(got).digest() == hashlib.sha256(body).digest()
    out = tmp_path / "via-nfs.bin"
    run(["nfs-cp", server.nfs_url(f"/default/{BUCKET}/x/y/file.bin"), str(out)])
    assert out.read_bytes() == body


def test_written_over_s3_read_on_the_mount_after_reopen(mnt, s3):
    s3.put_object(Bucket=BUCKET, Key="from-s3/deep/obj.txt", Body=b"version one")
    p = os.path.join(mnt, "from-s3", "deep", "obj.txt")
    assert open(p, "rb").read() == b"version one"
    s3.put_object(Bucket=BUCKET, Key="from-s3/deep/obj.txt", Body=b"version two, longer")
    time.sleep(1.2)  # the attribute timeout (1 s by default)
    assert open(p, "rb").read() == b"version two, longer"


def test_a_key_that_is_also_a_prefix_on_the_mount(mnt, s3):
    """ADR 0013: the directory "kp" carries the object "kp", shown as kp/.kiseki-object."""
    s3.put_object(Bucket=BUCKET, Key="kp/inner.txt", Body=b"inner")
    s3.put_object(Bucket=BUCKET, Key="kp", Body=b"the object kp")
    d = os.path.join(mnt, "kp")
    assert os.path.isdir(d)
    assert sorted(os.listdir(d)) == [".kiseki-object", "inner.txt"]
    obj = os.path.join(d, ".kiseki-object")
    assert os.stat(obj).st_size == len(b"the object kp")
    assert open(obj, "rb").read() == b"the object kp"
    with open(obj, "r+b") as f:  # written on the mount: the object changes
        f.seek(4)
        f.write(b"OBJECT")
    assert s3.get_object(Bucket=BUCKET, Key="kp")["Body"].read() == b"the OBJECT kp"
    os.unlink(os.path.join(d, "inner.txt"))
    expect_errno(errno.ENOTEMPTY, os.rmdir, d)
    expect_errno(errno.EINVAL, os.rename, obj, os.path.join(mnt, "elsewhere"))
    os.unlink(obj)  # deletes the object; the empty implicit directory goes with it
    with pytest.raises(Exception):
        s3.head_object(Bucket=BUCKET, Key="kp")
    time.sleep(1.2)  # the entry timeout
    assert not os.path.exists(d)


# ---------------------------------------------------------------- libkiseki from C

def test_the_c_example(server, s3):
    ak, sk = server.root_credentials()
    r = run([EXAMPLE, server.native, ak, sk, BUCKET])
    out = r.stdout.decode()
    assert "read back 25 bytes from offset 6: same" in out and "deleted: gone" in out, out
    r = run([EXAMPLE, server.native, ak, "wrong-secret", BUCKET], check=False)
    assert r.returncode == 1 and b"access denied" in r.stderr


# ---------------------------------------------------------------- refusals and faults

def test_wrong_secret_bad_option_and_other_tenant_are_refused(server, s3, tmp_path):
    creds = tmp_path / "creds"
    ak, _ = server.root_credentials()
    creds.write_text(f"[default]\naws_access_key_id = {ak}\naws_secret_access_key = wrong\n")
    where = mount_dir()
    r = run([CLI, "--credentials", str(creds), "mount", "--endpoint", server.native, f"default/{BUCKET}", where],
            check=False, timeout=60)
    assert r.returncode == 1 and b"access denied" in r.stderr, r.stderr
    r = run([CLI, "--data-dir", server.data_dir, "mount", "--endpoint", server.native, f"default/{BUCKET}", where,
             "-o", "allow_other,colour=blue"], check=False, timeout=60)
    assert r.returncode == 2 and b"unknown mount option 'colour=blue'" in r.stderr, r.stderr
    r = run([CLI, "--data-dir", server.data_dir, "mount", "--endpoint", server.native, f"acme/{BUCKET}", where],
            check=False, timeout=60)
    assert r.returncode == 1 and b"belongs to tenant 'default'" in r.stderr, r.stderr
    assert not os.path.ismount(where)


def test_bad_frames_on_the_native_port_while_the_mount_works(mnt, server):
    host, port = server.native.split(":")
    p = os.path.join(mnt, "steady.txt")
    for i, junk in enumerate([b"GET / HTTP/1.1\r\n\r\n", b"\0" * 40,
                              struct.pack(">IBBHQIII", 0x4b534b49, 1, 0, 1, 1, 0, 0, 0xfffffff0) + b"\0" * 4]):
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall(junk)
            assert s.recv(100) == b"", "a stream that is not frames is closed"
        open(p, "w").write(f"still working {i}")
        assert open(p).read() == f"still working {i}"
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(b"KSKI\x01\x00\x00\x01")  # half a header, then nothing: the server keeps waiting, serves others
        open(p, "w").write("and again")
        assert open(p).read() == "and again"


def test_kill_9_of_the_server_under_a_mount_loses_nothing_fsynced(tmp_path, s3):
    data = str(tmp_path / "data")
    srv = Server(data)
    srv.s3_client().create_bucket(Bucket="crash")
    m = Mount(srv, mount_dir(), bucket="crash")
    try:
        synced = {}
        for i in range(20):
            body = os.urandom(100000 + i)
            with open(os.path.join(m.path, f"f{i}"), "wb") as f:
                f.write(body)
                f.flush()
                os.fsync(f.fileno())
            synced[f"f{i}"] = body
        # a writer keeps going while the server dies and comes back
        errors, written = [], {}
        def writer():
            for i in range(40):
                body = os.urandom(5000)
                try:
                    with open(os.path.join(m.path, f"w{i}"), "wb") as f:
                        f.write(body)
                        os.fsync(f.fileno())
                    written[f"w{i}"] = body
                except OSError as e:
                    errors.append(e.errno)
                time.sleep(0.02)
        t = threading.Thread(target=writer)
        t.start()
        time.sleep(0.2)
        srv.kill()
        srv.proc.wait()
        srv.log.close()
        time.sleep(0.5)
        srv = Server(data, extra=["--native-listen", srv.native])
        t.join(timeout=120)
        assert not t.is_alive()
        # calls in flight were sent again once the server was back: none failed
        assert errors == [], errors
        for name, body in {**synced, **written}.items():
            assert open(os.path.join(m.path, name), "rb").read() == body, name
        open(os.path.join(m.path, "after"), "w").write("served again")
        assert open(os.path.join(m.path, "after")).read() == "served again"
    finally:
        m.close()
        srv.stop()


def test_daemon_mode_and_kiseki_umount(server, s3):
    where = mount_dir()
    r = run([CLI, "--data-dir", server.data_dir, "mount", "--endpoint", server.native, f"default/{BUCKET}", where],
            timeout=60)
    assert r.returncode == 0
    deadline = time.time() + 10
    while not os.path.ismount(where) and time.time() < deadline:
        time.sleep(0.05)
    assert os.path.ismount(where)
    assert "kiseki:default/mnt" in open("/proc/mounts").read()
    open(os.path.join(where, "daemon.txt"), "w").write("served by the daemon")
    assert s3.get_object(Bucket=BUCKET, Key="daemon.txt")["Body"].read() == b"served by the daemon"
    run([CLI, "umount", where])
    assert not os.path.ismount(where)


# ---------------------------------------------------------------- client cache

def mount_ioctl(path, nr, keys):
    """An _IOR('k', nr, struct of u64 `keys`) of src/mount/mount_ioctl.h on a file or directory of the mount."""
    import fcntl
    size = 8 * len(keys)
    fd = os.open(path, os.O_RDONLY)
    try:
        out = fcntl.ioctl(fd, (2 << 30) | (size << 16) | (ord("k") << 8) | nr, bytes(size))
    finally:
        os.close(fd)
    return dict(zip(keys, struct.unpack(f"<{len(keys)}Q", out)))


def cache_stats(path):
    """KISEKI_IOC_CACHE_STATS."""
    return mount_ioctl(path, 2, ("l1_hits", "l2_hits", "misses", "corrupt", "l1_bytes", "l2_bytes",
                                 "pinned_bytes", "l2_capacity"))


def block_files(cache_dir):
    root = os.path.join(cache_dir, "kiseki-l2", "blocks")
    return [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs]


def read_uncached(path):
    """The file's bytes with the kernel's page cache of it dropped first: the read reaches the mount."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        return os.read(fd, 1 << 26)
    finally:
        os.close(fd)


def test_disk_cache_serves_checks_every_block_and_stages_a_tree(server, s3, mnt, tmp_path):
    cache_dir = str(tmp_path / "l2")
    objects = {f"data/set/{i}.bin": os.urandom(3 * 1048576 + 1000 * (i + 1)) for i in range(3)}
    objects["data/small.txt"] = b"tiny"
    for k, v in objects.items():
        s3.put_object(Bucket=BUCKET, Key=k, Body=v)
    where = mount_dir()
    m = Mount(server, where, options=("allow_other", f"cache_dir={cache_dir}", "cache_mem=0", "cache_size=64MiB"))
    try:
        assert os.stat(os.path.join(cache_dir, "kiseki-l2")).st_mode & 0o777 == 0o700
        big = os.path.join(where, "data/set/0.bin")
        assert read_uncached(big) == objects["data/set/0.bin"]
        first = cache_stats(big)
        assert first["misses"] >= 4 and first["l2_bytes"] >= 3 * 1048576, first
        assert read_uncached(big) == objects["data/set/0.bin"]
        second = cache_stats(big)
        # Served from the disk cache (the kernel's parallel reads of one block may
        # still race to a fetch or two under load).
        hits, misses = second["l2_hits"] - first["l2_hits"], second["misses"] - first["misses"]
        assert hits >= 4 and misses < hits, (first, second)
        # A flipped byte in every cached block: each is caught, fetched again, never returned.
        files = block_files(cache_dir)
        assert len(files) == 4, files
        for f in files:
            with open(f, "r+b") as fh:
                at = os.path.getsize(f) // 2
                fh.seek(at)
                b = fh.read(1)
                fh.seek(at)
                fh.write(bytes([b[0] ^ 0x20]))
        assert read_uncached(big) == objects["data/set/0.bin"]
        third = cache_stats(big)
        # (readahead may send two reads of one block at once: both see the damage)
        assert third["corrupt"] >= 4 and third["misses"] >= second["misses"] + third["corrupt"] - 2, third
        assert "failed its check" in open(m.log_path).read()
        # kiseki stage pins the whole tree; a second run fetches nothing.
        r = run([CLI, "stage", f"default/{BUCKET}/data"], timeout=120, check=False)
        assert r.returncode == 2 and b"name one with --mountpoint" in r.stderr, r.stderr  # mounted twice
        r = run([CLI, "stage", "--mountpoint", where, f"default/{BUCKET}/data"], timeout=120)
        total = sum(len(v) for v in objects.values())
        assert b"staged 4 files" in r.stdout, r.stdout
        pinned = cache_stats(where)["pinned_bytes"]
        assert pinned >= total, (pinned, total)
        r = run([CLI, "stage", "--mountpoint", where, f"default/{BUCKET}/data/set"], timeout=120)
        assert b"staged 3 files" in r.stdout and b"(0 B fetched)" in r.stdout, r.stdout
        for k, v in objects.items():
            assert read_uncached(os.path.join(where, k)) == v
        # Staging beyond cache_size is refused with a clear message.
        s3.put_object(Bucket=BUCKET, Key="data/huge.bin", Body=os.urandom(60 * 1048576))
        r = run([CLI, "stage", "--mountpoint", where, f"default/{BUCKET}/data/huge.bin"], timeout=120, check=False)
        assert r.returncode == 1 and b"full of pinned blocks" in r.stderr, r.stderr
    finally:
        m.close()
    assert block_files(cache_dir) == [], "unmounting wipes the disk cache"
    # A mount without cache_dir cannot stage; a namespace not mounted is named.
    r = run([CLI, "stage", f"default/{BUCKET}"], timeout=60, check=False)
    assert r.returncode == 1 and b"no disk cache" in r.stderr, r.stderr
    r = run([CLI, "stage", "default/elsewhere/x"], timeout=60, check=False)
    assert r.returncode == 1 and b"is not mounted here" in r.stderr, r.stderr
    r = run([CLI, "--data-dir", server.data_dir, "mount", "--endpoint", server.native, f"default/{BUCKET}", where,
             "-o", "cache=sometimes"], check=False, timeout=60)
    assert r.returncode == 2 and b"organic, pinned or bypass" in r.stderr, r.stderr


def test_crypto_shred_of_the_tenant_wipes_the_cache(server, tmp_path):
    server.cli("tenant", "create", "brief")
    server.cli("namespace", "create", "brief", "notes")
    key = json.loads(server.cli("key", "create", "brief").stdout)
    creds = tmp_path / "creds"
    creds.write_text(f"[default]\naws_access_key_id = {key['access_key_id']}\n"
                     f"aws_secret_access_key = {key['secret_key']}\n")
    cache_dir = str(tmp_path / "l2")
    where = mount_dir()
    m = Mount(server, where, options=("allow_other", f"cache_dir={cache_dir}", "cache=pinned"), bucket="notes",
              tenant="brief", creds=str(creds))
    try:
        p = os.path.join(where, "secret.txt")
        body = os.urandom(200000)
        with open(p, "wb") as f:
            f.write(body)
        assert read_uncached(p) == body
        assert len(block_files(cache_dir)) == 1 and cache_stats(where)["pinned_bytes"] > 200000
        server.cli("tenant", "shred", "brief", "--yes")
        time.sleep(1.2)  # what the mount vouched for in the last second may still be served
        with pytest.raises(OSError):
            read_uncached(p)
        assert block_files(cache_dir) == [], "the shred wiped the cache"
        assert "client cache wiped" in open(m.log_path).read()
    finally:
        m.close()


def request_stats(path):
    """KISEKI_IOC_REQUEST_STATS: the FUSE requests the mount answered."""
    return mount_ioctl(path, 3, ("lookup", "getattr", "setattr", "open", "create", "read", "write", "flush",
                                 "release", "fsync", "readdir", "other", "read_bytes", "write_bytes"))


def test_one_fuse_request_per_64k_read_and_write(mnt):
    p = os.path.join(mnt, "one-request.bin")
    body = os.urandom(65536)
    before = request_stats(mnt)
    fd = os.open(p, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    os.write(fd, body)
    os.close(fd)
    mid = request_stats(mnt)
    assert mid["write"] - before["write"] == 1 and mid["write_bytes"] - before["write_bytes"] == 65536, (before, mid)
    assert read_uncached(p) == body
    after = request_stats(mnt)
    assert after["read"] - mid["read"] == 1 and after["read_bytes"] - mid["read_bytes"] >= 65536, (mid, after)
