"""A real app server on loopback and a real Chromium with fake camera/microphone fed from real media.

The same helpers drive `bench --live` (moodmusic.bench.browser, .page), so the test
and the benchmark see the page the same way.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from moodmusic import samples
from moodmusic.bench.browser import CHROMIUM, chromium_args, write_speech_wav, write_y4m
from moodmusic.bench.page import NO_KEYS, free_port, start_app
from tests.conftest import SHARED_DATA

# A real person talking, with speech: the MEAD speaker's sad clip (shared data, see its README)
TALKING = SHARED_DATA / "video" / "mead_m030" / "M030_sad_level3_talking.mp4"


@pytest.fixture(scope="session")
def media_files(tmp_path_factory) -> tuple[Path, Path]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is needed (scripts/setup.sh --dev installs it)")
    d = tmp_path_factory.mktemp("media")
    return write_y4m(d / "face.y4m", samples.face_frame(), fps=15), write_speech_wav(d / "speech.wav")


@pytest.fixture(scope="session")
def talking_media(tmp_path_factory) -> tuple[Path, Path]:
    """The fake camera's y4m and the fake microphone's wav from a real talking clip with speech; the sample
    face and speech where the shared data is missing (a fresh clone)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is needed (scripts/setup.sh --dev installs it)")
    d = tmp_path_factory.mktemp("talking-media")
    if TALKING.is_file():
        video, audio = d / "talking.y4m", d / "talking.wav"
        for args in (["-pix_fmt", "yuv420p", str(video)],
                     ["-vn", "-ac", "1", "-ar", "48000", "-c:a", "pcm_s16le", str(audio)]):
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(TALKING), *args], check=True)
        return video, audio
    return write_y4m(d / "face.y4m", samples.face_frame(), fps=15), write_speech_wav(d / "speech.wav")


@pytest.fixture(scope="session")
def app_server(tmp_path_factory) -> Iterator[str]:
    """`streamlit run app.py` on a free loopback port, with its own home (store, cache) and no keys."""
    port = free_port()
    home = tmp_path_factory.mktemp("home")
    server = start_app(home, port, {}, drop=NO_KEYS)
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(10)


@pytest.fixture
def chromium(media_files):
    """One real Chromium whose fake camera and microphone play the sample face and speech."""
    from playwright.sync_api import sync_playwright

    video, audio = media_files
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=chromium_args(video, audio))
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser_page(chromium):
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    try:
        yield context.new_page()
    finally:
        context.close()


def open_page(page, name: str, landmark: str, attempts: int = 3, timeout_ms: int = 30_000) -> None:
    """Click the sidebar link to page `name` until `landmark` text shows.

    A click on a navigation link that lands while a fresh page (after a reload, on a
    loaded machine) is still connecting its websocket can be dropped by Streamlit's
    front end: the page stays where it was. Clicking again is what a person does.
    """
    import re

    link = page.get_by_role("link", name=re.compile(name)).first
    for attempt in range(attempts):
        link.click(timeout=timeout_ms)
        try:
            page.get_by_text(landmark).first.wait_for(timeout=timeout_ms)
            return
        except Exception:
            if attempt == attempts - 1:
                raise AssertionError(f"page {name!r} did not open: {page.inner_text('body')[:2000]}") from None
