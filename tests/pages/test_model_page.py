"""The Model page: the generated card with its figures, or the fixed parts and how to produce the rest."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.pages.conftest import PAGES
from moodmusic.moods import MOODS
from moodmusic.training.card import confusion_png, write_card
from moodmusic.ui import model_card

PAGE = str(PAGES / "3_Model.py")


def _run(models, monkeypatch) -> AppTest:
    monkeypatch.setenv("MOODMUSIC_MODELS_DIR", str(models))
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def card_dir(tmp_path):
    """A card as `evaluate` writes it: figures from a confusion matrix, sha1 of the face model it describes."""
    models = tmp_path / "models"
    models.mkdir()
    (models / "face_expert.pt").write_bytes(b"weights the card was computed from")
    cm = np.diag([50, 40, 60, 55, 45, 52]) + 3
    fig = confusion_png(cm, "face: test", models / "figures" / "face_test_confusion.png")
    recall = {m: float(cm[i, i] / cm[i].sum()) for i, m in enumerate(MOODS)}
    card = {
        "generated": "2026-01-01 00:00 UTC", "command": "python -m moodmusic evaluate --data D", "problems": [],
        "face": {"test": {"n": int(cm.sum()), "accuracy": float(np.trace(cm) / cm.sum()), "macro_f1": 0.61,
                          "per_class_recall": recall, "confusion_matrix": cm.tolist()},
                 "meta": {}, "sha1": hashlib.sha1((models / "face_expert.pt").read_bytes()).hexdigest()},
        "figures": {"face": str(fig.relative_to(models))},
    }
    write_card(card, models)
    return models


def test_without_a_card_the_page_says_how_to_make_one_and_still_shows_data_and_limits(tmp_path, monkeypatch):
    at = _run(tmp_path, monkeypatch)
    assert any("python -m moodmusic evaluate" in e.value for e in at.info)
    text = "\n".join(m.value for m in at.markdown)
    assert "## Data and licenses" in text and "## Splits" in text and "## Known limits" in text
    assert "Acted emotions" in text and "accents" in text and "lighting" in text
    assert not at.get("image")


def test_the_card_is_rendered_with_its_figures(card_dir, monkeypatch):
    at = _run(card_dir, monkeypatch)
    assert not at.info and not at.warning
    text = "\n".join(m.value for m in at.markdown)
    assert "| face expert | FER2013 test, six moods (n=410) | 78.0% | 0.610 |" in text
    assert "## Known limits" in text and "## Latency on this server" in text
    images = at.get("image")
    assert len(images) == 1 and images[0].captions == ["face confusion matrix"]


def test_a_card_for_other_weights_is_flagged(card_dir, monkeypatch):
    (card_dir / "face_expert.pt").write_bytes(b"retrained weights")
    at = _run(card_dir, monkeypatch)
    assert len(at.warning) == 1 and "face_expert.pt has changed" in at.warning[0].value


def test_a_missing_figure_is_named_not_fatal(card_dir, monkeypatch):
    (card_dir / "figures" / "face_test_confusion.png").unlink()
    at = _run(card_dir, monkeypatch)
    assert any("figure missing: face confusion matrix" in c.value for c in at.caption)


def test_bench_figures_become_latency_rows():
    rows = model_card.latency_rows({"face_ms_p50": 4.1, "face_ms_p95": 5.0, "audio_ms_p50": 3.0, "audio_ms_p95": 3.5})
    assert [r["step"] for r in rows] == [model_card.LATENCY_LABELS["face_ms"], model_card.LATENCY_LABELS["audio_ms"]]
    assert rows[0]["p95 (ms)"] == 5.0


def _text(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption] + [c.value for c in at.get("code")])


def test_the_page_opens_with_a_plain_summary_then_the_limits(card_dir, monkeypatch):
    at = _run(card_dir, monkeypatch)
    blocks = [m.value for m in at.markdown]
    assert blocks[0].startswith("## In short")
    card = model_card.load(card_dir).card
    cm = np.asarray(card["face"]["test"]["confusion_matrix"], float)
    assert f"right about {round(10 * card['face']['test']['accuracy'])} times in 10" in blocks[0]
    assert f"({card['face']['test']['accuracy']:.1%} of {card['face']['test']['n']:,} photos" in blocks[0]
    shares = cm / cm.sum(1, keepdims=True)
    np.fill_diagonal(shares, -1)
    truth, guess = np.unravel_index(np.argmax(shares), shares.shape)
    assert f"The most common mistake: {MOODS[truth]} read as {MOODS[guess]}" in blocks[0]
    recall = card["face"]["test"]["per_class_recall"]
    assert f"{min(recall, key=recall.get)} is the hardest mood" in blocks[0]
    assert blocks[1].startswith("## Known limits")  # near the top, and only once
    assert sum("## Known limits" in b for b in blocks) == 1
    assert blocks.index(next(b for b in blocks if "## Data and licenses" in b)) > 1


def test_the_confusion_matrix_says_what_true_and_predicted_mean(card_dir, monkeypatch):
    at = _run(card_dir, monkeypatch)
    notes = [c.value for c in at.caption if c.value.startswith("How to read it")]
    assert len(notes) == len(at.get("image")) == 1
    assert "**true** mood" in notes[0] and "**predicted**" in notes[0]


@pytest.fixture
def shipped(monkeypatch):
    """The committed models folder and its card, as the app ships them."""
    from moodmusic.config import load_settings

    models = load_settings().models_dir
    if not (models / "model_card.json").is_file():
        pytest.skip("no committed model card")
    return models


def test_the_shipped_card_prints_each_command_once_in_an_expander(shipped, monkeypatch):
    at = _run(shipped, monkeypatch)
    card = model_card.load(shipped).card
    text = _text(at)
    assert card["commands"]
    for name, cmd in card["commands"].items():
        assert text.count(cmd) == 1, name
    assert [c.value for c in at.get("code")] == list(card["commands"].values())
    assert [e.label for e in at.expander].count("Commands that produced the committed models") == 1
    assert "lent to this workplace" not in text
    # The GPU line, for users, exactly when the committed face checkpoint records one: the expert of
    # 2026-11-28 was trained on an H200 (its `trained_on` note); the one of 2026-12-06 is a weight
    # average made on a CPU (`train face-soup`), whose checkpoint records no GPU, so none may be claimed.
    gpu = "NVIDIA" in str((card["face"].get("meta") or {}).get("trained_on", ""))
    assert ("Trained on one NVIDIA" in text) == gpu, gpu


def test_the_shipped_card_keeps_calibration_and_reliability_visible_and_explained(shipped, monkeypatch):
    at = _run(shipped, monkeypatch)
    card = model_card.load(shipped).card
    text = _text(at)
    for heading in ("## Calibrated fusion", "### Calibration", "### Voice in and out of corpus",
                    "### Face only, voice only, fused"):
        assert heading in text and model_card.SECTION_NOTES[heading] in text
    captions = [c for i in at.get("image") for c in i.captions]
    assert sum("reliability" in c for c in captions) == 3
    assert sum(c.value == model_card.RELIABILITY_NOTE for c in at.caption) == 3
    assert f"{card['voice']['test']['clip']['accuracy']:.1%} of {card['voice']['test']['clip']['n']} recordings" in text
