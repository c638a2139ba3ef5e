"""The committed fusion rule (`models/fusion_rule.json`): what it says it does, on real inputs.

Synthetic speech (the espeak recordings in tests/fixtures/speech) is out of
the voice expert's corpus: the rule's novelty model must call it strange and
its gate must cut the voice's weight, while real RAVDESS speech (the data
test) reads as typical. A real face the face expert reads right keeps its
mood when that synthetic voice confidently says otherwise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from moodmusic.audio import VoiceActivity, clip_features, window_bounds
from moodmusic.audio.speaker import SpeakerAdapter, prior_from_meta
from moodmusic.moods import MOODS
from moodmusic.recognition.fusion import FusionRule, ModalityRule, Opinion, fuse

ROOT = Path(__file__).resolve().parents[2]
RULE = ROOT / "models" / "fusion_rule.json"
SPEECH = ROOT / "tests" / "fixtures" / "speech"
FACES = ROOT / "tests" / "fixtures" / "faces"


@pytest.fixture(scope="module")
def rule() -> FusionRule:
    return FusionRule.load(RULE)


def voiced_windows(path: Path) -> np.ndarray:
    """Raw window features of the voiced windows of a recording, as the live path computes them."""
    x, rate = sf.read(path, dtype="float32", always_2d=True)
    x = x.mean(1)
    assert rate == 16000
    feats = clip_features(x)
    vad = VoiceActivity()
    voiced = [i for i, (a, b) in enumerate(window_bounds(len(x))[:len(feats)]) if vad.activity(x[a:b]) >= 0.2]
    return feats[voiced]


def test_the_committed_rule_is_what_its_record_says(rule):
    f = rule.fitted
    assert f["command"].startswith("python -m moodmusic train fusion-rule")
    assert rule.voice.temperature == pytest.approx(f["voice"]["out_of_corpus"]["temperature"])
    assert rule.face.temperature == pytest.approx(f["face"]["temperature"])
    for key in ("weight_face", "weight_voice", "gate_start", "gate_floor"):
        owner = rule.face if key == "weight_face" else rule.voice
        assert getattr(owner, key.replace("_face", "").replace("_voice", "")) == pytest.approx(f["fusion"][key])
    # the fitted rule beats the face alone on its own validation pairs, and calibration lowered each ECE
    assert f["fusion"]["val_nll"] < f["fusion"]["val_nll_face_only"]
    assert f["voice"]["in_corpus"]["ece_after"] < f["voice"]["in_corpus"]["ece_before"]
    assert f["voice"]["out_of_corpus"]["ece_after"] < f["voice"]["out_of_corpus"]["ece_before"]
    assert rule.voice.novelty is not None and rule.voice.novelty.components.shape[0] <= 40
    assert RULE.stat().st_size < 400_000


def test_the_rule_changes_fusion_as_fitted(rule):
    """Weights and gate act as written: a novel voice counts `gate_floor` of its weight, a typical one all of it."""
    face = Opinion(np.array([0.05, 0.05, 0.6, 0.1, 0.1, 0.1]))
    voice = np.array([0.8, 0.04, 0.04, 0.04, 0.04, 0.04])
    typical = fuse(face, Opinion(voice, novelty=0.5), rule=rule)
    novel = fuse(face, Opinion(voice, novelty=1.0), rule=rule)
    ratio = lambda f: f.weights["voice"] / f.weights["face"]  # noqa: E731
    assert ratio(typical) == pytest.approx(rule.voice.weight / rule.face.weight, rel=1e-6)
    assert ratio(novel) == pytest.approx(rule.voice.weight * rule.voice.gate_floor / rule.face.weight, rel=1e-6)
    assert novel.probs[0] <= typical.probs[0] + 1e-9  # the novel voice pulls less towards its 'angry'
    # without a rule, the old confidence-weighted average: the rule is not a no-op
    assert not np.allclose(fuse(face, Opinion(voice), rule=rule).probs, fuse(face, Opinion(voice)).probs)
    # a rule with a gate that never starts ignores novelty
    flat = FusionRule(rule.face, ModalityRule(rule.voice.temperature, rule.voice.weight))
    assert np.allclose(fuse(face, Opinion(voice, novelty=1.0), rule=flat).probs,
                       fuse(face, Opinion(voice, novelty=0.1), rule=flat).probs)


def test_synthetic_speech_is_novel_and_gated(rule):
    """espeak's voice is unlike every RAVDESS/TESS actor: a high percentile, and its weight cut by the gate."""
    gates = []
    for name in ("fox", "rainbow", "gaps"):
        pct = rule.voice.novelty.percentile(voiced_windows(SPEECH / f"{name}.flac"))
        gates += [rule.voice.gate(float(p)) for p in pct]
        print(name, np.round(pct, 3), np.round(gates[-len(pct):], 2))
        assert np.median(pct) >= 0.95, name
    assert np.mean(gates) <= 0.8
    assert min(gates) == pytest.approx(rule.voice.gate_floor, abs=0.05)  # the strangest windows reach the floor


def test_real_ravdess_speech_is_not_novel(rule, shared_data):
    """Held-out RAVDESS actors (21-24) read as typical: most windows keep the voice's full weight."""
    from moodmusic.training.datasets import list_clips

    clips = [c for c in list_clips(shared_data) if c.actor in (21, 22, 23, 24) and c.corpus == "ravdess"]
    pick = np.random.default_rng(0).choice(len(clips), 12, replace=False)
    pct = np.concatenate([rule.voice.novelty.percentile(voiced_windows(Path(clips[i].path))) for i in pick])
    gates = np.array([rule.voice.gate(float(p)) for p in pct])
    print("RAVDESS 21-24 novelty median", np.median(pct), "gate mean", gates.mean())
    assert np.median(pct) < 0.8
    assert gates.mean() > 0.8


def test_a_right_face_keeps_its_mood_against_a_confidently_wrong_synthetic_voice(rule):
    """A real photo the face expert reads right, heard with espeak speech the voice expert reads confidently
    as another mood: over each recording the fused mood stays the face's, and so does nearly every window."""
    from moodmusic import media
    from moodmusic.pipeline import load_experts
    from moodmusic.vision import FaceTracker

    experts = load_experts()
    face = FaceTracker().process(media.read_image(FACES / "astronaut.jpg"))[0]
    face_p = experts.face(face.crop[None])[0]
    assert MOODS[int(face_p.argmax())] == "happy"  # the astronaut smiles
    prior = prior_from_meta(experts.voice_norm)
    kept = []
    for name in ("fox", "rainbow", "gaps"):
        raw = voiced_windows(SPEECH / f"{name}.flac")
        voice_p = experts.voice(SpeakerAdapter(prior).normalise(raw, learn=False) if prior else raw)
        assert MOODS[int(voice_p.mean(0).argmax())] != "happy" and voice_p.max(1).mean() > 0.6  # confidently wrong
        fused = np.array([fuse(Opinion(face_p), Opinion(p, novelty=float(n)), rule=rule).probs
                          for p, n in zip(voice_p, rule.voice.novelty.percentile(raw))])
        assert MOODS[int(fused.mean(0).argmax())] == "happy", name
        kept += [MOODS[int(f.argmax())] == "happy" for f in fused]
    # the committed rule lets one window of 13 through (rainbow, novelty 0.98: just where the gate starts)
    assert np.mean(kept) >= 0.85, kept
