"""Which mood the music follows: the session's dominant mood, not the mood of this instant.

The live badge shows the mood of the last quarter second; music that chased
it would change on every blink, and music that waited for it to hold
unbroken came 5-46 s late on real talking faces (a talking face flickers
between moods every 2-3 s). So the music follows the mood with the most
weight over the last `window_s` seconds of the engine's timeline (one point
per 0.5 s: time, mood, confidence; each point weighs its confidence):

* the **first** music comes as soon as `MIN_EVIDENCE_S` seconds of readings
  exist: the mood with the most weight so far (a plurality);
* after that it **changes** only when another mood holds more than
  `SWITCH_SHARE` of the window's weight: a real change of mood takes about
  half the window to win, a blink never does;
* no readings in the window (no face, no speech, STOP): the music stays.

Pure functions of the timeline, so the rule is tested without a page.

>>> tl = [(t * 0.5, "sad", 0.8) for t in range(8)]
>>> dominant_mood(tl, now=4.0).mood
'sad'
>>> music_mood(None, tl, now=4.0)
'sad'
>>> music_mood("sad", tl + [(4.0, "happy", 0.9)], now=4.5)  # a blink changes nothing
'sad'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WINDOW_S = 10.0          # the default span the music follows (MOODMUSIC_MUSIC_WINDOW_SECONDS)
MIN_EVIDENCE_S = 2.0     # seconds of readings before the first music
SWITCH_SHARE = 0.5       # a new mood needs more than this share of the window's weight to change the music
TIMELINE_STEP_S = 0.5    # the engine's spacing of timeline points (EngineConfig.timeline_step)

Point = tuple[float, str, float]  # (time, mood, confidence), as in Snapshot.timeline


@dataclass(frozen=True)
class Dominant:
    """The mood with the most weight in the window, its share of the weight and the seconds of readings."""

    mood: str
    share: float
    seconds: float
    shares: dict[str, float]


def dominant_mood(timeline: Sequence[Point], now: float, window_s: float = WINDOW_S,
                  step_s: float = TIMELINE_STEP_S) -> Dominant | None:
    """The mood with the most confidence-weighted readings in (now - window_s, now]; None without readings.

    Ties go to the mood read most recently, so a fresh tie follows the person.
    """
    weight: dict[str, float] = {}
    latest: dict[str, float] = {}
    n = 0
    for t, mood, conf in timeline:
        if now - window_s < t <= now + 1e-9:
            weight[mood] = weight.get(mood, 0.0) + max(float(conf), 1e-3)
            latest[mood] = max(latest.get(mood, t), t)
            n += 1
    total = sum(weight.values())
    if not n or total <= 0:
        return None
    best = max(weight, key=lambda m: (weight[m], latest[m]))
    shares = {m: w / total for m, w in weight.items()}
    return Dominant(best, shares[best], min(n * step_s, window_s), shares)


def music_mood(previous: str | None, timeline: Sequence[Point], now: float, window_s: float = WINDOW_S,
               step_s: float = TIMELINE_STEP_S) -> str | None:
    """The mood the music should be for now, given the mood it is for (`previous`, None before the first).

    First music: the dominant mood once `MIN_EVIDENCE_S` s of readings exist.
    Then: the same mood, unless another holds more than `SWITCH_SHARE` of the window.
    """
    d = dominant_mood(timeline, now, window_s, step_s)
    if d is None or d.seconds < min(MIN_EVIDENCE_S, window_s) - 1e-9:
        return previous
    if previous is None or d.mood == previous:
        return d.mood
    return d.mood if d.share > SWITCH_SHARE else previous


def music_heading(mood: str, strategy_label: str, window_s: float, now: Dominant | None = None,
                  current: str | None = None) -> tuple[str, str]:
    """The heading over the music and its one-line caption; they never contradict the mood badge.

    The heading names the mood the music is for and says it is the mood of the
    last `window_s` s, not of this instant. When the badge (`current`) or the
    window (`now`) shows another mood, the caption says so and what would
    change the music, so "Music for sad" never sits unexplained under "Mood: happy".

    >>> music_heading("sad", "Match my mood", 10)[0]
    'Music for sad · match my mood'
    >>> music_heading("sad", "Match my mood", 10, current="happy")[1]
    'Chosen for sad, your main mood over the last 10 s. You look happy right now: the music changes if happy holds most of the last 10 s.'
    """
    head = f"Music for {mood} · {strategy_label.lower()}"
    basis = f"Chosen for {mood}, your main mood over the last {window_s:.0f} s."
    other = current if current is not None and current != mood else (
        now.mood if now is not None and now.mood != mood else None)
    if other is None:
        return head, basis
    seen = f"You look {other} right now" if other == current else f"Lately you have looked mostly {other}"
    return head, f"{basis} {seen}: the music changes if {other} holds most of the last {window_s:.0f} s."
