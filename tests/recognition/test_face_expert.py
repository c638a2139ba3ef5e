"""The face expert: the committed weights read real faces; the network and its loading behave."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from torch import nn

from moodmusic.moods import MOODS
from moodmusic.recognition.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from moodmusic.recognition.face_expert import DEFAULT_PATH, FaceExpert, FaceNet


def astronaut_face() -> np.ndarray:
    """Eileen Collins' smiling face from skimage's astronaut photo, framed like a FER2013 image."""
    import cv2
    from skimage import data

    grey = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)
    return cv2.resize(grey[58:188, 160:290], (48, 48), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def expert() -> FaceExpert:
    torch.set_num_threads(1)
    return FaceExpert.load()


def test_committed_weights_exist_and_are_small():
    assert DEFAULT_PATH.is_file()
    assert DEFAULT_PATH.stat().st_size < 5 * 1024 * 1024


def test_the_checkpoint_records_how_it_was_made():
    _, meta = load_checkpoint(DEFAULT_PATH, kind="face")
    assert tuple(meta["classes"]) == MOODS
    assert meta["command"].startswith("python -m moodmusic train face")
    assert {"val", "test", "test_slice500"} <= set(meta["metrics"])
    assert 0 < meta["metrics"]["test"]["accuracy"] <= 1


def test_the_checkpoint_matches_the_face_pipeline_version():
    from moodmusic.vision import FEATURE_VERSION

    FaceExpert.load(feature_version=FEATURE_VERSION)  # must not raise


def test_a_real_face_gives_valid_probabilities_and_an_embedding(expert):
    probs, emb = expert.predict(astronaut_face()[None])
    assert probs.shape == (1, len(MOODS)) and probs.dtype == np.float32
    assert emb.shape == (1, expert.embedding_dim) and emb.dtype == np.float32
    assert probs.min() >= 0 and probs.sum() == pytest.approx(1.0, abs=1e-5)
    assert np.isfinite(emb).all()


def test_the_smiling_astronaut_reads_as_happy(expert):
    probs, _ = expert.predict(astronaut_face()[None])
    assert expert.classes[int(probs.argmax())] == "happy", dict(zip(expert.classes, probs[0].round(3)))


def test_a_mirrored_face_reads_the_same(expert):
    face = astronaut_face()
    expert_plain = FaceExpert(expert.net, expert.meta, flip_average=False)
    p, _ = expert_plain.predict(face[None])
    q, _ = expert_plain.predict(face[None, :, ::-1])
    assert p.argmax() == q.argmax()
    assert np.abs(p - q).sum() < 0.3


def test_brightness_and_contrast_do_not_change_the_answer(expert):
    face = astronaut_face().astype(np.float32)
    dim = np.clip(face * 0.6 + 20, 0, 255).round().astype(np.uint8)
    p, _ = expert.predict(face.astype(np.uint8)[None])
    q, _ = expert.predict(dim[None])
    assert p.argmax() == q.argmax()
    assert np.abs(p - q).max() < 0.05


def test_a_batch_gives_the_same_answers_as_one_face_at_a_time(expert):
    from skimage import data
    import cv2

    faces = np.stack([astronaut_face(), astronaut_face()[:, ::-1],
                      cv2.resize(data.camera()[40:240, 150:350], (48, 48), interpolation=cv2.INTER_AREA)])
    batch, emb = expert.predict(faces)
    one_by_one = np.concatenate([expert.predict(f[None])[0] for f in faces])
    np.testing.assert_allclose(batch, one_by_one, atol=1e-5)
    assert emb.shape == (3, expert.embedding_dim)


def test_no_faces_gives_empty_arrays(expert):
    probs, emb = expert.predict(np.zeros((0, 48, 48), np.uint8))
    assert probs.shape == (0, 6) and emb.shape == (0, expert.embedding_dim)


def test_wrong_crop_size_is_refused_clearly(expert):
    with pytest.raises(ValueError, match="48, 48"):
        expert.predict(np.zeros((1, 64, 64), np.uint8))


def test_a_checkpoint_for_other_features_is_refused_with_the_remedy(tmp_path):
    state, meta = load_checkpoint(DEFAULT_PATH, kind="face")
    meta["feature_version"] = "face-v0-old-framing"
    old = tmp_path / "face_expert.pt"
    save_checkpoint(old, state, meta)
    with pytest.raises(CheckpointError, match="face-v0-old-framing.*retrain"):
        FaceExpert.load(old, feature_version="face-v1")


def test_a_damaged_file_is_refused_clearly(tmp_path):
    bad = tmp_path / "face_expert.pt"
    shutil.copy(DEFAULT_PATH, bad)
    bad.write_bytes(bad.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="cannot be read"):
        FaceExpert.load(bad)


def test_the_network_takes_uint8_or_float_crops_and_folds_batchnorm_exactly():
    torch.manual_seed(0)
    net = FaceNet(widths=(8, 16, 16), emb_dim=16)
    net.train()
    with torch.no_grad():  # give the BatchNorm layers non-trivial running statistics
        net(torch.randint(0, 256, (32, 48, 48), dtype=torch.uint8))
    net.eval()
    crops = torch.from_numpy(np.stack([astronaut_face(), astronaut_face()[::-1]]))
    with torch.no_grad():
        a = net(crops)
        b = net(crops.float().unsqueeze(1))
        c = net.fused_for_inference()(crops)
    assert a.shape == (2, 6) and net.embed(crops).shape == (2, 16)
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a, c, atol=1e-4, rtol=1e-4)


def test_the_committed_model_holds_its_recorded_score_on_a_fer_test_slice(shared_data):
    from moodmusic.training.scoring import evaluate_face

    _, meta = load_checkpoint(DEFAULT_PATH, kind="face")
    recorded = meta["metrics"]["test_slice500"]["accuracy"]
    result = evaluate_face(DEFAULT_PATH, shared_data, split="test", limit=500)
    assert result["n"] == 500
    assert result["accuracy"] >= recorded - 0.005


def _three_faces() -> np.ndarray:
    from skimage import data
    import cv2

    return np.stack([astronaut_face(), astronaut_face()[:, ::-1],
                     cv2.resize(data.camera()[40:240, 150:350], (48, 48), interpolation=cv2.INTER_AREA)])


def test_predict_runs_a_frozen_graph_that_answers_as_the_network(expert):
    faces = _three_faces()
    assert isinstance(expert._graph, torch.jit.ScriptModule)
    probs, emb = expert.predict(faces)
    with torch.inference_mode():
        logits, want_emb = expert.net.logits_and_embedding(torch.from_numpy(faces))
    np.testing.assert_allclose(probs, torch.softmax(logits, 1).numpy(), atol=1e-5)
    np.testing.assert_allclose(emb, want_emb.numpy(), atol=1e-4)


def test_through_a_tail_equals_the_tail_on_predicts_embeddings(expert):
    torch.manual_seed(0)
    tail = nn.Sequential(nn.Linear(expert.embedding_dim, 6), nn.Softmax(dim=1)).eval()
    faces = _three_faces()
    with torch.inference_mode():
        want = tail(torch.from_numpy(expert.predict(faces)[1])).numpy()
    through = expert.through(tail)
    np.testing.assert_allclose(through(faces), want, atol=1e-6)
    np.testing.assert_allclose(through(faces[1]), want[1:2], atol=1e-6)  # one (48, 48) crop
    assert through(np.zeros((0, 48, 48), np.uint8)).shape == (0, 6)
    with pytest.raises(ValueError, match="48, 48"):
        through(np.zeros((1, 64, 64), np.uint8))
    flipped = FaceExpert(expert.net, expert.meta, flip_average=True)
    with torch.inference_mode():
        want_flipped = tail(torch.from_numpy(flipped.predict(faces)[1])).numpy()
    np.testing.assert_allclose(flipped.through(tail)(faces), want_flipped, atol=1e-6)
    assert not np.allclose(want_flipped, want, atol=1e-4)  # flip averaging did change the embedding
