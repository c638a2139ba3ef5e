"""FER2013 training pieces: augmentation, class weights, data loading, the `train` command."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from moodmusic.cli import main
from moodmusic.moods import MOODS
from moodmusic.recognition.face_expert import centre_crop
from moodmusic.training.face import augment, class_weights

from tests.training.test_training_ddp import tiny_faces

NEUTRAL = dict(max_rotate=0.0, scale=(1.0, 1.0), max_shift=0.0, flip=False, contrast=(1.0, 1.0),
               brightness=0.0, gamma=(1.0, 1.0), erase_p=0.0)


def _faces() -> torch.Tensor:
    return torch.from_numpy(tiny_faces(16)[0])


def test_augmentation_with_neutral_ranges_is_the_inference_centre_crop():
    x = _faces()
    out = augment(x, torch.Generator().manual_seed(0), crop=40, **NEUTRAL)
    assert out.shape == (16, 1, 40, 40) and out.dtype == torch.float32
    torch.testing.assert_close(out, centre_crop(x.float().unsqueeze(1), 40), atol=1e-3, rtol=0)


def test_augmentation_varies_images_but_repeats_for_the_same_seed():
    x = _faces()
    a = augment(x, torch.Generator().manual_seed(1))
    b = augment(x, torch.Generator().manual_seed(1))
    c = augment(x, torch.Generator().manual_seed(2))
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)
    assert a.min() >= 0 and a.max() <= 255
    neutral = augment(x, torch.Generator().manual_seed(1), **NEUTRAL)
    assert (a - neutral).abs().mean() > 10  # it really changes the pictures


def test_flip_only_mirrors_the_crop():
    x = _faces()
    flips = dict(NEUTRAL, flip=True)
    out = augment(x, torch.Generator().manual_seed(3), crop=48, **flips)
    mirrored = [torch.allclose(o[0], xi.float().flip(-1), atol=1e-3) for o, xi in zip(out, x)]
    same = [torch.allclose(o[0], xi.float(), atol=1e-3) for o, xi in zip(out, x)]
    assert all(m or s for m, s in zip(mirrored, same))
    assert 0 < sum(mirrored) < len(x)


def test_class_weights_follow_inverse_frequency_to_a_power():
    labels = np.array([0] * 400 + [1] * 100 + [2] * 100)
    w = class_weights(labels, 4, power=0.5)
    assert w[1] / w[0] == pytest.approx(2.0)  # 4x rarer -> sqrt: 2x the weight
    assert w[3] == 0.0  # an absent class gets no weight
    assert w[labels].mean() == pytest.approx(1.0)  # the loss keeps its scale
    assert np.allclose(class_weights(labels, 3, power=0.0), 1.0)


def test_missing_data_is_one_clear_line(tmp_path, capsys):
    assert main(["train", "face", "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "FER2013 not found" in err and "Traceback" not in err


def test_a_target_without_its_module_says_so(monkeypatch, capsys):
    from moodmusic.commands import train

    monkeypatch.setitem(train.TARGETS, "lipreading", "a model nobody wrote")
    assert main(["train", "lipreading", "--epochs", "3"]) == 2
    assert "moodmusic/training/lipreading.py is missing" in capsys.readouterr().err


@pytest.mark.data
def test_fer_loads_six_moods_without_disgust(shared_data):
    from moodmusic.training.face import load_fer

    data = load_fer(shared_data)
    x, y = data["train"]
    assert x.shape[1:] == (48, 48) and x.dtype == np.uint8
    assert set(np.unique(y)) == set(range(len(MOODS)))
    assert 28_000 < len(x) < 28_709  # the training split minus its few hundred disgust faces
    assert len(data["val"][0]) < 3_589 and len(data["test"][0]) < 3_589


@pytest.mark.data
def test_train_face_writes_a_checkpoint_the_expert_loads(shared_data, tmp_path):
    from moodmusic.recognition.checkpoint import load_checkpoint
    from moodmusic.recognition.face_expert import FaceExpert

    out = tmp_path / "face.pt"
    rc = main(["train", "face", "--data", str(shared_data), "--out", str(out), "--run-dir", str(tmp_path / "run"),
               "--epochs", "1", "--limit", "256", "--widths", "8", "16", "16", "--emb-dim", "16", "--threads", "1",
               "--no-test", "--no-progress"])
    assert rc == 0
    _, meta = load_checkpoint(out, kind="face")
    assert meta["command"].startswith("python -m moodmusic train face")
    assert meta["epochs_run"] == 1 and len(meta["history"]) == 1
    assert (tmp_path / "run" / "last.pt").is_file()
    probs, emb = FaceExpert.load(out).predict(tiny_faces(4)[0])
    assert probs.shape == (4, 6) and emb.shape == (4, 16)
