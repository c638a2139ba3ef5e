"""The corpora, read as the trainers need them: FER2013 faces, RAVDESS and TESS speech, RAVDESS action units.

Every split is fixed and documented in the model card. Faces: FER2013's own
partition (Training / PublicTest / PrivateTest). Speech: RAVDESS by actor,
1-16 train, 17-20 validation (early stopping), 21-24 test (2 male, 2 female),
so the test figure compares with the openSMILE + SVM reference measured on the
same actors; TESS (two speakers) is added to training only. Never a random,
speaker-mixed split. Disgust is dropped everywhere (`moodmusic.moods`).

>>> split_of(3), split_of(21), split_of(TESS_ACTOR["OAF"])
('train', 'test', 'train')
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from moodmusic.errors import UserError
from moodmusic.moods import MOOD_INDEX, MOODS, RAVDESS_CODES, map_label

DEFAULT_DATA = Path("../shared/data")  # the shared data folder beside the project
FER_FILE = Path("faces") / "fer2013.npz"
AU_CSV = Path("ravdess_av_features") / "ravdess_au35.csv"
SPLIT_ACTORS: dict[str, tuple[int, ...]] = {
    "train": tuple(range(1, 17)),
    "val": tuple(range(17, 21)),
    "test": tuple(range(21, 25)),
}
TESS_ACTOR = {"OAF": 101, "YAF": 102}  # pseudo actor ids: TESS speakers are training-only


# ----------------------------------------------------------------------------- faces (FER2013)

# FER+ vote columns (Barsoum et al. 2016) -> our moods; None drops the column's votes. Disgust is dropped,
# not merged into angry: on FER2013 train images with 3 or more disgust votes, the other votes spread over
# anger (18% of all votes), neutral (12%) and sadness (11%), so a disgusted face is not an angry one to the
# crowd; and FER2013's, RAVDESS's and TESS's own disgust labels are dropped too (`moodmusic.moods`).
FERPLUS_MOODS: dict[str, str | None] = {
    "neutral": "neutral", "happiness": "happy", "surprise": "surprise", "sadness": "sad", "anger": "angry",
    "disgust": None, "fear": "fear", "contempt": None, "unknown": None, "NF": None,
}
LABEL_SETS = ("fer2013", "ferplus")


def ferplus_majority(votes: np.ndarray, columns: list[str]) -> np.ndarray:
    """FER+'s own "majority" label as a mood index, -1 where there is none (or it is no mood of ours).

    As microsoft/FERPlus scores its test set: single votes are zeroed as
    outliers, and a column must hold more than half of the remaining votes;
    a majority of contempt, unknown, not-a-face or disgust drops the image.

    >>> ferplus_majority(np.array([[6, 0, 0, 3, 0, 0, 0, 0, 1, 0], [4, 0, 0, 4, 0, 0, 0, 0, 0, 0]]),
    ...                  ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear",
    ...                   "contempt", "unknown", "NF"]).tolist()
    [3, -1]
    """
    v = np.where(votes <= 1, 0, votes).astype(np.float64)
    top = v.argmax(1)
    has = v.max(1) > 0.5 * v.sum(1)
    to_mood = np.array([MOOD_INDEX[FERPLUS_MOODS[c]] if FERPLUS_MOODS[c] else -1 for c in columns])
    return np.where(has, to_mood[top], -1).astype(np.int64)


def ferplus_distribution(votes: np.ndarray, columns: list[str]) -> np.ndarray:
    """Each image's vote distribution over the six moods (float32 (N, 6)); all zeros where no vote is usable."""
    out = np.zeros((len(votes), len(MOODS)), np.float32)
    for j, c in enumerate(columns):
        if FERPLUS_MOODS[c]:
            out[:, MOOD_INDEX[FERPLUS_MOODS[c]]] += np.clip(votes[:, j], 0, None)
    total = out.sum(1, keepdims=True)
    return np.divide(out, total, out=np.zeros_like(out), where=total > 0)


def load_fer(data_dir: str | Path, splits: tuple[str, ...] = ("train", "val", "test"), labels: str = "fer2013",
             originals_only: bool = False) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{split: (images uint8 (N, 48, 48), labels)}, six moods.

    `labels`: "fer2013" (FER2013's own, int64 mood indices, disgust dropped),
    "ferplus" (the FER+ majority, int64, images without one dropped) or
    "ferplus-votes" (float32 (N, 6) vote distributions, images without a
    usable vote dropped). `originals_only` drops the rows whose pixels are
    not FER2013's originals (always, for the FER+ labels: those rows have no votes).
    """
    path = Path(data_dir) / FER_FILE
    if not path.is_file():
        raise UserError(f"FER2013 not found at {path}; pass --data pointing at the shared data folder")
    if labels not in ("fer2013", "ferplus", "ferplus-votes"):
        raise UserError(f"unknown face label set {labels!r}: fer2013, ferplus or ferplus-votes")
    ferplus = labels != "fer2013"
    with np.load(path) as blob:
        images, split = blob["images"], blob["split"]
        if ferplus and "ferplus_votes" not in blob.files:
            raise UserError(f"{path} has no FER+ votes (ferplus_votes); update the shared data")
        keep = blob["original"].astype(bool) if (originals_only or ferplus) and "original" in blob.files \
            else np.ones(len(split), bool)
        if labels == "fer2013":
            moods = np.array([map_label(str(lbl), "fer2013") or "" for lbl in blob["labels"]])
            keep &= moods != ""
            y_all = np.array([MOOD_INDEX.get(m, -1) for m in moods], dtype=np.int64)
        else:
            votes, columns = blob["ferplus_votes"], [str(c) for c in blob["ferplus_columns"]]
            if labels == "ferplus":
                y_all = ferplus_majority(votes, columns)
                keep &= y_all >= 0
            else:
                y_all = ferplus_distribution(votes, columns)
                keep &= y_all.sum(1) > 0
    out = {}
    for name in splits:
        sel = keep & (split == name)
        out[name] = (np.ascontiguousarray(images[sel]), np.ascontiguousarray(y_all[sel]))
    return out


def read_both_labels(data_dir: str | Path, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """A split's original-pixel rows with both label sets: (images uint8 (N, 48, 48), FER2013 mood indices
    (-1 = none of ours), raw FER+ votes (N, 10), the vote columns)."""
    path = Path(data_dir) / FER_FILE
    if not path.is_file():
        raise UserError(f"FER2013 not found at {path}; pass --data pointing at the shared data folder")
    with np.load(path) as blob:
        if "ferplus_votes" not in blob.files:
            raise UserError(f"{path} has no FER+ votes (ferplus_votes); update the shared data")
        rows = blob["split"] == split
        if "original" in blob.files:
            rows &= blob["original"].astype(bool)
        moods = [map_label(str(lbl), "fer2013") for lbl in blob["labels"][rows]]
        fer = np.array([MOOD_INDEX[m] if m else -1 for m in moods], np.int64)
        return blob["images"][rows], fer, blob["ferplus_votes"][rows], [str(c) for c in blob["ferplus_columns"]]


def fixed_subset(x: np.ndarray, y: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """A fixed random subset (the file is sorted by label, so a prefix would hold one or two moods)."""
    idx = np.sort(np.random.default_rng(0).permutation(len(x))[:limit])
    return x[idx], y[idx]


# ----------------------------------------------------------------------------- speech (RAVDESS, TESS)

@dataclass(frozen=True)
class Clip:
    path: str
    mood: str
    actor: int
    corpus: str  # "ravdess" | "tess"


def split_of(actor: int) -> str:
    """'train', 'val' or 'test' for a RAVDESS actor; TESS speakers are always 'train'."""
    for name, actors in SPLIT_ACTORS.items():
        if actor in actors:
            return name
    if actor in TESS_ACTOR.values():
        return "train"
    raise ValueError(f"actor {actor} is in no split")


def ravdess_clip(path: Path) -> Clip | None:
    """A RAVDESS speech file (03-01-EE-II-SS-RR-AA) as a Clip; None for disgust."""
    parts = path.stem.split("-")
    if len(parts) != 7:
        raise ValueError(f"{path.name} is not a RAVDESS file name (03-01-EE-II-SS-RR-AA)")
    mood = map_label(RAVDESS_CODES[parts[2]], "ravdess")
    return None if mood is None else Clip(str(path), mood, int(parts[6]), "ravdess")


def list_clips(data_dir: str | Path) -> list[Clip]:
    """RAVDESS speech and TESS clips under `data_dir` (the shared data folder), with moods."""
    speech = Path(data_dir).resolve() / "speech"  # one spelling per file, so the cache keys match
    clips: list[Clip] = []
    for f in sorted((speech / "ravdess").glob("Actor_*/*.flac")):
        clip = ravdess_clip(f)
        if clip is not None:
            clips.append(clip)
    for f in sorted((speech / "tess").glob("*/*.flac")):
        speaker, label = f.parent.name.split("_", 1)
        mood = map_label(label, "tess")
        if mood is not None:
            clips.append(Clip(str(f), mood, TESS_ACTOR[speaker], "tess"))
    if not clips:
        raise UserError(f"no RAVDESS/TESS clips under {speech} (expected speech/ravdess/Actor_NN/*.flac)")
    return clips


def read_audio(path: str) -> np.ndarray:
    """A speech file as mono float32 at the features' rate."""
    from moodmusic.audio.features import SAMPLE_RATE

    try:
        from moodmusic.media import read_audio as read

        return read(path)
    except ImportError:  # pragma: no cover - media.py is written by another helper
        import soundfile as sf

        x, rate = sf.read(path, dtype="float32", always_2d=True)
        if rate != SAMPLE_RATE:
            raise ValueError(f"{path}: {rate} Hz, expected {SAMPLE_RATE}")
        return x.mean(axis=1)


# ----------------------------------------------------------------------------- pairs of face and voice

def read_au_table(data_dir: str | Path) -> tuple[dict[str, np.ndarray], list[str]]:
    """{matching speech file stem: AU vector} for the six moods, and the AU column names.

    The only real paired face+voice data here: OpenFace action units of each
    RAVDESS audio-visual clip, keyed by the speech file of the same performance.
    """
    path = Path(data_dir) / AU_CSV
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    cols = [c for c in rows[0] if c.startswith("AU")]
    table = {}
    for r in rows:
        if map_label(r["emotion"], "ravdess") is not None:
            table[r["matching_audio_id"]] = np.array([float(r[c]) for c in cols], np.float32)
    return table, cols


def same_label_pairs(y_face: np.ndarray, y_voice: np.ndarray,
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (face i, voice j) with equal labels: every example of the larger side once,
    partners drawn at random (with replacement) from the other side's examples of that label."""
    fi, vi = [], []
    for c in range(len(MOODS)):
        f, v = np.flatnonzero(y_face == c), np.flatnonzero(y_voice == c)
        if len(f) == 0 or len(v) == 0:
            continue
        n = max(len(f), len(v))
        fi.append(f if len(f) == n else rng.choice(f, n))
        vi.append(v if len(v) == n else rng.choice(v, n))
    return np.concatenate(fi), np.concatenate(vi)
