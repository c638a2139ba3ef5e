"""Classification metrics from a confusion matrix: accuracy, macro-F1, per-class recall.

Everything is derived from one integer confusion matrix, so per-rank counts
can be summed across processes (DDP) and the metrics computed once, exactly.
Pure numpy; a class that is never predicted (or never present) scores 0 for
that class instead of producing NaN.

>>> cm = confusion_matrix([0, 0, 1, 2], [0, 1, 1, 1], n_classes=3)
>>> cm.tolist()
[[1, 1, 0], [0, 1, 0], [0, 1, 0]]
>>> m = metrics_from_confusion(cm)
>>> m["accuracy"], round(m["macro_f1"], 4)
(0.5, 0.3889)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def confusion_matrix(y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray,
                     n_classes: int) -> np.ndarray:
    """Rows are true classes, columns predicted classes; int64 counts."""
    t = np.asarray(y_true, dtype=np.int64).ravel()
    p = np.asarray(y_pred, dtype=np.int64).ravel()
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred differ in length ({t.size} vs {p.size})")
    if t.size and (min(t.min(), p.min()) < 0 or max(t.max(), p.max()) >= n_classes):
        raise ValueError(f"labels must lie in [0, {n_classes})")
    return np.bincount(t * n_classes + p, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.zeros_like(num, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def per_class_recall(cm: np.ndarray) -> np.ndarray:
    """Recall of each true class (0 where the class has no examples)."""
    cm = np.asarray(cm, dtype=np.float64)
    return _safe_div(np.diag(cm), cm.sum(axis=1))


def per_class_precision(cm: np.ndarray) -> np.ndarray:
    """Precision of each predicted class (0 where the class is never predicted)."""
    cm = np.asarray(cm, dtype=np.float64)
    return _safe_div(np.diag(cm), cm.sum(axis=0))


def per_class_f1(cm: np.ndarray) -> np.ndarray:
    p, r = per_class_precision(cm), per_class_recall(cm)
    return _safe_div(2 * p * r, p + r)


def accuracy(cm: np.ndarray) -> float:
    cm = np.asarray(cm)
    total = cm.sum()
    return float(np.trace(cm) / total) if total else 0.0


def macro_f1(cm: np.ndarray) -> float:
    """Unweighted mean of per-class F1: every mood counts the same, however rare."""
    return float(per_class_f1(cm).mean())


def metrics_from_confusion(cm: np.ndarray, classes: Sequence[str] | None = None) -> dict[str, Any]:
    """Plain-data summary (floats, lists) fit for logs, JSON and checkpoint metadata."""
    cm = np.asarray(cm, dtype=np.int64)
    names = list(classes) if classes is not None else [str(i) for i in range(cm.shape[0])]
    return {
        "accuracy": accuracy(cm),
        "macro_f1": macro_f1(cm),
        "per_class_recall": {n: float(r) for n, r in zip(names, per_class_recall(cm))},
        "confusion_matrix": cm.tolist(),
        "n": int(cm.sum()),
    }


def classification_metrics(y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray,
                           classes: Sequence[str]) -> dict[str, Any]:
    """Labels in, summary out: `metrics_from_confusion(confusion_matrix(...))`."""
    return metrics_from_confusion(confusion_matrix(y_true, y_pred, len(classes)), classes)
