"""The adapter a live source talks to: push raw frames in, read mono 16 kHz windows out.

It chains `to_mono_float` → `StreamResampler` → `RingBuffer`, the same
conversion `media.read_audio` uses for files, so a window read here is what a
file would give for the same sound.
"""

from __future__ import annotations

import threading

import numpy as np

from moodmusic.audio.constants import SAMPLE_RATE, WINDOW_SECONDS
from moodmusic.audio.pcm import to_mono_float
from moodmusic.audio.resample import StreamResampler
from moodmusic.audio.ring import RingBuffer


class AudioStream:
    """Thread-safe: one thread may `push` while another reads `window`."""

    def __init__(self, seconds: float = 6.0) -> None:
        """`seconds`: how much audio to keep; at least one window."""
        if seconds < WINDOW_SECONDS:
            raise ValueError(f"an AudioStream must hold at least a {WINDOW_SECONDS} s window, got {seconds} s")
        self.ring = RingBuffer(seconds, SAMPLE_RATE)
        self._resampler: StreamResampler | None = None
        self._lock = threading.Lock()

    @property
    def total(self) -> int:
        """Samples at 16 kHz received so far: the clock windows are placed on."""
        return self.ring.total

    @property
    def input_rate(self) -> int | None:
        return self._resampler.in_rate if self._resampler else None

    def push(self, samples: np.ndarray, rate: int, channels: int, planar: bool = False) -> None:
        """Add one frame of raw PCM in any layout; a change of rate starts a new resampler."""
        mono = to_mono_float(samples, channels, planar)
        with self._lock:
            if self._resampler is None or self._resampler.in_rate != rate:
                if self._resampler is not None:
                    self.ring.append(self._resampler.flush())
                self._resampler = StreamResampler(rate, SAMPLE_RATE)
            self.ring.append(self._resampler.process(mono))

    def window(self, seconds: float = WINDOW_SECONDS, end: int | None = None) -> np.ndarray | None:
        """The newest `seconds` of audio (or the one ending at sample `end`); None until that much arrived."""
        n = int(round(seconds * SAMPLE_RATE))
        if end is None:
            if self.ring.total < n:
                return None
            return self.ring.latest(n)
        return self.ring.span(end - n, end) if end >= n else None
