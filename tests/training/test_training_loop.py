"""The generic trainer: schedule, determinism, resuming, early stopping."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from moodmusic.moods import MOODS
from moodmusic.recognition.face_expert import FaceNet
from moodmusic.training.distributed import DistInfo
from moodmusic.training.augment import augment_faces
from moodmusic.training.loop import TrainConfig, fit, lr_factor, seed_everything

from tests.training.test_training_ddp import tiny_faces

SOLO = DistInfo(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))


def test_learning_rate_warms_up_then_follows_a_cosine_to_zero():
    f = [lr_factor(s, total_steps=110, warmup_steps=10) for s in range(110)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert f[10] == pytest.approx(1.0)
    assert f[60] == pytest.approx(0.5)
    assert all(a >= b for a, b in zip(f[10:], f[11:])), "decays monotonically after warm-up"
    assert lr_factor(110, 110, 10) == pytest.approx(0.0)
    assert lr_factor(110, 110, 10, min_ratio=0.1) == pytest.approx(0.1)


def _data():
    x, y = tiny_faces(48)
    xv, yv = tiny_faces(24, seed=1)
    return (TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
            TensorDataset(torch.from_numpy(xv), torch.from_numpy(yv)))


class Crash(Exception):
    pass


def _train(tmp_path, epochs: int, resume: bool = False, crash_at_batch: int | None = None, **kw):
    seed_everything(0)
    model = FaceNet(widths=(8, 16, 16), emb_dim=16)
    config = TrainConfig(epochs=epochs, batch_size=16, lr=1e-2, warmup_epochs=0.5, seed=0, num_threads=1,
                         max_steps_per_epoch=2, progress=False, run_dir=str(tmp_path), resume=resume, **kw)
    train, val = _data()
    calls = []

    def transform(xb, g):
        calls.append(1)
        if crash_at_batch is not None and len(calls) == crash_at_batch:
            raise Crash  # the process dies in the middle of an epoch
        return augment_faces(xb, g, crop=40)

    result = fit(model, train, val, torch.nn.CrossEntropyLoss(), list(MOODS), config, SOLO,
                 batch_transform=transform)
    return model, result


def test_a_resumed_run_ends_exactly_where_an_uninterrupted_one_does(tmp_path):
    straight, r_straight = _train(tmp_path / "a", epochs=3)
    _train(tmp_path / "b", epochs=3, max_minutes=1e-9)  # stops at once: writes nothing
    assert not (tmp_path / "b" / "last.pt").exists()
    # killed during the 3rd epoch (2 batches each), then resumed with the same command + resume
    with pytest.raises(Crash):
        _train(tmp_path / "c", epochs=3, crash_at_batch=6)
    resumed, r_resumed = _train(tmp_path / "c", epochs=3, resume=True)
    assert len(r_resumed.history) == 3
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), f"{name} differs after resuming"
    assert [h["val_macro_f1"] for h in r_straight.history] == [h["val_macro_f1"] for h in r_resumed.history]


def test_the_best_epoch_by_val_macro_f1_is_returned(tmp_path):
    _, result = _train(tmp_path, epochs=3)
    scores = [h["val_macro_f1"] for h in result.history]
    assert result.best_epoch == int(np.argmax(scores)) + 1
    assert result.best_metrics["macro_f1"] == max(scores)
    assert set(result.best_metrics["per_class_recall"]) == set(MOODS)
