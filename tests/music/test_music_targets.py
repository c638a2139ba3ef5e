"""Moods become points on the valence–energy plane; strategies move them."""

from __future__ import annotations

import numpy as np
import pytest

from moodmusic.moods import MOODS
from moodmusic.music.targets import STRATEGIES, distances, reason_for, target_for


def test_each_mood_sits_in_its_circumplex_quadrant():
    quadrant = {m: (target_for(m).valence > 0.5, target_for(m).energy > 0.5) for m in MOODS}
    assert quadrant["happy"] == (True, True)
    assert quadrant["surprise"] == (True, True)
    assert quadrant["angry"] == (False, True)
    assert quadrant["fear"] == (False, True)
    assert quadrant["sad"] == (False, False)
    n = target_for("neutral")
    assert (n.valence, n.energy) == (0.5, 0.5)


@pytest.mark.parametrize("mood", MOODS)
def test_lift_is_brighter_and_calm_is_quieter_than_match(mood):
    match, lift, calm = (target_for(mood, s) for s in STRATEGIES)
    assert lift.valence >= max(match.valence, 0.78)
    assert calm.energy < min(match.energy, 0.3)


def test_lift_does_not_throw_a_sad_listener_into_a_party():
    assert target_for("sad", "lift").energy < 0.5


def test_distance_is_zero_on_target_and_grows_away_from_it():
    t = target_for("happy")
    on = t.vector().copy()
    on[np.isnan(on)] = 0.5
    off = on.copy()
    off[:2] = [0.1, 0.2]
    d = distances(np.stack([on, off]), t)
    assert d[0] == pytest.approx(0.0) and d[1] > 0.5


def test_unknown_secondary_features_are_neither_penalised_nor_credited():
    t = target_for("sad")  # has acousticness and tempo cues
    row = np.array([[t.valence, t.energy, np.nan, np.nan, np.nan]])
    assert distances(row, t)[0] == pytest.approx(0.0)


def test_the_reason_reads_like_a_person_wrote_it():
    assert reason_for(0.82, 0.74, "happy", "match") == "bright (valence 0.82) and lively (energy 0.74) — matches happy"
    assert reason_for(0.79, 0.44, "sad", "lift").endswith("— lifts sad")
    assert reason_for(0.4, 0.15, "angry", "calm", distance=0.18).endswith("— roughly calms angry")
    assert "loose fit" in reason_for(0.4, 0.3, "happy", "match", distance=0.4)


def test_bad_moods_and_strategies_name_the_choices():
    with pytest.raises(ValueError, match="angry, fear, happy, neutral, sad, surprise"):
        target_for("grumpy")
    with pytest.raises(ValueError, match="match, lift, calm"):
        target_for("happy", "shuffle")
