"""AVFusion: answers with either modality missing, each strategy uses both when both are there, and it round-trips."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from moodmusic.moods import MOODS
from moodmusic.recognition.avfusion import KIND, STRATEGIES, AVFusion, AVFusionModel, certainty
from moodmusic.training.distributed import DistInfo
from moodmusic.training.fusion import train_avfusion
from moodmusic.training.loop import TrainConfig

K = len(MOODS)


def _model(strategy: str, face_dim: int = 6, voice_dim: int = 8, seed: int = 0) -> AVFusionModel:
    torch.manual_seed(seed)
    net = AVFusion(face_dim, voice_dim, strategy=strategy)
    return AVFusionModel(net, {"kind": KIND, "classes": list(MOODS), "feature_version": "face-v1+voice-v1",
                               "arch": net.config})


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_answers_with_either_modality_or_both(strategy):
    rng = np.random.default_rng(0)
    face, voice = rng.normal(size=(5, 6)).astype(np.float32), rng.normal(size=(5, 8)).astype(np.float32)
    m = _model(strategy)
    for p in (m.predict(face, voice), m.predict(face, None), m.predict(None, voice)):
        assert p.shape == (5, K) and np.allclose(p.sum(1), 1, atol=1e-5)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_missing_modality_is_ignored_whatever_its_values(strategy):
    rng = np.random.default_rng(1)
    voice = rng.normal(size=(4, 8)).astype(np.float32)
    m = _model(strategy)
    with torch.inference_mode():
        garbage = torch.from_numpy(rng.normal(size=(4, 6)).astype(np.float32) * 100)
        out = m.net(garbage, torch.from_numpy(voice), torch.zeros(4, dtype=torch.bool), torch.ones(4, dtype=torch.bool))
    assert np.allclose(out["out"].softmax(1).numpy(), m.predict(None, voice), atol=1e-6)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_one_modality_shortcut_answers_as_the_full_model(strategy):
    """predict_one (the live engine's per-frame path) runs one branch and gives predict's answer."""
    rng = np.random.default_rng(2)
    face, voice = rng.normal(size=(3, 6)).astype(np.float32), rng.normal(size=(3, 8)).astype(np.float32)
    m = _model(strategy, seed=3)
    assert np.allclose(m.predict_one("face", face), m.predict(face, None), atol=1e-6)
    assert np.allclose(m.predict_one("voice", voice), m.predict(None, voice), atol=1e-6)
    assert not np.allclose(m.predict_one("face", face), m.predict_one("face", face[::-1]))
    with pytest.raises(ValueError, match="face"):
        m.predict_one("face", voice)
    with pytest.raises(ValueError, match="modality"):
        m.predict_one("music", face)


def test_late_fusion_trusts_the_surer_head():
    sure = torch.tensor([[0.97, 0.01, 0.005, 0.005, 0.005, 0.005]])
    unsure = torch.full((1, K), 1.0 / K)
    assert certainty(sure) > 0.8 and certainty(unsure) < 1e-6


def test_needs_at_least_one_modality_and_a_known_strategy():
    with pytest.raises(ValueError, match="at least one"):
        _model("late").predict(None, None)
    with pytest.raises(ValueError, match="late, concat, gated"):
        AVFusion(3, 3, strategy="average")


def test_round_trips_through_a_checkpoint(tmp_path):
    rng = np.random.default_rng(2)
    face, voice = rng.normal(size=(3, 6)).astype(np.float32), rng.normal(size=(3, 8)).astype(np.float32)
    m = _model("gated")
    m.save(tmp_path / "f.pt")
    again = AVFusionModel.load(tmp_path / "f.pt", feature_version="face-v1+voice-v1")
    assert np.allclose(again.predict(face, voice), m.predict(face, voice), atol=1e-6)


def _complementary(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each modality tells apart only some moods: the face cannot split angry/fear, the voice cannot split happy/sad."""
    y = rng.integers(0, K, n)
    face_code = np.where(y == 1, 0, y)  # fear looks like angry
    voice_code = np.where(y == 4, 2, y)  # sad sounds like happy
    face = np.eye(K)[face_code] * 3 + rng.normal(size=(n, K))
    voice = np.eye(K)[voice_code] * 3 + rng.normal(size=(n, K))
    return face.astype(np.float32), voice.astype(np.float32), y.astype(np.int64)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_fusion_beats_either_modality_when_they_complement_each_other(strategy):
    rng = np.random.default_rng(3)
    train, val, test = _complementary(1000, rng), _complementary(300, rng), _complementary(600, rng)
    cfg = TrainConfig(epochs=8, batch_size=64, lr=3e-3, patience=20, seed=0, progress=False, num_threads=1)
    net, _ = train_avfusion(train, val, strategy, cfg, DistInfo(0, 1, 0, torch.device("cpu")))
    m = AVFusionModel(net, {})
    face, voice, y = test
    acc = {name: float((p.argmax(1) == y).mean()) for name, p in
           (("face", m.predict(face, None)), ("voice", m.predict(None, voice)), ("both", m.predict(face, voice)))}
    assert acc["face"] < 0.9 and acc["voice"] < 0.9  # each alone confuses a pair of moods
    assert acc["both"] > max(acc["face"], acc["voice"]) + 0.08
