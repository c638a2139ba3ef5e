"""Raw PCM of any layout PyAV or a browser produces → mono float32 in [-1, 1].

WebRTC hands the server 48 kHz stereo s16 interleaved as one row of shape
(1, 1920); PyAV decoders give planar float (`fltp`, shape (channels, n)),
packed integers (1, n * channels) or mono. One function turns them all into
the single representation the rest of the pipeline assumes.

>>> import numpy as np
>>> to_mono_float(np.array([[16384, -16384, 8192, 8192]], np.int16), channels=2, planar=False)
array([0.  , 0.25], dtype=float32)
"""

from __future__ import annotations

import numpy as np


def to_mono_float(samples: np.ndarray, channels: int, planar: bool) -> np.ndarray:
    """Average the channels and scale integers to [-1, 1] (NaN/inf become 0, floats are clipped)."""
    if channels < 1:
        raise ValueError(f"channels must be at least 1, got {channels}")
    x = np.asarray(samples)
    if x.size % channels:
        raise ValueError(f"{x.size} samples do not split into {channels} channels")
    x = _to_float32(x)
    # Planar: each channel is a contiguous row. Interleaved: channels alternate sample by sample.
    frames = x.reshape(channels, -1) if planar else x.reshape(-1, channels).T
    mono = frames[0].copy() if channels == 1 else frames.mean(axis=0, dtype=np.float32)
    return mono


def _to_float32(x: np.ndarray) -> np.ndarray:
    kind = x.dtype.kind
    if kind == "i":
        return x.astype(np.float32) * np.float32(1.0 / 2 ** (8 * x.dtype.itemsize - 1))
    if kind == "u":
        half = 2 ** (8 * x.dtype.itemsize - 1)
        return (x.astype(np.float32) - np.float32(half)) * np.float32(1.0 / half)
    if kind == "f":
        y = np.nan_to_num(x.astype(np.float32, copy=True), nan=0.0, posinf=1.0, neginf=-1.0)
        return np.clip(y, -1.0, 1.0, out=y)
    raise TypeError(f"audio samples must be integers or floats, got dtype {x.dtype}")
