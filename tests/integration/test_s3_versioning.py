"""Bucket versioning (ADR 0012) through boto3 against a real kiseki-server: version
ids on PUT, copy and multipart completion, reads and deletes by version, delete
markers, suspended buckets and their null versions, ListObjectVersions with its
markers and delimiter, DeleteObjects with versions, and the current version read
over NFS with libnfs. One server for the module."""
import json
import os
import subprocess
import time

import pytest
from botocore.exceptions import ClientError

from kiseki_server import Server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(str(tmp_path_factory.mktemp("s3versions") / "data"), extra=["--test-faults"])  # lifecycle's clock
    yield s
    s.stop()


@pytest.fixture(scope="module")
def s3(server):
    return server.s3_client(retries={"max_attempts": 0})


@pytest.fixture
def bucket(s3, request):
    name = "v-" + request.node.name.lower().replace("_", "-")[:50]
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def code(e):
    return e.value.response["Error"]["Code"]


def versions(s3, bucket, **kw):
    r = s3.list_object_versions(Bucket=bucket, **kw)
    out = [(v["Key"], v["VersionId"], v["IsLatest"], "V") for v in r.get("Versions", [])]
    out += [(m["Key"], m["VersionId"], m["IsLatest"], "M") for m in r.get("DeleteMarkers", [])]
    return r, out


def body(s3, bucket, key, **kw):
    return s3.get_object(Bucket=bucket, Key=key, **kw)["Body"].read()


def test_versioning_state_round_trips(s3):
    s3.create_bucket(Bucket="state")
    assert "Status" not in s3.get_bucket_versioning(Bucket="state")
    s3.put_bucket_versioning(Bucket="state", VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket="state")["Status"] == "Enabled"
    s3.put_bucket_versioning(Bucket="state", VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket="state")["Status"] == "Suspended"
    with pytest.raises(ClientError) as e:
        s3.put_bucket_versioning(Bucket="state", VersioningConfiguration={"Status": "Sometimes"})
    assert code(e) == "MalformedXML"


def test_versions_of_put_copy_and_multipart(s3, bucket):
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="k", Body=b"two" * 3000)["VersionId"]
    assert v1 != v2 and len(v1) == 24
    v3 = s3.copy_object(Bucket=bucket, Key="k", CopySource={"Bucket": bucket, "Key": "k", "VersionId": v1},
                        MetadataDirective="COPY")["VersionId"]
    up = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="k", UploadId=up, PartNumber=1, Body=b"four")["ETag"]
    v4 = s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=up,
                                      MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})["VersionId"]
    assert len({v1, v2, v3, v4}) == 4
    assert body(s3, bucket, "k") == b"four"
    assert body(s3, bucket, "k", VersionId=v1) == b"one"
    assert body(s3, bucket, "k", VersionId=v2) == b"two" * 3000
    assert body(s3, bucket, "k", VersionId=v3) == b"one"
    h = s3.head_object(Bucket=bucket, Key="k", VersionId=v2)
    assert h["VersionId"] == v2 and h["ContentLength"] == 9000
    assert s3.head_object(Bucket=bucket, Key="k")["VersionId"] == v4
    _, listed = versions(s3, bucket)
    assert listed == [("k", v4, True, "V"), ("k", v3, False, "V"), ("k", v2, False, "V"), ("k", v1, False, "V")]
    # a version that is not there, and one that cannot be
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k", VersionId="0" * 24)
    assert code(e) == "NoSuchVersion"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k", VersionId="not-a-version")
    assert code(e) == "NoSuchVersion"
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket=bucket, Key="k", VersionId="not-a-version")
    assert code(e) == "InvalidArgument"


def test_delete_markers_and_deleting_versions(s3, bucket):
    v1 = s3.put_object(Bucket=bucket, Key="d/k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="d/k", Body=b"two")["VersionId"]
    r = s3.delete_object(Bucket=bucket, Key="d/k")
    assert r["DeleteMarker"] is True
    marker = r["VersionId"]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="d/k")
    assert code(e) == "NoSuchKey"
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    _, listed = versions(s3, bucket)
    assert sorted(listed) == sorted([("d/k", marker, True, "M"), ("d/k", v2, False, "V"),
                                     ("d/k", v1, False, "V")])
    # a GET of the marker by id is not allowed; the older versions still read
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="d/k", VersionId=marker)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 405
    assert body(s3, bucket, "d/k", VersionId=v2) == b"two"
    # deleting the marker brings v2 back as the current object
    r = s3.delete_object(Bucket=bucket, Key="d/k", VersionId=marker)
    assert r["DeleteMarker"] is True and r["VersionId"] == marker
    assert body(s3, bucket, "d/k") == b"two"
    assert s3.head_object(Bucket=bucket, Key="d/k")["VersionId"] == v2
    # deleting the current version by id makes the one before it current
    s3.delete_object(Bucket=bucket, Key="d/k", VersionId=v2)
    assert body(s3, bucket, "d/k") == b"one"
    _, listed = versions(s3, bucket)
    assert listed == [("d/k", v1, True, "V")]
    s3.delete_object(Bucket=bucket, Key="d/k", VersionId=v1)
    _, listed = versions(s3, bucket)
    assert listed == []
    # a bucket with versions left is not empty; without any it deletes
    s3.put_object(Bucket=bucket, Key="x", Body=b"x")
    s3.delete_object(Bucket=bucket, Key="x")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=bucket)
    assert code(e) == "BucketNotEmpty"
    for key, vid, _, _ in versions(s3, bucket)[1]:
        s3.delete_object(Bucket=bucket, Key=key, VersionId=vid)
    s3.delete_bucket(Bucket=bucket)


def test_suspended_bucket_keeps_one_null_version(s3, bucket):
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"versioned")["VersionId"]
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert s3.put_object(Bucket=bucket, Key="k", Body=b"null one")["VersionId"] == "null"
    assert s3.put_object(Bucket=bucket, Key="k", Body=b"null two")["VersionId"] == "null"
    _, listed = versions(s3, bucket)
    assert listed == [("k", "null", True, "V"), ("k", v1, False, "V")]
    assert body(s3, bucket, "k", VersionId="null") == b"null two"
    # a delete makes a null delete marker in place of the null version
    r = s3.delete_object(Bucket=bucket, Key="k")
    assert r["DeleteMarker"] is True and r["VersionId"] == "null"
    _, listed = versions(s3, bucket)
    assert sorted(listed) == sorted([("k", "null", True, "M"), ("k", v1, False, "V")])
    # enabled again: the next version is kept beside the null marker
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v3 = s3.put_object(Bucket=bucket, Key="k", Body=b"three")["VersionId"]
    _, listed = versions(s3, bucket)
    assert [x[1] for x in listed if x[3] == "V"] == [v3, v1]
    assert body(s3, bucket, "k", VersionId=v1) == b"versioned"


def test_objects_from_before_versioning_are_null_versions(s3):
    s3.create_bucket(Bucket="before")
    s3.put_object(Bucket="before", Key="old", Body=b"old")
    s3.put_bucket_versioning(Bucket="before", VersioningConfiguration={"Status": "Enabled"})
    v = s3.put_object(Bucket="before", Key="old", Body=b"new")["VersionId"]
    _, listed = versions(s3, "before")
    assert listed == [("old", v, True, "V"), ("old", "null", False, "V")]
    assert body(s3, "before", "old", VersionId="null") == b"old"


def test_list_versions_pages_and_prefixes(s3, bucket):
    ids = {}
    for key in ["a", "b/1", "b/2", "c"]:
        ids[key] = [s3.put_object(Bucket=bucket, Key=key, Body=key.encode() * n)["VersionId"] for n in (1, 2, 3)]
    s3.delete_object(Bucket=bucket, Key="c")
    _, full = versions(s3, bucket)
    assert len(full) == 13
    # one page at a time, with both markers, gives the same list in order
    seen, km, vm = [], None, None
    while True:
        kw = {"MaxKeys": 2}
        if km:
            kw.update(KeyMarker=km, VersionIdMarker=vm)
        r = s3.list_object_versions(Bucket=bucket, **kw)
        page = [(v["Key"], v["VersionId"]) for v in r.get("Versions", []) + r.get("DeleteMarkers", [])]
        assert len(page) <= 2
        seen += page
        if not r["IsTruncated"]:
            break
        km, vm = r["NextKeyMarker"], r["NextVersionIdMarker"]
    assert sorted(seen) == sorted((k, v) for k, v, _, _ in full) and len(seen) == 13
    # keys in order, newest first within a key
    order = [k for k, _ in seen]
    assert order == sorted(order)
    assert [v for k, v in seen if k == "a"] == ids["a"][::-1]
    # a delimiter rolls b/ up; a prefix narrows
    r = s3.list_object_versions(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["b/"]
    assert {v["Key"] for v in r["Versions"]} == {"a", "c"}
    r = s3.list_object_versions(Bucket=bucket, Prefix="b/")
    assert len(r["Versions"]) == 6 and "CommonPrefixes" not in r
    latest = [v["VersionId"] for v in r["Versions"] if v["IsLatest"]]
    assert sorted(latest) == sorted([ids["b/1"][-1], ids["b/2"][-1]])


def test_delete_objects_with_versions(s3, bucket):
    v1 = s3.put_object(Bucket=bucket, Key="m", Body=b"1")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="m", Body=b"2")["VersionId"]
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "m", "VersionId": v1}, {"Key": "n"}]})
    deleted = {(d["Key"], d.get("VersionId")): d for d in r["Deleted"]}
    assert ("m", v1) in deleted
    assert deleted[("n", None)]["DeleteMarker"] is True and deleted[("n", None)]["DeleteMarkerVersionId"]
    _, listed = versions(s3, bucket)
    assert ("m", v2, True, "V") in listed and not any(v == v1 for _, v, _, _ in listed)
    # boto3's resource API empties a versioned bucket version by version
    import boto3  # noqa: F401  (the resource API rides on the same session)
    s3r = boto3.resource("s3", endpoint_url=s3.meta.endpoint_url, region_name="us-east-1",
                         aws_access_key_id=s3._request_signer._credentials.access_key,
                         aws_secret_access_key=s3._request_signer._credentials.secret_key)
    s3r.Bucket(bucket).object_versions.delete()
    assert versions(s3, bucket)[1] == []
    s3.delete_bucket(Bucket=bucket)


def test_older_versions_need_the_version_right(server, s3, bucket):
    """A right to read objects is not one to read their older versions (s3:GetObject vs
    s3:GetObjectVersion), for anonymous callers and other tenants alike."""
    import urllib.error
    import urllib.request
    v1 = s3.put_object(Bucket=bucket, Key="pub/a", Body=b"secret draft")["VersionId"]
    s3.put_object(Bucket=bucket, Key="pub/a", Body=b"published")

    def policy(actions):
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": actions, "Resource": f"arn:aws:s3:::{bucket}/pub/*"}]}))

    def anonymous(query=""):
        try:
            with urllib.request.urlopen(f"{server.s3_endpoint}/{bucket}/pub/a{query}", timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    policy(["s3:GetObject"])
    assert anonymous() == (200, b"published")
    assert anonymous(f"?versionId={v1}")[0] == 403
    policy(["s3:GetObject", "s3:GetObjectVersion"])
    assert anonymous(f"?versionId={v1}") == (200, b"secret draft")
    s3.delete_bucket_policy(Bucket=bucket)


def test_lifecycle_expires_noncurrent_versions_and_lone_markers(server, s3, bucket):
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "old", "Filter": {"Prefix": ""}, "Status": "Enabled", "NoncurrentVersionExpiration": {"NoncurrentDays": 1}},
        {"ID": "markers", "Filter": {"Prefix": ""}, "Status": "Enabled", "Expiration": {"ExpiredObjectDeleteMarker": True}},
    ]})
    s3.put_object(Bucket=bucket, Key="k", Body=b"1")
    v2 = s3.put_object(Bucket=bucket, Key="k", Body=b"2")["VersionId"]
    s3.put_object(Bucket=bucket, Key="j", Body=b"j")
    s3.delete_object(Bucket=bucket, Key="j")

    def run(at):
        st, body = server.api("POST", "/api/v1/lifecycle/run", json.dumps({"now_unix": int(at)}).encode())
        assert st == 200, body
        return json.loads(body)

    assert run(time.time())["expired"] == 0
    assert len(versions(s3, bucket)[1]) == 4
    # two days on: the noncurrent versions go, then (the second rule) the marker left alone
    assert run(time.time() + 2 * 86400)["expired"] == 3
    assert versions(s3, bucket)[1] == [("k", v2, True, "V")]
    assert run(time.time() + 2 * 86400)["expired"] == 0


def test_current_version_read_over_nfs(server, s3, tmp_path):
    s3.create_bucket(Bucket="vnfs")
    s3.put_bucket_versioning(Bucket="vnfs", VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket="vnfs", Key="dir/f.txt", Body=b"first")["VersionId"]
    s3.put_object(Bucket="vnfs", Key="dir/f.txt", Body=b"second")

    def nfs_cat(path):
        r = subprocess.run(["nfs-cat", server.nfs_url(f"/default/vnfs/{path}")], capture_output=True, timeout=60)
        return r.returncode, r.stdout

    assert nfs_cat("dir/f.txt") == (0, b"second")
    r = subprocess.run(["nfs-ls", server.nfs_url("/default/vnfs/dir")], capture_output=True, timeout=60)
    names = {line.split()[-1] for line in r.stdout.decode().splitlines() if line.strip()}
    assert names == {"f.txt"}, names  # versions are not entries of the tree
    s3.delete_object(Bucket="vnfs", Key="dir/f.txt")
    assert nfs_cat("dir/f.txt")[0] != 0
    s3.delete_object(Bucket="vnfs", Key="dir/f.txt",
                     VersionId=versions(s3, "vnfs")[1][0][1])  # the marker
    s3.delete_object(Bucket="vnfs", Key="dir/f.txt", VersionId=[
        v for k, v, latest, _ in versions(s3, "vnfs")[1] if latest][0])
    assert nfs_cat("dir/f.txt") == (0, b"first")
    assert s3.head_object(Bucket="vnfs", Key="dir/f.txt")["VersionId"] == v1


def test_nfs_removes_and_renames_keep_versions(server, s3, bucket):
    """Through NFS (a raw client): a REMOVE in a versioned bucket is a delete with a
    marker, and an editor's save (a new file renamed over the old) keeps the old one."""
    import rpc_client as rpc
    v1 = s3.put_object(Bucket=bucket, Key="docs/a.txt", Body=b"first")["VersionId"]
    c = rpc.RpcClient(server.nfs_port)
    try:
        st, root = c.mount(f"/default/{bucket}")
        assert st == 0
        st, d = c.lookup(root, "docs")
        assert st == 0
        st, tmp = c.create(d, "a.txt.swp")
        assert st == 0
        assert c.write(tmp, 0, b"second")[0] == 0
        assert c.rename(d, "a.txt.swp", d, "a.txt") == 0
        assert s3.get_object(Bucket=bucket, Key="docs/a.txt")["Body"].read() == b"second"
        assert s3.get_object(Bucket=bucket, Key="docs/a.txt", VersionId=v1)["Body"].read() == b"first"
        assert c.remove(d, "a.txt") == 0
    finally:
        c.close()
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="docs/a.txt")
    _, listed = versions(s3, bucket, Prefix="docs/a.txt")
    markers = [x for x in listed if x[3] == "M"]
    kept = [x for x in listed if x[3] == "V"]
    assert len(markers) == 1 and markers[0][2] and len(kept) == 2 and not any(x[2] for x in kept)
    assert s3.get_object(Bucket=bucket, Key="docs/a.txt", VersionId=kept[0][1])["Body"].read() == b"second"


# ---------------------------------------------------------------- object lock

def future(days=1):
    import datetime
    return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)


@pytest.fixture(scope="module")
def locked(s3):
    s3.create_bucket(Bucket="locked", ObjectLockEnabledForBucket=True)
    return "locked"


def test_object_lock_configuration(s3, locked):
    assert s3.get_bucket_versioning(Bucket=locked)["Status"] == "Enabled"
    cfg = s3.get_object_lock_configuration(Bucket=locked)["ObjectLockConfiguration"]
    assert cfg["ObjectLockEnabled"] == "Enabled" and "Rule" not in cfg
    # versioning stays on
    with pytest.raises(ClientError) as e:
        s3.put_bucket_versioning(Bucket=locked, VersioningConfiguration={"Status": "Suspended"})
    assert code(e) == "InvalidBucketState"
    # a bucket without versioning takes no lock configuration; one without lock answers 404
    s3.create_bucket(Bucket="unlocked")
    rule = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}}
    with pytest.raises(ClientError) as e:
        s3.put_object_lock_configuration(Bucket="unlocked", ObjectLockConfiguration=rule)
    assert code(e) == "InvalidBucketState"
    with pytest.raises(ClientError) as e:
        s3.get_object_lock_configuration(Bucket="unlocked")
    assert code(e) == "ObjectLockConfigurationNotFoundError"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="unlocked", Key="k", Body=b"x", ObjectLockLegalHoldStatus="ON")
    assert code(e) == "InvalidRequest"
    with pytest.raises(ClientError) as e:
        s3.put_object_lock_configuration(Bucket=locked, ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1, "Years": 1}}})
    assert code(e) == "MalformedXML"


def test_retention_governance_and_compliance(s3, locked):
    gov = s3.put_object(Bucket=locked, Key="gov", Body=b"g", ObjectLockMode="GOVERNANCE",
                        ObjectLockRetainUntilDate=future())["VersionId"]
    h = s3.head_object(Bucket=locked, Key="gov")
    assert h["ObjectLockMode"] == "GOVERNANCE" and h["ObjectLockRetainUntilDate"] > future(0)
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket=locked, Key="gov", VersionId=gov)
    assert code(e) == "AccessDenied"
    # a delete without a version makes a marker: allowed, the version stays
    s3.delete_object(Bucket=locked, Key="gov")
    assert s3.get_object(Bucket=locked, Key="gov", VersionId=gov)["Body"].read() == b"g"
    # shortening needs the bypass; with it (the owner may) the version goes
    with pytest.raises(ClientError) as e:
        s3.put_object_retention(Bucket=locked, Key="gov", VersionId=gov,
                                Retention={"Mode": "GOVERNANCE", "RetainUntilDate": future(0.5)})
    assert code(e) == "AccessDenied"
    s3.put_object_retention(Bucket=locked, Key="gov", VersionId=gov, BypassGovernanceRetention=True,
                            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": future(0.5)})
    r = s3.get_object_retention(Bucket=locked, Key="gov", VersionId=gov)["Retention"]
    assert r["Mode"] == "GOVERNANCE" and r["RetainUntilDate"] < future(0.6)
    s3.delete_object(Bucket=locked, Key="gov", VersionId=gov, BypassGovernanceRetention=True)
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=locked, Key="gov", VersionId=gov)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404

    comp = s3.put_object(Bucket=locked, Key="comp", Body=b"c", ObjectLockMode="COMPLIANCE",
                         ObjectLockRetainUntilDate=future())["VersionId"]
    for kw in ({}, {"BypassGovernanceRetention": True}):
        with pytest.raises(ClientError) as e:
            s3.delete_object(Bucket=locked, Key="comp", VersionId=comp, **kw)
        assert code(e) == "AccessDenied"
        with pytest.raises(ClientError) as e:
            s3.put_object_retention(Bucket=locked, Key="comp", VersionId=comp, Retention={
                "Mode": "GOVERNANCE", "RetainUntilDate": future(2)}, **kw)
        assert code(e) == "AccessDenied"
    r = s3.delete_objects(Bucket=locked, Delete={"Objects": [{"Key": "comp", "VersionId": comp}]},
                          BypassGovernanceRetention=True)
    assert r["Errors"][0]["Code"] == "AccessDenied"
    # lengthening is always allowed
    s3.put_object_retention(Bucket=locked, Key="comp", VersionId=comp,
                            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": future(3)})
    assert s3.get_object(Bucket=locked, Key="comp")["Body"].read() == b"c"


def test_legal_hold_and_default_retention(s3):
    s3.create_bucket(Bucket="held", ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(Bucket="held", ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 2}}})
    v = s3.put_object(Bucket="held", Key="k", Body=b"k")["VersionId"]
    r = s3.get_object_retention(Bucket="held", Key="k")["Retention"]
    assert r["Mode"] == "GOVERNANCE" and future(1.9) < r["RetainUntilDate"] < future(2.1)
    s3.put_object_legal_hold(Bucket="held", Key="k", VersionId=v, LegalHold={"Status": "ON"})
    assert s3.get_object_legal_hold(Bucket="held", Key="k")["LegalHold"]["Status"] == "ON"
    # a hold does not give way to the governance bypass
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket="held", Key="k", VersionId=v, BypassGovernanceRetention=True)
    assert code(e) == "AccessDenied"
    s3.put_object_legal_hold(Bucket="held", Key="k", VersionId=v, LegalHold={"Status": "OFF"})
    s3.delete_object(Bucket="held", Key="k", VersionId=v, BypassGovernanceRetention=True)
    # multipart and copy take the request's lock
    up = s3.create_multipart_upload(Bucket="held", Key="mp", ObjectLockLegalHoldStatus="ON")["UploadId"]
    etag = s3.upload_part(Bucket="held", Key="mp", UploadId=up, PartNumber=1, Body=b"mp")["ETag"]
    s3.complete_multipart_upload(Bucket="held", Key="mp", UploadId=up,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert s3.head_object(Bucket="held", Key="mp")["ObjectLockLegalHoldStatus"] == "ON"
    s3.copy_object(Bucket="held", Key="cp", CopySource={"Bucket": "held", "Key": "mp"},
                   ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=future())
    h = s3.head_object(Bucket="held", Key="cp")
    assert h["ObjectLockMode"] == "COMPLIANCE" and "ObjectLockLegalHoldStatus" not in h


def test_locked_file_refuses_unlink_and_writes_over_nfs(server, s3, locked):
    import rpc_client as rpc
    s3.put_object(Bucket=locked, Key="nfs/locked.txt", Body=b"keep me", ObjectLockLegalHoldStatus="ON")
    c = rpc.RpcClient(server.nfs_port)
    try:
        st, root = c.mount(f"/default/{locked}")
        assert st == 0
        st, d = c.lookup(root, "nfs")
        assert st == 0
        st, fh = c.lookup(d, "locked.txt")
        assert st == 0
        assert c.remove(d, "locked.txt") == 1  # NFS3ERR_PERM
        st, _, _ = c.write(fh, 0, b"overwrite")
        assert st == 1
        st, data, _ = c.read(fh, 0, 100)
        assert st == 0 and data == b"keep me"
    finally:
        c.close()
    assert s3.get_object(Bucket=locked, Key="nfs/locked.txt")["Body"].read() == b"keep me"
