"""A resampler that keeps its filter state between blocks, so a stream has no seams.

Resampling each 20 ms WebRTC frame on its own restarts the filter at every
border and clicks 50 times a second; this one carries the filter's history
(libsoxr's streaming API), so pushing a clip block by block gives the same
samples as resampling it in one go — which is what lets training, files and
the live stream share one feature path.
"""

from __future__ import annotations

import numpy as np
import soxr

from moodmusic.audio.constants import SAMPLE_RATE

_MIN_RATE, _MAX_RATE = 1000, 768000


class StreamResampler:
    """Mono float32 at `in_rate` → mono float32 at `out_rate`, block by block, stateful.

    Output may lag input by a few milliseconds (filter delay); `flush()` returns
    the tail at the end of a stream and makes the resampler ready for a new one.
    """

    def __init__(self, in_rate: int, out_rate: int = SAMPLE_RATE) -> None:
        for name, rate in (("in_rate", in_rate), ("out_rate", out_rate)):
            if not _MIN_RATE <= int(rate) <= _MAX_RATE or int(rate) != rate:
                raise ValueError(f"{name} must be a whole number of Hz in [{_MIN_RATE}, {_MAX_RATE}], got {rate}")
        self.in_rate = int(in_rate)
        self.out_rate = int(out_rate)
        self._stream = (
            None if self.in_rate == self.out_rate
            else soxr.ResampleStream(self.in_rate, self.out_rate, 1, dtype="float32", quality="HQ")
        )

    def process(self, mono: np.ndarray) -> np.ndarray:
        """Resample the next block of the stream (1-D float32); may return fewer samples than expected."""
        x = np.ascontiguousarray(mono, dtype=np.float32).reshape(-1)
        if self._stream is None:
            return x.copy()
        return self._stream.resample_chunk(x)

    def flush(self) -> np.ndarray:
        """Return the samples still inside the filter and start afresh."""
        if self._stream is None:
            return np.zeros(0, np.float32)
        tail = self._stream.resample_chunk(np.zeros(0, np.float32), last=True)
        self._stream.clear()
        return tail
