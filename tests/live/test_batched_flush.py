"""Batched page flushes: Streamlit's runtime yields once per batch of messages, not after each one."""

from __future__ import annotations

import asyncio

import pytest

from moodmusic.live.transport.batched_flush import BatchedAsyncio, install_batched_flush, uninstall_batched_flush


def _turns_taken(sleeper, calls: int) -> int:
    """How many loop turns `calls` awaits of sleeper.sleep(0) take, counted by a task that ticks each turn."""

    async def run() -> int:
        ticks = 0
        stop = False

        async def ticker() -> None:
            nonlocal ticks
            while not stop:
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0)  # let the ticker start
        start = ticks
        for _ in range(calls):
            await sleeper.sleep(0)
        stop = True
        await task
        return ticks - start

    return asyncio.run(run())


def test_asyncio_yields_a_turn_per_sleep_zero_and_the_batched_one_per_batch():
    assert _turns_taken(asyncio, 64) == 64
    assert _turns_taken(BatchedAsyncio(asyncio, 32), 64) == 2


def test_other_names_and_real_delays_are_asyncios():
    batched = BatchedAsyncio(asyncio, 8)
    assert batched.Event is asyncio.Event and batched.wait is asyncio.wait

    async def run() -> tuple[str, float]:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        value = await batched.sleep(0.05, result="done")
        return value, loop.time() - t0

    value, waited = asyncio.run(run())
    assert value == "done" and waited >= 0.045


def test_install_swaps_the_runtimes_asyncio_and_uninstall_restores_it():
    from streamlit.runtime import runtime

    uninstall_batched_flush()
    assert runtime.asyncio is asyncio
    try:
        assert install_batched_flush(batch=16) and install_batched_flush(batch=8)  # idempotent, re-tuned
        assert isinstance(runtime.asyncio, BatchedAsyncio) and runtime.asyncio.batch == 8
        assert runtime.asyncio.real is asyncio
    finally:
        uninstall_batched_flush()
    assert runtime.asyncio is asyncio
    with pytest.raises(ValueError, match="batch"):
        install_batched_flush(batch=0)
