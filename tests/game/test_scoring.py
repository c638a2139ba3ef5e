"""The scoring core: fair play (a face showing every mood earns nothing), stronger and quicker earn more."""

from __future__ import annotations

import numpy as np
import pytest

from moodmusic.game.scoring import RoundScorer, fair_margin, match_winner, round_winner
from moodmusic.moods import MOODS

HAPPY = MOODS.index("happy")


def _probs(happy: float, other: str = "neutral") -> list[float]:
    """`happy` for the target; the rest on `other`."""
    p = np.zeros(len(MOODS))
    p[HAPPY] = happy
    p[MOODS.index(other)] = 1.0 - happy
    return list(p)


def _play(readings, duration: float = 4.0, step: float = 0.1) -> int:
    """Points for a round of `duration` s read every `step` s; `readings(t)` gives the probabilities."""
    s = RoundScorer("happy", start=10.0, duration=duration)
    for i in range(int(duration / step)):
        s.add(10.0 + i * step, readings(i * step))
    return s.points()


def test_a_face_showing_every_mood_at_once_earns_nothing():
    assert _play(lambda t: [1 / 6] * 6) == 0
    # all moods high together (an answer that is not a distribution at all) still leads with nothing
    assert _play(lambda t: [0.9] * 6) == 0
    assert fair_margin([0.3, 0.0, 0.3, 0.4, 0.0, 0.0], "happy") == 0.0  # another mood leads: nothing


def test_the_lead_over_the_next_mood_is_what_counts():
    assert fair_margin(_probs(0.8), "happy") == pytest.approx(0.6)
    assert _play(lambda t: _probs(0.9)) > _play(lambda t: _probs(0.6)) > _play(lambda t: _probs(0.52)) > 0


def test_quicker_earns_more():
    quick = _play(lambda t: _probs(0.9) if t >= 0.5 else [1 / 6] * 6)
    slow = _play(lambda t: _probs(0.9) if t >= 2.5 else [1 / 6] * 6)
    assert quick > slow > 0
    # the speed bonus alone: the same time shown, earlier in the round, scores more
    early = _play(lambda t: _probs(0.9) if t < 1.0 else [1 / 6] * 6)
    late = _play(lambda t: _probs(0.9) if t >= 3.0 else [1 / 6] * 6)
    assert early > late


def test_a_perfect_round_scores_150_and_the_range_holds():
    assert _play(lambda t: _probs(1.0, "sad")) == 150


def test_time_without_a_face_earns_nothing():
    s = RoundScorer("happy", start=0.0, duration=4.0)
    s.add(0.0, _probs(1.0))  # one reading, then the face leaves the frame
    assert s.points() == int(round(100 * 0.25 / 4 + 50))  # held for max_gap (0.25 s), not the whole round


def test_readings_outside_the_round_are_ignored_and_points_grow_during_it():
    s = RoundScorer("happy", start=5.0, duration=2.0)
    s.add(4.9, _probs(1.0))
    s.add(7.0, _probs(1.0))
    assert s.readings == 0 and s.points() == 0
    for i in range(10):
        s.add(5.0 + i * 0.2, _probs(1.0))
    assert s.points(now=6.0) < s.points(now=7.0)


def test_bad_input_is_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="unknown mood 'joy'"):
        RoundScorer("joy", 0.0, 4.0)
    with pytest.raises(ValueError, match="6 probabilities"):
        fair_margin([0.5, 0.5], "happy")
    with pytest.raises(ValueError, match="more than 0 s"):
        RoundScorer("happy", 0.0, 0.0)


def test_winners():
    assert round_winner([40, 90]) == 1 and round_winner([50, 50]) is None
    assert match_winner([100, 300], rounds_won=[2, 1]) == 0  # rounds first
    assert match_winner([100, 300], rounds_won=[1, 1]) == 1  # then points
    assert match_winner([100, 100], rounds_won=[1, 1]) is None
