"""Confidence-weighted late fusion of the face and voice experts' opinions.

Each modality gives a probability vector over the moods plus how much to
trust it right now: the quality of the signal (face detection score, share
of voiced audio), how decided the expert is (one minus normalised entropy),
and how fresh the evidence is (it fades with a half-life, so a face seen two
seconds ago counts less than one seen now). The fused distribution is the
weighted average; the weights are returned too, so the page can show *why*.

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

from dataclasses import dataclass, field

import numpy as np

from moodmusic.moods import MOODS, MoodReading

# How far each expert is trusted relative to the other when both are equally
# sure, from their speaker-/subject-independent test accuracy (model card).
DEFAULT_PRIORS: dict[str, float] = {"face": 1.0, "voice": 0.8}


@dataclass(frozen=True)
class Opinion:
    """One modality's latest evidence."""

    probs: np.ndarray
    quality: float = 1.0  # 0..1: detection score, voiced share
    age: float = 0.0  # seconds since it was observed


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


def opinion_weight(op: Opinion, prior: float = 1.0, half_life: float = 1.5) -> float:
    """Trust in one opinion: prior x quality x (a floor plus certainty) x freshness."""
    q = float(np.clip(np.nan_to_num(op.quality), 0.0, 1.0))
    age = max(0.0, float(np.nan_to_num(op.age, nan=np.inf)))
    fresh = 0.5 ** (age / half_life) if half_life > 0 else 1.0
    return prior * q * (0.25 + 0.75 * certainty(op.probs)) * fresh


def fuse(
    face: Opinion | None,
    voice: Opinion | None,
    priors: dict[str, float] | None = None,
    half_life: float = 1.5,
) -> Fused:
    """Weighted average of the available opinions; either may be missing."""
    priors = priors or DEFAULT_PRIORS
    parts: list[tuple[str, np.ndarray, float]] = []
    for name, op in (("face", face), ("voice", voice)):
        if op is None:
            continue
        p = clean_probs(op.probs)
        if p is None:
            continue
        w = opinion_weight(Opinion(p, op.quality, op.age), priors.get(name, 1.0), half_life)
        if w > 1e-6:
            parts.append((name, p, w))
    if not parts:
        return Fused(None, {})
    total = sum(w for _, _, w in parts)
    probs = sum(w * p for _, p, w in parts) / total
    return Fused(probs.astype(np.float32), {name: w / total for name, _, w in parts})
