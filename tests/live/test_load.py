"""The server's load as pages see it: the open sessions, and the refresh pace from them."""

from __future__ import annotations

import gc
import weakref

import numpy as np

from moodmusic.live import load
from moodmusic.live.session import LiveSession


def test_open_sessions_count_and_closed_or_collected_ones_do_not(clock):
    before = len(load.sessions())
    kept, closed, dropped = (LiveSession(None, None, clock=clock, start_worker=False) for _ in range(3))
    for s in (kept, closed, dropped):
        load.register(s)
    del s
    assert len(load.sessions()) == before + 3
    closed.close()
    del dropped
    gc.collect()
    assert load.sessions().count(kept) == 1 and closed not in load.sessions()
    assert len(load.sessions()) == before + 1


def test_pages_slow_down_only_beyond_two_open_pages():
    assert [load.refresh_pace(n) for n in range(7)] == [1.0, 1.0, 1.0, 2.0, 3.0, 4.0, 4.0]


def _speak(session: LiveSession, seconds: float = 0.1) -> None:
    """Real speech into the session, as the microphone callback posts it."""
    from moodmusic import samples

    pcm = (samples.speech("fox")[: int(16000 * seconds)] * 32767).astype(np.int16)[None]
    session.on_audio(pcm, 16000, 1)


def test_a_full_server_turns_away_a_new_session_but_never_one_that_streams(clock, monkeypatch):
    monkeypatch.setattr(load, "_sessions", weakref.WeakSet())  # this process's other tests' sessions stay out
    first, second, newcomer = (LiveSession(None, None, clock=clock, start_worker=False) for _ in range(3))
    for s in (first, second, newcomer):
        load.register(s)
    _speak(first)
    _speak(second)
    assert load.streaming() == 2 and load.streaming(besides=first) == 1
    assert load.full(2, newcomer) and not load.full(3, newcomer) and not load.full(0, newcomer)
    assert not load.full(2, first)  # it streams: it keeps its place
    clock.t += 5.0  # the first stopped (STOP, a closed tab); the second goes on
    _speak(second)
    assert load.streaming() == 1 and not load.full(2, newcomer)
    assert not load.full(1, second) and load.full(1, newcomer)
    second.close()
    assert not load.full(1, newcomer)
