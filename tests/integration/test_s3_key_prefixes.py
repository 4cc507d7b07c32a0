"""Keys that are also prefixes (ADR 0013), against a real kiseki-server: boto3 and
awscli see `logs` and `logs/2026/a` as two objects in S3's order, whichever came
first, in plain and versioned buckets; NFS (a raw client and libnfs) sees the
directory `logs` with the object as its `.kiseki-object` entry. One server."""
import os
import subprocess

import pytest
from botocore.exceptions import ClientError

from kiseki_server import Server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(str(tmp_path_factory.mktemp("keyprefixes") / "data"))
    yield s
    s.stop()


@pytest.fixture(scope="module")
def s3(server):
    return server.s3_client(retries={"max_attempts": 0})


@pytest.fixture
def bucket(s3, request):
    name = "kp-" + request.node.name.lower().replace("_", "-")[:50]
    s3.create_bucket(Bucket=name)
    return name


def code(e):
    return e.value.response["Error"]["Code"]


def body(s3, bucket, key, **kw):
    return s3.get_object(Bucket=bucket, Key=key, **kw)["Body"].read()


def listing(s3, bucket, page=1000, **kw):
    """(keys, common prefixes) over every page of ListObjectsV2."""
    keys, prefixes = [], []
    for p in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": page}, **kw):
        keys += [o["Key"] for o in p.get("Contents", [])]
        prefixes += [c["Prefix"] for c in p.get("CommonPrefixes", [])]
    return keys, prefixes


def test_both_orders_and_s3_listing_order(s3, bucket):
    s3.put_object(Bucket=bucket, Key="logs", Body=b"marker")
    s3.put_object(Bucket=bucket, Key="logs/2026/a", Body=b"a")
    s3.put_object(Bucket=bucket, Key="deep/x/y", Body=b"y")
    s3.put_object(Bucket=bucket, Key="deep/x", Body=b"x" * 200000)
    for k in ["logs-x", "logs.txt", "logsz"]:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    assert body(s3, bucket, "logs") == b"marker"
    assert body(s3, bucket, "logs/2026/a") == b"a"
    assert body(s3, bucket, "deep/x") == b"x" * 200000
    h = s3.head_object(Bucket=bucket, Key="deep/x")
    assert h["ContentLength"] == 200000
    assert body(s3, bucket, "deep/x", Range="bytes=10-19") == b"x" * 10
    everything = ["deep/x", "deep/x/y", "logs", "logs-x", "logs.txt", "logs/2026/a", "logsz"]
    for page in (1, 2, 1000):
        assert listing(s3, bucket, page)[0] == everything, page
        assert listing(s3, bucket, page, Delimiter="/") == (["logs", "logs-x", "logs.txt", "logsz"],
                                                            ["deep/", "logs/"]), page
    assert listing(s3, bucket, Prefix="deep/", Delimiter="/") == (["deep/x"], ["deep/x/"])
    assert listing(s3, bucket, StartAfter="logs")[0] == everything[3:]
    v1 = s3.list_objects(Bucket=bucket, Marker="deep/x", MaxKeys=1)
    assert [o["Key"] for o in v1["Contents"]] == ["deep/x/y"] and v1["IsTruncated"]


def test_replace_delete_copy_multipart_and_folders(s3, bucket):
    s3.put_object(Bucket=bucket, Key="p/q/r", Body=b"r")
    s3.put_object(Bucket=bucket, Key="p/q", Body=b"one")
    s3.put_object(Bucket=bucket, Key="p/q", Body=b"two")
    assert body(s3, bucket, "p/q") == b"two"
    # A copy onto and from such a key; a multipart completion onto it.
    s3.copy_object(Bucket=bucket, Key="p", CopySource={"Bucket": bucket, "Key": "p/q"})
    assert body(s3, bucket, "p") == b"two"
    up = s3.create_multipart_upload(Bucket=bucket, Key="p/q")["UploadId"]
    part = b"m" * (5 << 20)
    etag = s3.upload_part(Bucket=bucket, Key="p/q", UploadId=up, PartNumber=1, Body=part)["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key="p/q", UploadId=up,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert s3.head_object(Bucket=bucket, Key="p/q")["ContentLength"] == len(part)
    # Deleting the object keeps the keys below it, and the other way round.
    s3.delete_object(Bucket=bucket, Key="p/q")
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="p/q")
    assert e.value.response["Error"]["Code"] == "404"
    assert body(s3, bucket, "p/q/r") == b"r"
    s3.delete_object(Bucket=bucket, Key="p/q/r")
    assert listing(s3, bucket)[0] == ["p"]
    s3.delete_object(Bucket=bucket, Key="p")
    assert listing(s3, bucket)[0] == []
    # A folder marker beside an object of the same name: three things at one name.
    s3.put_object(Bucket=bucket, Key="f", Body=b"object f")
    s3.put_object(Bucket=bucket, Key="f/", Body=b"")
    s3.put_object(Bucket=bucket, Key="f/g", Body=b"g")
    assert listing(s3, bucket)[0] == ["f", "f/", "f/g"]
    assert s3.head_object(Bucket=bucket, Key="f/")["ContentLength"] == 0
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "f/"}, {"Key": "f/g"}]})
    assert listing(s3, bucket)[0] == ["f"] and body(s3, bucket, "f") == b"object f"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="f/.kiseki-object", Body=b"x")
    assert code(e) == "InvalidArgument"


def test_versions_of_a_key_that_is_a_prefix(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="v", Body=b"one")["VersionId"]
    s3.put_object(Bucket=bucket, Key="v/x", Body=b"x")
    v2 = s3.put_object(Bucket=bucket, Key="v", Body=b"two")["VersionId"]
    r = s3.list_object_versions(Bucket=bucket)
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in r["Versions"]] == [
        ("v", v2, True), ("v", v1, False), ("v/x", r["Versions"][2]["VersionId"], True)]
    marker = s3.delete_object(Bucket=bucket, Key="v")
    assert marker["DeleteMarker"]
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="v")
    assert body(s3, bucket, "v", VersionId=v1) == b"one"
    s3.delete_object(Bucket=bucket, Key="v", VersionId=marker["VersionId"])
    assert body(s3, bucket, "v") == b"two"
    s3.delete_object(Bucket=bucket, Key="v", VersionId=v2)
    assert body(s3, bucket, "v") == b"one" and body(s3, bucket, "v/x") == b"x"


def test_awscli_lists_and_removes_them(server, s3, bucket):
    creds = server.root_credentials()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": creds[0], "AWS_SECRET_ACCESS_KEY": creds[1],
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null",
           "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    for k in ["a", "a/b", "a/b/c", "a-z"]:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    aws = ["/usr/bin/aws", "--endpoint-url", server.s3_endpoint]
    ls = subprocess.run(aws + ["s3", "ls", f"s3://{bucket}/"], capture_output=True, text=True, env=env, timeout=120)
    assert ls.returncode == 0, ls.stderr
    lines = [line.split()[-1] for line in ls.stdout.splitlines()]
    assert sorted(lines) == ["a", "a-z", "a/"], ls.stdout
    rec = subprocess.run(aws + ["s3", "ls", "--recursive", f"s3://{bucket}/"], capture_output=True, text=True,
                         env=env, timeout=120)
    assert [line.split()[-1] for line in rec.stdout.splitlines()] == ["a", "a-z", "a/b", "a/b/c"], rec.stdout
    rm = subprocess.run(aws + ["s3", "rm", "--recursive", f"s3://{bucket}/"], capture_output=True, text=True,
                        env=env, timeout=120)
    assert rm.returncode == 0, rm.stderr
    assert listing(s3, bucket)[0] == []
    s3.delete_bucket(Bucket=bucket)


def test_nfs_sees_the_directory_and_its_object_entry(server, s3, bucket):
    import rpc_client as rpc
    s3.put_object(Bucket=bucket, Key="logs", Body=b"the object")
    c = rpc.RpcClient(server.nfs_port)
    try:
        st, root = c.mount(f"/default/{bucket}")
        assert st == 0
        st, file_fh = c.lookup(root, "logs")
        assert st == 0 and c.getattr(file_fh)[1]["type"] == 1
        # The file becomes a directory: its handle is stale, the directory's is new.
        s3.put_object(Bucket=bucket, Key="logs/2026/a", Body=b"a")
        assert c.getattr(file_fh)[0] == rpc.STALE
        st, d = c.lookup(root, "logs")
        assert st == 0 and c.getattr(d)[1]["type"] == 2
        st, entries, eof, _ = c.readdir(d)
        assert st == 0 and eof and [e[0] for e in entries] == [".", "..", "2026", ".kiseki-object"]
        st, obj = c.lookup(d, ".kiseki-object")
        assert st == 0
        st, data, eof = c.read(obj, 0, 100)
        assert (st, data, eof) == (0, b"the object", True)
        # A write through NFS is the object's; an rmdir sees the object as an entry.
        assert c.write(obj, 4, b"OBJECT")[0] == 0
        assert body(s3, bucket, "logs") == b"the OBJECT"
        s3.delete_object(Bucket=bucket, Key="logs/2026/a")
        st, _ = c.nfs(rpc.RMDIR, rpc.Packer().opaque(root).opaque(b"logs").bytes())
        assert st == rpc.NOTEMPTY
        # The name is reserved where there is no object; removing the entry deletes the object.
        st, _ = c.create(root, ".kiseki-object")
        assert st == rpc.INVAL
        assert c.remove(d, ".kiseki-object") == 0
        assert c.getattr(obj)[0] == rpc.STALE
        assert c.lookup(root, "logs")[0] == rpc.NOENT
    finally:
        c.close()
    assert listing(s3, bucket)[0] == []
    # libnfs reads the object by its entry's path.
    s3.put_object(Bucket=bucket, Key="k/sub", Body=b"sub")
    s3.put_object(Bucket=bucket, Key="k", Body=b"k's object")
    r = subprocess.run(["nfs-cat", server.nfs_url(f"/default/{bucket}/k/.kiseki-object")], capture_output=True,
                       timeout=60)
    assert (r.returncode, r.stdout) == (0, b"k's object")
