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

from functools import lru_cache

import numpy as np
import scipy.fft
import scipy.sparse
import soxr
from numpy.lib.stride_tricks import sliding_window_view

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

    frames = sliding_window_view(x, FRAME)[::HOP]
    rms = np.sqrt(np.einsum("ij,ij->i", frames, frames, dtype=np.float64) / FRAME)
    level = max(float(np.percentile(rms, 90)), _MIN_LEVEL)
    x = (x / level).astype(np.float32)  # the window's speech level becomes 1 (0 dB)
    frames = sliding_window_view(x, FRAME)[::HOP]

    energy_db = np.maximum(20.0 * np.log10(rms / level + _EPS), _ENERGY_FLOOR_DB)
    weight = np.clip((energy_db - _ZERO_WEIGHT_DB) / (_FULL_WEIGHT_DB - _ZERO_WEIGHT_DB), 0.0, 1.0)
    if weight.sum() < 1.0:  # nothing near the speech level (digital silence): count every frame
        weight = np.ones_like(weight)

    spectrum = scipy.fft.rfft(frames * _hann(), N_FFT, axis=1)
    power = spectrum.real**2 + spectrum.imag**2
    power = np.maximum(power, power.max() * 10.0 ** (-_SPECTRUM_RANGE_DB / 10.0) + _EPS)
    mel = (_mel_basis() @ power.T).T  # sparse x dense: no BLAS threads to fight over
    log_mel = 10.0 * np.log10(mel)
    mfcc = scipy.fft.dct(log_mel, type=2, norm="ortho", axis=1)[:, :N_MFCC]
    delta = _delta(mfcc)

    mfcc_mean, mfcc_std = _weighted_stats(mfcc, weight)
    _, delta_std = _weighted_stats(delta, weight)
    _, delta2_std = _weighted_stats(_delta(delta[:, :_N_DELTA2]), weight)
    pitch, pitch_shape = _pitch_stats(x)
    seconds = x.size / SAMPLE_RATE
    prosody = np.concatenate([
        _energy_stats(energy_db),
        _zcr_stats(frames, weight),
        _spectral_stats(power, mel, log_mel, weight),
        pitch,
    ])
    shapes = np.concatenate([
        _energy_shape(energy_db, seconds),
        pitch_shape,
        _contrast_stats(log_mel, weight),
        delta2_std,
        _mfcc_shape(mfcc[:, :_N_SHAPE], mfcc_mean[:_N_SHAPE], mfcc_std[:_N_SHAPE], weight),
        _ltas_stats(power, log_mel, weight),
    ])
    out = np.concatenate([mfcc_mean[1:], mfcc_std, delta_std, prosody, shapes]).astype(np.float32)
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)


def warm_up() -> None:
    """Build the filterbanks and touch every code path once, so the first live window is not slow."""
    t = np.arange(int(WINDOW_SECONDS * SAMPLE_RATE)) / SAMPLE_RATE
    tone = 0.1 * np.sin(2 * np.pi * 150.0 * t * (1.0 + 0.2 * t))  # a gliding voice-like tone
    voice_features(tone.astype(np.float32))


def _as_mono(signal: np.ndarray) -> np.ndarray:
    x = np.asarray(signal, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"expected a 1-D mono signal, got shape {x.shape}")
    return np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0)


def _resample(x: np.ndarray, rate: int) -> np.ndarray:
    resampler = StreamResampler(rate, SAMPLE_RATE)
    return np.concatenate([resampler.process(x), resampler.flush()])


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


def _weighted_stats(values: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and standard deviations of `values` (frames x dims) under frame weights."""
    w = weight / weight.sum()
    mean = w @ values
    std = np.sqrt(np.maximum(w @ (values - mean) ** 2, 0.0))
    return mean, std


def _delta(c: np.ndarray, n: int = 2) -> np.ndarray:
    """HTK regression deltas over +-n frames (edges repeated)."""
    padded = np.pad(c, ((n, n), (0, 0)), mode="edge")
    num = sum(k * (padded[n + k : n + k + c.shape[0]] - padded[n - k : n - k + c.shape[0]]) for k in range(1, n + 1))
    return num / (2.0 * sum(k * k for k in range(1, n + 1)))


def _energy_stats(energy_db: np.ndarray) -> np.ndarray:
    """Loudness contour relative to the speech level: how much, how steady, how fast it moves."""
    return np.array([
        energy_db.mean(),
        energy_db.std(),
        np.median(energy_db),
        np.abs(np.diff(energy_db)).mean() if energy_db.size > 1 else 0.0,
        (energy_db > _FULL_WEIGHT_DB).mean(),
    ])


def _zcr_stats(frames: np.ndarray, weight: np.ndarray) -> np.ndarray:
    signs = np.signbit(frames)
    zcr = np.mean(signs[:, 1:] != signs[:, :-1], axis=1)
    mean, std = _weighted_stats(zcr[:, None], weight)
    return np.concatenate([mean, std])


def _spectral_stats(power: np.ndarray, mel: np.ndarray, log_mel: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Spectral shape: where the energy sits, how spread, how noisy, how fast it changes, how tense."""
    f = _freqs_khz()
    p = power[:, : f.size]
    total = p.sum(axis=1)
    centroid = p @ f / total
    bandwidth = np.sqrt(np.maximum(p @ f**2 / total - centroid**2, 0.0))
    rolloff = f[np.minimum((np.cumsum(p, axis=1) < 0.85 * total[:, None]).sum(axis=1), f.size - 1)]
    # Flatness over mel bands: geometric over arithmetic mean, i.e. how noise-like the frame is.
    flatness_db = log_mel.mean(axis=1) - 10.0 * np.log10(mel.mean(axis=1))
    flux = np.zeros(log_mel.shape[0])
    flux[1:] = np.mean(np.abs(np.diff(log_mel, axis=0)), axis=1)
    low = p[:, (f >= 0.05) & (f < 1.0)].sum(axis=1)
    high = p[:, (f >= 1.0) & (f < 5.0)].sum(axis=1)
    alpha_db = 10.0 * np.log10(high / low)  # eGeMAPS alpha ratio: vocal effort tilts energy upwards
    per_frame = np.stack([centroid, bandwidth, rolloff, flatness_db, flux, alpha_db], axis=1)
    mean, std = _weighted_stats(per_frame, weight)
    return np.stack([mean, std], axis=1).reshape(-1)


def _percentiles(values: np.ndarray, qs: tuple[float, ...]) -> np.ndarray:
    """np.percentile's default (linear) method after one sort: several times cheaper on these short arrays."""
    s = np.sort(values)
    pos = np.asarray(qs, np.float64) / 100.0 * (s.size - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, s.size - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def _energy_shape(energy_db: np.ndarray, seconds: float) -> np.ndarray:
    """The loudness contour's distribution and rhythm: percentiles, skew, and peaks per second
    (a syllable-rate proxy: sad speech is slow, angry and happy speech fast)."""
    e = energy_db
    p10, p25, p75 = _percentiles(e, (10, 25, 75))
    skew = float(((e - e.mean()) ** 3).mean() / (e.std() ** 3 + 1e-6))
    smooth = np.convolve(e, np.ones(5) / 5, mode="same")
    peaks = (smooth[1:-1] > smooth[:-2]) & (smooth[1:-1] >= smooth[2:]) & (smooth[1:-1] > -15.0)
    max_step = float(np.abs(np.diff(smooth)).max()) if smooth.size > 1 else 0.0
    return np.array([p10, p25, p75, p75 - p10, skew, peaks.sum() / seconds, max_step])


def _contrast_stats(log_mel: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Spectral contrast: peak minus valley (top and bottom fifth of the bands) in six log-mel
    sub-bands; clear harmonics and formants give high contrast, breathy or tense voices less."""
    n, parts = log_mel.shape[0], []
    # np.array_split's bands (the first ones one bin wider), sorted in two batched calls instead of six
    wide, size = log_mel.shape[1] % _N_CONTRAST_BANDS, log_mel.shape[1] // _N_CONTRAST_BANDS
    for start, count, width in ((0, wide, size + 1), (wide * (size + 1), _N_CONTRAST_BANDS - wide, size)):
        if count:
            s = np.sort(log_mel[:, start:start + count * width].reshape(n, count, width), axis=2)
            k = max(1, width // 5)
            parts.append(s[:, :, -k:].mean(axis=2) - s[:, :, :k].mean(axis=2))
    contrast = np.concatenate(parts, axis=1)
    mean, std = _weighted_stats(contrast, weight)
    return np.concatenate([mean, std])


def _mfcc_shape(mfcc: np.ndarray, mean: np.ndarray, std: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Weighted skewness and kurtosis of the low MFCCs: how their values spread beyond a mean and a deviation."""
    w = weight / weight.sum()
    z = (mfcc - mean) / (std + 1e-6)
    return np.concatenate([w @ z**3, w @ z**4])


def _ltas_stats(power: np.ndarray, log_mel: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """The long-term average spectrum: tilt (dB per octave above 100 Hz), Hammarberg index (strongest
    peak below 2 kHz minus strongest in 2-5 kHz) and eight coarse bands relative to their mean."""
    f = _freqs_khz()
    w = weight / weight.sum()
    ltas = 10.0 * np.log10(w @ power[:, : f.size] + _EPS)
    sel = f > 0.1
    lf = np.log2(f[sel])
    lc, yc = lf - lf.mean(), ltas[sel] - ltas[sel].mean()
    tilt = float(lc @ yc / (lc @ lc))
    hammarberg = ltas[f < 2.0].max() - ltas[(f >= 2.0) & (f < 5.0)].max()
    bands = np.array([b.mean() for b in np.array_split(w @ log_mel, _N_COARSE_BANDS)])
    return np.concatenate([[tilt, hammarberg], bands - bands.mean()])


def _pitch_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Intonation: how much is voiced, how periodic, the pitch's level, spread, range, trend and jumps;
    then (second array) its percentiles, mean, mean movement and the rhythm of voiced runs."""
    low = soxr.resample(x, SAMPLE_RATE, PITCH_RATE, quality="LQ")
    if low.size < PITCH_FRAME:
        low = np.concatenate([low, np.zeros(PITCH_FRAME - low.size, low.dtype)])
    frames = sliding_window_view(low, PITCH_FRAME)[::PITCH_HOP]
    level_db = 10.0 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + _EPS)
    f0, aperiodicity = yin(frames, PITCH_RATE)
    active = level_db > _FULL_WEIGHT_DB  # near the speech level: well above any noise floor
    voiced = active & np.isfinite(f0)
    n_active = max(int(active.sum()), 1)
    periodicity = float(np.mean(1.0 - np.minimum(aperiodicity[active], 1.0))) if active.any() else 0.0
    out = np.zeros(7)
    shape = np.zeros(8)
    out[0] = voiced.sum() / n_active
    out[1] = periodicity
    if voiced.sum() >= 2:
        st = 12.0 * np.log2(f0[voiced] / 100.0)  # semitones re 100 Hz
        t = np.flatnonzero(voiced) * (PITCH_HOP / PITCH_RATE)
        p10, p50, p90 = np.percentile(st, [10, 50, 90])
        out[2:5] = p50, st.std(), p90 - p10
        tc = t - t.mean()
        out[5] = float(tc @ (st - st.mean()) / (tc @ tc)) if np.ptp(t) > 0 else 0.0  # least-squares slope
        consecutive = np.diff(np.flatnonzero(voiced)) == 1
        out[6] = np.median(np.abs(np.diff(st)[consecutive])) if consecutive.any() else 0.0
        shape[0:4] = _percentiles(st, (5, 25, 75, 95))
        shape[4] = st.mean()
        shape[5] = np.abs(np.diff(st)).mean()
        onsets = int((np.diff(np.r_[0, voiced.astype(np.int8), 0]) == 1).sum())
        shape[6] = onsets / (x.size / SAMPLE_RATE)
        shape[7] = voiced.sum() / max(onsets, 1) * (PITCH_HOP / PITCH_RATE)
    return out, shape
