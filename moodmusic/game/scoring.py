"""How a round is scored: how strongly and how quickly a face shows the target mood, fairly.

Fair play: what counts at each instant is the target's lead over the next
most likely mood, `max(0, p_target - max_other)`. A face that shows every
mood at once (a uniform answer) leads with nothing and earns nothing; a face
that shows the target plainly earns up to 1 per second. A round's points are

    100 x (the lead integrated over the round) / (round length)
  + 50 x (1 - (when the lead first reached HIT) / (round length))

so a face that holds the target for the whole round earns up to 100, and one
that gets there at once earns up to 50 more. Time without a reading (no face
in view) earns nothing: each reading covers at most `max_gap` seconds.

>>> s = RoundScorer("happy", start=0.0, duration=4.0)
>>> for i in range(16):  # 4 readings a second, happy leading neutral by 0.8 from the start
...     s.add(i / 4, [0.0, 0.0, 0.9, 0.1, 0.0, 0.0])
>>> s.points()  # 100 x 0.8 for strength, the full 50 for speed
130
>>> uniform = RoundScorer("happy", start=0.0, duration=4.0)
>>> for i in range(16):
...     uniform.add(i / 4, [1 / 6] * 6)
>>> uniform.points()
0
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from moodmusic.moods import MOOD_INDEX, MOODS

HIT = 0.3  # a lead this large counts as "showing it" for the speed bonus
STRENGTH_POINTS = 100.0
SPEED_POINTS = 50.0


def fair_margin(probs: Sequence[float], target: str) -> float:
    """The target's lead over the strongest other mood, never below 0."""
    if target not in MOOD_INDEX:
        raise ValueError(f"unknown mood {target!r}; choose one of: {', '.join(MOODS)}")
    p = np.asarray(probs, dtype=float)
    if p.shape != (len(MOODS),):
        raise ValueError(f"expected {len(MOODS)} probabilities, got shape {p.shape}")
    i = MOOD_INDEX[target]
    return max(0.0, float(p[i] - np.delete(p, i).max()))


class RoundScorer:
    """One player's round: readings in (time, probabilities), points out. Pure: times are the caller's."""

    def __init__(self, target: str, start: float, duration: float, max_gap: float = 0.25) -> None:
        if duration <= 0:
            raise ValueError(f"a round must last more than 0 s, got {duration}")
        fair_margin([0.0] * len(MOODS), target)  # checks the target
        self.target, self.start, self.duration, self.max_gap = target, float(start), float(duration), float(max_gap)
        self._last: tuple[float, float] | None = None  # (time, margin) of the latest reading
        self._area = 0.0  # lead x seconds, readings held for at most max_gap
        self.first_hit: float | None = None  # seconds into the round the lead first reached HIT
        self.readings = 0

    @property
    def end(self) -> float:
        return self.start + self.duration

    def _close(self, until: float) -> None:
        if self._last is not None:
            t, m = self._last
            self._area += m * max(0.0, min(until, t + self.max_gap, self.end) - t)

    def add(self, t: float, probs: Sequence[float]) -> None:
        """A reading at time `t`; readings outside the round are ignored."""
        if not self.start <= t < self.end:
            return
        m = fair_margin(probs, self.target)
        self._close(t)
        self._last = (t, m)
        self.readings += 1
        if self.first_hit is None and m >= HIT:
            self.first_hit = t - self.start

    def points(self, now: float | None = None) -> int:
        """Points so far (at `now`, default the round's end): strength plus the speed bonus."""
        now = self.end if now is None else min(float(now), self.end)
        area = self._area
        if self._last is not None:
            t, m = self._last
            area += m * max(0.0, min(now, t + self.max_gap) - t)
        strength = STRENGTH_POINTS * area / self.duration
        speed = 0.0 if self.first_hit is None else SPEED_POINTS * (1.0 - self.first_hit / self.duration)
        return int(round(strength + speed))


def match_winner(totals: Sequence[int], rounds_won: Sequence[int]) -> int | None:
    """The winning player's index (0-based): most rounds won, then most points; None for a draw."""
    if len(totals) != len(rounds_won) or not totals:
        raise ValueError("one total and one round count per player")
    keys = [(w, p) for w, p in zip(rounds_won, totals)]
    best = max(keys)
    return None if keys.count(best) > 1 else keys.index(best)


def round_winner(points: Sequence[int]) -> int | None:
    """The round's winner (0-based) by points; None for a tie."""
    best = max(points)
    return None if list(points).count(best) > 1 else list(points).index(best)
