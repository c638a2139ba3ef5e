"""Under overload late frames are shed, not read late (issue 7 "Load").

The frames carry capture times (as WebRTC frames do); the hand-driven clock
makes them reach the engine later and later, as they do when the transport in
front of an overloaded server falls behind. The last test drives the relay
that stands in front of the engine with real aiortc tracks.
"""

from __future__ import annotations

import asyncio

import av
import numpy as np
import pytest
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from moodmusic.live.session import EngineConfig, LiveSession
from moodmusic.live.transport.newest_video_relay import NewestVideoRelay
from moodmusic.pipeline import load_experts

FPS = 15


def make(clock, **cfg) -> LiveSession:
    experts = load_experts()
    return LiveSession(experts.face, experts.voice, config=EngineConfig(**cfg), clock=clock, start_worker=False)


def test_frames_on_time_are_read_and_late_ones_are_shed(clock, face_frame):
    s = make(clock, video_load=1.0)
    media = 0.0
    for _ in range(2 * FPS):  # on time: capture and arrival advance together
        s.on_video(face_frame, media_time=media)
        clock.advance(1 / FPS)
        media += 1 / FPS
    on_time = s.snapshot()
    assert on_time.counters["video_processed"] > 0 and on_time.counters["video_stale"] == 0
    assert on_time.mood is not None and on_time.latency_ms < 500
    processed = on_time.counters["video_processed"]

    for _ in range(4 * FPS):  # the transport falls behind: each frame arrives 1/FPS s later than the last
        s.on_video(face_frame, media_time=media)
        clock.advance(2 / FPS)
        media += 1 / FPS
    late = s.snapshot()
    assert late.counters["video_stale"] > 0
    # Only frames under the 0.5 s bound were read, so the reported latency (which now includes the
    # wait before the engine) stays bounded although the stream is 4 s behind by now.
    assert late.latency_ms <= 500 + late.video_ms + 50
    read_late = late.counters["video_processed"] - processed
    assert read_late < 0.25 * 4 * FPS
    # The camera is live but the server is behind: the page says so rather than "camera off"
    # or an old reading.
    assert late.face_state == "behind"


def test_a_new_stream_starts_a_new_baseline(clock, face_frame):
    """A restarted stream (new random RTP base) or a timestamp wrap must not read as hours behind."""
    s = make(clock, video_load=1.0)
    for media in (5000.0, 12.0, 90000.0):  # jumps back and forward by more than any queue could
        for i in range(FPS):
            s.on_video(face_frame, media_time=media + i / FPS)
            clock.advance(1 / FPS)
    snap = s.snapshot()
    assert snap.counters["video_stale"] == 0 and snap.counters["video_processed"] > 0
    assert snap.latency_ms < 500


def test_late_audio_is_dropped_from_the_voice_window(clock, speech_frames):
    s = make(clock)
    media = 0.0
    for f in speech_frames:  # the whole sentence, on time
        s.on_audio(f, rate=48000, channels=2, media_time=media)
        clock.advance(0.02)
        media += 0.02
    s.voice_step()
    speaking_db = s.snapshot().audio_level_db
    assert speaking_db > -60
    clock.advance(3.0)  # the transport stalls 3 s, then the frames queued behind it arrive in a burst
    silence = np.zeros_like(speech_frames[0])
    for _ in range(90):  # 3.0 → 1.2 s late: over the 1 s bound
        s.on_audio(silence, rate=48000, channels=2, media_time=media)
        media += 0.02
    snap = s.snapshot()
    assert snap.counters["audio_stale"] == 90
    assert snap.counters["audio_frames"] == len(speech_frames) + 90
    s.voice_step()  # the voice window still ends with the speech, not the late silence
    assert s.snapshot().audio_level_db == speaking_db
    for _ in range(60):  # the rest of the burst has caught up (1.2 → 0 s late) and does reach it
        s.on_audio(silence, rate=48000, channels=2, media_time=media)
        media += 0.02
    s.voice_step()
    assert s.snapshot().audio_level_db < -80


def test_frames_without_capture_times_are_never_called_late(clock, face_frame):
    s = make(clock, video_load=1.0)
    for _ in range(FPS):
        s.on_video(face_frame)
        clock.advance(3 / FPS)
    assert s.snapshot().counters["video_stale"] == 0


class _Counting(MediaStreamTrack):
    """A real aiortc track that makes numbered frames as fast as it is asked (a fast sender)."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.n = 0

    async def recv(self):
        await asyncio.sleep(0.001)
        self.n += 1
        if self.kind == "video":
            frame = av.VideoFrame(32, 24, "yuv420p")
        else:
            frame = av.AudioFrame(format="s16", layout="mono", samples=160)
            frame.sample_rate = 8000
        frame.pts = self.n
        return frame


def test_the_relay_hands_video_consumers_the_newest_frame_and_audio_every_frame():
    async def run() -> tuple[list[int], list[int]]:
        relay = NewestVideoRelay()
        video, audio = _Counting("video"), _Counting("audio")
        slow_video, slow_audio = relay.subscribe(video), relay.subscribe(audio)
        got_video, got_audio = [], []
        for _ in range(5):  # a consumer slower than the sender, as an overloaded server is
            got_video.append((await slow_video.recv()).pts)
            got_audio.append((await slow_audio.recv()).pts)
            await asyncio.sleep(0.05)
        slow_video.stop()
        slow_audio.stop()
        video.stop()
        audio.stop()
        return got_video, got_audio

    got_video, got_audio = asyncio.run(run())
    assert got_audio == [1, 2, 3, 4, 5]  # audio: every frame, in order, none skipped
    assert got_video[-1] > 10 and max(np.diff(got_video)) > 5  # video: skips ahead to the newest frame


class _Repeating(MediaStreamTrack):
    """Answers every call, but with its last result again on all but every `every`-th, as
    streamlit-webrtc's processed track does while the engine is slower than the camera."""

    kind = "video"

    def __init__(self, every: int) -> None:
        super().__init__()
        self.every, self.calls, self.last = every, 0, None

    async def recv(self):
        if self.readyState != "live":
            raise MediaStreamError
        await asyncio.sleep(0.001)
        self.calls += 1
        if self.last is None or self.calls % self.every == 0:
            self.last = av.VideoFrame(32, 24, "yuv420p")
            self.last.pts = self.calls
        return self.last


def test_the_relay_never_hands_a_video_consumer_the_same_frame_twice():
    async def run() -> tuple[list[int], int, int]:
        relay = NewestVideoRelay()
        source = _Repeating(every=3)
        sender = relay.subscribe(source)
        got = [(await sender.recv()).pts for _ in range(6)]
        sender.stop()
        source.stop()
        return got, sender.repeats, source.calls

    got, repeats, calls = asyncio.run(run())
    assert got == [1, 3, 6, 9, 12, 15]  # each new picture once, in order
    assert repeats >= 8 and calls >= 15  # the repeats in between were asked for, and skipped


def test_a_fresh_frames_track_ends_when_its_source_ends():
    async def run() -> list[str]:
        relay = NewestVideoRelay()
        source = _Repeating(every=1)
        sender = relay.subscribe(source)
        heard: list[str] = []
        sender.on("ended", lambda: heard.append("ended"))  # what streamlit-webrtc's processing track listens for
        await sender.recv()
        source.stop()
        with pytest.raises(MediaStreamError):
            for _ in range(10):
                await sender.recv()
        assert sender.readyState == "ended"
        return heard

    assert asyncio.run(run()) == ["ended"]
