"""`deploy local`: N `streamlit run app.py` replicas on loopback and HAProxy in front, on one machine.

One Streamlit process carries every session's media, engines and page on
one event loop and one GIL; replicas are separate processes, so N of them
use N cores' worth of Python. What this module adds to the parts it starts:

- free loopback ports for the replicas, checked before anything starts, and
  a clear line when the proxy's port is taken or HAProxy is missing;
- one cookie secret for all replicas (Streamlit signs its XSRF cookie with
  it: an upload prepared on one replica is accepted by another after a
  failover);
- the environment passed through unchanged, so `MOODMUSIC_DB` (one history
  for every replica: SQLite on one machine, PostgreSQL across machines),
  `MOODMUSIC_ICE_SERVERS` and the rest reach every replica;
- a supervisor loop: a replica that exits is logged and, with `restart`,
  started again on its port after a backoff (HAProxy's health check takes it
  back in); HAProxy's state changes and every child's output become JSON
  log lines;
- a graceful stop on SIGINT/SIGTERM: the proxy first (no new visitors), then
  the replicas, each given 10 s before it is killed; none is left behind.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import socket
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from collections.abc import Collection
from pathlib import Path

from moodmusic.config import ROOT
from moodmusic.deploy import haproxy
from moodmusic.deploy.process import Child
from moodmusic.errors import UserError

log = logging.getLogger("moodmusic.deploy")

MAX_REPLICAS = 16
STREAMLIT_FLAGS = ("--server.headless", "true", "--browser.gatherUsageStats", "false",
                   "--server.fileWatcherType", "none", "--runner.postScriptGC", "false")


def port_free(host: str, port: int) -> bool:
    """Whether a TCP server could listen on host:port now."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_ports(n: int, avoid: Collection[int] = ()) -> list[int]:
    """`n` distinct loopback ports nothing listens on at the moment."""
    ports: list[int] = []
    while len(ports) < n:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            p = s.getsockname()[1]
        if p not in ports and p not in avoid:
            ports.append(p)
    return ports


def http_ok(url: str, timeout: float = 1.0) -> bool:
    """Whether `url` answers 200 now (a health check)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return answer.status == 200
    except OSError:
        return False


@dataclass
class Replica:
    """One app process: its name (the cookie value), its port and its current process."""

    name: str
    port: int
    child: Child | None = None
    started_at: float = 0.0
    restarts: int = 0
    failures: int = 0  # quick exits in a row: the restart backoff grows with them
    next_start: float | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class LocalDeploy:
    """Replicas + HAProxy on this machine; a context manager (start on enter, stop on exit).

    `env`: extra variables for the replicas on top of this process's
    environment. `run_dir`: where the configuration, the stats socket and each
    child's log go (a temporary folder by default, removed on stop).
    `echo`: log each request and each replica's output lines too (HAProxy's state changes always are).
    Start and stop it from one thread (children die with the thread that started them).
    """

    replicas: int
    port: int
    host: str = "127.0.0.1"
    env: dict[str, str] = field(default_factory=dict)
    run_dir: Path | None = None
    restart: bool = True
    echo: bool = True
    start_timeout: float = 120.0
    app: Path = ROOT / "app.py"
    members: list[Replica] = field(default_factory=list, init=False)
    proxy: Child | None = field(default=None, init=False)
    ready: bool = field(default=False, init=False)  # every child started and answering ("ready" is logged)
    _tmp: tempfile.TemporaryDirectory | None = field(default=None, init=False, repr=False)
    _states: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def stats_socket(self) -> Path:
        assert self.run_dir is not None
        return self.run_dir / "haproxy.sock"

    # ------------------------------------------------------------------ start
    def start(self) -> None:
        if not 1 <= self.replicas <= MAX_REPLICAS:
            raise UserError(f"--replicas takes 1 to {MAX_REPLICAS}, got {self.replicas}")
        if not 0 < self.port < 65536:
            raise UserError(f"--port must be between 1 and 65535, got {self.port}")
        binary = haproxy.find_haproxy()
        if not port_free(self.host, self.port):
            raise UserError(f"port {self.port} on {self.host} is taken (is another server running there?); "
                            "choose another with --port")
        if self.run_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="moodmusic-deploy-")
            self.run_dir = Path(self._tmp.name)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        ports = free_ports(self.replicas, avoid={self.port})
        self.members = [Replica(f"r{i + 1}", p) for i, p in enumerate(ports)]
        config = self.run_dir / "haproxy.cfg"
        config.write_text(haproxy.render_config({r.name: r.port for r in self.members}, self.port, self.host,
                                                self.stats_socket))
        haproxy.check_config(binary, config)
        secret = self.env.get("STREAMLIT_SERVER_COOKIE_SECRET") or secrets.token_hex(32)
        self._replica_env = {**os.environ, **self.env, "STREAMLIT_SERVER_COOKIE_SECRET": secret}
        try:
            for r in self.members:
                self._start_replica(r)
            self._wait_replicas()
            # -db: stay in the foreground, so the deploy owns it.
            self.proxy = Child("haproxy", [binary, "-db", "-f", str(config)], self.run_dir / "haproxy.log",
                               on_line=self._on_line)
            self._wait_proxy()
        except BaseException:
            self.stop()
            raise
        self.ready = True
        log.info("deploy ready", extra={"event": "ready", "url": self.url, "replicas": {
            r.name: r.port for r in self.members}, "proxy_pid": self.proxy.pid, "run_dir": str(self.run_dir)})

    def _start_replica(self, r: Replica) -> None:
        assert self.run_dir is not None
        argv = [sys.executable, "-m", "streamlit", "run", str(self.app), "--server.port", str(r.port),
                "--server.address", "127.0.0.1", *STREAMLIT_FLAGS]
        env = {**self._replica_env, "MOODMUSIC_REPLICA": r.name}
        r.child = Child(r.name, argv, self.run_dir / f"{r.name}.log", env=env, cwd=ROOT,
                        on_line=self._on_line if self.echo else None)
        r.started_at, r.next_start = time.monotonic(), None
        log.info("replica starting", extra={"event": "replica_start", "replica": r.name, "port": r.port,
                                            "pid": r.child.pid, "restarts": r.restarts})

    def _wait_replicas(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        waiting = list(self.members)
        while waiting:
            for r in list(waiting):
                assert r.child is not None
                if not r.child.running():
                    tail = r.child.log_path.read_text(errors="replace")[-600:] if r.child.log_path.exists() else ""
                    raise UserError(f"replica {r.name} exited while starting (code {r.child.proc.returncode}): "
                                    + " | ".join(tail.strip().splitlines()[-3:]))
                if http_ok(r.url + "/_stcore/health"):
                    waiting.remove(r)
                    log.info("replica healthy", extra={"event": "replica_healthy", "replica": r.name,
                                                       "seconds": round(time.monotonic() - r.started_at, 1)})
            if waiting and time.monotonic() > deadline:
                raise UserError(f"replicas {', '.join(r.name for r in waiting)} did not answer their health check "
                                f"within {self.start_timeout:.0f} s; see their logs in {self.run_dir}")
            if waiting:
                time.sleep(0.3)

    def _wait_proxy(self) -> None:
        deadline = time.monotonic() + 15
        while not http_ok(self.url + "/_proxy/ready"):
            assert self.proxy is not None
            if not self.proxy.running():
                tail = self.proxy.log_path.read_text(errors="replace")[-400:]
                raise UserError(f"HAProxy exited at start (code {self.proxy.proc.returncode}): {tail.strip()}")
            if time.monotonic() > deadline:
                raise UserError(f"HAProxy did not become ready on {self.url} within 15 s")
            time.sleep(0.2)

    # ------------------------------------------------------------------ logs
    def _on_line(self, source: str, line: str) -> None:
        """A child's output line as a JSON log line: HAProxy's are JSON already, others are wrapped."""
        if source == "haproxy" and line.startswith(("[WARNING]", "[NOTICE]")):
            return  # HAProxy repeats these on its log (stdout), which is logged
        if line.startswith("{"):
            try:
                fields = json.loads(line)
            except ValueError:
                fields = None
            if isinstance(fields, dict):
                if not self.echo and fields.get("event") == "request":
                    return
                fields.pop("message", None)
                log.info("%s %s", fields.get("request", ""), fields.get("status", ""), extra=fields)
                return
        log.info(line, extra={"source": source, "event": "output"})

    # ------------------------------------------------------------------ supervise
    def states(self) -> dict[str, str]:
        """Each replica's state in HAProxy's health checks (UP/DOWN); {} when the proxy cannot be asked."""
        try:
            return haproxy.server_states(self.stats_socket)
        except OSError:
            return {}

    def check(self) -> None:
        """One supervision step: log exits and health changes; restart exited replicas when due."""
        now = time.monotonic()
        for r in self.members:
            if r.child is None:
                continue
            if not r.child.running() and r.next_start is None:
                lived = now - r.started_at
                r.failures = 0 if lived > 60 else r.failures + 1
                log.warning("replica exited", extra={"event": "replica_exit", "replica": r.name,
                                                     "code": r.child.proc.returncode, "lived_s": round(lived, 1)})
                if self.restart:
                    r.next_start = now + min(30.0, 2.0 ** r.failures)
                else:
                    r.next_start = float("inf")
            if r.next_start is not None and now >= r.next_start:
                r.restarts += 1
                self._start_replica(r)
        if self.proxy is not None:
            states = self.states()
            for name, state in states.items():
                if self._states.get(name) != state:
                    log.info("replica %s is %s", name, state, extra={"event": "replica_state", "replica": name,
                                                                    "state": state})
            self._states = states or self._states

    def serve_forever(self, interval: float = 1.0) -> int:
        """Supervise until SIGINT/SIGTERM or the proxy dies; then stop everything. Returns an exit code."""
        stop = threading.Event()
        old = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
        code = 0
        try:
            while not stop.wait(interval):
                if self.proxy is not None and not self.proxy.running():
                    log.error("haproxy exited", extra={"event": "proxy_exit", "code": self.proxy.proc.returncode})
                    code = 1
                    break
                self.check()
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)
            self.stop()
        return code

    # ------------------------------------------------------------------ stop
    def stop(self) -> None:
        """The proxy first (SIGUSR1: stop listening, let open connections finish for up to 5 s), then the replicas."""
        if self.proxy is not None:
            code = self.proxy.stop(signal.SIGUSR1, grace=7.0)
            log.info("haproxy stopped", extra={"event": "proxy_stopped", "code": code})
            self.proxy = None
        running = [r for r in self.members if r.child is not None and r.child.running()]
        for r in running:
            r.child.send(signal.SIGTERM)  # type: ignore[union-attr]
        for r in self.members:
            if r.child is not None:
                code = r.child.stop(signal.SIGTERM, grace=10.0)
                if r in running:
                    log.info("replica stopped", extra={"event": "replica_stopped", "replica": r.name, "code": code})
            r.next_start = float("inf")
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> LocalDeploy:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
