"""Speaker adaptation: voice features measured against this speaker's own voice.

Much of what a voice feature vector holds says who is speaking and through
which microphone (pitch level, timbre, room), not how they feel. Measured
against the speaker's own running mean and spread, the same features say
how this moment differs from how this person usually sounds, which is what
emotion changes. The statistics start at a prior (the training speakers'
average, worth `weight` windows) and move towards the speaker's own as
voiced windows arrive, so the first windows are read as a typical speaker's.

The price: statistics drawn from one mood alone make that mood the
speaker's "usual", so a long stretch of one mood fades towards the middle.
The model card reports both a stream of varied speech and that worst case.

>>> import numpy as np
>>> prior = SpeakerPrior(mean=np.zeros(2), var=np.ones(2), weight=4.0)
>>> adapter = SpeakerAdapter(prior)
>>> adapter.normalise(np.array([[4.0, 0.0]])).round(2)  # one window: mostly the prior's view of it
array([[1.75, 0.  ]], dtype=float32)
>>> adapter.windows
1
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

VERSION = "speaker-v1"  # how features are normalised; models trained on them record it
MIN_VAR = 1e-8


@dataclass(frozen=True)
class SpeakerPrior:
    """What a speaker is assumed to sound like before they are heard: per-feature mean and variance."""

    mean: np.ndarray  # (D,) mean over the training speakers' windows
    var: np.ndarray  # (D,) average within-speaker variance
    weight: float  # how many windows the prior counts for
    memory: float = float("inf")  # the speaker's statistics count at most this many windows; older ones fade

    @classmethod
    def fit(cls, x: np.ndarray, groups: np.ndarray, weight: float, memory: float = float("inf")) -> SpeakerPrior:
        """The prior of training windows `x`, each tagged with its speaker (and recording condition) in `groups`."""
        x = np.asarray(x, np.float64)
        keys = np.unique(groups)
        within = np.mean([x[groups == k].var(0) for k in keys], axis=0)
        return cls(mean=x.mean(0), var=np.maximum(within, MIN_VAR), weight=float(weight), memory=float(memory))

    def to_meta(self) -> dict[str, Any]:
        """Plain lists for a checkpoint's metadata."""
        return {"version": VERSION, "mean": [float(v) for v in self.mean], "var": [float(v) for v in self.var],
                "weight": self.weight, "memory": None if np.isinf(self.memory) else self.memory}

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> SpeakerPrior:
        if meta.get("version") != VERSION:
            raise ValueError(f"speaker normalisation {meta.get('version')!r} is not this code's {VERSION!r}")
        return cls(mean=np.asarray(meta["mean"], np.float64), var=np.asarray(meta["var"], np.float64),
                   weight=float(meta["weight"]),
                   memory=float("inf") if meta.get("memory") is None else float(meta["memory"]))


def prior_from_meta(meta: dict[str, Any] | None) -> SpeakerPrior | None:
    """The prior stored with a voice model (`Experts.voice_norm`), or None for a model without adaptation."""
    return SpeakerPrior.from_meta(meta) if meta else None


def _normalise(x: np.ndarray, s1: np.ndarray, s2: np.ndarray, n: float, prior: SpeakerPrior) -> np.ndarray:
    """Standardise by the speaker's sums (s1, s2 over n windows) shrunk towards the prior."""
    w = prior.weight
    mean = (s1 + w * prior.mean) / (n + w)
    var = (s2 + w * (prior.var + prior.mean ** 2)) / (n + w) - mean ** 2
    return ((x - mean) / np.sqrt(np.maximum(var, MIN_VAR))).astype(np.float32)


class SpeakerAdapter:
    """Running statistics of one speaker's voiced windows; one per live session or per file.

    Not thread-safe: its owner (the session's voice worker) calls it.
    """

    def __init__(self, prior: SpeakerPrior) -> None:
        if not prior.weight > 0:
            raise ValueError(f"a speaker adapter needs a prior worth more than 0 windows, got {prior.weight}")
        self.prior = prior
        self.reset()

    def reset(self) -> None:
        """Forget the speaker (a new session, another person)."""
        self._s1 = np.zeros_like(self.prior.mean)
        self._s2 = np.zeros_like(self.prior.mean)
        self.windows: float = 0

    def update(self, features: np.ndarray) -> None:
        """Count voiced windows (N, D) into the speaker's statistics."""
        x = np.atleast_2d(np.asarray(features, np.float64))
        finite = np.isfinite(x).all(1)
        for row in x[finite]:
            if self.windows + 1 > self.prior.memory:  # keep the mean and spread, count fewer windows for them
                keep = (self.prior.memory - 1) / self.windows
                self._s1 *= keep
                self._s2 *= keep
                self.windows *= keep
            self._s1 += row
            self._s2 += row * row
            self.windows += 1

    def normalise(self, features: np.ndarray, learn: bool = True) -> np.ndarray:
        """(N, D) features measured against this speaker; `learn` counts them in first."""
        x = np.atleast_2d(np.asarray(features, np.float64))
        if learn:
            self.update(x)
        return _normalise(x, self._s1, self._s2, self.windows, self.prior)


def normalise_groups(x: np.ndarray, groups: np.ndarray, prior: SpeakerPrior) -> np.ndarray:
    """Each group's windows against all of that group's statistics: how training sees its speakers.

    All of a group's windows count, whatever the prior's memory: the memory
    bounds what a live session keeps, and the evaluation's streams apply it.
    """
    x = np.asarray(x, np.float64)
    out = np.empty(x.shape, np.float32)
    for key in np.unique(groups):
        m = groups == key
        out[m] = _normalise(x[m], x[m].sum(0), np.square(x[m]).sum(0), int(m.sum()), prior)
    return out


def normalise_stream(x: np.ndarray, clip: np.ndarray, speaker: np.ndarray, prior: SpeakerPrior,
                     seed: int = 0) -> np.ndarray:
    """Each speaker's clips heard one after another in a random order, as a live session hears them.

    A clip's windows are measured against the windows heard so far, itself
    included, never against clips still to come.
    """
    x = np.asarray(x, np.float64)
    out = np.empty(x.shape, np.float32)
    rng = np.random.default_rng(seed)
    for who in np.unique(speaker):
        clips = np.unique(clip[speaker == who])
        rng.shuffle(clips)
        adapter = SpeakerAdapter(prior)
        for c in clips:
            m = clip == c
            out[m] = adapter.normalise(x[m])
    return out
