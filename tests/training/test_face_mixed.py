"""Issue 25: both label sets in one target (`train face --labels mixed`), the in-the-wild augmentations,
and the robustness check on perturbed faces."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from moodmusic.cli import main
from moodmusic.errors import UserError
from moodmusic.moods import MOODS
from moodmusic.training.augment import FACE_AUGMENTS, augment_faces

from tests.training.test_face_training import NEUTRAL, _fake_ferplus
from tests.training.test_training_ddp import tiny_faces

SURPRISE, NEUTRAL_MOOD = MOODS.index("surprise"), MOODS.index("neutral")


# --- the mixed target ---


def test_mixed_targets_weigh_fer2013_against_the_crowd_and_keep_rows_with_one_of_them():
    from moodmusic.training.face_targets import mix_targets

    fer = np.array([0, -1, 2, -1])  # FER2013 says angry / disgust (none of ours) / happy / disgust
    votes = np.zeros((4, 6), np.float32)
    votes[0, SURPRISE] = votes[1, NEUTRAL_MOOD] = 1.0  # row 2: no usable vote; row 3: neither label
    y = mix_targets(fer, votes, 0.25)
    np.testing.assert_allclose(y[0], np.eye(6)[0] * 0.25 + np.eye(6)[SURPRISE] * 0.75)
    np.testing.assert_allclose(y[1], np.eye(6)[NEUTRAL_MOOD])  # the crowd alone
    np.testing.assert_allclose(y[2], np.eye(6)[2])  # FER2013 alone
    assert y[3].sum() == 0
    for w in (0.0, 1.0):  # a pure label set still keeps the rows that only have the other
        pure = mix_targets(fer, votes, w)
        np.testing.assert_allclose(pure[0], np.eye(6)[SURPRISE] if w == 0 else np.eye(6)[0])
        np.testing.assert_allclose(pure[1:3].sum(1), 1.0)
    with pytest.raises(UserError, match="--mix-weight must lie in 0..1"):
        mix_targets(fer, votes, 1.5)


def test_mixed_data_reads_original_pixels_and_validates_on_both_label_sets(tmp_path):
    from moodmusic.training.datasets import load_fer
    from moodmusic.training.face_targets import both_val_sets, load_mixed

    _fake_ferplus(tmp_path, [2, 0, 8, 0, 0, 0, 0, 0, 0, 0])  # the crowd: surprise 0.8, neutral 0.2
    with np.load(tmp_path / "faces" / "fer2013.npz") as blob:
        rows = (blob["split"] == "train") & blob["original"]
        fer = np.array([MOODS.index(str(m)) for m in blob["labels"][rows]])
    x, y = load_mixed(tmp_path, "train", 0.5)
    assert len(x) == rows.sum() == 120  # rows without original pixels dropped
    crowd = np.zeros(6)
    crowd[SURPRISE], crowd[NEUTRAL_MOOD] = 0.8, 0.2
    np.testing.assert_allclose(y, 0.5 * np.eye(6)[fer] + 0.5 * crowd, atol=1e-6)
    xv, yv = both_val_sets(tmp_path)
    fer_val = load_fer(tmp_path, ("val",), originals_only=True)["val"]
    plus_val = load_fer(tmp_path, ("val",), labels="ferplus")["val"]
    assert len(xv) == len(fer_val[0]) + len(plus_val[0]) == 120
    assert yv.tolist() == fer_val[1].tolist() + plus_val[1].tolist()


def test_train_face_mixed_follows_its_weight_between_the_two_label_sets(tmp_path):
    """The crowd says surprise for every training face, FER2013's labels go round all six: with the weight
    on the crowd the model reads unseen patches as surprise, with the weight on FER2013 it does not."""
    from moodmusic.recognition.checkpoint import load_checkpoint
    from moodmusic.recognition.face_expert import FaceExpert
    from moodmusic.training.face_robustness import PERTURBATIONS, robustness
    from moodmusic.training.scoring import evaluate_face

    _fake_ferplus(tmp_path / "data", [2, 0, 8, 0, 0, 0, 0, 0, 0, 0])
    common = ["train", "face", "--data", str(tmp_path / "data"), "--epochs", "4", "--batch-size", "32",
              "--lr", "0.01", "--threads", "1", "--no-test", "--no-progress", "--device", "cpu",
              "--widths", "8", "8", "16", "--emb-dim", "16", "--test-time-flip", "never", "--labels", "mixed"]
    surprise = {}
    for weight in ("0.1", "1.0"):
        out = tmp_path / f"mixed{weight}.pt"
        assert main([*common, "--mix-weight", weight, "--out", str(out), "--run-dir", str(tmp_path / weight)]) == 0
        probs, _ = FaceExpert.load(out).predict(tiny_faces(24, seed=1)[0])
        surprise[weight] = float((probs.argmax(1) == SURPRISE).mean())
        _, meta = load_checkpoint(out, kind="face")
        assert meta["labels"] == "mixed" and meta["mix_weight"] == float(weight)
        assert f"--mix-weight {weight}" in meta["command"] and "--augment standard" in meta["command"]
        assert meta["train_size"] == 120
        assert meta["metrics"]["val"]["n"] == 60 and meta["metrics"]["val_ferplus"]["n"] == 60  # both label sets
    assert surprise["0.1"] > 0.8 and surprise["1.0"] < 0.5, surprise

    # the robustness check reads the same faces as the scorer: its clean figure is the scorer's
    result = robustness(out, tmp_path / "data")
    assert set(result) == set(PERTURBATIONS)
    clean = evaluate_face(out, tmp_path / "data", split="val", originals_only=True, label_sets=False)
    assert result["clean"]["fer2013"] == pytest.approx(clean["accuracy"])


def test_train_face_refuses_an_unknown_augmentation_or_a_weight_outside_0_1(tmp_path, capsys):
    from moodmusic.training.face import FaceConfig, train_face

    _fake_ferplus(tmp_path / "data", [0, 0, 8, 0, 0, 0, 0, 0, 0, 0])
    with pytest.raises(UserError, match="--augment must be one of standard, wild"):
        train_face(FaceConfig(data=tmp_path / "data", augment="studio"))
    assert main(["train", "face", "--data", str(tmp_path / "data"), "--labels", "mixed", "--mix-weight", "2",
                 "--epochs", "1", "--no-progress"]) != 0
    assert "--mix-weight must lie in 0..1" in capsys.readouterr().err


# --- in-the-wild augmentations ---


def _sharpness(x: torch.Tensor) -> float:
    """Mean absolute difference between neighbouring pixels: falls when detail is lost."""
    return float((x[..., 1:] - x[..., :-1]).abs().mean())


def test_the_wild_augmentations_each_do_what_they_say_and_leave_the_standard_recipe_alone():
    x = torch.from_numpy(tiny_faces(32)[0])
    gen = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    plain = augment_faces(x, gen(), **NEUTRAL)
    off = {k: 0.0 for k in ("shear", "lowres_p", "blur_p", "side_light_p", "band_p", "noise")}
    torch.testing.assert_close(augment_faces(x, gen(), **NEUTRAL, **off), plain)  # off: the same draws
    torch.testing.assert_close(augment_faces(x, gen()), augment_faces(x, gen(), **FACE_AUGMENTS["standard"]))

    blurred = augment_faces(x, gen(), **NEUTRAL, blur_p=1.0)
    small = augment_faces(x, gen(), **NEUTRAL, lowres_p=1.0)
    assert _sharpness(blurred) < 0.8 * _sharpness(plain) and _sharpness(small) < 0.8 * _sharpness(plain)

    banded = augment_faces(x, gen(), **NEUTRAL, band_p=1.0)
    rows_changed = (banded != plain).any(-1).squeeze(1).sum(1)  # per image
    assert int(rows_changed.min()) >= 2 and int(rows_changed.max()) <= 8  # a band across the eyes, not the face
    assert float(banded.mean()) < float(plain.mean())

    lit = augment_faces(x, gen(), **NEUTRAL, side_light_p=1.0)
    ratio = (lit + 1) / (plain + 1)
    # brighter on one side than the other, per image: the light's direction differs between images
    halves = torch.stack([ratio[..., :20].mean((1, 2, 3)), ratio[..., 20:].mean((1, 2, 3))])
    assert float((halves[0] - halves[1]).abs().mean()) > 0.05

    sheared = augment_faces(x, gen(), **NEUTRAL, shear=0.3)
    noisy = augment_faces(x, gen(), **NEUTRAL, noise=8.0)
    assert not torch.allclose(sheared, plain) and not torch.allclose(noisy, plain)
    wild = augment_faces(x, gen(), **FACE_AUGMENTS["wild"])
    torch.testing.assert_close(wild, augment_faces(x, gen(), **FACE_AUGMENTS["wild"]))  # seeded: repeatable
    assert wild.shape == (32, 1, 40, 40) and float(wild.min()) >= 0 and float(wild.max()) <= 255


def test_the_robustness_perturbations_degrade_real_faces_the_way_they_claim():
    from moodmusic.training.face_robustness import PERTURBATIONS

    x = tiny_faces(8)[0]
    out = {name: f(x) for name, f in PERTURBATIONS.items()}
    assert all(v.shape == x.shape and v.dtype == np.uint8 for v in out.values())
    sharp = lambda a: np.abs(np.diff(a.astype(np.float32), axis=-1)).mean()  # noqa: E731
    assert sharp(out["blur"]) < 0.8 * sharp(x) and sharp(out["low-res"]) < 0.8 * sharp(x)
    assert out["dark"].mean() < 0.35 * x.mean() and out["bright"].mean() > x.mean()
    assert out["side-light"][..., :8].mean() > out["side-light"][..., -8:].mean()
    assert (out["glasses"][:, 14:22] != x[:, 14:22]).any() and (out["glasses"][:, 30:] == x[:, 30:]).all()
    np.testing.assert_array_equal(out["noise"], PERTURBATIONS["noise"](x))  # fixed seed: the same for every model
    np.testing.assert_array_equal(out["clean"], x)


# --- a face expert averaged from fine-tunes of one starting point (`train face-soup`) ---


def _tiny_checkpoint(path, seed: int, widths=(8, 8, 16)) -> dict:
    from moodmusic.recognition.checkpoint import save_checkpoint
    from moodmusic.recognition.face_expert import FaceNet
    from moodmusic.training.face import _feature_version

    torch.manual_seed(seed)
    net = FaceNet(widths=widths, emb_dim=16)
    meta = {"kind": "face", "classes": list(MOODS), "feature_version": _feature_version(),
            "arch": {"widths": list(widths), "emb_dim": 16, "crop": 40, "dropout": 0.3, "blocks": 1, "stem_stride": 2},
            "command": f"python -m moodmusic train face --seed {seed}", "labels": "mixed", "augment": "wild",
            "metrics": {"val_single": {"accuracy": 0.5}}}
    save_checkpoint(path, net.state_dict(), meta)
    return net.state_dict()


def test_train_face_soup_averages_the_weights_and_scores_val_with_both_label_sets(tmp_path, capsys):
    from moodmusic.recognition.checkpoint import load_checkpoint

    _fake_ferplus(tmp_path / "data", [2, 0, 8, 0, 0, 0, 0, 0, 0, 0])
    a, b = _tiny_checkpoint(tmp_path / "a.pt", 0), _tiny_checkpoint(tmp_path / "b.pt", 1)
    out = tmp_path / "soup.pt"
    assert main(["train", "face-soup", "--data", str(tmp_path / "data"), "--models", str(tmp_path / "a.pt"),
                 str(tmp_path / "b.pt"), "--weights", "3", "1", "--out", str(out), "--no-test"]) == 0
    state, meta = load_checkpoint(out, kind="face")
    for key in ("head.weight", "embedding.1.running_var"):  # BatchNorm statistics are averaged too
        torch.testing.assert_close(state[key], 0.75 * a[key] + 0.25 * b[key])
    assert [i["weight"] for i in meta["soup"]["ingredients"]] == [0.75, 0.25]
    assert meta["soup"]["ingredients"][1]["command"] == "python -m moodmusic train face --seed 1"
    assert meta["command"].startswith("python -m moodmusic train face-soup") and "--weights 3.0 1.0" in meta["command"]
    assert meta["init"]["command"] == "python -m moodmusic train face --seed 0"  # the card's starting point
    assert meta["metrics"]["val"]["n"] == 60 and meta["metrics"]["val_ferplus"]["n"] == 60
    assert "test" not in meta["metrics"]

    _tiny_checkpoint(tmp_path / "wide.pt", 2, widths=(8, 16, 16))
    assert main(["train", "face-soup", "--data", str(tmp_path / "data"), "--models", str(tmp_path / "a.pt"),
                 str(tmp_path / "wide.pt"), "--out", str(tmp_path / "x.pt")]) != 0
    assert "only models of one architecture can be averaged" in capsys.readouterr().err
    assert main(["train", "face-soup", "--data", str(tmp_path / "data"), "--models", str(tmp_path / "a.pt"),
                 str(tmp_path / "b.pt"), "--weights", "1", "--out", str(tmp_path / "x.pt")]) != 0
    assert "one non-negative weight per model" in capsys.readouterr().err


def test_a_face_expert_records_every_command_that_made_it_in_order_and_the_card_lists_them(tmp_path):
    """Fine-tunes of averages of fine-tunes: the last checkpoint's lineage is the whole recipe, oldest first,
    each step with the sha1 of the file it wrote, and `evaluate` lists the commands in that order."""
    import hashlib
    import json

    from moodmusic.recognition.checkpoint import load_checkpoint

    data = tmp_path / "data"
    _fake_ferplus(data, [2, 0, 8, 0, 0, 0, 0, 0, 0, 0])
    with np.load(data / "faces" / "fer2013.npz") as blob:  # half the held-out rows become the test split
        files = {k: blob[k] for k in blob.files}
    held = np.flatnonzero(files["split"] == "val")
    files["split"][held[::2]] = "test"
    np.savez(data / "faces" / "fer2013.npz", **files)

    def train(out, *extra):
        assert main(["train", "face", "--data", str(data), "--out", str(out), "--run-dir", str(out.parent / out.stem),
                     "--epochs", "1", "--batch-size", "32", "--threads", "1", "--widths", "8", "8", "16",
                     "--emb-dim", "16", "--no-test", "--no-progress", "--test-time-flip", "never", "--limit", "64",
                     *extra]) == 0

    def soup(out, *models):
        assert main(["train", "face-soup", "--data", str(data), "--models", *map(str, models), "--out", str(out),
                     "--no-test"]) == 0

    a, b, c, d = (tmp_path / f"{n}.pt" for n in "abcd")
    models = tmp_path / "models"
    train(a)
    train(b, "--init", str(a), "--labels", "mixed")
    soup(c, a, b)
    train(d, "--init", str(c), "--labels", "mixed", "--augment", "wild")
    models.mkdir()
    soup(models / "face_expert.pt", c, d)

    metas = {p: load_checkpoint(p, kind="face")[1] for p in (a, b, c, d, models / "face_expert.pt")}
    lineage = metas[models / "face_expert.pt"]["lineage"]
    assert [s["path"] for s in lineage] == [str(a), str(b), str(c), str(d)]
    assert [s["command"] for s in lineage] == [metas[p]["command"] for p in (a, b, c, d)]
    assert [s["sha1"] for s in lineage] == [hashlib.sha1(p.read_bytes()).hexdigest() for p in (a, b, c, d)]
    assert "--init" in lineage[3]["command"] and str(c) in lineage[3]["command"]
    assert metas[d]["lineage"] == lineage[:3]  # a fine-tune's lineage: its starting point's, then the start

    assert main(["evaluate", "--data", str(data), "--models", str(models), "--only", "face"]) == 0
    card = json.loads((models / "model_card.json").read_text())
    face = [(k, v) for k, v in card["commands"].items() if k.startswith("face expert")]
    assert [v for _, v in face] == [metas[p]["command"] for p in (a, b, c, d, models / "face_expert.pt")]
    assert face[0][0] == f"face expert, step 1 of 5 (its file: {a})"
    md = (models / "MODEL_CARD.md").read_text()
    listed = [md.index(f"`{v}`", md.index("## Commands that produced")) for _, v in face]
    assert listed == sorted(listed)


def test_an_older_average_gives_its_recipe_through_the_files_it_names_when_they_still_hold_what_was_read(tmp_path):
    """Checkpoints from before lineages: an average names its models (with sha1s) and its starting point
    (without); the distilled student it names names its teachers. Opened where the file is unchanged."""
    import hashlib

    from moodmusic.recognition.checkpoint import load_checkpoint, save_checkpoint
    from moodmusic.training.lineage import lineage_from_files

    student, other = tmp_path / "student.pt", tmp_path / "other.pt"
    _tiny_checkpoint(student, 0)
    state, meta = load_checkpoint(student, kind="face")
    meta["teachers"] = [{"path": "runs/teacher0.pt", "command": "train face --out runs/teacher0.pt"}]
    save_checkpoint(student, state, meta)
    _tiny_checkpoint(other, 1)
    sha = {p: hashlib.sha1(p.read_bytes()).hexdigest() for p in (student, other)}
    old = {"init": {"path": str(student), "command": meta["command"]},
           "soup": {"ingredients": [{"path": str(p), "sha1": sha[p], "command": c} for p, c in
                                    ((student, meta["command"]), (other, "python -m moodmusic train face --seed 1"))]}}
    steps = lineage_from_files(old)
    assert [s["command"] for s in steps] == ["train face --out runs/teacher0.pt", meta["command"],
                                             "python -m moodmusic train face --seed 1"]
    assert steps[1]["sha1"] == sha[student]  # the starting point is the first model: one step, with its sha1
    _tiny_checkpoint(student, 5)  # the file now holds another model: its teachers are not claimed
    assert [s["command"] for s in lineage_from_files(old)] == [meta["command"], "python -m moodmusic train face --seed 1"]
