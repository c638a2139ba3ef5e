"""A real TURN server for tests: Debian's coturn on loopback, with its own config, port and log.

`start_coturn` writes a config in a temporary folder (long-term credentials
user/password, or a TURN REST API secret for time-limited credentials),
starts `turnserver` on a free port of 127.0.0.1, and returns once the port
answers a STUN binding request. The log, read by `TurnServer.log`, is what
proves a session went through the relay: the allocation, the permissions
and channel binds for the server's address, and the bytes relayed.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

TURNSERVER = shutil.which("turnserver") or "/usr/bin/turnserver"
REALM = "moodmusic.test"

# A STUN Binding request: type 0x0001, length 0, the magic cookie, a 12-byte transaction id.
_BINDING = bytes.fromhex("0001" "0000" "2112a442") + b"moodmusic-tu"


@dataclass
class TurnServer:
    """A running coturn: its port, the folder holding its config and log, and the process."""

    port: int
    folder: Path
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"turn:127.0.0.1:{self.port}?transport=udp"

    def log(self) -> str:
        path = self.folder / "turn.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def available() -> str | None:
    """None when coturn can run here, else why not (the reason a test skips with)."""
    if not Path(TURNSERVER).exists():
        return "coturn's turnserver is needed (scripts/setup.sh --dev installs the Debian package coturn)"
    return None


def free_udp_port() -> int:
    """A port free for both UDP and TCP on loopback (coturn listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            with socket.socket() as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port on loopback")


def stun_answers(port: int, timeout: float = 0.5) -> bool:
    """True when a STUN Binding request to 127.0.0.1:port gets a Binding success response."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(_BINDING, ("127.0.0.1", port))
            data, _ = s.recvfrom(2048)
        except OSError:
            return False
    return data[:2] == b"\x01\x01" and data[8:20] == _BINDING[8:20]


def relay_ports(port: int) -> tuple[int, int]:
    """A small relay port range above the listening port (coturn's default range may be busy or blocked)."""
    low = 20000 + (port * 7) % 30000
    return low, low + 200


def start_coturn(
    folder: Path, user: str | None = "moodmusic", password: str = "relay-only", secret: str | None = None,
    timeout: float = 15.0, port: int | None = None,
) -> TurnServer:
    """coturn on 127.0.0.1 with long-term credentials `user`:`password`, or, with `secret`, the TURN REST API.

    Loopback only: it listens and relays on 127.0.0.1, lets peers on loopback be
    reached (`allow-loopback-peers`, since the app server is one), and opens no
    TLS, no CLI and no database. `port`: listen there (e.g. to restart a stopped
    server where its clients look for it); default, a free one.
    """
    reason = available()
    if reason:
        raise RuntimeError(reason)
    folder.mkdir(parents=True, exist_ok=True)
    port = port or free_udp_port()
    low, high = relay_ports(port)
    lines = [
        f"listening-port={port}", "listening-ip=127.0.0.1", "relay-ip=127.0.0.1",
        f"min-port={low}", f"max-port={high}", f"realm={REALM}", "fingerprint",
        "allow-loopback-peers", "no-tls", "no-dtls", "no-cli", "no-multicast-peers",
        f"log-file={folder / 'turn.log'}", "simple-log", "no-stdout-log", "verbose",
        f"pidfile={folder / 'turn.pid'}", f"userdb={folder / 'turndb.sqlite'}",
    ]
    if secret is not None:
        lines += ["use-auth-secret", f"static-auth-secret={secret}"]
    else:
        lines += ["lt-cred-mech", f"user={user}:{password}"]
    config = folder / "turnserver.conf"
    config.write_text("\n".join(lines) + "\n")
    process = subprocess.Popen(
        [TURNSERVER, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        env={k: v for k, v in os.environ.items() if k != "TURN_CONFIG"},
    )
    server = TurnServer(port, folder, process)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"turnserver exited with {process.returncode}: {server.log()[-1500:]}")
        if stun_answers(port):
            return server
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"turnserver did not answer on port {port}: {server.log()[-1500:]}")


def relayed(log: str) -> dict[str, int]:
    """What coturn's log says went through it: allocations, channel binds, permissions, relayed bytes.

    coturn (verbose) logs a line per ALLOCATE, CHANNEL_BIND and
    CREATE_PERMISSION request it answered with success and, when a session
    ends, its counters: "peer usage: ... rp=, rb=, sp=, sb=" are the packets and
    bytes the relay received from the peer and sent to it.
    """
    def count(pattern: str) -> int:
        return len(re.findall(pattern, log))

    usage = [(int(rb), int(sb)) for rb, sb in re.findall(r"peer usage:.*?rb=(\d+),.*?sb=(\d+)", log)]
    return {
        "allocations": count(r"ALLOCATE processed, success"),
        "channel_binds": count(r"CHANNEL_BIND processed, success"),
        "permissions": count(r"CREATE_PERMISSION processed, success"),
        "bytes_from_peers": sum(rb for rb, _ in usage),
        "bytes_to_peers": sum(sb for _, sb in usage),
    }
