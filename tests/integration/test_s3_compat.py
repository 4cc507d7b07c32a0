"""S3 as older and stricter clients use it: Signature Version 2 (headers and
presigned URLs from awscli, boto3 and s3cmd), checksums of ranged GETs and of
multipart uploads, DeleteBucket with uploads in progress, ListBuckets pagination."""
import base64
import hashlib
import hmac
import os
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
import zlib

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from kiseki_server import Server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(str(tmp_path_factory.mktemp("s3compat") / "data"))
    yield s
    s.stop()


def client(server, sig=None, key=None, secret=None):
    ak, sk = server.root_credentials()
    cfg = {"s3": {"addressing_style": "path"}, "retries": {"max_attempts": 0}}
    if sig:
        cfg["signature_version"] = sig
    return boto3.client("s3", endpoint_url=server.s3_endpoint, region_name="us-east-1",
                        aws_access_key_id=key or ak, aws_secret_access_key=secret or sk, config=Config(**cfg))


def code(e):
    return e.value.response["Error"]["Code"]


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


@pytest.fixture(scope="module")
def bucket(server):
    client(server).create_bucket(Bucket="compat")
    return "compat"


# ---- Signature Version 2

def test_sigv2_headers_with_boto3(server, bucket):
    v2 = client(server, "s3")
    v2.put_object(Bucket=bucket, Key="v2/a key+x", Body=b"signed with v2", ContentType="text/plain",
                  Metadata={"who": "boto3"})
    g = v2.get_object(Bucket=bucket, Key="v2/a key+x")
    assert g["Body"].read() == b"signed with v2" and g["Metadata"] == {"who": "boto3"}
    assert v2.head_object(Bucket=bucket, Key="v2/a key+x")["ContentLength"] == 14
    assert [o["Key"] for o in v2.list_objects(Bucket=bucket, Prefix="v2/")["Contents"]] == ["v2/a key+x"]
    assert [o["Key"] for o in v2.list_objects_v2(Bucket=bucket, Prefix="v2/")["Contents"]] == ["v2/a key+x"]
    assert bucket in [b["Name"] for b in v2.list_buckets()["Buckets"]]
    v2.delete_object(Bucket=bucket, Key="v2/a key+x")
    assert "Contents" not in v2.list_objects(Bucket=bucket, Prefix="v2/")
    # The same errors as SigV4.
    with pytest.raises(ClientError) as e:
        client(server, "s3", secret="not-the-secret-at-all").get_object(Bucket=bucket, Key="x")
    assert code(e) == "SignatureDoesNotMatch"
    with pytest.raises(ClientError) as e:
        client(server, "s3", key="NOSUCHKEY1234567890").list_buckets()
    assert code(e) == "InvalidAccessKeyId"


def test_sigv2_presigned_urls(server, bucket):
    s3 = client(server)
    s3.put_object(Bucket=bucket, Key="shared file.txt", Body=b"presigned v2")
    url = client(server, "s3").generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "shared file.txt", "ResponseContentType": "text/x-v2"},
        ExpiresIn=300)
    assert "AWSAccessKeyId=" in url and "Signature=" in url
    st, body, headers = fetch(url)
    assert st == 200 and body == b"presigned v2" and headers["Content-Type"] == "text/x-v2"
    # One byte of the signature changed: refused.
    tampered = url.replace("Signature=", "Signature=A", 1)
    st, body, _ = fetch(tampered)
    assert st == 403 and b"SignatureDoesNotMatch" in body
    # Signed right but expired.
    ak, sk = server.root_credentials()
    expires = int(time.time()) - 5
    sts = f"GET\n\n\n{expires}\n/{bucket}/shared%20file.txt"
    sig = base64.b64encode(hmac.new(sk.encode(), sts.encode(), hashlib.sha1).digest()).decode()
    q = urllib.parse.urlencode({"AWSAccessKeyId": ak, "Expires": expires, "Signature": sig})
    st, body, _ = fetch(f"{server.s3_endpoint}/{bucket}/shared%20file.txt?{q}")
    assert st == 403 and b"Request has expired" in body
    # The same URL with a future Expires is accepted: the signature was right.
    expires = int(time.time()) + 60
    sts = f"GET\n\n\n{expires}\n/{bucket}/shared%20file.txt"
    sig = base64.b64encode(hmac.new(sk.encode(), sts.encode(), hashlib.sha1).digest()).decode()
    q = urllib.parse.urlencode({"AWSAccessKeyId": ak, "Expires": expires, "Signature": sig})
    assert fetch(f"{server.s3_endpoint}/{bucket}/shared%20file.txt?{q}")[0] == 200


def test_awscli_presign_and_curl(server, bucket, tmp_path):
    client(server).put_object(Bucket=bucket, Key="dir/for curl.bin", Body=b"fetched by curl")
    env = {**os.environ, "AWS_SHARED_CREDENTIALS_FILE": os.path.join(server.data_dir, "credentials"),
           "AWS_CONFIG_FILE": "/dev/null", "AWS_DEFAULT_REGION": "us-east-1"}
    url = subprocess.run(["aws", "--endpoint-url", server.s3_endpoint, "s3", "presign",
                          f"s3://{bucket}/dir/for curl.bin", "--expires-in", "120"],
                         capture_output=True, text=True, env=env, timeout=60, check=True).stdout.strip()
    out = subprocess.run(["curl", "-sS", "-f", url], capture_output=True, timeout=30)
    assert out.returncode == 0 and out.stdout == b"fetched by curl", out.stderr


def test_s3cmd_signature_v2_and_signurl(server, bucket, tmp_path):
    ak, sk = server.root_credentials()
    host = server.s3_endpoint.split("//")[1]
    cfg = tmp_path / "s3cfg"
    cfg.write_text(f"[default]\naccess_key = {ak}\nsecret_key = {sk}\nhost_base = {host}\nhost_bucket = {host}\n"
                   "use_https = False\nsignature_v2 = True\n")
    s3cmd = lambda *a: subprocess.run(["s3cmd", "-c", str(cfg), *a], capture_output=True, text=True, timeout=120)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(12 << 20))
    r = s3cmd("--multipart-chunk-size-mb=5", "put", str(big), f"s3://{bucket}/s3cmd/big.bin")
    assert r.returncode == 0, r.stderr
    got = tmp_path / "got.bin"
    assert s3cmd("get", "--force", f"s3://{bucket}/s3cmd/big.bin", str(got)).returncode == 0
    assert got.read_bytes() == big.read_bytes()
    assert "s3cmd/big.bin" in s3cmd("ls", f"s3://{bucket}/s3cmd/").stdout
    url = s3cmd("signurl", f"s3://{bucket}/s3cmd/big.bin", "+300").stdout.strip()
    out = subprocess.run(["curl", "-sS", "-f", "-o", str(tmp_path / "curl.bin"), url], capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "curl.bin").read_bytes() == big.read_bytes()
    assert s3cmd("del", f"s3://{bucket}/s3cmd/big.bin").returncode == 0


# ---- the rest of what clients expect

def test_ranged_get_carries_no_whole_object_checksum(server, bucket):
    s3 = client(server)
    s3.put_object(Bucket=bucket, Key="summed", Body=b"0123456789" * 1000, ChecksumAlgorithm="CRC32")
    whole = s3.get_object(Bucket=bucket, Key="summed", ChecksumMode="ENABLED")
    assert "x-amz-checksum-crc32" in whole["ResponseMetadata"]["HTTPHeaders"]
    part = s3.get_object(Bucket=bucket, Key="summed", ChecksumMode="ENABLED", Range="bytes=10-99")
    assert part["Body"].read() == (b"0123456789" * 10)[10:100]
    assert "x-amz-checksum-crc32" not in part["ResponseMetadata"]["HTTPHeaders"]
    full_range = s3.get_object(Bucket=bucket, Key="summed", ChecksumMode="ENABLED", Range="bytes=0-")
    assert "x-amz-checksum-crc32" in full_range["ResponseMetadata"]["HTTPHeaders"], "a range of all of it"


def test_delete_bucket_with_only_uploads_in_progress(server):
    s3 = client(server)
    s3.create_bucket(Bucket="only-uploads")
    up = s3.create_multipart_upload(Bucket="only-uploads", Key="never/finished")
    s3.upload_part(Bucket="only-uploads", Key="never/finished", UploadId=up["UploadId"], PartNumber=1, Body=b"x" * 1000)
    s3.delete_bucket(Bucket="only-uploads")
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket="only-uploads")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    # With an object too, the bucket stays, and so does the upload.
    s3.create_bucket(Bucket="objects-too")
    s3.put_object(Bucket="objects-too", Key="kept", Body=b"k")
    up = s3.create_multipart_upload(Bucket="objects-too", Key="pending")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket="objects-too")
    assert code(e) == "BucketNotEmpty"
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket="objects-too")["Uploads"]] == [up["UploadId"]]


def list_buckets_raw(server, params):
    """GET / with query `params` (botocore 1.29 models no ListBuckets pagination)."""
    req = urllib.request.Request(server.s3_endpoint + "/?" + urllib.parse.urlencode(params),
                                 headers=_signed_headers(server, params))
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, ET.fromstring(r.read())
    except urllib.error.HTTPError as e:
        return e.code, ET.fromstring(e.read())


def test_list_buckets_pagination(server):
    s3 = client(server)
    names = [f"page-{c}" for c in "abcde"]
    for n in names:
        s3.create_bucket(Bucket=n)
    ns = {"s3": "http://s3.amazonaws.com/doc/2006-03-01/"}
    seen, token, pages = [], None, 0
    while True:
        params = {"max-buckets": "2", "prefix": "page-"}
        if token:
            params["continuation-token"] = token
        st, root = list_buckets_raw(server, params)
        assert st == 200
        got = [b.findtext("s3:Name", namespaces=ns) for b in root.iter("{%s}Bucket" % ns["s3"])]
        assert 1 <= len(got) <= 2 and root.findtext("s3:Prefix", namespaces=ns) == "page-"
        seen += got
        pages += 1
        token = root.findtext("s3:ContinuationToken", namespaces=ns)
        if not token:
            break
    assert seen == names and pages == 3
    st, root = list_buckets_raw(server, {"max-buckets": "0"})
    assert st == 400 and root.findtext("Code") == "InvalidArgument"
    st, root = list_buckets_raw(server, {"prefix": "page-c"})
    assert [b.findtext("s3:Name", namespaces=ns) for b in root.iter("{%s}Bucket" % ns["s3"])] == ["page-c"]


def _signed_headers(server, params):
    """SigV4 headers for GET / with `params` (botocore signs it for us)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    ak, sk = server.root_credentials()
    req = AWSRequest(method="GET", url=server.s3_endpoint + "/?" + urllib.parse.urlencode(params))
    req.headers["x-amz-content-sha256"] = hashlib.sha256(b"").hexdigest()
    SigV4Auth(Credentials(ak, sk), "s3", "us-east-1").add_auth(req)
    return dict(req.headers)


def test_get_and_head_by_part_number(server, bucket):
    s3 = client(server)
    sizes = [5 << 20, (5 << 20) + 12345, 777]
    bodies = [os.urandom(n) for n in sizes]
    up = s3.create_multipart_upload(Bucket=bucket, Key="parts")
    etags = [s3.upload_part(Bucket=bucket, Key="parts", UploadId=up["UploadId"], PartNumber=i + 1, Body=b)["ETag"]
             for i, b in enumerate(bodies)]
    s3.complete_multipart_upload(Bucket=bucket, Key="parts", UploadId=up["UploadId"], MultipartUpload={
        "Parts": [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]})
    off = 0
    for i, b in enumerate(bodies):
        g = s3.get_object(Bucket=bucket, Key="parts", PartNumber=i + 1)
        assert g["Body"].read() == b and g["PartsCount"] == 3
        assert g["ContentRange"] == f"bytes {off}-{off + len(b) - 1}/{sum(sizes)}"
        h = s3.head_object(Bucket=bucket, Key="parts", PartNumber=i + 1)
        assert h["ContentLength"] == len(b) and h["PartsCount"] == 3
        off += len(b)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="parts", PartNumber=4)
    assert code(e) == "InvalidPartNumber"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="parts", PartNumber=1, Range="bytes=0-1")
    assert code(e) == "InvalidRequest"
    # An object of one PUT is its own part 1.
    s3.put_object(Bucket=bucket, Key="single", Body=b"one piece")
    g = s3.get_object(Bucket=bucket, Key="single", PartNumber=1)
    assert g["Body"].read() == b"one piece" and "PartsCount" not in g


def test_bucket_names_are_global_across_tenants(server):
    root = client(server)
    root.create_bucket(Bucket="everyones")
    server.cli("tenant", "create", "second")
    key = __import__("json").loads(server.cli("key", "create", "second").stdout)
    other = client(server, key=key["access_key_id"], secret=key["secret_key"])
    with pytest.raises(ClientError) as e:
        other.create_bucket(Bucket="everyones")
    assert code(e) == "BucketAlreadyExists"
    with pytest.raises(ClientError) as e:
        root.create_bucket(Bucket="everyones")
    assert code(e) == "BucketAlreadyOwnedByYou"
    r = server.cli("namespace", "create", "second", "everyones", check=False)
    assert r.returncode == 1 and "another tenant's" in r.stderr
    # Once deleted, the name is anyone's.
    root.delete_bucket(Bucket="everyones")
    other.create_bucket(Bucket="everyones")
    other.put_object(Bucket="everyones", Key="k", Body=b"mine now")
    with pytest.raises(ClientError) as e:
        root.get_object(Bucket="everyones", Key="k")
    assert code(e) in ("NoSuchBucket", "AccessDenied")


def crc32_b64(data):
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def test_multipart_composite_and_full_object_checksums(server, bucket):
    s3 = client(server)
    big, tail = os.urandom(5 << 20), os.urandom(1000)

    def upload(key, algo, extra_create=None, part_algo=True):
        if extra_create:
            s3.meta.events.register("before-sign.s3.CreateMultipartUpload", extra_create)
        try:
            up = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm=algo)
        finally:
            if extra_create:
                s3.meta.events.unregister("before-sign.s3.CreateMultipartUpload", extra_create)
        assert up["ChecksumAlgorithm"] == algo
        parts = []
        for n, data in ((1, big), (2, tail)):
            kw = {"ChecksumAlgorithm": algo} if part_algo else {}
            r = s3.upload_part(Bucket=bucket, Key=key, UploadId=up["UploadId"], PartNumber=n, Body=data, **kw)
            parts.append({"PartNumber": n, "ETag": r["ETag"], **({f"Checksum{algo}": r[f"Checksum{algo}"]}
                                                                 if part_algo else {})})
        return up["UploadId"], parts

    # COMPOSITE (the default): the checksum of the parts' checksums, "-2".
    up, parts = upload("composite", "CRC32")
    assert [p["PartNumber"] for p in s3.list_parts(Bucket=bucket, Key="composite", UploadId=up)["Parts"]] == [1, 2]
    assert s3.list_parts(Bucket=bucket, Key="composite", UploadId=up)["Parts"][0]["ChecksumCRC32"] == crc32_b64(big)
    done = s3.complete_multipart_upload(Bucket=bucket, Key="composite", UploadId=up, MultipartUpload={"Parts": parts})
    raw = base64.b64decode(crc32_b64(big)) + base64.b64decode(crc32_b64(tail))
    want = crc32_b64(raw) + "-2"
    assert done["ChecksumCRC32"] == want
    h = s3.head_object(Bucket=bucket, Key="composite", ChecksumMode="ENABLED")
    assert h["ChecksumCRC32"] == want and h["ResponseMetadata"]["HTTPHeaders"]["x-amz-checksum-type"] == "COMPOSITE"
    assert not any(k.startswith("x-kiseki-") for k in h["ResponseMetadata"]["HTTPHeaders"])
    g = s3.get_object(Bucket=bucket, Key="composite", ChecksumMode="ENABLED")  # the SDK skips a composite
    assert g["Body"].read() == big + tail and g["ChecksumCRC32"] == want

    up, parts = upload("sha", "SHA256")
    done = s3.complete_multipart_upload(Bucket=bucket, Key="sha", UploadId=up, MultipartUpload={"Parts": parts})
    raw = hashlib.sha256(big).digest() + hashlib.sha256(tail).digest()
    assert done["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(raw).digest()).decode() + "-2"

    # FULL_OBJECT: the CRC of the whole object, from the parts' CRCs.
    def full_object(request, **kwargs):
        request.headers["x-amz-checksum-type"] = "FULL_OBJECT"
    up, parts = upload("full", "CRC32", extra_create=full_object)
    done = s3.complete_multipart_upload(Bucket=bucket, Key="full", UploadId=up, MultipartUpload={"Parts": parts})
    assert done["ChecksumCRC32"] == crc32_b64(big + tail)
    h = s3.head_object(Bucket=bucket, Key="full", ChecksumMode="ENABLED")
    assert h["ChecksumCRC32"] == crc32_b64(big + tail)
    assert h["ResponseMetadata"]["HTTPHeaders"]["x-amz-checksum-type"] == "FULL_OBJECT"
    assert s3.get_object(Bucket=bucket, Key="full", ChecksumMode="ENABLED")["Body"].read() == big + tail  # validated

    # A part without its checksum, or a completion naming another: InvalidPart, nothing made.
    up, parts = upload("missing", "CRC32", part_algo=False)
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="missing", UploadId=up, MultipartUpload={"Parts": parts})
    assert code(e) == "InvalidPart"
    up, parts = upload("wrong", "CRC32")
    parts[1]["ChecksumCRC32"] = crc32_b64(b"something else")
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="wrong", UploadId=up, MultipartUpload={"Parts": parts})
    assert code(e) == "InvalidPart"
    for key in ("missing", "wrong"):
        with pytest.raises(ClientError):
            s3.head_object(Bucket=bucket, Key=key)


def test_null_versions_of_an_unversioned_bucket(server):
    """Every object is its key's one version, "null": ListObjectVersions, versionId=null on
    GET/HEAD/DELETE/copy and DeleteObjects work as S3 answers them; another id names nothing."""
    s3 = client(server)
    s3.create_bucket(Bucket="versions")
    for k in ("a", "d/1", "d/2", "z"):
        s3.put_object(Bucket="versions", Key=k, Body=k.encode())
    r = s3.list_object_versions(Bucket="versions")
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in r["Versions"]] == \
        [("a", "null", True), ("d/1", "null", True), ("d/2", "null", True), ("z", "null", True)]
    assert r["Versions"][0]["ETag"] == s3.head_object(Bucket="versions", Key="a")["ETag"]
    r = s3.list_object_versions(Bucket="versions", Delimiter="/")
    assert [v["Key"] for v in r["Versions"]] == ["a", "z"] and r["CommonPrefixes"] == [{"Prefix": "d/"}]
    page = s3.list_object_versions(Bucket="versions", MaxKeys=2)
    assert page["IsTruncated"] and page["NextKeyMarker"] == "d/1" and page["NextVersionIdMarker"] == "null"
    rest = s3.list_object_versions(Bucket="versions", KeyMarker="d/1", VersionIdMarker="null")
    assert [v["Key"] for v in rest["Versions"]] == ["d/2", "z"]
    assert s3.get_object(Bucket="versions", Key="a", VersionId="null")["Body"].read() == b"a"
    bogus = "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"
    for call in (lambda: s3.get_object(Bucket="versions", Key="a", VersionId=bogus),
                 lambda: s3.head_object(Bucket="versions", Key="a", VersionId=bogus),
                 lambda: s3.copy_object(Bucket="versions", Key="c", CopySource={"Bucket": "versions", "Key": "a",
                                                                                 "VersionId": bogus})):
        with pytest.raises(ClientError) as e:
            call()
        assert e.value.response["Error"]["Code"] in ("NoSuchVersion", "404")
    s3.copy_object(Bucket="versions", Key="c", CopySource={"Bucket": "versions", "Key": "a", "VersionId": "null"})
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket="versions", Key="a", VersionId=bogus)
    assert code(e) == "InvalidArgument"
    s3.delete_object(Bucket="versions", Key="c", VersionId="null")
    r = s3.delete_objects(Bucket="versions", Delete={"Objects": [{"Key": "a", "VersionId": "null"},
                                                                  {"Key": "z", "VersionId": bogus}]})
    assert [(d["Key"], d.get("VersionId")) for d in r["Deleted"]] == [("a", "null")]
    assert [(e["Key"], e["Code"]) for e in r["Errors"]] == [("z", "NoSuchVersion")]
    # The usual way to empty a bucket: delete every version, then the bucket.
    bucket = boto3.resource("s3", endpoint_url=server.s3_endpoint, region_name="us-east-1",
                            aws_access_key_id=server.root_credentials()[0],
                            aws_secret_access_key=server.root_credentials()[1],
                            config=Config(s3={"addressing_style": "path"})).Bucket("versions")
    bucket.object_versions.all().delete()
    bucket.delete()
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket="versions")
    assert e.value.response["Error"]["Code"] in ("404", "NoSuchBucket")
