"""Words as evidence: the offline recogniser on real speech, the words opinion, its measured weight in fusion."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pocketsphinx", reason="words need pocketsphinx==5.1.1 (requirements.txt)")
pytest.importorskip("vaderSentiment", reason="words need vaderSentiment==3.3.2 (requirements.txt)")

from moodmusic import samples  # noqa: E402
from moodmusic.audio import transcribe  # noqa: E402
from moodmusic.moods import MOODS  # noqa: E402
from moodmusic.recognition.fusion import FusionRule, ModalityRule, Opinion, fuse  # noqa: E402
from moodmusic.recognition.words import MAP_FILE, WordsMap, valence, words_opinion  # noqa: E402
from moodmusic.training.words import choose_weight, reference_text  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
HAPPY, HATE = "I am so happy, this is wonderful", "I hate this, it is terrible"


@pytest.fixture(scope="module")
def asr() -> transcribe.Transcriber:
    return transcribe.Transcriber()


@pytest.fixture(scope="module")
def words_map() -> WordsMap:
    return WordsMap.load(ROOT / "models" / MAP_FILE)


def test_the_model_comes_in_the_wheel_nothing_is_fetched():
    """The acoustic model, language model and dictionary are files inside the installed package."""
    import pocketsphinx

    package = Path(pocketsphinx.__file__).resolve().parent
    files = transcribe._model_files()
    assert files is not None and transcribe.available()
    for path in files.values():
        assert Path(path).resolve().is_relative_to(package) and Path(path).exists()


def test_real_speech_is_recognised_close_to_what_was_said(asr, shared_data):
    """RAVDESS actors 21-24 (never used to fit anything) read known sentences: most words come through."""
    from moodmusic.training.datasets import Clip, read_audio

    edits = words = 0
    for actor, statement in ((21, "01"), (22, "02")):
        path = shared_data / "speech" / "ravdess" / f"Actor_{actor}" / f"03-01-01-01-{statement}-01-{actor}.flac"
        clip = Clip(str(path), "neutral", actor, "ravdess")
        e, n = transcribe.word_error_rate(reference_text(clip), asr.transcribe(read_audio(str(path))).text)
        edits, words = edits + e, words + n
    assert edits / words < 0.5, f"word error rate {edits / words:.2f}"


def test_silence_says_nothing_and_gives_no_opinion(asr, words_map):
    heard = asr.transcribe(np.zeros(16000, np.float32))
    assert heard.text == "" and heard.words == [] and heard.seconds == 1.0
    quiet = samples.speech("fox") * 10 ** (-70 / 20)  # real speech 70 dB down: below what can be recognised
    assert asr.transcribe(quiet).text == ""
    assert words_opinion(heard.text, words_map).probs is None


def test_a_wrong_rate_is_refused(asr):
    with pytest.raises(ValueError, match="16000 Hz"):
        asr.transcribe(np.zeros(8000, np.float32), rate=8000)


def test_the_words_valence_moves_with_sentiment():
    happy, hate = valence(HAPPY), valence(HATE)
    assert happy[3] > 0.5 and hate[3] < -0.5  # compound
    assert happy[2] > hate[2] and hate[0] > happy[0]  # positive and negative shares


def test_the_words_opinion_is_the_fitted_map_of_the_valence(words_map):
    """The opinion moves with the valence exactly as far as the map fitted on training speakers says."""
    for text in (HAPPY, HATE):
        op = words_opinion(text, words_map)
        assert op.probs.shape == (len(MOODS),) and abs(op.probs.sum() - 1) < 1e-9
        np.testing.assert_allclose(op.probs, words_map.probs(valence(text)))
    moved = np.abs(words_opinion(HAPPY, words_map).probs - words_opinion(HATE, words_map).probs).max()
    slope = np.abs(words_map.coef).max() / words_map.temperature
    assert (moved > 1e-6) == (slope > 1e-6)


def test_the_committed_weight_follows_what_the_words_measured(words_map):
    """At chance on held-out speakers, the words get weight 0 in fusion; a weight only where it measured a gain."""
    f = words_map.fitted
    assert f.get("command", "").startswith("python -m moodmusic train words")
    choice = f["weight"]
    assert words_map.weight == choice["weight"]
    if words_map.weight > 0:
        assert choice["gain_5th_percentile"] > 0
    val = f["words_alone"]["RAVDESS actors 17-20 (val)"]
    if val["nll"] >= val["chance"]["uniform_nll"] - 0.01:  # no better than a uniform guess
        assert words_map.weight == 0.0


def test_weight_zero_for_words_that_carry_nothing_and_positive_for_words_that_do():
    """choose_weight on the same voice opinions: uniform words get 0; words that know the mood get a weight."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(len(MOODS)), 30)
    voice = rng.dirichlet(np.ones(len(MOODS)), len(y))
    voice[np.arange(len(y)), y] += 0.3
    voice /= voice.sum(axis=1, keepdims=True)
    rule = FusionRule()
    flat = np.full((len(y), len(MOODS)), 1 / len(MOODS))
    assert choose_weight(voice, flat, y, rule)["weight"] == 0.0
    knowing = np.full((len(y), len(MOODS)), 0.05)
    knowing[np.arange(len(y)), y] = 0.75
    assert choose_weight(voice, knowing, y, rule)["weight"] > 0.0


def test_fusion_counts_words_only_by_their_weight():
    voice = Opinion(np.array([.1, .1, .1, .5, .1, .1]))
    said = Opinion(np.array([.02, .02, .9, .02, .02, .02]))
    alone = fuse(None, voice, rule=FusionRule())
    np.testing.assert_allclose(fuse(None, voice, rule=FusionRule(), words=said).probs, alone.probs, atol=1e-6)
    np.testing.assert_allclose(fuse(None, voice, words=said).probs, fuse(None, voice).probs, atol=1e-6)  # no rule
    heavy = fuse(None, voice, rule=FusionRule(words=ModalityRule(weight=1.0)), words=said)
    assert heavy.mood == "happy" and heavy.weights["words"] > 0


def test_a_rule_keeps_its_words_part_through_save_and_load(tmp_path):
    rule = FusionRule(words=ModalityRule(temperature=1.5, weight=0.3))
    rule.save(tmp_path / "rule.json")
    assert FusionRule.load(tmp_path / "rule.json").words == rule.words
    FusionRule().save(tmp_path / "plain.json")  # no words part written when there is none: old files unchanged
    assert "words" not in json.loads((tmp_path / "plain.json").read_text())
    assert FusionRule.load(tmp_path / "plain.json").words.weight == 0.0


def test_predict_json_has_the_words(tmp_path):
    """`predict --json` on speech gains "words": the transcript, the words' mood and probabilities, their weight."""
    import soundfile as sf

    wav = tmp_path / "speech.wav"
    sf.write(wav, samples.speech("rainbow"), 16000)
    proc = subprocess.run([sys.executable, "-m", "moodmusic", "predict", str(wav), "--json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout.splitlines()[0])
    words = doc["words"]
    assert set(words) == {"transcript", "mood", "probs", "weight"}
    assert isinstance(words["transcript"], str) and words["transcript"]
    assert set(words["probs"]) == set(MOODS) and abs(sum(words["probs"].values()) - 1) < 1e-3
    assert words["weight"] == WordsMap.load(ROOT / "models" / MAP_FILE).weight
    assert doc["voice"]["active"] is True  # the other keys are unchanged
    proc = subprocess.run([sys.executable, "-m", "moodmusic", "predict", str(wav), "--json", "--no-words"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    skipped = json.loads(proc.stdout.splitlines()[0])
    assert proc.returncode == 0 and "words" not in skipped and skipped["voice"] == doc["voice"], proc.stderr
