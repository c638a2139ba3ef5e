"""The WebRTC source: streamlit-webrtc callbacks that feed a LiveSession.

Callbacks run in aiortc's worker threads. They convert PyAV frames to arrays,
hand them to the session with their capture time (so it can shed frames the
transport delivered late) and return at once; they never touch `st.*`. The
library swallows exceptions raised in callbacks (and the track stops), so
every callback catches, logs and counts its own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import av
import cv2
import numpy as np

from moodmusic.live.session import VIDEO_THREAD, LiveSession, Overlay, name_os_thread
from moodmusic.vision import draw_overlay, draw_overlay_i420

log = logging.getLogger(__name__)

TURN_VARIABLES = (
    ("CLOUDFLARE_TURN_KEY_ID", "CLOUDFLARE_TURN_KEY_API_TOKEN"),
    ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"),
    ("HF_TOKEN",),
)

def media_constraints(fps: float = 30.0, size: tuple[int, int] = (480, 360)) -> dict[str, Any]:
    """What the page asks the browser for: a `size` picture at `fps`, and the raw microphone.

    Chrome's speech processing damps speech-like signals about 9x (see
    NOTES), so it is turned off. Below 30 fps the rate is also a maximum:
    Chrome then drops camera frames before encoding them, which is what
    saves the server (and the browser) work; `ideal` alone still gets the
    camera's 30. Every frame a session sends costs the server receiving,
    decoding, reading and re-encoding it, and most of that grows with its
    pixels: in live sessions a 480x360 frame costs the server about 15% less
    than a 640x480 one, and the face expert reads the same faces from it
    (docs/performance.md#the-cameras-picture-size). A server that must carry
    more sessions asks for fewer frames (MOODMUSIC_CAPTURE_FPS) or smaller
    ones (MOODMUSIC_CAPTURE_SIZE).

    >>> media_constraints(15, (320, 240))["video"]
    {'width': {'ideal': 320}, 'height': {'ideal': 240}, 'frameRate': {'ideal': 15, 'max': 15}}
    """
    rate: dict[str, float] = {"ideal": fps} if fps >= 30 else {"ideal": fps, "max": fps}
    width, height = size
    return {
        "video": {"width": {"ideal": width}, "height": {"ideal": height}, "frameRate": rate},
        "audio": {"echoCancellation": False, "noiseSuppression": False, "autoGainControl": False},
    }


def turn_configured(env: dict[str, str] | None = None) -> bool:
    """True when credentials for a TURN relay (or explicit ICE servers) are present."""
    env = os.environ if env is None else env
    if env.get("MOODMUSIC_ICE_SERVERS"):
        return True
    return any(all(env.get(name) for name in group) for group in TURN_VARIABLES)


ICE_TRANSPORT_POLICIES = ("all", "relay")


def ice_transport_policy(env: dict[str, str] | None = None) -> str:
    """MOODMUSIC_ICE_TRANSPORT_POLICY: "all" (the default) or "relay".

    "relay" makes the browser send its media only through a TURN relay, never
    straight to the server: what a visitor behind a strict firewall needs, and
    how a deployment proves its relay works (tests/browser/test_turn.py).
    """
    env = os.environ if env is None else env
    policy = env.get("MOODMUSIC_ICE_TRANSPORT_POLICY", "").strip().lower() or "all"
    if policy not in ICE_TRANSPORT_POLICIES:
        raise ValueError(f"MOODMUSIC_ICE_TRANSPORT_POLICY must be all or relay, not {policy!r}")
    return policy


def _turn_urls(server: Any) -> list[str]:
    urls = server.get("urls", []) if isinstance(server, dict) else []
    return [u for u in ([urls] if isinstance(urls, str) else urls)
            if isinstance(u, str) and u.strip().lower().startswith(("turn:", "turns:"))]


TURN_USER = "moodmusic"
DEFAULT_TURN_CREDENTIAL_SECONDS = 86400


def turn_rest_credentials(secret: str, now: float, seconds: int, user: str = TURN_USER) -> tuple[str, str]:
    """Time-limited TURN credentials (the TURN REST API that coturn's `static-auth-secret` checks).

    The username is "<expiry>:<user>" and the password base64(HMAC-SHA1(secret,
    username)): the relay checks them with the shared secret alone, and they
    stop working at the expiry, so the page can hand them to every browser
    without giving the relay away for good. The expiry is counted from the
    next full hour, so the configuration stays the same for an hour (the
    widget is not re-sent on every rerun) and still lasts at least `seconds`.

    >>> turn_rest_credentials("s3cret", now=7200.5, seconds=86400)
    ('97200:moodmusic', '9Nple3inUCGB4kzvDGjGzpW3rZs=')
    """
    expiry = (int(now) // 3600 + 1) * 3600 + seconds
    username = f"{expiry}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def _turn_credential_seconds(env: dict[str, str]) -> int:
    raw = env.get("MOODMUSIC_TURN_CREDENTIAL_SECONDS", "").strip()
    if not raw:
        return DEFAULT_TURN_CREDENTIAL_SECONDS
    try:
        seconds = int(raw)
    except ValueError:
        seconds = 0
    if seconds < 600:
        raise ValueError(f"MOODMUSIC_TURN_CREDENTIAL_SECONDS must be a whole number, at least 600, not {raw!r}")
    return seconds


def rtc_configuration(env: dict[str, str] | None = None, now: float | None = None) -> dict[str, Any] | None:
    """ICE configuration for `webrtc_streamer`.

    Explicit `MOODMUSIC_ICE_SERVERS` (a JSON list) wins; with TURN credentials
    return None so streamlit-webrtc fetches relay servers itself; with neither,
    an empty list, which works on this computer and its network with no
    outside lookups.

    With MOODMUSIC_TURN_SECRET (your coturn's `static-auth-secret`), each TURN
    server in the list that names no username gets time-limited credentials
    (`turn_rest_credentials`, valid MOODMUSIC_TURN_CREDENTIAL_SECONDS).

    With MOODMUSIC_ICE_TRANSPORT_POLICY=relay the configuration also carries
    `iceTransportPolicy: "relay"`. streamlit-webrtc hands the whole dict to
    the browser's RTCPeerConnection, which then offers only relayed
    candidates, and gives the server (aiortc) just its `iceServers`. Relay-only
    needs a TURN server named in MOODMUSIC_ICE_SERVERS: the providers'
    servers are fetched inside streamlit-webrtc, where no policy can be added.
    """
    env = os.environ if env is None else env
    policy = ice_transport_policy(env)
    secret = env.get("MOODMUSIC_TURN_SECRET", "").strip()
    raw = env.get("MOODMUSIC_ICE_SERVERS", "").strip()
    if raw:
        try:
            servers = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"MOODMUSIC_ICE_SERVERS is not valid JSON: {exc.msg}") from None
        if not isinstance(servers, list):
            raise ValueError("MOODMUSIC_ICE_SERVERS must be a JSON list of ICE servers")
        if secret:
            username, credential = turn_rest_credentials(
                secret, time.time() if now is None else now, _turn_credential_seconds(env))
            servers = [{**server, "username": username, "credential": credential}
                       if _turn_urls(server) and not server.get("username") else server for server in servers]
        if policy == "relay":
            if not any(_turn_urls(server) for server in servers):
                raise ValueError("MOODMUSIC_ICE_TRANSPORT_POLICY=relay needs a turn: or turns: URL "
                                 "in MOODMUSIC_ICE_SERVERS")
            return {"iceServers": servers, "iceTransportPolicy": "relay"}
        return {"iceServers": servers}
    if secret:
        raise ValueError("MOODMUSIC_TURN_SECRET needs your TURN server's URL in MOODMUSIC_ICE_SERVERS")
    if policy == "relay":
        raise ValueError("MOODMUSIC_ICE_TRANSPORT_POLICY=relay needs your TURN server in MOODMUSIC_ICE_SERVERS")
    if turn_configured(env):
        return None
    return {"iceServers": []}


def audio_frame_to_array(frame: av.AudioFrame) -> tuple[np.ndarray, int, int, bool]:
    """(samples, rate, channels, planar) exactly as PyAV holds them."""
    samples = frame.to_ndarray()
    return samples, int(frame.sample_rate), len(frame.layout.channels), bool(frame.format.is_planar)


def bgr_to_video_frame(image: np.ndarray) -> av.VideoFrame:
    """A BGR picture as the yuv420p frame the VP8 encoder wants.

    Handed bgr24, aiortc's encoder converts with swscale first: 2.6 ms per
    640x480 frame here, against 0.5 ms for OpenCV's conversion, on every
    frame sent back. Odd sizes, which 4:2:0 cannot hold, stay bgr24.
    """
    h, w = image.shape[:2]
    if h % 2 or w % 2:
        return av.VideoFrame.from_ndarray(image, format="bgr24")
    return av.VideoFrame.from_ndarray(cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420), format="yuv420p")


def overlay_frame(frame: av.VideoFrame, image: np.ndarray, overlay: Overlay) -> av.VideoFrame:
    """`frame` with `overlay` drawn, as the yuv420p frame the VP8 encoder wants.

    A yuv420p frame (what browsers send) is drawn on in its own planes:
    converting to BGR and back cost 0.8 ms of the engine's 12 per frame.
    Other formats are drawn on `image`, the frame as BGR.
    """
    if frame.format.name == "yuv420p" and frame.width % 2 == 0 and frame.height % 2 == 0:
        planes = draw_overlay_i420(frame.to_ndarray(), overlay.faces, overlay.label, copy=False)  # a fresh array
        return av.VideoFrame.from_ndarray(planes, format="yuv420p")
    return bgr_to_video_frame(draw_overlay(image, overlay.faces, overlay.label))


def make_callbacks(
    get_session: Callable[[], LiveSession | None],
) -> tuple[Callable[[av.VideoFrame], av.VideoFrame], Callable[[av.AudioFrame], av.AudioFrame]]:
    """Video and audio callbacks bound to whatever session `get_session` returns now."""

    named = threading.local()

    def video_callback(frame: av.VideoFrame) -> av.VideoFrame:
        if not getattr(named, "done", False):  # so `top -H` and `bench --live` can tell the engine's CPU apart
            name_os_thread(VIDEO_THREAD)
            named.done = True
        session = get_session()
        if session is None or session.closed:
            return frame
        try:
            image = frame.to_ndarray(format="bgr24")
            overlay = session.read_video(image, pixel_format="bgr", media_time=frame.time)
            if not overlay.faces:  # nothing to draw: send the frame as it came
                return frame
            new = overlay_frame(frame, image, overlay)
            new.pts = frame.pts
            if frame.time_base is not None:
                new.time_base = frame.time_base
            return new
        except Exception:
            session.counters["errors"] = session.counters.get("errors", 0) + 1
            log.exception("video callback failed; passing the frame through")
            return frame

    def audio_callback(frame: av.AudioFrame) -> av.AudioFrame:
        session = get_session()
        if session is not None and not session.closed:
            try:
                samples, rate, channels, planar = audio_frame_to_array(frame)
                session.post_audio(samples, rate=rate, channels=channels, planar=planar, media_time=frame.time)
            except Exception:
                session.counters["errors"] = session.counters.get("errors", 0) + 1
                log.exception("audio callback failed; the stream continues")
        return frame

    return video_callback, audio_callback
