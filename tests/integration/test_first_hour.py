"""The first hour with Kiseki: install, the CLI, validation, logs, backup, the
console in a real browser, the monitoring rules."""
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time

import boto3
import pytest
import yaml
from botocore.config import Config

from kiseki_server import BUILD, CLI, SERVER, Server, free_port

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ARTIFACTS = os.path.join(BUILD, "test-artifacts")


def s3_client(server):
    ak, sk = server.root_credentials()
    return boto3.client("s3", endpoint_url=server.s3_endpoint, aws_access_key_id=ak, aws_secret_access_key=sk,
                        region_name="us-east-1", config=Config(retries={"max_attempts": 1}))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(str(tmp_path_factory.mktemp("first-hour") / "data"))
    yield s
    s.stop()


# ---- install

def test_make_install_tree(tmp_path):
    dest = tmp_path / "dest"
    r = subprocess.run(["make", "-C", REPO, "install", f"DESTDIR={dest}", f"BUILD={BUILD}"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    prefix = dest / "usr" / "local"
    for b in ("kiseki-server", "kiseki", "kiseki-profile"):
        assert os.access(prefix / "bin" / b, os.X_OK), b
    unit = (prefix / "lib/systemd/system/kiseki.service").read_text()
    assert "ExecStart=/usr/local/bin/kiseki-server --config /etc/kiseki/kiseki.toml" in unit
    assert "User=kiseki" in unit and "StateDirectory=kiseki" in unit
    assert "u kiseki" in (prefix / "lib/sysusers.d/kiseki.conf").read_text()
    conf = dest / "etc/kiseki/kiseki.toml"
    assert 'data_dir = "/var/lib/kiseki"' in conf.read_text()
    docs = prefix / "share/doc/kiseki"
    for f in ("README.md", "operations.md", "configuration.md", "kiseki.toml.example", "logrotate.kiseki",
              "prometheus/kiseki-alerts.yml"):
        assert (docs / f).is_file(), f
    out = subprocess.run([str(prefix / "bin/kiseki-server"), "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("kiseki-server ")
    # systemd accepts the unit (pointed at the staged binary).
    if shutil.which("systemd-analyze"):
        staged = tmp_path / "kiseki.service"
        staged.write_text(unit.replace("/usr/local/bin/", f"{prefix}/bin/"))
        v = subprocess.run(["systemd-analyze", "verify", str(staged)], capture_output=True, text=True)
        assert v.returncode == 0, v.stderr
    # A second install keeps the operator's configuration.
    conf.write_text(conf.read_text() + "\n# edited by the operator\n")
    r = subprocess.run(["make", "-C", REPO, "install", f"DESTDIR={dest}", f"BUILD={BUILD}"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and "edited by the operator" in conf.read_text()


def test_example_config_starts_a_server(tmp_path):
    # The commented example is a working configuration (flags move it off the
    # system paths and ports).
    s = Server(str(tmp_path / "data"), extra=["--config", os.path.join(REPO, "packaging", "kiseki.toml")])
    try:
        assert s.get("/ready")[0] == 200
        assert "durability=sync" in s.output()
    finally:
        s.stop()


# ---- validation before anything is made on disk (listen addresses, log levels
# and the data directory lock: test_server.py)

@pytest.mark.parametrize("args,message", [
    (["--durability", "fast"], "durability must be sync, group or none, not 'fast'"),
    (["--group-commit-ms", "0"], "group_commit_ms"),
    (["--nfs-exports", "/default/x rw,bogus"], "unknown export option 'bogus'"),
    (["--nfs-exports", "default-x rw"], "/TENANT/NAMESPACE"),
    (["--nfs-export-defaults", "rw,clients=300.1.1.1/8"], "nfs_export_defaults"),
    (["--tls-cert", "/nonexistent.pem"], "tls_cert and tls_key go together"),
])
def test_bad_values_are_refused_before_the_data_directory(tmp_path, args, message):
    data = tmp_path / "data"
    r = subprocess.run([SERVER, "--data-dir", str(data), *args], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert not data.exists(), "nothing is made on disk for a bad value"


def test_unknown_config_key_is_named(tmp_path):
    conf = tmp_path / "k.toml"
    conf.write_text('[s3]\nlisten = "127.0.0.1:0"\nlisten_typo = 1\n')
    data = tmp_path / "data"
    r = subprocess.run([SERVER, "--data-dir", str(data), "--config", str(conf)], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 2 and "unknown key 's3_listen_typo'" in r.stderr, r.stderr
    assert not data.exists()


def test_start_messages_and_the_admin_root(server):
    out = server.output()
    assert "portmapper off" in out and "portmapper port 0" not in out
    assert "Kiseki is ready" in out and f"{server.admin_url}/ui" in out
    status, body = server.get("/")
    assert status == 200 and "<title>Kiseki console</title>" in body, "GET / is the console, not a 404"
    assert server.get("/ui")[1] == body


def test_usage_cache_only_when_asked(server):
    server.cli("namespace", "create", "default", "counted")
    s3 = s3_client(server)
    s3.put_object(Bucket="counted", Key="one", Body=b"1")
    files = lambda u: next(n for n in json.loads(u)["namespaces"] if n["name"] == "counted")["files"]
    assert files(server.api("GET", "/api/v1/usage?max_age=60")[1]) == 1
    s3.put_object(Bucket="counted", Key="two", Body=b"2")
    assert files(server.api("GET", "/api/v1/usage?max_age=60")[1]) == 1, "a recent answer serves again"
    assert files(server.api("GET", "/api/v1/usage")[1]) == 2, "without max_age: a fresh scan"


# ---- the CLI for people

def test_cli_tables_and_json(server):
    out = server.cli("tenant", "create", "tables", json=False).stdout
    assert out.startswith("created tenant tables (id ")
    table = server.cli("tenant", "list", json=False).stdout.splitlines()
    assert table[0].split() == ["TENANT", "ID", "DEDUP", "DOMAIN", "STATE"]
    assert any(l.split()[0] == "tables" and l.split()[-1] == "active" for l in table[1:])
    server.cli("namespace", "create", "tables", "reports")
    rows = server.cli("namespace", "list", "tables", json=False).stdout.splitlines()
    assert rows[0].split()[0] == "NAMESPACE" and rows[1].split()[0] == "reports"
    assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", rows[1]), "times as ISO 8601"
    created = json.loads(server.cli("namespace", "list", "tables").stdout)[0]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", created["created"])
    key = json.loads(server.cli("key", "create", "tables").stdout)
    listed = server.cli("key", "list", "tables", json=False).stdout
    assert key["access_key_id"] in listed and key["secret_key"] not in listed
    assert key["access_key_id"] in server.cli("key", "list", json=False).stdout
    status = server.cli("status", json=False).stdout
    assert "ready" in status and server.s3_endpoint in status and "/ui" in status


def test_cli_put_get_ls_rm_usage_and_scrub(server, tmp_path):
    server.cli("namespace", "create", "default", "quick")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(20 << 20))  # above the 16 MiB part size: a multipart upload
    small = tmp_path / "note.txt"
    small.write_text("a small file, kept inline\n")
    server.cli("put", str(big), "quick/a/big.bin")
    server.cli("put", str(big), "quick/b/")  # the file's own name under b/
    server.cli("put", str(small), "quick/note.txt")
    got = tmp_path / "got.bin"
    server.cli("get", "quick/b/big.bin", str(got))
    assert got.read_bytes() == big.read_bytes()
    assert server.cli("get", "quick/note.txt", "-").stdout == small.read_text()
    top = server.cli("ls", "quick", json=False).stdout
    assert "DIR" in top and "a/" in top and "note.txt" in top and "big.bin" not in top
    deep = server.cli("ls", "-r", "quick", json=False).stdout
    assert "a/big.bin" in deep and "b/big.bin" in deep
    assert "quick" in server.cli("ls", json=False).stdout
    usage = json.loads(server.cli("usage").stdout)
    ns = next(n for n in usage["namespaces"] if n["name"] == "quick")
    assert ns["files"] == 3 and ns["dirs"] == 2 and ns["inline_files"] == 1
    assert ns["logical_bytes"] == 2 * (20 << 20) + len(small.read_text())
    assert 1.95 < ns["logical_bytes"] / ns["stored_bytes"] < 2.0, "the second copy deduplicated"
    table = server.cli("usage", json=False).stdout
    assert re.search(r"quick\s+3\s+2\s+0\s+40\.0 MiB\s+20\.\d MiB\s+(1\.9\d|2\.00)×", table), table
    words = server.cli("scrub", json=False).stdout
    inline = json.loads(server.cli("usage").stdout)["total"]["inline_files"]
    assert re.search(r"Scrub verified \d+ chunks \(\d+\.\d MiB\) in \d+ segments?; %d small files? \(\d+ B\) (is|are) kept "
                     r"inline in the metadata" % inline, words), words
    assert "No problems found." in words
    server.cli("rm", "quick/a/big.bin")
    assert "a/big.bin" not in server.cli("ls", "-r", "quick", json=False).stdout
    r = server.cli("get", "quick/a/big.bin", str(tmp_path / "gone"), check=False)
    assert r.returncode == 1 and "404" in r.stderr and not (tmp_path / "gone").exists()


def test_cli_exports(server):
    server.cli("namespace", "create", "default", "shared")
    rows = server.cli("export", "list", json=False).stdout
    assert re.search(r"/default/shared\s+rw,no_root_squash,.*clients=127\.0\.0\.0/8\s+defaults", rows), rows
    out = server.cli("export", "set", "/default/shared", "rw,root_squash,clients=127.0.0.0/8|10.0.0.0/8",
                     json=False).stdout
    assert "root_squash" in out and "10.0.0.0/8" in out
    assert re.search(r"/default/shared\s+.*10\.0\.0\.0/8\s+configured", server.cli("export", "list", json=False).stdout)
    # This host is still in: a libnfs listing works.
    assert subprocess.run(["nfs-ls", server.nfs_url("/default/shared")], capture_output=True, timeout=30).returncode == 0
    server.cli("export", "reset", "/default/shared")
    assert re.search(r"/default/shared\s+.*\s+defaults", server.cli("export", "list", json=False).stdout)
    r = server.cli("export", "set", "shared", "rw", check=False)
    assert r.returncode == 2 and "/TENANT/NAMESPACE" in r.stderr


# ---- logs

def test_log_file_reopened_on_sighup_and_json_lines(tmp_path):
    log = tmp_path / "logs" / "kiseki.log"
    s = Server(str(tmp_path / "data"), extra=["--log-file", str(log), "--log-json"])
    try:
        s.cli("tenant", "create", 'quote"and\\back')
        lines = log.read_text().splitlines()
        assert lines and all(json.loads(l)["level"] for l in lines), "every line is a JSON object"
        assert any("S3 HTTP on" in json.loads(l)["msg"] for l in lines)
        os.rename(log, tmp_path / "logs" / "kiseki.log.1")
        s.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while time.time() < deadline and not (log.exists() and "SIGHUP: log file" in log.read_text()):
            time.sleep(0.05)
        assert "SIGHUP: log file" in log.read_text(), "a new file after SIGHUP"
        assert "SIGHUP: log file" not in (tmp_path / "logs" / "kiseki.log.1").read_text()
    finally:
        s.stop()


# ---- backup → wipe → restore

def test_backup_wipe_restore_byte_for_byte(tmp_path):
    data = str(tmp_path / "data")
    s = Server(data)
    try:
        s3 = s3_client(s)
        s3.create_bucket(Bucket="keep")
        want = {}
        for i in range(40):
            body = os.urandom(1000 + i * 7919)  # inline and chunked sizes
            s3.put_object(Bucket="keep", Key=f"obj/{i:03d}", Body=body)
            want[f"obj/{i:03d}"] = hashlib.sha256(body).hexdigest()
        nfs_file = tmp_path / "nfs.txt"
        nfs_file.write_bytes(os.urandom(300000))
        assert subprocess.run(["nfs-cp", str(nfs_file), s.nfs_url("/default/keep/via-nfs.bin")],
                              capture_output=True, timeout=60).returncode == 0
        want["via-nfs.bin"] = hashlib.sha256(nfs_file.read_bytes()).hexdigest()
        s3.put_object(Bucket="keep", Key="doomed", Body=b"deleted before the backup")
        s3.delete_object(Bucket="keep", Key="doomed")
        s.cli("compact")

        # Writers keep going while the backup runs.
        stop = threading.Event()
        during = {}

        def writer():
            c = s3_client(s)
            n = 0
            while not stop.is_set() and n < 2000:
                body = os.urandom(70000)
                c.put_object(Bucket="keep", Key=f"during/{n}", Body=body)
                during[f"during/{n}"] = hashlib.sha256(body).hexdigest()
                n += 1

        t = threading.Thread(target=writer)
        t.start()
        time.sleep(0.3)
        backup = str(tmp_path / "backup")
        out = s.cli("backup", backup, json=False).stdout
        stop.set()
        t.join()
        assert out.startswith("backup of ") and os.path.isfile(os.path.join(backup, "kiseki-backup.json"))
        assert s.cli("backup", backup, check=False).returncode == 1, "an existing directory is refused"
        token = s.token()
        ak, _ = s.root_credentials()
    finally:
        s.stop()

    shutil.rmtree(data)
    r = subprocess.run([CLI, "--data-dir", data, "restore", backup], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.startswith("restored "), r.stderr
    r = subprocess.run([CLI, "--data-dir", data, "restore", backup], capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and "not empty" in r.stderr

    s = Server(data)
    try:
        assert s.token() == token and s.root_credentials()[0] == ak, "the tokens and keys come back"
        s3 = s3_client(s)
        for key, digest in want.items():
            assert hashlib.sha256(s3.get_object(Bucket="keep", Key=key)["Body"].read()).hexdigest() == digest, key
        got = tmp_path / "back.bin"
        assert subprocess.run(["nfs-cp", s.nfs_url("/default/keep/via-nfs.bin"), str(got)],
                              capture_output=True, timeout=60).returncode == 0
        assert got.read_bytes() == nfs_file.read_bytes()
        # Objects written during the backup are there whole or not at all.
        present = 0
        for key, digest in during.items():
            try:
                body = s3.get_object(Bucket="keep", Key=key)["Body"].read()
            except s3.exceptions.NoSuchKey:
                continue
            assert hashlib.sha256(body).hexdigest() == digest, key
            present += 1
        assert not any(o["Key"] == "doomed" for o in s3.list_objects_v2(Bucket="keep").get("Contents", []))
        scrub = json.loads(s.cli("scrub").stdout)
        assert scrub["problems"] == [], scrub["problems"]
        refs = s.api("GET", "/api/v1/usage")
        assert refs[0] == 200
    finally:
        s.stop()


def test_restore_refuses_an_incomplete_backup(tmp_path):
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "credentials").write_text("x")
    r = subprocess.run([CLI, "--data-dir", str(tmp_path / "data"), "restore", str(partial)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "not a complete Kiseki backup" in r.stderr
    assert not (tmp_path / "data").exists()


# ---- monitoring

def test_alert_rules_name_exported_metrics(server):
    server.cli("scrub")
    with pytest.raises(Exception):  # an S3 error reply, so that its counter exists
        s3_client(server).head_object(Bucket="no-such-bucket", Key="x")
    metrics = server.get("/metrics")[1]
    exported = set(re.findall(r"^(kiseki_[a-z0-9_]+)", metrics, re.M))
    rules = yaml.safe_load(open(os.path.join(REPO, "packaging", "prometheus", "kiseki-alerts.yml")))
    named = set()
    for g in rules["groups"]:
        for rule in g["rules"]:
            named |= set(re.findall(r"kiseki_[a-z0-9_]+", rule["expr"]))
    assert named, "the rules name metrics"
    missing = named - exported
    assert not missing, f"alert rules name metrics the server does not export: {missing}"
    scrape = yaml.safe_load(open(os.path.join(REPO, "packaging", "prometheus", "prometheus.yml")))
    assert scrape["scrape_configs"][0]["job_name"] == "kiseki"


# ---- the console, in a real browser

def test_console_in_headless_chromium(server):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    server.cli("tenant", "create", "console-co")
    server.cli("namespace", "create", "console-co", "gallery")
    server.cli("tenant", "create", "<img src=x onerror=alert(1)>")  # a name is text, never markup
    key = json.loads(server.cli("key", "create", "console-co").stdout)["access_key_id"]
    s3 = s3_client(server)
    s3.create_bucket(Bucket="console-traffic")
    for i in range(50):
        s3.put_object(Bucket="console-traffic", Key=f"k{i}", Body=os.urandom(5000))
        s3.get_object(Bucket="console-traffic", Key=f"k{i}")["Body"].read()
    time.sleep(2.5)  # one sample of the history with the traffic in it

    opts = webdriver.ChromeOptions()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1800"):
        opts.add_argument(a)
    opts.binary_location = "/usr/bin/chromium"
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    try:
        d.get(f"{server.admin_url}/ui")
        assert d.find_element(By.ID, "login").is_displayed()
        d.find_element(By.ID, "login-token").send_keys("ksa_wrong-token")
        d.find_element(By.ID, "login-button").click()
        WebDriverWait(d, 20).until(lambda d: d.find_element(By.ID, "login-error").text)
        assert "not accepted" in d.find_element(By.ID, "login-error").text
        field = d.find_element(By.ID, "login-token")
        field.clear()
        field.send_keys(server.token())
        d.find_element(By.ID, "login-button").click()
        WebDriverWait(d, 20).until(lambda d: d.execute_script("return document.body.dataset.loaded") == "true")
        assert d.find_element(By.ID, "health").text == "ready"
        tenants = d.find_element(By.ID, "tenants").text
        assert "console-co" in tenants and "<img src=x onerror=alert(1)>" in tenants
        assert not d.find_elements(By.CSS_SELECTOR, "#tenants img"), "names are rendered as text"
        assert "gallery" in d.find_element(By.ID, "namespaces").text
        assert key in d.find_element(By.ID, "keys").text
        assert "/console-co/gallery" in d.find_element(By.ID, "exports").text
        assert server.s3_endpoint in d.find_element(By.ID, "endpoints").text
        assert "dedup" in d.find_element(By.ID, "dedup").text
        # The throughput chart drew the S3 traffic: a line with a point above zero.
        peaks = d.execute_script("""
            return [...document.querySelectorAll('#chart-ops polyline')].map(
                p => Math.min(...p.getAttribute('points').split(' ').map(xy => +xy.split(',')[1])));""")
        assert peaks and min(peaks) < 124, "the S3 line rises above the axis"
        d.find_element(By.ID, "scrub-run").click()
        WebDriverWait(d, 30).until(lambda d: d.find_element(By.ID, "scrub-state").text == "clean")
        os.makedirs(ARTIFACTS, exist_ok=True)
        d.save_screenshot(os.path.join(ARTIFACTS, "console.png"))
        # Sign out forgets the token.
        d.find_element(By.ID, "logout").click()
        assert d.find_element(By.ID, "login").is_displayed()
        assert d.execute_script("return sessionStorage.getItem('kiseki-token')") is None
    finally:
        d.quit()
