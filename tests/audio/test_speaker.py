"""Speaker adaptation: features measured against the speaker's own running statistics."""

from __future__ import annotations

import numpy as np
import pytest

from moodmusic.audio import clip_features
from moodmusic.audio.speaker import (
    SpeakerAdapter,
    SpeakerPrior,
    normalise_groups,
    normalise_stream,
    prior_from_meta,
)


def _prior(d: int = 3, weight: float = 8.0, memory: float = float("inf")) -> SpeakerPrior:
    return SpeakerPrior(mean=np.zeros(d), var=np.ones(d), weight=weight, memory=memory)


def test_without_a_prior_each_group_is_standardised_exactly():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(5, 2, (200, 3)), rng.normal(-3, 0.5, (100, 3))])
    groups = np.repeat([1, 2], [200, 100])
    z = normalise_groups(x, groups, _prior(weight=0.0))
    for g in (1, 2):
        assert np.allclose(z[groups == g].mean(0), 0, atol=1e-5) and np.allclose(z[groups == g].std(0), 1, atol=1e-4)


def test_a_speaker_is_first_read_by_the_prior_then_by_their_own_voice():
    rng = np.random.default_rng(1)
    voice = rng.normal(10, 3, (2000, 3))  # a speaker far from the prior speaker
    adapter = SpeakerAdapter(_prior(weight=8.0))
    first = adapter.normalise(voice[:1], learn=False)
    assert np.allclose(first, voice[:1], atol=1e-5)  # nothing heard: the prior's view (mean 0, sd 1)
    adapter.update(voice)
    later = adapter.normalise(voice)
    assert np.allclose(later.mean(0), 0, atol=0.05) and np.allclose(later.std(0), 1, atol=0.05)
    assert adapter.windows == 2000 * 2  # normalise(learn=True) counted the windows once more


def test_reading_without_learning_leaves_the_speaker_as_it_was():
    adapter = SpeakerAdapter(_prior())
    adapter.update(np.ones((5, 3)))
    before = adapter.normalise(np.zeros((1, 3)), learn=False)
    adapter.normalise(np.full((4, 3), 7.0), learn=False)
    assert adapter.windows == 5 and np.array_equal(adapter.normalise(np.zeros((1, 3)), learn=False), before)


def test_windows_that_are_not_finite_are_not_learnt():
    adapter = SpeakerAdapter(_prior())
    adapter.update(np.array([[1.0, np.nan, 0.0], [1.0, 2.0, 3.0]]))
    assert adapter.windows == 1 and np.isfinite(adapter.normalise(np.zeros((1, 3)), learn=False)).all()


def test_with_a_memory_old_windows_fade_and_the_count_stays_bounded():
    adapter = SpeakerAdapter(_prior(weight=1.0, memory=50))
    adapter.update(np.full((500, 3), -4.0))  # one room or mood ...
    adapter.update(np.full((500, 3), 4.0))  # ... then another for a long while
    assert adapter.windows <= 50
    assert np.all(adapter.normalise(np.full((1, 3), 4.0), learn=False) > -0.5)  # now mostly the recent voice
    forever = SpeakerAdapter(_prior(weight=1.0))
    forever.update(np.full((500, 3), -4.0))
    forever.update(np.full((500, 3), 4.0))
    assert np.all(forever.normalise(np.full((1, 3), 4.0), learn=False) > 0.9)  # without: the average of both


def test_a_stream_never_looks_at_clips_still_to_come():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(40, 3))
    clip = np.repeat(np.arange(10), 4)
    speaker = np.repeat([7, 8], 20)
    z = normalise_stream(x, clip, speaker, _prior(), seed=3)
    order = [c for c in dict.fromkeys(np.random.default_rng(3).permutation(np.unique(clip[speaker == 7])))]
    last = order[-1]
    changed = x.copy()
    changed[clip == last] += 100.0  # the speaker's last clip in the stream becomes very different
    z2 = normalise_stream(changed, clip, speaker, _prior(), seed=3)
    earlier = np.isin(clip, order[:-1])
    assert np.array_equal(z[earlier], z2[earlier]) and np.array_equal(z[speaker == 8], z2[speaker == 8])
    assert not np.allclose(z[clip == last], z2[clip == last])


def test_the_prior_travels_in_a_checkpoint_and_a_foreign_one_is_refused(speech):
    feats = clip_features(next(iter(speech.values())))  # real speech features
    prior = SpeakerPrior.fit(np.concatenate([feats, feats + 1]), np.repeat([0, 1], len(feats)), 64, 128)
    back = prior_from_meta(prior.to_meta())
    assert back is not None and back.weight == 64 and back.memory == 128
    assert np.allclose(back.mean, prior.mean) and np.allclose(back.var, prior.var)
    assert prior_from_meta(None) is None
    assert np.isinf(prior_from_meta(SpeakerPrior(np.zeros(2), np.ones(2), 4).to_meta()).memory)
    with pytest.raises(ValueError, match="speaker normalisation"):
        prior_from_meta({**prior.to_meta(), "version": "speaker-v0"})


def test_an_adapter_needs_a_prior_to_start_from():
    with pytest.raises(ValueError, match="more than 0 windows"):
        SpeakerAdapter(_prior(weight=0.0))
