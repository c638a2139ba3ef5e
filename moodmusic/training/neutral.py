"""How the face model reads a typical neutral face: the reference a personal neutral baseline is read against.

`recognition.baseline` shifts a person's readings so that their own neutral
face reads as a typical neutral face does. "Typical" is measured here, once,
from data the app never needs at run time: the face model the app runs
(the face expert, through AVFusion's face head when `avfusion.pt` is there,
exactly as `load_experts` builds it) on the FER2013 validation faces labelled
neutral (original pixels only), summarised by the same geometric mean the
person's frames get. The validation split, not the test split: the test
split stays for the figures the card reports. The result goes to
`models/neutral_reference.json` with the SHA-1 of the weights it was computed
for, so a retrained face model refuses a stale reference instead of
correcting by the wrong amount.

    python -m moodmusic train neutral --data ../shared/data
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from moodmusic.errors import UserError
from moodmusic.moods import MOODS
from moodmusic.recognition.baseline import REFERENCE_FILE, file_sha1, geometric_mean
from moodmusic.training.datasets import FER_FILE

WEIGHTS = ("face_expert.pt", "avfusion.pt")  # the face model the app runs depends on both (see experts.py)


@dataclass
class NeutralConfig:
    """`python -m moodmusic train neutral` spells each field as an option."""

    data: Path
    models: Path | None = None  # the weights (default: models/)
    out: Path | None = None  # default: MODELS/neutral_reference.json
    split: str = "val"
    batch: int = 256
    command: str = "python -m moodmusic train neutral"


def neutral_faces(data: Path, split: str = "val") -> np.ndarray:
    """FER2013 faces labelled neutral in `split`, original pixels only (uint8 (N, 48, 48))."""
    path = Path(data) / FER_FILE
    if not path.is_file():
        raise UserError(f"FER2013 not found at {path}; pass --data pointing at the shared data folder")
    with np.load(path) as blob:
        keep = (blob["split"] == split) & (blob["labels"] == "neutral")
        if "original" in blob.files:  # the equalized rows are not what a camera gives (data README)
            keep &= blob["original"].astype(bool)
        return np.ascontiguousarray(blob["images"][keep])


def fit_reference(cfg: NeutralConfig) -> tuple[Path, dict]:
    """Compute the reference and write it; returns (path, the record written)."""
    from moodmusic.config import MODELS_DIR
    from moodmusic.recognition import load_experts
    from moodmusic.vision import FEATURE_VERSION

    models = Path(cfg.models or MODELS_DIR)
    out = Path(cfg.out or models / REFERENCE_FILE)
    experts = load_experts(models, face_feature_version=FEATURE_VERSION)
    if experts.face is None:
        raise UserError("no face model to measure: " + "; ".join(experts.problems))
    faces = neutral_faces(cfg.data, cfg.split)
    if len(faces) == 0:
        raise UserError(f"no neutral faces in the {cfg.split!r} split of {Path(cfg.data) / FER_FILE}")
    probs = np.concatenate([np.asarray(experts.face(faces[i:i + cfg.batch]), dtype=np.float64)
                            for i in range(0, len(faces), cfg.batch)])
    reference = geometric_mean(probs)
    record = {
        "moods": list(MOODS),
        "reference": [round(float(x), 6) for x in reference],
        "faces": int(len(faces)),
        "reads_neutral": round(float(np.mean(probs.argmax(1) == MOODS.index("neutral"))), 4),
        "source": f"FER2013 {cfg.split} split, faces labelled neutral, original pixels",
        "statistic": "geometric mean of the face model's probabilities (floor 1e-4), renormalised",
        "models": {name: (file_sha1(models / name) if (models / name).is_file() else None) for name in WEIGHTS},
        "command": cfg.command,
        "date": _dt.date.today().isoformat(),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return out, record
