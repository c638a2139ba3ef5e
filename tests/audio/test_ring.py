"""The ring keeps the newest samples in order, on an absolute clock, under concurrent use."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from moodmusic.audio import RingBuffer


def test_keeps_the_newest_samples_in_order_across_the_wrap():
    ring = RingBuffer(seconds=1.0, rate=10)  # 10 samples
    for start in range(0, 37, 3):
        ring.append(np.arange(start, start + 3, dtype=np.float32))
    assert ring.total == 39
    np.testing.assert_array_equal(ring.latest(10), np.arange(29, 39))
    np.testing.assert_array_equal(ring.latest(4), np.arange(35, 39))


def test_a_block_longer_than_the_ring_keeps_its_tail():
    ring = RingBuffer(seconds=1.0, rate=10)
    ring.append(np.arange(3, dtype=np.float32))
    ring.append(np.arange(100, 125, dtype=np.float32))
    assert ring.total == 28
    np.testing.assert_array_equal(ring.latest(10), np.arange(115, 125))


def test_latest_returns_only_what_is_held():
    ring = RingBuffer(seconds=1.0, rate=10)
    assert ring.latest(5).size == 0
    ring.append(np.ones(3, np.float32))
    assert ring.latest(5).size == 3


def test_span_reads_by_absolute_position_and_refuses_what_is_gone():
    ring = RingBuffer(seconds=1.0, rate=10)
    ring.append(np.arange(25, dtype=np.float32))
    np.testing.assert_array_equal(ring.span(17, 22), np.arange(17, 22))
    assert ring.span(10, 20) is None  # overwritten
    assert ring.span(20, 30) is None  # not yet received


def test_latest_is_a_copy():
    ring = RingBuffer(seconds=1.0, rate=10)
    ring.append(np.ones(5, np.float32))
    ring.latest(5)[:] = 7
    np.testing.assert_array_equal(ring.latest(5), np.ones(5))


def test_a_reader_never_sees_a_half_written_block():
    """One thread appends a rising ramp while another reads: every read must be a contiguous ramp."""
    ring = RingBuffer(seconds=0.1, rate=16000)
    stop = threading.Event()
    bad: list[np.ndarray] = []

    def writer() -> None:
        n = 0
        while not stop.is_set() and n < 2_000_000:
            ring.append(np.arange(n, n + 320, dtype=np.float64).astype(np.float32))
            n += 320

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for _ in range(2000):
            window = ring.latest(1000).astype(np.float64)
            if window.size > 1 and not np.all(np.diff(window) == 1):
                bad.append(window)
    finally:
        stop.set()
        thread.join()
    assert not bad


def test_an_empty_ring_is_refused():
    with pytest.raises(ValueError):
        RingBuffer(seconds=0.0)
