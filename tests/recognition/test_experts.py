"""Loading the experts: whatever is in models/, the app gets callables or a clear reason, never a crash."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from moodmusic.audio import FEATURE_VERSION, clip_features
from moodmusic.moods import MOODS
from moodmusic.recognition.avfusion import KIND as FUSION_KIND
from moodmusic.recognition.avfusion import AVFusion, AVFusionModel
from moodmusic.recognition.experts import load_experts
from moodmusic.recognition.voice_expert import KIND as VOICE_KIND
from moodmusic.recognition.voice_expert import VoiceExpert, VoiceNet

ROOT = Path(__file__).resolve().parents[2]
SPEECH = ROOT / "tests" / "fixtures" / "speech"


@pytest.fixture(scope="module")
def features() -> np.ndarray:
    return clip_features(sf.read(SPEECH / "fox.flac", dtype="float32")[0])


def _save_voice(path: Path, dim: int, version: str = FEATURE_VERSION) -> None:
    net = VoiceNet(dim)
    VoiceExpert(net, {"kind": VOICE_KIND, "classes": list(MOODS), "feature_version": version,
                      "arch": net.config}).save(path)


def test_an_empty_folder_gives_no_experts_and_two_reasons(tmp_path):
    experts = load_experts(tmp_path)
    assert experts.face is None and experts.voice is None and experts.fusion is None
    assert len(experts.problems) == 2
    assert any("face" in p and "missing" in p for p in experts.problems)
    assert any("voice" in p and "missing" in p for p in experts.problems)


def test_a_voice_model_alone_gives_voice_probabilities(tmp_path, features):
    _save_voice(tmp_path / "voice_expert.pt", features.shape[1])
    experts = load_experts(tmp_path, voice_feature_version=FEATURE_VERSION)
    assert experts.face is None and experts.voice is not None
    probs = experts.voice(features)
    assert probs.shape == (len(features), len(MOODS)) and np.allclose(probs.sum(1), 1, atol=1e-5)


def test_a_damaged_file_is_a_reason_not_a_crash(tmp_path):
    (tmp_path / "voice_expert.pt").write_bytes(b"not a checkpoint")
    experts = load_experts(tmp_path)
    assert experts.voice is None
    assert any("voice_expert.pt" in p and "cannot be read" in p for p in experts.problems)


def test_a_model_for_other_features_is_refused_with_the_remedy(tmp_path, features):
    _save_voice(tmp_path / "voice_expert.pt", features.shape[1], version="voice-v0")
    experts = load_experts(tmp_path, voice_feature_version=FEATURE_VERSION)
    assert experts.voice is None
    assert any("voice-v0" in p and "retrain" in p for p in experts.problems)


def test_a_voice_model_normalised_by_other_code_is_refused_with_the_remedy(tmp_path, features):
    """Otherwise the app would meet the unknown normalisation only when a session starts, as a traceback."""
    net = VoiceNet(features.shape[1])
    norm = {"version": "speaker-v0", "mean": [0.0] * features.shape[1], "var": [1.0] * features.shape[1],
            "weight": 128.0, "memory": 128.0}
    VoiceExpert(net, {"kind": VOICE_KIND, "classes": list(MOODS), "feature_version": FEATURE_VERSION,
                      "arch": net.config, "speaker_norm": norm}).save(tmp_path / "voice_expert.pt")
    experts = load_experts(tmp_path, voice_feature_version=FEATURE_VERSION, speaker_version="speaker-v1")
    assert experts.voice is None and experts.voice_norm is None
    assert any("speaker-v0" in p and "retrain" in p for p in experts.problems)
    assert load_experts(tmp_path, voice_feature_version=FEATURE_VERSION).voice is not None  # None: not checked


def test_a_fusion_model_for_another_face_expert_is_refused(tmp_path):
    face_file = ROOT / "models" / "face_expert.pt"
    if not face_file.is_file():
        pytest.skip("no face expert committed yet")
    shutil.copy(face_file, tmp_path / "face_expert.pt")
    net = AVFusion(8, 8)
    AVFusionModel(net, {"kind": FUSION_KIND, "classes": list(MOODS), "feature_version": "x", "arch": net.config,
                        "face_expert_sha1": "0" * 40}).save(tmp_path / "avfusion.pt")
    experts = load_experts(tmp_path)
    assert experts.fusion is None and experts.face is not None
    assert any("another face expert" in p for p in experts.problems)


def test_a_fusion_model_for_another_speaker_normalisation_is_refused(tmp_path):
    """A voice expert and an AVFusion trained on differently normalised voice features must not meet."""
    for name in ("face_expert.pt", "voice_expert.pt", "avfusion.pt"):
        shutil.copy(ROOT / "models" / name, tmp_path / name)
    assert load_experts(tmp_path).fusion is not None  # the committed pair agree
    blob = torch.load(tmp_path / "avfusion.pt", weights_only=True)
    blob["meta"]["speaker_norm"] = None  # a fusion model trained on raw voice features
    torch.save(blob, tmp_path / "avfusion.pt")
    experts = load_experts(tmp_path)
    assert experts.fusion is None and experts.voice is not None and experts.voice_norm is not None
    assert any("normalised otherwise" in p and "train fusion" in p for p in experts.problems)


def test_the_committed_models_load_cleanly(features):
    experts = load_experts(ROOT / "models", voice_feature_version=FEATURE_VERSION)
    assert not [p for p in experts.problems if "voice" in p]
    assert experts.voice(features).shape == (len(features), len(MOODS))
    if (ROOT / "models" / "face_expert.pt").is_file():
        crops = np.zeros((2, 48, 48), np.uint8)
        assert experts.face(crops).shape == (2, len(MOODS))
    if (ROOT / "models" / "avfusion.pt").is_file():
        assert experts.fusion is not None, experts.problems


def test_the_live_face_callable_is_the_face_expert_through_avfusions_face_head():
    """What the live engine calls every frame equals the two models run one after the other."""
    if not all((ROOT / "models" / f).is_file() for f in ("face_expert.pt", "avfusion.pt")):
        pytest.skip("committed face and fusion models not present")
    import cv2
    from skimage import data

    experts = load_experts(ROOT / "models")
    grey = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)
    crops = np.stack([cv2.resize(grey[58:188, 160:290], (48, 48), interpolation=cv2.INTER_AREA),
                      cv2.resize(data.camera()[40:240, 150:350], (48, 48), interpolation=cv2.INTER_AREA)])
    want = experts.fusion.predict(experts.face_expert.predict(crops)[1], None)
    got = experts.face(crops)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert got[0].argmax() == MOODS.index("happy")
