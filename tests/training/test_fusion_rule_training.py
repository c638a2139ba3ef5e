"""`train fusion-rule` end to end on a tiny real corpus: real speech, real faces, the committed experts."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from moodmusic.cli import main
from moodmusic.recognition.calibration import apply_temperature
from moodmusic.recognition.fusion import FusionRule, ModalityRule, Opinion, fuse
from moodmusic.training.fusion_rule import GRID, PairSet, _gate, fit_weights, pair_nll

ROOT = Path(__file__).resolve().parents[2]
SPEECH = ROOT / "tests" / "fixtures" / "speech"
FACES = ROOT / "tests" / "fixtures" / "faces"
CAST = {"fox": "05", "rainbow": "04", "gaps": "03"}  # RAVDESS codes: angry, sad, happy


def _face_crops() -> list[np.ndarray]:
    from moodmusic import media
    from moodmusic.vision import FaceTracker

    crops = []
    for name in ("astronaut.jpg", "grace_hopper.jpg"):
        crops += [f.crop for f in FaceTracker().process(media.read_image(FACES / name))]
    return crops


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """RAVDESS actors 1, 17, 21 and two TESS speakers (real speech), FER-like faces (real crops, shifted)."""
    root = tmp_path_factory.mktemp("data")
    for actor in (1, 17, 21):
        d = root / "speech" / "ravdess" / f"Actor_{actor:02d}"
        d.mkdir(parents=True)
        for name, code in CAST.items():
            shutil.copy(SPEECH / f"{name}.flac", d / f"03-01-{code}-01-01-01-{actor:02d}.flac")
    for speaker in ("OAF", "YAF"):
        for label, name in (("angry", "fox"), ("sad", "rainbow"), ("happy", "gaps")):
            d = root / "speech" / "tess" / f"{speaker}_{label}"
            d.mkdir(parents=True, exist_ok=True)
            shutil.copy(SPEECH / f"{name}.flac", d / f"{speaker}_word_{label}.flac")
    au = root / "ravdess_av_features"
    au.mkdir()
    with open(au / "ravdess_au35.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["clip_id", "matching_audio_id", "actor", "emotion"] + [f"AU{i:02d}_r" for i in range(35)])
        for actor in (1, 17, 21):
            for code, emotion in (("05", "angry"), ("04", "sad"), ("03", "happy")):
                w.writerow([f"01-01-{code}-01-01-01-{actor:02d}", f"03-01-{code}-01-01-01-{actor:02d}", actor,
                            emotion, *(np.eye(35)[int(code)] * 3)])
    crops = _face_crops()
    rng = np.random.default_rng(0)
    images, labels, split = [], [], []
    for s in ("val", "test"):
        for i in range(24):
            img = np.roll(crops[i % len(crops)], rng.integers(-2, 3, 2), axis=(0, 1))
            images.append(img)
            labels.append(("happy", "neutral", "angry", "sad")[i % 4])
            split.append(s)
    (root / "faces").mkdir()
    np.savez(root / "faces" / "fer2013.npz", images=np.stack(images).astype(np.uint8), labels=np.array(labels),
             split=np.array(split), original=np.ones(len(labels), bool))
    return root


def test_train_fusion_rule_writes_a_rule_that_loads_and_fuses(corpus, tmp_path, capsys):
    out = tmp_path / "rule.json"
    rc = main(["train", "fusion-rule", "--data", str(corpus), "--out", str(out), "--cache", str(tmp_path / "cache"),
               "--members", "1", "--epochs", "2", "--batch-size", "4", "--patience", "1", "--components", "4", "--no-progress"])
    assert rc == 0
    assert "wrote" in capsys.readouterr().out
    rule = FusionRule.load(out)
    f = rule.fitted
    assert f["command"].startswith("python -m moodmusic train fusion-rule")
    assert rule.voice.temperature == pytest.approx(f["voice"]["out_of_corpus"]["temperature"])
    assert rule.face.weight == pytest.approx(f["fusion"]["weight_face"])
    assert rule.voice.gate_start == pytest.approx(f["fusion"]["gate_start"])
    assert rule.voice.novelty is not None and rule.voice.novelty.components.shape[0] <= 4
    assert {"ravdess->tess", "tess->ravdess test", "deployed, RAVDESS test"} <= set(f["voice"]["loco"])
    assert "RAVDESS action-unit pairs (actors 21-24)" in f["proof"]
    for row in f["proof"].values():
        assert {"face only", "voice only", "fused"} <= set(row)
    json.loads(out.read_text())  # plain JSON (no NaN)
    face = Opinion(np.array([0.1, 0.1, 0.5, 0.1, 0.1, 0.1]))
    assert fuse(face, None, rule=rule).probs.argmax() == 2


def test_a_missing_corpus_is_a_one_line_error(tmp_path, capsys):
    assert main(["train", "fusion-rule", "--data", str(tmp_path), "--out", str(tmp_path / "r.json")]) != 0
    err = capsys.readouterr().err
    assert "ravdess" in err and "Traceback" not in err


def test_the_vectorised_objective_is_the_rule_itself():
    """pair_nll (used by the grid search) equals the NLL of `fuse(..., rule=...)` example by example."""
    rng = np.random.default_rng(1)
    pf, pv = rng.dirichlet(np.ones(6), 40), rng.dirichlet(np.ones(6) * 0.5, 40)
    nov, y = rng.random(40), rng.integers(0, 6, 40)
    tf, tv, wf, wv, start, floor = 1.3, 2.0, 0.75, 0.6, 0.8, 0.25
    ps = PairSet(np.log(apply_temperature(pf, tf)), np.log(apply_temperature(pv, tv)), nov, y)
    rule = FusionRule(ModalityRule(tf, wf), ModalityRule(tv, wv, start, floor))
    direct = -np.mean([np.log(fuse(Opinion(pf[i]), Opinion(pv[i], novelty=float(nov[i])), rule=rule).probs[y[i]])
                       for i in range(40)])
    assert pair_nll(ps, wf, wv, start, floor) == pytest.approx(direct, rel=1e-4)
    assert np.allclose(_gate(nov, start, floor), [rule.voice.gate(float(n)) for n in nov])


def test_the_grid_search_silences_a_voice_that_is_wrong_when_novel():
    """Voice right when typical, confidently wrong when novel: the fit keeps its weight and gates it."""
    rng = np.random.default_rng(2)
    n = 600
    y = rng.integers(0, 6, n)
    face = np.full((n, 6), 0.1)
    face[np.arange(n), y] = 0.5
    nov = rng.random(n)
    wrong = (y + 1) % 6
    voice = np.full((n, 6), 0.02)
    voice[np.arange(n), np.where(nov > 0.9, wrong, y)] = 0.9
    ps = PairSet(np.log(face / face.sum(1, keepdims=True)), np.log(voice / voice.sum(1, keepdims=True)), nov, y)
    params, _ = fit_weights([ps], GRID)
    assert params["weight_voice"] > 0 and params["gate_start"] <= 0.9 and params["gate_floor"] <= 0.1
