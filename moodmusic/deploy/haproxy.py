"""HAProxy in front of the replicas: finding it, its configuration, and asking it how the replicas are.

The configuration is a pure function of the replicas' ports, so it is read
and tested as text. Why each part is there:

- **Session affinity by cookie** (`cookie MMREPLICA insert`): every visitor
  on one machine or behind one NAT has the same address, so affinity by
  source IP would put them all on one replica. The first answer sets the
  cookie; the page's websocket, its uploads and its media URLs then reach
  the replica that holds the session's state.
- **leastconn**: a live visitor holds one websocket for as long as the page is
  open, so open connections count sessions; a new visitor goes to the
  replica with the fewest (round robin among equals).
- **Health checks** on Streamlit's `/_stcore/health` every second: a replica
  that stops answering is out within about 2 s; `option redispatch` sends a
  visitor whose cookie names a dead replica to a live one.
- **Websockets** pass through HTTP mode as they are (HAProxy ≥ 2.0);
  `timeout tunnel` keeps an open page's websocket alive for hours while
  `timeout http-request` bounds a slow request's headers.
- The WebRTC media does not pass through the proxy: the SDP travels over the
  page's websocket, and the media goes by UDP straight to the replica.
- `/_proxy/live` answers while HAProxy runs (liveness); `/_proxy/ready` is 200
  while at least one replica is up and 503 otherwise (readiness).
- Logs are one JSON object per line on stdout.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

from moodmusic.errors import UserError

COOKIE = "MMREPLICA"
BACKEND = "replicas"
INSTALL_HINT = "install it with `sudo apt-get install haproxy` (or scripts/setup.sh --dev)"

# One line per request (and per websocket, when it closes): where it went, its status and duration.
LOG_FORMAT = ('{"source":"haproxy","event":"request","at":"%tr","client":"%ci:%cp","replica":"%s",'
              '"status":%ST,"ms":%Ta,"bytes":%B,"request":"%HM %HPO","termination":"%tsc"}')


def find_haproxy() -> str:
    """The haproxy binary: `MOODMUSIC_HAPROXY` if set, else PATH, then /usr/sbin (often not on a user's PATH)."""
    chosen = os.environ.get("MOODMUSIC_HAPROXY", "").strip()
    if chosen:
        if not (Path(chosen).is_file() and os.access(chosen, os.X_OK)):
            raise UserError(f"MOODMUSIC_HAPROXY={chosen} is not an executable file; unset it or {INSTALL_HINT}")
        return chosen
    found = shutil.which("haproxy") or next((p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy")
                                             if Path(p).is_file()), None)
    if found is None:
        raise UserError(f"HAProxy is not installed: {INSTALL_HINT}")
    return found


def render_config(replicas: dict[str, int], port: int, host: str = "127.0.0.1", stats_socket: Path | None = None,
                  check_interval_ms: int = 1000, maxconn: int = 2000) -> str:
    """The whole haproxy.cfg: one frontend on host:port, one backend with a server per replica (name → port).

    >>> cfg = render_config({"r1": 8601, "r2": 8602}, 8501)
    >>> "server r2 127.0.0.1:8602 cookie r2" in cfg and "cookie MMREPLICA insert" in cfg
    True
    """
    if not replicas:
        raise ValueError("at least one replica")
    lines = [
        "global",
        "    log stdout format raw local0",
        f"    maxconn {maxconn}",
        "    hard-stop-after 5s",  # a graceful stop waits this long for open websockets, no longer
    ]
    if stats_socket is not None:
        lines.append(f"    stats socket {stats_socket} mode 600 level admin")
    lines += [
        "",
        "defaults",
        "    mode http",
        "    log global",
        f"    log-format '{LOG_FORMAT}'",
        "    option redispatch",
        "    retries 2",
        "    timeout connect 3s",
        "    timeout client 60s",
        "    timeout server 60s",
        "    timeout http-request 10s",
        "    timeout queue 10s",
        "    timeout tunnel 4h",
        "    timeout check 3s",  # a busy replica answers its health check late, not never
        "    timeout client-fin 5s",
        "",
        "frontend web",
        f"    bind {host}:{port}",
        f"    acl some_replica_up nbsrv({BACKEND}) ge 1",
        '    http-request return status 200 content-type text/plain string "live" if { path /_proxy/live }',
        '    http-request return status 200 content-type text/plain string "ready" '
        "if { path /_proxy/ready } some_replica_up",
        '    http-request return status 503 content-type text/plain string "no replica is up" '
        "if { path /_proxy/ready }",
        f"    default_backend {BACKEND}",
        "",
        f"backend {BACKEND}",
        "    balance leastconn",
        f"    cookie {COOKIE} insert indirect nocache httponly attr SameSite=Lax",
        "    option httpchk GET /_stcore/health",
        "    http-check expect status 200",
        f"    default-server check inter {check_interval_ms} fall 2 rise 2 on-marked-down shutdown-sessions",
    ]
    lines += [f"    server {name} 127.0.0.1:{p} cookie {name}" for name, p in replicas.items()]
    return "\n".join(lines) + "\n"


def check_config(binary: str, path: Path) -> None:
    """`haproxy -c`: a configuration this HAProxy refuses becomes one line, before anything starts."""
    proc = subprocess.run([binary, "-c", "-f", str(path)], capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        reason = next((line for line in (proc.stderr + proc.stdout).splitlines() if "ALERT" in line),
                      (proc.stderr or proc.stdout).strip()[-300:])
        raise UserError(f"HAProxy refused its configuration ({path}): {reason}")


def show_stat(stats_socket: Path, timeout: float = 2.0) -> dict[str, dict[str, str]]:
    """HAProxy's `show stat` for the replicas: name → its row (status, scur current sessions, stot total, ...)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(stats_socket))
        s.sendall(b"show stat\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    lines = data.decode("utf-8", "replace").splitlines()
    if not lines or not lines[0].startswith("# "):
        return {}
    header = lines[0][2:].split(",")
    out = {}
    for line in lines[1:]:
        row = dict(zip(header, line.split(",")))
        if row.get("pxname") == BACKEND and row.get("svname") not in ("BACKEND", "FRONTEND", None):
            out[row["svname"]] = row
    return out


def server_states(stats_socket: Path, timeout: float = 2.0) -> dict[str, str]:
    """Each replica's state as HAProxy's health checks see it now ("UP", "DOWN", "UP 1/2", ...)."""
    return {name: row.get("status", "") for name, row in show_stat(stats_socket, timeout).items()}
