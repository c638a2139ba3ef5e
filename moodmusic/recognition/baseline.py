"""A personal neutral baseline: moods read relative to how this person's resting face looks.

Why: the face expert learnt one idea of "neutral" from thousands of faces,
and some people's resting face sits near its idea of sad or angry. After
the person holds a neutral face for a few seconds, each reading is corrected
by a prior shift in log space:

    log p'(m) = log p(m) - log b(m) + log r(m), renormalised

where `b` is the expert's geometric-mean reading of this person's neutral
frames and `r` its geometric-mean reading of a typical neutral face (the
FER2013 validation faces labelled neutral, `models/neutral_reference.json`,
written by `python -m moodmusic train neutral`). The person's neutral then
reads as a typical neutral face does, and every other expression keeps its
distance from it. The geometric mean is the mean in log space, the space the
shift works in: the person's average neutral frame maps exactly onto `r`,
and one odd frame (a blink, a word mid-sentence) moves it less than it moves
an arithmetic mean, since the logarithm compresses its one high probability;
a floor keeps a single near-zero probability from dominating.

Arrays in, arrays out: the caller runs the face expert (`Analyzer.baseline_from`,
`LiveSession.capture_baseline`).

>>> reference = np.array([.12, .11, .05, .49, .18, .05])  # the expert on a typical neutral face
>>> resting = np.tile([.45, .05, .02, .30, .15, .03], (10, 1))  # this person's neutral frames: "angry"
>>> base = NeutralBaseline.from_probs(resting, reference)
>>> MOODS[int(resting[0].argmax())], MOODS[int(base.apply(resting[0]).argmax())]
('angry', 'neutral')
>>> smile = np.array([.10, .02, .70, .15, .02, .01])
>>> MOODS[int(base.apply(smile).argmax())], base.apply(np.stack([smile, smile])).shape
('happy', (2, 6))
>>> try:
...     NeutralBaseline.from_probs(resting[:2], reference)
... except ValueError as exc:
...     print(exc)
a neutral baseline needs at least 5 frames with a face; got 2
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from moodmusic.moods import MOODS

REFERENCE_FILE = "neutral_reference.json"
MIN_FRAMES = 5  # a video baseline needs this many face readings, so one blink or word cannot be the baseline
FLOOR = 1e-4  # probabilities are floored here before logs: one near-zero reading cannot dominate a mean
_TINY = 1e-12


class BaselineError(ValueError):
    """A neutral baseline cannot be built or its reference cannot be used; the message says why and what to do."""


def geometric_mean(rows: np.ndarray, floor: float = FLOOR) -> np.ndarray:
    """The renormalised geometric mean of probability rows (N, 6): their mean in log space.

    >>> geometric_mean(np.array([[.5, .5, 0, 0, 0, 0], [.5, .5, 0, 0, 0, 0]])).round(3).tolist()
    [0.5, 0.5, 0.0, 0.0, 0.0, 0.0]
    """
    rows = np.asarray(rows, dtype=np.float64)
    if rows.ndim != 2 or rows.shape[1] != len(MOODS) or len(rows) == 0:
        raise BaselineError(f"expected probability rows of shape (N, {len(MOODS)}), got {rows.shape}")
    g = np.exp(np.log(np.clip(rows, floor, 1.0)).mean(axis=0))
    return g / g.sum()


@dataclass(frozen=True)
class NeutralBaseline:
    """The shift log r - log b for one person; `apply` reads probabilities relative to their neutral."""

    shift: np.ndarray  # (6,) added to the log-probabilities
    frames: int  # how many face readings it was built from
    source: str = ""  # what it was built from (a file name, "camera"), for the record

    @classmethod
    def from_probs(
        cls,
        rows: np.ndarray,
        reference: np.ndarray | None = None,
        *,
        min_frames: int = MIN_FRAMES,
        source: str = "",
    ) -> "NeutralBaseline":
        """From the face expert's probabilities (N, 6) on this person's neutral frames.

        `reference`: the expert's reading of a typical neutral face (default:
        the configured models folder's `neutral_reference.json`). Raises
        `BaselineError` (a ValueError) with fewer than `min_frames` rows.
        """
        rows = np.asarray(rows, dtype=np.float64)
        if rows.ndim == 1:
            rows = rows[None]
        n = len(rows) if rows.ndim == 2 else 0
        if n < min_frames:
            raise BaselineError(f"a neutral baseline needs at least {min_frames} frame{'s' * (min_frames != 1)} "
                                f"with a face; got {n}")
        ref = load_reference() if reference is None else np.asarray(reference, dtype=np.float64)
        if ref.shape != (len(MOODS),) or not np.all(np.isfinite(ref)) or ref.min() <= 0:
            raise BaselineError(f"the neutral reference must be {len(MOODS)} positive probabilities, got {ref}")
        ref = ref / ref.sum()
        person = geometric_mean(rows)
        return cls(shift=np.log(ref) - np.log(person), frames=n, source=source)

    def apply(self, probs: np.ndarray) -> np.ndarray:
        """Probabilities (6,) or (N, 6) read relative to this person's neutral; same shape and dtype."""
        p = np.asarray(probs)
        if p.shape[-1:] != (len(MOODS),):
            raise BaselineError(f"expected probabilities over {len(MOODS)} moods, got shape {p.shape}")
        logp = np.log(np.clip(p.astype(np.float64), _TINY, None)) + self.shift
        logp -= logp.max(axis=-1, keepdims=True)
        out = np.exp(logp)
        out /= out.sum(axis=-1, keepdims=True)
        return out.astype(p.dtype if np.issubdtype(p.dtype, np.floating) else np.float64)


# ------------------------------------------------------------------ the reference: how a typical neutral face reads

def file_sha1(path: Path) -> str:
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def load_reference(models_dir: str | Path | None = None) -> np.ndarray:
    """The face model's reading of a typical neutral face, from `models_dir/neutral_reference.json`.

    Refused (`BaselineError`) when the file is missing, is for another mood
    list, or was computed for other face weights than those in `models_dir`
    (it records the files it depends on and their SHA-1).
    """
    if models_dir is None:
        from moodmusic.config import load_settings

        models_dir = load_settings().models_dir
    models_dir = Path(models_dir)
    path = models_dir / REFERENCE_FILE
    fix = f"run `python -m moodmusic train neutral --models {models_dir}` (needs the shared FER2013 data)"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        moods, reference, files = record["moods"], record["reference"], record["models"]
    except FileNotFoundError:
        raise BaselineError(f"{path} is missing, so there is no neutral face to read yours against; {fix}") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BaselineError(f"{path} cannot be read ({type(exc).__name__}: {exc}); {fix}") from None
    if tuple(moods) != MOODS:
        raise BaselineError(f"{path} is for the moods {moods}, not {list(MOODS)}; {fix}")
    for name, sha1 in files.items():
        weights = models_dir / name
        if sha1 is None and weights.exists() or sha1 is not None and (
                not weights.is_file() or file_sha1(weights) != sha1):
            raise BaselineError(f"{path} was computed for other face weights than {weights}; {fix}")
    return np.asarray(reference, dtype=np.float64)


__all__ = ["BaselineError", "FLOOR", "MIN_FRAMES", "NeutralBaseline", "REFERENCE_FILE", "geometric_mean",
           "load_reference"]
