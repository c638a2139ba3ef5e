"""The ICE configuration the live page hands streamlit-webrtc: servers, relay-only, time-limited TURN credentials.

The configuration goes through streamlit-webrtc's own code (what the browser
gets, what aiortc gets), and the time-limited credentials go to a real coturn
on loopback (`tests/browser/coturn.py`, TURN REST API secret), which must relay
a datagram for fresh ones and refuse expired ones or a wrong secret.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time

import pytest

from moodmusic.live.sources.webrtc import rtc_configuration, turn_rest_credentials
from tests.browser import coturn

TURN = [{"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "p"}]
STUN = [{"urls": "stun:stun.example.org:3478"}]


def env(**values: object) -> dict[str, str]:
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}


def test_without_settings_the_page_uses_no_outside_servers():
    assert rtc_configuration({}) == {"iceServers": []}


def test_provider_credentials_leave_the_servers_to_streamlit_webrtc():
    assert rtc_configuration({"TWILIO_ACCOUNT_SID": "a", "TWILIO_AUTH_TOKEN": "b"}) is None


def test_explicit_servers_are_used_as_given_and_all_candidates_allowed():
    assert rtc_configuration(env(MOODMUSIC_ICE_SERVERS=TURN + STUN)) == {"iceServers": TURN + STUN}
    assert rtc_configuration(env(MOODMUSIC_ICE_SERVERS=TURN, MOODMUSIC_ICE_TRANSPORT_POLICY="all")) == {
        "iceServers": TURN}


@pytest.mark.parametrize("policy", ["relay", "RELAY", " relay "])
def test_relay_only_is_passed_to_the_browser(policy):
    config = rtc_configuration(env(MOODMUSIC_ICE_SERVERS=TURN, MOODMUSIC_ICE_TRANSPORT_POLICY=policy))
    assert config == {"iceServers": TURN, "iceTransportPolicy": "relay"}


@pytest.mark.parametrize(("values", "message"), [
    (env(MOODMUSIC_ICE_TRANSPORT_POLICY="turn-only"),
     "MOODMUSIC_ICE_TRANSPORT_POLICY must be all or relay, not 'turn-only'"),
    (env(MOODMUSIC_ICE_TRANSPORT_POLICY="relay"), "MOODMUSIC_ICE_TRANSPORT_POLICY=relay needs your TURN server in "
                                                  "MOODMUSIC_ICE_SERVERS"),
    (env(MOODMUSIC_ICE_TRANSPORT_POLICY="relay", CLOUDFLARE_TURN_KEY_ID="a", CLOUDFLARE_TURN_KEY_API_TOKEN="b"),
     "MOODMUSIC_ICE_TRANSPORT_POLICY=relay needs your TURN server in MOODMUSIC_ICE_SERVERS"),
    (env(MOODMUSIC_ICE_TRANSPORT_POLICY="relay", MOODMUSIC_ICE_SERVERS=STUN),
     "MOODMUSIC_ICE_TRANSPORT_POLICY=relay needs a turn: or turns: URL in MOODMUSIC_ICE_SERVERS"),
    ({"MOODMUSIC_ICE_SERVERS": "[{'urls': 'turn:x'}]"}, "MOODMUSIC_ICE_SERVERS is not valid JSON"),
    (env(MOODMUSIC_ICE_SERVERS={"urls": "turn:x"}), "MOODMUSIC_ICE_SERVERS must be a JSON list of ICE servers"),
    (env(MOODMUSIC_TURN_SECRET="s"), "MOODMUSIC_TURN_SECRET needs your TURN server's URL in MOODMUSIC_ICE_SERVERS"),
    (env(MOODMUSIC_TURN_SECRET="s", MOODMUSIC_ICE_SERVERS=TURN, MOODMUSIC_TURN_CREDENTIAL_SECONDS="60"),
     "MOODMUSIC_TURN_CREDENTIAL_SECONDS must be a whole number, at least 600, not '60'"),
    (env(MOODMUSIC_TURN_SECRET="s", MOODMUSIC_ICE_SERVERS=TURN, MOODMUSIC_TURN_CREDENTIAL_SECONDS="a day"),
     "MOODMUSIC_TURN_CREDENTIAL_SECONDS must be a whole number, at least 600, not 'a day'"),
])
def test_a_setting_that_cannot_work_is_named_in_one_line(values, message):
    with pytest.raises(ValueError) as caught:
        rtc_configuration(values)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_a_turn_secret_gives_turn_servers_without_a_username_credentials_for_a_day_from_the_next_hour():
    servers = [{"urls": ["turn:relay.example.org:3478?transport=udp", "turns:relay.example.org:5349"]}, *STUN, *TURN]
    values = env(MOODMUSIC_ICE_SERVERS=servers, MOODMUSIC_TURN_SECRET="s3cret")
    now = 1_796_000_000.0  # 2026-11-28 00:53:20 UTC
    config = rtc_configuration(values, now=now)
    minted, stun, given = config["iceServers"]
    assert (stun, given) == (STUN[0], TURN[0])  # STUN needs none; a server with its own username keeps it
    assert minted["urls"] == servers[0]["urls"]
    assert (minted["username"], minted["credential"]) == turn_rest_credentials("s3cret", now, 86400)
    expiry = int(minted["username"].split(":")[0])
    assert expiry == 1_796_000_000 - 3200 + 3600 + 86400 and expiry - now >= 86400
    # Up to the full hour the page gets the same configuration (the widget is not re-sent on every rerun).
    assert rtc_configuration(values, now=now + 399) == config
    assert rtc_configuration(values, now=now + 400) != config
    shorter = rtc_configuration({**values, "MOODMUSIC_TURN_CREDENTIAL_SECONDS": "3600"}, now=now)
    assert int(shorter["iceServers"][0]["username"].split(":")[0]) == expiry - 86400 + 3600


def test_streamlit_webrtc_gives_the_policy_to_the_browser_and_the_servers_to_aiortc():
    from streamlit_webrtc.component import enhance_frontend_rtc_configuration
    from streamlit_webrtc.config import compile_rtc_configuration

    config = rtc_configuration(env(MOODMUSIC_ICE_SERVERS=TURN, MOODMUSIC_ICE_TRANSPORT_POLICY="relay"))
    browser = enhance_frontend_rtc_configuration.__wrapped__(config)  # what the component sends the page
    assert browser["iceTransportPolicy"] == "relay" and browser["iceServers"] == TURN
    server = compile_rtc_configuration(config)  # what the server's aiortc peer gets
    assert [(s.urls, s.username, s.credential) for s in server.iceServers] == [(TURN[0]["urls"], "u", "p")]


async def _relay_one_datagram(port: int, username: str, password: str, transport: str = "udp") -> bytes:
    """Allocate on the TURN server at 127.0.0.1:port with these credentials (reaching it over `transport`)
    and send a datagram through the relay to a loopback peer."""
    from aioice.turn import create_turn_endpoint

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        peer.bind(("127.0.0.1", 0))
        peer.settimeout(5)
        relay, _ = await create_turn_endpoint(asyncio.DatagramProtocol, ("127.0.0.1", port), username, password,
                                              transport=transport)
        try:
            relay.sendto(b"through the relay", peer.getsockname())
            data, _ = await asyncio.get_running_loop().run_in_executor(None, peer.recvfrom, 100)
            return data
        finally:
            relay.close()


@pytest.fixture(scope="module")
def secret_turn(tmp_path_factory):
    reason = coturn.available()
    if reason:
        pytest.skip(reason)
    server = coturn.start_coturn(tmp_path_factory.mktemp("coturn"), secret="s3cret")
    yield server
    server.stop()


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_coturn_relays_for_the_minted_credentials(secret_turn, transport):
    values = env(MOODMUSIC_ICE_SERVERS=[{"urls": [secret_turn.url]}], MOODMUSIC_TURN_SECRET="s3cret",
                 MOODMUSIC_TURN_CREDENTIAL_SECONDS="600")
    server = rtc_configuration(values)["iceServers"][0]
    data = asyncio.run(_relay_one_datagram(secret_turn.port, server["username"], server["credential"], transport))
    assert data == b"through the relay"
    assert coturn.relayed(secret_turn.log())["allocations"] >= 1


@pytest.mark.parametrize("fault", ["expired", "wrong secret"])
def test_coturn_refuses_expired_or_forged_credentials(secret_turn, fault):
    from aioice.stun import TransactionFailed

    if fault == "expired":  # minted two days ago for an hour: expired a day ago
        username, password = turn_rest_credentials("s3cret", time.time() - 2 * 86400, 3600)
    else:
        username, password = turn_rest_credentials("not-the-secret", time.time(), 3600)
    with pytest.raises(TransactionFailed) as caught:
        asyncio.run(_relay_one_datagram(secret_turn.port, username, password))
    assert "401" in str(caught.value), caught.value


def test_coturn_relays_for_long_term_credentials_given_in_the_list(tmp_path):
    reason = coturn.available()
    if reason:
        pytest.skip(reason)
    turn = coturn.start_coturn(tmp_path / "coturn", user="ann", password="pa55")
    try:
        server = rtc_configuration(env(MOODMUSIC_ICE_SERVERS=[
            {"urls": [turn.url], "username": "ann", "credential": "pa55"}]))["iceServers"][0]
        assert asyncio.run(_relay_one_datagram(turn.port, server["username"], server["credential"])) == (
            b"through the relay")
    finally:
        turn.stop()
