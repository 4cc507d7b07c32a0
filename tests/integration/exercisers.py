"""File-system exercisers shared by the NFS and mount tests: an fsx-style random
I/O run against an in-memory model, and fio with --verify."""
import json
import os
import random
import subprocess


def fsx(path, seed, ops):
    """Random writes, reads, truncates and reopens of `path` against a model."""
    rnd = random.Random(seed)
    model = bytearray()
    fd = os.open(path, os.O_CREAT | os.O_RDWR | os.O_TRUNC, 0o644)
    max_size = 2 << 20
    for i in range(ops):
        op = rnd.random()
        if op < 0.40:
            off = rnd.randrange(0, max_size)
            n = min(rnd.choice([1, 7, 512, 4096, 65536, rnd.randrange(1, 200000)]), max_size - off)
            data = rnd.randbytes(n)
            assert os.pwrite(fd, data, off) == n
            if off > len(model):
                model += b"\0" * (off - len(model))
            model[off:off + n] = data
        elif op < 0.75:
            off = rnd.randrange(0, max(1, len(model) + 1000))
            n = rnd.randrange(1, 300000)
            assert os.pread(fd, n, off) == bytes(model[off:off + n]), f"op {i}: read {off}+{n} differs"
        elif op < 0.90:
            size = rnd.randrange(0, max_size)
            os.ftruncate(fd, size)
            model = model[:size] + b"\0" * max(0, size - len(model))
        else:
            os.close(fd)
            fd = os.open(path, os.O_RDWR)
            assert os.fstat(fd).st_size == len(model)
    os.close(fd)
    assert open(path, "rb").read() == bytes(model)


def fio_verify(directory, bs, size_mib, extra=()):
    """fio random writes by 2 jobs, every block read back and CRC-checked."""
    os.mkdir(directory)
    r = subprocess.run(["fio", "--name=verify", f"--directory={directory}", "--rw=randwrite", f"--bs={bs}",
                        f"--size={size_mib}m", "--verify=crc32c", "--do_verify=1", "--verify_fatal=1",
                        "--ioengine=psync", "--numjobs=2", "--output-format=json", *extra],
                       capture_output=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    for job in json.loads(r.stdout)["jobs"]:
        assert job["error"] == 0
        assert job["write"]["io_bytes"] == size_mib << 20
        assert job["read"]["io_bytes"] == size_mib << 20  # every block read back and verified
