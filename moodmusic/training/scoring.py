"""Score a trained model on held-out data: the figures a trainer prints and the model card reports.

Each scorer goes through the model's own `predict`, the path the app uses.
Voice figures are given per 2 s window and per clip (the window probabilities
averaged over the clip).

>>> ids, probs = clip_probs(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]), np.array([4, 4, 2]))
>>> ids.tolist(), probs.tolist()
([2, 4], [[1.0, 0.0], [0.5, 0.5]])
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from moodmusic.moods import MOOD_INDEX, MOODS
from moodmusic.training.datasets import (
    FER_FILE,
    SPLIT_ACTORS,
    fixed_subset,
    list_clips,
    load_fer,
    same_label_pairs,
    split_of,
)
from moodmusic.training.features import Windows, adapt, featurize, speaker_prior_of


def clip_probs(probs: np.ndarray, clip: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Average window probabilities per clip: (clip ids, (n_clips, 6))."""
    ids, inverse = np.unique(clip, return_inverse=True)
    sums = np.zeros((len(ids), probs.shape[1]))
    np.add.at(sums, inverse, probs)
    counts = np.bincount(inverse, minlength=len(ids))[:, None]
    return ids, sums / counts


def score(probs: np.ndarray, windows: Windows) -> dict[str, Any]:
    """Window-level and clip-level accuracy, macro-F1, per-class recall and confusion matrix."""
    from moodmusic.recognition.metrics import classification_metrics

    ids, cp = clip_probs(probs, windows.clip)
    clip_y = np.array([MOOD_INDEX[windows.clips[i].mood] for i in ids])
    return {
        "clip": classification_metrics(clip_y, cp.argmax(1), MOODS),
        "window": classification_metrics(windows.y, probs.argmax(1), MOODS),
    }


# ----------------------------------------------------------------------------- face expert

def evaluate_face(checkpoint_path: str | Path, data_dir: str | Path, split: str = "test",
                  limit: int | None = None, flip_average: bool | None = None,
                  device: str | None = None, labels: str = "fer2013",
                  originals_only: bool = False, label_sets: bool | None = None) -> dict[str, Any]:
    """Score a saved face expert on a FER2013 split: accuracy, macro-F1, per-class recall, confusion matrix.

    Goes through `FaceExpert.predict`, the same path the app uses (with the
    checkpoint's flip-averaging setting unless `flip_average` overrides it).
    `limit` scores a fixed random subset of N images of the split (deterministic).
    `labels` "ferplus" scores against the FER+ crowd majority (original pixels
    only); `originals_only` drops the rows without FER2013's original pixels.
    `label_sets` (by default, whenever a whole split is scored against
    FER2013's labels) adds `result["label_sets"]`: the original-pixel rows
    scored with both label sets, FER2013's own and the FER+ majority (the
    model card's face table); files without FER+ votes give only the first.
    """
    from moodmusic.recognition.face_expert import FaceExpert
    from moodmusic.recognition.metrics import classification_metrics

    x, y = load_fer(data_dir, (split,), labels=labels, originals_only=originals_only)[split]
    if limit:
        x, y = fixed_subset(x, y, limit)
    expert = FaceExpert.load(checkpoint_path)
    if device is not None:
        expert.to(device)
    if flip_average is not None:
        expert.flip_average = flip_average
    t = time.perf_counter()
    probs = np.concatenate([expert.predict(x[i:i + 512])[0] for i in range(0, len(x), 512)])
    result = classification_metrics(y, probs.argmax(1), list(MOODS))
    result.update(split=split, flip_average=expert.flip_average, seconds=round(time.perf_counter() - t, 2),
                  labels=labels, originals_only=originals_only or labels != "fer2013")
    if label_sets if label_sets is not None else (labels == "fer2013" and not limit):
        result["label_sets"] = _both_label_sets(expert, data_dir, split)
    return result


def _both_label_sets(expert: Any, data_dir: str | Path, split: str) -> dict[str, Any]:
    """The split's original-pixel rows against FER2013's labels and against the FER+ majority."""
    from moodmusic.recognition.metrics import classification_metrics

    with np.load(Path(data_dir) / FER_FILE) as blob:
        has_votes = "ferplus_votes" in blob.files
    out = {}
    for labels in ("fer2013", "ferplus") if has_votes else ("fer2013",):
        x, y = load_fer(data_dir, (split,), labels=labels, originals_only=True)[split]
        probs = np.concatenate([expert.predict(x[i:i + 512])[0] for i in range(0, len(x), 512)])
        out[labels] = classification_metrics(y, probs.argmax(1), list(MOODS))
    if has_votes:  # the faces both label sets read alike: the least ambiguous figure (`label_agreement`)
        from moodmusic.training.label_agreement import load_parts

        x, parts = load_parts(data_dir, split)
        x, y = x[parts.agreed], parts.fer[parts.agreed]
        probs = np.concatenate([expert.predict(x[i:i + 512])[0] for i in range(0, len(x), 512)])
        out["agreed"] = classification_metrics(y, probs.argmax(1), list(MOODS))
        c = parts.counts()
        out["agreed"]["agreement"] = {"share": c["agreed"] / max(1, c["agreed"] + c["disagreed"]),
                                      "ceiling_fer2013": parts.ceiling("fer2013"),
                                      "ceiling_ferplus": parts.ceiling("ferplus")}
    return out


def format_report(m: dict[str, Any], title: str) -> str:
    """A small text table: accuracy, macro-F1, per-class recall and the confusion matrix."""
    lines = [f"{title}: accuracy {m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f} (n={m['n']})",
             "recall: " + ", ".join(f"{k} {v:.3f}" for k, v in m["per_class_recall"].items())]
    if "confusion_matrix" in m:
        lines.append("confusion (rows true, cols predicted): " + " ".join(f"{c[:5]:>6}" for c in MOODS))
        for name, row in zip(MOODS, m["confusion_matrix"]):
            lines.append(f"  {name:>8} " + " ".join(f"{v:6d}" for v in row))
    return "\n".join(lines)


# ----------------------------------------------------------------------------- voice expert

def evaluate_voice(checkpoint_path: str | Path, data_dir: str | Path, cache_dir: str | Path,
                   n_jobs: int = 2, gains_db: tuple[float, ...] = (15.0, -10.0), progress: bool = False,
                   streams: int = 5) -> dict[str, Any]:
    """Every voice figure from the committed weights: test actors clean, at other levels, and noisy.

    With speaker adaptation the headline (`test`) is the live-stream protocol
    with clip order seed 0, `stream` the clip-level figures of `streams` orders,
    and `first` / `one_mood` the start of a session and the worst case.
    """
    from moodmusic.audio.features import FEATURE_VERSION
    from moodmusic.recognition.voice_expert import VoiceExpert

    expert = VoiceExpert.load(checkpoint_path, feature_version=FEATURE_VERSION)
    prior = speaker_prior_of(expert.meta)
    test_clips = [c for c in list_clips(data_dir) if split_of(c.actor) == "test"]
    result: dict[str, Any] = {"split": {k: list(v) for k, v in SPLIT_ACTORS.items()}, "meta": expert.meta,
                              "speaker_adaptation": prior is not None}
    clean = featurize(test_clips, cache_dir, n_jobs=n_jobs, progress=progress)
    result["test"] = score(expert.predict(adapt(clean, prior).x)[0], clean)
    if prior is not None:
        runs = [score(expert.predict(adapt(clean, prior, "stream", s).x)[0], clean)["clip"] for s in range(streams)]
        result["stream"] = {"seeds": list(range(streams)),
                            "accuracy": [r["accuracy"] for r in runs], "macro_f1": [r["macro_f1"] for r in runs]}
        for how in ("first", "one-mood"):
            result[how.replace("-", "_")] = score(expert.predict(adapt(clean, prior, how).x)[0], clean)["clip"]
    t0 = time.perf_counter()
    expert.predict(clean.x)
    result["ms_per_window_mlp"] = 1000 * (time.perf_counter() - t0) / max(1, len(clean.x))
    result["gain"] = {}
    for g in gains_db:
        w = featurize(test_clips, cache_dir, gain_db=g, n_jobs=n_jobs, progress=progress)
        result["gain"][f"{g:+.0f} dB"] = score(expert.predict(adapt(w, prior).x)[0], w)["clip"]
    noisy = featurize(test_clips, cache_dir, copies=1, seed=12345, n_jobs=n_jobs, progress=progress)
    noisy = noisy.subset(noisy.copy == 1)
    result["augmented_test"] = score(expert.predict(adapt(noisy, prior).x)[0], noisy)["clip"]
    return result


# ----------------------------------------------------------------------------- the deployed fusion model

def evaluate_deployed(model: Any, face: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
                      windows: dict[str, Windows], seed: int = 0) -> dict[str, Any]:
    """The deployed model on FER test (face only), RAVDESS test actors (voice only, clip level),
    and same-label test pairs (both; NOT real pairs: an optimistic, synthetic figure)."""
    from moodmusic.recognition.metrics import classification_metrics

    emb, _, yf = face["test"]
    w = windows["test"]
    ids, cp = clip_probs(model.predict(None, w.x), w.clip)
    clip_y = np.array([MOOD_INDEX[w.clips[i].mood] for i in ids])
    fi, vi = same_label_pairs(yf, w.y, np.random.default_rng(seed + 777))
    return {
        "face_only_fer_test": classification_metrics(yf, model.predict(emb, None).argmax(1), MOODS),
        "voice_only_ravdess_test_clip": classification_metrics(clip_y, cp.argmax(1), MOODS),
        "same_label_pairs_test": classification_metrics(yf[fi], model.predict(emb[fi], w.x[vi]).argmax(1), MOODS),
    }
