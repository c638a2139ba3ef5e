"""FER2013 training pieces: augmentation, class weights, data loading, the `train` command."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from moodmusic.cli import main
from moodmusic.moods import MOODS
from moodmusic.recognition.face_expert import centre_crop
from moodmusic.training.augment import augment_faces
from moodmusic.training.face import class_weights

from tests.training.test_training_ddp import tiny_faces

NEUTRAL = dict(max_rotate=0.0, scale=(1.0, 1.0), max_shift=0.0, flip=False, contrast=(1.0, 1.0),
               brightness=0.0, gamma=(1.0, 1.0), erase_p=0.0)


def _faces() -> torch.Tensor:
    return torch.from_numpy(tiny_faces(16)[0])


def test_augmentation_with_neutral_ranges_is_the_inference_centre_crop():
    x = _faces()
    out = augment_faces(x, torch.Generator().manual_seed(0), crop=40, **NEUTRAL)
    assert out.shape == (16, 1, 40, 40) and out.dtype == torch.float32
    torch.testing.assert_close(out, centre_crop(x.float().unsqueeze(1), 40), atol=1e-3, rtol=0)


def test_augmentation_varies_images_but_repeats_for_the_same_seed():
    x = _faces()
    a = augment_faces(x, torch.Generator().manual_seed(1))
    b = augment_faces(x, torch.Generator().manual_seed(1))
    c = augment_faces(x, torch.Generator().manual_seed(2))
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)
    assert a.min() >= 0 and a.max() <= 255
    neutral = augment_faces(x, torch.Generator().manual_seed(1), **NEUTRAL)
    assert (a - neutral).abs().mean() > 10  # it really changes the pictures


def test_flip_only_mirrors_the_crop():
    x = _faces()
    flips = dict(NEUTRAL, flip=True)
    out = augment_faces(x, torch.Generator().manual_seed(3), crop=48, **flips)
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
    from moodmusic.training.datasets import load_fer

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


# --- distillation: larger teachers, the soft-target loss, and a teacher-taught run end to end ---


def _fake_fer(folder, n: int = 192) -> None:
    """A FER2013-shaped file of real photo patches (labels in turn), so `train face` runs without the data."""
    x, y = tiny_faces(n)
    labels = np.array([MOODS[i] for i in y])
    split = np.array(["train", "train", "val"] * (n // 3))
    (folder / "faces").mkdir(parents=True)
    np.savez(folder / "faces" / "fer2013.npz", images=x, labels=labels, split=split)


def test_teacher_architecture_keeps_full_resolution_in_its_first_stage():
    from moodmusic.recognition.face_expert import FaceNet

    student, teacher = FaceNet(), FaceNet(widths=(8, 16, 32), emb_dim=16, blocks=2, stem_stride=1)
    x = torch.from_numpy(tiny_faces(2)[0])
    assert student.features[0](torch.zeros(1, 1, 40, 40)).shape[-1] == 20
    assert teacher.features[0](torch.zeros(1, 1, 40, 40)).shape[-1] == 40
    assert sum(type(m).__name__ == "_Residual" for m in teacher.features) == 6
    assert teacher.eval()(x).shape == (2, 6)
    # a checkpoint written before these options existed describes the student: same layers, same keys
    old_arch = {"widths": [32, 64, 128], "emb_dim": 128, "crop": 40, "dropout": 0.3}
    assert FaceNet(**old_arch).state_dict().keys() == student.state_dict().keys()
    with pytest.raises(ValueError):
        FaceNet(stem_stride=3)


def test_distillation_loss_blends_hard_labels_and_teacher_matching():
    from moodmusic.training.face import distillation_loss

    hard = torch.nn.CrossEntropyLoss()
    logits = torch.tensor([[2.0, 0.5, 0, 0, 0, 0], [0, 0, 3.0, 0, 0, 0]], requires_grad=True)
    labels = torch.tensor([0, 2])
    same = logits.detach().clone()
    assert distillation_loss(hard, 1.0, 2.0)(logits, labels, same).item() == pytest.approx(0.0, abs=1e-6)
    assert distillation_loss(hard, 0.0, 2.0)(logits, labels, same).item() == pytest.approx(hard(logits, labels).item())
    # matching a teacher that prefers class 1 pulls the student's class-1 logit up
    teacher = torch.tensor([[0, 4.0, 0, 0, 0, 0], [0, 4.0, 0, 0, 0, 0]])
    distillation_loss(hard, 1.0, 2.0)(logits, labels, teacher).backward()
    assert (logits.grad[:, 1] < 0).all()


def test_test_time_flip_choice():
    from moodmusic.training.face import choose_flip_average

    assert choose_flip_average("auto", 0.60, 0.61) and not choose_flip_average("auto", 0.61, 0.60)
    assert not choose_flip_average("never", 0.50, 0.70) and choose_flip_average("always", 0.70, 0.50)
    with pytest.raises(ValueError):
        choose_flip_average("sometimes", 0.5, 0.5)


def test_augmentation_on_an_explicit_device_draws_the_same_images():
    x, gen = _faces(), lambda: torch.Generator().manual_seed(3)
    torch.testing.assert_close(augment_faces(x, gen(), device="cpu"), augment_faces(x, gen()))


def test_a_student_distils_from_a_trained_teacher_end_to_end(tmp_path):
    from moodmusic.recognition.checkpoint import load_checkpoint
    from moodmusic.recognition.face_expert import FaceExpert

    _fake_fer(tmp_path / "data")
    common = ["train", "face", "--data", str(tmp_path / "data"), "--epochs", "1", "--batch-size", "32",
              "--threads", "1", "--no-test", "--no-progress", "--device", "cpu"]
    teacher = tmp_path / "teacher.pt"
    assert main([*common, "--out", str(teacher), "--run-dir", str(tmp_path / "rt"), "--widths", "8", "16", "16",
                 "--emb-dim", "16", "--blocks", "2", "--stem-stride", "1"]) == 0
    student = tmp_path / "student.pt"
    assert main([*common, "--out", str(student), "--run-dir", str(tmp_path / "rs"), "--widths", "8", "8", "16",
                 "--emb-dim", "16", "--teacher", str(teacher), "--distill-weight", "0.5",
                 "--test-time-flip", "never"]) == 0
    _, meta = load_checkpoint(student, kind="face")
    assert meta["teachers"][0]["arch"]["blocks"] == 2 and meta["distill"] == {"weight": 0.5, "temperature": 2.0, "views": "every batch"}
    assert meta["flip_average"] is False and "--teacher" in meta["command"]
    assert np.isfinite(meta["history"][0]["train_loss"])
    probs, _ = FaceExpert.load(student).predict(tiny_faces(3)[0])
    assert probs.shape == (3, 6)


def test_a_teacher_with_another_crop_is_refused(tmp_path, capsys):
    _fake_fer(tmp_path / "data")
    common = ["train", "face", "--data", str(tmp_path / "data"), "--epochs", "1", "--batch-size", "32",
              "--threads", "1", "--no-test", "--no-progress", "--widths", "8", "8", "8", "--emb-dim", "8"]
    teacher = tmp_path / "t.pt"
    assert main([*common, "--out", str(teacher), "--run-dir", str(tmp_path / "rt"), "--crop", "36"]) == 0
    assert main([*common, "--out", str(tmp_path / "s.pt"), "--run-dir", str(tmp_path / "rs"),
                 "--teacher", str(teacher)]) != 0
    assert "36px" in capsys.readouterr().err


def test_asking_for_a_gpu_that_is_not_there_is_one_clear_line(tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    _fake_fer(tmp_path / "data")
    assert main(["train", "face", "--data", str(tmp_path / "data"), "--device", "cuda", "--epochs", "1"]) != 0
    assert "no usable GPU" in capsys.readouterr().err


# --- FER+ crowd labels: the mapping, the majority, and `train face --labels ferplus` ---

FERPLUS_COLUMNS = ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt", "unknown",
                   "NF"]


def _fake_ferplus(folder, train_votes: list[int], n: int = 192, held_out: str = "val") -> np.ndarray:
    """A FER2013-shaped file with FER+ votes: train rows all carry `train_votes`; held-out rows a clear
    majority for their FER2013 label; every 16th row has no original pixels (votes -1). Returns the
    held-out rows' majorities."""
    x, y = tiny_faces(n)
    split = np.array(["train", "train", held_out] * (n // 3))
    column = {"angry": 4, "fear": 6, "happy": 1, "neutral": 0, "sad": 3, "surprise": 2}
    votes = np.zeros((n, 10), np.int16)
    for i in range(n):
        if split[i] == "train":
            votes[i] = train_votes
        else:
            votes[i, column[MOODS[y[i]]]], votes[i, 8] = 9, 1
    original = np.arange(n) % 16 != 5
    votes[~original] = -1
    (folder / "faces").mkdir(parents=True)
    np.savez(folder / "faces" / "fer2013.npz", images=x, labels=np.array([MOODS[i] for i in y]), split=split,
             original=original, ferplus_votes=votes, ferplus_columns=np.array(FERPLUS_COLUMNS))
    return y[(split == held_out) & original]


def test_ferplus_votes_become_six_mood_distributions_and_fer_plus_majorities(tmp_path):
    from moodmusic.training.datasets import FERPLUS_MOODS, ferplus_distribution, ferplus_majority, load_fer

    assert list(FERPLUS_MOODS) == FERPLUS_COLUMNS and FERPLUS_MOODS["disgust"] is None
    votes = np.array([[5, 0, 0, 0, 3, 2, 0, 0, 0, 0],   # neutral 5 of 10 -> not more than half: no majority
                      [6, 0, 0, 0, 3, 0, 0, 0, 1, 0],   # the single 'unknown' vote is an outlier: neutral 6 of 9
                      [0, 0, 0, 0, 2, 8, 0, 0, 0, 0],   # disgust majority: not one of our moods
                      [0, 0, 0, 0, 0, 0, 0, 2, 2, 6],   # not a face
                      [0, 1, 7, 0, 0, 0, 2, 0, 0, 0]])  # surprise
    assert ferplus_majority(votes, FERPLUS_COLUMNS).tolist() == [-1, MOODS.index("neutral"), -1, -1,
                                                                 MOODS.index("surprise")]
    dist = ferplus_distribution(votes, FERPLUS_COLUMNS)
    np.testing.assert_allclose(dist[0], [3 / 8, 0, 0, 5 / 8, 0, 0])  # disgust's 2 votes dropped, not angry
    np.testing.assert_allclose(dist[2], [1, 0, 0, 0, 0, 0])  # only the anger votes are usable
    assert dist[3].sum() == 0  # contempt, unknown and NF only: nothing usable
    np.testing.assert_allclose(dist[[0, 1, 2, 4]].sum(1), 1, rtol=1e-6)

    val_moods = _fake_ferplus(tmp_path, [0, 0, 0, 0, 0, 0, 0, 3, 7, 0])  # train rows: no usable vote at all
    data = load_fer(tmp_path, ("train", "val"), labels="ferplus-votes")
    assert len(data["train"][0]) == 0 and data["val"][1].dtype == np.float32
    xv, yv = load_fer(tmp_path, ("val",), labels="ferplus")["val"]
    assert yv.tolist() == val_moods.tolist()  # original pixels only (the -1 rows are gone), majority = label
    assert len(load_fer(tmp_path, ("val",), originals_only=True)["val"][0]) == len(val_moods)
    assert len(load_fer(tmp_path, ("val",))["val"][0]) == 64  # FER2013's labels keep every row unless asked


def test_train_face_with_ferplus_labels_learns_the_crowd_votes(tmp_path):
    """Every training image's votes say surprise (8) or neutral (2), while FER2013's labels go round all six:
    trained on the votes the model reads unseen patches as surprise; trained on FER2013's labels it does not."""
    from moodmusic.recognition.checkpoint import load_checkpoint
    from moodmusic.recognition.face_expert import FaceExpert

    _fake_ferplus(tmp_path / "data", [2, 0, 8, 0, 0, 0, 0, 0, 0, 0])
    common = ["train", "face", "--data", str(tmp_path / "data"), "--epochs", "4", "--batch-size", "32",
              "--lr", "0.01", "--threads", "1", "--no-test", "--no-progress", "--device", "cpu",
              "--widths", "8", "8", "16", "--emb-dim", "16", "--test-time-flip", "never"]
    surprise = {}
    for labels in ("ferplus", "fer2013"):
        out = tmp_path / f"{labels}.pt"
        assert main([*common, "--labels", labels, "--out", str(out), "--run-dir", str(tmp_path / labels)]) == 0
        probs, _ = FaceExpert.load(out).predict(tiny_faces(24, seed=1)[0])
        surprise[labels] = float((probs.argmax(1) == MOODS.index("surprise")).mean())
        _, meta = load_checkpoint(out, kind="face")
        assert meta["labels"] == labels and f"--labels {labels}" in meta["command"]
    assert meta["train_size"] == 128  # FER2013's labels: every training row
    _, meta = load_checkpoint(tmp_path / "ferplus.pt", kind="face")
    assert meta["train_size"] == 120 and "FER+" in meta["data"]  # rows without original pixels dropped
    assert meta["metrics"]["val"]["n"] == 60  # chosen on the val FER+ majority, original pixels only
    assert surprise["ferplus"] > 0.8 and surprise["fer2013"] < 0.5, surprise


def test_an_unknown_label_set_is_refused_in_words(tmp_path, capsys):
    from moodmusic.errors import UserError
    from moodmusic.training.face import FaceConfig, train_face

    _fake_ferplus(tmp_path / "data", [0, 0, 8, 0, 0, 0, 0, 0, 0, 0])
    with pytest.raises(UserError, match="--labels must be one of fer2013, ferplus"):
        train_face(FaceConfig(data=tmp_path / "data", labels="crowd"))
    with pytest.raises(SystemExit):  # the command line offers only the two
        main(["train", "face", "--data", str(tmp_path / "data"), "--labels", "crowd"])
    assert "invalid choice: 'crowd'" in capsys.readouterr().err


@pytest.mark.data
def test_the_shared_data_has_fer_plus_majorities_for_most_original_test_faces(shared_data):
    from moodmusic.training.datasets import load_fer

    with np.load(shared_data / "faces" / "fer2013.npz") as blob:
        test = (blob["split"] == "test") & blob["original"]
        v = np.where(blob["ferplus_votes"] <= 1, 0, blob["ferplus_votes"])[test]
    ours = np.isin(v.argmax(1), [0, 1, 2, 3, 4, 6])  # neutral happiness surprise sadness anger fear
    x, y = load_fer(shared_data, ("test",), labels="ferplus")["test"]
    assert len(y) == int((ours & (v.max(1) > 0.5 * v.sum(1))).sum()) and 3_000 < len(y) < 3_400
    assert np.bincount(y, minlength=6).argmax() == MOODS.index("neutral")  # the crowd's most common answer
