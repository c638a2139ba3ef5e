"""The last few seconds of mono audio, written by a callback thread, read by a worker."""

from __future__ import annotations

import threading

import numpy as np

from moodmusic.audio.constants import SAMPLE_RATE


class RingBuffer:
    """Fixed-capacity float32 ring; `total` counts every sample ever appended (an absolute clock).

    >>> r = RingBuffer(0.001, rate=4000)   # 4 samples
    >>> r.append(np.arange(6, dtype=np.float32))
    >>> r.latest(3), r.total
    (array([3., 4., 5.], dtype=float32), 6)
    """

    def __init__(self, seconds: float, rate: int = SAMPLE_RATE) -> None:
        capacity = int(round(seconds * rate))
        if capacity < 1:
            raise ValueError(f"a ring of {seconds} s at {rate} Hz holds no samples")
        self.rate = rate
        self.capacity = capacity
        self._buf = np.zeros(capacity, np.float32)
        self._total = 0
        self._lock = threading.Lock()

    @property
    def total(self) -> int:
        return self._total

    def append(self, x: np.ndarray) -> None:
        """Add samples, overwriting the oldest once full."""
        x = np.asarray(x, dtype=np.float32).reshape(-1)
        if x.size == 0:
            return
        with self._lock:
            cap = self.capacity
            skipped = max(0, x.size - cap)  # only the newest `cap` samples can survive
            x = x[skipped:]
            pos = (self._total + skipped) % cap
            first = min(x.size, cap - pos)
            self._buf[pos:pos + first] = x[:first]
            self._buf[: x.size - first] = x[first:]
            self._total += skipped + x.size

    def latest(self, n: int) -> np.ndarray:
        """A copy of the newest `n` samples (fewer if fewer are held), oldest first."""
        with self._lock:
            return self._read(self._total - min(n, self._total, self.capacity), self._total)

    def span(self, start: int, stop: int) -> np.ndarray | None:
        """Samples [start, stop) on the absolute clock, or None if they are not (or no longer) held."""
        with self._lock:
            if start < max(0, self._total - self.capacity) or stop > self._total or start > stop:
                return None
            return self._read(start, stop)

    def _read(self, start: int, stop: int) -> np.ndarray:
        idx = np.arange(start, stop) % self.capacity
        return self._buf[idx]
