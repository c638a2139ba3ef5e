"""Read every waiting UDP datagram when a socket turns readable, not one per event-loop turn.

asyncio's selector loop reads a single datagram each time it finds a UDP
socket readable (`_SelectorDatagramTransport._read_ready`). aiortc receives
all of a session's media through such a socket, on the one event loop that
also runs Streamlit. A live session brings about 125 datagrams a second
(about 75 of video RTP, 50 of audio, and RTCP), so as soon as a loop turn
takes more than about 8 ms, the socket is read less often than datagrams
arrive. Media then waits in the socket's kernel buffer until it overflows
and drops datagrams; aiortc's jitter buffer stalls at a lost video packet
until a retransmission or a keyframe arrives, so pages say "camera off"
while their cameras stream. Reading every waiting datagram at once keeps
the buffer empty (docs/live.md has the measurements).

`install_datagram_drain()` makes each readiness event read up to `burst`
datagrams, stopping at the first that would block, with asyncio's own error
handling for each. It applies to every datagram endpoint of the process;
in the app, that is aiortc's ICE sockets.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_BURST = 64  # bounds one turn's reading, so a flood cannot hold the loop

# What asyncio's single-datagram reader uses; the drain relies on the same attributes.
_EXPECTED_NAMES = {"_conn_lost", "_sock", "recvfrom", "max_size", "_protocol", "datagram_received", "_fatal_error"}


def _transport_class() -> type | None:
    from asyncio import selector_events

    cls = getattr(selector_events, "_SelectorDatagramTransport", None)
    reader = getattr(cls, "_read_ready", None)
    if reader is None or getattr(reader, "moodmusic_drain", False):
        return cls
    if not _EXPECTED_NAMES <= set(reader.__code__.co_names):
        return None
    return cls


def drain_datagrams(transport: Any, burst: int) -> int:
    """Read up to `burst` datagrams waiting on `transport`'s socket into its protocol; returns how many."""
    received = 0
    for _ in range(burst):
        if transport._conn_lost:
            break
        try:
            data, addr = transport._sock.recvfrom(transport.max_size)
        except (BlockingIOError, InterruptedError):
            break
        except OSError as exc:
            transport._protocol.error_received(exc)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            transport._fatal_error(exc, "Fatal read error on datagram transport")
            break
        else:
            received += 1
            transport._protocol.datagram_received(data, addr)
    return received


def install_datagram_drain(burst: int = DEFAULT_BURST) -> bool:
    """Make asyncio's selector datagram transports read up to `burst` datagrams per readiness event.

    Idempotent. Returns False (and logs) where this Python's transport does not
    read datagrams the way the drain expects; asyncio's reader then stays.
    """
    if burst < 1:
        raise ValueError(f"burst must be at least 1, not {burst}")
    cls = _transport_class()
    if cls is None:
        log.warning("asyncio's datagram reader changed: UDP sockets keep reading one datagram per loop turn")
        return False
    if getattr(cls._read_ready, "moodmusic_drain", False):
        cls._read_ready.moodmusic_burst = burst  # type: ignore[attr-defined]
        return True

    def _read_ready(self: Any) -> None:
        drain_datagrams(self, _read_ready.moodmusic_burst)  # type: ignore[attr-defined]

    _read_ready.moodmusic_drain = True  # type: ignore[attr-defined]
    _read_ready.moodmusic_burst = burst  # type: ignore[attr-defined]
    _read_ready.moodmusic_original = cls._read_ready  # type: ignore[attr-defined]
    cls._read_ready = _read_ready
    return True


def uninstall_datagram_drain() -> None:
    """Put asyncio's own reader back (tests compare the two)."""
    cls = _transport_class()
    reader = getattr(cls, "_read_ready", None)
    if reader is not None and getattr(reader, "moodmusic_drain", False):
        cls._read_ready = reader.moodmusic_original  # type: ignore[union-attr]


__all__ = ["DEFAULT_BURST", "drain_datagrams", "install_datagram_drain", "uninstall_datagram_drain"]
