"""Metrics against examples worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from moodmusic.recognition.metrics import (
    accuracy,
    classification_metrics,
    confusion_matrix,
    macro_f1,
    metrics_from_confusion,
    per_class_recall,
)


def test_confusion_matrix_counts_true_rows_and_predicted_columns():
    cm = confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0], n_classes=3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]


def test_hand_computed_example():
    # true  0 0 1 2 2 2 ; pred 0 1 1 2 2 0
    # class 0: tp 1, fp 1, fn 1 -> P 1/2, R 1/2, F1 1/2
    # class 1: tp 1, fp 1, fn 0 -> P 1/2, R 1,   F1 2/3
    # class 2: tp 2, fp 0, fn 1 -> P 1,   R 2/3, F1 4/5
    m = classification_metrics([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0], ["a", "b", "c"])
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["macro_f1"] == pytest.approx((1 / 2 + 2 / 3 + 4 / 5) / 3)
    assert m["per_class_recall"] == pytest.approx({"a": 0.5, "b": 1.0, "c": 2 / 3})
    assert m["n"] == 6


def test_a_class_never_predicted_scores_zero_not_nan():
    cm = confusion_matrix([0, 1, 2, 2], [0, 1, 1, 1], n_classes=3)
    assert per_class_recall(cm).tolist() == [1.0, 1.0, 0.0]
    # class 1: P 1/3, R 1 -> F1 1/2 ; class 2 never predicted -> F1 0
    assert macro_f1(cm) == pytest.approx((1 + 0.5 + 0) / 3)
    assert np.isfinite(macro_f1(cm))


def test_a_class_absent_from_the_labels_counts_as_zero_recall():
    cm = confusion_matrix([0, 0], [0, 0], n_classes=2)
    assert per_class_recall(cm).tolist() == [1.0, 0.0]
    assert accuracy(cm) == 1.0


def test_empty_input_gives_zeros():
    m = metrics_from_confusion(np.zeros((3, 3), np.int64))
    assert m["accuracy"] == 0.0 and m["macro_f1"] == 0.0 and m["n"] == 0


def test_summed_confusion_matrices_equal_the_pooled_one():
    """What DDP relies on: per-rank counts add up to the counts over all data."""
    rng = np.random.default_rng(0)
    t, p = rng.integers(0, 6, 200), rng.integers(0, 6, 200)
    halves = confusion_matrix(t[:77], p[:77], 6) + confusion_matrix(t[77:], p[77:], 6)
    assert (halves == confusion_matrix(t, p, 6)).all()


def test_labels_outside_the_classes_are_refused():
    with pytest.raises(ValueError):
        confusion_matrix([0, 3], [0, 1], n_classes=3)
    with pytest.raises(ValueError):
        confusion_matrix([0, 1], [0], n_classes=3)
