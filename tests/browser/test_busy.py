"""A server streaming as many live sessions as it takes (MOODMUSIC_MAX_LIVE_SESSIONS) asks the next visitor
to try again, in a real Chromium against a real server; the place frees when the streaming visitor stops."""

from __future__ import annotations

import pytest

from moodmusic.bench.page import MOOD_TEXT, NO_KEYS, free_port, start_app

pytestmark = pytest.mark.browser

BUSY = "This server is busy"


@pytest.fixture
def one_place_server(tmp_path):
    port = free_port()
    server = start_app(tmp_path, port, {"MOODMUSIC_MAX_LIVE_SESSIONS": "1"}, drop=NO_KEYS)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)


def test_the_second_visitor_waits_for_the_first_to_stop(one_place_server, chromium):
    first, second = (chromium.new_context(viewport={"width": 1400, "height": 1000}).new_page() for _ in range(2))
    first.goto(one_place_server, wait_until="domcontentloaded")
    widget = first.frame_locator("iframe[title*='streamlit_webrtc']")
    widget.get_by_role("button", name="START").click(timeout=60_000)
    first.get_by_text(MOOD_TEXT).first.wait_for(timeout=45_000)

    second.goto(one_place_server, wait_until="domcontentloaded")
    second.get_by_text(BUSY).first.wait_for(timeout=60_000)
    assert "already streaming 1 live sessions" in second.inner_text("body")
    assert second.locator("iframe[title*='streamlit_webrtc']").count() == 0  # no START to press

    widget.get_by_role("button", name="STOP").click(timeout=10_000)
    first.wait_for_timeout(3500)  # a session with no media for 3 s has stopped and frees its place
    second.get_by_role("button", name="Try again").click()
    second.frame_locator("iframe[title*='streamlit_webrtc']").get_by_role("button", name="START").wait_for(
        timeout=30_000)
    assert BUSY not in second.inner_text("body")
