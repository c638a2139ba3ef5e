"""Does the mood → music map agree with people's labels? A small, honest check.

`tracks_c_moods.csv` labels 687 tracks Happy, Sad, Calm or Energetic; the
catalog build keeps those labels in its `label` column, so this check runs
on a fresh clone. For a (mood, strategy) and a label it ranks only the
labelled tracks by distance to the target and compares the label's share
among the top k with its share among all labelled tracks (the base rate).
A share well above the base rate means the target points where people put
that kind of music.

>>> rows = label_agreement(load_catalog(), k=50)
>>> all(r.share > r.base_rate for r in rows)
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from moodmusic.moods import MOODS
from moodmusic.music.catalog import Catalog, load_catalog
from moodmusic.music.targets import distances, target_for

# (mood, strategy, label): the pairs the labels can speak to.
CHECKS: tuple[tuple[str, str, str], ...] = (
    ("happy", "match", "Happy"),
    ("sad", "match", "Sad"),
    ("angry", "match", "Energetic"),
    *((m, "calm", "Calm") for m in MOODS),
)


@dataclass(frozen=True)
class Agreement:
    mood: str
    strategy: str
    label: str
    k: int
    share: float       # share of `label` among the k closest labelled tracks
    base_rate: float   # share of `label` among all labelled tracks

    @property
    def lift(self) -> float:
        return self.share / self.base_rate if self.base_rate else float("nan")

    def line(self) -> str:
        return (f"{self.mood:>8} {self.strategy:<5} → {self.label:<9} top-{self.k}: {self.share:5.1%}  "
                f"base rate {self.base_rate:5.1%}  ({self.lift:.1f}x)")


def label_agreement(catalog: Catalog, k: int = 50,
                    checks: tuple[tuple[str, str, str], ...] = CHECKS) -> list[Agreement]:
    """Share of each label among the k labelled tracks nearest the target, against its base rate."""
    mask = catalog.label_of != ""
    if not mask.any():
        raise ValueError("this catalog has no labelled tracks (rebuild it from shared/data/music)")
    feats = catalog.features[mask]
    labels = catalog.label_of[mask]
    k = min(k, len(labels))
    out = []
    for mood, strategy, label in checks:
        order = np.argsort(distances(feats, target_for(mood, strategy)), kind="stable")
        out.append(Agreement(mood, strategy, label, k, float((labels[order[:k]] == label).mean()),
                             float((labels == label).mean())))
    return out
