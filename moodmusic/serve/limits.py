"""What protects the server: the upload size (413) and the analyses running at once (503).

`BodyLimit` refuses a body over the limit before it is read (by its
Content-Length) or as soon as it passes the limit (a chunked upload), so an
upload never fills the disk. `Gate` lets `slots` analyses run at once per
worker process; a request waits up to `wait_s` for a slot, then gets 503 with
Retry-After: analyses are CPU-bound, and a queue longer than that only makes
every answer late.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import HTTPException
from fastapi.responses import JSONResponse


def too_large_message(max_bytes: int) -> str:
    return (f"the upload is larger than this server's limit of {max_bytes / 1e6:g} MB (MOODMUSIC_API_MAX_MB): "
            "send a shorter or smaller file")


class BodyLimit:
    """ASGI middleware: bodies sent to `paths` larger than `max_bytes` get 413 {"error"}."""

    def __init__(self, app: Any, max_bytes: int, paths: Iterable[str]) -> None:
        self.app, self.max_bytes, self.paths = app, max_bytes, frozenset(paths)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _drain(receive, DRAIN_BYTES)
            await JSONResponse({"error": too_large_message(self.max_bytes)}, status_code=413,
                               headers={"Connection": "close"})(scope, receive, send)
            return
        seen = 0

        async def counted() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:  # FastAPI passes an HTTPException from the body on as it is
                    if message.get("more_body"):
                        await _drain(receive, DRAIN_BYTES)
                    raise HTTPException(413, too_large_message(self.max_bytes))
            return message

        await self.app(scope, counted, send)


DRAIN_BYTES = 64 * 1024 * 1024  # read and drop up to this much of a refused body, so the client can read the 413


async def _drain(receive: Any, budget: int) -> None:
    """Read a refused body into nothing: a client still sending when the socket closes sees a reset, not the 413.

    Past `budget` the connection is closed anyway; the client is then sending far more than allowed.
    """
    while budget > 0:
        message = await receive()
        if message["type"] != "http.request":
            return
        budget -= len(message.get("body", b""))
        if not message.get("more_body"):
            return


class Busy(Exception):
    """Every analysis slot stayed busy for the whole wait."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the server is busy with other analyses; try again in {retry_after} s")
        self.retry_after = retry_after


class Gate:
    """At most `slots` analyses at once in this process; others wait up to `wait_s`, then `Busy`."""

    def __init__(self, slots: int, wait_s: float) -> None:
        if slots < 1:
            raise ValueError(f"slots must be at least 1, got {slots}")
        self.slots, self.wait_s = slots, wait_s
        self._free = asyncio.Semaphore(slots)
        self.running = 0
        self.waiting = 0
        self._mean_s = 1.0  # a running mean of how long one analysis takes, for Retry-After

    def retry_after(self) -> int:
        """Seconds until a slot is likely free: the queue ahead, at the mean analysis time."""
        return max(1, math.ceil(self._mean_s * (self.waiting + 1) / self.slots))

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self._free.locked() and self.wait_s <= 0:
            raise Busy(self.retry_after())
        self.waiting += 1
        try:
            if self._free.locked():
                await asyncio.wait_for(self._free.acquire(), timeout=self.wait_s)
            else:  # free now: take it (wait_for with a timeout of 0 would refuse even a free slot)
                await self._free.acquire()
        except TimeoutError:
            raise Busy(self.retry_after()) from None
        finally:
            self.waiting -= 1
        self.running += 1
        start = time.perf_counter()
        try:
            yield
        finally:
            self.running -= 1
            self._mean_s = 0.8 * self._mean_s + 0.2 * (time.perf_counter() - start)
            self._free.release()
