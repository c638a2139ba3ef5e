"""Offline distillation: cached teacher answers on fixed views, fine-tuning from a trained model."""

from __future__ import annotations

import numpy as np
import torch

from moodmusic.cli import main
from moodmusic.recognition.face_expert import FaceNet
from moodmusic.training.teacher_views import cache_key, compute_view, mirror_averaged

from tests.training.test_face_training import _fake_fer
from tests.training.test_training_ddp import tiny_faces


def _teacher() -> FaceNet:
    torch.manual_seed(0)
    return FaceNet(widths=(8, 8, 16), emb_dim=16).eval()


def test_a_mirror_averaged_teacher_gives_a_view_and_its_mirror_the_same_answer():
    x = torch.from_numpy(tiny_faces(8)[0]).float().unsqueeze(1)[..., 4:44, 4:44]
    answer = mirror_averaged(_teacher())
    torch.testing.assert_close(answer(x), answer(x.flip(-1)), atol=1e-5, rtol=0)
    assert not torch.allclose(_teacher()(x), _teacher()(x.flip(-1)), atol=1e-3)  # the raw net does not


def test_an_interrupted_view_resumes_to_the_same_result(tmp_path):
    images = tiny_faces(600)[0]  # three chunks of 256
    answer = mirror_averaged(_teacher())
    key = cache_key(["abc"], images, seed=0, view=0, crop=40)
    whole, whole_logits = compute_view(images, 6, answer, 0, 0, 40, None, key)
    assert whole.shape == (600, 40, 40) and whole.dtype == np.uint8 and whole_logits.shape == (600, 6)

    path = tmp_path / "view0.pt"
    compute_view(images, 6, answer, 0, 0, 40, path, key)
    blob = torch.load(path, weights_only=True)
    blob["done"] = 256  # as if stopped after the first chunk, with the rest never written
    blob["views"][256:] = 0
    blob["logits"][256:] = 0
    torch.save(blob, path)
    calls = []
    resumed, resumed_logits = compute_view(images, 6, answer, 0, 0, 40, path, key,
                                           progress=lambda done, n: calls.append(done))
    assert calls == [512, 600]  # only the missing chunks were computed
    assert np.array_equal(resumed, whole) and np.allclose(resumed_logits, whole_logits, atol=1e-5)
    stamp = path.stat().st_mtime_ns
    again, _ = compute_view(images, 6, answer, 0, 0, 40, path, key, progress=lambda done, n: calls.append(done))
    assert np.array_equal(again, whole) and calls == [512, 600] and path.stat().st_mtime_ns == stamp  # read, not redone

    # another view is other pictures; a cache made under another key is not reused
    other, _ = compute_view(images, 6, answer, 0, 1, 40, None, cache_key(["abc"], images, 0, 1, 40))
    assert np.abs(other.astype(int) - whole.astype(int)).mean() > 5
    calls.clear()
    compute_view(images, 6, answer, 0, 0, 40, path, cache_key(["another teacher"], images, 0, 0, 40),
                 progress=lambda done, n: calls.append(done))
    assert calls == [256, 512, 600]


def test_the_trainer_hands_stored_teacher_answers_to_the_loss():
    from torch.utils.data import TensorDataset

    from moodmusic.training.distributed import DistInfo
    from moodmusic.training.loop import TrainConfig, fit

    x = torch.randn(64, 4)
    y = torch.arange(64) % 2
    stored = torch.randn(64, 2)
    seen = []

    def loss_fn(logits, labels, targets):
        seen.append((labels.clone(), targets.clone()))
        return torch.nn.functional.cross_entropy(logits, labels)

    fit(torch.nn.Linear(4, 2), TensorDataset(x, y, stored), TensorDataset(x, y), loss_fn, ["a", "b"],
        TrainConfig(epochs=1, batch_size=16, progress=False), DistInfo(0, 1, 0, torch.device("cpu")))
    assert len(seen) == 4
    for labels, targets in seen:  # each batch's targets are the rows of its own examples
        rows = [int(torch.nonzero((stored == t).all(1))[0]) for t in targets]
        assert torch.equal(y[rows], labels)


def test_a_student_fine_tunes_on_cached_teacher_views_end_to_end(tmp_path, capsys):
    from moodmusic.recognition.checkpoint import load_checkpoint

    _fake_fer(tmp_path / "data")
    common = ["train", "face", "--data", str(tmp_path / "data"), "--epochs", "1", "--batch-size", "32",
              "--threads", "1", "--no-test", "--no-progress", "--device", "cpu", "--test-time-flip", "never"]
    teacher, start, student = tmp_path / "teacher.pt", tmp_path / "start.pt", tmp_path / "student.pt"
    small = ["--widths", "8", "8", "16", "--emb-dim", "16"]
    assert main([*common, "--out", str(teacher), "--run-dir", str(tmp_path / "rt"), "--widths", "8", "16", "16",
                 "--emb-dim", "16", "--blocks", "2", "--stem-stride", "1"]) == 0
    assert main([*common, *small, "--out", str(start), "--run-dir", str(tmp_path / "r0")]) == 0
    run = ["--out", str(student), "--run-dir", str(tmp_path / "rs"), "--teacher", str(teacher),
           "--teacher-views", "2", "--init", str(start), "--lr", "0"]
    assert main([*common, *small, *run]) == 0
    assert sorted(p.name for p in (tmp_path / "rs" / "teacher_views").iterdir()) == ["view0.pt", "view1.pt"]
    _, meta = load_checkpoint(student, kind="face")
    assert meta["distill"]["views"] == 2 and meta["init"]["path"] == str(start)
    assert "--teacher-views 2" in meta["command"] and "--init" in meta["command"]
    # with a learning rate of 0 the student is its starting point, weight for weight
    start_state, _ = load_checkpoint(start, kind="face")
    student_state, _ = load_checkpoint(student, kind="face")
    assert all(torch.equal(start_state[k], student_state[k]) for k in start_state if "running" not in k and "num_batches" not in k)

    # a starting point of another shape, or views without a teacher, are one clear line each
    capsys.readouterr()
    assert main([*common, "--out", str(tmp_path / "x.pt"), "--run-dir", str(tmp_path / "rx"),
                 "--init", str(start)]) != 0
    assert "architecture" in capsys.readouterr().err
    assert main([*common, *small, "--out", str(tmp_path / "y.pt"), "--run-dir", str(tmp_path / "ry"),
                 "--teacher-views", "2"]) != 0
    assert "--teacher-views needs --teacher" in capsys.readouterr().err


def test_the_cache_key_names_what_the_answers_depend_on():
    images = tiny_faces(4)[0]
    key = cache_key(["abc"], images, 0, 0, 40)
    assert cache_key(["abc"], images.copy(), 0, 0, 40) == key
    assert cache_key(["abd"], images, 0, 0, 40) != key
    assert cache_key(["abc"], images[::-1].copy(), 0, 0, 40) != key
    assert cache_key(["abc"], images, 1, 0, 40) != key
    assert cache_key(["abc"], images, 0, 0, 36) != key
