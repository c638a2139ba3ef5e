"""The six moods, how they look on the page, and every dataset's label map.

One module owns the label space so that a new dataset (or a new map) is a
dictionary here, not a change spread across the code.

>>> MOODS
('angry', 'fear', 'happy', 'neutral', 'sad', 'surprise')
>>> map_label("calm", "ravdess")
'neutral'
>>> map_label("disgust", "fer2013") is None
True
"""

from __future__ import annotations

from dataclasses import dataclass

MOODS: tuple[str, ...] = ("angry", "fear", "happy", "neutral", "sad", "surprise")
MOOD_INDEX: dict[str, int] = {m: i for i, m in enumerate(MOODS)}


@dataclass(frozen=True)
class MoodStyle:
    emoji: str
    colour: str  # CSS hex, chosen to stay readable on light and dark themes


STYLES: dict[str, MoodStyle] = {
    "angry": MoodStyle("😠", "#d64541"),
    "fear": MoodStyle("😨", "#8e44ad"),
    "happy": MoodStyle("😄", "#f1c40f"),
    "neutral": MoodStyle("😐", "#95a5a6"),
    "sad": MoodStyle("😢", "#3498db"),
    "surprise": MoodStyle("😮", "#e67e22"),
}

# Source label -> mood, or None to drop the example.
LABEL_MAPS: dict[str, dict[str, str | None]] = {
    "fer2013": {
        "angry": "angry", "disgust": None, "fear": "fear", "happy": "happy",
        "neutral": "neutral", "sad": "sad", "surprise": "surprise",
    },
    "ravdess": {
        "neutral": "neutral", "calm": "neutral", "happy": "happy", "sad": "sad",
        "angry": "angry", "fearful": "fear", "disgust": None, "surprised": "surprise",
    },
    "tess": {
        "angry": "angry", "disgust": None, "fear": "fear", "happy": "happy",
        "neutral": "neutral", "ps": "surprise", "sad": "sad",
    },
}

# RAVDESS encodes emotion as a two-digit code in the file name.
RAVDESS_CODES: dict[str, str] = {
    "01": "neutral", "02": "calm", "03": "happy", "04": "sad",
    "05": "angry", "06": "fearful", "07": "disgust", "08": "surprised",
}


def top_mood(probs) -> str | None:
    """The most likely mood of a probability vector over MOODS (None for no vector)."""
    if probs is None:
        return None
    return MOODS[max(range(len(MOODS)), key=lambda i: probs[i])]


def top_confidence(probs) -> float:
    """The probability of the most likely mood (0 for no vector)."""
    return 0.0 if probs is None else float(max(probs))


class MoodReading:
    """For results that carry `probs` over MOODS (None: no reading): their mood and confidence.

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Reading(MoodReading):
    ...     probs: list | None
    >>> r = Reading([0.1, 0.0, 0.7, 0.2, 0.0, 0.0]); (r.mood, r.confidence)
    ('happy', 0.7)
    >>> Reading(None).mood is None
    True
    """

    probs: object

    @property
    def mood(self) -> str | None:
        return top_mood(self.probs)

    @property
    def confidence(self) -> float:
        return top_confidence(self.probs)


def map_label(label: str, dataset: str, label_map: dict[str, str | None] | None = None) -> str | None:
    """Map a dataset's own label to a mood (None: not one of the six, drop it)."""
    table = label_map if label_map is not None else LABEL_MAPS[dataset]
    key = label.strip().lower()
    if key not in table:
        raise KeyError(f"label {label!r} is not in the {dataset} label map")
    return table[key]
