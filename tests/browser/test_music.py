"""The live page's music in a real Chromium: soon after START, at once after a control, names as written,
Skip replaces, Like marks and is remembered after a reload.

A real `streamlit run app.py` with its own SQLite history (`MOODMUSIC_DB`), read
here straight from SQLite. Chromium's fake camera and microphone play MEAD
speaker M030 talking (sad, with its own speech) when the shared data is there,
else the sample face with espeak speech: a talking face flickers between moods,
which is what made music wait 5-46 s for an unbroken hold (issue 20).

The figures (first music after START, list change after a control click) are
printed; the asserts hold the bounds a person notices: first music within 8 s of
START (the issue's figure) and a new list within 3 s of a click (aimed at 1 s).
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
from tests.browser.conftest import open_page
from tests.live.conftest import wait_for

pytestmark = pytest.mark.browser

ENTITY = re.compile(r"&(#x?[0-9a-fA-F]+|amp|quot|lt|gt|apos);")
FIRST_MUSIC_S = 8.0  # issue 20: music within 8 s of START for a person who stays in one mood
CONTROL_S = 3.0  # aimed at 1 s; generous for a loaded 2-core box that also runs the browser


def track_ids(page) -> list[str]:
    """The ids of the tracks on the page's cards, in order (read in one go, so a redraw cannot split it)."""
    return page.evaluate("() => [...document.querySelectorAll('.mm-track')].map(e => e.dataset.trackId)")


def until_changed(page, before: list[str], timeout_s: float = 15.0) -> float:
    """Seconds until the list of tracks differs from `before` (polled every 25 ms); inf if it never does."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        ids = track_ids(page)
        if ids and ids != before:
            return time.monotonic() - start
        time.sleep(0.025)
    return float("inf")


def card_button(page, action: str, track_id: str, position: int):
    """A card's Like or Skip button, by its widget key (`live-<action>-<track id>-<position>`, see track_list).

    Its element container holds the button twice (one for the tooltip): the first is the one a person sees.
    """
    return page.locator(f".st-key-live-{action}-{track_id}-{position} button").first


def press(page, action: str, track_id: str, position: int) -> None:
    """Click a card's button once the page has settled (a run that redraws the list replaces its buttons)."""
    assert wait_for(lambda: len(track_ids(page)) == 8 and track_ids(page)[position] == track_id, 15), track_ids(page)
    card_button(page, action, track_id, position).click()


def feedback(db: Path) -> list[tuple[str, int]]:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
        return conn.execute("SELECT track_id, liked FROM feedback ORDER BY id").fetchall()


def test_music_comes_soon_answers_controls_and_remembers_likes(tmp_path, talking_media):
    from playwright.sync_api import sync_playwright

    home, port, db = tmp_path / "home", free_port(), tmp_path / "history.sqlite3"
    home.mkdir()
    proc = start_app(home, port, {"MOODMUSIC_DB": str(db)}, drop=NO_KEYS)
    base = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=chromium_args(*talking_media))
            try:
                page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                page.goto(base, wait_until="domcontentloaded")
                widget = page.frame_locator("iframe[title*='streamlit_webrtc']")
                start = widget.get_by_role("button", name="START")
                start.wait_for(timeout=90_000)
                start.click()
                started = time.monotonic()
                page.locator(".mm-track").first.wait_for(timeout=60_000)
                first_music = time.monotonic() - started
                page.get_by_text(MOOD_TEXT).first.wait_for(timeout=10_000)
                heading = page.get_by_text(re.compile(r"Music for \w+ · match my mood")).first
                heading.wait_for(timeout=10_000)
                caption = page.get_by_text(re.compile(r"your main mood over the last 10 s")).first
                caption.wait_for(timeout=10_000)

                # Names as written: no HTML codes on the cards; each card says genre and year
                titles = page.locator(".mm-track-title").all_inner_texts()
                artists = page.locator(".mm-track-artist").all_inner_texts()
                metas = page.locator(".mm-track-meta").all_inner_texts()
                assert len(titles) == 8 and not [t for t in titles + artists if ENTITY.search(t)], titles + artists
                assert all(re.match(r"^.+ · (\d{4}s?|year unknown)", m) for m in metas), metas

                # A control: "Lift me up" gives a new list within a second or so, from the click
                before = track_ids(page)
                page.locator("[data-testid='stSidebar']").get_by_text("Lift me up").click()
                clicked = time.monotonic()
                lift_s = until_changed(page, before)
                after_click = time.monotonic() - clicked
                page.get_by_text(re.compile(r"Music for \w+ · lift me up")).first.wait_for(timeout=10_000)

                # A genre: the list follows it, and each card shows it
                before = track_ids(page)
                sidebar = page.locator("[data-testid='stSidebar']")
                sidebar.locator("[data-testid='stSelectbox']").first.click()
                page.get_by_role("option", name="Jazz", exact=True).click()
                genre_s = until_changed(page, before)
                metas = page.locator(".mm-track-meta").all_inner_texts()
                print(f"first music {first_music:.1f} s after START; 'Lift me up' → new list {lift_s:.2f} s "
                      f"(click to change seen {after_click:.2f} s); genre Jazz → new list {genre_s:.2f} s")
                assert first_music < FIRST_MUSIC_S
                assert lift_s < CONTROL_S and genre_s < CONTROL_S
                assert metas and metas[0].startswith("Jazz · "), metas

                # Skip replaces that track in place; the others stay
                assert wait_for(lambda: len(track_ids(page)) == 8, 15)
                ids = track_ids(page)
                skipped = ids[0]
                press(page, "skip", skipped, 0)
                assert wait_for(lambda: track_ids(page)[:1] not in ([skipped], []), 10), track_ids(page)
                now = track_ids(page)
                assert skipped not in now and now[1:] == ids[1:], (ids, now)

                # Like marks the track visibly and keeps it
                liked = now[1]
                name = page.locator(f".mm-track[data-track-id='{liked}'] .mm-track-title").inner_text()
                press(page, "like", liked, 1)
                page.locator(f".mm-track[data-track-id='{liked}'][data-liked='true']").wait_for(timeout=10_000)
                button = card_button(page, "like", liked, 1)
                assert button.inner_text().strip() == "✓ Liked" and button.is_disabled()
                assert track_ids(page)[1] == liked
                assert wait_for(lambda: (liked, 1) in feedback(db) and (skipped, 0) in feedback(db), 10), feedback(db)

                # After a reload (a new Streamlit session) the like is still there: History lists it
                page.reload(wait_until="domcontentloaded")
                open_page(page, "History", "Tracks you liked")
                listed = page.locator(f".mm-liked-track[data-track-id='{liked}']")
                try:
                    listed.wait_for(timeout=30_000)
                except Exception:
                    raise AssertionError(f"{liked} not listed: {page.inner_text('body')[:3000]}") from None
                text = listed.inner_text()
                assert name.replace("♥ Liked", "").strip() in text and not ENTITY.search(text), text
            finally:
                browser.close()
    finally:
        proc.terminate()
        proc.wait(10)
