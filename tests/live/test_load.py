"""The server's load as pages see it: which registered sessions are streaming, and the refresh pace from it."""

from __future__ import annotations

import gc

from moodmusic.live import load
from moodmusic.live.session import LiveSession


def test_streaming_counts_open_sessions_that_received_media_recently(speech_frames, face_frame, clock):
    before = load.streaming()
    quiet, talking, watching, closed = (LiveSession(None, None, clock=clock, start_worker=False) for _ in range(4))
    for s in (quiet, talking, watching, closed):
        load.register(s)
    talking.on_audio(speech_frames[0], rate=48000, channels=2)
    watching.on_video(face_frame)
    closed.on_audio(speech_frames[0], rate=48000, channels=2)
    closed.close()
    assert load.streaming() == before + 2
    assert quiet in load.sessions() and closed not in load.sessions()
    clock.advance(load.STREAMING_WITHIN + 0.1)  # media stopped: after the window they no longer count
    assert load.streaming() == before


def test_queued_audio_counts_as_streaming(speech_frames, clock):
    s = LiveSession(None, None, clock=clock, start_worker=False)
    load.register(s)
    assert not s.receiving(5.0)
    s.post_audio(speech_frames[0], rate=48000, channels=2)  # not yet taken by the worker
    assert s.receiving(5.0)


def test_a_session_leaves_the_load_when_it_is_gone(clock):
    s = LiveSession(None, None, clock=clock, start_worker=False)
    load.register(s)
    n = len(load.sessions())
    del s
    gc.collect()
    assert len(load.sessions()) == n - 1


def test_pages_slow_down_only_beyond_two_streaming_sessions():
    assert [load.refresh_pace(n) for n in range(7)] == [1.0, 1.0, 1.0, 2.0, 3.0, 4.0, 4.0]
