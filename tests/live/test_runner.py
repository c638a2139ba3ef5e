"""`watch`, the loop behind `python -m moodmusic live`: how it ends."""

from __future__ import annotations

import signal
import threading

from moodmusic.live.runner import watch
from moodmusic.live.session import LiveSession


def test_ctrl_c_while_watching_sets_a_flag_and_ends_with_a_summary():
    """Ctrl-C must not raise in the middle of whatever runs (a `with lock:` block could stay locked)."""
    session = LiveSession(None, None)
    naps: list[float] = []
    finished: list[str] = []

    def on_change(change) -> None:
        signal.raise_signal(signal.SIGINT)  # a real Ctrl-C, delivered to this (the main) thread, mid-callback
        finished.append(change.label)  # reached: the signal did not unwind the callback

    before = signal.getsignal(signal.SIGINT)
    summary = watch(session, on_change, sleep=naps.append, poll=0.0)
    assert summary.stopped_by == "interrupted" and finished == ["waiting"] and naps == []  # ended at the next check
    assert signal.getsignal(signal.SIGINT) is before  # Ctrl-C raises again once watching is over
    assert session.snapshot().state == "waiting"  # nothing is left locked


def test_off_the_main_thread_watch_leaves_ctrl_c_alone():
    seen = {}

    def run() -> None:
        before = signal.getsignal(signal.SIGINT)
        seen["summary"] = watch(LiveSession(None, None), lambda change: None, seconds=0.0, sleep=lambda s: None)
        seen["same handler"] = signal.getsignal(signal.SIGINT) is before

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)
    assert seen == {"summary": seen["summary"], "same handler": True} and seen["summary"].stopped_by == "time"
