"""S3 and the admin API over HTTPS (--tls-cert/--tls-key): awscli, boto3, rclone,
s3cmd and the kiseki CLI with the test CA; TLS 1.2 as the floor; the certificate
reloaded on SIGHUP. One server for the module."""
import os
import signal
import socket
import ssl
import subprocess
import time

import boto3
import pytest
from botocore.config import Config

from kiseki_server import CLI, Server

AWS = "/usr/bin/aws"


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_server_cert(d, name):
    """A certificate for localhost and 127.0.0.1, signed by the CA in d."""
    (d / f"{name}.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-subj", f"/CN={name}",
            "-out", f"{name}.csr", cwd=d)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem", cwd=d)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-subj", "/CN=kiseki test CA",
            "-days", "2", "-out", "ca.pem", cwd=d)
    make_server_cert(d, "first")
    make_server_cert(d, "second")
    # The server reads these paths; SIGHUP picks up what they hold then.
    (d / "server.pem").write_bytes((d / "first.pem").read_bytes())
    (d / "server.key").write_bytes((d / "first.key").read_bytes())
    return d


@pytest.fixture(scope="module")
def server(tmp_path_factory, pki):
    s = Server(str(tmp_path_factory.mktemp("tls") / "data"),
               tls=(str(pki / "server.pem"), str(pki / "server.key"), str(pki / "ca.pem")))
    yield s
    s.stop()


@pytest.fixture(scope="module")
def creds(server):
    return server.root_credentials()


def run(cmd, env=None, check=True):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    if check:
        assert r.returncode == 0, f"{cmd}\nstdout: {r.stdout[-2000:]}\nstderr: {r.stderr[-2000:]}"
    return r


def peer_common_name(port, ca):
    ctx = ssl.create_default_context(cafile=ca)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            subject = dict(x[0] for x in tls.getpeercert()["subject"])
            return subject["commonName"], tls.version()


def test_boto3_and_awscli_over_https(server, creds, pki, tmp_path):
    c = boto3.client("s3", endpoint_url=server.s3_endpoint, aws_access_key_id=creds[0],
                     aws_secret_access_key=creds[1], region_name="us-east-1", verify=str(pki / "ca.pem"),
                     config=Config(s3={"addressing_style": "path"}))
    c.create_bucket(Bucket="tls")
    body = os.urandom(3 << 20)
    c.put_object(Bucket="tls", Key="boto3.bin", Body=body)
    assert c.get_object(Bucket="tls", Key="boto3.bin")["Body"].read() == body
    env = {**os.environ, "AWS_ACCESS_KEY_ID": creds[0], "AWS_SECRET_ACCESS_KEY": creds[1],
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null",
           "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    f = tmp_path / "aws.bin"
    f.write_bytes(os.urandom(12 << 20))  # multipart
    aws = [AWS, "--endpoint-url", server.s3_endpoint, "--ca-bundle", str(pki / "ca.pem")]
    run(aws + ["s3", "cp", str(f), "s3://tls/aws.bin"], env)
    run(aws + ["s3", "cp", "s3://tls/aws.bin", str(tmp_path / "aws.back")], env)
    assert (tmp_path / "aws.back").read_bytes() == f.read_bytes()
    # Without the CA the client refuses the server, as it should.
    bad = run([AWS, "--endpoint-url", server.s3_endpoint, "s3", "ls", "s3://tls"], env, check=False)
    assert bad.returncode != 0 and "SSL" in bad.stderr.upper()


def test_s3cmd_over_https(server, creds, pki, tmp_path):
    host = f"127.0.0.1:{server.s3_port}"
    cfg = tmp_path / "s3cfg"
    cfg.write_text(f"[default]\naccess_key = {creds[0]}\nsecret_key = {creds[1]}\nhost_base = {host}\n"
                   f"host_bucket = {host}\nuse_https = True\ncheck_ssl_certificate = True\n"
                   f"ca_certs_file = {pki / 'ca.pem'}\nbucket_location = us-east-1\nsignature_v2 = False\n")
    s3cmd = ["s3cmd", "-c", str(cfg)]
    run(s3cmd + ["mb", "s3://s3cmd-tls"])
    f = tmp_path / "f.bin"
    f.write_bytes(os.urandom(1 << 20))
    run(s3cmd + ["put", str(f), "s3://s3cmd-tls/f.bin"])
    run(s3cmd + ["get", "s3://s3cmd-tls/f.bin", str(tmp_path / "back")])
    assert (tmp_path / "back").read_bytes() == f.read_bytes()


def test_rclone_over_https(server, creds, pki, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}  # rclone 1.60 refuses to start with it
    env.update({"RCLONE_CONFIG_K_TYPE": "s3", "RCLONE_CONFIG_K_PROVIDER": "Other",
                "RCLONE_CONFIG_K_ENDPOINT": server.s3_endpoint, "RCLONE_CONFIG_K_ACCESS_KEY_ID": creds[0],
                "RCLONE_CONFIG_K_SECRET_ACCESS_KEY": creds[1], "RCLONE_CONFIG_K_REGION": "us-east-1",
                "RCLONE_CONFIG_K_FORCE_PATH_STYLE": "true", "RCLONE_CONFIG": "/dev/null"})
    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        (src / f"f{i}").write_bytes(os.urandom(70000 * (i + 1)))
    rc = ["rclone", "--ca-cert", str(pki / "ca.pem")]
    run(rc + ["mkdir", "k:rclone-tls"], env)
    run(rc + ["copy", str(src), "k:rclone-tls/d"], env)
    run(rc + ["check", str(src), "k:rclone-tls/d"], env)


def test_admin_api_and_cli_over_https(server, pki):
    assert server.get("/health") == (200, "ok\n")
    assert server.api("GET", "/api/v1/tenants", token=False)[0] == 401
    assert "default" in server.cli("tenant", "list").stdout
    # The CLI checks the certificate: with the system's CAs only it refuses.
    r = subprocess.run([CLI, "--admin", server.admin_url, "--data-dir", server.data_dir,
                        "tenant", "list"], capture_output=True, text=True, timeout=60, env={**os.environ, "KISEKI_CA_CERT": ""})
    assert r.returncode != 0 and "certificate" in r.stderr


def test_plain_http_and_tls_below_1_2_are_refused(server, pki):
    for port in (server.s3_port, server.port):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
            try:
                reply = s.recv(100)
            except (ConnectionResetError, socket.timeout):
                reply = b""
            assert not reply.startswith(b"HTTP/1.1 200"), "plain HTTP on a TLS port"
        old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        old.load_verify_locations(str(pki / "ca.pem"))
        old.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        old.maximum_version = ssl.TLSVersion.TLSv1_1
        old.set_ciphers("ALL:@SECLEVEL=0")
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with pytest.raises(ssl.SSLError):
                old.wrap_socket(raw, server_hostname="localhost")
    assert peer_common_name(server.s3_port, str(pki / "ca.pem"))[1] in ("TLSv1.2", "TLSv1.3")


def test_sighup_reloads_the_certificate(server, pki):
    ca = str(pki / "ca.pem")
    assert peer_common_name(server.s3_port, ca)[0] == "first"
    (pki / "server.key").write_bytes(b"not a key")  # a half-written renewal: the old one stays
    server.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    while "not reloaded" not in server.output() and time.time() < deadline:
        time.sleep(0.05)
    assert "not reloaded" in server.output()
    assert peer_common_name(server.s3_port, ca)[0] == "first"
    (pki / "server.pem").write_bytes((pki / "second.pem").read_bytes())
    (pki / "server.key").write_bytes((pki / "second.key").read_bytes())
    server.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    while "TLS certificate reloaded" not in server.output() and time.time() < deadline:
        time.sleep(0.05)
    assert peer_common_name(server.s3_port, ca)[0] == "second"
    assert peer_common_name(server.port, ca)[0] == "second"


def test_native_protocol_and_mount_over_tls(server, creds, pki, tmp_path):
    import tempfile
    import threading
    c = boto3.client("s3", endpoint_url=server.s3_endpoint, aws_access_key_id=creds[0],
                     aws_secret_access_key=creds[1], region_name="us-east-1", verify=str(pki / "ca.pem"),
                     config=Config(s3={"addressing_style": "path"}))
    c.create_bucket(Bucket="tlsmount")
    where = tempfile.mkdtemp(prefix="kiseki-mnt-", dir="/tmp")
    base = [CLI, "--data-dir", server.data_dir]
    # The server's native port speaks TLS only: a plain client, or one that
    # cannot verify the certificate, is refused before anything is mounted.
    r = run([*base, "mount", "--endpoint", server.native, "default/tlsmount", where], check=False)
    assert r.returncode == 1 and not os.path.ismount(where), r.stderr
    r = run([*base, "mount", "--tls", "--endpoint", server.native, "default/tlsmount", where], check=False)
    assert r.returncode == 1 and "certificate" in r.stderr, r.stderr
    log = open(str(tmp_path / "mount.log"), "w")
    m = subprocess.Popen([*base, "--ca-cert", str(pki / "ca.pem"), "mount", "--tls", "--endpoint", server.native,
                          "default/tlsmount", where, "-f"], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 20
        while not os.path.ismount(where):
            assert m.poll() is None and time.time() < deadline, open(str(tmp_path / "mount.log")).read()
            time.sleep(0.05)
        # Eight writers at once, 2 MiB each (both directions of the tunnel busy), then reads.
        bodies = {f"f{i}.bin": os.urandom(2 << 20) for i in range(8)}

        def write(name):
            with open(os.path.join(where, name), "wb") as f:
                f.write(bodies[name])
                os.fsync(f.fileno())

        threads = [threading.Thread(target=write, args=(n,)) for n in bodies]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for name, body in bodies.items():
            assert c.get_object(Bucket="tlsmount", Key=name)["Body"].read() == body
            fd = os.open(os.path.join(where, name), os.O_RDONLY)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            assert os.read(fd, 4 << 20) == body
            os.close(fd)
    finally:
        subprocess.run(["fusermount3", "-u", where], check=False)
        m.wait(timeout=30)
        log.close()
    # Frames in the clear on the TLS port are not served.
    host, port = server.native.split(":")
    with socket.create_connection((host, int(port)), timeout=15) as s:
        s.sendall(b"KSKI\x01" + b"\0" * 27)
        try:
            reply = s.recv(100)
        except ConnectionResetError:
            reply = b""
        assert not reply.startswith(b"KSKI"), "a frame answered on the TLS port"
    assert "native protocol over TLS" in server.output()
