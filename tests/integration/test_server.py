"""kiseki-server as a user meets it: a real process, the kiseki CLI, the admin
HTTP API, signals and restarts. One server per module (module-scoped fixture)."""
import json
import os
import re
import signal
import stat
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from kiseki_server import CLI, SERVER, Server, free_port


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    d = tmp_path_factory.mktemp("kiseki")
    s = Server(str(d / "data"), s3=False)
    yield s
    if s.proc.poll() is None:
        s.stop()


def test_first_start_prints_and_stores_root_credentials(server):
    out = server.output()
    assert "access key:" in out and "secret key:" in out
    path = os.path.join(server.data_dir, "credentials")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    text = open(path).read()
    key_id = [l.split("=")[1].strip() for l in text.splitlines() if l.startswith("aws_access_key_id")][0]
    assert key_id in out
    master = os.path.join(server.data_dir, "keys", "master")
    assert stat.S_IMODE(os.stat(master).st_mode) == 0o600


def test_health_ready_metrics(server):
    assert server.get("/health") == (200, "ok\n")
    assert server.get("/ready")[0] == 200
    status, body = server.get("/metrics")
    assert status == 200
    assert "# TYPE kiseki_log_records_total counter" in body
    assert "kiseki_chunk_segment_fsync_seconds_bucket" in body
    assert server.get("/nope")[0] == 404


def test_cli_tenants_namespaces_keys(server):
    t = json.loads(server.cli("tenant", "create", "acme").stdout)
    assert t["name"] == "acme" and t["shredded"] is False
    dup = server.cli("tenant", "create", "acme", check=False)
    assert dup.returncode == 1 and "409" in dup.stderr and "exists" in dup.stderr
    ns = json.loads(server.cli("namespace", "create", "acme", "photos").stdout)
    assert ns["name"] == "photos" and ns["tenant_id"] == t["id"]
    names = [n["name"] for n in json.loads(server.cli("namespace", "list", "acme").stdout)]
    assert names == ["photos"]
    k = json.loads(server.cli("key", "create", "acme").stdout)
    assert len(k["access_key_id"]) == 20 and len(k["secret_key"]) == 40
    assert server.cli("key", "delete", k["access_key_id"]).returncode == 0
    gone = server.cli("key", "delete", k["access_key_id"], check=False)
    assert gone.returncode == 1 and "404" in gone.stderr
    assert server.cli("namespace", "delete", "acme", "photos").returncode == 0
    tenants = [x["name"] for x in json.loads(server.cli("tenant", "list").stdout)]
    assert tenants == ["default", "acme"]


def test_bad_admin_input_gets_clear_errors(server):
    for args in (["tenant", "create", "a/b"], ["tenant", "create", "."], ["tenant", "create", "x" * 300],
                 ["namespace", "create", "nobody", "ns"], ["tenant", "shred", "acme"]):
        r = server.cli(*args, check=False)
        assert r.returncode != 0, args
        assert r.stderr.strip(), args
    assert server.api("POST", "/api/v1/tenants", b"{not json")[0] == 400
    big = urllib.request.Request(f"http://{server.admin}/api/v1/tenants", data=b"x" * (2 << 20), method="POST",
                                 headers={"Authorization": "Bearer " + server.token()})
    try:
        urllib.request.urlopen(big, timeout=10)
        assert False, "an oversized body must be refused"
    except (urllib.error.HTTPError, ConnectionError, urllib.error.URLError) as e:
        assert getattr(e, "code", 413) == 413
    assert server.get("/health")[0] == 200  # still serving


def test_admin_api_needs_the_token_and_refuses_foreign_hosts_and_origins(server, tmp_path):
    token = server.token()
    mode = stat.S_IMODE(os.stat(os.path.join(server.data_dir, "admin-token")).st_mode)
    assert mode == 0o600 and token.startswith("ksa_") and len(token) > 40
    assert token in server.output()  # printed once, at first start
    # anonymous, wrong token, and the right one
    st, body = server.api("GET", "/api/v1/tenants", token=False)
    assert st == 401 and "admin token" in body
    assert server.api("POST", "/api/v1/tenants", b'{"name":"evil"}', token=False)[0] == 401
    assert server.api("GET", "/api/v1/tenants", token="ksa_" + "0" * 48)[0] == 401
    assert server.api("GET", "/api/v1/tenants", token=token[:-1])[0] == 401
    assert server.api("GET", "/api/v1/tenants")[0] == 200
    # a page in a browser: cross-origin text/plain POST, even with a token
    st, _ = server.api("POST", "/api/v1/tenants", b'{"name":"evil"}',
                       headers={"Origin": "http://attacker.example", "Content-Type": "text/plain"})
    assert st == 403
    assert server.api("GET", "/api/v1/tenants", headers={"Origin": f"http://{server.admin}"})[0] == 200
    # DNS rebinding: a Host that is a name other than localhost, or another port
    for host in ("attacker.example:%d" % server.port, "127.0.0.1:1", "localhost"):
        assert server.api("GET", "/api/v1/tenants", headers={"Host": host})[0] == 403, host
    assert server.api("GET", "/api/v1/tenants", headers={"Host": f"localhost:{server.port}"})[0] == 200
    assert "evil" not in server.api("GET", "/api/v1/tenants")[1]
    # /metrics, /health, /ready stay open; the CLI finds the token in the data directory
    assert server.get("/metrics")[0] == 200 and server.get("/health")[0] == 200
    assert server.cli("tenant", "list").returncode == 0
    r = subprocess.run([CLI, "--admin", server.admin, "--data-dir", str(tmp_path), "tenant", "list"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "401" in r.stderr
    r = subprocess.run([CLI, "--admin", server.admin, "--data-dir", str(tmp_path), "--token", token, "tenant", "list"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    r = subprocess.run([CLI, "--admin", server.admin, "--data-dir", str(tmp_path), "tenant", "list"],
                       capture_output=True, text=True, timeout=60, env={**os.environ, "KISEKI_ADMIN_TOKEN": token})
    assert r.returncode == 0


def test_admin_token_from_env_and_protect_all(tmp_path):
    token = "my-chosen-admin-token-0123456789"
    s = Server(str(tmp_path / "data"), env={"KISEKI_ADMIN_TOKEN": token}, extra=["--admin-protect-all", "true"])
    try:
        assert s.token() == token
        assert s.get("/metrics")[0] == 401
        assert s.api("GET", "/metrics")[0] == 200
        assert s.get("/ui")[0] == 200, "the console page is where a browser signs in"
        assert s.api("GET", "/api/v1/tenants", token=token)[0] == 200
        assert s.cli("tenant", "list").returncode == 0
    finally:
        s.stop()


def test_names_with_any_byte_can_be_named_again(server):
    # Path segments are percent-encoded by the CLI and decoded by the admin API.
    server.cli("tenant", "create", "bad name?#%")
    server.cli("namespace", "create", "bad name?#%", "odd-one")
    names = [n["name"] for n in json.loads(server.cli("namespace", "list", "bad name?#%").stdout)]
    assert names == ["odd-one"]
    server.cli("namespace", "delete", "bad name?#%", "odd-one")
    assert json.loads(server.cli("namespace", "list", "bad name?#%").stdout) == []
    assert server.api("GET", "/api/v1/tenants/defaul%74")[0] == 200


def test_namespace_names_are_bucket_names(server):
    # A namespace S3 could not address is refused, by the admin API as by S3.
    for bad in ("bad name!", "ab", "UPPER", "dash-", "a..b", "192.168.1.1", "x" * 64):
        r = server.cli("namespace", "create", "default", bad, check=False)
        assert r.returncode == 1 and "not a valid bucket name" in r.stderr, (bad, r.stderr)
    names = [n["name"] for n in json.loads(server.cli("namespace", "list", "default").stdout)]
    assert not any(n in names for n in ("bad name!", "ab", "UPPER"))


def test_read_only_admin_token(server):
    path = os.path.join(server.data_dir, "admin-token-readonly")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    ro = open(path).read().strip()
    assert ro.startswith("ksr_") and ro != server.token() and ro not in server.output()
    assert server.api("GET", "/api/v1/tenants", token=ro)[0] == 200
    st, body = server.api("POST", "/api/v1/tenants", b'{"name":"by-reader"}', token=ro)
    assert st == 403 and "read-only" in body
    assert server.api("POST", "/api/v1/tenants/default/keys", token=ro)[0] == 403
    assert "by-reader" not in server.api("GET", "/api/v1/tenants")[1]


def test_cli_without_server_fails_cleanly():
    r = subprocess.run([CLI, "--admin", f"127.0.0.1:{free_port()}", "tenant", "list"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 3 and "cannot reach" in r.stderr
    assert ".hpp" not in r.stderr and "boost::" not in r.stderr, "no library internals in errors"


def test_cli_version_and_unknown_commands():
    r = subprocess.run([CLI, "--version"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stdout.startswith("kiseki ")
    r = subprocess.run([SERVER, "--version"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stdout.startswith("kiseki-server ")
    for args in (["tenant", "frobnicate"], ["frob"]):
        r = subprocess.run([CLI, *args], capture_output=True, text=True, timeout=30)
        assert r.returncode == 2 and f"unknown command '{args[-1]}'" in r.stderr, r.stderr
    r = subprocess.run([CLI, "namespace", "create", "acme"], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "name is required" in r.stderr


def test_restart_keeps_state_and_env_root_key(tmp_path):
    data = str(tmp_path / "data")
    env = {"KISEKI_ROOT_ACCESS_KEY": "ROOTKEYFROMENV", "KISEKI_ROOT_SECRET_KEY": "rootsecretfromenv"}
    s = Server(data, env=env)
    assert "secret key:" not in s.output(), "a key set by the environment is not printed"
    s.cli("tenant", "create", "persist")
    s.cli("namespace", "create", "persist", "bkt")
    assert s.stop(signal.SIGINT) == 0, "clean shutdown on SIGINT"
    s2 = Server(data, env=env)
    names = [n["name"] for n in json.loads(s2.cli("namespace", "list", "persist").stdout)]
    assert names == ["bkt"]
    assert s2.stop() == 0, "clean shutdown on SIGTERM"
    assert "stopped" in s2.output()


def test_crash_shred_and_config_layers(tmp_path):
    data = str(tmp_path / "data")
    cfg = tmp_path / "kiseki.toml"
    cfg.write_text('durability = "group"\nlog_level = "debug"\n')
    s = Server(data, extra=["--config", str(cfg), "--durability", "sync"])
    assert "durability=sync" in s.output(), "flags win over the config file"
    s.cli("tenant", "create", "gone")
    s.proc.kill()  # kill -9: nothing acknowledged may be lost
    s.proc.wait()
    s2 = Server(data, env={"KISEKI_DURABILITY": "none"})
    assert "durability=none" in s2.output(), "the environment applies without a flag"
    assert "gone" in s2.cli("tenant", "list").stdout
    r = s2.cli("tenant", "shred", "gone", "--yes")
    assert json.loads(r.stdout)["shredded"] is True
    assert s2.cli("namespace", "create", "gone", "xxx", check=False).returncode == 1
    assert s2.stop() == 0
    bad = subprocess.run([SERVER, "--data-dir", data, "--durability", "sometimes"], capture_output=True, text=True)
    assert bad.returncode == 2 and "durability" in bad.stderr


def test_bad_values_are_refused_before_anything_is_made(tmp_path):
    data = tmp_path / "never"
    for args, word in ((["--log-level", "loud"], "log_level"), (["--s3-listen", "nowhere"], "s3_listen"),
                       (["--nfs-listen", "127.0.0.1"], "nfs_listen"), (["--admin-listen", "off"], "admin_listen")):
        r = subprocess.run([SERVER, "--data-dir", str(data), *args], capture_output=True, text=True, timeout=30)
        assert r.returncode == 2 and word in r.stderr and "'" in r.stderr, (args, r.stderr)
        assert not data.exists(), f"{args} created the data directory"


def test_a_second_server_on_the_same_data_directory_is_refused(server):
    r = subprocess.run([SERVER, "--data-dir", server.data_dir, "--admin-listen", "127.0.0.1:0",
                        "--s3-listen", "off", "--nfs-listen", "off", "--portmap-listen", "off",
                        "--native-listen", "off"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    out = r.stdout + r.stderr
    assert "in use by another kiseki-server" in out and f"PID {server.proc.pid}" in out, out


def test_shred_takes_a_tenant_off_every_protocol_and_leaves_no_names(tmp_path):
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    s = Server(str(tmp_path / "data"))
    try:
        s.cli("tenant", "create", "vanish")
        s.cli("namespace", "create", "vanish", "pics")
        key = json.loads(s.cli("key", "create", "vanish").stdout)
        c = boto3.client("s3", endpoint_url=s.s3_endpoint, aws_access_key_id=key["access_key_id"],
                         aws_secret_access_key=key["secret_key"], region_name="us-east-1",
                         config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
        names = [f"holiday-{i}-zq7unique.jpg" for i in range(3)]
        for i, n in enumerate(names):
            c.put_object(Bucket="pics", Key=n, Body=os.urandom(100000 + i))
        url = f"nfs://127.0.0.1/vanish/pics?nfsport={s.nfs_port}&mountport={s.nfs_port}&version=3"
        ls = subprocess.run(["nfs-ls", url], capture_output=True, text=True, timeout=60)
        assert ls.returncode == 0 and names[0] in ls.stdout
        s.cli("tenant", "shred", "vanish", "--yes")
        # Off S3 (its keys are gone), off NFS, off the admin API, at once.
        with pytest.raises(ClientError) as e:
            c.list_objects_v2(Bucket="pics")
        assert e.value.response["Error"]["Code"] == "InvalidAccessKeyId"
        ls = subprocess.run(["nfs-ls", url], capture_output=True, text=True, timeout=60)
        assert ls.returncode != 0 and names[0] not in ls.stdout
        assert json.loads(s.cli("namespace", "list", "vanish").stdout) == []
        deadline = time.time() + 30
        while "purged" not in s.output() and time.time() < deadline:
            time.sleep(0.1)
        assert "purged" in s.output(), "the background purge finished"
    finally:
        assert s.stop() == 0
    # No file of the data directory holds the names any more.
    for root, _, files in os.walk(s.data_dir):
        for f in files:
            blob = open(os.path.join(root, f), "rb").read()
            for n in names:
                assert n.encode() not in blob, f"{n} is still in {f}"


def newest(path, suffix):
    files = sorted(f for f in os.listdir(path) if f.endswith(suffix))
    return os.path.join(path, files[-1])


def flip(path, at):
    with open(path, "r+b") as f:
        f.seek(at)
        b = f.read(1)
        f.seek(at)
        f.write(bytes([b[0] ^ 0x5A]))


def test_damage_is_loud(tmp_path):
    import boto3
    data = str(tmp_path / "data")
    s = Server(data)
    ak, sk = s.root_credentials()
    s3 = boto3.client("s3", endpoint_url=s.s3_endpoint, aws_access_key_id=ak, aws_secret_access_key=sk,
                      region_name="us-east-1")
    s3.create_bucket(Bucket="loud")
    for i in range(30):
        s3.put_object(Bucket="loud", Key=f"o{i}", Body=os.urandom(50000))
    s.kill()  # the metadata write-ahead log holds every write
    wal = newest(os.path.join(data, "meta"), ".log")
    flip(wal, os.path.getsize(wal) // 3)
    with pytest.raises(RuntimeError) as e:
        Server(data)
    msg = str(e.value)
    assert "is damaged" in msg and os.path.basename(wal) in msg and "write-ahead log" in msg, msg

    # A damaged chunk: the server serves, scrub names it, /ready and the
    # metrics say degraded.
    data2 = str(tmp_path / "data2")
    s = Server(data2)
    try:
        ak, sk = s.root_credentials()
        s3 = boto3.client("s3", endpoint_url=s.s3_endpoint, aws_access_key_id=ak, aws_secret_access_key=sk,
                          region_name="us-east-1")
        s3.create_bucket(Bucket="loud")
        s3.put_object(Bucket="loud", Key="big", Body=os.urandom(400000))
        assert s.get("/ready")[1] == "ready\n"
        seg = newest(os.path.join(data2, "chunks"), "")
        flip(seg, os.path.getsize(seg) // 2)
        scrub = json.loads(s.cli("scrub").stdout)
        assert scrub["problems"], "scrub finds the flipped byte"
        st, body = s.get("/ready")
        assert st == 200 and body.startswith("degraded: the last scrub found"), body
        assert re.search(r"^kiseki_scrub_problems [1-9]", s.get("/metrics")[1], re.M)
        assert json.loads(s.cli("status").stdout)["degraded"].startswith("the last scrub found")
    finally:
        s.stop()


def test_a_port_in_use_is_an_error_not_a_crash(tmp_path):
    import socket
    for flag in ("--s3-listen", "--nfs-listen", "--admin-listen", "--native-listen"):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            args = {"--s3-listen": f"127.0.0.1:{free_port()}", "--nfs-listen": f"127.0.0.1:{free_port()}",
                    "--admin-listen": f"127.0.0.1:{free_port()}", "--native-listen": f"127.0.0.1:{free_port()}",
                    flag: f"127.0.0.1:{port}"}
            r = subprocess.run([SERVER, "--data-dir", str(tmp_path / flag), "--portmap-listen", "off",
                                *[x for kv in args.items() for x in kv]], capture_output=True, text=True, timeout=60)
        assert r.returncode == 1, (flag, r.returncode, r.stderr)  # not a signal
        assert "in use" in r.stderr.lower() or "address" in r.stderr.lower(), (flag, r.stderr)
