"""Ending live sessions in a real Chromium: STOP, or closing the tab mid-stream, ends the server's threads for it.

The server is a real `streamlit run app.py` on loopback, watched from outside
through /proc: the engine's voice worker names its OS thread
("moodmusic-voice"), so it can be told apart from the rest; aiortc's and
streamlit-webrtc's threads are counted with everything else.

What happens on the server, measured here: STOP closes the peer connection at
once (about ten threads end); the voice worker ends when no audio has come for
the engine's `idle_timeout` (20 s). A closed tab sends nothing: the Streamlit
session is kept for reconnection, and the peer connection ends when aiortc's
ICE consent check fails, about 30 s later, which ends streamlit-webrtc's
worker. Either way the thread count comes back to where it was.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from moodmusic.bench.browser import CHROMIUM, chromium_args
from moodmusic.bench.page import MOOD_TEXT, NO_KEYS, free_port, start_app
from moodmusic.live.session import VOICE_THREAD, EngineConfig
from tests.live.conftest import wait_for

pytestmark = pytest.mark.browser

VOICE = VOICE_THREAD[:15]  # Linux keeps 15 characters of a thread's name
ICE_CONSENT_S = 30.0  # aiortc declares a silent peer gone after about this long (measured: 10-40 s)
# Thread pools that grow on demand up to a fixed size (Starlette's AnyIO workers,
# asyncio's default executor) may keep a few more threads than at the baseline;
# the WebRTC threads of one session that did not end would be about ten.
POOL_SLACK = 6
# RSS of the server after each closed session, measured 635, 662, 671 MB (in a longer
# run: 587, 632, 662, 689, 723, 695 MB over six sessions); the
# strict per-session memory check is the engine's (tests/live/test_leaks.py).
MAX_GROWTH_MB = 150.0


def os_threads(pid: int) -> list[str]:
    names = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            names.append((task / "comm").read_text().strip())
        except OSError:  # the thread ended while we looked
            pass
    return names


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Our own server (not the shared one): its thread count must not depend on other tests' tabs."""
    home = tmp_path_factory.mktemp("session-end")
    port = free_port()
    # Disconnected sessions are kept 5 s for reconnection (Streamlit's default: 120 s), so closed tabs' sessions go.
    extra = {"STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL": "5"}
    proc = start_app(home, port, extra, drop=NO_KEYS)
    yield f"http://127.0.0.1:{port}", proc
    proc.terminate()
    proc.wait(10)


def start_streaming(browser, url: str):
    """A new tab (its own Streamlit session): START, then wait for a `Mood:`."""
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(url, wait_until="domcontentloaded")
    widget = page.frame_locator("iframe[title*='streamlit_webrtc']")
    widget.get_by_role("button", name="START").click(timeout=60_000)
    page.get_by_text(MOOD_TEXT).first.wait_for(timeout=45_000)
    return page, widget


def test_stop_and_closed_tabs_end_the_sessions_threads(server, media_files):
    from playwright.sync_api import sync_playwright

    url, proc = server
    pid = proc.pid
    idle_timeout = EngineConfig().idle_timeout
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=chromium_args(*media_files))
        try:
            # STOP: the peer connection's threads end at once, the voice worker once audio has stopped for a while.
            page, widget = start_streaming(browser, url)
            assert os_threads(pid).count(VOICE) == 1, os_threads(pid)
            streaming = len(os_threads(pid))
            widget.get_by_role("button", name="STOP").click()
            assert wait_for(lambda: len(os_threads(pid)) <= streaming - 5, 10), (streaming, os_threads(pid))
            assert wait_for(lambda: VOICE not in os_threads(pid), idle_timeout + 5), os_threads(pid)
            page.close()
            page.context.close()
            baseline = len(os_threads(pid))

            # Closing the tab mid-stream, several times: each time every thread of that session ends.
            rss = []
            for round_ in range(3):
                page, _ = start_streaming(browser, url)
                assert os_threads(pid).count(VOICE) == 1, (round_, os_threads(pid))
                assert len(os_threads(pid)) > baseline
                page.close()
                page.context.close()
                assert wait_for(lambda: VOICE not in os_threads(pid), idle_timeout + 5), (round_, os_threads(pid))
                assert wait_for(lambda: len(os_threads(pid)) <= baseline + POOL_SLACK, ICE_CONSENT_S + 30), (
                    round_, baseline, os_threads(pid))
                rss.append(rss_mb(pid))
                print(f"round {round_}: {len(os_threads(pid))} threads (baseline {baseline}), RSS {rss[-1]:.0f} MB")
            assert max(rss) - rss[0] <= MAX_GROWTH_MB, rss
        finally:
            browser.close()
    assert proc.poll() is None, "the server died"
