"""Confidence-weighted late fusion of the face and voice experts' opinions.

Each modality gives a probability vector over the moods plus how much to
trust it right now: the quality of the signal (face detection score, share
of voiced audio), how decided the expert is (one minus normalised entropy),
and how fresh the evidence is (it fades with a half-life, so a face seen two
seconds ago counts less than one seen now). The fused distribution is the
weighted average; the weights are returned too, so the page can show *why*.

With a `FusionRule` (fitted on data, `models/fusion_rule.json`) the opinions
are first calibrated (one temperature per expert, so a probability means how
often that expert is right on people it never met) and combined as a
product of experts: each expert's log-probabilities count with a weight
fitted on held-out data, times its signal quality, freshness and novelty
gate (an input unlike the expert's training recordings counts less). An
expert that is often wrong out of its corpus then cannot overrule one that is
right: its calibrated opinion is flat and its weight small.

>>> import numpy as np
>>> face = Opinion(np.array([.0, .0, .9, .1, .0, .0]), quality=1.0, age=0.0)
>>> voice = Opinion(np.array([.1, .1, .1, .5, .1, .1]), quality=0.2, age=0.0)
>>> fused = fuse(face, voice)
>>> MOODS[int(fused.probs.argmax())], fused.weights["face"] > fused.weights["voice"]
('happy', True)
>>> fuse(None, None).probs is None
True
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from moodmusic.recognition.calibration import apply_temperature
from moodmusic.recognition.novelty import NoveltyModel

from moodmusic.moods import MOODS, MoodReading

# How far each expert is trusted relative to the other when both are equally
# sure, from their speaker-/subject-independent test accuracy (model card).
# Words count only through a fitted rule (`FusionRule.words`, measured on held-out speakers): never by default.
DEFAULT_PRIORS: dict[str, float] = {"face": 1.0, "voice": 0.8, "words": 0.0}


@dataclass(frozen=True)
class Opinion:
    """One modality's latest evidence."""

    probs: np.ndarray
    quality: float = 1.0  # 0..1: detection score, voiced share
    age: float = 0.0  # seconds since it was observed
    novelty: float | None = None  # 0..1 percentile against held-out training-like inputs (`novelty`); None: unknown


@dataclass(frozen=True)
class ModalityRule:
    """How fusion treats one expert; every number is fitted on held-out data (`training.fusion_rule`)."""

    temperature: float = 1.0  # calibration: its logits are divided by this
    weight: float = 1.0  # how much its calibrated log-probabilities count in the product
    gate_start: float = 1.0  # novelty percentile above which its weight starts to fall
    gate_floor: float = 1.0  # what is left of its weight at novelty 1.0 (beyond every held-out input)
    novelty: NoveltyModel | None = None  # scores this expert's input features

    def gate(self, novelty: float | None) -> float:
        """1 for inputs like the held-out ones, falling linearly to `gate_floor` for the strangest."""
        if novelty is None or not np.isfinite(novelty) or self.gate_start >= 1.0:
            return 1.0
        over = float(np.clip((novelty - self.gate_start) / (1.0 - self.gate_start), 0.0, 1.0))
        return 1.0 - (1.0 - self.gate_floor) * over

    def to_dict(self) -> dict:
        d = {"temperature": self.temperature, "weight": self.weight, "gate_start": self.gate_start,
             "gate_floor": self.gate_floor}
        if self.novelty is not None:
            d["novelty"] = self.novelty.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ModalityRule:
        nov = d.get("novelty")
        return cls(float(d.get("temperature", 1.0)), float(d.get("weight", 1.0)), float(d.get("gate_start", 1.0)),
                   float(d.get("gate_floor", 1.0)), NoveltyModel.from_dict(nov) if nov else None)


@dataclass(frozen=True)
class FusionRule:
    """Per-expert calibration, weight and novelty gate, with a record of how they were fitted."""

    face: ModalityRule = field(default_factory=ModalityRule)
    voice: ModalityRule = field(default_factory=ModalityRule)
    fitted: dict = field(default_factory=dict)  # data, command and figures behind the numbers
    # What was said (`recognition.words`): weight 0 unless measured (`models/words_map.json` sets it at load)
    words: ModalityRule = field(default_factory=lambda: ModalityRule(weight=0.0))

    def of(self, modality: str) -> ModalityRule:
        return {"face": self.face, "voice": self.voice, "words": self.words}[modality]

    def save(self, path: str | Path) -> None:
        data = {"kind": RULE_KIND, "face": self.face.to_dict(), "voice": self.voice.to_dict(), "fitted": self.fitted}
        if self.words != ModalityRule(weight=0.0):
            data["words"] = self.words.to_dict()
        # one line per top-level part: readable keys, without one line per number of the novelty model
        lines = [f" {json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}" for k, v in data.items()]
        Path(path).write_text("{\n" + ",\n".join(lines) + "\n}\n")

    @classmethod
    def load(cls, path: str | Path) -> FusionRule:
        """Read a rule written by `save`; ValueError with the reason for anything else."""
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path} is not a readable fusion rule ({exc})") from None
        if not isinstance(data, dict) or data.get("kind") != RULE_KIND:
            raise ValueError(f"{path} is not a {RULE_KIND} file")
        words = ModalityRule.from_dict(data["words"]) if "words" in data else ModalityRule(weight=0.0)
        return cls(ModalityRule.from_dict(data["face"]), ModalityRule.from_dict(data["voice"]), data.get("fitted", {}),
                   words)


RULE_KIND = "moodmusic-fusion-rule-v1"


@dataclass(frozen=True)
class Fused(MoodReading):
    probs: np.ndarray | None  # None when no modality had usable evidence
    weights: dict[str, float] = field(default_factory=dict)  # normalised, sums to 1


def clean_probs(probs: np.ndarray) -> np.ndarray | None:
    """A valid distribution over the moods, or None if the input has no usable mass."""
    p = np.asarray(probs, dtype=np.float64).reshape(-1)
    if p.size != len(MOODS):
        raise ValueError(f"expected {len(MOODS)} probabilities, got {p.size}")
    p = np.where(np.isfinite(p), np.clip(p, 0.0, None), 0.0)
    total = p.sum()
    return None if total <= 0 else p / total


def certainty(probs: np.ndarray) -> float:
    """1 for a one-hot answer, 0 for a uniform one (one minus normalised entropy)."""
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0)
    return float(np.clip(1.0 + (p * np.log(p)).sum() / np.log(len(p)), 0.0, 1.0))


def _signal(op: Opinion, half_life: float) -> float:
    """Quality x freshness: how much of an opinion's trust its signal and age leave."""
    q = float(np.clip(np.nan_to_num(op.quality), 0.0, 1.0))
    age = max(0.0, float(np.nan_to_num(op.age, nan=np.inf)))
    return q * (0.5 ** (age / half_life) if half_life > 0 else 1.0)


def opinion_weight(op: Opinion, prior: float = 1.0, half_life: float = 1.5) -> float:
    """Trust in one opinion: prior x quality x (a floor plus certainty) x freshness."""
    return prior * _signal(op, half_life) * (0.25 + 0.75 * certainty(op.probs))


def _usable(face: Opinion | None, voice: Opinion | None,
            words: Opinion | None = None) -> list[tuple[str, Opinion, np.ndarray]]:
    """(modality, opinion, cleaned probabilities) for each opinion with usable mass."""
    out = []
    for name, op in (("face", face), ("voice", voice), ("words", words)):
        p = clean_probs(op.probs) if op is not None else None
        if p is not None:
            out.append((name, op, p))
    return out


def fuse(
    face: Opinion | None,
    voice: Opinion | None,
    priors: dict[str, float] | None = None,
    half_life: float = 1.5,
    rule: FusionRule | None = None,
    words: Opinion | None = None,
) -> Fused:
    """Weighted average of the available opinions, or with a `rule` their calibrated product; any may be missing.

    `words` (what was said, `recognition.words`) counts only as much as a rule's measured words weight.
    """
    if rule is not None:
        return _fuse_by_rule(face, voice, rule, half_life, words)
    priors = priors or DEFAULT_PRIORS
    parts: list[tuple[str, np.ndarray, float]] = []
    for name, op, p in _usable(face, voice, words):
        w = opinion_weight(Opinion(p, op.quality, op.age), priors.get(name, 0.0 if name == "words" else 1.0),
                           half_life)
        if w > 1e-6:
            parts.append((name, p, w))
    if not parts:
        return Fused(None, {})
    total = sum(w for _, _, w in parts)
    probs = sum(w * p for _, p, w in parts) / total
    return Fused(probs.astype(np.float32), {name: w / total for name, _, w in parts})


def _fuse_by_rule(face: Opinion | None, voice: Opinion | None, rule: FusionRule, half_life: float,
                  words: Opinion | None = None) -> Fused:
    """Product of calibrated experts: log p = sum of weight x log p_expert, renormalised."""
    parts: list[tuple[str, np.ndarray, float]] = []
    for name, op, p in _usable(face, voice, words):
        m = rule.of(name)
        w = m.weight * _signal(op, half_life) * m.gate(op.novelty)
        if w > 1e-6:
            parts.append((name, apply_temperature(p, m.temperature), w))
    if not parts:
        return Fused(None, {})
    logp = sum(w * np.log(np.clip(p, 1e-12, 1.0)) for _, p, w in parts)
    probs = np.exp(logp - logp.max())
    total = sum(w for _, _, w in parts)
    return Fused((probs / probs.sum()).astype(np.float32), {name: w / total for name, _, w in parts})
