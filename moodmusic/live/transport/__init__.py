"""Every patch this project makes to another library's internals, in one place, installed once.

The live page carries every session's media and Streamlit's page messages
on one event loop in one process. Four libraries were written for lighter
loads than that, and each patch below changes one internal of one of them
(why, and what it measured, is in each module and in docs/live.md). They
are process-wide, so they are installed once per process, by `install_all()`,
which the live page's streamer calls before `webrtc_streamer`.

`PATCHES` says what each one replaces, the library versions it was written
against and what it assumes about them; `tests/live/test_transport.py`
checks those assumptions against the installed libraries and names the
patch that an upgrade breaks. Each install also checks for itself and, when
its target has moved, logs and leaves the library as it is: the page works,
only slower.

This package is the one documented place outside `app.py`, `pages/` and
`moodmusic/ui/` that imports Streamlit: `batched_flush` and the relay swap
patch Streamlit's runtime, not its page API. Like `live/sources/`, it also
imports streamlit-webrtc, aiortc and PyAV. Importing this package imports
none of them: each patch module is imported when it is installed.
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Patch:
    """One patch of another library: what it changes, against which versions, and what it assumes."""

    name: str  # the module in this package
    install: str  # the module's install function, called without arguments
    target: str  # what it replaces or wraps
    written_against: tuple[tuple[str, str], ...]  # (distribution, version); "python" for the standard library
    assumes: str


PATCHES: tuple[Patch, ...] = (
    Patch(
        name="newest_video_relay",
        install="install_newest_video_relay",
        target="streamlit-webrtc's server-wide MediaRelay, kept on Streamlit's Runtime",
        written_against=(("streamlit-webrtc", "0.79.0"), ("streamlit", "1.67.0"), ("aiortc", "1.16.0")),
        assumes=(
            "streamlit_webrtc.relay keeps the relay on Runtime.instance() under _SERVER_GLOBAL_RELAY_ATTR_NAME_ "
            "and get_global_relay() creates one only when that attribute is unset; aiortc's "
            "MediaRelay.subscribe(track, buffered=True) hands out one proxy track per consumer"
        ),
    ),
    Patch(
        name="preview_encoder",
        install="install_preview_encoder",
        target="aiortc.rtcrtpsender.get_encoder (the VP8 encoder of every RTP sender)",
        written_against=(("aiortc", "1.16.0"), ("av", "18.1.0")),
        assumes=(
            "RTCRtpSender looks get_encoder up in aiortc.rtcrtpsender when it starts; Vp8Encoder.encode(frame, "
            "force_keyframe) reuses self.codec while its size and bit rate hold, and opens libvpx with the "
            "options VP8_OPTIONS copies (all but the denoiser)"
        ),
    ),
    Patch(
        name="datagram_drain",
        install="install_datagram_drain",
        target="asyncio.selector_events._SelectorDatagramTransport._read_ready",
        written_against=(("python", "3.11.7"),),
        assumes=(
            "the selector loop calls _read_ready once per readiness event, and it reads one datagram "
            "with self._sock.recvfrom(self.max_size) into self._protocol, the way drain_datagrams does"
        ),
    ),
    Patch(
        name="batched_flush",
        install="install_batched_flush",
        target="the asyncio module seen by streamlit.runtime.runtime",
        written_against=(("streamlit", "1.67.0"),),
        assumes=(
            "Runtime._loop_coroutine flushes each session's messages with `await asyncio.sleep(0)` "
            "after each one, looking asyncio up in streamlit.runtime.runtime's globals"
        ),
    ),
)

_lock = threading.Lock()
_installed: set[str] = set()


def install(patch: Patch) -> bool:
    """Install one patch now (its module is imported here); True when it is in place."""
    module = importlib.import_module(f"{__name__}.{patch.name}")
    return bool(getattr(module, patch.install)())


def install_all() -> dict[str, bool]:
    """Install every patch not yet in place in this process; thread-safe and idempotent.

    A patch that is in place is never installed again, so calling this on
    every page run costs a lock. One that could not be installed (its target
    moved, or, for the relay, Streamlit's runtime does not exist yet) is tried
    again at the next call. Returns whether each patch is in place, by name.
    """
    with _lock:
        for patch in PATCHES:
            if patch.name not in _installed and install(patch):
                _installed.add(patch.name)
        return {patch.name: patch.name in _installed for patch in PATCHES}


__all__ = ["PATCHES", "Patch", "install", "install_all"]
