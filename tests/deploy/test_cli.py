"""`python -m moodmusic deploy local` as a person runs it: one-line errors, JSON logs, a clean stop, no orphans."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from moodmusic.bench.page import free_port
from moodmusic.deploy.haproxy import check_config, render_config
from tests.deploy.conftest import haproxy_or_skip

ROOT = Path(__file__).resolve().parents[2]


def deploy_cli(*args: str, env: dict[str, str] | None = None, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "moodmusic", "deploy", "local", *args], cwd=ROOT,
                            env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kw)


def one_line_error(proc: subprocess.Popen) -> str:
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "Traceback" not in err, err
    return err


def test_the_rendered_configuration_is_one_haproxy_accepts(tmp_path):
    binary = haproxy_or_skip()
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(render_config({"r1": 8601, "r2": 8602, "r3": 8603}, 8501, stats_socket=tmp_path / "s.sock"))
    check_config(binary, cfg)  # raises on a configuration HAProxy refuses


def test_missing_haproxy_is_one_line_saying_how_to_install_it():
    err = one_line_error(deploy_cli("--port", str(free_port()), env={"MOODMUSIC_HAPROXY": "/nonexistent/haproxy"}))
    assert "apt-get install haproxy" in err and "setup.sh --dev" in err


def test_a_taken_port_is_one_line():
    haproxy_or_skip()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        err = one_line_error(deploy_cli("--port", str(s.getsockname()[1])))
    assert "is taken" in err and "--port" in err


def test_replicas_out_of_range_is_one_line():
    haproxy_or_skip()
    assert "--replicas" in one_line_error(deploy_cli("--replicas", "0", "--port", str(free_port())))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _start(port: int) -> tuple[subprocess.Popen, list[dict], list[int]]:
    """The command with one replica, until it is ready: (process, its log lines so far, its children's pids)."""
    proc = deploy_cli("--replicas", "1", "--port", str(port), "--quiet")
    lines: list[dict] = []
    assert proc.stderr is not None
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        if line.startswith("{"):
            lines.append(json.loads(line))  # every log line is one JSON object
            if lines[-1].get("event") == "ready":
                break
    ready = [x for x in lines if x.get("event") == "ready"]
    assert ready, f"not ready: {lines}"
    children = [x["pid"] for x in lines if x.get("event") == "replica_start"] + [ready[0]["proxy_pid"]]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_proxy/ready", timeout=10) as answer:
        assert answer.status == 200
    return proc, lines, children


def test_sigterm_stops_the_proxy_then_the_replicas_and_leaves_nothing_behind():
    haproxy_or_skip()
    port = free_port()
    proc, _, children = _start(port)
    assert all(_alive(pid) for pid in children)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    events = [json.loads(x).get("event") for x in err.splitlines() if x.startswith("{")]
    assert events.index("proxy_stopped") < events.index("replica_stopped"), events
    assert not any(_alive(pid) for pid in children)


def test_a_killed_deploy_takes_its_children_with_it():
    """SIGKILL gives the deploy no chance to stop anything: the children go because the kernel tells them to."""
    haproxy_or_skip()
    proc, _, children = _start(free_port())
    proc.kill()
    proc.wait(10)
    # The kernel kills each child (PR_SET_PDEATHSIG). With SIGTERM instead, a replica's Streamlit
    # printed "Stopping..." to the dead deploy's pipe, died of it in its handler and went on serving,
    # in about half the tries; this loop found it. Exiting takes well under a second; a loaded box
    # may need more to reap.
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [(pid, Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:120]) for pid in children
            if _alive(pid)]
    for pid, _ in left:  # never leave them to the next test
        os.kill(pid, signal.SIGKILL)
    assert not left, f"orphans: {left}"


def test_bench_replicas_and_url_go_with_aiortc_sessions():
    for extra in (["--replicas", "1"], ["--sessions", "1", "--replicas", "1"],
                  ["--sessions", "1", "--client", "aiortc", "--replicas", "1", "--url", "http://127.0.0.1:1"],
                  ["--sessions", "1", "--client", "aiortc", "--url", "ftp://x"]):
        proc = subprocess.run([sys.executable, "-m", "moodmusic", "bench", "--iterations", "20", *extra],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2 and ("--replicas" in proc.stderr or "--url" in proc.stderr), proc.stderr
        assert "Traceback" not in proc.stderr


def test_sigterm_while_starting_stops_what_has_started():
    haproxy_or_skip()
    proc = deploy_cli("--replicas", "2", "--port", str(free_port()), "--quiet")
    assert proc.stderr is not None
    pids = []
    while len(pids) < 2:  # both replicas started, neither ready yet (or just)
        line = proc.stderr.readline()
        assert line, "the deploy ended before starting its replicas"
        if '"replica_start"' in line:
            pids.append(json.loads(line)["pid"])
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode in (0, 130) and "Traceback" not in err, err
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in pids)
