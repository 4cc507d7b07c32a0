"""POST object (browser form uploads) against a real kiseki-server: forms built by
hand as a browser sends them, signed by boto3's generate_presigned_post (SigV4) or
by hand (SigV2). One server for the module."""
import base64
import datetime
import hashlib
import hmac
import http.client
import json
import os
import re
import urllib.parse

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from kiseki_server import Server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(str(tmp_path_factory.mktemp("s3post") / "data"))
    yield s
    s.stop()


@pytest.fixture(scope="module")
def s3(server):
    ak, sk = server.root_credentials()
    return boto3.client("s3", endpoint_url=server.s3_endpoint, region_name="us-east-1",
                        aws_access_key_id=ak, aws_secret_access_key=sk,
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 0}))


@pytest.fixture(scope="module")
def bucket(s3):
    s3.create_bucket(Bucket="forms")
    return "forms"


def form_body(fields, filename, data, boundary="----KisekiFormBoundary7MA4YWxkTrZu0gW", after=()):
    """multipart/form-data as a browser builds it: the fields, the file, then any `after` fields."""
    out = b"preamble a browser would not send, and S3 ignores\r\n"
    for name, value in fields:
        out += f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n".encode() + \
            value.encode() + b"\r\n"
    out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode() + data + b"\r\n"
    for name, value in after:
        out += f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n".encode() + \
            value.encode() + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


def post(server, bucket, fields, filename="photo.jpg", data=b"form bytes", content_type=None, **kw):
    body, ctype = form_body(list(fields.items()) if isinstance(fields, dict) else fields, filename, data, **kw)
    u = urllib.parse.urlparse(server.s3_endpoint)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    conn.request("POST", f"/{bucket}", body=body, headers={"Content-Type": content_type or ctype,
                                                           "Origin": "https://www.example.com"})
    r = conn.getresponse()
    out = (r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    conn.close()
    return out


def presigned(s3, bucket, key, fields=None, conditions=None, expires=600):
    """A SigV4 form (x-amz-algorithm, x-amz-credential, x-amz-date, x-amz-signature)."""
    ak, sk = s3._request_signer._credentials.access_key, s3._request_signer._credentials.secret_key
    v4 = boto3.client("s3", endpoint_url=s3.meta.endpoint_url, region_name="us-east-1", aws_access_key_id=ak,
                      aws_secret_access_key=sk, config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    p = v4.generate_presigned_post(Bucket=bucket, Key=key, Fields=fields or {}, Conditions=conditions or [],
                                   ExpiresIn=expires)
    assert "x-amz-signature" in p["fields"] and p["fields"]["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    return dict(p["fields"])


def error_code(body):
    m = re.search(rb"<Code>([^<]+)</Code>", body)
    return m.group(1).decode() if m else None


def test_signed_upload_with_fields(server, s3, bucket):
    f = presigned(s3, bucket, "uploads/${filename}",
                  fields={"success_action_status": "201", "x-amz-meta-owner": "web", "Content-Type": "text/plain",
                          "tagging": "<Tagging><TagSet><Tag><Key>src</Key><Value>form</Value></Tag></TagSet></Tagging>"},
                  conditions=[{"success_action_status": "201"}, {"x-amz-meta-owner": "web"},
                              ["starts-with", "$Content-Type", "text/"], ["content-length-range", 1, 1 << 20],
                              ["starts-with", "$tagging", ""]])
    st, h, body = post(server, bucket, f, filename="C:\\Users\\me\\notes.txt", data=b"hello from a form")
    assert st == 201, body
    assert b"<Key>uploads/notes.txt</Key>" in body and b"<Bucket>forms</Bucket>" in body
    etag = '"' + hashlib.md5(b"hello from a form").hexdigest() + '"'
    assert h["etag"] == etag and h["location"].endswith("/forms/uploads/notes.txt")
    g = s3.get_object(Bucket=bucket, Key="uploads/notes.txt")
    assert g["Body"].read() == b"hello from a form"
    assert g["ContentType"] == "text/plain" and g["Metadata"] == {"owner": "web"} and g["TagCount"] == 1


def test_default_status_redirect_and_large_file(server, s3, bucket):
    st, h, body = post(server, bucket, presigned(s3, bucket, "plain"))
    assert st == 204 and body == b"" and "etag" in h
    f = presigned(s3, bucket, "redirected", fields={"success_action_redirect": "https://app.example.com/done?x=1"},
                  conditions=[{"success_action_redirect": "https://app.example.com/done?x=1"}])
    st, h, _ = post(server, bucket, f)
    assert st == 303
    loc = urllib.parse.urlparse(h["location"])
    q = urllib.parse.parse_qs(loc.query)
    assert loc.netloc == "app.example.com" and q["x"] == ["1"] and q["bucket"] == ["forms"]
    assert q["key"] == ["redirected"] and q["etag"] == [h["etag"]]
    # Several MiB, with near-copies of the boundary inside, across the reader's buffers.
    boundary = "----KisekiFormBoundary7MA4YWxkTrZu0gW"
    data = bytearray(os.urandom(3 << 20))
    for at in range(1000, len(data) - 100, 65521):
        near = b"\r\n--" + boundary[:-1].encode() + b"X"  # one byte short of the boundary (a browser's is not in the data)
        data[at:at + len(near)] = near
    data = bytes(data) + b"\r\n--"  # ends like a delimiter's start
    st, _, body = post(server, bucket, presigned(s3, bucket, "big.bin"), data=data, after=[("ignored", "x")])
    assert st == 204, body
    assert s3.get_object(Bucket=bucket, Key="big.bin")["Body"].read() == data


def test_policy_refusals(server, s3, bucket):
    base = presigned(s3, bucket, "user/a.txt", conditions=[["content-length-range", 5, 10]])
    cases = [
        (dict(base), b"way too many bytes", 400, "EntityTooLarge"),
        (dict(base), b"tiny", 400, "EntityTooSmall"),
        ({**base, "x-amz-meta-extra": "1"}, b"12345", 403, "AccessDenied"),  # a field the policy does not name
        ({**base, "key": "other/a.txt"}, b"12345", 403, "AccessDenied"),      # the key the policy fixed
        ({**base, "x-amz-signature": "0" * 64}, b"12345", 403, "SignatureDoesNotMatch"),
        ({k: v for k, v in base.items() if k not in ("x-amz-signature", "policy", "x-amz-credential")},
         b"12345", 403, "AccessDenied"),  # anonymous
        ({**base, "x-amz-credential": "NOBODY/20260101/us-east-1/s3/aws4_request"}, b"12345", 403,
         "InvalidAccessKeyId"),
        ({k: v for k, v in base.items() if k != "key"}, b"12345", 400, "InvalidArgument"),
    ]
    for fields, data, want_status, want_code in cases:
        st, _, body = post(server, bucket, fields, data=data)
        assert (st, error_code(body)) == (want_status, want_code), (fields.keys(), body)
    expired = presigned(s3, bucket, "late", expires=-5)
    st, _, body = post(server, bucket, expired)
    assert st == 403 and b"Policy expired" in body
    st, _, body = post(server, bucket, base, data=b"12345", content_type="application/x-www-form-urlencoded")
    assert st == 412
    for key in ("user/a.txt", "late", "other/a.txt"):
        with pytest.raises(ClientError):
            s3.head_object(Bucket=bucket, Key=key)
    st, _, _ = post(server, bucket, base, data=b"123456")
    assert st == 204 and s3.get_object(Bucket=bucket, Key="user/a.txt")["Body"].read() == b"123456"


def test_sigv2_form_and_cors(server, s3, bucket):
    ak, sk = server.root_credentials()
    expiration = (datetime.datetime.utcnow() + datetime.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    policy = base64.b64encode(json.dumps({"expiration": expiration, "conditions": [
        {"bucket": bucket}, ["eq", "$key", "v2/form.txt"], {"acl": "private"}]}).encode()).decode()
    signature = base64.b64encode(hmac.new(sk.encode(), policy.encode(), hashlib.sha1).digest()).decode()
    fields = [("key", "v2/form.txt"), ("acl", "private"), ("AWSAccessKeyId", ak), ("policy", policy),
              ("signature", signature)]
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [
        {"AllowedOrigins": ["https://www.example.com"], "AllowedMethods": ["POST"]}]})
    st, h, body = post(server, bucket, fields)
    assert st == 204, body
    assert h["access-control-allow-origin"] == "https://www.example.com"
    assert s3.get_object(Bucket=bucket, Key="v2/form.txt")["Body"].read() == b"form bytes"
    bad = [(k, v if k != "signature" else base64.b64encode(b"x" * 20).decode()) for k, v in fields]
    st, _, body = post(server, bucket, bad)
    assert st == 403 and error_code(body) == "SignatureDoesNotMatch"


def test_a_form_is_held_to_the_signers_rights_on_its_key(server, s3, bucket):
    server.cli("tenant", "create", "partner")
    key = json.loads(server.cli("key", "create", "partner").stdout)
    partner = boto3.client("s3", endpoint_url=server.s3_endpoint, region_name="us-east-1",
                           aws_access_key_id=key["access_key_id"], aws_secret_access_key=key["secret_key"],
                           config=Config(s3={"addressing_style": "path"}))
    partner_id = next(str(t["id"]) for t in json.loads(server.cli("tenant", "list").stdout) if t["name"] == "partner")
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": partner_id}, "Action": "s3:PutObject",
         "Resource": f"arn:aws:s3:::{bucket}/inbox/*"}]}))
    try:
        st, _, body = post(server, bucket, presigned(partner, bucket, "inbox/${filename}"), filename="${filename}.txt")
        assert st == 204, body
        assert s3.get_object(Bucket=bucket, Key="inbox/${filename}.txt")["Body"].read() == b"form bytes"
        st, _, body = post(server, bucket, presigned(partner, bucket, "elsewhere/x"))
        assert st == 403 and error_code(body) == "AccessDenied"
    finally:
        s3.delete_bucket_policy(Bucket=bucket)
