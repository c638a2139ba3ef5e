"""A log line per live session every few seconds: what each engine did, as the server saw it.

The page's status line reaches the browser through Streamlit, and on an
overloaded server Streamlit may not deliver it for many seconds (its flush
sends one message per event-loop turn, and a turn then takes 100-200 ms).
The server's log does not depend on that, so load tests and operators read
each engine's real rates here. Off by default; `MOODMUSIC_ENGINE_LOG_SECONDS=5`
turns it on (the app calls `start`), and the lines go to standard error:

    engine 7f3a: video 30.0/s in, 28.5/s read, 0.0/s late; audio 50.0/s, 0.0/s late; voice 2.0/s; errors 0

>>> line = format_line("7f3a", rates({}, {"video_frames": 60, "video_processed": 57, "audio_frames": 100,
...                                        "voice_hops": 4}, 2.0))
>>> line
'engine 7f3a: video 30.0/s in, 28.5/s read, 0.0/s late; audio 50.0/s, 0.0/s late; voice 2.0/s; errors 0'
>>> parse_line(line)["video_fps"]
28.5
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
from typing import Any

from moodmusic.live import load

log = logging.getLogger(__name__)

# counter in LiveSession.counters -> rate name in the line and in parse_line's result
_RATES = {
    "video_frames": "video_in_fps", "video_processed": "video_fps", "video_stale": "video_late_fps",
    "audio_frames": "audio_fps", "audio_stale": "audio_late_fps", "voice_hops": "voice_hops_per_s",
}
LINE = re.compile(
    r"engine (?P<engine>\w+): video (?P<video_in_fps>[\d.]+)/s in, (?P<video_fps>[\d.]+)/s read, "
    r"(?P<video_late_fps>[\d.]+)/s late; audio (?P<audio_fps>[\d.]+)/s, (?P<audio_late_fps>[\d.]+)/s late; "
    r"voice (?P<voice_hops_per_s>[\d.]+)/s; errors (?P<errors>\d+)"
)

_started: list[threading.Thread] = []
_lock = threading.Lock()


def rates(before: dict[str, int], after: dict[str, int], seconds: float) -> dict[str, float]:
    """Per-second rates of an engine's counters between two readings (`errors`: the new ones)."""
    seconds = max(seconds, 1e-9)
    out = {name: round((after.get(key, 0) - before.get(key, 0)) / seconds, 1) for key, name in _RATES.items()}
    out["errors"] = after.get("errors", 0) - before.get("errors", 0)
    return out


def format_line(engine: str, r: dict[str, float]) -> str:
    return (
        f"engine {engine}: video {r['video_in_fps']:.1f}/s in, {r['video_fps']:.1f}/s read, "
        f"{r['video_late_fps']:.1f}/s late; audio {r['audio_fps']:.1f}/s, {r['audio_late_fps']:.1f}/s late; "
        f"voice {r['voice_hops_per_s']:.1f}/s; errors {int(r['errors'])}"
    )


def parse_line(line: str) -> dict[str, Any] | None:
    """The rates in a line `format_line` wrote (anywhere in `line`), or None."""
    m = LINE.search(line)
    if m is None:
        return None
    out: dict[str, Any] = {k: float(v) for k, v in m.groupdict().items() if k not in ("engine", "errors")}
    out["engine"], out["errors"] = m["engine"], int(m["errors"])
    return out


def start(every: float) -> bool:
    """Log every registered, open session's rates (live/load.py) every `every` s from one thread; once per process."""
    if every <= 0:
        return False
    with _lock:
        if _started:
            return True
        if not log.handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
            log.addHandler(handler)
            log.setLevel(logging.INFO)
            log.propagate = False
        thread = threading.Thread(target=_report, args=(every,), name="engine-rate-log", daemon=True)
        thread.start()
        _started.append(thread)
    return True


def _report(every: float) -> None:
    last: dict[int, tuple[float, dict[str, int]]] = {}
    while True:
        time.sleep(every)
        now = time.monotonic()
        sessions = load.sessions()
        for gone in set(last) - {id(s) for s in sessions}:
            del last[gone]
        for session in sessions:
            if "video_processed" not in session.counters:  # a mood game (it counts toward the load, not here)
                continue
            counters = dict(session.counters)
            key = id(session)
            if key in last:
                then, before = last[key]
                log.info(format_line(f"{key & 0xFFFF:04x}", rates(before, counters, now - then)))
            last[key] = (now, counters)
