"""Follows the README's Quick start and "Using it" sections as written: the
commands are read out of README.md, so the two cannot drift apart."""
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from kiseki_server import BUILD

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def section(text, title):
    start = text.index("## " + title + "\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else len(text)]


def sh_blocks(text):
    return re.findall(r"```sh\n(.*?)```", text, re.S)


def port_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def test_readme_quick_start_and_using_it(tmp_path):
    readme = open(os.path.join(REPO, "README.md")).read()
    quick = sh_blocks(section(readme, "Quick start"))
    using = sh_blocks(section(readme, "Using it"))
    assert "make run" in quick[0] and "make test" in quick[0]
    assert using, "the README shows how to use it"
    # The README's commands name the default ports: they must be free here.
    busy = [p for p in (9000, 9090, 2049, 9100) if not port_free(p)]
    assert not busy, f"ports {busy} are in use: stop the server on them to run the README's examples"

    # The reader's checkout: ./build and a fresh ./var.
    work = tmp_path / "checkout"
    work.mkdir()
    os.symlink(BUILD, work / "build")
    log = open(tmp_path / "make-run.log", "w")
    # `make run` (the Quick start) on a fresh data directory.
    run = subprocess.Popen(["make", "-C", REPO, "run", f"BUILD={BUILD}", f"DATA_DIR={work / 'var'}"],
                           stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                           env={k: v for k, v in os.environ.items() if not k.startswith("KISEKI_")})
    try:
        deadline = time.time() + 120
        while True:
            try:
                with urllib.request.urlopen("http://127.0.0.1:9090/ready", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert run.poll() is None, open(tmp_path / "make-run.log").read()
            assert time.time() < deadline, "make run did not get ready"
            time.sleep(0.2)
        banner = open(tmp_path / "make-run.log").read()
        for where in ("http://127.0.0.1:9000", "http://127.0.0.1:9090/ui", "var/credentials", "var/admin-token"):
            assert where in banner, f"the start banner says {where}"

        # Every other block of both sections, in order, in one shell, as a reader
        # would type them in the checkout.
        script = "set -euo pipefail\n" + "".join(quick[1:]) + "".join(using)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KISEKI_"))}
        env["AWS_CONFIG_FILE"] = "/dev/null"
        r = subprocess.run(["bash", "-c", script], cwd=work, capture_output=True, text=True, timeout=300, env=env)
        assert r.returncode == 0, f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}"
        out = r.stdout
        assert "created tenant acme" in out and "created namespace photos of tenant acme" in out
        assert "created user alice of tenant acme" in out and "access key for tenant acme, user alice" in out
        assert "2026/big.bin" in out and "hello over NFS" in out
        assert re.search(r"pictures\s+2\s+2\s+0\s+38\.1 MiB\s+19\.\d MiB\s+(1\.9\d|2\.00)×", out), out
        assert "No problems found." in out
        assert "tenant acme crypto-shredded" in out
        assert os.path.isfile(work / "backup-1" / "kiseki-backup.json")
        assert (work / "copy.bin").read_bytes() == (work / "big.bin").read_bytes()
    finally:
        os.killpg(run.pid, signal.SIGTERM)
        try:
            run.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
        log.close()
