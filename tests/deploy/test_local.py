"""Two real replicas behind a real HAProxy on loopback: affinity, spread, the websocket, and losing a replica.

The tests share one deploy (module scope, the `deploy` fixture); the last one
stops a replica, so it runs last.
"""

from __future__ import annotations

import asyncio
import re
import time
import urllib.request

import pytest

from moodmusic.bench import rtc
from moodmusic.deploy.haproxy import COOKIE, show_stat

COOKIE_RE = re.compile(rf"{COOKIE}=(r\d+)")


def get(url: str, cookie: str = "") -> tuple[int, str | None]:
    """(status, the replica named by the Set-Cookie of the answer, if any)."""
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    with urllib.request.urlopen(request, timeout=10) as answer:
        set_cookie = " ".join(answer.headers.get_all("Set-Cookie") or [])
        m = COOKIE_RE.search(set_cookie)
        return answer.status, (m.group(1) if m else None)


def totals(deploy) -> dict[str, int]:
    """Requests each replica has been sent so far (HAProxy's `stot`; health checks do not count)."""
    return {name: int(row["stot"] or 0) for name, row in show_stat(deploy.stats_socket).items()}


def test_liveness_and_readiness(deploy):
    assert get(deploy.url + "/_proxy/live")[0] == 200
    assert get(deploy.url + "/_proxy/ready")[0] == 200
    assert get(deploy.url + "/_stcore/health")[0] == 200  # a replica's own health, through the proxy
    assert all(s.startswith("UP") for s in deploy.states().values()) and len(deploy.states()) == 2


def test_new_visitors_spread_and_each_sticks_to_its_replica(deploy):
    first = [get(deploy.url + "/")[1] for _ in range(4)]
    assert set(first) == {"r1", "r2"}, first  # fresh visitors (no cookie) go to both replicas
    for replica in ("r1", "r2"):
        before = totals(deploy)
        for _ in range(8):
            status, reset = get(deploy.url + "/", cookie=f"{COOKIE}={replica}")
            assert status == 200 and reset is None  # the cookie is kept, not replaced
        after = totals(deploy)
        other = "r2" if replica == "r1" else "r1"
        assert after[replica] - before[replica] == 8 and after[other] == before[other], (before, after)


@pytest.mark.browser
def test_a_real_browser_gets_a_mood_through_the_proxy(deploy, tmp_path):
    """Chromium loads the page through HAProxy, keeps its cookie, and START reaches a mood: the page's websocket
    and streamlit-webrtc's signalling pass the proxy; the media goes to the replica the cookie names."""
    from pathlib import Path

    from moodmusic import samples
    from moodmusic.bench.browser import CHROMIUM, chromium_args, write_speech_wav, write_y4m
    from moodmusic.bench.page import MOOD_TEXT

    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is needed (scripts/setup.sh --dev installs it)")
    from playwright.sync_api import sync_playwright

    video = write_y4m(tmp_path / "face.y4m", samples.face_frame(), fps=15)
    audio = write_speech_wav(tmp_path / "speech.wav")
    before = totals(deploy)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=chromium_args(video, audio))
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.goto(deploy.url, wait_until="domcontentloaded")
            start = page.frame_locator("iframe[title*='streamlit_webrtc']").get_by_role("button", name="START")
            start.click(timeout=60_000)
            page.get_by_text(MOOD_TEXT).first.wait_for(timeout=60_000)
            cookies = {c["name"]: c["value"] for c in context.cookies()}
        finally:
            browser.close()
    replica = cookies.get(COOKIE)
    assert replica in ("r1", "r2"), cookies
    after = totals(deploy)
    other = "r2" if replica == "r1" else "r1"
    assert after[replica] > before[replica] and after[other] == before[other], (before, after)  # all to one


async def _visitors(url: str, n: int, timeout: float = 90.0) -> tuple[list[rtc.Visitor], asyncio.Event, list]:
    """`n` headless visitors through the proxy (page over HTTP first, cookie kept), each until its first mood."""
    stop = asyncio.Event()
    visitors = [rtc.Visitor(url, affinity=True) for _ in range(n)]
    tasks = []
    for v in visitors:  # one after the other, as people arrive: the proxy counts each open websocket
        tasks.append(asyncio.create_task(v.run(stop)))  # (two page loads at the same instant may share a replica)
        arrived = time.monotonic() + 30
        while v._ws is None and v.error is None and time.monotonic() < arrived:
            await asyncio.sleep(0.05)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not all(v.mood_at or v.error for v in visitors):
        await asyncio.sleep(0.2)
    return visitors, stop, tasks


def test_losing_a_replica_keeps_the_other_sessions_and_sends_new_ones_to_the_survivor(deploy):
    """Two live sessions, one per replica, streaming through the page's websocket (signalling over the proxy,
    media straight to the replica); one replica is killed: the other session goes on, new visitors land on
    the survivor, and a visitor whose cookie names the dead replica is sent to the survivor."""
    ws = deploy.url.replace("http://", "ws://") + "/_stcore/stream"
    members = {r.name: r for r in deploy.members}

    async def scenario() -> None:
        (a, b), stop, tasks = await _visitors(ws, 2)
        try:
            assert a.error is None and b.error is None, (a.error, b.error)
            assert a.mood_at and b.mood_at, "no mood through the proxy"
            assert {a.replica, b.replica} == {"r1", "r2"}, (a.replica, b.replica)
            victim, survivor = (a, b) if a.replica == "r2" else (b, a)
            members[victim.replica].child.proc.kill()  # the replica dies at once, as in a crash
            seen = survivor.mood_updates
            await asyncio.sleep(4)
            assert survivor.error is None and survivor.mood_updates > seen + 4, "the survivor's page stopped"
            deadline = time.monotonic() + 10
            while deploy.states().get(victim.replica, "").startswith("UP") and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            assert deploy.states()[victim.replica].startswith("DOWN"), deploy.states()
            assert (await asyncio.to_thread(get, deploy.url + "/_proxy/ready"))[0] == 200  # one replica is enough
            # A visitor that was on the dead replica reloads: its cookie is replaced by the survivor's.
            status, replica = await asyncio.to_thread(get, deploy.url + "/", f"{COOKIE}={victim.replica}")
            assert status == 200 and replica == survivor.replica
            (c,), stop_c, tasks_c = await _visitors(ws, 1)
            try:
                assert c.error is None and c.mood_at, c.error
                assert c.replica == survivor.replica
            finally:
                stop_c.set()
                await asyncio.wait(tasks_c, timeout=15)
            assert survivor.error is None and survivor.mood_updates > seen + 8
        finally:
            stop.set()
            await asyncio.wait(tasks, timeout=15)

    with rtc._light_media():
        asyncio.run(scenario())
