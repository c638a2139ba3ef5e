"""A child process of the deploy: started in its own process group, tied to its parent, its output logged.

- Its own process group, so a Ctrl-C in the terminal reaches only the
  deploy, which then stops the proxy before the replicas (in that order:
  no new visitor is sent to a replica that is going away).
- `PR_SET_PDEATHSIG`: if the deploy itself is killed (SIGKILL, OOM), Linux
  kills the child too, so no replica or proxy is left orphaned. SIGKILL,
  not SIGTERM: by then the pipe the child prints to has no reader, and
  Streamlit's SIGTERM handler prints "Stopping..." before it stops, so it
  died of the broken pipe and left the replica serving in about half the
  tries. The signal follows the *thread* that started the child, so
  children are started from the thread that runs the deploy. (A deploy
  that is asked to stop still stops each child gracefully, with SIGTERM.)
- Each line it prints is kept in its log file and handed to `on_line`
  (the deploy turns it into a JSON log line).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: graceful stop still works, a killed deploy may orphan
        pass


class Child:
    """One started process, its log file, and the thread that copies its output."""

    def __init__(self, name: str, argv: list[str], log_path: Path, env: dict[str, str] | None = None,
                 cwd: Path | None = None, on_line: Callable[[str, str], None] | None = None) -> None:
        self.name, self.log_path = name, log_path
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent)
        self._pump = threading.Thread(target=self._copy, args=(on_line,), name=f"deploy-log-{name}", daemon=True)
        self._pump.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _copy(self, on_line: Callable[[str, str], None] | None) -> None:
        assert self.proc.stdout is not None
        with open(self.log_path, "ab", buffering=0) as log:
            for raw in self.proc.stdout:
                log.write(raw)
                if on_line is not None:
                    line = raw.decode("utf-8", "replace").rstrip()
                    if line:
                        on_line(self.name, line)

    def running(self) -> bool:
        return self.proc.poll() is None

    def send(self, sig: int) -> None:
        """Send `sig` to the child's process group (the child and anything it started)."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, sig: int = signal.SIGTERM, grace: float = 10.0) -> int | None:
        """Ask it to stop, wait `grace` s, then kill its group; returns its exit code."""
        self.send(sig)
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            self.send(signal.SIGKILL)
            self.proc.wait(5)
        self._pump.join(2)
        return self.proc.returncode
