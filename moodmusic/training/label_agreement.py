"""Where FER2013's labels and the FER+ crowd's majority agree, and what that allows a face model to score.

One image has one true mood per label set, and the two sets disagree on a
third of the faces both label (FER2013's "fear" is, to the crowd, mostly
neutral, sad or surprised). A model gives one answer per face, so on a face
where the sets disagree it can be right by one of them at most. That bounds
what any model can score on both at once, whatever its size:

- the images fall into four parts: both labels and they agree (A), both and
  they differ (D), FER2013's label only (F: no crowd majority), FER+ only (P);
- a model right on a fraction `a` of A, `q` of F and `r` of P can meet
  accuracy targets t_fer and t_plus only if the disagreements it still needs,
  (t_fer n_fer - a A - q F)+ and (t_plus n_plus - a A - r P)+, together fit
  in D, since each disagreement counts for one label set at most.

`required_agreed_accuracy` solves that for the smallest `a`. The `labels`
command prints it for the split, with each checkpoint's own figures on every part:

    python -m moodmusic labels --split test models/face_expert.pt

>>> parts = agreement_parts(np.array([0, 1, 2, 3, -1]), np.array([0, 1, 4, -1, 5]))
>>> parts.counts()
{'agreed': 2, 'disagreed': 1, 'fer_only': 1, 'plus_only': 1}
>>> round(parts.ceiling("fer2013"), 3), round(parts.ceiling("ferplus"), 3)  # a perfect reader of the other set
(0.75, 0.75)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from moodmusic.moods import MOODS
from moodmusic.training.datasets import ferplus_majority, read_both_labels


@dataclass(frozen=True)
class AgreementParts:
    """The row masks of one split's four parts (see the module docstring), and both label arrays (-1 = none)."""

    fer: np.ndarray
    plus: np.ndarray

    @property
    def agreed(self) -> np.ndarray:
        return (self.fer >= 0) & (self.fer == self.plus)

    @property
    def disagreed(self) -> np.ndarray:
        return (self.fer >= 0) & (self.plus >= 0) & (self.fer != self.plus)

    @property
    def fer_only(self) -> np.ndarray:
        return (self.fer >= 0) & (self.plus < 0)

    @property
    def plus_only(self) -> np.ndarray:
        return (self.plus >= 0) & (self.fer < 0)

    def counts(self) -> dict[str, int]:
        return {k: int(getattr(self, k).sum()) for k in ("agreed", "disagreed", "fer_only", "plus_only")}

    def ceiling(self, label_set: str) -> float:
        """Accuracy on `label_set` of a model that reads the *other* set's labels perfectly (and this set's
        label wherever the other has none): how far the two sets can agree."""
        target, other = (self.fer, self.plus) if label_set == "fer2013" else (self.plus, self.fer)
        pred = np.where(other >= 0, other, target)
        has = target >= 0
        return float(np.mean(pred[has] == target[has]))

    def confusion(self) -> np.ndarray:
        """(6, 6) counts over the rows with both labels: rows FER2013's label, columns the FER+ majority."""
        both = (self.fer >= 0) & (self.plus >= 0)
        out = np.zeros((len(MOODS), len(MOODS)), np.int64)
        np.add.at(out, (self.fer[both], self.plus[both]), 1)
        return out


def agreement_parts(fer: np.ndarray, plus: np.ndarray) -> AgreementParts:
    """Split rows by how their two labels (mood indices, -1 = none) relate."""
    return AgreementParts(np.asarray(fer, np.int64), np.asarray(plus, np.int64))


def part_accuracies(parts: AgreementParts, predicted: np.ndarray) -> dict[str, float]:
    """A model's answers (mood indices) scored on each part; on the disagreements, against either label."""
    y = np.asarray(predicted)

    def rate(mask: np.ndarray, labels: np.ndarray) -> float:
        return float(np.mean(y[mask] == labels[mask])) if mask.any() else float("nan")

    fer, plus = parts.fer >= 0, parts.plus >= 0
    return {"fer2013": rate(fer, parts.fer), "ferplus": rate(plus, parts.plus),
            "agreed": rate(parts.agreed, parts.fer), "disagreed_as_fer2013": rate(parts.disagreed, parts.fer),
            "disagreed_as_ferplus": rate(parts.disagreed, parts.plus),
            "fer_only": rate(parts.fer_only, parts.fer), "plus_only": rate(parts.plus_only, parts.plus)}


def required_agreed_accuracy(parts: AgreementParts, fer_target: float, plus_target: float,
                             fer_only: float = 1.0, plus_only: float = 1.0) -> float | None:
    """The least accuracy on the agreed rows at which both targets can hold, or None if none can.

    Assumes the most favourable rest: every disagreement read as one of its
    two labels, and the single-label rows read right at the given rates (1.0,
    the default, is the absolute bound).

    >>> p = agreement_parts(np.array([0] * 8 + [1, 1]), np.array([0] * 8 + [2, 2]))
    >>> round(required_agreed_accuracy(p, 0.8, 0.8), 3)   # 8 + 8 right: 7 agreed faces and one of each pair
    0.875
    >>> round(required_agreed_accuracy(p, 0.7, 0.7), 3)   # 7 + 7 right: 6 agreed faces and one of each pair
    0.75
    >>> required_agreed_accuracy(p, 0.95, 0.95) is None   # 19 + 19 right would need 3 of the 2 disagreements
    True
    """
    c = parts.counts()
    n_fer, n_plus = c["agreed"] + c["disagreed"] + c["fer_only"], c["agreed"] + c["disagreed"] + c["plus_only"]
    if not c["agreed"]:
        return None

    def fits(a: float) -> bool:
        need_fer = max(0.0, fer_target * n_fer - a * c["agreed"] - fer_only * c["fer_only"])
        need_plus = max(0.0, plus_target * n_plus - a * c["agreed"] - plus_only * c["plus_only"])
        return need_fer + need_plus <= c["disagreed"] + 1e-9

    if not fits(1.0):
        return None
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if fits(mid) else (mid, hi)
    return hi


def load_parts(data_dir: str | Path, split: str) -> tuple[np.ndarray, AgreementParts]:
    """(images uint8 (N, 48, 48), their parts) of the split's original-pixel rows with at least one label."""
    images, fer, votes, columns = read_both_labels(data_dir, split)
    plus = ferplus_majority(votes, columns)
    keep = (fer >= 0) | (plus >= 0)
    return images[keep], agreement_parts(fer[keep], plus[keep])


def _pct(v: float | None) -> str:
    return "n/a" if v is None or v != v else f"{100 * v:.1f}%"


def report(data_dir: str | Path, split: str, checkpoints: list[str], fer_target: float,
           plus_target: float) -> str:
    """The split's parts, the ceilings, the agreed accuracy both targets need, and each checkpoint's parts."""
    images, parts = load_parts(data_dir, split)
    c = parts.counts()
    lines = [f"{split}, original pixels: " + ", ".join(f"{k} {v}" for k, v in c.items()),
             f"the two label sets agree on {_pct(c['agreed'] / (c['agreed'] + c['disagreed']))} of the faces "
             "both label",
             f"a perfect FER+ reader scores {_pct(parts.ceiling('fer2013'))} on FER2013's labels; "
             f"a perfect FER2013 reader scores {_pct(parts.ceiling('ferplus'))} on the FER+ majority",
             "confusion (rows FER2013's label, columns the FER+ majority): " + " ".join(f"{m[:5]:>6}" for m in MOODS)]
    lines += [f"  {m:>8} " + " ".join(f"{v:6d}" for v in row) for m, row in zip(MOODS, parts.confusion())]
    need = required_agreed_accuracy(parts, fer_target, plus_target)
    lines.append(f"targets {_pct(fer_target)} (FER2013) and {_pct(plus_target)} (FER+) together need at least "
                 f"{_pct(need) if need is not None else 'more than 100%'} right on the agreed faces, with every "
                 "disagreement read as one of its two labels and every single-label face read right")
    if checkpoints:
        from moodmusic.recognition.face_expert import FaceExpert

        lines.append("checkpoint: FER2013 | FER+ | agreed | disagreed as FER2013 / as FER+ | FER2013 only | "
                     "FER+ only | agreed accuracy both targets need at this model's single-label rates")
        for path in checkpoints:
            expert = FaceExpert.load(path)
            expert.flip_average = False
            probs = np.concatenate([expert.predict(images[i:i + 512])[0] for i in range(0, len(images), 512)])
            acc = part_accuracies(parts, probs.argmax(1))
            own = required_agreed_accuracy(parts, fer_target, plus_target, acc["fer_only"], acc["plus_only"])
            lines.append(f"{path}: {_pct(acc['fer2013'])} | {_pct(acc['ferplus'])} | {_pct(acc['agreed'])} | "
                         f"{_pct(acc['disagreed_as_fer2013'])} / {_pct(acc['disagreed_as_ferplus'])} | "
                         f"{_pct(acc['fer_only'])} | {_pct(acc['plus_only'])} | "
                         f"{_pct(own) if own is not None else 'none suffices'}")
    return "\n".join(lines)
