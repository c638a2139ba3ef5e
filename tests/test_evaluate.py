"""`evaluate` and the model card: figures recomputed from the weights, written where people read them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
import soundfile as sf
import torch

from moodmusic.audio import FEATURE_VERSION, clip_features
from moodmusic.cli import main
from moodmusic.moods import MOOD_INDEX, MOODS
from moodmusic.recognition.metrics import classification_metrics
from moodmusic.recognition.voice_expert import DEFAULT_PATH, KIND, VoiceExpert, VoiceNet
from moodmusic.training.card import confusion_png, render_markdown, write_card

SPEECH = Path(__file__).resolve().parent / "fixtures" / "speech"
CAST = {"fox": ("05", "angry"), "rainbow": ("04", "sad"), "gaps": ("03", "happy")}


@pytest.fixture()
def corpus(tmp_path) -> Path:
    """RAVDESS-style folder with the three fixture recordings as test actor 21."""
    d = tmp_path / "data" / "speech" / "ravdess" / "Actor_21"
    d.mkdir(parents=True)
    for name, (code, _) in CAST.items():
        shutil.copy(SPEECH / f"{name}.flac", d / f"03-01-{code}-01-01-01-21.flac")
    return tmp_path / "data"


def _voice_model(folder: Path) -> VoiceExpert:
    torch.manual_seed(0)
    feats = np.vstack([clip_features(sf.read(SPEECH / f"{n}.flac", dtype="float32")[0]) for n in CAST])
    net = VoiceNet(feats.shape[1])
    net.set_scaler(feats.mean(0), feats.std(0))
    expert = VoiceExpert(net, {"kind": KIND, "classes": list(MOODS), "feature_version": FEATURE_VERSION,
                               "arch": net.config, "command": "python -m moodmusic train voice --epochs 1"})
    expert.save(folder / "voice_expert.pt")
    return expert


def test_evaluate_reports_what_the_committed_weights_do(corpus, tmp_path):
    models = tmp_path / "models"
    expert = _voice_model(models)
    rc = main(["evaluate", "--data", str(corpus), "--models", str(models), "--cache", str(tmp_path / "c"),
               "--only", "voice", "--jobs", "1"])
    assert rc == 0
    card = json.loads((models / "model_card.json").read_text())
    # recompute the clip-level figure independently: mean window probabilities per clip
    preds, truth = [], []
    for name, (_, mood) in CAST.items():
        probs = expert(clip_features(sf.read(SPEECH / f"{name}.flac", dtype="float32")[0]))
        preds.append(int(probs.mean(0).argmax()))
        truth.append(MOOD_INDEX[mood])
    expected = classification_metrics(truth, preds, MOODS)
    assert card["voice"]["test"]["clip"]["confusion_matrix"] == expected["confusion_matrix"]
    assert set(card["voice"]["gain"]) == {"+15 dB", "-10 dB"}
    assert card["commands"]["voice expert"] == "python -m moodmusic train voice --epochs 1"
    md = (models / "MODEL_CARD.md").read_text()
    assert f"{100 * expected['accuracy']:.1f}%" in md
    assert (models / card["figures"]["voice"]).is_file()


def test_evaluate_says_what_it_could_not_evaluate(corpus, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    assert main(["evaluate", "--data", str(corpus), "--models", str(models), "--no-au", "--jobs", "1"]) == 0
    card = json.loads((models / "model_card.json").read_text())
    assert any(p.startswith("face:") for p in card["problems"])
    assert any(p.startswith("voice:") for p in card["problems"])
    assert "Not evaluated: face" in (models / "MODEL_CARD.md").read_text()


def test_evaluate_without_data_is_a_one_line_error(tmp_path, capsys):
    assert main(["evaluate", "--data", str(tmp_path / "nowhere"), "--models", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "--data" in err and "Traceback" not in err


def test_the_card_names_data_licenses_limits_and_the_fusion_caveat(tmp_path):
    m = classification_metrics([0, 1, 2, 3, 4, 5, 0], [0, 1, 2, 3, 4, 4, 1], MOODS)
    card = {"voice": {"test": {"clip": m, "window": m}, "meta": {"command": "python -m moodmusic train voice"}},
            "fusion": {"deployed": {"meta": {"arch": {"strategy": "gated"}}, "figures": {"same_label_pairs_test": m}}},
            "commands": {"voice expert": "python -m moodmusic train voice"}}
    json_path, md_path = write_card(card, tmp_path)
    md = md_path.read_text()
    for needle in ("CC BY-NC-SA 4.0", "CC BY-NC-ND 4.0", "research use", "actors 21–24", "unpaired same-label",
                   "Khaireddin", "Cao et al. 2014", "Ibrahim", "58.7%", f"{100 * m['accuracy']:.1f}%",
                   "`python -m moodmusic train voice`"):
        assert needle in md, needle
    assert json.loads(json_path.read_text())["voice"]["test"]["clip"]["accuracy"] == m["accuracy"]
    assert render_markdown(card) == md


def test_the_card_says_how_a_fine_tuned_face_expert_was_made():
    m = classification_metrics([0, 1, 2, 3, 4, 5], [0, 1, 2, 3, 4, 4], MOODS)
    teacher = {"arch": {"widths": [64, 128, 256], "blocks": 2}, "val": m, "command": "train face --blocks 2"}

    def face(meta):
        return render_markdown({"face": {"test": m, "meta": {"arch": {"widths": [32, 64, 128]},
                                                            "teachers": [teacher], **meta}}})

    online = face({"distill": {"weight": 0.7, "temperature": 2.0}, "command": "train face --teacher t.pt"})
    assert "the same augmented batch shown to teacher and student" in online
    assert "Trained with `train face --teacher t.pt`" in online and "Starting point" not in online
    tuned = face({"distill": {"weight": 0.9, "temperature": 2.0, "views": 2},
                  "init": {"path": "runs/face_student.pt", "val": m, "command": "train face --out runs/face_student.pt"},
                  "command": "train face --init runs/face_student.pt --teacher-views 2"})
    assert "answering 2 fixed augmented views of each training image once" in tuned
    assert (f"Starting point (val accuracy {100 * m['accuracy']:.1f}%), written to `runs/face_student.pt`: "
            "`train face --out runs/face_student.pt`") in tuned
    assert "Fine-tuned with `train face --init runs/face_student.pt --teacher-views 2`" in tuned


def test_confusion_images_are_small_real_pngs(tmp_path):
    m = classification_metrics([0, 1, 2, 3, 4, 5], [0, 1, 2, 3, 5, 5], MOODS)
    path = confusion_png(m["confusion_matrix"], "test", tmp_path / "cm.png")
    img = matplotlib.image.imread(path)
    assert img.ndim == 3 and 200 < img.shape[0] < 500 and path.stat().st_size < 100_000


@pytest.mark.data
def test_the_committed_voice_expert_hears_moods_of_an_unseen_actor(shared_data):
    """RAVDESS actor 21 is in the held-out test split: well above chance (1/6) at clip level, heard as
    a live session hears a speaker (one adapter learning their voice clip after clip), and from the
    prior alone (a speaker's first words)."""
    from moodmusic.audio.speaker import SpeakerAdapter, prior_from_meta
    from moodmusic.training.datasets import list_clips

    expert = VoiceExpert.load(DEFAULT_PATH, feature_version=FEATURE_VERSION)
    prior = prior_from_meta(expert.meta["speaker_norm"])
    clips = [c for c in list_clips(shared_data) if c.actor == 21 and c.corpus == "ravdess"]
    order = np.random.default_rng(0).permutation(len(clips))
    session = SpeakerAdapter(prior)
    stream, first = [], []
    for i in order:
        feats = clip_features(sf.read(clips[i].path, dtype="float32")[0])
        truth = MOOD_INDEX[clips[i].mood]
        first.append(int(expert(SpeakerAdapter(prior).normalise(feats, learn=False)).mean(0).argmax()) == truth)
        stream.append(int(expert(session.normalise(feats)).mean(0).argmax()) == truth)
    print(f"actor 21: stream {np.mean(stream):.3f}, first words {np.mean(first):.3f}")
    assert len(clips) == 52 and np.mean(stream) > 0.45 and np.mean(first) > 0.35


def test_the_card_shows_the_fusion_rules_calibration_loco_and_proof(corpus, tmp_path):
    """`evaluate --only calibration` reads models/fusion_rule.json: reliability diagrams per expert, the
    leave-one-corpus-out table beside the in-corpus figures, and face-only / voice-only / fused; the Model
    page turns the card's image lines into those figures."""
    from moodmusic.recognition.fusion import FusionRule
    from moodmusic.ui.model_card import split_blocks

    rule_path = Path(__file__).resolve().parents[1] / "models" / "fusion_rule.json"
    rule = FusionRule.load(rule_path)
    out = tmp_path / "card"
    assert main(["evaluate", "--data", str(corpus), "--out", str(out), "--only", "calibration"]) == 0
    md = (out / "MODEL_CARD.md").read_text()
    card = json.loads((out / "model_card.json").read_text())
    assert "## Calibrated fusion" in md and "leave-one-corpus-out" in md
    assert f"| voice | {rule.voice.temperature:.3f} (out-of-corpus)" in md
    face = rule.fitted["face"]
    assert f"{face['ece_before']:.3f} → {face['ece_after']:.3f}" in md
    assert f"| TESS only | RAVDESS actors 21–24 | out of corpus | " \
           f"{100 * rule.fitted['voice']['loco']['tess->ravdess test']['clip_accuracy']:.1f}%" in md
    assert "RAVDESS action-unit pairs" in md and "MEAD M030" in md
    assert card["calibration"]["rule"]["voice"]["gate_floor"] == rule.voice.gate_floor
    images = [b for b in split_blocks(md, out) if b.kind == "image" and "reliability" in b.text]
    assert len(images) == 3
    for b in images:
        img = matplotlib.image.imread(b.path)
        assert img.ndim == 3 and 200 < img.shape[0] < 500 and b.path.stat().st_size < 100_000


def test_the_card_reports_the_face_expert_with_both_label_sets():
    m = classification_metrics([0, 1, 2, 3, 4, 5, 3], [0, 1, 2, 3, 4, 4, 4], MOODS)
    fp = classification_metrics([3, 3, 3, 1, 0], [3, 4, 0, 1, 0], MOODS)
    md = render_markdown({"face": {"test": dict(m, n=9, label_sets={"fer2013": m, "ferplus": fp}), "meta": {}}})
    assert f"| face expert | FER2013 test, original pixels, FER+ crowd majority, six moods (n=5) | " \
           f"{100 * fp['accuracy']:.1f}% | {fp['macro_f1']:.3f} |" in md
    assert "(2 test rows still histogram-equalized in the data left out)" in md
    row = next(line for line in md.splitlines() if line.startswith("| FER+ crowd majority |"))
    assert row.split(" | ")[1:4] == ["5", f"{100 * fp['accuracy']:.1f}%", f"{fp['macro_f1']:.3f}"]
    assert row.split(" | ")[4 + MOODS.index("neutral")] == "33.3%"  # 1 of 3 neutral faces
    assert "sadness→sad" in md and "Disgust is dropped, not merged into angry" in md
    assert "faces where the two agree" not in md  # a card from before the agreement row: no row, no note
    agreed = dict(classification_metrics([0, 2, 3], [0, 2, 4], MOODS),
                  agreement={"share": 0.679, "ceiling_fer2013": 0.7172, "ceiling_ferplus": 0.6811})
    md = render_markdown({"face": {"test": dict(m, n=9, label_sets={"fer2013": m, "ferplus": fp,
                                                                    "agreed": agreed}), "meta": {}}})
    row = next(line for line in md.splitlines() if line.startswith("| faces where the two agree |"))
    assert row.split(" | ")[1:3] == ["3", "66.7%"]
    assert "agree on 67.9% of the faces both label" in md
    assert "read the crowd perfectly would score 71.7% on FER2013's labels" in md and "68.1% on the crowd's" in md
    plain = render_markdown({"face": {"test": m, "meta": {}}})  # a card from before FER+: no empty table
    assert "FER+" not in plain and "| face expert | FER2013 test, six moods (n=7)" in plain


def test_evaluate_face_scores_original_pixels_with_both_label_sets(tmp_path):
    """`evaluate --only face` scores the original-pixel test rows with FER2013's labels and with the FER+
    majority, and writes both to the card (a FER2013-shaped file of real photo patches; a tiny model)."""
    from moodmusic.recognition.face_expert import FaceExpert
    from tests.training.test_face_training import _fake_ferplus
    from tests.training.test_training_ddp import tiny_faces

    majority = _fake_ferplus(tmp_path / "data", [0, 0, 8, 0, 0, 0, 0, 0, 0, 0], held_out="test")
    models = tmp_path / "models"
    assert main(["train", "face", "--data", str(tmp_path / "data"), "--out", str(models / "face_expert.pt"),
                 "--run-dir", str(tmp_path / "run"), "--epochs", "1", "--batch-size", "32", "--threads", "1",
                 "--widths", "8", "8", "16", "--emb-dim", "16", "--no-test", "--no-progress",
                 "--test-time-flip", "never", "--limit", "64"]) == 0
    assert main(["evaluate", "--data", str(tmp_path / "data"), "--models", str(models), "--only", "face"]) == 0
    card = json.loads((models / "model_card.json").read_text())
    test, sets = card["face"]["test"], card["face"]["test"]["label_sets"]
    assert test["n"] == 64 and sets["fer2013"]["n"] == sets["ferplus"]["n"] == len(majority) == 60
    x, y = tiny_faces(192)
    rows = (np.arange(192) % 3 == 2) & (np.arange(192) % 16 != 5)  # the test rows with original pixels
    expected = classification_metrics(majority, FaceExpert.load(models / "face_expert.pt").predict(x[rows])[0]
                                      .argmax(1), MOODS)
    assert sets["ferplus"]["confusion_matrix"] == expected["confusion_matrix"]
    # the fake crowd's majority is each test face's FER2013 label: every face is an agreed one
    assert sets["agreed"]["n"] == 60 and sets["agreed"]["agreement"]["share"] == 1.0
    assert sets["agreed"]["confusion_matrix"] == expected["confusion_matrix"]
    md = (models / "MODEL_CARD.md").read_text()
    assert f"| FER+ crowd majority | 60 | {100 * expected['accuracy']:.1f}% |" in md
    assert f"| faces where the two agree | 60 | {100 * expected['accuracy']:.1f}% |" in md
    assert "(4 test rows still histogram-equalized in the data left out)" in md
