"""The mood game in a real Chromium: two real faces side by side on the fake camera, one happy round.

The fake camera plays one 640x480 frame with the astronaut (who reads happy) on
the left and Grace Hopper (who reads neutral) on the right. The game page is
opened with a short round and a known target from its address
(`?rounds=1&round_s=4&ready_s=2&targets=happy`); START opens the camera,
"Start the match" plays the round, and the page must show `Target: happy`,
both `Player 1: <points>` and `Player 2: <points>`, the happy-looking
Player 1 ahead, the winner, a replay button, and the result in the store.
"""

from __future__ import annotations

import re
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from moodmusic.bench.browser import CHROMIUM, chromium_args, write_speech_wav, write_y4m
from moodmusic.bench.page import NO_KEYS, free_port, start_app
from tests.game.faces import two_faces
from tests.live.conftest import wait_for

pytestmark = pytest.mark.browser

SCORE = re.compile(r"Player ([12]): (\d+)")


def _scores(page) -> dict[int, int]:
    return {int(p): int(n) for p, n in SCORE.findall(page.inner_text("body"))}


def test_two_faces_play_a_happy_round_and_the_happy_face_scores_more(tmp_path):
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is needed (scripts/setup.sh --dev installs it)")
    video = write_y4m(tmp_path / "two.y4m", two_faces(happy_left=True), seconds=2.0, fps=15)
    audio = write_speech_wav(tmp_path / "speech.wav")
    home, port, db = tmp_path / "home", free_port(), tmp_path / "history.sqlite3"
    home.mkdir()
    proc = start_app(home, port, {"MOODMUSIC_DB": str(db)}, drop=NO_KEYS)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=chromium_args(video, audio))
            try:
                page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                page.goto(f"http://127.0.0.1:{port}/Mood_game?rounds=1&round_s=4&ready_s=2&targets=happy",
                          wait_until="domcontentloaded")
                page.get_by_text("How to play.").first.wait_for(timeout=60_000)  # the rules, in one paragraph
                widget = page.frame_locator("iframe[title*='streamlit_webrtc']")
                widget.get_by_role("button", name="START").click(timeout=90_000)
                page.get_by_text("two faces in view: two players").first.wait_for(timeout=60_000)
                page.get_by_role("button", name="Start the match").click()
                page.get_by_text("Target: happy").first.wait_for(timeout=15_000)
                started = time.monotonic()
                assert wait_for(lambda: set(_scores(page)) == {1, 2}, 15), page.inner_text("body")
                page.get_by_text("Player 1 wins!").first.wait_for(timeout=30_000)
                print(f"winner shown {time.monotonic() - started:.1f} s after the match started (2 s ready + 4 s round)")
                scores = _scores(page)
                print("scores:", scores)
                assert scores[1] > 60 and scores[1] > 2 * scores[2], scores  # the astronaut looks happy; Hopper not
                assert page.get_by_role("button", name="Play again").count() == 1
                sid = (parse_qs(urlparse(page.evaluate("location.href")).query).get("sid") or [None])[0]
                assert sid
                with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
                    rows = conn.execute("SELECT players, p1, p2, winner FROM games WHERE session_id = ?",
                                        (sid,)).fetchall()
                assert rows == [(2, scores[1], scores[2], 1)], rows
                page.get_by_text("Leaderboard · this browser session").first.wait_for(timeout=10_000)
                page.get_by_role("button", name="Play again").click()  # a replay starts a new match
                page.get_by_text("Target: happy").first.wait_for(timeout=15_000)
            finally:
                browser.close()
    finally:
        proc.terminate()
        proc.wait(10)
