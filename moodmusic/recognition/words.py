"""What was said → an opinion over the six moods: VADER's valence, mapped by a model fitted on speech.

VADER (`vaderSentiment` 3.3.2, its lexicon ships in the package) scores a
text's valence: negative, neutral and positive shares and a compound in
-1..1. A valence is not six moods, so a small multinomial logistic regression
(`WordsMap`, fitted by `moodmusic.training.words` on training speakers'
transcripts, with balanced classes) turns the four scores into probabilities,
and one temperature fitted on validation speakers calibrates them like the
other experts (`calibration.py`). Its weight in fusion (`FusionRule.words`)
is measured too: words that carry nothing on held-out speakers get weight 0.

Plain numpy once VADER has scored the text: the map is a 6x4 matrix.

>>> import numpy as np
>>> m = WordsMap(np.zeros((6, 4)), np.zeros(6))
>>> m.probs(valence("I am so happy, this is wonderful")).round(3).tolist()   # an unfitted map: uniform
[0.167, 0.167, 0.167, 0.167, 0.167, 0.167]
>>> float(valence("I hate this, it is terrible")[3]) < -0.5 < 0.5 < float(valence("I love it")[3])
True
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from moodmusic.moods import MOODS
from moodmusic.recognition.calibration import apply_temperature

SCORES = ("neg", "neu", "pos", "compound")  # VADER's scores, the map's inputs in this order
MAP_FILE = "words_map.json"  # in the models folder
MAP_KIND = "moodmusic-words-map-v1"
MISSING = "the words opinion needs the vaderSentiment package (pip install vaderSentiment==3.3.2)"


@lru_cache(maxsize=1)
def _vader():
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError:
        raise ImportError(MISSING) from None
    return SentimentIntensityAnalyzer()  # reads the lexicon from the package's folder


def valence(text: str) -> np.ndarray:
    """VADER's (neg, neu, pos, compound) for a text; all zeros for no words."""
    scores = _vader().polarity_scores(text or "")
    return np.array([scores[k] for k in SCORES], dtype=np.float64)


@dataclass(frozen=True)
class WordsMap:
    """Valence scores (4,) → mood probabilities (6,): softmax(coef @ x + intercept), then a temperature."""

    coef: np.ndarray  # (6, 4)
    intercept: np.ndarray  # (6,)
    temperature: float = 1.0
    weight: float = 0.0  # its weight in fusion, measured on validation speakers; 0 until measured
    fitted: dict = field(default_factory=dict)  # data, command and figures behind the numbers

    def probs(self, scores: np.ndarray) -> np.ndarray:
        """(6,) for one score vector, (N, 6) for N."""
        x = np.asarray(scores, dtype=np.float64)
        z = x @ np.asarray(self.coef, dtype=np.float64).T + np.asarray(self.intercept, dtype=np.float64)
        z = z - z.max(axis=-1, keepdims=True)
        p = np.exp(z)
        return apply_temperature(p / p.sum(axis=-1, keepdims=True), self.temperature)

    def to_dict(self) -> dict:
        return {"kind": MAP_KIND, "moods": list(MOODS), "scores": list(SCORES),
                "coef": np.round(np.asarray(self.coef), 6).tolist(),
                "intercept": np.round(np.asarray(self.intercept), 6).tolist(),
                "temperature": self.temperature, "weight": self.weight, "fitted": self.fitted}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> WordsMap:
        """Read a map written by `save`; ValueError with the reason for anything else."""
        try:
            d = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path} is not a readable words map ({exc})") from None
        if not isinstance(d, dict) or d.get("kind") != MAP_KIND:
            raise ValueError(f"{path} is not a {MAP_KIND} file")
        if tuple(d.get("moods", ())) != MOODS or tuple(d.get("scores", ())) != SCORES:
            raise ValueError(f"{path} was fitted for other moods or scores")
        coef, intercept = np.asarray(d["coef"], dtype=np.float64), np.asarray(d["intercept"], dtype=np.float64)
        if coef.shape != (len(MOODS), len(SCORES)) or intercept.shape != (len(MOODS),):
            raise ValueError(f"{path}: the map's shape is wrong")
        return cls(coef, intercept, float(d.get("temperature", 1.0)), float(d.get("weight", 0.0)), d.get("fitted", {}))


@dataclass(frozen=True)
class WordsOpinion:
    text: str
    scores: np.ndarray  # VADER's (neg, neu, pos, compound)
    probs: np.ndarray | None  # (6,), calibrated; None when nothing was said

    @property
    def mood(self) -> str | None:
        return None if self.probs is None else MOODS[int(np.argmax(self.probs))]


def words_opinion(text: str, words_map: WordsMap) -> WordsOpinion:
    """The opinion of a transcript: no words, no opinion (None probabilities)."""
    scores = valence(text)
    return WordsOpinion(text, scores, words_map.probs(scores) if text.strip() else None)
