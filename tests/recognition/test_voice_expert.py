"""The voice expert: raw features of real speech in, a distribution over the six moods out; checkpoints that refuse the wrong features."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from moodmusic.audio import FEATURE_NAMES, FEATURE_VERSION, clip_features
from moodmusic.moods import MOODS
from moodmusic.recognition.checkpoint import CheckpointError
from moodmusic.recognition.voice_expert import DEFAULT_PATH, KIND, VoiceEnsemble, VoiceExpert, VoiceNet

SPEECH = Path(__file__).resolve().parents[1] / "fixtures" / "speech"


@pytest.fixture(scope="module")
def speech_features() -> np.ndarray:
    """Window features of the committed espeak-ng recordings."""
    return np.vstack([clip_features(sf.read(SPEECH / f"{n}.flac", dtype="float32")[0])
                      for n in ("fox", "rainbow", "gaps")])


def _expert(features: np.ndarray, seed: int = 0) -> VoiceExpert:
    torch.manual_seed(seed)
    net = VoiceNet(features.shape[1])
    net.set_scaler(features.mean(0), features.std(0))
    meta = {"kind": KIND, "classes": list(MOODS), "feature_version": FEATURE_VERSION, "arch": net.config}
    return VoiceExpert(net, meta)


def test_predicts_a_distribution_and_an_embedding_per_window(speech_features):
    probs, emb = _expert(speech_features).predict(speech_features)
    assert probs.shape == (len(speech_features), len(MOODS))
    assert emb.shape == (len(speech_features), 128)
    assert np.allclose(probs.sum(1), 1, atol=1e-5) and (probs >= 0).all()


def test_the_scaler_travels_inside_the_checkpoint(speech_features, tmp_path):
    expert = _expert(speech_features)
    expert.save(tmp_path / "v.pt")
    again = VoiceExpert.load(tmp_path / "v.pt", feature_version=FEATURE_VERSION)
    assert np.allclose(again.net.mean.numpy(), speech_features.mean(0), atol=1e-5)
    assert np.allclose(again.predict(speech_features)[0], expert.predict(speech_features)[0], atol=1e-6)


def test_a_checkpoint_for_other_features_is_refused(speech_features, tmp_path):
    expert = _expert(speech_features)
    expert.meta["feature_version"] = "voice-v0"
    expert.save(tmp_path / "old.pt")
    with pytest.raises(CheckpointError, match="voice-v0"):
        VoiceExpert.load(tmp_path / "old.pt", feature_version=FEATURE_VERSION)


def test_features_of_the_wrong_width_are_a_clear_error(speech_features):
    with pytest.raises(ValueError, match=f"\\(N, {speech_features.shape[1]}\\)"):
        _expert(speech_features).predict(speech_features[:, :10])


def test_no_windows_give_no_rows(speech_features):
    probs, emb = _expert(speech_features).predict(np.zeros((0, speech_features.shape[1]), np.float32))
    assert probs.shape == (0, len(MOODS)) and emb.shape == (0, 128)


def test_a_single_window_as_a_vector_is_accepted(speech_features):
    expert = _expert(speech_features)
    assert np.allclose(expert(speech_features[0]), expert(speech_features[:1]))


def test_the_committed_model_reads_todays_features(speech_features):
    expert = VoiceExpert.load(DEFAULT_PATH, feature_version=FEATURE_VERSION)
    assert expert.in_dim == len(FEATURE_NAMES)
    assert expert.meta["split"]["test"] == list(range(21, 25))
    probs = expert(speech_features)
    assert probs.shape == (len(speech_features), len(MOODS))
    # a real model is not indifferent: its windows do not all get the uniform answer
    assert probs.max(1).min() > 1.5 / len(MOODS)


def test_a_net_can_read_a_subset_of_the_features_but_takes_them_all(speech_features, tmp_path):
    use = list(range(39, speech_features.shape[1]))  # e.g. everything but the MFCC means
    net = VoiceNet(speech_features.shape[1], use=use)
    net.set_scaler(speech_features.mean(0), speech_features.std(0))
    expert = VoiceExpert(net, {"kind": KIND, "classes": list(MOODS), "feature_version": FEATURE_VERSION,
                               "arch": net.config})
    expert.save(tmp_path / "subset.pt")
    again = VoiceExpert.load(tmp_path / "subset.pt")
    changed = speech_features.copy()
    changed[:, :39] += 100.0  # features it does not read cannot move its answer
    assert np.allclose(again(changed), expert(speech_features), atol=1e-6)
    assert again.in_dim == speech_features.shape[1]


def test_an_ensemble_averages_its_members_and_survives_a_round_trip(speech_features, tmp_path):
    members = [_expert(speech_features, seed=s).net for s in (1, 2, 3)]
    ensemble = VoiceEnsemble(3, **members[0].config)
    for slot, net in zip(ensemble.members, members):
        slot.load_state_dict(net.state_dict())
    meta = {"kind": KIND, "classes": list(MOODS), "feature_version": FEATURE_VERSION, "arch": ensemble.config}
    VoiceExpert(ensemble, meta).save(tmp_path / "e.pt")
    again = VoiceExpert.load(tmp_path / "e.pt", feature_version=FEATURE_VERSION)
    assert isinstance(again.net, VoiceEnsemble) and again.in_dim == speech_features.shape[1]
    probs, emb = again.predict(speech_features)
    singles = [VoiceExpert(net, {}).predict(speech_features) for net in members]
    assert np.allclose(probs, np.mean([p for p, _ in singles], 0), atol=1e-5)
    assert np.allclose(emb, np.mean([e for _, e in singles], 0), atol=1e-5)
    assert not np.allclose(singles[0][0], singles[1][0], atol=1e-3)  # the members really differ


def test_an_ensemble_needs_a_member():
    with pytest.raises(ValueError, match="at least one"):
        VoiceEnsemble(0, in_dim=8)
