"""S3 through boto3 against a real kiseki-server: every operation and the errors
S3 gives. One server for the module."""
import base64
import datetime
import hashlib
import hmac
import http.client
import io
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib

import boto3
import botocore
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from kiseki_server import Server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(str(tmp_path_factory.mktemp("s3") / "data"))
    yield s
    s.stop()


def client(server, key=None, secret=None, **cfg):
    ak, sk = server.root_credentials()
    return boto3.client("s3", endpoint_url=server.s3_endpoint, region_name="us-east-1",
                        aws_access_key_id=key or ak, aws_secret_access_key=secret or sk,
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 0}, **cfg))


@pytest.fixture(scope="module")
def s3(server):
    return client(server)


def code(e):
    return e.value.response["Error"]["Code"]


def status(e):
    return e.value.response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def bucket(s3, request):
    name = "b-" + request.node.name.lower().replace("_", "-")[:50]
    s3.create_bucket(Bucket=name)
    yield name


def test_buckets(s3):
    s3.create_bucket(Bucket="alpha")
    s3.create_bucket(Bucket="beta.two")
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert "alpha" in names and "beta.two" in names
    s3.head_bucket(Bucket="alpha")
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket="alpha")
    assert code(e) == "BucketAlreadyOwnedByYou" and status(e) == 409
    for bad in ["ab", "UPPER", "-x-y", "a" * 64, "192.168.1.1", "a..b", "under_score"]:
        with pytest.raises(ClientError) as e:
            s3.create_bucket(Bucket=bad)
        assert code(e) == "InvalidBucketName", bad
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket="missing")
    assert status(e) == 404
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket="missing")
    assert code(e) == "NoSuchBucket"
    assert s3.get_bucket_location(Bucket="alpha").get("LocationConstraint") in (None, "")
    assert "Status" not in s3.get_bucket_versioning(Bucket="alpha")
    s3.put_object(Bucket="alpha", Key="x", Body=b"1")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket="alpha")
    assert code(e) == "BucketNotEmpty"
    s3.delete_object(Bucket="alpha", Key="x")
    s3.delete_bucket(Bucket="alpha")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket="alpha")
    assert code(e) == "NoSuchBucket"


def test_put_get_head_delete(s3, bucket):
    data = os.urandom(300_000)
    r = s3.put_object(Bucket=bucket, Key="dir/obj.bin", Body=data, ContentType="application/x-test",
                      Metadata={"color": "blue", "n": "1"}, CacheControl="max-age=60",
                      ContentDisposition='attachment; filename="x.bin"')
    assert r["ETag"] == '"%s"' % hashlib.md5(data).hexdigest()
    g = s3.get_object(Bucket=bucket, Key="dir/obj.bin")
    assert g["Body"].read() == data
    assert g["ContentType"] == "application/x-test"
    assert g["Metadata"] == {"color": "blue", "n": "1"}
    assert g["CacheControl"] == "max-age=60"
    assert g["ContentDisposition"] == 'attachment; filename="x.bin"'
    assert g["ContentLength"] == len(data)
    h = s3.head_object(Bucket=bucket, Key="dir/obj.bin")
    assert h["ContentLength"] == len(data) and h["ETag"] == r["ETag"]
    empty = s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    assert empty["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'
    assert s3.get_object(Bucket=bucket, Key="empty")["Body"].read() == b""
    s3.delete_object(Bucket=bucket, Key="dir/obj.bin")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="dir/obj.bin")
    assert code(e) == "NoSuchKey" and status(e) == 404
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="dir/obj.bin")
    assert status(e) == 404
    s3.delete_object(Bucket=bucket, Key="never-existed")  # 204, as S3


def test_ranges(s3, bucket):
    data = os.urandom(100_000)
    s3.put_object(Bucket=bucket, Key="r", Body=data)
    def rng(spec):
        return s3.get_object(Bucket=bucket, Key="r", Range=spec)
    r = rng("bytes=10-19")
    assert r["Body"].read() == data[10:20] and r["ContentRange"] == "bytes 10-19/100000"
    assert rng("bytes=99990-")["Body"].read() == data[99990:]
    assert rng("bytes=-5")["Body"].read() == data[-5:]
    assert rng("bytes=99999-200000")["Body"].read() == data[99999:]
    with pytest.raises(ClientError) as e:
        rng("bytes=100000-")
    assert code(e) == "InvalidRange" and status(e) == 416
    assert rng("bytes=abc")["Body"].read() == data  # syntax S3 ignores: whole object


def test_conditionals(s3, bucket):
    r = s3.put_object(Bucket=bucket, Key="c", Body=b"v1")
    etag = r["ETag"]
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag)["Body"].read() == b"v1"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c", IfMatch='"nope"')
    assert status(e) == 412
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert status(e) == 304
    future = datetime.datetime.utcnow() + datetime.timedelta(days=1)
    past = datetime.datetime.utcnow() - datetime.timedelta(days=1)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=future)
    assert status(e) == 304
    assert s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=past)["Body"].read() == b"v1"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c", IfUnmodifiedSince=past)
    assert status(e) == 412
    # PUT If-None-Match: * (botocore 1.29 has no parameter for it: add the header).
    def put_if_absent(key, body):
        c = client_with_header(s3, "If-None-Match", "*")
        return c.put_object(Bucket=bucket, Key=key, Body=body)
    put_if_absent("fresh", b"x")
    with pytest.raises(ClientError) as e:
        put_if_absent("fresh", b"y")
    assert code(e) == "PreconditionFailed" and status(e) == 412
    assert s3.get_object(Bucket=bucket, Key="fresh")["Body"].read() == b"x"


def client_with_header(s3, name, value):
    c = boto3.client("s3", endpoint_url=s3.meta.endpoint_url, region_name="us-east-1",
                     aws_access_key_id=s3._request_signer._credentials.access_key,
                     aws_secret_access_key=s3._request_signer._credentials.secret_key,
                     config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 0}))
    c.meta.events.register("before-sign.s3.*", lambda request, **kw: request.headers.__setitem__(name, value))
    return c


def test_copy(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"copy me", Metadata={"a": "1"}, ContentType="text/plain")
    r = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert r["CopyObjectResult"]["ETag"] == '"%s"' % hashlib.md5(b"copy me").hexdigest()
    g = s3.get_object(Bucket=bucket, Key="dst")
    assert g["Body"].read() == b"copy me" and g["Metadata"] == {"a": "1"} and g["ContentType"] == "text/plain"
    s3.copy_object(Bucket=bucket, Key="dst2", CopySource=f"{bucket}/src", MetadataDirective="REPLACE",
                   Metadata={"b": "2"}, ContentType="application/json")
    g = s3.get_object(Bucket=bucket, Key="dst2")
    assert g["Metadata"] == {"b": "2"} and g["ContentType"] == "application/json"
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="src", CopySource={"Bucket": bucket, "Key": "src"})
    assert code(e) == "InvalidRequest"
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "missing"})
    assert code(e) == "NoSuchKey"


def test_object_tagging(s3, bucket):
    def tags(key):
        return {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]}

    s3.put_object(Bucket=bucket, Key="t", Body=b"tagged", Tagging="team=storage&stage=a%20b", Metadata={"m": "1"})
    assert tags("t") == {"team": "storage", "stage": "a b"}
    g = s3.get_object(Bucket=bucket, Key="t")
    assert g["TagCount"] == 2 and g["Metadata"] == {"m": "1"}
    assert "x-amz-tagging" not in g["ResponseMetadata"]["HTTPHeaders"]
    etag = g["ETag"]
    # Replace the set: the object, its metadata and its ETag stay.
    s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": [{"Key": "k", "Value": "v:1/@"}]})
    assert tags("t") == {"k": "v:1/@"}
    g = s3.get_object(Bucket=bucket, Key="t")
    assert g["Body"].read() == b"tagged" and g["ETag"] == etag and g["Metadata"] == {"m": "1"} and g["TagCount"] == 1
    # A copy keeps the source's tags, or takes the request's with REPLACE.
    s3.copy_object(Bucket=bucket, Key="c1", CopySource={"Bucket": bucket, "Key": "t"})
    assert tags("c1") == {"k": "v:1/@"}
    s3.copy_object(Bucket=bucket, Key="c2", CopySource={"Bucket": bucket, "Key": "t"},
                   TaggingDirective="REPLACE", Tagging="x=y")
    assert tags("c2") == {"x": "y"}
    s3.copy_object(Bucket=bucket, Key="c3", CopySource={"Bucket": bucket, "Key": "t"}, TaggingDirective="REPLACE")
    assert tags("c3") == {}
    # Multipart uploads take x-amz-tagging at creation.
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", Tagging="p=1")["UploadId"]
    e1 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up, PartNumber=1, Body=b"z" * 100)["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}]})
    assert tags("mp") == {"p": "1"}
    s3.delete_object_tagging(Bucket=bucket, Key="t")
    assert tags("t") == {}
    assert "TagCount" not in s3.get_object(Bucket=bucket, Key="t")
    # What S3 refuses.
    for bad in ["=v", "a=1&a=2", "&".join(f"k{i}=v" for i in range(11)), "k=" + "v" * 257, "k" * 129 + "=v", "k=v%23"]:
        with pytest.raises(ClientError) as e:
            s3.put_object(Bucket=bucket, Key="bad", Body=b"x", Tagging=bad)
        assert code(e) == "InvalidTag", bad
    with pytest.raises(ClientError) as e:
        s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": [{"Key": "a", "Value": "1"}] * 2})
    assert code(e) == "InvalidTag"
    with pytest.raises(ClientError) as e:
        s3.get_object_tagging(Bucket=bucket, Key="missing")
    assert code(e) == "NoSuchKey"
    with pytest.raises(ClientError) as e:
        s3.put_object_tagging(Bucket=bucket, Key="missing", Tagging={"TagSet": []})
    assert code(e) == "NoSuchKey"


def test_delete_objects(s3, bucket):
    for k in ["a", "b/c", "d"]:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a"}, {"Key": "b/c"}, {"Key": "zz"}]})
    assert sorted(d["Key"] for d in r["Deleted"]) == ["a", "b/c", "zz"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["d"]
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "d"}], "Quiet": True})
    assert "Deleted" not in r
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_listing(s3, bucket):
    keys = ["a", "a-b", "a.c", "b/1", "b/2", "b/c/d", "b-x", "c d", "photos/2024/x.jpg", "z\u00e9", "q+r%s"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"v")
    all_keys = sorted(keys, key=lambda k: k.encode())
    got = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert got == all_keys
    r = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["b/", "photos/"]
    assert [o["Key"] for o in r["Contents"]] == [k for k in all_keys if "/" not in k]
    r = s3.list_objects_v2(Bucket=bucket, Prefix="b/", Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["b/1", "b/2"] and r["CommonPrefixes"] == [{"Prefix": "b/c/"}]
    # Pagination with continuation tokens, v2, and markers, v1.
    seen, token = [], None
    while True:
        kw = {"ContinuationToken": token} if token else {}
        r = s3.list_objects_v2(Bucket=bucket, MaxKeys=3, **kw)
        seen += [o["Key"] for o in r.get("Contents", [])]
        if not r["IsTruncated"]:
            break
        token = r["NextContinuationToken"]
    assert seen == all_keys
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, StartAfter="b/2")["Contents"]] == \
        [k for k in all_keys if k.encode() > b"b/2"]
    r = s3.list_objects(Bucket=bucket, Marker="a.c", MaxKeys=2)
    assert [o["Key"] for o in r["Contents"]] == [k for k in all_keys if k.encode() > b"a.c"][:2]
    assert r["IsTruncated"] and "Owner" in r["Contents"][0]
    r = s3.list_objects_v2(Bucket=bucket, Prefix="photos/", FetchOwner=True)
    assert r["Contents"][0]["Owner"]["ID"]
    # encoding-type=url: keys come back URL-encoded ("+" itself as %2B).
    r = s3.list_objects_v2(Bucket=bucket, EncodingType="url", Prefix="c")
    assert [urllib.parse.unquote_plus(o["Key"]) for o in r["Contents"]] == ["c d"]
    r = s3.list_objects_v2(Bucket=bucket, EncodingType="url", Prefix="q")
    assert [urllib.parse.unquote_plus(o["Key"]) for o in r["Contents"]] == ["q+r%s"]
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket=bucket, MaxKeys=-1)
    assert code(e) == "InvalidArgument"


def test_multipart(s3, bucket):
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp/obj", ContentType="application/x-mp",
                                    Metadata={"m": "1"})
    uid = up["UploadId"]
    p1, p2, p3 = os.urandom(5 << 20), os.urandom(5 << 20), os.urandom(1234)
    e1 = s3.upload_part(Bucket=bucket, Key="mp/obj", UploadId=uid, PartNumber=1, Body=p1)["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key="mp/obj", UploadId=uid, PartNumber=2, Body=p2)["ETag"]
    s3.put_object(Bucket=bucket, Key="copysrc", Body=b"0123456789" + p3)
    e3 = s3.upload_part_copy(Bucket=bucket, Key="mp/obj", UploadId=uid, PartNumber=3,
                             CopySource={"Bucket": bucket, "Key": "copysrc"},
                             CopySourceRange="bytes=10-%d" % (10 + len(p3) - 1))["CopyPartResult"]["ETag"]
    parts = s3.list_parts(Bucket=bucket, Key="mp/obj", UploadId=uid)["Parts"]
    assert [p["PartNumber"] for p in parts] == [1, 2, 3] and parts[2]["Size"] == len(p3)
    ups = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in ups] == [("mp/obj", uid)]
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="mp/obj", UploadId=uid, MultipartUpload={
            "Parts": [{"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}]})
    assert code(e) == "InvalidPartOrder"
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="mp/obj", UploadId=uid, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": '"0000"'}]})
    assert code(e) == "InvalidPart"
    r = s3.complete_multipart_upload(Bucket=bucket, Key="mp/obj", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}, {"PartNumber": 3, "ETag": e3}]})
    md5s = b"".join(hashlib.md5(p).digest() for p in (p1, p2, p3))
    assert r["ETag"] == '"%s-3"' % hashlib.md5(md5s).hexdigest()
    g = s3.get_object(Bucket=bucket, Key="mp/obj")
    assert g["Body"].read() == p1 + p2 + p3
    assert g["ContentType"] == "application/x-mp" and g["Metadata"] == {"m": "1"}
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket=bucket, Key="mp/obj", UploadId=uid)
    assert code(e) == "NoSuchUpload"
    # Too-small parts, abort, and unknown uploads.
    uid2 = s3.create_multipart_upload(Bucket=bucket, Key="small")["UploadId"]
    a = s3.upload_part(Bucket=bucket, Key="small", UploadId=uid2, PartNumber=1, Body=b"a")["ETag"]
    b = s3.upload_part(Bucket=bucket, Key="small", UploadId=uid2, PartNumber=2, Body=b"b")["ETag"]
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="small", UploadId=uid2, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": a}, {"PartNumber": 2, "ETag": b}]})
    assert code(e) == "EntityTooSmall"
    s3.abort_multipart_upload(Bucket=bucket, Key="small", UploadId=uid2)
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="small", UploadId=uid2, PartNumber=3, Body=b"c")
    assert code(e) == "NoSuchUpload"
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="small", UploadId="f" * 32, PartNumber=0, Body=b"c")
    assert code(e) == "InvalidArgument"


def test_content_md5_and_checksums(s3, bucket):
    body = b"checksummed body"
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    s3.put_object(Bucket=bucket, Key="ok", Body=body, ContentMD5=md5)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="bad", Body=body, ContentMD5=base64.b64encode(b"0" * 16).decode())
    assert code(e) == "BadDigest"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="bad", Body=body, ContentMD5="not-base64")
    assert code(e) == "InvalidDigest"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="bad")
    # The PUT's ETag is the MD5 it is checked against: a chunked body, and a folder.
    big = os.urandom(300000)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="big-bad", Body=big, ContentMD5=md5)
    assert code(e) == "BadDigest"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="big-bad")
    big_md5 = base64.b64encode(hashlib.md5(big).digest()).decode()
    r = s3.put_object(Bucket=bucket, Key="big-ok", Body=big, ContentMD5=big_md5)
    assert r["ETag"] == '"' + hashlib.md5(big).hexdigest() + '"'
    s3.put_object(Bucket=bucket, Key="md5-folder/", Body=b"", ContentMD5=base64.b64encode(hashlib.md5(b"").digest()).decode())
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="md5-folder-bad/", Body=b"", ContentMD5=md5)
    assert code(e) == "BadDigest"
    # A part's Content-MD5 likewise: a wrong one stores no part.
    up = s3.create_multipart_upload(Bucket=bucket, Key="md5-parts")["UploadId"]
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="md5-parts", UploadId=up, PartNumber=1, Body=big, ContentMD5=md5)
    assert code(e) == "BadDigest"
    assert "Parts" not in s3.list_parts(Bucket=bucket, Key="md5-parts", UploadId=up)
    etag = s3.upload_part(Bucket=bucket, Key="md5-parts", UploadId=up, PartNumber=1, Body=big,
                          ContentMD5=big_md5)["ETag"]
    assert etag == '"' + hashlib.md5(big).hexdigest() + '"'
    s3.abort_multipart_upload(Bucket=bucket, Key="md5-parts", UploadId=up)
    for algo in ["CRC32", "CRC32C", "SHA1", "SHA256"]:
        r = s3.put_object(Bucket=bucket, Key="ck-" + algo, Body=body, ChecksumAlgorithm=algo)
        h = s3.head_object(Bucket=bucket, Key="ck-" + algo, ChecksumMode="ENABLED")
        assert h.get("Checksum" + algo) == r.get("Checksum" + algo), algo
    crc = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    assert s3.head_object(Bucket=bucket, Key="ck-CRC32", ChecksumMode="ENABLED")["ChecksumCRC32"] == crc
    sha = base64.b64encode(hashlib.sha256(body).digest()).decode()
    assert s3.head_object(Bucket=bucket, Key="ck-SHA256", ChecksumMode="ENABLED")["ChecksumSHA256"] == sha
    # A wrong checksum value is refused and stores nothing.
    c = client_with_header(s3, "x-amz-checksum-crc32", "AAAAAA==")
    with pytest.raises(ClientError) as e:
        c.put_object(Bucket=bucket, Key="wrong-crc", Body=body)
    assert code(e) == "BadDigest"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="wrong-crc")


def test_presigned_urls(server, bucket):
    # SigV4 presigned URLs (test_s3_compat.py covers the SigV2 ones botocore makes by default).
    s3 = client(server, signature_version="s3v4")
    s3.put_object(Bucket=bucket, Key="p", Body=b"presigned")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "p"}, ExpiresIn=60)
    assert urllib.request.urlopen(url, timeout=10).read() == b"presigned"
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "up"}, ExpiresIn=60)
    req = urllib.request.Request(put_url, data=b"uploaded", method="PUT")
    urllib.request.urlopen(req, timeout=10)
    assert s3.get_object(Bucket=bucket, Key="up")["Body"].read() == b"uploaded"
    expired = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "p"}, ExpiresIn=1)
    time.sleep(2.1)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(expired, timeout=10)
    assert e.value.code == 403 and b"AccessDenied" in e.value.read()
    tampered = url.replace("X-Amz-Expires=60", "X-Amz-Expires=61")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(tampered, timeout=10)
    assert e.value.code == 403 and b"SignatureDoesNotMatch" in e.value.read()


def test_bad_credentials_and_anonymous(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    ak, sk = server.root_credentials()
    with pytest.raises(ClientError) as e:
        client(server, secret="wrong-secret-key").get_object(Bucket=bucket, Key="k")
    assert code(e) == "SignatureDoesNotMatch" and status(e) == 403
    with pytest.raises(ClientError) as e:
        client(server, key="NOSUCHKEY123").get_object(Bucket=bucket, Key="k")
    assert code(e) == "InvalidAccessKeyId"
    anon = boto3.client("s3", endpoint_url=server.s3_endpoint, region_name="us-east-1",
                        config=Config(signature_version=botocore.UNSIGNED, s3={"addressing_style": "path"}))
    with pytest.raises(ClientError) as e:
        anon.get_object(Bucket=bucket, Key="k")
    assert code(e) == "AccessDenied"
    # A public-read bucket serves anonymous reads, never anonymous writes.
    s3.create_bucket(Bucket="public-one", ACL="public-read")
    s3.put_object(Bucket="public-one", Key="open", Body=b"for everyone")
    assert anon.get_object(Bucket="public-one", Key="open")["Body"].read() == b"for everyone"
    grants = s3.get_bucket_acl(Bucket="public-one")["Grants"]
    assert {g["Permission"] for g in grants} == {"FULL_CONTROL", "READ"}
    assert [g["Permission"] for g in s3.get_object_acl(Bucket=bucket, Key="k")["Grants"]] == ["FULL_CONTROL"]
    with pytest.raises(ClientError) as e:
        anon.put_object(Bucket="public-one", Key="nope", Body=b"x")
    assert code(e) == "AccessDenied"


def sign_raw(server, method, path, amz_date, body=b"", headers=None):
    """An independent SigV4 signer, to send requests boto3 would not."""
    ak, sk = server.root_credentials()
    host = f"127.0.0.1:{server.s3_port}"
    payload = hashlib.sha256(body).hexdigest()
    hdrs = {"host": host, "x-amz-content-sha256": payload, "x-amz-date": amz_date, **(headers or {})}
    names = sorted(hdrs)
    canonical = "\n".join([method, urllib.parse.quote(path, safe="/~"), "",
                           "".join(f"{n}:{hdrs[n]}\n" for n in names), ";".join(names), payload])
    scope = f"{amz_date[:8]}/us-east-1/s3/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    k = ("AWS4" + sk).encode()
    for part in (amz_date[:8], "us-east-1", "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    hdrs["authorization"] = f"AWS4-HMAC-SHA256 Credential={ak}/{scope}, SignedHeaders={';'.join(names)}, Signature={sig}"
    return hdrs


def raw_request(server, method, path, headers, body=b""):
    c = http.client.HTTPConnection("127.0.0.1", server.s3_port, timeout=10)
    c.request(method, urllib.parse.quote(path, safe="/~"), body=body, headers=headers)
    r = c.getresponse()
    return r.status, r.read()


def test_clock_skew(server, s3, bucket):
    now = datetime.datetime.utcnow()
    ok = sign_raw(server, "GET", f"/{bucket}", now.strftime("%Y%m%dT%H%M%SZ"))
    assert raw_request(server, "GET", f"/{bucket}", ok)[0] == 200
    old = sign_raw(server, "GET", f"/{bucket}", (now - datetime.timedelta(hours=1)).strftime("%Y%m%dT%H%M%SZ"))
    st, body = raw_request(server, "GET", f"/{bucket}", old)
    assert st == 403 and b"RequestTimeTooSkewed" in body


def test_odd_keys(s3, bucket):
    for key in ["with space", "unicode-\u65e5\u672c-\u00e9", "percent%20sign", "plus+sign", "k" * 1024,
                "a/b/c/d/e/f/g", "tab\tkey", "quote'\"<>&"]:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode(), key
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k" * 1025, Body=b"x")
    assert code(e) == "KeyTooLongError"
    # Keys that cannot be a path get a clear error and change nothing.
    s3.put_object(Bucket=bucket, Key="file", Body=b"file")
    for key in ["a//b", "./x", "x/../y", "x/.kiseki-object"]:
        with pytest.raises(ClientError) as e:
            s3.put_object(Bucket=bucket, Key=key, Body=b"x")
        assert code(e) == "InvalidArgument", key
    # A key that is also a prefix is two objects (test_s3_key_prefixes.py has more).
    s3.put_object(Bucket=bucket, Key="file/below", Body=b"below")
    s3.put_object(Bucket=bucket, Key="dir/inner", Body=b"inner")
    s3.put_object(Bucket=bucket, Key="dir", Body=b"x")
    assert s3.get_object(Bucket=bucket, Key="file")["Body"].read() == b"file"
    assert s3.get_object(Bucket=bucket, Key="file/below")["Body"].read() == b"below"
    assert s3.get_object(Bucket=bucket, Key="dir/inner")["Body"].read() == b"inner"
    assert s3.get_object(Bucket=bucket, Key="dir")["Body"].read() == b"x"


def test_folder_markers(s3, bucket):
    s3.put_object(Bucket=bucket, Key="docs/", Body=b"")
    assert s3.head_object(Bucket=bucket, Key="docs/")["ContentLength"] == 0
    s3.put_object(Bucket=bucket, Key="docs/readme.txt", Body=b"read me")
    r = s3.list_objects_v2(Bucket=bucket, Prefix="docs/", Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["docs/", "docs/readme.txt"]
    assert s3.list_objects_v2(Bucket=bucket, Delimiter="/")["CommonPrefixes"] == [{"Prefix": "docs/"}]
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="withdata/", Body=b"x")
    assert code(e) == "InvalidArgument"
    s3.delete_object(Bucket=bucket, Key="docs/")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["docs/readme.txt"]


def test_malformed_requests_keep_server_serving(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="safe", Body=b"unchanged")
    now = datetime.datetime.utcnow().strftime("%Y%m%dT%H%M%SZ")
    uid = s3.create_multipart_upload(Bucket=bucket, Key="m")["UploadId"]
    for body in [b"<not xml", b"<CompleteMultipartUpload></CompleteMultipartUpload>",
                 b"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber></Part></CompleteMultipartUpload>"]:
        path = f"/{bucket}/m"
        hdrs = sign_raw(server, "POST", path, now, body)
        c = http.client.HTTPConnection("127.0.0.1", server.s3_port, timeout=10)
        c.request("POST", f"{path}?uploadId={uid}", body=body, headers=hdrs)
        r = c.getresponse()
        r.read()
        assert r.status in (400, 403)
    # Garbage, oversized headers and a truncated body on raw sockets.
    for raw in [b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"a" * 20000 + b"\r\n\r\n",
                b"PUT /%s/trunc HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nshort" % bucket.encode()]:
        with socket.create_connection(("127.0.0.1", server.s3_port), timeout=10) as s:
            s.sendall(raw)
            s.shutdown(socket.SHUT_WR)
            reply = s.recv(65536)
            assert reply == b"" or reply.startswith(b"HTTP/1.1 4"), reply[:80]
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="trunc")
    assert s3.get_object(Bucket=bucket, Key="safe")["Body"].read() == b"unchanged"


def test_virtual_host_style(tmp_path):
    s = Server(str(tmp_path / "data"), extra=["--s3-domain", "s3.kiseki.test"])
    try:
        c = client(s)
        c.create_bucket(Bucket="vhost")
        c.put_object(Bucket="vhost", Key="k", Body=b"v")
        now = datetime.datetime.utcnow().strftime("%Y%m%dT%H%M%SZ")
        ak, sk = s.root_credentials()
        hdrs = sign_raw(s, "GET", "/k", now, headers={})
        # Re-sign with a virtual host: the bucket comes from Host.
        host = f"vhost.s3.kiseki.test:{s.s3_port}"
        payload = hashlib.sha256(b"").hexdigest()
        h = {"host": host, "x-amz-content-sha256": payload, "x-amz-date": now}
        names = sorted(h)
        canonical = "\n".join(["GET", "/k", "", "".join(f"{n}:{h[n]}\n" for n in names), ";".join(names), payload])
        scope = f"{now[:8]}/us-east-1/s3/aws4_request"
        sts = "\n".join(["AWS4-HMAC-SHA256", now, scope, hashlib.sha256(canonical.encode()).hexdigest()])
        k = ("AWS4" + sk).encode()
        for part in (now[:8], "us-east-1", "s3", "aws4_request"):
            k = hmac.new(k, part.encode(), hashlib.sha256).digest()
        h["authorization"] = (f"AWS4-HMAC-SHA256 Credential={ak}/{scope}, SignedHeaders={';'.join(names)}, "
                              f"Signature={hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()}")
        st, body = raw_request(s, "GET", "/k", h)
        assert (st, body) == (200, b"v")
    finally:
        s.stop()


def test_metrics(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="m", Body=b"x" * 100)
    s3.get_object(Bucket=bucket, Key="m")["Body"].read()
    with pytest.raises(ClientError):
        s3.get_object(Bucket=bucket, Key="missing")
    _, text = server.get("/metrics")
    assert 'kiseki_s3_requests_total{op="PutObject"}' in text
    assert 'kiseki_s3_errors_total{code="NoSuchKey",op="GetObject"}' in text or \
        'kiseki_s3_errors_total{op="GetObject",code="NoSuchKey"}' in text
    assert 'kiseki_s3_request_seconds_bucket{op="GetObject",le=' in text
    assert 'kiseki_s3_bytes_in_total{op="PutObject"}' in text


def test_restart_keeps_objects_and_uploads(tmp_path):
    s = Server(str(tmp_path / "data"))
    c = client(s)
    c.create_bucket(Bucket="persist")
    data = os.urandom(1 << 20)
    c.put_object(Bucket="persist", Key="obj", Body=data)
    uid = c.create_multipart_upload(Bucket="persist", Key="mp")["UploadId"]
    p1 = os.urandom(5 << 20)
    e1 = c.upload_part(Bucket="persist", Key="mp", UploadId=uid, PartNumber=1, Body=p1)["ETag"]
    s.kill()  # kill -9: acknowledged writes must survive
    s2 = Server(s.data_dir)
    try:
        c = client(s2)
        assert c.get_object(Bucket="persist", Key="obj")["Body"].read() == data
        assert [p["PartNumber"] for p in c.list_parts(Bucket="persist", Key="mp", UploadId=uid)["Parts"]] == [1]
        e2 = c.upload_part(Bucket="persist", Key="mp", UploadId=uid, PartNumber=2, Body=b"tail")["ETag"]
        c.complete_multipart_upload(Bucket="persist", Key="mp", UploadId=uid, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
        assert c.get_object(Bucket="persist", Key="mp")["Body"].read() == p1 + b"tail"
    finally:
        s2.stop()
