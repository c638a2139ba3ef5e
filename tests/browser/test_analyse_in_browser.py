"""The "Analyse a clip" page in a real Chromium: upload a real clip → mood, timeline chart, music."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from moodmusic import samples
from moodmusic.config import load_settings
from moodmusic.moods import MOODS
from moodmusic.recognition.experts import FACE_FILE, VOICE_FILE

pytestmark = pytest.mark.browser

MOOD_TEXT = re.compile(r"Mood: (" + "|".join(MOODS) + r")\b")


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """The astronaut portrait as a video with real espeak speech (ffmpeg, which the browser tests need anyway)."""
    models = load_settings().models_dir
    if not all((models / f).is_file() for f in (FACE_FILE, VOICE_FILE)):
        pytest.skip(f"the trained models are not in {models} yet")
    if not shutil.which("ffmpeg"):
        pytest.skip("ffmpeg is needed (scripts/setup.sh --dev installs it)")
    out = tmp_path_factory.mktemp("upload") / "astronaut speaking.mp4"
    speech = [str(samples.SPEECH_DIR / n) for n in ("fox.flac", "rainbow.flac")]
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-loop", "1", "-framerate", "10", "-t", "6.6",
         "-i", str(samples.ASTRONAUT), "-i", speech[0], "-i", speech[1],
         "-filter_complex", "[1:a][2:a]concat=n=2:v=0:a=1[a];[0:v]scale=256:256,format=yuv420p[v]",
         "-map", "[v]", "-map", "[a]", "-t", "6.6", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
         str(out)],
        check=True, timeout=60,
    )
    return out


def test_uploading_a_clip_shows_its_mood_timeline_and_music(app_server, browser_page, clip):
    page = browser_page
    page.goto(f"{app_server}/Analyse_a_clip", wait_until="domcontentloaded")
    page.get_by_text("Analyse a clip").first.wait_for(timeout=60_000)
    page.locator("input[type=file]").first.set_input_files(str(clip))

    page.get_by_text(MOOD_TEXT).first.wait_for(timeout=120_000)
    assert MOOD_TEXT.search(page.inner_text("body"))
    # The page streams its parts as the script draws them: the badge can be on screen a moment
    # before the evidence below it (a clean-clone CI run counted 0 there), so wait for the second.
    page.locator(".mm-evidence").nth(1).wait_for(timeout=10_000)
    assert page.locator(".mm-evidence").count() == 2
    page.get_by_text("Timeline", exact=True).first.wait_for(timeout=10_000)
    page.locator(".vega-embed").first.wait_for(timeout=20_000)  # the chart of moods per window
    embeds = page.locator("iframe[src*='open.spotify.com/embed/track/']")
    embeds.nth(7).wait_for(state="attached", timeout=30_000)
    for label in (r"Timeline \(CSV\)", r"Result \(JSON\)"):  # the downloads
        page.get_by_text(re.compile(label)).first.wait_for(timeout=10_000)
