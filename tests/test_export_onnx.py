"""`python -m moodmusic export onnx`: the files onnxruntime runs give PyTorch's numbers on real faces and speech."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import soundfile as sf

from moodmusic.audio import clip_features
from moodmusic.audio.speaker import SpeakerAdapter, prior_from_meta
from moodmusic.moods import MOODS
from moodmusic.pipeline import load_experts
from moodmusic.recognition.export_onnx import INDEX_FILE, read_meta
from moodmusic.vision import detect_faces_in_image

ort = pytest.importorskip("onnxruntime")
ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
TOL = 1e-4


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "moodmusic", "export", "onnx", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("onnx") / "models"
    proc = cli("--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert {Path(p).name for p in proc.stdout.split()} == {"face.onnx", "voice.onnx", "avfusion.onnx", INDEX_FILE}
    return out


@pytest.fixture(scope="module")
def experts():
    e = load_experts()
    assert e.face_expert is not None and e.voice_expert is not None and e.fusion is not None, e.problems
    return e


@pytest.fixture(scope="module")
def crops() -> np.ndarray:
    """Real aligned face crops from the real face photos (through moodmusic.vision, as the app reads them)."""
    out = [detect_faces_in_image(cv2.imread(str(p)))[0].crop for p in sorted((FIXTURES / "faces").glob("*.jpg"))]
    return np.stack(out + [c[:, ::-1] for c in out]).astype(np.uint8)


@pytest.fixture(scope="module")
def voice_features(experts) -> np.ndarray:
    """Real speech's window features, against the speaker as a recording is read (the prior alone)."""
    feats = np.concatenate([clip_features(sf.read(FIXTURES / "speech" / f"{n}.flac", dtype="float32")[0])
                            for n in ("fox", "rainbow")])
    return SpeakerAdapter(prior_from_meta(experts.voice_norm)).normalise(feats, learn=False)


def session(path: Path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def test_face_onnx_matches_the_live_face_path(exported, experts, crops):
    probs, emb = session(exported / "face.onnx").run(None, {"crops": crops})
    np.testing.assert_allclose(probs, experts.face(crops), atol=TOL)  # the expert through AVFusion's face head
    np.testing.assert_allclose(emb, experts.face_expert.predict(crops)[1], atol=TOL)
    assert probs.shape == (len(crops), len(MOODS))


def test_voice_onnx_matches_the_voice_path(exported, experts, voice_features):
    assert len(voice_features) >= 3
    (probs,) = session(exported / "voice.onnx").run(None, {"features": voice_features})
    np.testing.assert_allclose(probs, experts.voice(voice_features), atol=TOL)


def test_avfusion_onnx_matches_with_both_one_or_the_other(exported, experts, crops, voice_features):
    n = min(len(crops), len(voice_features))
    emb = experts.face_expert.predict(crops[:n])[1]
    voice = voice_features[:n]
    s = session(exported / "avfusion.onnx")
    zeros_f, zeros_v = np.zeros_like(emb), np.zeros_like(voice)
    for f, v, fm, vm, ref in (
        (emb, voice, 1, 1, experts.fusion.predict(emb, voice)),
        (emb, zeros_v, 1, 0, experts.fusion.predict(emb, None)),
        (zeros_f, voice, 0, 1, experts.fusion.predict(None, voice)),
    ):
        (probs,) = s.run(None, {"face_embedding": f, "voice_features": v,
                                "face_mask": np.full(n, fm, np.float32), "voice_mask": np.full(n, vm, np.float32)})
        np.testing.assert_allclose(probs, ref, atol=TOL)


def test_metadata_says_classes_versions_and_normalisation(exported, experts):
    index = json.loads((exported / INDEX_FILE).read_text())
    assert index["classes"] == list(MOODS)
    face, voice, fusion = (read_meta(exported / f) for f in ("face.onnx", "voice.onnx", "avfusion.onnx"))
    assert face["classes"] == voice["classes"] == fusion["classes"] == list(MOODS)
    assert face["feature_version"] == experts.face_expert.meta["feature_version"]
    assert voice["feature_version"] == experts.voice_expert.meta["feature_version"]
    assert voice["speaker_norm"] == experts.voice_norm == index["speaker_norm"]
    assert len(fusion["scalers_in_graph"]["voice"]["mean"]) == experts.fusion.net.config["voice_dim"]


def test_the_normalisation_rule_in_the_metadata_reproduces_the_app(exported, experts):
    """Someone elsewhere has the metadata, not this package: its prior and rule give the app's features."""
    meta = read_meta(exported / "voice.onnx")
    raw = clip_features(sf.read(FIXTURES / "speech" / "fox.flac", dtype="float32")[0])
    prior = meta["speaker_norm"]
    theirs = (raw - np.array(prior["mean"])) / np.sqrt(np.maximum(np.array(prior["var"]), 1e-8))
    ours = SpeakerAdapter(prior_from_meta(experts.voice_norm)).normalise(raw, learn=False)
    assert "sqrt(max(var, 1e-08))" in meta["speaker_norm_rule"]
    np.testing.assert_allclose(theirs, ours, rtol=1e-5, atol=1e-5)


def test_an_unwritable_destination_is_one_clear_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    proc = cli("--out", str(blocker))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: export onnx: cannot write to")
