"""Mixed face targets: FER2013's own label and the FER+ crowd's votes in one soft target per image.

Trained on FER+ votes alone, the face expert gains 13 points on the crowd's
majority and loses about 4 on FER2013's labels (almost all of it fear: the
crowd calls most of FER2013's "fear" faces sad, neutral or surprised). The
product has to serve both readings, so `train face --labels mixed` trains on

    target = w * one_hot(FER2013 label) + (1 - w) * FER+ vote distribution

(`w` = `--mix-weight`), over the rows that hold FER2013's original pixels.
A row with only one of the two (FER2013 says disgust, which is no mood of
ours, or no crowd vote lands on our six moods) takes that one alone, so no
face with a usable label is lost. The FER+ -> six-mood mapping is
`datasets.FERPLUS_MOODS` (contempt, unknown, not-a-face and disgust dropped).

Validation for epoch selection is both label sets at once: the val rows
with FER2013's labels followed by the val rows with a FER+ majority, so the
macro-F1 the trainer maximises counts each label set's val faces once.

>>> import numpy as np
>>> mix_targets(np.array([0, -1, 2]), np.array([[0, 1, 0, 0, 0, 0], [0, 0, 0, 1, 0, 0], [0, 0, 0, 0, 0, 0]],
...             np.float32), 0.25).round(2).tolist()
[[0.25, 0.75, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0, 0.0, 0.0]]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from moodmusic.errors import UserError
from moodmusic.moods import MOODS
from moodmusic.training.datasets import ferplus_distribution, load_fer, read_both_labels


def mix_targets(fer_labels: np.ndarray, votes: np.ndarray, weight: float) -> np.ndarray:
    """(N, 6) float32 targets: `weight` x one-hot(FER2013, -1 = none) + (1 - weight) x votes, renormalised.

    A row missing one of the two takes the other alone; a row missing both is all zeros (the caller drops it).
    """
    if not 0.0 <= weight <= 1.0:
        raise UserError(f"--mix-weight must lie in 0..1, got {weight}")
    n = len(fer_labels)
    one_hot = np.zeros((n, len(MOODS)), np.float32)
    has_fer = fer_labels >= 0
    one_hot[np.flatnonzero(has_fer), fer_labels[has_fer]] = 1.0
    has_votes = votes.sum(1) > 0
    wf = np.where(has_fer, weight, 0.0)[:, None]
    wv = np.where(has_votes, 1.0 - weight, 0.0)[:, None]
    total = wf + wv
    if weight in (0.0, 1.0):  # a pure label set: a row lacking it takes the other, as documented
        wf = np.where((wv == 0) & has_fer[:, None], 1.0, wf)
        wv = np.where((wf == 0) & has_votes[:, None], 1.0, wv)
        total = wf + wv
    mixed = wf * one_hot + wv * votes
    return np.divide(mixed, total, out=np.zeros_like(mixed), where=total > 0).astype(np.float32)


def load_mixed(data_dir: str | Path, split: str, weight: float) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 48, 48), mixed targets (N, 6)) of one split, original pixels only."""
    images, fer, votes, columns = read_both_labels(data_dir, split)
    y = mix_targets(fer, ferplus_distribution(votes, columns), weight)
    keep = y.sum(1) > 0
    return np.ascontiguousarray(images[keep]), np.ascontiguousarray(y[keep])


def both_val_sets(data_dir: str | Path, split: str = "val") -> tuple[np.ndarray, np.ndarray]:
    """The split's original-pixel rows with FER2013's labels, then its rows with a FER+ majority (int labels)."""
    fer = load_fer(data_dir, (split,), originals_only=True)[split]
    plus = load_fer(data_dir, (split,), labels="ferplus")[split]
    return np.concatenate([fer[0], plus[0]]), np.concatenate([fer[1], plus[1]])
