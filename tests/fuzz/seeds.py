#!/usr/bin/env python3
"""Writes the seed corpora of the fuzzers whose inputs are text or XDR
(tests/fuzz/corpus/fuzz_s3_request, fuzz_nfs_rpc). The frame and record
fuzzers write their own from the real encoders: KISEKI_FUZZ_SEEDS=DIR FUZZER."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# S3: "AKIDFUZZ" stands for the fuzz Gateway's access key id, "SKFUZZ" for its secret.
AUTH = ("AWS4-HMAC-SHA256 Credential=AKIDFUZZ/20260101/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=" + "0" * 64)
write("fuzz_s3_request", "put-sigv4",
      "PUT /bucket/key.txt HTTP/1.1\r\nHost: 127.0.0.1:9000\r\nx-amz-date: 20260101T000000Z\r\n"
      "x-amz-content-sha256: UNSIGNED-PAYLOAD\r\nAuthorization: " + AUTH + "\r\nContent-Length: 5\r\n\r\nhello")
write("fuzz_s3_request", "get-presigned-v4",
      "GET /bucket/a%20b?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDFUZZ%2F20260101%2Fus-east-1%2Fs3%2F"
      "aws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature="
      + "0" * 64 + " HTTP/1.1\r\nHost: bucket.s3.fuzz\r\n\r\n")
write("fuzz_s3_request", "get-presigned-v2",
      "GET /bucket/key?AWSAccessKeyId=AKIDFUZZ&Expires=1767229200&Signature=abc%2Bdef%3D HTTP/1.1\r\n"
      "Host: 127.0.0.1\r\n\r\n")
body = ("<Delete><Quiet>true</Quiet><Object><Key>a</Key></Object><Object><Key>b/c</Key>"
        "<VersionId>null</VersionId></Object></Delete>")
write("fuzz_s3_request", "post-delete",
      f"POST /bucket?delete HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {AUTH}\r\n"
      f"x-amz-date: 20260101T000000Z\r\nContent-Length: {len(body)}\r\n\r\n{body}")
body = ("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"abc\"</ETag></Part>"
        "<Part><PartNumber>2</PartNumber><ETag>\"def\"</ETag></Part></CompleteMultipartUpload>")
write("fuzz_s3_request", "post-complete",
      f"POST /bucket/big?uploadId=xyz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n\r\n{body}")
chunked = "5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n"
write("fuzz_s3_request", "put-aws-chunked",
      "PUT /bucket/k HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Encoding: aws-chunked\r\n"
      "x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER\r\nx-amz-decoded-content-length: 5\r\n"
      f"x-amz-trailer: x-amz-checksum-crc32\r\nAuthorization: {AUTH}\r\nx-amz-date: 20260101T000000Z\r\n"
      f"Content-Length: {len(chunked)}\r\n\r\n{chunked}\x01")
signed = "5;chunk-signature=" + "0" * 64 + "\r\nhello\r\n0;chunk-signature=" + "0" * 64 + "\r\n\r\n"
write("fuzz_s3_request", "put-aws-chunked-signed",
      "PUT /bucket/k HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Encoding: aws-chunked\r\n"
      "x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD\r\nx-amz-decoded-content-length: 5\r\n"
      f"Authorization: {AUTH}\r\nx-amz-date: 20260101T000000Z\r\nContent-Length: {len(signed)}\r\n\r\n{signed}")

policy = ('{"expiration": "2026-01-01T01:00:00.000Z", "conditions": [{"bucket": "bucket"}, '
          '["starts-with", "$key", "up/"], ["content-length-range", 1, 100], ["eq", "$Content-Type", "text/plain"]]}')
form = ("--XyZ\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nup/${filename}\r\n"
        "--XyZ\r\nContent-Disposition: form-data; name=\"Content-Type\"\r\n\r\ntext/plain\r\n"
        f"--XyZ\r\nContent-Disposition: form-data; name=\"policy\"\r\n\r\n{policy}\r\n"
        "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n"
        "Content-Type: text/plain\r\n\r\nhello\r\n--XyZ--\r\n")
write("fuzz_s3_request", "post-form",
      "POST /bucket HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=XyZ\r\n"
      f"Content-Length: {len(form)}\r\n\r\n{form}")
cors = ("<CORSConfiguration><CORSRule><AllowedOrigin>https://*.example.com</AllowedOrigin>"
        "<AllowedMethod>GET</AllowedMethod><AllowedHeader>x-amz-*</AllowedHeader><MaxAgeSeconds>60</MaxAgeSeconds>"
        "</CORSRule></CORSConfiguration>")
write("fuzz_s3_request", "put-cors",
      f"PUT /bucket?cors HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(cors)}\r\n\r\n{cors}")

pol = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["7"]},"Action":"s3:Get*",'
       '"Resource":"arn:aws:s3:::bucket/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},'
       '"ForAnyValue:StringLikeIfExists":{"s3:prefix":["a*"]}}}]}')
write("fuzz_s3_request", "put-policy",
      f"PUT /bucket?policy HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(pol)}\r\n\r\n{pol}")
acl = ('<AccessControlPolicy><Owner><ID>1</ID></Owner><AccessControlList><Grant><Grantee '
       'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>'
       'http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>READ</Permission></Grant>'
       '</AccessControlList></AccessControlPolicy>')
write("fuzz_s3_request", "put-acl",
      f"PUT /bucket/k?acl HTTP/1.1\r\nHost: 127.0.0.1\r\nx-amz-grant-read: id=\"7\", uri=\"x\"\r\n"
      f"Content-Length: {len(acl)}\r\n\r\n{acl}")


# NFSv3: byte 0 is the procedure + 22 × (0: as root, 1: as uid 1000); "\xffH" is the export root's handle.
lock = ("<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention>"
        "<Mode>GOVERNANCE</Mode><Days>30</Days></DefaultRetention></Rule></ObjectLockConfiguration>")
write("fuzz_s3_request", "put-object-lock",
      f"PUT /bucket?object-lock HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(lock)}\r\n\r\n{lock}")
retention = "<Retention><Mode>COMPLIANCE</Mode><RetainUntilDate>2030-01-01T00:00:00Z</RetainUntilDate></Retention>"
write("fuzz_s3_request", "put-retention",
      f"PUT /bucket/key?retention&versionId=0000000000000000abcdef01 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      f"Content-Length: {len(retention)}\r\n\r\n{retention}")


def u32(v):
    return struct.pack(">I", v)


def u64(v):
    return struct.pack(">Q", v)


def xstr(s):
    b = s.encode() if isinstance(s, str) else s
    return u32(len(b)) + b + b"\0" * (-len(b) % 4)


FH = b"\xffH"
sattr = u32(1) + u32(0o644) + u32(0) + u32(0) + u32(0) + u32(0) + u32(0)  # mode set, rest unset
for num, name, args in [
    (1, "getattr", FH), (2, "setattr", FH + sattr + u32(0)), (3, "lookup", FH + xstr("x")),
    (4, "access", FH + u32(0x3f)), (6, "read", FH + u64(0) + u32(4096)),
    (7, "write", FH + u64(0) + u32(5) + u32(2) + xstr("hello")),
    (8, "create", FH + xstr("new.txt") + u32(0) + sattr), (9, "mkdir", FH + xstr("dir") + sattr),
    (10, "symlink", FH + xstr("ln") + sattr + xstr("target")), (12, "remove", FH + xstr("new.txt")),
    (13, "rmdir", FH + xstr("dir")), (14, "rename", FH + xstr("a") + FH + xstr("b")),
    (15, "link", FH + FH + xstr("hard")), (16, "readdir", FH + u64(0) + u64(0) + u32(4096)),
    (17, "readdirplus", FH + u64(0) + u64(0) + u32(4096) + u32(65536)), (18, "fsstat", FH),
    (19, "fsinfo", FH), (20, "pathconf", FH), (21, "commit", FH + u64(0) + u32(0))]:
    write("fuzz_nfs_rpc", name, bytes([num]) + args)
    write("fuzz_nfs_rpc", name + "-user", bytes([num + 22]) + args)


def record(msg):
    return u32(0x80000000 | len(msg)) + msg


mnt_call = (u32(9) + u32(0) + u32(2) + u32(100005) + u32(3) + u32(1) +
            u32(1) + xstr(u32(0) + xstr("h") + u32(0) + u32(0) + u32(0)) + u32(0) + u32(0) + xstr("/fuzz/data"))
write("fuzz_nfs_rpc", "records-mnt", b"\xf0" + record(mnt_call) + record(mnt_call[:20]))


# Native operations: (opcode index into the fuzzer's kOps, u16 length, payload);
# "\xffN" is the mounted namespace's id; the caller is uid/gid 0, no groups.
OPS = [1, 2, 3, 4, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
       33, 34, 35, 36, 37, 38, 60, 61, 62, 63, 64, 65, 66, 67, 68]


def be_str(s):
    b = s.encode() if isinstance(s, str) else s
    return u32(len(b)) + b


def native_call(op, payload):
    return bytes([OPS.index(op)]) + struct.pack(">H", len(payload)) + payload


NS = b"\xffN"
CALLER = u32(0) + u32(0) + u32(0) + u64(77) + u64(1)
ROOT = u64(1)
meta = be_str("text/plain") + u32(0) + u32(0)
write("fuzz_native_service", "files",
      native_call(23, NS + CALLER + ROOT + be_str("f.txt") + u32(0o644) + b"\0") +
      native_call(20, NS + CALLER + ROOT + be_str("f.txt")) +
      native_call(35, NS + CALLER + u64(2) + u64(0) + b"\1" + b"hello") +
      native_call(34, NS + CALLER + u64(2) + u64(0) + u32(4096)) +
      native_call(24, NS + CALLER + ROOT + be_str("d") + u32(0o755)) +
      native_call(28, NS + CALLER + ROOT + be_str("f.txt") + ROOT + be_str("g.txt") + u32(1)) +
      native_call(32, NS + CALLER + ROOT + u64(0) + u32(100)))
write("fuzz_native_service", "objects",
      native_call(60, NS + be_str("a/b.txt") + meta + b"\0\0" + b"body") +
      native_call(61, NS + be_str("a/b.txt") + u64(0) + u64(0xFFFFFFFFFFFFFFFF)) +
      native_call(62, NS + be_str("a/b.txt")) +
      native_call(64, NS + be_str("a/") + be_str("/") + be_str("") + u32(100)) +
      native_call(65, NS + be_str("big") + meta) +
      native_call(63, NS + be_str("a/b.txt")))


# Admin API requests (no token in the fuzzer).
def admin(method, target, body=""):
    return (f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:9090\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n{body}")


write("fuzz_admin_api", "tenants", admin("GET", "/api/v1/tenants"))
write("fuzz_admin_api", "create-tenant", admin("POST", "/api/v1/tenants", '{"name":"acme","shared_dedup":false}'))
write("fuzz_admin_api", "create-namespace", admin("POST", "/api/v1/tenants/fuzz/namespaces",
                                                  '{"name":"pics","public_read":true,"quota_bytes":1000}'))
write("fuzz_admin_api", "keys", admin("POST", "/api/v1/tenants/fuzz/keys", "{}"))
write("fuzz_admin_api", "exports", admin("PUT", "/api/v1/nfs/exports/fuzz/data", '{"options":"ro,clients=10.0.0.0/8"}'))
write("fuzz_admin_api", "usage", admin("GET", "/api/v1/usage?max_age=5"))
write("fuzz_admin_api", "ready", admin("GET", "/ready"))
