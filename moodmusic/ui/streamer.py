"""The seam around `webrtc_streamer`: the one call AppTest cannot run.

Tests of the page replace `render` (AppTest runs the script in-process), and
the real browser test exercises the real thing.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import streamlit as st

from moodmusic.live import LiveSession, load
from moodmusic.live.sources.webrtc import make_callbacks, media_constraints, rtc_configuration
from moodmusic.live.transport import install_all


def render(get_session: Callable[[], LiveSession | None], key: str = "moodmusic-live", capture_fps: float = 30.0,
           capture_size: tuple[int, int] = (480, 360), max_sessions: int = 0) -> bool:
    """Show the START/STOP widget with the overlay video; return True while streaming.

    With `max_sessions` (MOODMUSIC_MAX_LIVE_SESSIONS) others already streaming
    from this process, a session that is not streaming yet gets a note and a
    "Try again" button instead of START: one more would slow every session
    down (docs/deploy.md), and a deploy's other replicas may have room.
    """
    if load.full(max_sessions, get_session()):
        busy_note(load.streaming(besides=get_session()), key)
        return False
    from streamlit_webrtc import WebRtcMode, create_audio_sink_track, webrtc_streamer

    try:
        rtc = rtc_configuration()
    except ValueError as exc:
        st.error(str(exc))
        return False
    # Once per process: stale video is skipped, not queued; the preview is encoded without libvpx's
    # denoiser; every waiting media datagram is read per loop turn; page messages leave in batches.
    install_all()
    video_cb, audio_cb = make_callbacks(get_session)
    # Audio is consumed by a sink, not echoed back: with sendback_audio=False and an
    # audio_frame_callback, nothing pulls the processed track and the callback never runs.
    audio_sink = create_audio_sink_track(audio_cb, key=f"{key}-audio-sink")
    ctx = webrtc_streamer(
        key=key,
        mode=WebRtcMode.SENDRECV,
        rtc_configuration=rtc,
        media_stream_constraints=media_constraints(capture_fps, capture_size),
        video_frame_callback=video_cb,
        sink_audio_track=audio_sink,
        sendback_audio=False,
        async_processing=True,
        video_html_attrs={"autoPlay": True, "controls": False, "muted": True, "style": {"width": "100%"}},
    )
    note_connecting(bool(ctx.state.signalling), bool(ctx.state.playing), rtc)
    return bool(ctx.state.playing)


def busy_note(streaming: int, key: str) -> None:
    """What a visitor sees instead of START while this server streams as many sessions as it takes."""
    st.warning(f"This server is busy: it is already streaming {streaming} live sessions, as many as it takes "
               "at a good frame rate. Try again in a minute, or analyse a recording on the *Analyse a clip* page.",
               icon="⏳")
    st.button("Try again", key=f"{key}-try-again")  # pressing it reruns the page, which checks again


CONNECTING_KEY = "mm-rtc-connecting"  # session_state: (since when START has been connecting, relay-only?)
SLOW_CONNECT_S = 8.0  # a connection on loopback or a LAN takes about a second; a relay a few


def note_connecting(signalling: bool, playing: bool, rtc: dict | None) -> None:
    """Remember since when START has been trying to connect (the page's status says so after a while)."""
    if signalling and not playing:
        relay_only = bool(rtc and rtc.get("iceTransportPolicy") == "relay")
        st.session_state.setdefault(CONNECTING_KEY, (time.time(), relay_only))
    else:
        st.session_state.pop(CONNECTING_KEY, None)


def connection_state(engine_state: str, connecting: tuple[float, bool] | None, now: float | None = None) -> str:
    """The engine's state, or why no video came yet when START has been connecting for a while.

    The engine alone would say "waiting for the camera" while the camera works and
    the connection to the server is what fails (a relay that is down, a firewall).
    `connecting` is what `note_connecting` kept: (since when, relay-only?).

    >>> connection_state("waiting", (100.0, True), now=103.0), connection_state("waiting", (100.0, True), now=109.0)
    ('waiting', 'relay failing')
    >>> connection_state("waiting", (100.0, False), now=109.0), connection_state("no face", (100.0, False), now=109.0)
    ('connecting', 'no face')
    """
    if engine_state != "waiting" or connecting is None:
        return engine_state
    started, relay_only = connecting
    if (time.time() if now is None else now) - started < SLOW_CONNECT_S:
        return engine_state
    return "relay failing" if relay_only else "connecting"
