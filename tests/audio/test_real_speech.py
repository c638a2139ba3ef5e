"""The voice pipeline on real human speech (RAVDESS actors), when the training data is beside the project."""

from __future__ import annotations

import numpy as np
import pytest
from tests.audio.conftest import as_int16, set_rms_dbfs

from moodmusic.audio import FEATURE_NAMES, SAMPLE_RATE, VoiceActivity, clip_features
from moodmusic.media import read_audio

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def ravdess(shared_data) -> list[np.ndarray]:
    """Twelve clips across actors and emotions: each 3-4 s, a sentence framed by silence."""
    paths = sorted((shared_data / "speech" / "ravdess").glob("Actor_*/*.flac"))[::120]
    assert len(paths) == 12
    return [read_audio(p) for p in paths]


def test_vad_finds_the_sentence_and_not_the_silence_around_it(ravdess):
    for x in ravdess:
        voiced = VoiceActivity().decide(x)
        assert not voiced[:20].any()  # the first 0.4 s of every clip is room tone
        assert 0.3 <= voiced.mean() <= 0.85
        first, last = np.flatnonzero(voiced)[[0, -1]]
        assert voiced[first : last + 1].mean() > 0.9  # one sentence, one stretch


def test_real_speech_features_do_not_depend_on_level(ravdess):
    spread = np.vstack([clip_features(x) for x in ravdess]).std(axis=0) + 1e-6
    for x in ravdess:
        loud = set_rms_dbfs(x, -25.0)
        assert np.abs(loud).max() < 1.0  # no clipping: that would be a different sound
        reference = clip_features(as_int16(loud))
        quiet = clip_features(as_int16(set_rms_dbfs(x, -45.0)))  # 20 dB quieter than the corpus
        d = np.abs(quiet - reference) / spread
        worst = FEATURE_NAMES[int(d.max(axis=0).argmax())]
        assert d.max() < 0.5, worst
        assert np.median(d) < 0.02


def test_every_window_of_real_speech_is_finite(ravdess):
    for x in ravdess:
        f = clip_features(x)
        assert f.shape[0] == len(range(0, x.size - 2 * SAMPLE_RATE + 1, SAMPLE_RATE // 2))
        assert np.isfinite(f).all()
