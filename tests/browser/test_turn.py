"""TURN for real: the live page in Chromium, forced to relay-only ICE through a real coturn on loopback.

A real `turnserver` (Debian's coturn, `tests/browser/coturn.py`) runs on
127.0.0.1 with a TURN REST API secret; the app server is configured the way a
deployment is: MOODMUSIC_ICE_SERVERS names the relay, MOODMUSIC_TURN_SECRET
lets it mint time-limited credentials for each page, and
MOODMUSIC_ICE_TRANSPORT_POLICY=relay makes the browser's RTCPeerConnection
offer only relayed candidates. The page must still show a mood, and the
relay must be what carried it: the browser's selected candidate pair is of
type "relay" on its side (read from its own getStats), and coturn's log holds
the allocations, the permissions or channel binds towards the app server,
and at least every byte the browser sent on that pair.

Then, with the same app server and settings, the relay refuses their
credentials (another secret), and then it is gone: each time a new visitor's START must bring no
mood (there is no other path), and the widget must say the connection is not
coming.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from moodmusic.bench.browser import CHROMIUM, chromium_args
from moodmusic.bench.page import MOOD_TEXT, NO_KEYS, free_port, start_app
from tests.browser import coturn
from tests.live.conftest import wait_for

pytestmark = pytest.mark.browser

# Runs in every frame before its scripts: keeps each RTCPeerConnection the page makes (in the
# component's iframe), so the test can ask it for its configuration and its stats.
KEEP_PEERS_JS = """
(() => {
  const Native = window.RTCPeerConnection;
  if (!Native) return;
  window.__moodmusicPeers = [];
  window.RTCPeerConnection = function (...args) {
    const pc = new Native(...args);
    window.__moodmusicPeers.push(pc);
    return pc;
  };
  window.RTCPeerConnection.prototype = Native.prototype;
  Object.setPrototypeOf(window.RTCPeerConnection, Native);
})();
"""

# The last peer connection's state, policy and its selected candidate pair's two candidate types.
PEER_JS = """
async () => {
  const peers = window.__moodmusicPeers || [];
  if (!peers.length) return null;
  const pc = peers[peers.length - 1];
  const stats = await pc.getStats();
  const byId = new Map();
  stats.forEach((s) => byId.set(s.id, s));
  let pair = null;
  stats.forEach((s) => {
    if (s.type === "transport" && s.selectedCandidatePairId) pair = byId.get(s.selectedCandidatePairId);
  });
  const local = pair ? byId.get(pair.localCandidateId) : null;
  const remote = pair ? byId.get(pair.remoteCandidateId) : null;
  const types = [];
  stats.forEach((s) => { if (s.type === "local-candidate") types.push(s.candidateType); });
  return {
    connection: pc.connectionState, ice: pc.iceConnectionState,
    policy: pc.getConfiguration().iceTransportPolicy,
    local: local ? local.candidateType : null, local_address: local ? `${local.address}:${local.port}` : null,
    remote: remote ? remote.candidateType : null, remote_address: remote ? `${remote.address}:${remote.port}` : null,
    bytes_sent: pair ? pair.bytesSent : 0, local_types: types,
  };
}
"""


def peer(page) -> dict | None:
    """What the component's RTCPeerConnection reports, from whichever frame holds it."""
    for frame in page.frames:
        try:
            found = frame.evaluate(PEER_JS)
        except Exception:  # a frame that went away or has no peers
            continue
        if found is not None:
            return found
    return None


TAKING_LONG = "Connection is taking longer than expected"  # streamlit-webrtc's warning in its widget
SECRET = "shared-by-coturn-and-the-app"


@pytest.fixture
def turn(tmp_path):
    reason = coturn.available()
    if reason:
        pytest.skip(reason)
    server = coturn.start_coturn(tmp_path / "coturn", secret=SECRET)
    yield server
    server.stop()


@contextmanager
def relay_only_app(tmp_path, media_files, turn_url: str) -> Iterator[Callable[[], Any]]:
    """A fresh app server whose relay is `turn_url`, relay-only; yields a function opening a new visitor's page."""
    from playwright.sync_api import sync_playwright

    home, port = tmp_path / "home", free_port()
    home.mkdir()
    env = {"MOODMUSIC_ICE_SERVERS": json.dumps([{"urls": [turn_url]}]), "MOODMUSIC_TURN_SECRET": SECRET,
           "MOODMUSIC_ICE_TRANSPORT_POLICY": "relay"}
    app = start_app(home, port, env, drop=NO_KEYS)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=chromium_args(*media_files))

            def open_page():
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                context.add_init_script(KEEP_PEERS_JS)
                page = context.new_page()
                page.goto(f"http://127.0.0.1:{port}", wait_until="domcontentloaded")
                return page

            try:
                yield open_page
            finally:
                browser.close()
    finally:
        app.terminate()
        app.wait(10)


def press_start(page) -> float:
    page.frame_locator("iframe[title*='streamlit_webrtc']").get_by_role("button", name="START").click(timeout=90_000)
    return time.monotonic()


def no_mood_and_a_warning(page) -> tuple[float, dict | None]:
    """START on a page whose relay cannot work: the widget warns, no mood shows, the peer never connects."""
    clicked = press_start(page)
    widget = page.frame_locator("iframe[title*='streamlit_webrtc']")
    widget.get_by_text(TAKING_LONG).wait_for(timeout=45_000)  # what the visitor is told
    waited = time.monotonic() - clicked
    seen = peer(page)
    body = page.inner_text("body")
    assert not MOOD_TEXT.search(body), body[:2000]
    page.get_by_text("the app's TURN relay does not answer or refuses its credentials").wait_for(timeout=15_000)
    assert seen is not None and seen["connection"] != "connected" and not seen["local_types"], seen
    return waited, seen


def test_relay_only_ice_through_coturn_gets_a_mood_and_none_without_the_relay(tmp_path, turn, media_files):
    with relay_only_app(tmp_path, media_files, turn.url) as open_page:
        page = open_page()
        clicked = press_start(page)
        page.get_by_text(MOOD_TEXT).first.wait_for(timeout=60_000)
        first_mood_s = time.monotonic() - clicked
        page.wait_for_timeout(2_000)  # a little more media on the relay
        seen = peer(page)
        assert seen is not None and seen["policy"] == "relay", seen
        assert seen["local_types"] and set(seen["local_types"]) == {"relay"}, seen  # no host candidate offered
        assert seen["connection"] == "connected" and seen["local"] == "relay", seen  # the path in use is relayed
        server_ip = seen["remote_address"].rpartition(":")[0]
        # STOP closes the peer connection, which frees its allocation: coturn ends the session and logs its traffic.
        page.frame_locator("iframe[title*='streamlit_webrtc']").get_by_role("button", name="STOP").click()
        # Everything the browser had sent on its selected pair (media, not only ICE checks) must have left the
        # relay for the server; coturn counts on until STOP, so it holds at least that much. Sessions close one
        # by one (the browser's unused allocations, the server's own), so wait for the one that carried the media.
        carried = lambda: coturn.relayed(turn.log())["bytes_to_peers"] >= 0.95 * seen["bytes_sent"]  # noqa: E731
        assert seen["bytes_sent"] > 20_000 and wait_for(carried, 20, step=0.25), (seen, turn.log()[-3000:])
        log = turn.log()
        counts = coturn.relayed(log)
        print(f"first mood {first_mood_s:.1f} s after START; browser's selected pair: {seen['local']} "
              f"{seen['local_address']} -> {seen['remote']} {seen['remote_address']}, {seen['bytes_sent']} bytes "
              f"sent; coturn: {counts}")
        assert counts["allocations"] >= 1 and counts["channel_binds"] + counts["permissions"] >= 1, counts
        assert f"peer {server_ip}" in log, log[-3000:]  # the relay was opened towards the app server

        # The same app server and settings, the relay now refusing their credentials: no path at all.
        turn.stop()
        refusing = coturn.start_coturn(tmp_path / "coturn-refusing", secret="not-the-app's-secret", port=turn.port)
        try:
            waited, seen = no_mood_and_a_warning(open_page())
            print(f"wrong secret: {TAKING_LONG!r} after {waited:.1f} s, no mood; browser peer: {seen}")
            log = refusing.log()
            assert "check_stun_auth" in log and "401" in log, log[-3000:]  # coturn refused them
        finally:
            refusing.stop()

        # And with the relay gone.
        waited, seen = no_mood_and_a_warning(open_page())
        print(f"relay stopped: {TAKING_LONG!r} after {waited:.1f} s, no mood; browser peer: {seen}")
