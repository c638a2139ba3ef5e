"""Many live sessions, one after another, as the server runs them: no thread and no memory is left behind.

Each session is what the app makes per browser session: a LiveSession with
the trained models and its own face tracker, fed by a real source (a real
clip played by the FilePlayer, or the WebRTC callbacks handed real
av.VideoFrame/av.AudioFrame objects from a thread, as aiortc does), then
stopped. After every stop the Python and the native thread counts are back
at their baseline; resident memory between session 5 and session 30 stays
within a bound that keeping each session's tracker or a second of its video
frames would break (see the README's robustness table).
"""

from __future__ import annotations

import gc
import os
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest

from moodmusic import samples
from moodmusic.bench.live import place
from moodmusic.config import load_settings
from moodmusic.live import LiveSession, pin_threads
from moodmusic.live.session import VOICE_THREAD
from moodmusic.live.sources.file import FilePlayer
from moodmusic.live.sources.webrtc import make_callbacks
from moodmusic.pipeline import load_experts
from tests.live.conftest import webrtc_audio

SESSIONS = 30
# Measured: the median RSS of sessions 25-29 minus that of sessions 5-9 was 0-2 MB here
# (single readings swing by about ±15 MB as malloc returns memory in its own time).
# Holding on to each finished session costs about 11 MB a session (≈ 230 MB over
# these 25 sessions); holding one second of 640x480 frames per session, about 13 MB.
MAX_GROWTH_MB = 60.0


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def native_threads() -> int:
    """Every OS thread of this process, including torch's, OpenCV's and PyAV's own."""
    return len(os.listdir("/proc/self/task"))


def engine_threads() -> list[str]:
    """The engine's threads as Python and the OS see them (the voice worker names its OS thread too)."""
    python = [t.name for t in threading.enumerate() if t.name.startswith("moodmusic-")]
    return python + [n for n in os_thread_names() if n == VOICE_THREAD[:15]]


def os_thread_names() -> list[str]:
    names = []
    for task in Path("/proc/self/task").iterdir():
        try:
            names.append((task / "comm").read_text().strip())
        except OSError:  # ended while we looked
            pass
    return names


@pytest.fixture(scope="module")
def experts():
    pin_threads()  # as the app does (moodmusic.ui.resources)
    e = load_experts(load_settings().models_dir)
    assert e.face is not None and e.voice is not None, e.problems
    return e


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory) -> Path:
    """3 s of the astronaut on screen while espeak speaks (H.264 + AAC)."""
    speech = samples.speech("fox")[: 3 * 16000]
    head = place(samples.face_photo()[0:300, 100:330])
    return samples.make_clip(tmp_path_factory.mktemp("leaks") / "short.mp4", [(head, len(speech) / 16000)], audio=speech)


@pytest.fixture(scope="module")
def browser_media() -> tuple[list[av.VideoFrame], list[av.AudioFrame]]:
    """What aiortc hands the callbacks: yuv420p video frames and 48 kHz stereo s16 audio frames."""
    video = [av.VideoFrame.from_ndarray(samples.face_frame(), format="bgr24").reformat(format="yuv420p")]
    audio = []
    for i, block in enumerate(webrtc_audio(samples.SPEECH_DIR / "fox.flac")[:100]):
        frame = av.AudioFrame.from_ndarray(block, format="s16", layout="stereo")
        frame.sample_rate, frame.pts = 48000, i * 960
        audio.append(frame)
    return video, audio


def play_file(session: LiveSession, clip: Path) -> None:
    player = FilePlayer(session, clip, speed=2.0).start()
    assert player.wait(timeout=15), "the clip did not finish playing"
    player.stop()
    assert player.error is None, player.error


def play_webrtc(session: LiveSession, media: tuple[list[av.VideoFrame], list[av.AudioFrame]]) -> None:
    """1.6 s of browser media at its real pace from one thread, the way aiortc calls the callbacks."""
    video_cb, audio_cb = make_callbacks(lambda: session)
    video, audio = media

    def run() -> None:
        start = time.monotonic()
        for i, frame in enumerate(audio[:80]):
            audio_cb(frame)
            if i % 3 == 0:  # about 17 fps of video beside 50 audio frames/s
                out = video_cb(video[0])
                assert isinstance(out, av.VideoFrame)
            time.sleep(max(0.0, start + (i + 1) * 0.02 - time.monotonic()))

    feeder = threading.Thread(target=run, name="fake-aiortc")
    feeder.start()
    feeder.join(timeout=15)
    assert not feeder.is_alive()


def test_many_sessions_leave_no_threads_and_flat_memory(experts, short_clip, browser_media):
    gc.collect()
    threads_before = threading.active_count()
    native_before = 0
    rss: list[float] = []
    for i in range(SESSIONS):
        session = LiveSession(experts.face, experts.voice)
        if i % 2 == 0:
            play_file(session, short_clip)
        else:
            play_webrtc(session, browser_media)
        snap = session.snapshot()
        assert snap.mood is not None and snap.counters["errors"] == 0, (i, snap)
        assert snap.counters["video_processed"] > 0 and snap.counters["audio_frames"] > 0, (i, snap.counters)
        if session.worker_alive:  # the voice worker is visible to the OS by name, for `top -H` and the browser test
            assert VOICE_THREAD[:15] in os_thread_names()
        session.close()
        assert session.closed and not session.worker_alive
        del session, snap
        gc.collect()
        assert not engine_threads(), (i, engine_threads())
        assert threading.active_count() == threads_before, (i, [t.name for t in threading.enumerate()])
        if i < 2:
            # torch, OpenCV and PyAV start their own thread pools on first use: the baseline is
            # taken once each kind of source has run.
            native_before = native_threads()
        else:
            assert native_threads() <= native_before, (i, native_threads(), native_before)
        rss.append(rss_mb())
    early, late = float(np.median(rss[5:10])), float(np.median(rss[-5:]))
    print(f"RSS median sessions 5-9: {early:.1f} MB, sessions {SESSIONS - 5}-{SESSIONS - 1}: {late:.1f} MB")
    assert late - early <= MAX_GROWTH_MB, [round(r, 1) for r in rss]
