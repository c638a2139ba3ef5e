"""Fast pitch and periodicity: YIN's difference function, all frames at once via the FFT.

librosa.pyin costs hundreds of milliseconds per 2 s; this is a vectorised
YIN (de Cheveigné & Kawahara 2002) without the probabilistic tracking, cheap
enough to run on every window and on every VAD frame. It answers two things:
how periodic a frame is (voiced speech is, hiss and rumble are not) and at
what fundamental frequency.

>>> import numpy as np
>>> t = np.arange(640) / 16000
>>> f0, aperiodicity = yin(np.sin(2 * np.pi * 200 * t)[None, :], 16000)
>>> round(float(f0[0])), bool(aperiodicity[0] < 0.1)
(200, True)
"""

from __future__ import annotations

import numpy as np
import scipy.fft

F0_MIN, F0_MAX = 70.0, 500.0  # Hz: low male voices to high, excited female voices


def yin(
    frames: np.ndarray, rate: int, fmin: float = F0_MIN, fmax: float = F0_MAX, threshold: float = 0.2
) -> tuple[np.ndarray, np.ndarray]:
    """Per frame (rows of `frames`): f0 in Hz and aperiodicity in [0, ~1] (lower = more periodic).

    Each row must be longer than two periods of `fmin`; the first `len - rate/fmin`
    samples are compared with their shifted copies. f0 is NaN where no lag dips
    below `threshold` (an unvoiced frame); aperiodicity is the deepest dip either way.
    """
    frames = np.asarray(frames)
    if frames.dtype != np.float32:  # float32 frames are used as they are; anything else goes via float64
        frames = frames.astype(np.float64)
    n_frames, length = frames.shape
    tau_min = max(2, int(np.floor(rate / fmax)))
    tau_max = int(np.ceil(rate / fmin))
    width = length - tau_max
    if width < tau_max:
        raise ValueError(f"frames of {length} samples are too short for f0 down to {fmin} Hz at {rate} Hz")
    if n_frames == 0:
        return np.zeros(0), np.zeros(0)
    cross = _autocorrelation(frames, width, tau_max)  # sum_{j<width} x[j] x[j+tau]
    sq = np.empty((n_frames, length + 1))
    sq[:, 0] = 0.0
    np.cumsum(np.square(frames, dtype=np.float64), axis=1, out=sq[:, 1:])
    energy_shifted = sq[:, width : width + tau_max + 1] - sq[:, : tau_max + 1]  # sum_{j<width} x[j+tau]^2
    diff = np.maximum(energy_shifted[:, :1] + energy_shifted - 2.0 * cross, 0.0)
    # Cumulative-mean normalisation: 1 where nothing repeats, near 0 at the period.
    cum = np.cumsum(diff[:, 1:], axis=1)
    cmnd = np.empty_like(diff)
    cmnd[:, 0] = 1.0
    np.multiply(diff[:, 1:], np.arange(1.0, tau_max + 1), out=cmnd[:, 1:])
    cmnd[:, 1:] /= np.maximum(cum, 1e-12)
    cmnd[cum[:, -1] <= 1e-12] = 1.0  # digital silence: no evidence of periodicity

    search = cmnd[:, tau_min : tau_max + 1]
    aperiodicity = search.min(axis=1)
    below = search < threshold
    voiced = below.any(axis=1)
    # YIN picks the first dip under the threshold (then its local minimum) to avoid octave errors.
    first = np.where(voiced, below.argmax(axis=1), search.argmin(axis=1))
    lag = tau_min + _bottom_of_dip(search, first)
    # Parabolic interpolation around the dip for sub-sample accuracy (lag - 1 >= tau_min - 1 >= 1).
    rows = np.arange(n_frames)
    left, mid, right = cmnd[rows, lag - 1], cmnd[rows, lag], cmnd[rows, np.minimum(lag + 1, tau_max)]
    denom = left - 2.0 * mid + right
    shift = np.zeros(n_frames)
    np.divide(0.5 * (left - right), denom, out=shift, where=np.abs(denom) > 1e-12)
    tau = lag + np.clip(shift, -1.0, 1.0)
    f0 = np.where(voiced, rate / tau, np.nan)
    return f0, aperiodicity


def _autocorrelation(frames: np.ndarray, width: int, tau_max: int) -> np.ndarray:
    """sum_{j<width} x[j] x[j+tau] for tau = 0..tau_max, per row, in single precision via the FFT.

    Lags up to tau_max read at most `length` samples ahead, so a circular FFT of `length` does not wrap.
    Single precision halves the FFT cost (sums of squares stay in double). The head (first `width`
    samples, zero-padded) and the whole frame share one buffer and one transform call.
    """
    n_frames, length = frames.shape
    n_fft = scipy.fft.next_fast_len(length, real=True)
    padded = np.empty((2, n_frames, n_fft), np.float32)
    padded[0, :, :width] = frames[:, :width]
    padded[0, :, width:] = 0.0
    padded[1, :, :length] = frames
    padded[1, :, length:] = 0.0
    head, full = scipy.fft.rfft(padded, axis=2)
    np.conjugate(head, out=head)
    head *= full
    return scipy.fft.irfft(head, n_fft, axis=1)[:, : tau_max + 1]


def _bottom_of_dip(search: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Per row, the first index at or after `first` whose right neighbour is not lower (or the last index):
    where walking downhill from `first` stops, found for all rows at once instead of step by step."""
    stop = np.ones(search.shape, bool)
    stop[:, :-1] = ~(search[:, 1:] < search[:, :-1])  # written as "not downhill" so that NaN stops too
    stop &= np.arange(search.shape[1]) >= first[:, None]
    return stop.argmax(axis=1)
