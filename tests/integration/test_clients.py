"""Standard S3 clients, unchanged, against a real kiseki-server: awscli, s3cmd,
rclone and an s3fs FUSE mount. One server for the module."""
import hashlib
import os
import shutil
import subprocess
import time

import boto3
import pytest
from botocore.config import Config

from kiseki_server import Server

AWS = "/usr/bin/aws"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(str(tmp_path_factory.mktemp("clients") / "data"))
    yield s
    s.stop()


@pytest.fixture(scope="module")
def creds(server):
    return server.root_credentials()


def run(cmd, env=None, timeout=300, check=True):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if check:
        assert r.returncode == 0, f"{cmd}\nstdout: {r.stdout[-2000:]}\nstderr: {r.stderr[-2000:]}"
    return r


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def make_file(path, size, seed):
    import random
    rnd = random.Random(seed)
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 1 << 20)
            f.write(rnd.randbytes(n))
            left -= n


def test_awscli_cp_sync_ls_rm(server, creds, tmp_path):
    env = {**os.environ, "AWS_ACCESS_KEY_ID": creds[0], "AWS_SECRET_ACCESS_KEY": creds[1],
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null",
           "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    aws = [AWS, "--endpoint-url", server.s3_endpoint]
    run(aws + ["s3", "mb", "s3://awscli"], env)
    big = tmp_path / "big.bin"
    make_file(big, 100 << 20, 1)  # > 8 MiB: awscli uploads it in parts
    run(aws + ["s3", "cp", str(big), "s3://awscli/big/big.bin"], env)
    head = run(aws + ["s3api", "head-object", "--bucket", "awscli", "--key", "big/big.bin"], env).stdout
    assert '"ContentLength": 104857600' in head and "-" in head.split('"ETag"')[1].split(",")[0], head
    back = tmp_path / "back.bin"
    run(aws + ["s3", "cp", "s3://awscli/big/big.bin", str(back)], env)
    assert sha256_file(back) == sha256_file(big)
    src = tmp_path / "tree"
    for i in range(20):
        (src / f"d{i % 3}").mkdir(parents=True, exist_ok=True)
        (src / f"d{i % 3}" / f"f{i}.txt").write_bytes(os.urandom(1000 + i))
    run(aws + ["s3", "sync", str(src), "s3://awscli/tree"], env)
    listing = run(aws + ["s3", "ls", "--recursive", "s3://awscli/tree/"], env).stdout
    assert len(listing.strip().splitlines()) == 20
    again = run(aws + ["s3", "sync", str(src), "s3://awscli/tree"], env).stdout
    assert "upload:" not in again, "a second sync uploads nothing"
    dst = tmp_path / "tree-back"
    run(aws + ["s3", "sync", "s3://awscli/tree", str(dst)], env)
    for f in src.rglob("*.txt"):
        assert (dst / f.relative_to(src)).read_bytes() == f.read_bytes()
    run(aws + ["s3", "rm", "--recursive", "s3://awscli/tree"], env)
    assert run(aws + ["s3", "ls", "s3://awscli/tree/"], env, check=False).stdout.strip() == ""
    run(aws + ["s3", "rm", "s3://awscli/big/big.bin"], env)
    run(aws + ["s3", "rb", "s3://awscli"], env)


def test_s3cmd_round_trip(server, creds, tmp_path):
    host = f"127.0.0.1:{server.s3_port}"
    cfg = tmp_path / "s3cfg"
    cfg.write_text(f"[default]\naccess_key = {creds[0]}\nsecret_key = {creds[1]}\nhost_base = {host}\n"
                   f"host_bucket = {host}\nuse_https = False\nbucket_location = us-east-1\n"
                   "signature_v2 = False\n")
    s3cmd = ["s3cmd", "-c", str(cfg)]
    run(s3cmd + ["mb", "s3://s3cmd-bucket"])
    f = tmp_path / "f.bin"
    make_file(f, 20 << 20, 2)  # s3cmd switches to multipart above 15 MiB
    run(s3cmd + ["put", str(f), "s3://s3cmd-bucket/path/f.bin"])
    assert "s3://s3cmd-bucket/path/f.bin" in run(s3cmd + ["ls", "--recursive", "s3://s3cmd-bucket"]).stdout
    back = tmp_path / "back.bin"
    run(s3cmd + ["get", "s3://s3cmd-bucket/path/f.bin", str(back)])
    assert sha256_file(back) == sha256_file(f)
    info = run(s3cmd + ["info", "s3://s3cmd-bucket/path/f.bin"]).stdout
    assert "20971520" in info
    run(s3cmd + ["del", "s3://s3cmd-bucket/path/f.bin"])
    run(s3cmd + ["rb", "s3://s3cmd-bucket"])


def test_rclone_round_trip(server, creds, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}  # rclone 1.60 refuses to start with it
    env.update({"RCLONE_CONFIG_K_TYPE": "s3", "RCLONE_CONFIG_K_PROVIDER": "Other",
                "RCLONE_CONFIG_K_ENDPOINT": server.s3_endpoint, "RCLONE_CONFIG_K_ACCESS_KEY_ID": creds[0],
                "RCLONE_CONFIG_K_SECRET_ACCESS_KEY": creds[1], "RCLONE_CONFIG_K_REGION": "us-east-1",
                "RCLONE_CONFIG_K_FORCE_PATH_STYLE": "true", "RCLONE_CONFIG": "/dev/null"})
    src = tmp_path / "src"
    src.mkdir()
    for i in range(10):
        (src / f"file{i}.bin").write_bytes(os.urandom(5000 * (i + 1)))
    make_file(src / "large.bin", 40 << 20, 3)  # above rclone's multipart cutoff
    run(["rclone", "mkdir", "k:rclone-bucket"], env)
    run(["rclone", "copy", str(src), "k:rclone-bucket/data"], env)
    run(["rclone", "check", str(src), "k:rclone-bucket/data"], env)
    dst = tmp_path / "dst"
    run(["rclone", "copy", "k:rclone-bucket/data", str(dst)], env)
    for f in src.iterdir():
        assert (dst / f.name).read_bytes() == f.read_bytes()
    assert len(run(["rclone", "ls", "k:rclone-bucket"], env).stdout.strip().splitlines()) == 11
    run(["rclone", "purge", "k:rclone-bucket"], env)


def test_s3fs_mount_write_read(server, creds, tmp_path):
    s3 = boto3.client("s3", endpoint_url=server.s3_endpoint, region_name="us-east-1",
                      aws_access_key_id=creds[0], aws_secret_access_key=creds[1],
                      config=Config(s3={"addressing_style": "path"}))
    s3.create_bucket(Bucket="s3fs-bucket")
    s3.put_object(Bucket="s3fs-bucket", Key="preexisting.txt", Body=b"written over S3\n")
    pw = tmp_path / "passwd"
    pw.write_text(f"{creds[0]}:{creds[1]}\n")
    pw.chmod(0o600)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    proc = subprocess.Popen(["s3fs", "s3fs-bucket", str(mnt), "-f", "-o", f"url={server.s3_endpoint}",
                             "-o", "use_path_request_style", "-o", f"passwd_file={pw}", "-o", "endpoint=us-east-1",
                             "-o", "nonempty"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 20
        while not os.path.ismount(mnt):
            assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
            assert time.time() < deadline, "s3fs did not mount"
            time.sleep(0.1)
        assert (mnt / "preexisting.txt").read_bytes() == b"written over S3\n"
        data = os.urandom(3 << 20)
        (mnt / "from-fuse.bin").write_bytes(data)
        assert (mnt / "from-fuse.bin").read_bytes() == data
        assert s3.get_object(Bucket="s3fs-bucket", Key="from-fuse.bin")["Body"].read() == data
        assert sorted(os.listdir(mnt)) == ["from-fuse.bin", "preexisting.txt"]
        # mkdir in the mount makes a folder marker; files go below it.
        (mnt / "newdir").mkdir()
        (mnt / "newdir" / "inner.txt").write_bytes(b"inner")
        assert os.listdir(mnt / "newdir") == ["inner.txt"]
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="s3fs-bucket", Prefix="newdir/")["Contents"]]
        assert keys == ["newdir/", "newdir/inner.txt"]
    finally:
        subprocess.run(["fusermount", "-u", str(mnt)], capture_output=True)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
