"""Power cuts for a real kiseki-server process.

The server keeps its data directory on kiseki-powercut-fs (tests/tools/powercut_fs.cc),
a FUSE file system that loses on command what a power cut would: what was written
since each file's last fsync, and the directory entries made since their directory's
last fsync. Several S3 clients write and delete while the server is killed with
SIGKILL, the power is cut (once tearing the last write), and the server starts
again on what is left: under `sync` every acknowledged PUT and DELETE holds; under
`none` acknowledged writes are lost (the file system really drops data) but the
server starts consistent (scrub clean: chunks, metadata checksums, every layout's chunks; every
object listed reads).
"""
import json
import os
import random
import subprocess
import threading
import time

import pytest
from botocore.config import Config

from kiseki_server import BUILD, Server

POWERCUT_FS = os.path.join(BUILD, "tests", "kiseki-powercut-fs")


class PowerCutFs:
    def __init__(self, root):
        self.backing = root / "disk"
        self.mnt = root / "mnt"
        self.backing.mkdir()
        self.mnt.mkdir()
        self.log = open(root / "powercut-fs.log", "w")
        self.proc = subprocess.Popen([POWERCUT_FS, str(self.backing), str(self.mnt), "-f"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while not os.path.ismount(self.mnt):
            assert self.proc.poll() is None, "kiseki-powercut-fs exited"
            assert time.time() < deadline, "kiseki-powercut-fs did not mount"
            time.sleep(0.05)

    def cut(self, tear=False):
        with open(self.mnt / ".powercut", "w") as f:
            f.write("cut tear" if tear else "cut")
        with open(self.mnt / ".powercut") as f:
            return f.read()

    def close(self):
        subprocess.run(["fusermount3", "-u", str(self.mnt)], check=False)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def body(seed):
    r = random.Random(seed)
    return r.randbytes(r.choice([100, 5000, 70000, 300000]))


def writer(s3, wid, rnd, stop, acked, deleted, inflight):
    """PUTs new keys and deletes some it wrote, until stopped; bounded."""
    mine = []
    for i in range(400):
        if stop.is_set():
            return
        if i % 4 == 3 and mine:
            key = mine.pop(0)
            inflight.add(key)
            try:
                s3.delete_object(Bucket="pcut", Key=key)
            except Exception:
                return
            inflight.discard(key)
            acked.pop(key, None)
            deleted.add(key)
        else:
            key = f"r{rnd}/w{wid}/{i}"
            seed = hash((rnd, wid, i)) & 0xFFFFFFFF
            inflight.add(key)
            try:
                s3.put_object(Bucket="pcut", Key=key, Body=body(seed))
            except Exception:
                return
            inflight.discard(key)
            acked[key] = seed
            mine.append(key)


@pytest.mark.parametrize("mode", ["sync", "none"])
def test_power_cuts_under_load(tmp_path, mode):
    fs = PowerCutFs(tmp_path)
    server = None
    acked, deleted = {}, set()
    lost_acked = 0
    try:
        for rnd in range(3):
            server = Server(str(fs.mnt), extra=["--durability", mode])
            s3 = server.s3_client(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10)
            if mode == "none" and rnd > 0:
                # What was never synced may be gone, the bucket included.
                got = {}
                names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
                if "pcut" in names:
                    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="pcut"):
                        for o in page.get("Contents", []):
                            got[o["Key"]] = s3.get_object(Bucket="pcut", Key=o["Key"])["Body"].read()
                for key, seed in acked.items():
                    if key not in got:
                        lost_acked += 1
                    else:
                        assert got[key] == body(seed), f"{key} came back with other bytes"
                acked = {k: s for k, s in acked.items() if k in got}
            else:
                for key, seed in acked.items():
                    assert s3.get_object(Bucket="pcut", Key=key)["Body"].read() == body(seed), key
                for key in deleted:
                    with pytest.raises(s3.exceptions.NoSuchKey):
                        s3.get_object(Bucket="pcut", Key=key)
            if rnd == 0 or mode == "none":
                try:
                    s3.create_bucket(Bucket="pcut")
                except s3.exceptions.BucketAlreadyOwnedByYou:
                    pass
            scrub = json.loads(server.cli("scrub").stdout)
            assert not scrub["problems"], scrub

            stop = threading.Event()
            inflight = set()
            threads = [threading.Thread(target=writer, args=(server.s3_client(retries={"max_attempts": 1}),
                                                             w, rnd, stop, acked, deleted, inflight))
                       for w in range(4)]
            for t in threads:
                t.start()
            time.sleep(1.0 + rnd * 0.5)
            server.kill()  # SIGKILL while writes are in flight
            stop.set()
            for t in threads:
                t.join(timeout=30)
            # A write in flight at the kill may or may not have happened.
            for key in inflight:
                acked.pop(key, None)
                deleted.discard(key)
            report = fs.cut(tear=rnd == 2)
            assert "files cut back" in report, report
        # The last cut, checked by a last start.
        server = Server(str(fs.mnt), extra=["--durability", mode])
        s3 = server.s3_client()
        if mode == "sync":
            for key, seed in acked.items():
                assert s3.get_object(Bucket="pcut", Key=key)["Body"].read() == body(seed), key
            for key in deleted:
                with pytest.raises(s3.exceptions.NoSuchKey):
                    s3.get_object(Bucket="pcut", Key=key)
            assert len(acked) > 50, "too few writes were acknowledged to show anything"
        scrub = json.loads(server.cli("scrub").stdout)
        assert not scrub["problems"], scrub
        if mode == "none":
            assert lost_acked > 0, "no acknowledged write was lost: the power cuts dropped nothing"
        server.stop()
        server = None
    finally:
        if server:
            server.kill()
        fs.close()
