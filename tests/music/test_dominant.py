"""The rule the live page's music follows: the dominant mood of the last seconds, and the heading that says so."""

from __future__ import annotations

import pytest

from moodmusic.music.dominant import MIN_EVIDENCE_S, SWITCH_SHARE, dominant_mood, music_heading, music_mood

STEP = 0.5  # the engine writes a timeline point every 0.5 s


def run(moods: str, t0: float = 100.0, conf: float = 0.8) -> list[tuple[float, str, float]]:
    """A timeline from a string of moods, one letter per 0.5 s: h=happy, s=sad, a=angry, u=surprise, n=neutral."""
    names = {"h": "happy", "s": "sad", "a": "angry", "u": "surprise", "n": "neutral"}
    return [(t0 + i * STEP, names[c], conf) for i, c in enumerate(moods)]


def follow(timeline, window_s: float = 10.0) -> list[str | None]:
    """The music's mood after each point, as the page would see it once a second or at every point."""
    mood, out = None, []
    for i, (t, _, _) in enumerate(timeline):
        mood = music_mood(mood, timeline[: i + 1], now=t, window_s=window_s)
        out.append(mood)
    return out


def test_no_readings_no_dominant_mood():
    assert dominant_mood([], now=5.0) is None
    assert music_mood(None, [], now=5.0) is None
    assert music_mood("sad", [], now=5.0) == "sad"  # the input stopped: the music stays


def test_first_music_comes_after_two_seconds_of_one_mood_not_after_an_unbroken_hold():
    tl = run("s" * 20)
    moods = follow(tl)
    first = next(i for i, m in enumerate(moods) if m is not None)
    assert first * STEP + STEP == pytest.approx(MIN_EVIDENCE_S)  # 4 points = 2 s of readings
    assert set(moods[first:]) == {"sad"}


def test_a_talking_face_that_flickers_still_gets_music_at_once_for_its_main_mood():
    """Sad with blinks of surprise every 2-3 s (an open mouth mid-word): music for sad, and it stays sad."""
    tl = run("ssssuusssssuussssssuusssssuu" * 2)
    moods = follow(tl)
    assert moods[3] is not None and moods[3] == "sad"
    assert set(moods[3:]) == {"sad"}


def test_a_blink_never_changes_the_music():
    tl = run("h" * 20 + "a" * 3 + "h" * 10)
    assert set(follow(tl)[3:]) == {"happy"}


def test_a_real_change_changes_the_music_once_it_holds_most_of_the_window():
    tl = run("h" * 20 + "s" * 30)
    moods = follow(tl, window_s=10.0)
    change = moods.index("sad")
    # sad needs more than half of the 10 s window (20 points): its 11th point
    assert change == 20 + int(20 * SWITCH_SHARE)
    assert set(moods[change:]) == {"sad"} and set(moods[3:change]) == {"happy"}


def test_old_readings_leave_the_window():
    tl = run("h" * 10) + run("s" * 6, t0=100.0 + 60)
    d = dominant_mood(tl, now=tl[-1][0], window_s=10.0)
    assert d.mood == "sad" and d.share == 1.0 and d.seconds == pytest.approx(3.0)


def test_confident_readings_weigh_more():
    tl = run("hhhh", conf=0.3) + run("sss", t0=102.0, conf=0.9)
    d = dominant_mood(tl, now=tl[-1][0])
    assert d.mood == "sad" and d.shares["happy"] < d.shares["sad"]


@pytest.mark.parametrize("current", [None, "sad", "happy", "angry"])
def test_the_heading_never_contradicts_the_badge(current):
    """It names the music's mood, says it is the last N s's, and explains any other mood the badge shows."""
    head, caption = music_heading("sad", "Match my mood", 10, current=current)
    assert head == "Music for sad · match my mood"
    assert "your main mood over the last 10 s" in caption
    if current not in (None, "sad"):
        assert f"You look {current} right now" in caption
        assert f"the music changes if {current} holds most of the last 10 s" in caption
    else:
        assert "right now" not in caption


def test_the_heading_says_when_the_window_has_moved_on_but_the_music_has_not_yet():
    """Music for sad; the last 10 s are mostly happy, but not yet more than half: the caption says so."""
    tl = run("s" * 11 + "h" * 9)
    d = dominant_mood(tl, now=tl[-1][0])
    assert music_mood("sad", tl, tl[-1][0]) == "sad"
    _, caption = music_heading("sad", "Lift me up", 10, now=dominant_mood(tl[1:], now=tl[-1][0], window_s=4.5))
    assert d.mood == "sad" and "Lately you have looked mostly happy" in caption
