"""The game page's script without a browser: AppTest with the WebRTC widget behind its seam.

The seam hands the page's engine real frames (the astronaut and Grace Hopper side
by side) the way the WebRTC callback would; the page must say what it sees, play a
one-second happy round, name Player 1 the winner and keep the result in the store.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from moodmusic.ui import resources, streamer
from tests.game.faces import two_faces

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "4_Mood_game.py")


@pytest.fixture
def page(monkeypatch, tmp_path):
    monkeypatch.setenv("MOODMUSIC_HOME", str(tmp_path))
    monkeypatch.delenv("MOODMUSIC_DB", raising=False)
    resources.store.clear()
    engines = []
    frame = two_faces()

    def render(get_session, key="moodmusic-live", **kw):
        engine = get_session()
        engines.append((engine, key))
        for _ in range(3):
            engine.read_video(frame)
            time.sleep(0.11)  # the engine reads faces at most every 0.1 s
        return True

    monkeypatch.setattr(streamer, "render", render)
    yield AppTest.from_file(PAGE, default_timeout=120), engines, frame
    resources.store.clear()


def _text(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_a_round_on_two_real_faces_names_the_happy_player_and_is_kept(page):
    at, engines, frame = page
    at.query_params.update({"rounds": "1", "round_s": "1", "ready_s": "0", "targets": "happy"})
    at.run()
    assert not at.exception, at.exception
    assert "**How to play.**" in _text(at) and "earns nothing" in _text(at)
    engine, key = engines[-1]
    assert key == "moodmusic-game" and engine is at.session_state["game"]
    assert "two faces in view: two players" in _text(at)
    assert "### Player 1: 0" in _text(at) and "### Player 2: 0" in _text(at)

    at.button(key="game-start-0").click().run()
    assert engine.snapshot().phase == "round" and engine.snapshot().players == 2
    end = time.monotonic() + 1.2
    while time.monotonic() < end:  # the video thread's part: frames through the engine during the round
        engine.read_video(frame)
        time.sleep(0.05)
    at.run()
    text = _text(at)
    assert "Match over after 1 round" in text, text
    assert [s.value for s in at.success] == ["Player 1 wins!"]  # the 🏆 is the box's icon
    snap = engine.snapshot()
    assert snap.totals[0] > snap.totals[1]
    games = resources.store().games(session_id=at.session_state["session_id"])
    assert [(g.points, g.winner) for g in games] == [(snap.totals, 1)]
    at.run()  # a later run stores nothing twice
    assert len(resources.store().games()) == 1
    assert at.button(key="game-start-1").label == "Play again"


def test_a_wrong_setting_in_the_address_is_named_and_the_defaults_used(page):
    at, _, _ = page
    at.query_params["targets"] = "joy"
    at.run()
    assert not at.exception, at.exception
    assert [w.value for w in at.warning] == [
        "The game's settings in the address were not used: unknown target mood 'joy'; choose from: "
        "angry, fear, happy, neutral, sad, surprise"]
