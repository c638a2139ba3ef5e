"""Temporal smoothing with hysteresis, so the shown mood follows the person, not the noise.

Probabilities are smoothed with an exponential moving average whose time
constant is in seconds (frame-rate independent). The displayed mood changes
only when another mood has led the smoothed distribution by a margin for a
minimum hold time; a brief flicker never reaches the page.

A face between two readings (a talking face that reads angry one second and
happy the next) would still trade the lead every few seconds. So the margin
grows after each change and relaxes again: right after a switch the next one
needs a lead of `margin + recoil x exp(-elapsed / settle)`. A decisive change
(a new expression, whose mood soon leads by far) still shows as fast as
before; a back-and-forth between two close moods does not.

>>> import numpy as np
>>> s = MoodSmoother(time_constant=0.5, hold=0.6, margin=0.1)
>>> happy = np.array([0, 0, 1, 0, 0, 0.]); sad = np.array([0, 0, 0, 0, 1, 0.])
>>> [s.update(happy, t / 10).mood for t in range(0, 20)][-1]
'happy'
>>> s.update(sad, 2.05).mood   # one sad frame does not flip it
'happy'
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from moodmusic.moods import MOODS


@dataclass(frozen=True)
class Smoothed:
    mood: str | None
    confidence: float
    probs: np.ndarray | None
    changed: bool  # the displayed mood changed on this update


class MoodSmoother:
    def __init__(self, time_constant: float = 0.6, hold: float = 0.5, margin: float = 0.08,
                 recoil: float = 0.0, settle: float = 6.0) -> None:
        self.time_constant = time_constant
        self.hold = hold
        self.margin = margin
        self.recoil = recoil  # extra margin right after a change, fading with `settle` seconds
        self.settle = settle
        self.reset()

    def reset(self) -> None:
        self._probs: np.ndarray | None = None
        self._t: float | None = None
        self._mood: str | None = None
        self._lost_since: float | None = None  # when the shown mood last stopped leading
        self._switched_at: float | None = None  # when the shown mood last changed from another one

    @property
    def probs(self) -> np.ndarray | None:
        return None if self._probs is None else self._probs.copy()

    def update(self, probs: np.ndarray, t: float) -> Smoothed:
        """Feed fused probabilities observed at time t (seconds, monotonic)."""
        p = np.asarray(probs, dtype=np.float64)
        if self._probs is None or self._t is None:
            self._probs = p.copy()
        else:
            dt = max(0.0, t - self._t)
            alpha = 1.0 - np.exp(-dt / self.time_constant) if self.time_constant > 0 else 1.0
            self._probs = (1 - alpha) * self._probs + alpha * p
        self._t = t
        leader = MOODS[int(np.argmax(self._probs))]
        changed = False
        if self._mood is None:
            self._mood, changed = leader, True
            self._lost_since = None
        elif leader != self._mood:
            # The hold counts from when the shown mood stopped leading, whichever mood leads
            # now: two close challengers trading the lead must not restart it.
            lead = self._probs[MOODS.index(leader)] - self._probs[MOODS.index(self._mood)]
            if self._lost_since is None:
                self._lost_since = t
            if lead >= self._margin_now(t) and t - self._lost_since >= self.hold:
                self._mood, changed = leader, True
                self._lost_since = None
                self._switched_at = t
        else:
            self._lost_since = None
        return Smoothed(self._mood, float(self._probs[MOODS.index(self._mood)]), self._probs.copy(), changed)

    def _margin_now(self, t: float) -> float:
        """The lead a change needs now: larger right after the last change, `margin` once settled."""
        if self._switched_at is None or self.recoil <= 0:
            return self.margin
        return self.margin + self.recoil * float(np.exp(-(t - self._switched_at) / max(self.settle, 1e-9)))
