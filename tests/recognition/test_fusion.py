import numpy as np
import pytest

from moodmusic.moods import MOODS
from moodmusic.recognition.fusion import Opinion, certainty, clean_probs, fuse, opinion_weight


def onehot(mood: str, p: float = 1.0) -> np.ndarray:
    v = np.full(len(MOODS), (1 - p) / (len(MOODS) - 1))
    v[MOODS.index(mood)] = p
    return v


def test_certainty_spans_uniform_to_onehot():
    assert certainty(np.full(6, 1 / 6)) == pytest.approx(0.0, abs=1e-9)
    assert certainty(onehot("sad")) == pytest.approx(1.0, abs=1e-6)
    assert 0 < certainty(onehot("sad", 0.6)) < 1


def test_single_modality_passes_through():
    fused = fuse(Opinion(onehot("fear", 0.7)), None)
    assert fused.mood == "fear"
    assert fused.weights == {"face": 1.0}
    np.testing.assert_allclose(fused.probs, onehot("fear", 0.7), atol=1e-6)


def test_trusted_modality_wins_disagreement():
    face = Opinion(onehot("happy", 0.8), quality=0.95, age=0.0)
    voice = Opinion(onehot("angry", 0.8), quality=0.1, age=0.0)
    assert fuse(face, voice).mood == "happy"
    # The same voice, now clearly voiced and the face old, takes over.
    assert fuse(Opinion(face.probs, 0.95, age=6.0), Opinion(voice.probs, 1.0, 0.0)).mood == "angry"


def test_stale_evidence_fades():
    fresh = opinion_weight(Opinion(onehot("sad", 0.9), 1.0, 0.0), half_life=1.5)
    old = opinion_weight(Opinion(onehot("sad", 0.9), 1.0, 1.5), half_life=1.5)
    assert old == pytest.approx(fresh / 2)


def test_no_usable_evidence_gives_no_mood():
    assert fuse(None, None).probs is None
    assert fuse(Opinion(np.zeros(6)), Opinion(np.full(6, np.nan))).mood is None
    assert fuse(Opinion(onehot("sad"), quality=0.0), None).mood is None


def test_bad_values_are_cleaned_not_propagated():
    p = clean_probs(np.array([np.inf, -1, 2, np.nan, 0, 0]))
    np.testing.assert_allclose(p, onehot("happy"))
    fused = fuse(Opinion(np.array([np.nan, 1, 1, 0, 0, 0]), quality=np.nan), Opinion(onehot("sad")))
    assert np.isfinite(fused.probs).all() and fused.mood == "sad"
    with pytest.raises(ValueError):
        clean_probs(np.ones(5))


def test_weights_sum_to_one_and_probs_normalised():
    fused = fuse(Opinion(onehot("happy", 0.5), 0.7, 0.3), Opinion(onehot("neutral", 0.6), 0.5, 0.1))
    assert sum(fused.weights.values()) == pytest.approx(1.0)
    assert fused.probs.sum() == pytest.approx(1.0, abs=1e-5)
