"""Starts and stops a real kiseki-server for integration tests."""
import os
import random
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request

BUILD = os.environ.get("KISEKI_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
SERVER = os.path.join(BUILD, "src", "server", "kiseki-server")
CLI = os.path.join(BUILD, "src", "tools", "kiseki")


# Ports for servers under test come from below the kernel's ephemeral range
# (32768 and up here), from a block of this process's own, handed out once: an
# outgoing connection or another test process (ctest runs two) cannot take a
# port between its choice here and the server's bind.
_BLOCK = 400
_block_base = 10000 + (os.getpid() % 50) * _BLOCK
_next = random.randrange(_BLOCK)


def free_ports(n):
    """The first of `n` consecutive ports, each free now and never handed out before by this process."""
    global _next
    for _ in range(_BLOCK):
        first = _block_base + _next % (_BLOCK - n)
        _next = (_next % (_BLOCK - n)) + n
        socks = []
        try:
            for p in range(first, first + n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return first
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free ports")


def free_port():
    return free_ports(1)


class Server:
    def __init__(self, data_dir, env=None, extra=(), s3=True, tls=None, wait=True, ports=None):
        """tls: (certificate, key, CA file) to serve HTTPS with. wait=False: return at once
        (wait_ready later; a cluster node is ready only once its peers are up). ports: a
        dict with admin, s3, nfs, native ports to use instead of free ones."""
        ports = ports or {}
        self.port = ports.get("admin") or free_port()
        self.s3_port = ports.get("s3") or free_port()
        self.admin = f"127.0.0.1:{self.port}"
        scheme = "https" if tls else "http"
        self.admin_url = f"{scheme}://{self.admin}"
        self.s3_endpoint = f"{scheme}://127.0.0.1:{self.s3_port}"
        self.ssl = None
        self.tls_args = []
        if tls:
            self.tls_args = ["--ca-cert", tls[2]]
            self.ssl = ssl.create_default_context(cafile=tls[2])
            extra = [*extra, "--tls-cert", tls[0], "--tls-key", tls[1]]
        self.nfs_port = ports.get("nfs") or free_port()
        self.data_dir = data_dir
        self.log_path = os.path.join(os.path.dirname(data_dir), f"server-{self.port}.log")
        self.log = open(self.log_path, "a")
        args = [SERVER, "--data-dir", data_dir, "--admin-listen", self.admin,
                "--s3-listen", f"127.0.0.1:{self.s3_port}" if s3 else "off", *extra]
        if "--nfs-listen" not in extra:
            args += ["--nfs-listen", f"127.0.0.1:{self.nfs_port}"]
        if "--portmap-listen" not in extra:
            args += ["--portmap-listen", "off"]
        self.native_port = ports.get("native") or free_port()
        self.native = f"127.0.0.1:{self.native_port}"
        if "--native-listen" not in extra:
            args += ["--native-listen", self.native]
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **(env or {})})
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                st = self.get("/ready")[0]
                if st == 401:  # --admin-protect-all
                    st = self.api("GET", "/ready")[0]
                if st == 200:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: " + self.output())
            time.sleep(0.05)
        raise RuntimeError("server did not become ready: " + self.output())

    def output(self):
        with open(self.log_path) as f:
            return f.read()

    def get(self, path):
        try:
            with urllib.request.urlopen(f"{self.admin_url}{path}", timeout=10, context=self.ssl) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def token(self):
        with open(os.path.join(self.data_dir, "admin-token")) as f:
            return f.read().strip()

    def api(self, method, path, data=None, headers=None, token=True):
        """An admin API request with the server's token (token=False: none, a str: that one)."""
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + (token if isinstance(token, str) else self.token())
        req = urllib.request.Request(f"{self.admin_url}{path}", method=method, data=data, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=10, context=self.ssl) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def cli(self, *args, check=True, json=True):
        """The kiseki CLI against this server (json=False: its tables and sentences)."""
        fmt = ["--json"] if json else []
        r = subprocess.run([CLI, "--admin", self.admin_url, *self.tls_args, "--data-dir", self.data_dir,
                            "--s3", self.s3_endpoint, *fmt, *args],
                           capture_output=True, text=True, timeout=60)
        if check:
            assert r.returncode == 0, r.stderr
        return r

    def root_credentials(self):
        text = open(os.path.join(self.data_dir, "credentials")).read()
        kv = dict(l.split(" = ") for l in text.splitlines() if " = " in l)
        return kv["aws_access_key_id"], kv["aws_secret_access_key"]

    def s3_client(self, **config):
        """boto3 with the root key, path-style (config: more botocore Config options)."""
        import boto3
        from botocore.config import Config
        ak, sk = self.root_credentials()
        return boto3.client("s3", endpoint_url=self.s3_endpoint, aws_access_key_id=ak, aws_secret_access_key=sk,
                            region_name="us-east-1", config=Config(s3={"addressing_style": "path"}, **config))

    def nfs_url(self, path):
        """A libnfs URL for PATH ("/tenant/namespace/..."), ports given (no portmapper)."""
        return f"nfs://127.0.0.1{path}?nfsport={self.nfs_port}&mountport={self.nfs_port}&version=3"

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            rc = self.proc.wait(timeout=60)
        else:
            rc = self.proc.returncode
        self.log.close()
        return rc

    def kill(self):
        self.proc.kill()
        self.proc.wait(timeout=30)
        self.log.close()
