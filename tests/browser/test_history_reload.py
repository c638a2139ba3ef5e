"""History in a real Chromium: "this browser session" still lists the session's readings after a reload.

A real `streamlit run app.py` with its own SQLite history; Chromium's fake
camera and microphone play the sample face and speech. The live page writes
readings under the browser session's id, the History page (reached by its
sidebar link, as a person does) shows them for "This browser session only",
and after a reload, which starts a new Streamlit session, the same choice
still lists the same readings, because the id is kept in the address.
Another session's readings sit in the same database and must not be counted.
"""

from __future__ import annotations

import re
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from moodmusic.bench.browser import CHROMIUM, chromium_args
from moodmusic.bench.page import MOOD_TEXT, NO_KEYS, free_port, start_app
from moodmusic.store import Store
from tests.browser.conftest import open_page
from tests.live.conftest import wait_for

pytestmark = pytest.mark.browser

READINGS = re.compile(r"Moods over time · (\d+) readings?")
THIS_SESSION = "This browser session only"


def _count(db: Path, session_id: str) -> int:
    """The session's readings, read from the app's SQLite file, not through the app."""
    if not db.exists():
        return 0
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
        try:
            return conn.execute("SELECT COUNT(*) FROM readings WHERE session_id = ?", (session_id,)).fetchone()[0]
        except sqlite3.OperationalError as exc:  # the app is still creating its tables
            if "no such table" in str(exc):
                return 0
            raise


def _sid(page) -> str | None:
    """The `sid` in the address bar (Streamlit sets it with history.replaceState, which `page.url` misses)."""
    return (parse_qs(urlparse(page.evaluate("location.href")).query).get("sid") or [None])[0]


def _shown(page, timeout_s: float = 30.0) -> int:
    """The number in "Moods over time · N readings" once the page shows it."""
    heading = page.get_by_text(READINGS).first
    heading.wait_for(timeout=timeout_s * 1000)
    return int(READINGS.search(heading.inner_text()).group(1))


def _this_session(page) -> int:
    page.get_by_text(THIS_SESSION).first.click()
    page.get_by_text("Stored for this browser session").first.wait_for(timeout=30_000)
    return _shown(page)


def test_this_session_still_lists_its_readings_after_a_reload(tmp_path, media_files):
    from playwright.sync_api import sync_playwright

    home, port, db = tmp_path / "home", free_port(), tmp_path / "history.sqlite3"
    home.mkdir()
    proc = start_app(home, port, {"MOODMUSIC_DB": str(db)}, drop=NO_KEYS)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=chromium_args(*media_files))
            try:
                page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                page.goto(f"http://127.0.0.1:{port}", wait_until="domcontentloaded")
                assert wait_for(lambda: _sid(page) is not None, 60), page.evaluate("location.href")  # the live page puts it there
                sid = _sid(page)
                widget = page.frame_locator("iframe[title*='streamlit_webrtc']")
                widget.get_by_role("button", name="START").click(timeout=90_000)
                page.get_by_text(MOOD_TEXT).first.wait_for(timeout=60_000)
                assert wait_for(lambda: _count(db, sid) >= 3, 30), _count(db, sid)
                widget.get_by_role("button", name="STOP").click()
                time.sleep(3)  # the engine's last opinion ages out; no reading is written after it
                mine = _count(db, sid)
                with Store(db) as other:  # someone else's session on the same computer
                    for i in range(5):
                        other.add_reading("another-browser-session", "sad", 0.7, ts=time.time() - 60 + 2 * i)

                open_page(page, "History", "Whose history")
                assert _shown(page) == mine + 5  # all sessions
                assert _this_session(page) == mine
                assert wait_for(lambda: _sid(page) == sid, 10), page.evaluate("location.href")  # the History page's address has it

                page.reload(wait_until="domcontentloaded")  # a new Streamlit session: session_state is gone
                page.get_by_text("Whose history").first.wait_for(timeout=30_000)
                assert _sid(page) == sid
                assert _this_session(page) == mine, page.inner_text("body")
                assert page.get_by_text(f"Stored for this browser session: {mine} mood readings").count() == 1
                print(f"session {sid[:8]}: {mine} readings before and after the reload (5 of another session)")
            finally:
                browser.close()
    finally:
        proc.terminate()
        proc.wait(10)
