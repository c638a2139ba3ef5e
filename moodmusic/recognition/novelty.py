"""How unlike its training recordings an input is: a distance, read as a percentile.

An expert answers confidently about inputs it never learned from (a
synthetic voice, another language or microphone, music): the softmax cannot
tell. The input's features are compared with the training set's: a
Mahalanobis distance in the training features' principal subspace plus the
residual outside it (so a direction the training data never varied in still
counts). The distance is then read as a percentile of the distances of
held-out, in-distribution examples (other speakers of the same corpora):
0.5 is a typical held-out input, 0.99 is stranger than 99% of them, and 1.0
beyond all of them. Fusion turns that percentile into a weight (`fusion`).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> train, held_out = rng.normal(size=(500, 8)), rng.normal(size=(200, 8))
>>> model = NoveltyModel.fit(train, held_out, components=4)
>>> float(model.percentile(held_out[:1])[0]) < 1.0, float(model.percentile(np.full((1, 8), 6.0))[0])
(True, 1.0)
>>> NoveltyModel.from_dict(model.to_dict()).percentile(np.full((1, 8), 6.0)).tolist()
[1.0]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

QUANTILES = 201  # held-out distance quantiles kept (0, 0.5, ..., 100 %)


@dataclass(frozen=True)
class NoveltyModel:
    mean: np.ndarray  # (D,)
    scale: np.ndarray  # (D,) per-feature standard deviation
    components: np.ndarray  # (K, D) principal directions of the standardised training features
    variances: np.ndarray  # (K,)
    residual_variance: float  # mean variance outside the K directions
    held_out: np.ndarray  # (QUANTILES,) quantiles of held-out distances, ascending

    @classmethod
    def fit(cls, train: np.ndarray, held_out: np.ndarray, components: int = 40) -> NoveltyModel:
        """Fit on training features; calibrate the percentile scale on held-out in-distribution ones."""
        x = np.asarray(train, dtype=np.float64)
        if x.ndim != 2 or len(x) < 2 or len(held_out) < 2:
            raise ValueError("a novelty model needs at least two training and two held-out rows")
        mean, scale = x.mean(0), x.std(0) + 1e-6
        z = (x - mean) / scale
        _, s, vt = np.linalg.svd(z - z.mean(0), full_matrices=False)
        var = s**2 / (len(z) - 1)
        k = int(min(components, len(var) - 1, z.shape[1] - 1))
        k = max(k, 1)
        residual = float(max(var[k:].mean() if len(var) > k else 1e-6, 1e-6))
        model = cls(mean.astype(np.float32), scale.astype(np.float32), vt[:k].astype(np.float32),
                    np.maximum(var[:k], 1e-9).astype(np.float32), residual, np.zeros(QUANTILES, np.float32))
        d = model.distance(held_out)
        return cls(model.mean, model.scale, model.components, model.variances, residual,
                   np.percentile(d, np.linspace(0, 100, QUANTILES)).astype(np.float32))

    def distance(self, x: np.ndarray) -> np.ndarray:
        """Squared distance of each row: whitened inside the principal subspace, plus the residual outside it."""
        z = (np.atleast_2d(np.asarray(x, dtype=np.float64)) - self.mean) / self.scale
        z = np.nan_to_num(z, nan=0.0, posinf=1e6, neginf=-1e6)
        proj = z @ self.components.T.astype(np.float64)
        inside = (proj**2 / self.variances).sum(1)
        outside = ((z - proj @ self.components.astype(np.float64)) ** 2).sum(1) / self.residual_variance
        return inside + outside

    def percentile(self, x: np.ndarray) -> np.ndarray:
        """Share of held-out in-distribution inputs closer to the training data than each row (0..1)."""
        d = self.distance(x)
        return np.interp(d, self.held_out, np.linspace(0.0, 1.0, QUANTILES), left=0.0, right=1.0)

    def to_dict(self) -> dict:
        """Plain lists with float32's own precision (8 significant digits), so the JSON stays small."""
        def short(a: np.ndarray) -> list:
            return np.vectorize(lambda v: float(f"{v:.8g}"), otypes=[float])(np.asarray(a, np.float32)).tolist()

        return {"mean": short(self.mean), "scale": short(self.scale), "components": short(self.components),
                "variances": short(self.variances), "residual_variance": float(f"{self.residual_variance:.8g}"),
                "held_out": short(self.held_out)}

    @classmethod
    def from_dict(cls, d: dict) -> NoveltyModel:
        return cls(np.asarray(d["mean"], np.float32), np.asarray(d["scale"], np.float32),
                   np.asarray(d["components"], np.float32), np.asarray(d["variances"], np.float32),
                   float(d["residual_variance"]), np.asarray(d["held_out"], np.float32))
