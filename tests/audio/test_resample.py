"""Streaming resampling: frame by frame equals all at once, with no seams at frame borders."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import resample_poly

from moodmusic.audio import SAMPLE_RATE, StreamResampler

RATES = [48000, 44100, 32000, 22050, 16000, 8000]


def sine(rate: int, freq: float, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def stream(x: np.ndarray, rate: int, block: int) -> np.ndarray:
    r = StreamResampler(rate)
    return np.concatenate([r.process(x[i : i + block]) for i in range(0, x.size, block)] + [r.flush()])


def peak_frequency(y: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(y * np.hanning(y.size)))
    k = int(spectrum.argmax())
    a, b, c = np.log(spectrum[k - 1 : k + 2])
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * rate / y.size


def splatter_db(y: np.ndarray, rate: int, freq: float) -> float:
    """Energy away from the tone relative to the tone: clicks and seams spread energy everywhere."""
    power = np.abs(np.fft.rfft(y * np.blackman(y.size))) ** 2
    f = np.fft.rfftfreq(y.size, 1 / rate)
    near = np.abs(f - freq) < 40
    return 10 * np.log10(power[~near].sum() / power[near].sum())


@pytest.mark.parametrize("rate", RATES)
def test_a_tone_keeps_its_frequency_and_length(rate):
    x = sine(rate, 997.0)
    y = stream(x, rate, block=rate // 50)  # 20 ms frames
    assert abs(y.size - SAMPLE_RATE) <= 2
    assert peak_frequency(y[800:-800], SAMPLE_RATE) == pytest.approx(997.0, abs=0.5)


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("block", [960, 441, 160, 7])
def test_frame_by_frame_equals_one_shot(rate, block):
    rng = np.random.default_rng(rate + block)
    x = (0.3 * rng.standard_normal(rate)).astype(np.float32)
    whole = stream(x, rate, block=x.size)
    pieces = stream(x, rate, block=block)
    assert pieces.size == whole.size
    np.testing.assert_allclose(pieces, whole, atol=1e-6)


@pytest.mark.parametrize("rate", [48000, 44100, 22050])
def test_matches_an_independent_polyphase_resampler(rate):
    """Away from the ends, the result is the same signal scipy's resample_poly computes."""
    x = sine(rate, 440.0) + sine(rate, 3100.0)
    from math import gcd

    g = gcd(rate, SAMPLE_RATE)
    reference = resample_poly(x.astype(np.float64), SAMPLE_RATE // g, rate // g)
    y = stream(x, rate, block=rate // 50)
    n = min(y.size, reference.size)
    np.testing.assert_allclose(y[400 : n - 400], reference[400 : n - 400], atol=2e-3)


@pytest.mark.parametrize("rate", [48000, 44100, 8000])
def test_no_click_at_frame_borders(rate):
    x = sine(rate, 1500.0)
    block = rate // 50
    y = stream(x, rate, block)[200:-200]
    # A pure tone's steepest honest step; any seam between frames would exceed it.
    largest_step = 0.5 * 2 * np.sin(np.pi * 1500.0 / SAMPLE_RATE)
    assert np.abs(np.diff(y)).max() <= largest_step * 1.01
    assert splatter_db(y, SAMPLE_RATE, 1500.0) < -90


def test_the_seam_measures_do_catch_per_frame_resampling():
    """Guard for the test above: resampling each frame on its own does click and splatter."""
    rate, block = 48000, 960
    x = sine(rate, 1500.0)
    naive = np.concatenate([resample_poly(x[i : i + block], 1, 3) for i in range(0, x.size, block)])[200:-200]
    largest_step = 0.5 * 2 * np.sin(np.pi * 1500.0 / SAMPLE_RATE)
    assert np.abs(np.diff(naive)).max() > largest_step * 1.01
    assert splatter_db(naive, SAMPLE_RATE, 1500.0) > -60


def test_flush_makes_it_ready_for_a_new_stream():
    x = sine(48000, 440.0, 0.5)
    r = StreamResampler(48000)
    first = np.concatenate([r.process(x), r.flush()])
    second = np.concatenate([r.process(x), r.flush()])
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("bad", [0, -16000, 44100.5, 10**7])
def test_impossible_rates_are_refused(bad):
    with pytest.raises(ValueError, match="in_rate"):
        StreamResampler(bad)
