"""kiseki-profile against a live kiseki-server: the JSON is well formed and its
request counts agree with the server's /metrics counters."""
import json
import os
import re
import subprocess

import pytest

from kiseki_server import BUILD, Server

PROFILE = os.path.join(BUILD, "src", "tools", "profile", "kiseki-profile")


def s3_requests(server, op):
    _, text = server.get("/metrics")
    m = re.search(r'^kiseki_s3_requests_total\{op="%s"\} (\d+)$' % op, text, re.M)
    return int(m.group(1)) if m else 0


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(str(tmp_path_factory.mktemp("profile") / "data"))
    yield s
    s.stop()


def profile(server, tmp_path, *args):
    ak, sk = server.root_credentials()
    out = tmp_path / "run.json"
    r = subprocess.run([PROFILE, "--driver", "s3", "--endpoint", server.s3_endpoint, "--access-key", ak,
                        "--secret-key", sk, "--duration", "2", "--concurrency", "4", "--warmup", "32",
                        "--server-pid", str(server.proc.pid), "--json", str(out), *args],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in out.read_text().splitlines()], r.stdout


@pytest.mark.parametrize("shape,op,kind", [("put-heavy", "PutObject", "put"), ("get-heavy", "GetObject", "get"),
                                           ("stat", "HeadObject", "head")])
def test_counts_agree_with_server_metrics(server, tmp_path, shape, op, kind):
    before = s3_requests(server, op)
    before_put = s3_requests(server, "PutObject")
    runs, table = profile(server, tmp_path, "--shape", shape, "--size", "16KiB")
    assert len(runs) == 1
    r = runs[0]
    assert r["shape"] == shape and r["driver"] == "s3" and r["size_bytes"] == 16384
    assert r["ops"] > 0 and r["error_count"] == 0
    assert r["ops_per_sec"] > 0 and abs(r["ops_per_sec"] * r["duration_seconds"] - r["ops"]) < 1
    lat = r["latency_us"]
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p999"] <= lat["max"]
    assert r["cpu"]["harness_us_per_op"] > 0 and r["cpu"]["server_us_per_op"] > 0
    # Every request the harness sent, warm-up included, shows in the server's counters.
    assert s3_requests(server, op) - before == r["requests_sent"][kind]
    if kind != "put":
        assert s3_requests(server, "PutObject") - before_put == r["requests_sent"]["put"] == 32
    assert shape in table


def test_matrix_and_bad_options(server, tmp_path):
    runs, table = profile(server, tmp_path, "--matrix", "--shape", "put-heavy,mixed,list", "--duration", "1")
    assert [r["shape"] for r in runs] == ["put-heavy", "mixed", "list"]
    assert "| Protocol | put-heavy | mixed | list |" in table and "Tail latency p99" in table
    for bad in (["--shape", "sideways"], ["--size", "12PB"], ["--driver", "carrier-pigeon"], ["--keys", "gauss"]):
        r = subprocess.run([PROFILE, *bad, "--duration", "1"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 2, bad


def test_inprocess_and_fs_drivers(tmp_path):
    for args in (["--driver", "inprocess"], ["--driver", "fs", "--path", str(tmp_path / "mnt")]):
        out = tmp_path / "r.json"
        r = subprocess.run([PROFILE, *args, "--shape", "get-heavy", "--duration", "1", "--concurrency", "2",
                            "--warmup", "16", "--size", "4KiB", "--json", str(out)],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        run = json.loads(out.read_text())
        assert run["ops"] > 0 and run["error_count"] == 0 and run["mib_per_sec"] > 0


def nfs_requests(server, proc):
    _, text = server.get("/metrics")
    m = re.search(r'^kiseki_nfs_requests_total\{proc="%s"\} (\d+)$' % proc, text, re.M)
    return int(m.group(1)) if m else 0


@pytest.mark.parametrize("shape,proc,kind", [("put-heavy", "WRITE", "put"), ("get-heavy", "READ", "get"),
                                             ("list", "READDIRPLUS", "list")])
def test_nfs3_driver_counts_agree_with_server_metrics(server, tmp_path, shape, proc, kind):
    """The nfs3 driver (libnfs async API) against the live server's NFS port."""
    server.cli("namespace", "create", "default", f"prof-{kind}")
    url = f"nfs://127.0.0.1/default/prof-{kind}?nfsport={server.nfs_port}&mountport={server.nfs_port}&version=3"
    before = nfs_requests(server, proc)
    out = tmp_path / "nfs.json"
    r = subprocess.run([PROFILE, "--driver", "nfs3", "--endpoint", url, "--shape", shape, "--duration", "2",
                        "--concurrency", "4", "--warmup", "16", "--list-entries", "300",
                        "--server-pid", str(server.proc.pid), "--json", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    run = json.loads(out.read_text())
    assert run["ops"] > 0 and run["errors"] == {}
    # 64 KiB is one WRITE or READ per operation (wtmax/rtmax are 1 MiB); a 300-entry
    # listing fits one READDIRPLUS reply only if the server ignored maxcount: more.
    calls = nfs_requests(server, proc) - before
    if kind == "list":
        assert calls >= 2 * run["requests_sent"]["list"]
    else:
        assert calls == run["requests_sent"][kind]
    assert run["cpu"]["server_us_per_op"] > 0
