"""Screenshots of the live page and the Analyse page, taken in a real Chromium, and the first screen measured.

`python -m moodmusic.bench.screenshots` starts `streamlit run app.py` on
loopback, opens it in Debian's Chromium whose fake camera and microphone play
the sample face and speech, presses START, waits for a mood, its evidence and
music, and writes small PNGs into docs/screenshots/: the live page on a
desktop (1400x1000) and on a phone (390 px wide), and the Analyse page after
analysing the astronaut photo. tests/browser/test_screenshots.py drives the
same functions and asserts the layout they measure (what is on the first
screen, no sideways scrolling on a phone).

There is no internet here, so Spotify's embed players cannot load: each one is
answered with a plain box saying so, instead of Chromium's error page.
"""

from __future__ import annotations

import argparse
import io
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from moodmusic import samples
from moodmusic.bench.page import MOOD_TEXT, NO_KEYS, free_port, start_app
from moodmusic.config import ROOT

DESKTOP = {"width": 1400, "height": 1000}
PHONE = {"width": 390, "height": 844}
OUT_DIR = ROOT / "docs" / "screenshots"
MAX_BYTES = 150_000  # each committed PNG stays under this
EMBED = "iframe[src*='open.spotify.com/embed/track/']"
WEBRTC = "iframe[title*='streamlit_webrtc']"
OFFLINE_EMBED = (
    "<html><body style='margin:0;font:14px \"DejaVu Sans\",sans-serif'><div style='height:76px;border-radius:12px;"
    "background:#2a2a2a;color:#ddd;display:flex;align-items:center;padding:0 16px'>▶ Spotify player "
    "(it loads from the internet; this screenshot was taken offline)</div></body></html>"
)


@dataclass
class Screen:
    """What one screenshot showed: element boxes (x, y, width, height in CSS px, None when absent) and the page width."""

    png: bytes
    viewport: dict[str, int]
    boxes: dict[str, tuple[float, float, float, float] | None] = field(default_factory=dict)
    scroll_width: int = 0  # the widest scrollable part of the page, to compare with the viewport's width
    text: str = ""

    def bottom(self, name: str) -> float | None:
        box = self.boxes.get(name)
        return None if box is None else box[1] + box[3]


EMOJI_FONTCONFIG = """<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig>
  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>
  <!-- DejaVu Sans has black-and-white faces for some emoji and is asked first: ask the colour font first.
       Page text is in Streamlit's own web font, so only characters that font lacks come here. -->
  <alias binding="strong"><family>sans-serif</family><prefer><family>Noto Color Emoji</family></prefer></alias>
  <!-- The colour font also has a (wide) space: the video widget's buttons (Roboto, not installed)
       keep DejaVu's spaces. Not Arial or Helvetica: Streamlit's own text lists them, and its emoji would
       then come from DejaVu again. -->
  <alias binding="strong"><family>Roboto</family><prefer><family>DejaVu Sans</family></prefer></alias>
</fontconfig>
"""


def colour_emoji_env(folder: Path) -> dict[str, str]:
    """Environment for Chromium that draws emoji from Noto Color Emoji (Debian fonts-noto-color-emoji).

    With no emoji font Chromium draws boxes; with it installed beside DejaVu Sans, fontconfig still
    hands Chromium DejaVu's black-and-white faces for the emoticons. This config, used for the
    screenshots only, puts the colour font first.
    """
    import os

    conf = folder / "fonts.conf"
    conf.write_text(EMOJI_FONTCONFIG)
    return {**os.environ, "FONTCONFIG_FILE": str(conf)}


def _offline_embeds(context) -> None:  # noqa: ANN001 - a Playwright BrowserContext
    context.route(re.compile(r"https://open\.spotify\.com/.*"),
                  lambda route: route.fulfill(status=200, content_type="text/html; charset=utf-8", body=OFFLINE_EMBED))


def _box(locator, tries: int = 8) -> tuple[float, float, float, float] | None:  # noqa: ANN001 - a Playwright Locator
    """The first match's box; a fragment being redrawn (4 times a second) is absent for a moment, so look again."""
    for attempt in range(tries):
        try:
            if locator.count():
                b = locator.first.bounding_box(timeout=1_000)
                if b is not None:
                    return (b["x"], b["y"], b["width"], b["height"])
        except Exception:  # detached while measuring: look again
            pass
        time.sleep(0.25)
    return None


def _scroll_width(page) -> int:  # noqa: ANN001
    """The widest element that scrolls sideways (the document or Streamlit's main section)."""
    return int(page.evaluate(
        "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth,"
        " ...Array.from(document.querySelectorAll('section, [data-testid=stMain], [data-testid=stAppViewContainer]'))"
        ".map(e => e.scrollWidth))"
    ))


def _measure(page, viewport: dict[str, int]) -> Screen:  # noqa: ANN001
    boxes = {
        "video": _box(page.frame_locator(WEBRTC).locator("video")),
        "mood": _box(page.get_by_text(MOOD_TEXT)),
        "badge": _box(page.locator(".mm-badge")),
        "evidence": _box(page.locator(".mm-evidence")),
        "track": _box(page.locator(EMBED)),
    }
    return Screen(png=page.screenshot(), viewport=viewport, boxes=boxes,
                  scroll_width=_scroll_width(page), text=page.inner_text("body"))


def mood_after_scrolling(page, pixels: int = 1200) -> tuple[float, float, float, float] | None:  # noqa: ANN001
    """Where the mood is after scrolling `pixels` down over the music: still on screen when it stays in view."""
    track = page.locator(EMBED).first.bounding_box()
    if track is not None:
        page.mouse.move(track["x"] + track["width"] / 2, min(track["y"] + 10, page.viewport_size["height"] - 10))
    page.mouse.wheel(0, pixels)
    page.wait_for_timeout(800)
    return _box(page.get_by_text(MOOD_TEXT))


def _settle(page, seconds: float = 1.5) -> None:  # noqa: ANN001
    """Let fragments redraw and the embeds paint before the picture."""
    page.evaluate("() => document.fonts.ready")
    page.wait_for_timeout(seconds * 1000)


def live_screen(browser, base_url: str, viewport: dict[str, int], timeout_s: float = 60.0) -> Screen:  # noqa: ANN001
    """The live page after START with a mood, its evidence and music showing (or `timeout_s` without music)."""
    context = browser.new_context(viewport=viewport)
    _offline_embeds(context)
    try:
        page = context.new_page()
        page.goto(base_url, wait_until="domcontentloaded")
        page.get_by_text("moodmusic", exact=False).first.wait_for(timeout=60_000)
        page.frame_locator(WEBRTC).get_by_role("button", name="START").click(timeout=60_000)
        page.get_by_text(MOOD_TEXT).first.wait_for(timeout=timeout_s * 1000)
        page.locator(".mm-evidence").nth(1).wait_for(timeout=10_000)
        page.locator(EMBED).first.wait_for(state="attached", timeout=timeout_s * 1000)
        _settle(page)
        page.get_by_text(MOOD_TEXT).first.wait_for(timeout=10_000)  # a mood on the picture, not a pause
        screen = _measure(page, viewport)
        screen.boxes["mood after scrolling"] = mood_after_scrolling(page)
        return screen
    finally:
        context.close()


def analyse_screen(browser, base_url: str, photo: Path = samples.ASTRONAUT, timeout_s: float = 120.0) -> Screen:  # noqa: ANN001
    """The Analyse page after analysing `photo`, at desktop size."""
    context = browser.new_context(viewport=DESKTOP)
    _offline_embeds(context)
    try:
        page = context.new_page()
        page.goto(f"{base_url}/Analyse_a_clip", wait_until="domcontentloaded")
        page.get_by_text("Analyse a clip").first.wait_for(timeout=60_000)
        page.locator("input[type=file]").first.set_input_files(str(photo))
        page.get_by_text(MOOD_TEXT).first.wait_for(timeout=timeout_s * 1000)
        page.locator(EMBED).first.wait_for(state="attached", timeout=30_000)
        _settle(page)
        return _measure(page, DESKTOP)
    finally:
        context.close()


def small_png(png: bytes, width: int, colours: int = 128) -> bytes:
    """`png` scaled to `width` px and reduced to a palette of `colours`: a README picture of tens of KB."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    if image.width > width:
        image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
    out = io.BytesIO()
    image.quantize(colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        out, format="PNG", optimize=True)
    return out.getvalue()


def take_all(browser, base_url: str) -> dict[str, Screen]:  # noqa: ANN001
    """The three screens the README shows, by file stem."""
    return {
        "live-desktop": live_screen(browser, base_url, DESKTOP),
        "live-phone": live_screen(browser, base_url, PHONE),
        "analyse": analyse_screen(browser, base_url),
    }


WIDTHS = {"live-desktop": 1000, "live-phone": 390, "analyse": 1000}  # the saved PNG's width


def write_all(screens: dict[str, Screen], out_dir: Path = OUT_DIR) -> dict[str, int]:
    """Save each screen as `<stem>.png` in `out_dir`, small; returns the bytes written per file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for stem, screen in screens.items():
        data = small_png(screen.png, WIDTHS.get(stem, 1000))
        (out_dir / f"{stem}.png").write_bytes(data)
        sizes[f"{stem}.png"] = len(data)
    return sizes


def main(argv: list[str] | None = None) -> int:
    """Regenerate docs/screenshots/*.png (needs Chromium and the test requirements: scripts/setup.sh --dev)."""
    from playwright.sync_api import sync_playwright

    from moodmusic.bench.browser import CHROMIUM, chromium_args, write_speech_wav, write_y4m

    parser = argparse.ArgumentParser(prog="python -m moodmusic.bench.screenshots", description=main.__doc__)
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="folder for the PNGs (default docs/screenshots)")
    args = parser.parse_args(argv)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        video = write_y4m(home / "face.y4m", samples.face_frame(), fps=15)
        audio = write_speech_wav(home / "speech.wav")
        port = free_port()
        server = start_app(home, port, drop=NO_KEYS)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=chromium_args(video, audio),
                                            env=colour_emoji_env(home))
                try:
                    screens = take_all(browser, f"http://127.0.0.1:{port}")
                finally:
                    browser.close()
        finally:
            server.terminate()
            server.wait(10)
    for name, size in write_all(screens, args.out).items():
        print(f"{args.out / name}: {size / 1000:.0f} KB")
    print(f"done in {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
