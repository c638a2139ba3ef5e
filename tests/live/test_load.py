"""The server's load as pages see it: the open sessions, and the refresh pace from them."""

from __future__ import annotations

import gc

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
