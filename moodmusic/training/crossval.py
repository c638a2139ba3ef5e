"""Choosing the voice expert's speaker adaptation by cross-validation over folds of the training actors.

The validation and test actors never take part: for each setting (the
prior's weight and the adapter's memory, in windows), one net per fold of
training actors is trained on the others (+ TESS) and scored at clip level on
the held-out actors' clean windows, heard as a live stream.

>>> parse_speaker_setting("64/inf"), parse_speaker_setting("0")
((64.0, inf), (0.0, inf))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from moodmusic.training.datasets import SPLIT_ACTORS
from moodmusic.training.features import Windows, adapt, fit_speaker_prior
from moodmusic.training.scoring import score


def parse_speaker_setting(text: str) -> tuple[float, float]:
    """'W/M' (the prior's weight and the memory, in windows; M may be 'inf') or '0' (no adaptation)."""
    try:
        weight, _, memory = text.partition("/")
        w, m = float(weight), float(memory or "inf")
    except ValueError:
        raise ValueError(f"a speaker setting is WEIGHT/MEMORY in windows (e.g. 128/128 or 64/inf) or 0, "
                         f"got {text!r}") from None
    if w < 0 or m < 1:
        raise ValueError(f"a speaker setting needs a weight >= 0 and a memory >= 1, got {text!r}")
    return w, m


def actor_folds(actors: np.ndarray, folds: int) -> list[np.ndarray]:
    """The RAVDESS training actors cut into `folds` groups of neighbours (TESS speakers always train)."""
    ravdess = np.unique(actors[np.isin(actors, SPLIT_ACTORS["train"])])
    if len(ravdess) < folds or folds < 2:
        raise ValueError(f"{folds} folds need at least {max(2, folds)} RAVDESS training actors, found {len(ravdess)}")
    return [np.asarray(f) for f in np.array_split(ravdess, folds)]


def speaker_cv(train: Windows, settings: list[str], fit_net: Callable[[dict[str, Windows]], Any], folds: int = 4,
               log: Callable[[str], Any] = print) -> dict[str, Any]:
    """Compare speaker adaptation settings on the training actors alone.

    `fit_net` trains one net on {'train', 'val'} windows (early-stopped on
    'val', here the held-out fold, the same for every setting: the comparison
    is fair, each figure slightly optimistic) and returns it in eval mode.
    """
    import torch

    groups = actor_folds(train.actor, folds)
    rows: dict[str, Any] = {}
    for text in settings:
        weight, memory = parse_speaker_setting(text)
        accs, f1s = [], []
        for held_actors in groups:
            held = np.isin(train.actor, held_actors)
            fit_on, held_out = train.subset(~held), train.subset(held & (train.copy == 0))
            prior = fit_speaker_prior(fit_on, weight, memory) if weight > 0 else None
            data = {"train": adapt(fit_on, prior, "groups"), "val": adapt(held_out, prior, "stream")}
            net = fit_net(data)
            with torch.no_grad():
                probs = torch.softmax(net(torch.from_numpy(data["val"].x))[0], 1).numpy()
            clip = score(probs, held_out)["clip"]
            accs.append(clip["accuracy"])
            f1s.append(clip["macro_f1"])
        name = "none" if weight == 0 else f"{weight:g}/{memory:g}"
        rows[name] = {"weight": weight, "memory": memory, "fold_accuracy": accs, "accuracy": float(np.mean(accs)),
                      "macro_f1": float(np.mean(f1s))}
        log(f"speaker {name:>10s}: clip acc {np.mean(accs):.3f} (folds {', '.join(f'{a:.3f}' for a in accs)}) "
            f"macro-F1 {np.mean(f1s):.3f}")
    return {"folds": [g.tolist() for g in groups], "settings": rows}

