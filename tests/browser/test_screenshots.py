"""The README's screenshots, taken in a real Chromium, and the first screen they show.

At 1400x1000 the video, the `Mood: …`, its evidence and the first track's
player are on the first screen, and the mood stays in view while the music is
scrolled; at 390 px (a phone) nothing scrolls sideways and the same parts are
there, one under the other. The Analyse page is shot after analysing the
astronaut photo. `python -m moodmusic.bench.screenshots` writes the same
pictures into docs/screenshots/; here they go to a temporary folder, and each
must come out small enough to commit.
"""

from __future__ import annotations

import io

import numpy as np
import pytest

from moodmusic.bench import screenshots

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def screens(app_server, media_files, tmp_path_factory):
    """The three screens, taken once for this module's tests (one Chromium, as in conftest's `chromium`)."""
    from playwright.sync_api import sync_playwright

    from moodmusic.bench.browser import CHROMIUM, chromium_args

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=chromium_args(*media_files),
                                    env=screenshots.colour_emoji_env(tmp_path_factory.mktemp("fonts")))
        try:
            return screenshots.take_all(browser, app_server)
        finally:
            browser.close()


def test_desktop_first_screen_shows_video_mood_evidence_and_music(screens):
    s = screens["live-desktop"]
    height = s.viewport["height"]
    for part in ("video", "mood", "evidence", "track"):
        box = s.boxes[part]
        assert box is not None, (part, s.boxes)
        assert 0 <= box[1] and s.bottom(part) <= height, (part, s.boxes)
    # Browsing the music scrolls the page, but the mood stays on the screen.
    after = s.boxes["mood after scrolling"]
    assert after is not None and 0 <= after[1] and after[1] + after[3] <= height, s.boxes
    assert s.scroll_width <= s.viewport["width"], s.scroll_width


def test_phone_width_has_no_sideways_scroll_and_keeps_every_part(screens):
    s = screens["live-phone"]
    assert s.scroll_width <= s.viewport["width"], s.scroll_width
    for part in ("video", "mood", "evidence", "track"):
        box = s.boxes[part]
        assert box is not None, (part, s.boxes)
        assert box[0] >= 0 and box[0] + box[2] <= s.viewport["width"], (part, box)  # nothing cut off at the side
    assert "camera on" in s.text


def test_analyse_page_shows_the_photo_s_mood_and_music(screens):
    s = screens["analyse"]
    assert s.boxes["mood"] is not None and s.boxes["track"] is not None, s.boxes
    assert s.scroll_width <= s.viewport["width"]


def test_the_pictures_are_small_pngs_with_colour_emoji(screens, tmp_path):
    from PIL import Image

    sizes = screenshots.write_all(screens, tmp_path)
    assert set(sizes) == {"live-desktop.png", "live-phone.png", "analyse.png"}
    for name, size in sizes.items():
        assert 5_000 < size < screenshots.MAX_BYTES, (name, size)
        image = Image.open(tmp_path / name)
        assert image.format == "PNG" and image.width == screenshots.WIDTHS[name.removesuffix(".png")]
    # The badge's emoji is drawn in colour (an emoji font is installed), not as a grey box: between the
    # badge's coloured left border and the words "Mood: …" the picture holds saturated pixels.
    s = screens["live-desktop"]
    x, y, _, h = s.boxes["mood"]
    badge_x = s.boxes["badge"][0]
    full = Image.open(io.BytesIO(s.png)).convert("HSV")
    patch = full.crop((int(badge_x) + 14, int(y), int(x) - 2, int(y + h)))
    hsv = np.asarray(patch)
    saturated = int(((hsv[..., 1] > 120) & (hsv[..., 2] > 120)).sum())
    assert saturated > 30, saturated
