"""Send each page's queued messages to the browser in batches, not one per event-loop turn.

Streamlit's runtime flushes a session's queued messages with an
`await asyncio.sleep(0)` after every message (`Runtime._loop_coroutine`), so
an update of N messages takes N turns of the event loop. The live page's
loop also carries every session's media (aiortc's RTP, SRTP and RTCP, the
relays), and when several sessions share a small server a turn takes a
tenth of a second or more. A fragment run sends about six messages, so its
update takes about a second to leave; runs are queued faster than that, and
the pages stop changing while their engines go on reading (docs/live.md has
the measurements). With this, the flush yields once per `batch` messages: a
long flush still lets the loop's other work in, but a page's update leaves
in one turn.

`install_batched_flush()` swaps the `asyncio` module seen by Streamlit's
runtime module for a proxy whose `sleep(0)` yields only every `batch`-th
call; every other name is asyncio's own.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_BATCH = 32


async def _ready(result: Any = None) -> Any:
    return result


class BatchedAsyncio:
    """The asyncio module, except that `sleep(0)` suspends only on every `batch`-th call."""

    def __init__(self, real: Any, batch: int) -> None:
        self.real, self.batch, self.calls = real, batch, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def sleep(self, delay: float, result: Any = None) -> Any:
        if delay == 0:
            self.calls += 1
            if self.calls % self.batch:
                return _ready(result)  # awaiting it completes at once, without a loop turn
        return self.real.sleep(delay, result)


def install_batched_flush(batch: int = DEFAULT_BATCH) -> bool:
    """Have Streamlit's runtime yield once per `batch` messages it sends; idempotent.

    Returns False (and logs) where this Streamlit's runtime no longer flushes
    the way this expects; it then sends as it always did.
    """
    if batch < 1:
        raise ValueError(f"batch must be at least 1, not {batch}")
    from streamlit.runtime import runtime

    current = getattr(runtime, "asyncio", None)
    if isinstance(current, BatchedAsyncio):
        current.batch = batch
        return True
    flush = getattr(getattr(runtime, "Runtime", None), "_loop_coroutine", None)
    if current is not asyncio or flush is None or "sleep" not in flush.__code__.co_names:
        log.warning("Streamlit's runtime changed: page messages keep leaving one per event-loop turn")
        return False
    runtime.asyncio = BatchedAsyncio(asyncio, batch)  # type: ignore[attr-defined]
    return True


def uninstall_batched_flush() -> None:
    """Give Streamlit's runtime the asyncio module back (tests compare the two)."""
    from streamlit.runtime import runtime

    if isinstance(getattr(runtime, "asyncio", None), BatchedAsyncio):
        runtime.asyncio = asyncio  # type: ignore[attr-defined]
