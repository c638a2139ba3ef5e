"""A real app server on loopback and a real Chromium with fake camera/microphone fed from real media.

The same helpers drive `bench --live` (moodmusic.bench.browser, .page), so the test
and the benchmark see the page the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from moodmusic import samples
from moodmusic.bench.browser import CHROMIUM, chromium_args, write_speech_wav, write_y4m
from moodmusic.bench.page import free_port, start_app


@pytest.fixture(scope="session")
def media_files(tmp_path_factory) -> tuple[Path, Path]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is needed (scripts/setup.sh --dev installs it)")
    d = tmp_path_factory.mktemp("media")
    return write_y4m(d / "face.y4m", samples.face_frame(), fps=15), write_speech_wav(d / "speech.wav")


@pytest.fixture(scope="session")
def app_server(tmp_path_factory) -> Iterator[str]:
    """`streamlit run app.py` on a free loopback port, with its own home (store, cache) and no keys."""
    port = free_port()
    home = tmp_path_factory.mktemp("home")
    server = start_app(home, port, {}, drop=(
        "SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET", "CLOUDFLARE_TURN_KEY_ID", "TWILIO_ACCOUNT_SID", "HF_TOKEN"))
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
