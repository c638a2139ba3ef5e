"""What a set of processes costs this machine, read from /proc: CPU cores over a window, resident memory.

The live benchmarks meter the app server, the browser and their own load
generator from outside, each as the processes or threads it is (Linux only).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path


def _stat_cpu_seconds(stat: Path) -> float:
    """User + system CPU time from a /proc `stat` file, of a process or one of its threads (0 once gone)."""
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its threads (0 once it is gone)."""
    return _stat_cpu_seconds(Path(f"/proc/{pid}/stat"))


def rss_mb(pid: int) -> float:
    """Resident memory of a process now, in MB (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def process_tree(root: int) -> set[int]:
    """`root` and every process below it, from /proc (Chromium runs as a tree of processes)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, ()))
    return found


class CpuMeter:
    """CPU cores used by a set of processes over a window; processes born inside it count in full."""

    def __init__(self, pids: Callable[[], set[int]]) -> None:
        self.pids = pids
        self.t0 = time.monotonic()
        self.start = {pid: _cpu_seconds(pid) for pid in pids()}

    def cores(self) -> float:
        end = {pid: _cpu_seconds(pid) for pid in self.pids()}
        used = sum(max(0.0, t - self.start.get(pid, 0.0)) for pid, t in end.items())
        return used / max(1e-6, time.monotonic() - self.t0)


class ThreadCpuMeter:
    """CPU cores used by one process's threads over a window, by OS thread name (`comm`).

    The engine names its own threads (moodmusic-video, moodmusic-voice), so
    this splits a session's server CPU into the engine's work and the rest
    (aiortc's loop, codecs and Streamlit). Threads born inside the window count in full.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.t0 = time.monotonic()
        self.start = self._threads()

    def _threads(self) -> dict[int, tuple[str, float]]:
        out = {}
        task = Path(f"/proc/{self.pid}/task")
        try:
            tids = [int(t.name) for t in task.iterdir()]
        except OSError:
            return out
        for tid in tids:
            try:
                name = (task / str(tid) / "comm").read_text().strip()
            except OSError:  # the thread ended meanwhile
                continue
            out[tid] = (name, _stat_cpu_seconds(task / str(tid) / "stat"))
        return out

    def cores_by_name(self) -> dict[str, float]:
        seconds = max(1e-6, time.monotonic() - self.t0)
        used: dict[str, float] = {}
        for tid, (name, t) in self._threads().items():
            before = self.start.get(tid, (name, 0.0))[1]
            used[name] = used.get(name, 0.0) + max(0.0, t - before) / seconds
        return used


class MachineCpuMeter:
    """Busy cores of the whole machine over a window, from /proc/stat (what every process together used)."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.start = self._busy_seconds()

    @staticmethod
    def _busy_seconds() -> float:
        try:
            fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        except (OSError, ValueError, IndexError):
            return 0.0
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")

    def cores(self) -> float:
        return max(0.0, self._busy_seconds() - self.start) / max(1e-6, time.monotonic() - self.t0)
