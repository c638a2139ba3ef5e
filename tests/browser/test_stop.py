"""STOP in a real Chromium: no input, no mood. The page shows at most "Last mood: … (N s ago)" and stores nothing.

The server is a real `streamlit run app.py` on loopback with its own history
database (`MOODMUSIC_DB`), read here straight from SQLite. Chromium's fake
camera and microphone play a real talking clip: MEAD speaker M030 talking
(sad, with its own speech) when the shared data is there, else the sample face
with espeak speech. The page must show a current mood while they play; after
STOP, the last evidence may stand for at most the engine's `signal_timeout`
(frames can be late), then the badge says "Last mood: …" only, for as long as
it is watched, and no reading is written.
"""

from __future__ import annotations

import re
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest

from moodmusic.bench.browser import CHROMIUM, chromium_args
from moodmusic.bench.page import MOOD_TEXT, NO_KEYS, free_port, start_app
from moodmusic.live.session import EngineConfig
from tests.live.conftest import wait_for

pytestmark = pytest.mark.browser

LAST_MOOD = re.compile(r"Last mood: \w+ \(\d+ s ago\)")
WATCH_S = 8.0  # how long the stopped page is watched (the voice worker stays 20 s: the old phantom lived on it)
PAGE_SLACK_S = 1.5  # the badge refreshes every 0.25 s and the store's writer every 1 s, on a busy box


def readings(db: Path) -> list[tuple[float, str]]:
    """Every stored reading (epoch seconds, mood), read from the app's SQLite file, not through the app."""
    if not db.exists():
        return []
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
        try:
            return conn.execute("SELECT ts, mood FROM readings ORDER BY ts").fetchall()
        except sqlite3.OperationalError as exc:  # the app is still creating its tables
            if "no such table" in str(exc):
                return []
            raise


def test_after_stop_the_page_shows_no_current_mood_and_stores_nothing(tmp_path, talking_media):
    from playwright.sync_api import sync_playwright

    home, port, db = tmp_path / "home", free_port(), tmp_path / "history.sqlite3"
    home.mkdir()
    proc = start_app(home, port, {"MOODMUSIC_DB": str(db)}, drop=NO_KEYS)
    timeout = EngineConfig().signal_timeout
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=chromium_args(*talking_media))
            try:
                page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                page.goto(f"http://127.0.0.1:{port}", wait_until="domcontentloaded")
                widget = page.frame_locator("iframe[title*='streamlit_webrtc']")
                widget.get_by_role("button", name="START").click(timeout=90_000)
                page.get_by_text(MOOD_TEXT).first.wait_for(timeout=60_000)
                assert wait_for(lambda: len(readings(db)) >= 2, 15), readings(db)  # streaming: readings are kept

                widget.get_by_role("button", name="STOP").click()
                stopped = time.time()
                page.get_by_text(LAST_MOOD).first.wait_for(timeout=(timeout + 10) * 1000)
                gone = time.time()
                assert page.get_by_text(MOOD_TEXT).count() == 0, page.inner_text("body")
                after_stop = len(readings(db))
                badges = []
                end = time.monotonic() + WATCH_S
                while time.monotonic() < end:  # as long as it is watched: never a current mood again
                    assert page.get_by_text(MOOD_TEXT).count() == 0, page.inner_text("body")
                    badges.append(page.get_by_text(LAST_MOOD).first.inner_text())
                    time.sleep(0.5)
                stored = readings(db)
                print(f"STOP → 'Last mood' shown after {gone - stopped:.1f} s; readings {after_stop} at that moment, "
                      f"{len(stored)} after {WATCH_S:.0f} s more; badge: {badges[-1]!r}")
                assert len(stored) == after_stop, stored[after_stop:]  # nothing is stored once the mood is gone
                late = [ts for ts, _ in stored if ts > stopped + timeout + PAGE_SLACK_S]
                assert not late, (stopped, late)  # nor from the moment the input stopped, past signal_timeout
                ago = [int(re.search(r"\((\d+) s ago\)", b).group(1)) for b in badges]
                assert ago[-1] > ago[0], badges  # "N s ago" counts up: the page is live, and the mood is old
            finally:
                browser.close()
    finally:
        proc.terminate()
        proc.wait(10)
