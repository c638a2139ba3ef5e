"""One fixed-length, level-invariant feature vector per 2 s of voice.

Training (`clip_features` over a corpus), file analysis and the live stream
(`voice_features` on the newest window) all call this module, so a model
always sees features computed exactly as it was trained.

Level invariance matters more than anything else here: RAVDESS sits around
-31..-37 dBFS while a close microphone is 15-20 dB louder, and a model fed
raw energies learns "loud = angry". So every window is scaled to its own
speech level first (the 90th percentile of its frame RMS), energies are
expressed relative to that level, c0 is left out of the cepstral means, and
the log-mel floor is relative to the window's peak. Scaling the input by any
gain leaves the vector unchanged (up to float rounding and quantisation).

Per window: MFCC(40) weighted means (c1..c39) and standard deviations
(c0..c39), standard deviations of their deltas, and prosody — energy
dynamics, zero-crossing rate, spectral centroid/bandwidth/roll-off/flatness/
flux/alpha ratio, and YIN pitch statistics. Frames are weighted by how close
they are to the speech level, so the silence around words barely counts.

voice-v3 adds distribution shapes the means and deviations miss (measured on
the validation actors: +3 points at clip level with the same MLP): loudness
percentiles, skew and a syllable-rate proxy; pitch percentiles, movement and
voiced-run rhythm; spectral contrast in six log-mel bands; delta-delta
deviations and MFCC skewness/kurtosis; the long-term spectrum's tilt,
Hammarberg index and coarse band shape. All are differences or ratios of
levels, so the vector stays level-invariant.

>>> import numpy as np
>>> voice_features(np.zeros(32000, np.float32)).shape == (len(FEATURE_NAMES),)
True
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import scipy.fft
import scipy.sparse
import soxr
from numpy.lib.stride_tricks import as_strided

from moodmusic.audio.constants import HOP_SECONDS, SAMPLE_RATE, WINDOW_SECONDS
from moodmusic.audio.pitch import yin
from moodmusic.audio.resample import StreamResampler

FEATURE_VERSION: str = "voice-v3"  # bump on any change that alters a value

N_MFCC = 40
N_MELS = 64
N_FFT = 512
FRAME = 400  # 25 ms
HOP = 160  # 10 ms
PITCH_RATE = 8000  # pitch is found on a decimated copy: 4x cheaper, voices have no f0 above 500 Hz
PITCH_FRAME = 320  # 40 ms at 8 kHz: two periods of a 70 Hz voice with room to compare
PITCH_HOP = 160  # 20 ms

_FULL_WEIGHT_DB = -20.0  # frames within 20 dB of the speech level count fully ...
_ZERO_WEIGHT_DB = -35.0  # ... and frames 35 dB below it not at all
_ENERGY_FLOOR_DB = -50.0  # quieter frames are "silence"; their exact level is noise
_SPECTRUM_RANGE_DB = 60.0  # spectra are floored this far below the window's peak: quieter is noise
_MIN_LEVEL = 1e-5  # -100 dBFS: below this a window is digital silence, not quiet speech
_EPS = 1e-10
_MIN_SAMPLES = 2 * PITCH_FRAME * SAMPLE_RATE // PITCH_RATE  # two pitch frames; shorter input is padded
# Resamplers disagree near Nyquist (libswresample's filter rolls off earlier than libsoxr's), so the
# band above 7.6 kHz depends on the path audio took; spectral features ignore it.
_F_MAX = 7600.0

_PROSODY = (
    "energy_mean_db", "energy_std_db", "energy_median_db", "energy_flux_db", "active_ratio",
    "zcr_mean", "zcr_std",
    "centroid_khz_mean", "centroid_khz_std", "bandwidth_khz_mean", "bandwidth_khz_std",
    "rolloff_khz_mean", "rolloff_khz_std", "flatness_db_mean", "flatness_db_std",
    "flux_db_mean", "flux_db_std", "alpha_ratio_db_mean", "alpha_ratio_db_std",
    "voiced_ratio", "periodicity_mean", "f0_median_st", "f0_std_st", "f0_range_st",
    "f0_slope_st_per_s", "f0_step_st",
)
_N_CONTRAST_BANDS = 6
_N_COARSE_BANDS = 8
_N_SHAPE = 13  # MFCCs whose skewness/kurtosis are kept
_N_DELTA2 = 20  # MFCCs whose delta-delta deviation is kept
_SHAPES = (
    "energy_p10_db", "energy_p25_db", "energy_p75_db", "energy_iqr_db", "energy_skew",
    "syllable_rate_hz", "energy_max_step_db",
    "f0_p05_st", "f0_p25_st", "f0_p75_st", "f0_p95_st", "f0_mean_st", "f0_abs_step_st",
    "voiced_onsets_hz", "voiced_run_s",
    *(f"contrast{i}_db_mean" for i in range(_N_CONTRAST_BANDS)),
    *(f"contrast{i}_db_std" for i in range(_N_CONTRAST_BANDS)),
    *(f"mfcc{i}_delta2_std" for i in range(_N_DELTA2)),
    *(f"mfcc{i}_skew" for i in range(_N_SHAPE)),
    *(f"mfcc{i}_kurtosis" for i in range(_N_SHAPE)),
    "ltas_tilt_db_per_octave", "hammarberg_db",
    *(f"ltas_band{i}_db" for i in range(_N_COARSE_BANDS)),
)

FEATURE_NAMES: tuple[str, ...] = (
    tuple(f"mfcc{i}_mean" for i in range(1, N_MFCC))
    + tuple(f"mfcc{i}_std" for i in range(N_MFCC))
    + tuple(f"mfcc{i}_delta_std" for i in range(N_MFCC))
    + _PROSODY
    + _SHAPES
)


def window_bounds(n_samples: int, rate: int = SAMPLE_RATE) -> list[tuple[int, int]]:
    """[start, stop) of each window over a clip, one every hop; a short clip gets one (padded) window."""
    width = int(round(WINDOW_SECONDS * rate))
    hop = int(round(HOP_SECONDS * rate))
    if n_samples <= width:
        return [(0, width)]
    return [(s, s + width) for s in range(0, n_samples - width + 1, hop)]


def clip_features(signal: np.ndarray, rate: int = SAMPLE_RATE) -> np.ndarray:
    """Features of every window of a clip, shape (n_windows, len(FEATURE_NAMES)): what training uses."""
    x = _as_mono(signal)
    if rate != SAMPLE_RATE:
        x = _resample(x, rate)
    width = int(round(WINDOW_SECONDS * SAMPLE_RATE))
    if x.size < width:
        x = np.concatenate([x, np.zeros(width - x.size, np.float32)])
    return np.stack([voice_features(x[a:b]) for a, b in window_bounds(x.size)])


def voice_features(window: np.ndarray, rate: int = SAMPLE_RATE) -> np.ndarray:
    """The feature vector of one window (normally 2 s); finite for any input, silence and NaN included."""
    x = _as_mono(window)
    if rate != SAMPLE_RATE:
        x = _resample(x, rate)
    if x.size < _MIN_SAMPLES:  # too short to frame: pad with silence
        x = np.concatenate([x, np.zeros(_MIN_SAMPLES - x.size, np.float32)])

    # Frame energies in double precision. Casting the signal once gives the same sums as casting inside
    # einsum, where each sample would be cast once per frame that holds it (2.5 times).
    frames64 = _frames(x.astype(np.float64), FRAME, HOP)
    rms = np.sqrt(np.einsum("ij,ij->i", frames64, frames64) / FRAME)
    level = max(_percentiles(np.sort(rms), (90,))[0], _MIN_LEVEL)
    x = (x / level).astype(np.float32, copy=False)  # the window's speech level becomes 1 (0 dB)
    frames = _frames(x, FRAME, HOP)

    energy_db = np.maximum(20.0 * np.log10(rms / level + _EPS), _ENERGY_FLOOR_DB)
    weight = np.clip((energy_db - _ZERO_WEIGHT_DB) / (_FULL_WEIGHT_DB - _ZERO_WEIGHT_DB), 0.0, 1.0)
    if weight.sum() < 1.0:  # nothing near the speech level (digital silence): count every frame
        weight = np.ones_like(weight)
    w = weight / weight.sum()  # frame weights summing to 1

    power = _power_spectrum(frames)
    below_f_max = power[:, : _freqs_khz().size]
    below_f_max64 = below_f_max.astype(np.float64)  # cast once for the two products that need it
    mel = (_mel_basis() @ power.T).T  # sparse x dense: no BLAS threads to fight over
    log_mel = 10.0 * np.log10(mel)
    mfcc = scipy.fft.dct(log_mel, type=2, norm="ortho", axis=1)[:, :N_MFCC]
    delta = _delta(mfcc)

    # Every per-frame track gets the same weighted mean and deviation: one matrix, two products,
    # instead of a few small products per feature group.
    tracks = np.concatenate(
        [
            mfcc,
            delta,
            _delta(delta[:, :_N_DELTA2]),
            _zcr(x, frames.shape[0])[:, None],
            _spectral_tracks(below_f_max, below_f_max64, mel, log_mel),
            _contrast(log_mel),
        ],
        axis=1,
        dtype=np.float64,
    )
    mean = w @ tracks
    dev = tracks - mean
    std = np.sqrt(np.maximum(w @ (dev * dev), 0.0))
    c = _track_columns()
    spectral = np.stack([mean[c["spectral"]], std[c["spectral"]]], axis=1).reshape(-1)  # mean, std per track

    energy, energy_shape = _energy_stats(energy_db, x.size / SAMPLE_RATE)
    pitch, pitch_shape = _pitch_stats(x)
    out = np.concatenate([
        mean[c["mfcc"]][1:],
        std[c["mfcc"]],
        std[c["delta"]],
        # prosody
        energy,
        mean[c["zcr"]],
        std[c["zcr"]],
        spectral,
        pitch,
        # shapes
        energy_shape,
        pitch_shape,
        mean[c["contrast"]],
        std[c["contrast"]],
        std[c["delta2"]],
        _mfcc_shape(dev[:, :_N_SHAPE], std[:_N_SHAPE], w),
        _ltas_stats(below_f_max64, log_mel, w),
    ]).astype(np.float32)
    out[~np.isfinite(out)] = 0.0
    return out


def warm_up() -> None:
    """Build the filterbanks and touch every code path once, so the first live window is not slow."""
    t = np.arange(int(WINDOW_SECONDS * SAMPLE_RATE)) / SAMPLE_RATE
    tone = 0.1 * np.sin(2 * np.pi * 150.0 * t * (1.0 + 0.2 * t))  # a gliding voice-like tone
    voice_features(tone.astype(np.float32))


def _as_mono(signal: np.ndarray) -> np.ndarray:
    """The signal as a 1-D float32 array (not copied when it already is one); NaN and infinities replaced."""
    x = np.asarray(signal, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"expected a 1-D mono signal, got shape {x.shape}")
    if not np.isfinite(x).all():  # rare: only then pay for a cleaned copy
        x = np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0)
    return x


def _resample(x: np.ndarray, rate: int) -> np.ndarray:
    resampler = StreamResampler(rate, SAMPLE_RATE)
    return np.concatenate([resampler.process(x), resampler.flush()])


def _frames(x: np.ndarray, length: int, hop: int) -> np.ndarray:
    """Frames of `length` every `hop` samples as a read-only view: sliding_window_view(x, length)[::hop]
    without its argument checks, which cost more than the view (tens of µs, several times per window)."""
    n = (x.size - length) // hop + 1
    return as_strided(x, shape=(n, length), strides=(hop * x.strides[0], x.strides[0]), writeable=False)


@lru_cache(maxsize=1)
def _mel_basis() -> scipy.sparse.csr_array:
    import librosa  # heavy import, needed once for the filterbank

    basis = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=50.0, fmax=_F_MAX)
    return scipy.sparse.csr_array(basis)


@lru_cache(maxsize=1)
def _hann() -> np.ndarray:
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(FRAME) / FRAME)).astype(np.float32)


@lru_cache(maxsize=1)
def _freqs_khz() -> np.ndarray:
    """Frequencies of the FFT bins below _F_MAX, in kHz."""
    f = np.fft.rfftfreq(N_FFT, 1.0 / SAMPLE_RATE)
    return f[f <= _F_MAX] / 1000.0


def _read_only(a: np.ndarray) -> np.ndarray:
    """Mark a cached array read-only: every call (and thread) shares it."""
    a.setflags(write=False)
    return a


@lru_cache(maxsize=1)
def _freq_moments() -> np.ndarray:
    """f and f² (kHz) as the two columns of one matrix: a frame's spectral centroid and spread in one product."""
    f = _freqs_khz()
    return _read_only(np.stack([f, f**2], axis=1))


@lru_cache(maxsize=None)
def _bins(lo_khz: float, hi_khz: float) -> slice:
    """The FFT bins with lo <= f < hi (kHz): a contiguous run, so a slice instead of a boolean mask."""
    inside = np.flatnonzero((_freqs_khz() >= lo_khz) & (_freqs_khz() < hi_khz))
    return slice(int(inside[0]), int(inside[-1]) + 1)


@lru_cache(maxsize=1)
def _track_columns() -> dict[str, slice]:
    """Where each group of per-frame tracks sits in the matrix voice_features summarises."""
    widths = {"mfcc": N_MFCC, "delta": N_MFCC, "delta2": _N_DELTA2, "zcr": 1, "spectral": 6,
              "contrast": _N_CONTRAST_BANDS}
    stops = np.cumsum(list(widths.values()))
    return {name: slice(int(stop - width), int(stop)) for (name, width), stop in zip(widths.items(), stops)}


@lru_cache(maxsize=1)
def _tilt_axis() -> tuple[slice, np.ndarray, float]:
    """The bins above 100 Hz, their centred log2 frequency and its sum of squares: the LTAS tilt's fixed half."""
    f = _freqs_khz()
    above = slice(int(np.argmax(f > 0.1)), f.size)
    lf = np.log2(f[above])
    lc = lf - lf.mean()
    return above, _read_only(lc), float(lc @ lc)


def _power_spectrum(frames: np.ndarray) -> np.ndarray:
    """Power spectra of the Hann-windowed frames, floored _SPECTRUM_RANGE_DB below the window's peak.

    The windowed frames are written straight into the zero-padded FFT input (scipy would copy them into
    one), and the squares and the floor are computed in place: fewer large temporaries per window.
    """
    padded = np.empty((frames.shape[0], N_FFT), np.float32)
    padded[:, FRAME:] = 0.0
    np.multiply(frames, _hann(), out=padded[:, :FRAME])
    spectrum = scipy.fft.rfft(padded, axis=1)
    power = np.square(spectrum.real)
    power += np.square(spectrum.imag)
    return np.maximum(power, power.max() * 10.0 ** (-_SPECTRUM_RANGE_DB / 10.0) + _EPS, out=power)


def _delta(c: np.ndarray) -> np.ndarray:
    """HTK regression deltas over +-2 frames (edges repeated): (c[t+1] - c[t-1] + 2 (c[t+2] - c[t-2])) / 10."""
    n = c.shape[0]
    padded = c[_edge_padded_index(n)]
    return ((padded[3 : n + 3] - padded[1 : n + 1]) + 2 * (padded[4 : n + 4] - padded[:n])) / 10.0


@lru_cache(maxsize=8)
def _edge_padded_index(n: int) -> np.ndarray:
    """Row indices that pad n rows with two copies of the first and last row: np.pad(mode="edge"), cheaper."""
    return _read_only(np.clip(np.arange(-2, n + 2), 0, n - 1))


def _percentiles(sorted_values: np.ndarray, qs: tuple[float, ...]) -> list[float]:
    """np.percentile's default (linear) method on already sorted float64 values, bit for bit the same:
    one sort serves several percentiles and a median, and np.percentile's overhead (~100 µs a call on
    these short arrays) is gone. The arithmetic is numpy's, in Python floats (also IEEE doubles)."""
    last = sorted_values.size - 1
    out = []
    for q in qs:
        pos = last * (q / 100.0)
        lo = math.floor(pos)
        t = pos - lo
        a, b = float(sorted_values[lo]), float(sorted_values[min(lo + 1, last)])
        out.append(b - (b - a) * (1.0 - t) if t >= 0.5 else a + (b - a) * t)  # numpy interpolates from both ends
    return out


def _mean(values: np.ndarray) -> float:
    """values.mean() of a 1-D array, the same number (sum, then divide by the count), without np.mean's
    Python-level bookkeeping, which costs more than the sum on these short arrays."""
    return float(values.sum() / values.size)


def _median(sorted_values: np.ndarray) -> float:
    """np.median of already sorted values, bit for bit the same (the middle two's mean for an even size)."""
    s, h = sorted_values, sorted_values.size // 2
    return float(s[h]) if s.size % 2 else float((s[h - 1] + s[h]) / 2)


def _energy_stats(energy_db: np.ndarray, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """The loudness contour relative to the speech level: how much, how steady, how fast it moves; then
    (second array) its distribution and rhythm: percentiles, skew, and peaks per second (a syllable-rate
    proxy: sad speech is slow, angry and happy speech fast)."""
    e = energy_db
    s = np.sort(e)
    mean = _mean(e)
    dev = e - mean
    std = math.sqrt(_mean(dev * dev))  # e.std(), reusing the mean
    stats = np.array([
        mean,
        std,
        _median(s),
        _mean(np.abs(e[1:] - e[:-1])) if e.size > 1 else 0.0,
        _mean(e > _FULL_WEIGHT_DB),
    ])
    p10, p25, p75 = _percentiles(s, (10, 25, 75))
    skew = _mean(dev**3) / (std**3 + 1e-6)
    smooth = np.convolve(e, np.ones(5) / 5, mode="same")
    peaks = (smooth[1:-1] > smooth[:-2]) & (smooth[1:-1] >= smooth[2:]) & (smooth[1:-1] > -15.0)
    max_step = float(np.abs(smooth[1:] - smooth[:-1]).max()) if smooth.size > 1 else 0.0
    return stats, np.array([p10, p25, p75, p75 - p10, skew, peaks.sum() / seconds, max_step])


def _zcr(x: np.ndarray, n_frames: int) -> np.ndarray:
    """Zero-crossing rate of each frame. Frames overlap, so the sign changes are found once over the whole
    signal and counted per frame as differences of their running (integer, hence exact) total."""
    signs = np.signbit(x)
    changes = np.empty(x.size, np.int64)  # changes[k]: sign changes between samples 0..k
    changes[0] = 0
    np.cumsum(signs[1:] != signs[:-1], out=changes[1:])
    starts = np.arange(n_frames) * HOP
    return (changes[starts + FRAME - 1] - changes[starts]) / (FRAME - 1)


def _spectral_tracks(p: np.ndarray, p64: np.ndarray, mel: np.ndarray, log_mel: np.ndarray) -> np.ndarray:
    """Spectral shape per frame: where the energy sits, how spread, how noisy, how fast it changes, how
    tense (centroid, bandwidth, roll-off, flatness, flux, alpha ratio as columns).

    `p` is the power spectrum up to _F_MAX (float32), `p64` the same in float64.
    """
    f = _freqs_khz()
    total = p.sum(axis=1)
    moments = p64 @ _freq_moments()
    centroid = moments[:, 0] / total
    bandwidth = np.sqrt(np.maximum(moments[:, 1] / total - centroid**2, 0.0))
    rolloff = f[np.minimum(_bins_below(p, 0.85 * total), f.size - 1)]
    # Flatness over mel bands: geometric over arithmetic mean, i.e. how noise-like the frame is.
    flatness_db = log_mel.mean(axis=1) - 10.0 * np.log10(mel.mean(axis=1))
    flux = np.zeros(log_mel.shape[0])
    flux[1:] = np.mean(np.abs(log_mel[1:] - log_mel[:-1]), axis=1)
    # Column-major copies, summed column after column in float32: the same additions as the boolean-mask
    # selections the models were trained with (a row-wise pairwise sum would round differently).
    low = np.asfortranarray(p[:, _bins(0.05, 1.0)]).sum(axis=1)
    high = np.asfortranarray(p[:, _bins(1.0, 5.0)]).sum(axis=1)
    alpha_db = 10.0 * np.log10(high / low)  # eGeMAPS alpha ratio: vocal effort tilts energy upwards
    return np.stack([centroid, bandwidth, rolloff, flatness_db, flux, alpha_db], axis=1)


def _bins_below(p: np.ndarray, threshold: np.ndarray, first: int = 48) -> np.ndarray:
    """Per row, how many running (float32) sums of `p` stay below `threshold`: the roll-off bin.

    The same running sums as np.cumsum(p, axis=1), but only as far as needed. Most speech frames pass
    the threshold within the first bins, so all rows are summed over `first` bins and only the rest
    continue; a continued row restarts from its last sum, which repeats np.cumsum's additions exactly.
    The sums never decrease (p >= 0), so "below" is a prefix of each row.
    """
    head = np.cumsum(p[:, :first], axis=1)
    count = (head < threshold[:, None]).sum(axis=1)
    rest = np.flatnonzero(count == head.shape[1])
    if rest.size and p.shape[1] > first:
        tail = np.cumsum(np.concatenate([head[rest, -1:], p[rest, first:]], axis=1), axis=1)
        count[rest] += (tail[:, 1:] < threshold[rest, None]).sum(axis=1)
    return count


def _contrast(log_mel: np.ndarray) -> np.ndarray:
    """Spectral contrast per frame: peak minus valley (top and bottom fifth of the bands) in six log-mel
    sub-bands; clear harmonics and formants give high contrast, breathy or tense voices less."""
    n, parts = log_mel.shape[0], []
    # np.array_split's bands (the first ones one bin wider), sorted in two batched calls instead of six
    wide, size = log_mel.shape[1] % _N_CONTRAST_BANDS, log_mel.shape[1] // _N_CONTRAST_BANDS
    for start, count, width in ((0, wide, size + 1), (wide * (size + 1), _N_CONTRAST_BANDS - wide, size)):
        if count:
            s = np.sort(log_mel[:, start:start + count * width].reshape(n, count, width), axis=2)
            k = max(1, width // 5)
            parts.append(_sum_last(s[:, :, -k:]) / k - _sum_last(s[:, :, :k]) / k)  # top and bottom means
    return np.concatenate(parts, axis=1)


def _sum_last(a: np.ndarray) -> np.ndarray:
    """Sum over a short last axis as whole-array additions, left to right: numpy's reduction over such an
    axis pays a loop step per element. np.sum adds fewer than eight values one after the other too, so
    the result is the same (two values per band here)."""
    total = a[..., 0]
    for j in range(1, a.shape[-1]):
        total = total + a[..., j]
    return total


def _mfcc_shape(dev: np.ndarray, std: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted skewness and kurtosis of the low MFCCs (given as deviations from their weighted means):
    how their values spread beyond a mean and a deviation."""
    z = dev / (std + 1e-6)
    z2 = z * z  # products instead of z**3 and z**4, which call pow() per element: many times slower
    return np.concatenate([w @ (z2 * z), w @ (z2 * z2)])


def _ltas_stats(p64: np.ndarray, log_mel: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The long-term average spectrum (of `p64`, the power up to _F_MAX): tilt (dB per octave above
    100 Hz), Hammarberg index (strongest peak below 2 kHz minus strongest in 2-5 kHz) and eight coarse
    bands relative to their mean."""
    ltas = 10.0 * np.log10(w @ p64 + _EPS)
    above, lc, lc_norm = _tilt_axis()
    yc = ltas[above] - _mean(ltas[above])
    tilt = float(lc @ yc / lc_norm)
    hammarberg = ltas[_bins(0.0, 2.0)].max() - ltas[_bins(2.0, 5.0)].max()
    mel_mean = w @ log_mel
    if mel_mean.size % _N_COARSE_BANDS == 0:  # equal bands (64 mels): one reshape instead of a split
        bands = mel_mean.reshape(_N_COARSE_BANDS, -1).mean(axis=1)
    else:
        bands = np.array([b.mean() for b in np.array_split(mel_mean, _N_COARSE_BANDS)])
    return np.concatenate([[tilt, hammarberg], bands - _mean(bands)])


def _pitch_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Intonation: how much is voiced, how periodic, the pitch's level, spread, range, trend and jumps;
    then (second array) its percentiles, mean, mean movement and the rhythm of voiced runs."""
    low = soxr.resample(x, SAMPLE_RATE, PITCH_RATE, quality="LQ")
    if low.size < PITCH_FRAME:
        low = np.concatenate([low, np.zeros(PITCH_FRAME - low.size, low.dtype)])
    frames = _frames(low, PITCH_FRAME, PITCH_HOP)
    power = _frames(np.square(low, dtype=np.float64), PITCH_FRAME, PITCH_HOP)  # each sample squared once
    level_db = 10.0 * np.log10(np.mean(power, axis=1) + _EPS)
    f0, aperiodicity = yin(frames, PITCH_RATE)
    active = level_db > _FULL_WEIGHT_DB  # near the speech level: well above any noise floor
    voiced = np.flatnonzero(active & np.isfinite(f0))  # frame indices
    n_active = max(int(active.sum()), 1)
    periodicity = _mean(1.0 - np.minimum(aperiodicity[active], 1.0)) if active.any() else 0.0
    out = np.zeros(7)
    shape = np.zeros(8)
    out[0] = voiced.size / n_active
    out[1] = periodicity
    if voiced.size >= 2:
        st = 12.0 * np.log2(f0[voiced] / 100.0)  # semitones re 100 Hz
        t = voiced * (PITCH_HOP / PITCH_RATE)
        p5, p10, p25, p50, p75, p90, p95 = _percentiles(np.sort(st), (5, 10, 25, 50, 75, 90, 95))
        st_mean = _mean(st)
        st_dev = st - st_mean
        out[2:5] = p50, math.sqrt(_mean(st_dev * st_dev)), p90 - p10  # median, st.std(), 80 % range
        tc = t - _mean(t)
        out[5] = float(tc @ st_dev / (tc @ tc))  # least-squares slope (t spans > 0: two frames)
        steps = st[1:] - st[:-1]
        consecutive = voiced[1:] - voiced[:-1] == 1
        out[6] = _median(np.sort(np.abs(steps[consecutive]))) if consecutive.any() else 0.0
        shape[0:4] = p5, p25, p75, p95
        shape[4] = st_mean
        shape[5] = _mean(np.abs(steps))
        onsets = voiced.size - int(consecutive.sum())  # voiced runs: every voiced frame not continuing one
        shape[6] = onsets / (x.size / SAMPLE_RATE)
        shape[7] = voiced.size / onsets * (PITCH_HOP / PITCH_RATE)
    return out, shape
