"""Where each mood points in audio-feature space, under three strategies.

The map follows the valence–arousal circumplex (Russell 1980, "A circumplex
model of affect"): every emotion sits on a plane of pleasure (valence) and
activation (arousal). Spotify's `valence` ("musical positiveness") and
`energy` ("perceptual intensity and activity") are that plane's musical
counterparts, so a mood becomes a point there:

    happy     pleasant, active        valence 0.80  energy 0.70
    surprise  mildly pleasant, very active  0.65       0.80
    angry     unpleasant, very active       0.25       0.88
    fear      unpleasant, active, tense     0.18       0.62
    sad       unpleasant, inactive          0.20       0.28
    neutral   the centre                    0.50       0.50

with a few secondary cues where music psychology agrees on them
(happy music is danceable; sad music is often acoustic and slow; angry
music is loud and electric; fearful music is tense, not danceable).

Strategies move the point:

* **match** mirrors the mood (the "iso principle" of music therapy: meet the
  listener where they are);
* **lift** moves toward positive valence (at least 0.78) and halfway toward
  moderate energy, so a sad listener gets warm, gentle music, not a party;
* **calm** moves toward low energy (0.15) and acoustic sound (0.85); valence
  moves halfway toward mildly pleasant but counts only a quarter, because
  calm is an arousal goal and Spotify's valence reads quiet instrumental
  music (ambient, piano, strings) as "negative" whatever its feel. (Checked
  on the labelled tracks: a calm target weighted on valence pulled mostly
  Sad-labelled songs; energy-first pulls the Calm ones. That check is thus
  partly in-sample for calm; the other strategies were set from the
  circumplex alone.)

>>> t = target_for("sad", "lift")
>>> t.valence >= 0.78 and t.energy < 0.5
True
>>> reason_for(0.82, 0.74, "happy", "match")
'bright (valence 0.82) and lively (energy 0.74) — matches happy'
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from moodmusic.moods import MOODS
from moodmusic.music.catalog import FEATURES

STRATEGIES: tuple[str, ...] = ("match", "lift", "calm")


@dataclass(frozen=True)
class Target:
    """A point in feature space (see catalog.FEATURES) and how much each feature counts."""

    mood: str
    strategy: str
    valence: float
    energy: float
    danceability: float | None = None
    acousticness: float | None = None
    tempo: float | None = None  # on the 0..1 tempo scale (60..180 BPM)
    secondary_weight: float = 0.35
    valence_weight: float = 1.0

    def vector(self) -> np.ndarray:
        return np.array([_or_nan(getattr(self, f)) for f in FEATURES], dtype=np.float64)

    def weights(self) -> np.ndarray:
        """Energy weighs 1, valence `valence_weight`; each secondary cue `secondary_weight`; unset cues 0."""
        w = [self.valence_weight, 1.0] + [0.0 if getattr(self, f) is None else self.secondary_weight for f in FEATURES[2:]]
        return np.array(w, dtype=np.float64)


def _or_nan(x: float | None) -> float:
    return np.nan if x is None else float(x)


# mood: (valence, energy, danceability, acousticness, tempo-scale)
_MATCH: dict[str, tuple[float, float, float | None, float | None, float | None]] = {
    "happy":    (0.80, 0.70, 0.70, None, None),
    "surprise": (0.65, 0.80, None, None, 0.60),
    "angry":    (0.25, 0.88, None, 0.05, None),
    "fear":     (0.18, 0.62, 0.35, None, None),
    "sad":      (0.20, 0.28, None, 0.65, 0.30),
    "neutral":  (0.50, 0.50, None, None, None),
}
LIFT_MIN_VALENCE = 0.78
LIFT_ENERGY_GOAL = 0.60
CALM_ENERGY = 0.15
CALM_ACOUSTICNESS = 0.85
CALM_VALENCE_GOAL = 0.60
CALM_VALENCE_WEIGHT = 0.25


def target_for(mood: str, strategy: str = "match") -> Target:
    """The feature-space target for a mood under a strategy (see the module docstring)."""
    check_mood(mood)
    check_strategy(strategy)
    v, e, dance, acoustic, tempo = _MATCH[mood]
    valence_weight = 1.0
    if strategy == "lift":
        v = max(v, LIFT_MIN_VALENCE)
        e = e + 0.5 * (LIFT_ENERGY_GOAL - e)
        acoustic = None
        tempo = None
        dance = None if mood != "happy" else dance
    elif strategy == "calm":
        v = v + 0.5 * (CALM_VALENCE_GOAL - v)
        e = CALM_ENERGY
        dance = None
        acoustic = CALM_ACOUSTICNESS
        tempo = None
        valence_weight = CALM_VALENCE_WEIGHT
    return Target(mood, strategy, round(v, 3), round(e, 3), dance, acoustic, tempo, valence_weight=valence_weight)


def check_mood(mood: str) -> str:
    if mood not in MOODS:
        raise ValueError(f"unknown mood {mood!r}; choose one of: {', '.join(MOODS)}")
    return mood


def check_strategy(strategy: str) -> str:
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of: {', '.join(STRATEGIES)}")
    return strategy


def distances(features: np.ndarray, target: Target) -> np.ndarray:
    """Weighted RMS distance of each row to the target (0 = on target, ~1 = opposite corner).

    Rows missing a weighted feature get that feature's target value (no
    penalty, no credit), so sparse rows are judged on what they have.
    """
    t = target.vector()
    w = target.weights()
    x = np.where(np.isnan(features), t, features)
    diff = np.where(w > 0, x - np.nan_to_num(t), 0.0)
    return np.sqrt((diff ** 2 * w).sum(axis=1) / w.sum())


_VALENCE_WORDS = ((0.2, "dark"), (0.4, "wistful"), (0.6, "bittersweet"), (0.8, "warm"), (1.01, "bright"))
_ENERGY_WORDS = ((0.25, "hushed"), (0.45, "gentle"), (0.65, "steady"), (0.8, "lively"), (1.01, "intense"))
_VERB = {"match": "matches", "lift": "lifts", "calm": "calms"}


def _word(x: float, table: tuple[tuple[float, str], ...]) -> str:
    return next(word for limit, word in table if x < limit)


CLOSE_FIT = 0.12   # distances below this "match"; below LOOSE_FIT "roughly match"; above, say it is loose
LOOSE_FIT = 0.25


def reason_for(valence: float, energy: float, mood: str, strategy: str, distance: float = 0.0) -> str:
    """One human line on how a track's valence/energy fits the target (and how well)."""
    verb = _VERB[strategy]
    if distance < CLOSE_FIT:
        fit = f"{verb} {mood}"
    elif distance < LOOSE_FIT:
        fit = f"roughly {verb} {mood}"
    else:
        fit = f"a loose fit for {mood} ({strategy}), the closest available"
    return (f"{_word(valence, _VALENCE_WORDS)} (valence {valence:.2f}) and {_word(energy, _ENERGY_WORDS)} "
            f"(energy {energy:.2f}) — {fit}")
