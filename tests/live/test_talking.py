"""A person talking gets a steady, right mood: real talking clips (one MEAD speaker) through the engine.

Stills passed every check while talking faces failed, so these play real
talking video (and speech, where the clip has it) through the live engine on
a simulated clock, as `bench --talking` does.
"""

from __future__ import annotations

import numpy as np
import pytest

from moodmusic.live.replay import SimulatedClock, replay_session, load_clip, play, shared_talking_clips, steadiness, talking_report
from moodmusic.live import EngineConfig
from moodmusic.live.face_history import FaceHistory


def test_one_open_mouthed_frame_cannot_swing_the_face():
    h = FaceHistory(0.5)
    sad = np.array([.05, .05, .05, .1, .7, .05])
    surprise = np.array([.02, .1, .02, .02, .04, .8])
    for i in range(12):
        pooled = h.add(i / 25, sad)
    assert pooled.argmax() == 4
    assert h.add(12 / 25, surprise).argmax() == 4  # mid-word: still sad
    for i in range(13, 40):  # the face really changed: surprise wins within the window
        pooled = h.add(i / 25, surprise)
    assert pooled.argmax() == 5


def test_face_history_is_frame_rate_independent_and_restarts():
    h = FaceHistory(0.5)
    h.add(0.0, np.full(6, 1 / 6))
    assert h.add(10.0, np.eye(6)[2] * 0.9 + 0.02).argmax() == 2  # the old frame is out of the window
    assert h.add(1.0, np.eye(6)[4] * 0.9 + 0.02).argmax() == 4  # time went back: a new stream


@pytest.fixture(scope="module")
def experts():
    from moodmusic.pipeline import load_experts

    return load_experts()


@pytest.fixture(scope="module")
def mead(shared_data):
    return dict((mood, path) for path, mood in shared_talking_clips(shared_data))


def test_talking_clips_read_steadily_and_right(mead, experts):
    paths = [(mead[m], m) for m in ("happy", "neutral", "sad") if m in mead]
    report = talking_report(paths, experts=experts, seconds=12.0, hold=6.0)
    for row in report["talking_clips"]:
        assert row["switches_per_min"] <= 8, row
        assert row["right_share"] >= 0.75, row
    assert report["talking_changes"], report
    for change in report["talking_changes"]:
        assert change["delay_s"] is not None and change["delay_s"] <= 1.5, change


def test_talking_with_speech_reads_the_mood_and_the_voice_counts(mead, experts):
    clip = load_clip(mead["sad"].parent / "M030_sad_level3_talking.mp4", "sad")
    clock = SimulatedClock()
    session = replay_session(experts, clock)
    shown = play(session, clock, [(clip, 8.0)])
    snap = session.snapshot()
    session.close()
    assert steadiness([s for s in shown if s[0] >= 2.0], "sad")["right_share"] >= 0.75
    assert snap.voice is not None and snap.voice.weight > 0


def test_without_pooling_the_engine_is_the_old_one(mead, experts):
    """face_history=0 reads the latest answer alone (the setting the pooling is measured against)."""
    clip = load_clip(mead["neutral"], "neutral")
    clock = SimulatedClock()
    session = replay_session(experts, clock, EngineConfig(face_history=0.0))
    play(session, clock, [(clip, 1.0)])
    probs = session._face.probs
    session.close()
    assert probs is not None and abs(float(np.sum(probs)) - 1) < 1e-5


def test_an_unfamiliar_voice_is_said_in_words_and_counts_less():
    """Real synthetic (espeak) speech through the engine with the committed rule: the voice evidence is
    gated and the page's sentence says so."""
    from moodmusic.pipeline import load_experts
    from moodmusic.samples import speech
    from moodmusic.ui.components import unfamiliar_text

    experts = load_experts()
    if experts.rule is None or experts.rule.voice.novelty is None:
        pytest.skip("no fitted fusion rule in models/")
    clock = SimulatedClock()
    session = replay_session(experts, clock)
    signal = np.concatenate([speech("fox"), speech("gaps"), speech("rainbow")])
    gates = []
    for i in range(0, len(signal) - 320, 320):  # 20 ms frames, a voice step every 0.5 s
        clock.t = i / 16000
        session.on_audio(np.round(signal[i:i + 320] * 32767).astype(np.int16)[None], 16000, 1)
        if i % 8000 == 0 and i:
            session.voice_step()
            voice = session.snapshot().voice
            if voice is not None:
                gates.append(voice.gate)
    session.close()
    assert gates and min(gates) < 1.0  # the synthetic voice is unlike the corpora at least part of the time
    assert "counts less" in unfamiliar_text("Voice")
