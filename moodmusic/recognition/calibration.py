"""How often an expert is right when it says it is: temperature scaling and calibration error.

A softmax's peak is not a probability of being right: the experts are
over-confident on people they never heard or saw. Fusion weighs opinions by
their probabilities, so each expert's probabilities are first rescaled by one
temperature, fitted on held-out speakers or subjects (never on the test set).
Plain numpy: the live engine applies it on every opinion.

>>> import numpy as np
>>> p = np.array([[0.9, 0.02, 0.02, 0.02, 0.02, 0.02]])
>>> float(apply_temperature(p, 2.0)[0, 0]) < 0.9   # a temperature above 1 flattens
True
>>> y = np.array([0, 1, 0, 1]); q = np.tile(p, (4, 1))   # 90% sure, right half the time
>>> round(expected_calibration_error(q, y), 2)
0.4
>>> fit_temperature(q, y) > 1
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_EPS = 1e-12


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Rescale probabilities as if their logits were divided by `temperature` (rows sum to 1)."""
    p = np.clip(np.asarray(probs, dtype=np.float64), _EPS, 1.0)
    if temperature == 1.0:
        return p / p.sum(axis=-1, keepdims=True)
    z = np.log(p) / float(temperature)
    z -= z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def nll(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log-likelihood of the true labels."""
    p = np.asarray(probs, dtype=np.float64)
    return float(-np.mean(np.log(np.clip(p[np.arange(len(labels)), labels], _EPS, 1.0))))


def fit_temperature(probs: np.ndarray, labels: np.ndarray, lo: float = 0.05, hi: float = 20.0) -> float:
    """The temperature that minimises held-out NLL (a golden-section search over log T)."""
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) == 0:
        raise ValueError("fitting a temperature needs at least one labelled example")
    a, b = np.log(lo), np.log(hi)
    g = (np.sqrt(5) - 1) / 2
    f = lambda t: nll(apply_temperature(probs, float(np.exp(t))), labels)  # noqa: E731
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(60):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = f(d)
    return float(np.exp((a + b) / 2))


@dataclass(frozen=True)
class ReliabilityBins:
    """A reliability diagram's data: per confidence bin, its mean confidence, accuracy and size."""

    edges: np.ndarray  # (bins + 1,)
    confidence: np.ndarray  # (bins,) NaN where empty
    accuracy: np.ndarray  # (bins,) NaN where empty
    count: np.ndarray  # (bins,)

    @property
    def ece(self) -> float:
        n = self.count.sum()
        if n == 0:
            return 0.0
        used = self.count > 0
        gap = np.abs(self.accuracy[used] - self.confidence[used])
        return float((self.count[used] * gap).sum() / n)


def reliability_bins(probs: np.ndarray, labels: np.ndarray, bins: int = 10) -> ReliabilityBins:
    """Bin predictions by their top probability; compare each bin's confidence with its accuracy."""
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels)
    conf, right = p.max(axis=1), (p.argmax(axis=1) == y)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, bins - 1)
    count = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.bincount(which, weights=conf, minlength=bins) / count
        accuracy = np.bincount(which, weights=right.astype(float), minlength=bins) / count
    return ReliabilityBins(edges, confidence, accuracy, count)


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 10) -> float:
    """ECE: the gap between confidence and accuracy, averaged over equal-width bins by their size."""
    return reliability_bins(probs, labels, bins).ece
