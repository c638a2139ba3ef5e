"""The voice features' fast kernels give the same numbers, bit for bit, as the plain numpy they replace.

voice_features is tuned for speed (it runs on every hop), but a model must see exactly the features it
was trained on, so each shortcut is checked against its straightforward definition here.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from moodmusic.audio import features as F
from moodmusic.audio import pitch as P

RNG = np.random.default_rng(7)


@pytest.mark.parametrize("n", [1, 2, 7, 99, 198])
def test_percentiles_and_median_match_numpy(n):
    for values in (RNG.normal(size=n) * 30.0, np.round(RNG.normal(size=n) * 3.0)):  # the latter with ties
        s = np.sort(values)
        qs = (5, 10, 25, 50, 75, 90, 95)
        assert F._percentiles(s, qs) == [float(v) for v in np.percentile(values, qs)]
        assert F._median(s) == float(np.median(values))
        assert F._mean(values) == float(values.mean())


def test_frames_are_sliding_windows():
    x = RNG.normal(size=3210).astype(np.float32)
    assert np.array_equal(F._frames(x, 400, 160), sliding_window_view(x, 400)[::160])
    assert np.array_equal(F._frames(x[::2], 320, 160), sliding_window_view(x[::2], 320)[::160])


def test_zero_crossing_rate_counts_within_each_frame():
    x = RNG.normal(size=32000).astype(np.float32)
    x[5000:9000] = 0.0  # zeros and signed zeros count as signs too
    x[6000:6100] = -0.0
    frames = sliding_window_view(x, F.FRAME)[:: F.HOP]
    signs = np.signbit(frames)
    expected = np.mean(signs[:, 1:] != signs[:, :-1], axis=1)
    assert np.array_equal(F._zcr(x, frames.shape[0]), expected)


def test_deltas_match_the_padded_regression():
    c = RNG.normal(size=(198, 40)).astype(np.float32)
    padded = np.pad(c, ((2, 2), (0, 0)), mode="edge")
    expected = sum(k * (padded[2 + k : 2 + k + 198] - padded[2 - k : 2 - k + 198]) for k in (1, 2)) / 10.0
    assert np.array_equal(F._delta(c), expected)


def test_rolloff_bins_match_a_full_running_sum():
    p = (RNG.random((198, 244)) ** 6).astype(np.float32)
    p[:60, :20] *= 1000.0  # frames whose energy sits low: they pass 85 % within the first bins
    p[100] = np.float32(1e-12)  # a flat floor: it passes late
    threshold = 0.85 * p.sum(axis=1)
    expected = (np.cumsum(p, axis=1) < threshold[:, None]).sum(axis=1)
    for first in (1, 16, 48, 244, 300):
        assert np.array_equal(F._bins_below(p, threshold, first), expected)


def test_bottom_of_dip_matches_walking_downhill():
    search = RNG.random((300, 100))
    search[:, 40:60] = np.sort(search[:, 40:60], axis=1)[:, ::-1]  # long downhill runs
    search[5, 70:] = np.nan
    first = RNG.integers(0, 100, size=300)
    idx = first.copy()
    rows = np.arange(300)
    for _ in range(100):  # the step-by-step walk it replaces
        nxt = np.minimum(idx + 1, 99)
        step = search[rows, nxt] < search[rows, idx]
        idx = np.where(step, nxt, idx)
    assert np.array_equal(P._bottom_of_dip(search, first), idx)


def test_yin_gives_the_same_for_float32_views_and_float64_copies():
    t = np.arange(1600) / 8000
    x = (np.sin(2 * np.pi * 180 * t * (1 + t)) + 0.1 * RNG.normal(size=1600)).astype(np.float32)
    frames32 = sliding_window_view(x, 320)[::160]  # used as they are: strided, single precision
    f0, ap = P.yin(frames32, 8000)
    f0_64, ap_64 = P.yin(frames32.astype(np.float64), 8000)  # the same values, converted first
    assert np.isfinite(f0).any()
    assert np.array_equal(f0, f0_64, equal_nan=True) and np.array_equal(ap, ap_64)
