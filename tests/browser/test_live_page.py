"""The live page in a real Chromium: START → mood, evidence, music; the server processes both media."""

from __future__ import annotations

import re
import time

import pytest

from moodmusic.moods import MOODS

pytestmark = pytest.mark.browser

MOOD_TEXT = re.compile(r"Mood: (" + "|".join(MOODS) + r")\b")


def test_start_shows_mood_evidence_and_music(app_server, browser_page):
    page = browser_page
    page.goto(app_server, wait_until="domcontentloaded")
    page.get_by_text("moodmusic", exact=False).first.wait_for(timeout=60_000)
    start = page.frame_locator("iframe[title*='streamlit_webrtc']").get_by_role("button", name="START")
    start.click(timeout=60_000)

    page.get_by_text(MOOD_TEXT).first.wait_for(timeout=45_000)
    assert MOOD_TEXT.search(page.inner_text("body"))

    # The evidence bars are their own fragment (redrawn each second), so they can trail the badge.
    bars = page.locator(".mm-evidence")
    bars.nth(1).wait_for(timeout=10_000)
    assert bars.count() == 2
    face = page.locator(".mm-evidence[data-modality='face']")
    deadline = time.monotonic() + 10
    while face.inner_text().count("%") < 6 and time.monotonic() < deadline:
        page.wait_for_timeout(250)
    assert face.inner_text().count("%") >= 6

    embeds = page.locator("iframe[src*='open.spotify.com/embed/track/']")
    embeds.nth(4).wait_for(state="attached", timeout=30_000)
    srcs = [embeds.nth(i).get_attribute("src") for i in range(embeds.count())]
    assert len(srcs) >= 5 and all(re.fullmatch(r"https://open\.spotify\.com/embed/track/[A-Za-z0-9]{22}.*", s) for s in srcs)

    # The status says in plain words that the camera is on; the engineer's figures, in an expander
    # under it, report processed video and audio rates: both media reached the engine.
    page.get_by_text("📷 camera on").first.wait_for(timeout=10_000)
    page.get_by_text("Figures for engineers").first.click()
    status = page.get_by_text(re.compile(r"video \d+ fps processed")).first
    status.wait_for(timeout=10_000)

    def rates() -> tuple[int, int]:
        text = status.inner_text()
        video = int(re.search(r"video (\d+) fps processed", text).group(1))
        audio = int(re.search(r"audio (\d+) frames/s", text).group(1))
        return video, audio

    for _ in range(20):
        video, audio = rates()
        if video > 0 and audio > 0:
            break
        page.wait_for_timeout(500)
    assert video > 0 and audio > 0, status.inner_text()

    # The camera sends the picture the page asks for (MOODMUSIC_CAPTURE_SIZE, 480x360 by default, from a
    # 640x480 fake camera), and the preview the server sends back is that picture.
    preview = page.frame_locator("iframe[title*='streamlit_webrtc']").locator("video").first
    assert preview.evaluate("v => [v.videoWidth, v.videoHeight]") == [480, 360]

    # The voice evidence says the session is learning this speaker's voice (speaker adaptation).
    voice = page.locator(".mm-evidence[data-modality='voice']")
    deadline = time.monotonic() + 20
    while "tuned to your voice" not in voice.inner_text() and time.monotonic() < deadline:
        page.wait_for_timeout(500)
    assert re.search(r"tuned to your voice from \d+ s of speech", voice.inner_text()), voice.inner_text()
