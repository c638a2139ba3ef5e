"""How busy this server process is: the live pages it serves, and how often they should refresh.

Every session of a server shares one Python process: one event loop carries
all their media and Streamlit's page messages, and one GIL runs their
engines and page scripts. Streamlit sends a session's page messages one per
event-loop turn, so each page refresh (a fragment run: about 6 messages)
costs every other session loop turns, and its script run costs GIL time the
engines need. Measured with four headless visitors on two cores
(`bench --live --sessions 4 --client aiortc`, 2026-11-29): with the pages at
their normal rates the engines read 3-5 frames a second each; with the
refresh intervals tripled, 8-9. So a page refreshes at full speed while the
server has at most one other open page, and more slowly with each page
beyond. An open page counts whether or not it streams: its parts refresh
all the same.

>>> [refresh_pace(n) for n in (0, 1, 2, 3, 4, 12)]
[1.0, 1.0, 1.0, 2.0, 3.0, 4.0]
"""

from __future__ import annotations

import threading
import weakref
from typing import Protocol

FULL_SPEED_SESSIONS = 2  # up to this many open pages, pages refresh at their normal rates
MAX_PACE = 4.0  # the slowest: a mood badge every second instead of every quarter second


class _Session(Protocol):
    @property
    def closed(self) -> bool: ...


_sessions: weakref.WeakSet = weakref.WeakSet()
_lock = threading.Lock()


def register(session: _Session) -> None:
    """Count `session` (a LiveSession) in this process's load while it lives."""
    with _lock:
        _sessions.add(session)


def sessions() -> list:
    """The registered sessions that are still open."""
    with _lock:
        return [s for s in _sessions if not s.closed]


STREAMING_WITHIN_S = 3.0  # a session that got no media for this long has stopped: it frees its place
KEEP_PLACE_S = 10.0  # a streaming session keeps its place through a gap in its media this long


def _receiving(session: object, within: float) -> bool:
    """A live session's or a game's `receiving(within)`; False for anything without one."""
    receiving = getattr(session, "receiving", None)
    return bool(receiving and receiving(within))


def streaming(besides: object = None, within: float = STREAMING_WITHIN_S) -> int:
    """How many open sessions, other than `besides`, received media in the last `within` seconds."""
    return sum(1 for s in sessions() if s is not besides and _receiving(s, within))


def full(limit: int, session: object = None) -> bool:
    """Whether `session` may not start streaming: `limit` others already do (0: no limit); a streaming one may go on.

    >>> full(0), full(2)  # no one streams in this doctest's process
    (False, False)
    """
    if limit <= 0:
        return False
    if session is not None and _receiving(session, KEEP_PLACE_S):
        return False
    return streaming(besides=session) >= limit


def refresh_pace(open_sessions: int) -> float:
    """The factor for a page's refresh intervals: 1 up to `FULL_SPEED_SESSIONS` open pages, +1 per page beyond."""
    return float(min(MAX_PACE, max(1, open_sessions - FULL_SPEED_SESSIONS + 1)))
