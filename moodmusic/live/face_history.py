"""The face's opinion over the last second, not the last frame.

A talking face is not a still one: mid-word the mouth opens, and a model
trained on FER2013's mostly silent stills reads that frame as surprise or
fear. Expressions last seconds, syllables a fifth of one, so the face
expert's answers over a short history are pooled as a geometric mean (a sum
of log-probabilities): a mood must be there in most frames to lead, and one
open-mouthed frame cannot swing it. On one MEAD speaker's talking clips,
pooling over 1 s took the per-frame reading from 68% to 73% right and from
about 100 to about 7 changes of the top mood a minute (docs/live.md).

>>> import numpy as np
>>> h = FaceHistory(seconds=1.0)
>>> sad, surprise = np.array([.05, .05, .05, .1, .7, .05]), np.array([.05, .1, .05, .05, .05, .7])
>>> for t in range(5):
...     _ = h.add(t * 0.1, sad)
>>> int(h.add(0.5, surprise).argmax())   # one open-mouthed frame: still sad
4
"""

from __future__ import annotations

from collections import deque

import numpy as np


class FaceHistory:
    """Geometric mean of the face expert's probabilities over the last `seconds` (frame-rate independent)."""

    def __init__(self, seconds: float = 1.0) -> None:
        self.seconds = seconds
        self._rows: deque[tuple[float, np.ndarray]] = deque()

    def add(self, t: float, probs: np.ndarray) -> np.ndarray:
        """Record the expert's answer at time t; return the pooled distribution (sums to 1)."""
        logp = np.log(np.clip(np.asarray(probs, dtype=np.float64), 1e-6, 1.0))
        if self._rows and t < self._rows[-1][0]:
            self._rows.clear()  # time went backwards: a new stream
        self._rows.append((t, logp))
        while self._rows and t - self._rows[0][0] > self.seconds:
            self._rows.popleft()
        if self.seconds <= 0:
            mean = logp
        else:
            mean = np.mean([row for _, row in self._rows], axis=0)
        p = np.exp(mean - mean.max())
        return (p / p.sum()).astype(np.float32)

    def clear(self) -> None:
        self._rows.clear()
