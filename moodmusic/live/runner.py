"""Watch a running LiveSession and report each change of mood: the loop behind `python -m moodmusic live`.

A source (camera and microphone, or a file) feeds the session on its own
threads; `watch` only polls `session.snapshot()` and calls `on_change` when
what the engine shows changes: a new mood, or, while there is none, a new
state ("no face", "silence", "no signal"). It returns a summary: how long it
ran, how long each mood was shown, the engine's counters and why it stopped.
Ctrl-C ends it cleanly with the summary, not a traceback: while watching,
Ctrl-C only sets a flag the loop polls. A KeyboardInterrupt raised wherever
the main thread happens to be can land between a lock's acquire and the
`with` block that would release it (CPython bpo-29988), and the summary's
own `snapshot()` then waits on that lock for ever.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from moodmusic.live.session import Evidence, LiveSession, Snapshot
from moodmusic.moods import MOODS


@dataclass(frozen=True)
class MoodChange:
    """What the engine shows now, at `t` seconds after watching began."""

    t: float
    snapshot: Snapshot

    @property
    def mood(self) -> str | None:
        return self.snapshot.mood

    @property
    def label(self) -> str:
        """The mood, or the state when there is none."""
        return self.snapshot.mood or self.snapshot.state

    def to_dict(self) -> dict:
        s = self.snapshot
        return {
            "event": "mood" if s.mood else "state",
            "t": round(self.t, 3),
            "mood": s.mood,
            "confidence": round(float(s.confidence), 4),
            "state": s.state,
            "face_state": s.face_state,
            "voice_state": s.voice_state,
            "face": evidence_dict(s.face),
            "voice": evidence_dict(s.voice),
        }


def evidence_dict(e: Evidence | None) -> dict | None:
    """One modality's evidence as plain JSON (mood, probabilities by name, quality, weight, age)."""
    if e is None:
        return None
    return {
        "mood": e.mood,
        "probs": {m: round(float(p), 4) for m, p in zip(MOODS, e.probs)},
        "quality": round(float(e.quality), 4),
        "weight": round(float(e.weight), 4),
        "age": round(float(e.age), 3),
    }


def tracks_for(recommender: Any, mood: str, strategy: str, n: int) -> list[dict]:
    """`n` tracks for `mood` from a `moodmusic.music.Recommender` (none without one), as plain JSON."""
    if recommender is None or n == 0:
        return []
    recs = recommender.recommend(mood, strategy, n=n)
    return [{"name": r.track.name, "artist": r.track.artist, "id": r.track.id,
             "embed_url": r.track.embed_url, "reason": r.reason} for r in recs.tracks]


def _evidence_text(name: str, e: dict | None) -> str:
    if e is None:
        return f"{name} -"
    return f"{name} {e['mood']} {e['probs'][e['mood']]:.0%} (weight {e['weight']:.2f})"


def event_text(event: dict) -> str:
    """One line for a change (`MoodChange.to_dict()`, with the `tracks` suggested for it, if any)."""
    head = f"{event['t']:7.1f}s  "
    if event["mood"] is None:
        return head + f"({event['state']})"
    parts = [f"{event['mood'].upper()} {event['confidence']:.0%}",
             _evidence_text("face", event["face"]), _evidence_text("voice", event["voice"])]
    line = head + "  ".join(parts)
    if event.get("tracks"):
        line += "  ♪ " + " | ".join(f"{t['name']} — {t['artist'] or 'unknown'}" for t in event["tracks"])
    return line


@dataclass
class Summary:
    seconds: float = 0.0
    changes: int = 0
    moods: dict[str, float] = field(default_factory=dict)  # seconds each mood was shown
    last: str | None = None  # the last mood or state shown
    stopped_by: str = ""  # "time" | "source ended" | "interrupted"
    counters: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "event": "summary", "seconds": round(self.seconds, 2), "changes": self.changes,
            "moods": {m: round(s, 2) for m, s in sorted(self.moods.items(), key=lambda kv: -kv[1])},
            "last": self.last, "stopped_by": self.stopped_by, "counters": self.counters,
        }

    def text(self) -> str:
        reason = {"time": "time is up", "source ended": "the file ended", "interrupted": "stopped",
                  "closed": "window closed"}.get(self.stopped_by, self.stopped_by)
        shown = ", ".join(f"{m} {s:.0f}s" for m, s in sorted(self.moods.items(), key=lambda kv: -kv[1])) or "no mood"
        c = self.counters
        return (f"{reason}: watched {self.seconds:.1f} s, {self.changes} changes; {shown}; "
                f"{c.get('video_frames', 0)} video frames, {c.get('audio_frames', 0)} audio blocks, "
                f"{c.get('errors', 0)} errors")


@contextmanager
def ctrl_c_flag() -> Iterator[threading.Event]:
    """An Event that Ctrl-C sets instead of raising, while the block runs (main thread only; elsewhere never set)."""
    flag = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: flag.set())
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def watch(
    session: LiveSession,
    on_change: Callable[[MoodChange], None],
    seconds: float | None = None,
    until: Callable[[], bool] | None = None,
    on_tick: Callable[[], bool | None] | None = None,
    poll: float = 0.1,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Summary:
    """Poll until `seconds` pass, `until()` is true (e.g. the file ended), `on_tick()` returns True, or Ctrl-C."""
    start = last_t = clock()
    summary = Summary()
    shown: str | None = None
    current_mood: str | None = None
    try:
        with ctrl_c_flag() as interrupted:
            while True:
                now = clock()
                snap = session.snapshot()
                if current_mood is not None:
                    summary.moods[current_mood] = summary.moods.get(current_mood, 0.0) + (now - last_t)
                last_t, current_mood = now, snap.mood
                change = MoodChange(now - start, snap)
                if change.label != shown:
                    shown = change.label
                    summary.changes += 1
                    on_change(change)
                if interrupted.is_set():
                    summary.stopped_by = "interrupted"
                    break
                if seconds is not None and now - start >= seconds:
                    summary.stopped_by = "time"
                    break
                if until is not None and until():
                    summary.stopped_by = "source ended"
                    break
                if on_tick is not None and on_tick():
                    summary.stopped_by = "closed"
                    break
                sleep(poll)
    except KeyboardInterrupt:  # raised by a callback, or Ctrl-C off the main thread: still a clean summary
        summary.stopped_by = "interrupted"
    summary.seconds = clock() - start
    summary.last = shown
    summary.counters = dict(session.snapshot().counters)
    return summary
