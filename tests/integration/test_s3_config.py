"""A bucket's configuration documents (ADR 0011) through boto3 and raw HTTP against
a real kiseki-server: bucket tagging, CORS with its preflight and reply headers,
policies, ACLs and access settings (with a second tenant and anonymous clients),
lifecycle rules with a driven clock. One server for the module."""
import datetime
import http.client
import json
import urllib.parse

import boto3
import botocore
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from kiseki_server import Server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(str(tmp_path_factory.mktemp("s3config") / "data"), extra=["--test-faults"])  # lifecycle's clock
    yield s
    s.stop()


def client(server, key=None, secret=None):
    ak, sk = server.root_credentials()
    return boto3.client("s3", endpoint_url=server.s3_endpoint, region_name="us-east-1",
                        aws_access_key_id=key or ak, aws_secret_access_key=secret or sk,
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 0}))


@pytest.fixture(scope="module")
def s3(server):
    return client(server)


@pytest.fixture(scope="module")
def other(server):
    """A second tenant's client."""
    server.cli("tenant", "create", "second")
    key = json.loads(server.cli("key", "create", "second").stdout)
    return client(server, key=key["access_key_id"], secret=key["secret_key"])


def code(e):
    return e.value.response["Error"]["Code"]


@pytest.fixture
def bucket(s3, request):
    name = "c-" + request.node.name.lower().replace("_", "-")[:50]
    s3.create_bucket(Bucket=name)
    yield name


def raw(server, method, path, headers):
    """One unsigned HTTP request; (status, lower-cased headers, body)."""
    u = urllib.parse.urlparse(server.s3_endpoint)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    conn.request(method, path, headers=headers)
    r = conn.getresponse()
    out = (r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    conn.close()
    return out


def test_bucket_tagging(s3, other, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_bucket_tagging(Bucket=bucket)
    assert code(e) == "NoSuchTagSet"
    tags = [{"Key": "team", "Value": "storage"}, {"Key": "cost center", "Value": "a+b=c/d@e"}]
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags})
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == tags
    # Up to 50 tags on a bucket (an object takes 10); the set is replaced whole.
    many = [{"Key": f"k{i}", "Value": str(i)} for i in range(50)]
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": many})
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == many
    for bad in (many + [{"Key": "k50", "Value": "x"}],
                [{"Key": "dup", "Value": "1"}, {"Key": "dup", "Value": "2"}],
                [{"Key": "semi;colon", "Value": "1"}]):
        with pytest.raises(ClientError) as e:
            s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": bad})
        assert code(e) == "InvalidTag"
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == many, "a refused set changed the tags"
    # Another tenant neither reads nor changes them.
    for call in (lambda: other.get_bucket_tagging(Bucket=bucket),
                 lambda: other.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags}),
                 lambda: other.delete_bucket_tagging(Bucket=bucket)):
        with pytest.raises(ClientError) as e:
            call()
        assert code(e) in ("NoSuchBucket", "AccessDenied")
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == many
    s3.delete_bucket_tagging(Bucket=bucket)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_tagging(Bucket=bucket)
    assert code(e) == "NoSuchTagSet"
    with pytest.raises(ClientError) as e:
        s3.get_bucket_tagging(Bucket="c-no-such-bucket")
    assert code(e) == "NoSuchBucket"


def test_configuration_goes_with_the_bucket(s3):
    s3.create_bucket(Bucket="c-reborn")
    s3.put_bucket_tagging(Bucket="c-reborn", Tagging={"TagSet": [{"Key": "old", "Value": "1"}]})
    # A subresource DELETE that is not built is refused, and never deletes the bucket.
    with pytest.raises(ClientError) as e:
        s3.delete_bucket_website(Bucket="c-reborn")
    assert code(e) == "NotImplemented"
    s3.head_bucket(Bucket="c-reborn")
    s3.delete_bucket(Bucket="c-reborn")
    s3.create_bucket(Bucket="c-reborn")
    with pytest.raises(ClientError) as e:
        s3.get_bucket_tagging(Bucket="c-reborn")
    assert code(e) == "NoSuchTagSet"


RULES = [
    {"ID": "app", "AllowedOrigins": ["https://app.example.com", "https://*.example.org"],
     "AllowedMethods": ["GET", "PUT"], "AllowedHeaders": ["Content-Type", "x-amz-*"],
     "ExposeHeaders": ["ETag", "x-amz-request-id"], "MaxAgeSeconds": 600},
    {"AllowedOrigins": ["*"], "AllowedMethods": ["HEAD"]},
]


def test_cors_configuration(s3, other, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_bucket_cors(Bucket=bucket)
    assert code(e) == "NoSuchCORSConfiguration"
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    got = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert got[0]["ID"] == "app" and got[0]["AllowedOrigins"] == RULES[0]["AllowedOrigins"]
    assert got[0]["AllowedMethods"] == ["GET", "PUT"] and got[0]["MaxAgeSeconds"] == 600
    assert got[0]["AllowedHeaders"] == ["content-type", "x-amz-*"]  # header names match in any case
    assert got[0]["ExposeHeaders"] == ["ETag", "x-amz-request-id"]
    assert got[1]["AllowedOrigins"] == ["*"] and got[1]["AllowedMethods"] == ["HEAD"]
    bad = [
        ({"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}, "InvalidRequest"),
        ({"AllowedOrigins": ["https://*.*.example.com"], "AllowedMethods": ["GET"]}, "InvalidRequest"),
        ({"AllowedOrigins": ["*"], "AllowedMethods": ["GET"], "AllowedHeaders": ["x-*-*"]}, "InvalidRequest"),
    ]
    for rule, want in bad:
        with pytest.raises(ClientError) as e:
            s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [rule]})
        assert code(e) == want, rule
    with pytest.raises(ClientError) as e:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [RULES[1]] * 101})
    assert code(e) == "InvalidRequest"
    with pytest.raises(ClientError) as e:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": []})
    assert code(e) == "MalformedXML"
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"][0]["ID"] == "app", "a refused document changed the rules"
    with pytest.raises(ClientError) as e:
        other.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [RULES[1]]})
    assert code(e) in ("NoSuchBucket", "AccessDenied")


def test_cors_preflight_and_replies(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="page.html", Body=b"<p>hi</p>")

    def preflight(origin, method, req_headers=None, key="page.html"):
        h = {}
        if origin:
            h["Origin"] = origin
        if method:
            h["Access-Control-Request-Method"] = method
        if req_headers:
            h["Access-Control-Request-Headers"] = req_headers
        return raw(server, "OPTIONS", f"/{bucket}/{key}", h)

    st, h, body = preflight("https://app.example.com", "PUT")
    assert st == 403 and b"AccessForbidden" in body, "no CORS configuration: every preflight is refused"
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})

    st, h, _ = preflight("https://app.example.com", "PUT", "Content-Type, X-Amz-Meta-Owner")
    assert st == 200
    assert h["access-control-allow-origin"] == "https://app.example.com"
    assert h["access-control-allow-methods"] == "GET, PUT"
    assert h["access-control-allow-headers"].lower() == "content-type, x-amz-meta-owner"
    assert h["access-control-max-age"] == "600"
    assert h["access-control-allow-credentials"] == "true"
    assert "Origin" in h["vary"]
    st, h, _ = preflight("https://shop.example.org", "GET")  # a wildcard origin
    assert st == 200 and h["access-control-allow-origin"] == "https://shop.example.org"
    st, h, _ = preflight("https://anyone.test", "HEAD")  # the '*' rule
    assert st == 200 and h["access-control-allow-origin"] == "*" and "access-control-allow-credentials" not in h
    for origin, method, hdrs in (("https://evil.test", "PUT", None),           # origin allowed by no PUT rule
                                 ("https://app.example.com", "DELETE", None),  # method not allowed
                                 ("https://app.example.com", "PUT", "Authorization")):  # header not allowed
        st, h, body = preflight(origin, method, hdrs)
        assert st == 403 and b"AccessForbidden" in body and "access-control-allow-origin" not in h, (origin, method)
    st, _, body = preflight(None, "GET")
    assert st == 400 and b"BadRequest" in body
    st, _, body = preflight("https://app.example.com", None)
    assert st == 400
    st, _, body = raw(server, "OPTIONS", "/c-no-such-bucket/x",
                      {"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"})
    assert st == 403 and b"Bucket not found" in body

    # A signed request with an Origin gets the matching rule's headers, errors too.
    def origin_headers(op, origin, **kw):
        def add(request, **kwargs):
            request.headers["Origin"] = origin
        event = f"before-sign.s3.{op}"
        s3.meta.events.register(event, add)
        try:
            return getattr(s3, op_names[op])(Bucket=bucket, **kw)["ResponseMetadata"]["HTTPHeaders"]
        except ClientError as e:
            return e.response["ResponseMetadata"]["HTTPHeaders"]
        finally:
            s3.meta.events.unregister(event, add)

    op_names = {"GetObject": "get_object", "HeadObject": "head_object", "DeleteObject": "delete_object"}
    h = origin_headers("GetObject", "https://app.example.com", Key="page.html")
    assert h["access-control-allow-origin"] == "https://app.example.com"
    assert h["access-control-expose-headers"] == "ETag, x-amz-request-id"
    h = origin_headers("GetObject", "https://app.example.com", Key="missing")  # a 404
    assert h["content-type"] == "application/xml" and h["access-control-allow-origin"] == "https://app.example.com"
    h = origin_headers("HeadObject", "https://evil.test", Key="page.html")
    assert h["access-control-allow-origin"] == "*"  # HEAD is anyone's
    h = origin_headers("DeleteObject", "https://evil.test", Key="page.html")
    assert "access-control-allow-origin" not in h  # no rule lets that origin DELETE
    assert "access-control-allow-origin" not in s3.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPHeaders"]

    s3.delete_bucket_cors(Bucket=bucket)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_cors(Bucket=bucket)
    assert code(e) == "NoSuchCORSConfiguration"
    st, _, _ = preflight("https://app.example.com", "GET")
    assert st == 403


def tenant_id(server, name):
    return next(str(t["id"]) for t in json.loads(server.cli("tenant", "list").stdout) if t["name"] == name)


def anonymous(server):
    return boto3.client("s3", endpoint_url=server.s3_endpoint, region_name="us-east-1",
                        config=Config(signature_version=botocore.UNSIGNED, s3={"addressing_style": "path"},
                                      retries={"max_attempts": 0}))


def policy(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def denied(call):
    with pytest.raises(ClientError) as e:
        call()
    return code(e) == "AccessDenied"


def test_bucket_policy_documents(s3, other, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_bucket_policy(Bucket=bucket)
    assert code(e) == "NoSuchBucketPolicy"
    with pytest.raises(ClientError) as e:
        s3.get_bucket_policy_status(Bucket=bucket)
    assert code(e) == "NoSuchBucketPolicy"
    doc = policy({"Sid": "read", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                  "Resource": f"arn:aws:s3:::{bucket}/*"})
    s3.put_bucket_policy(Bucket=bucket, Policy=doc)
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == json.loads(doc)
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True
    for bad in ("{not json",
                policy({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::elsewhere/*"}),
                policy({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}),
                policy({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{bucket}/*", "Condition": {"StringMaybe": {"s3:prefix": "a"}}})):
        with pytest.raises(ClientError) as e:
            s3.put_bucket_policy(Bucket=bucket, Policy=bad)
        assert code(e) == "MalformedPolicy", bad
    # Only the owner reads or changes the policy, whatever it grants.
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": [f"arn:aws:s3:::{bucket}",
                                                                              f"arn:aws:s3:::{bucket}/*"]}))
    assert denied(lambda: other.get_bucket_policy(Bucket=bucket))
    assert denied(lambda: other.delete_bucket_policy(Bucket=bucket))
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*",
         "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}))
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is False
    s3.delete_bucket_policy(Bucket=bucket)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_policy(Bucket=bucket)
    assert code(e) == "NoSuchBucketPolicy"


def test_policy_grants_anonymous_and_other_tenants(server, s3, other, bucket):
    anon = anonymous(server)
    for k in ("public/a.txt", "private/b.txt", "shared/c.txt", "shared/keep/d.txt"):
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    assert denied(lambda: anon.get_object(Bucket=bucket, Key="public/a.txt")), "no policy: nothing for anonymous"
    assert denied(lambda: other.get_object(Bucket=bucket, Key="shared/c.txt")), "nor for another tenant"
    second = tenant_id(server, "second")
    arn = f"arn:aws:s3:::{bucket}"
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(
        {"Sid": "public", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"{arn}/public/*",
         "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}},
        {"Sid": "list", "Effect": "Allow", "Principal": "*", "Action": "s3:ListBucket", "Resource": arn,
         "Condition": {"StringLike": {"s3:prefix": "public/*"}}},
        {"Sid": "partner", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{second}:root"},
         "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], "Resource": f"{arn}/shared/*"},
        {"Sid": "keep", "Effect": "Deny", "Principal": "*", "Action": ["s3:DeleteObject", "s3:PutObject"],
         "Resource": f"{arn}/shared/keep/*"}))
    # Anonymous: what the policy grants, from the address it allows, and nothing else.
    assert anon.get_object(Bucket=bucket, Key="public/a.txt")["Body"].read() == b"public/a.txt"
    assert denied(lambda: anon.get_object(Bucket=bucket, Key="private/b.txt"))
    assert denied(lambda: anon.put_object(Bucket=bucket, Key="public/new", Body=b"x"))
    assert [o["Key"] for o in anon.list_objects_v2(Bucket=bucket, Prefix="public/")["Contents"]] == ["public/a.txt"]
    assert denied(lambda: anon.list_objects_v2(Bucket=bucket))
    assert denied(lambda: anon.list_objects_v2(Bucket=bucket, Prefix="private/"))
    # The other tenant: its grant in the owner's bucket, the explicit deny over it.
    assert other.get_object(Bucket=bucket, Key="shared/c.txt")["Body"].read() == b"shared/c.txt"
    other.put_object(Bucket=bucket, Key="shared/from-partner.txt", Body=b"partner data")
    assert s3.get_object(Bucket=bucket, Key="shared/from-partner.txt")["Body"].read() == b"partner data"
    assert denied(lambda: other.get_object(Bucket=bucket, Key="private/b.txt"))
    assert denied(lambda: other.put_object(Bucket=bucket, Key="shared/keep/x", Body=b"x"))
    assert denied(lambda: other.list_objects_v2(Bucket=bucket))
    r = other.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "shared/from-partner.txt"},
                                                                {"Key": "shared/keep/d.txt"}, {"Key": "private/b.txt"}]})
    assert [d["Key"] for d in r.get("Deleted", [])] == ["shared/from-partner.txt"]
    assert sorted((e["Key"], e["Code"]) for e in r["Errors"]) == [("private/b.txt", "AccessDenied"),
                                                                  ("shared/keep/d.txt", "AccessDenied")]
    # The explicit deny binds the owner too; its own policy operations stay open to it.
    assert denied(lambda: s3.delete_object(Bucket=bucket, Key="shared/keep/d.txt"))
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(
        {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": [arn, f"{arn}/*"]}))
    assert denied(lambda: s3.get_object(Bucket=bucket, Key="public/a.txt"))
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"][0]["Effect"] == "Deny"
    s3.delete_bucket_policy(Bucket=bucket)
    s3.delete_object(Bucket=bucket, Key="shared/keep/d.txt")
    assert denied(lambda: anon.get_object(Bucket=bucket, Key="public/a.txt")), "the grants went with the policy"
    assert denied(lambda: other.get_object(Bucket=bucket, Key="shared/c.txt"))


def test_policy_conditions_on_the_caller_address(server, s3, bucket):
    anon = anonymous(server)
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*",
         "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}))
    assert denied(lambda: anon.get_object(Bucket=bucket, Key="k")), "127.0.0.1 is not in 10.0.0.0/8"
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*",
         "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}, "Bool": {"aws:SecureTransport": "false"}}}))
    assert anon.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"


ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


def grants(acl):
    """{(grantee, permission)} of a Get*Acl answer."""
    out = set()
    for g in acl["Grants"]:
        who = g["Grantee"].get("ID") or g["Grantee"].get("URI")
        out.add((who, g["Permission"]))
    return out


def test_bucket_and_object_acls(server, s3, other):
    anon = anonymous(server)
    owner, second = tenant_id(server, "default"), tenant_id(server, "second")
    s3.create_bucket(Bucket="c-acl")
    acl = s3.get_bucket_acl(Bucket="c-acl")
    assert acl["Owner"]["ID"] == owner and grants(acl) == {(owner, "FULL_CONTROL")}
    s3.put_object(Bucket="c-acl", Key="plain", Body=b"plain")
    s3.put_object(Bucket="c-acl", Key="open", Body=b"open", ACL="public-read")
    assert grants(s3.get_object_acl(Bucket="c-acl", Key="open")) == {(owner, "FULL_CONTROL"), (ALL_USERS, "READ")}
    assert "x-kiseki-acl" not in s3.head_object(Bucket="c-acl", Key="open")["ResponseMetadata"]["HTTPHeaders"]
    # An object's grant opens that object only.
    assert anon.get_object(Bucket="c-acl", Key="open")["Body"].read() == b"open"
    assert denied(lambda: anon.get_object(Bucket="c-acl", Key="plain"))
    assert denied(lambda: anon.list_objects_v2(Bucket="c-acl"))
    # A copy takes the request's ACL, not the source's.
    s3.copy_object(Bucket="c-acl", Key="copy", CopySource={"Bucket": "c-acl", "Key": "open"})
    assert denied(lambda: anon.get_object(Bucket="c-acl", Key="copy"))
    s3.put_object_acl(Bucket="c-acl", Key="open", ACL="private")
    assert denied(lambda: anon.get_object(Bucket="c-acl", Key="open"))
    # Grants to another tenant, by header and by document, round-trip.
    s3.put_bucket_acl(Bucket="c-acl", GrantRead=f'id="{second}"', GrantWrite=f'id="{second}"')
    assert grants(s3.get_bucket_acl(Bucket="c-acl")) == {(owner, "FULL_CONTROL"), (second, "READ"), (second, "WRITE")}
    assert [o["Key"] for o in other.list_objects_v2(Bucket="c-acl")["Contents"]] == ["copy", "open", "plain"]
    other.put_object(Bucket="c-acl", Key="by-second", Body=b"x")
    assert other.get_object(Bucket="c-acl", Key="plain")["Body"].read() == b"plain"  # a bucket's READ covers its objects
    assert denied(lambda: other.get_bucket_acl(Bucket="c-acl"))  # no READ_ACP
    policy_doc = {"Owner": {"ID": owner}, "Grants": [
        {"Grantee": {"Type": "CanonicalUser", "ID": owner}, "Permission": "FULL_CONTROL"},
        {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"},
        {"Grantee": {"Type": "CanonicalUser", "ID": second}, "Permission": "READ_ACP"}]}
    s3.put_bucket_acl(Bucket="c-acl", AccessControlPolicy=policy_doc)
    assert grants(s3.get_bucket_acl(Bucket="c-acl")) == {(owner, "FULL_CONTROL"), (ALL_USERS, "READ"), (second, "READ_ACP")}
    assert grants(other.get_bucket_acl(Bucket="c-acl")) == grants(s3.get_bucket_acl(Bucket="c-acl"))
    assert denied(lambda: other.put_object(Bucket="c-acl", Key="by-second", Body=b"y"))  # WRITE went
    assert [o["Key"] for o in anon.list_objects_v2(Bucket="c-acl")["Contents"]][0] == "by-second"
    for kw, want in ((dict(GrantRead='emailAddress="someone@example.com"'), "UnresolvableGrantByEmailAddress"),
                     (dict(GrantRead='id="99999"'), "InvalidArgument"),
                     (dict(GrantRead='uri="http://example.com/group"'), "InvalidArgument"),
                     (dict(ACL="public-read", GrantRead=f'id="{second}"'), "InvalidRequest")):
        with pytest.raises(ClientError) as e:
            s3.put_bucket_acl(Bucket="c-acl", **kw)
        assert code(e) == want, kw
    s3.put_bucket_acl(Bucket="c-acl", ACL="private")
    assert grants(s3.get_bucket_acl(Bucket="c-acl")) == {(owner, "FULL_CONTROL")}
    assert denied(lambda: anon.list_objects_v2(Bucket="c-acl"))
    # A bucket made with a canned ACL.
    s3.create_bucket(Bucket="c-acl-auth", ACL="authenticated-read")
    s3.put_object(Bucket="c-acl-auth", Key="k", Body=b"v")
    assert other.get_object(Bucket="c-acl-auth", Key="k")["Body"].read() == b"v"
    assert denied(lambda: anon.get_object(Bucket="c-acl-auth", Key="k"))


def test_ownership_controls_and_public_access_block(server, s3):
    anon = anonymous(server)
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket="c-enforced", ACL="public-read", ObjectOwnership="BucketOwnerEnforced")
    assert code(e) == "InvalidBucketAclWithObjectOwnership"
    s3.create_bucket(Bucket="c-enforced", ObjectOwnership="BucketOwnerEnforced")
    rules = s3.get_bucket_ownership_controls(Bucket="c-enforced")["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="c-enforced", Key="k", Body=b"v", ACL="public-read")
    assert code(e) == "AccessControlListNotSupported"
    s3.put_object(Bucket="c-enforced", Key="k", Body=b"v", ACL="bucket-owner-full-control")
    s3.delete_bucket_ownership_controls(Bucket="c-enforced")
    with pytest.raises(ClientError) as e:
        s3.get_bucket_ownership_controls(Bucket="c-enforced")
    assert code(e) == "OwnershipControlsNotFoundError"
    s3.put_object(Bucket="c-enforced", Key="open", Body=b"v", ACL="public-read")
    assert anon.get_object(Bucket="c-enforced", Key="open")["Body"].read() == b"v"
    # ACLs off again: the object's public grant counts for nothing.
    s3.put_bucket_ownership_controls(Bucket="c-enforced", OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    assert denied(lambda: anon.get_object(Bucket="c-enforced", Key="open"))
    s3.delete_bucket_ownership_controls(Bucket="c-enforced")

    # Public access block, switch by switch.
    with pytest.raises(ClientError) as e:
        s3.get_public_access_block(Bucket="c-enforced")
    assert code(e) == "NoSuchPublicAccessBlockConfiguration"
    pab = {"BlockPublicAcls": True, "IgnorePublicAcls": False, "BlockPublicPolicy": False, "RestrictPublicBuckets": False}
    s3.put_public_access_block(Bucket="c-enforced", PublicAccessBlockConfiguration=pab)
    assert s3.get_public_access_block(Bucket="c-enforced")["PublicAccessBlockConfiguration"] == pab
    assert denied(lambda: s3.put_object(Bucket="c-enforced", Key="k2", Body=b"v", ACL="public-read"))
    assert denied(lambda: s3.put_bucket_acl(Bucket="c-enforced", ACL="public-read"))
    assert anon.get_object(Bucket="c-enforced", Key="open")["Body"].read() == b"v", "BlockPublicAcls keeps old grants"
    s3.put_public_access_block(Bucket="c-enforced", PublicAccessBlockConfiguration={**pab, "IgnorePublicAcls": True})
    assert denied(lambda: anon.get_object(Bucket="c-enforced", Key="open"))
    public = policy({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                     "Resource": "arn:aws:s3:::c-enforced/*"})
    s3.put_public_access_block(Bucket="c-enforced", PublicAccessBlockConfiguration={**pab, "BlockPublicPolicy": True})
    assert denied(lambda: s3.put_bucket_policy(Bucket="c-enforced", Policy=public))
    s3.put_public_access_block(Bucket="c-enforced", PublicAccessBlockConfiguration={**pab, "RestrictPublicBuckets": True})
    s3.put_bucket_policy(Bucket="c-enforced", Policy=public)
    assert denied(lambda: anon.get_object(Bucket="c-enforced", Key="k"))
    s3.delete_public_access_block(Bucket="c-enforced")
    assert anon.get_object(Bucket="c-enforced", Key="k")["Body"].read() == b"v"
    with pytest.raises(ClientError) as e:
        s3.get_public_access_block(Bucket="c-enforced")
    assert code(e) == "NoSuchPublicAccessBlockConfiguration"


def run_lifecycle(server, at):
    st, body = server.api("POST", "/api/v1/lifecycle/run", json.dumps({"now_unix": int(at)}).encode())
    assert st == 200, body
    return json.loads(body)


def test_lifecycle_rules_with_a_driven_clock(server, s3):
    import time
    s3.create_bucket(Bucket="c-lifecycle")
    b = "c-lifecycle"
    rules = [
        {"ID": "logs", "Filter": {"Prefix": "logs/"}, "Status": "Enabled", "Expiration": {"Days": 1}},
        {"ID": "tmp-tagged", "Filter": {"And": {"Prefix": "tmp/", "Tags": [{"Key": "temp", "Value": "yes"}]}},
         "Status": "Enabled", "Expiration": {"Days": 2}},
        {"ID": "big", "Filter": {"ObjectSizeGreaterThan": 1000}, "Status": "Enabled",
         "Expiration": {"Date": datetime.datetime(2040, 1, 1, tzinfo=datetime.timezone.utc)}},
        {"ID": "uploads", "Filter": {"Prefix": ""}, "Status": "Enabled",
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}},
        {"ID": "off", "Filter": {"Prefix": "keep/"}, "Status": "Disabled", "Expiration": {"Days": 1}},
    ]
    with pytest.raises(ClientError) as e:
        s3.get_bucket_lifecycle_configuration(Bucket=b)
    assert code(e) == "NoSuchLifecycleConfiguration"
    s3.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": rules})
    got = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=b)["Rules"]}
    assert got["logs"]["Expiration"] == {"Days": 1} and got["logs"]["Filter"] == {"Prefix": "logs/"}
    assert got["tmp-tagged"]["Filter"]["And"]["Tags"] == [{"Key": "temp", "Value": "yes"}]
    assert got["big"]["Expiration"]["Date"].year == 2040 and got["off"]["Status"] == "Disabled"
    assert got["uploads"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    for key, body, tagging in (("logs/a", b"a", ""), ("tmp/x", b"x", "temp=yes"), ("tmp/y", b"y", "temp=no"),
                               ("big", b"B" * 2000, ""), ("small", b"s", ""), ("keep/k", b"k", "")):
        s3.put_object(Bucket=b, Key=key, Body=body, Tagging=tagging)
    up = s3.create_multipart_upload(Bucket=b, Key="unfinished")["UploadId"]

    def keys():
        return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=b).get("Contents", []))

    now = time.time()
    r = run_lifecycle(server, now)
    assert r["expired"] == 0 and r["aborted"] == 0 and keys() == ["big", "keep/k", "logs/a", "small", "tmp/x", "tmp/y"]
    r = run_lifecycle(server, now + 3 * 86400)  # past every Days rule (rounded up to midnight UTC)
    assert (r["expired"], r["aborted"], r["errors"]) == (2, 1, 0), r
    assert keys() == ["big", "keep/k", "small", "tmp/y"]
    assert s3.list_multipart_uploads(Bucket=b).get("Uploads", []) == []
    with pytest.raises(ClientError):
        s3.list_parts(Bucket=b, Key="unfinished", UploadId=up)
    r = run_lifecycle(server, datetime.datetime(2040, 1, 1, 0, 0, 1, tzinfo=datetime.timezone.utc).timestamp())
    assert r["expired"] == 1 and keys() == ["keep/k", "small", "tmp/y"]
    # A rule's day counts from the object's own time: one written "now" is not due a day early.
    s3.put_object(Bucket=b, Key="logs/new", Body=b"n")
    assert run_lifecycle(server, time.time() + 0.5 * 86400)["expired"] == 0
    assert "logs/new" in keys()

    for bad, want in (
            ({"ID": "z", "Filter": {"Prefix": ""}, "Status": "Enabled", "Expiration": {"Days": 0}}, "InvalidArgument"),
            ({"ID": "z", "Filter": {"Prefix": ""}, "Status": "Enabled",
              "Expiration": {"Date": datetime.datetime(2040, 1, 1, 12, tzinfo=datetime.timezone.utc)}}, "InvalidArgument"),
            ({"ID": "z", "Filter": {"Prefix": ""}, "Status": "Enabled",
              "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}]}, "NotImplemented"),
            ({"ID": "z", "Filter": {"Prefix": ""}, "Status": "Enabled"}, "InvalidRequest")):
        with pytest.raises(ClientError) as e:
            s3.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [bad]})
        assert code(e) == want, bad
    with pytest.raises(ClientError) as e:
        s3.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [rules[0], rules[0]]})
    assert code(e) == "InvalidArgument"
    s3.delete_bucket_lifecycle(Bucket=b)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_lifecycle_configuration(Bucket=b)
    assert code(e) == "NoSuchLifecycleConfiguration"
    assert run_lifecycle(server, time.time() + 30 * 86400)["expired"] == 0, "no rules, nothing expires"


def test_users_have_what_policies_give_them(server, s3, other):
    owner = tenant_id(server, "default")
    server.cli("user", "create", "default", "alice")
    server.cli("user", "create", "default", "bob")
    r = server.cli("user", "create", "default", "alice", check=False)
    assert r.returncode != 0 and "exists" in r.stderr
    keys = {}
    for name in ("alice", "bob"):
        k = json.loads(server.cli("key", "create", "default", "--user", name).stdout)
        assert k["user"] == name
        keys[name] = client(server, key=k["access_key_id"], secret=k["secret_key"])
    alice, bob = keys["alice"], keys["bob"]
    table = server.cli("user", "list", "default", json=False).stdout
    assert "alice" in table and "bob" in table
    s3.create_bucket(Bucket="c-users")
    s3.put_object(Bucket="c-users", Key="shared/a", Body=b"a")
    # A user owns nothing and makes no bucket; it has nothing until a policy gives it something.
    assert denied(lambda: alice.create_bucket(Bucket="c-alice"))
    assert denied(lambda: alice.get_object(Bucket="c-users", Key="shared/a"))
    assert denied(lambda: alice.get_bucket_policy(Bucket="c-users"))
    s3.put_bucket_policy(Bucket="c-users", Policy=policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{owner}:user/alice"},
         "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::c-users/shared/*"},
        {"Effect": "Allow", "Principal": "*", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::c-users",
         "Condition": {"StringEquals": {"aws:PrincipalType": "User", "aws:username": "bob"}}}))
    assert alice.get_object(Bucket="c-users", Key="shared/a")["Body"].read() == b"a"
    alice.put_object(Bucket="c-users", Key="shared/by-alice", Body=b"x")
    assert denied(lambda: alice.delete_object(Bucket="c-users", Key="shared/a"))
    assert denied(lambda: alice.list_objects_v2(Bucket="c-users"))
    assert denied(lambda: bob.get_object(Bucket="c-users", Key="shared/a"))
    assert [o["Key"] for o in bob.list_objects_v2(Bucket="c-users")["Contents"]] == ["shared/a", "shared/by-alice"]
    assert denied(lambda: other.list_objects_v2(Bucket="c-users")), "aws:username of no user is absent"
    # The account as principal covers its users.
    s3.put_bucket_policy(Bucket="c-users", Policy=policy(
        {"Effect": "Allow", "Principal": {"AWS": owner}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::c-users/*"}))
    assert bob.get_object(Bucket="c-users", Key="shared/by-alice")["Body"].read() == b"x"
    # A deleted user's keys stop at once.
    server.cli("user", "delete", "default", "bob")
    with pytest.raises(ClientError) as e:
        bob.get_object(Bucket="c-users", Key="shared/a")
    assert code(e) == "InvalidAccessKeyId"
    listed = json.loads(server.cli("key", "list", "default").stdout)
    assert sorted(k.get("user", "") for k in listed if k.get("user")) == ["alice"]
    s3.delete_bucket_policy(Bucket="c-users")
