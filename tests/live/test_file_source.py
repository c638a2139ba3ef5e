"""The file source: a real clip (the astronaut's face, espeak speech) played through the engine in real time."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from moodmusic import samples
from tests.live.conftest import wait_for
from moodmusic.bench.live import place
from moodmusic.samples import make_clip
from moodmusic.config import load_settings
from moodmusic.live.session import EngineConfig, LiveSession
from moodmusic.live.sources.file import FilePlayer
from moodmusic.media import MediaError
from moodmusic.moods import MOODS
from moodmusic.pipeline import load_experts


def player_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("moodmusic-file")]


@pytest.fixture(scope="module")
def experts():
    e = load_experts(load_settings().models_dir)
    assert e.face is not None and e.voice is not None, e.problems
    return e


@pytest.fixture(scope="module")
def talking_clip(tmp_path_factory) -> Path:
    """The astronaut on screen while espeak reads two sentences (8.6 s, H.264 + AAC)."""
    speech = np.concatenate([samples.speech("fox"), samples.speech("rainbow")])
    head = place(samples.face_photo()[0:300, 100:330])
    return make_clip(tmp_path_factory.mktemp("file") / "talking.mp4", [(head, len(speech) / 16000)], audio=speech)


def test_a_clip_drives_the_engine_to_a_mood_from_face_and_voice(experts, talking_clip):
    with LiveSession(experts.face, experts.voice, config=EngineConfig(signal_timeout=0.5)) as session:
        player = FilePlayer(session, talking_clip).start()
        try:
            assert wait_for(lambda: session.snapshot().mood is not None), session.snapshot()
            assert session.snapshot().face_state == "face"
            assert wait_for(lambda: session.snapshot().voice is not None, timeout=8), session.snapshot()
            snap = session.snapshot()
            assert snap.mood in MOODS and 0 < snap.confidence <= 1
            assert snap.voice_state == "speech" and snap.face is not None
            assert snap.face.weight + snap.voice.weight == pytest.approx(1.0, abs=1e-6)
            assert snap.counters["errors"] == 0
            # Voice needs a full 2 s window, so at least 2 s have played; real time: not all of it.
            assert 2.0 <= player.position < 8.7
        finally:
            player.stop()
    assert not player.running and not player_threads()


def test_playing_to_the_end_then_no_signal(talking_clip):
    with LiveSession(None, None, config=EngineConfig(signal_timeout=0.3)) as session:
        player = FilePlayer(session, talking_clip, speed=4.0).start()
        assert player.wait(timeout=8)
        assert player.error is None and player.position > 8.0
        frames = session.snapshot().counters
        assert frames["video_frames"] >= 120 and frames["audio_frames"] >= 420  # every frame and 20 ms block
        time.sleep(0.4)
        assert session.snapshot().state == "no signal"
    assert not player_threads()


def test_sound_only_and_picture_only(talking_clip):
    with LiveSession(None, None) as session:
        player = FilePlayer(session, talking_clip, video=False, speed=8.0).start()
        assert player.wait(timeout=5)
        assert session.snapshot().counters["video_frames"] == 0 and session.snapshot().counters["audio_frames"] > 400
    with LiveSession(None, None) as session:
        player = FilePlayer(session, samples.SPEECH_DIR / "fox.flac", speed=8.0).start()
        assert not player.video and player.audio
        assert player.wait(timeout=5)
        assert session.snapshot().counters["audio_frames"] == pytest.approx(3.44 / 0.02, abs=2)


def test_stop_ends_playback_at_once(talking_clip):
    with LiveSession(None, None) as session:
        player = FilePlayer(session, talking_clip, loop=True).start()
        assert wait_for(lambda: player.position > 0.3)
        player.stop()
        assert not player.running and player.position < 3.0
    assert not player_threads()


def test_files_that_cannot_play_say_why(tmp_path):
    with LiveSession(None, None) as session:
        with pytest.raises(MediaError, match="not found|does not exist|no such"):
            FilePlayer(session, tmp_path / "missing.mp4")
        empty = tmp_path / "empty.mp4"
        empty.write_bytes(b"")
        with pytest.raises(MediaError, match="empty"):
            FilePlayer(session, empty)
        with pytest.raises(MediaError, match="nothing to play"):
            FilePlayer(session, samples.SPEECH_DIR / "fox.flac", audio=False)


def test_glass_to_mood_times_a_face_appearing_changing_and_leaving(experts):
    from moodmusic.bench.live import glass_to_mood, summary

    result = glass_to_mood(hold=2.5, experts=experts, config=EngineConfig(forget_after=1.0))
    assert result["mood_a"] in MOODS and result["mood_b"] in MOODS
    assert result["mood_a"] != result["mood_b"], "the two sample faces should read as different moods"
    assert result["first_mood_s"] is not None and result["first_mood_s"] < 1.0
    assert result["switch_s"] is not None and 0.2 < result["switch_s"] < 2.5  # not before the smoother's hold
    assert result["clear_s"] is not None and 0.9 <= result["clear_s"] < 2.5  # the face is forgotten after 1 s
    moods = [m for _, m, _ in result["events"]]
    assert moods[0] is None and result["mood_a"] in moods and result["mood_b"] in moods and moods[-1] is None
    assert set(summary(result)) == {"glass_first_mood_s", "glass_switch_s", "glass_clear_s",
                                    "glass_mood_a", "glass_mood_b", "glass_hold_s"}
