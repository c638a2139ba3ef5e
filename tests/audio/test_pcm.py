"""Any PCM layout becomes the same mono float32 signal."""

from __future__ import annotations

import av
import numpy as np
import pytest

from moodmusic.audio import to_mono_float


def test_webrtc_interleaved_stereo_is_deinterleaved_exactly():
    left = np.arange(-480, 480, dtype=np.int16) * 64
    right = np.full(960, 1000, dtype=np.int16)
    frame = np.empty((1, 1920), np.int16)  # the shape streamlit-webrtc hands the callback
    frame[0, 0::2], frame[0, 1::2] = left, right
    mono = to_mono_float(frame, channels=2, planar=False)
    assert mono.dtype == np.float32 and mono.shape == (960,)
    np.testing.assert_array_equal(mono, ((left.astype(np.float32) + right) / 2) / 32768)


def test_one_silent_channel_halves_the_other():
    frame = np.zeros((1, 8), np.int16)
    frame[0, 0::2] = [32767, -32768, 16384, 0]
    np.testing.assert_array_equal(
        to_mono_float(frame, 2, planar=False), np.array([32767, -32768, 16384, 0], np.float32) / 65536
    )


@pytest.mark.parametrize("fmt", ["s16", "s16p", "s32", "s32p", "flt", "fltp", "dbl", "dblp", "u8", "u8p"])
@pytest.mark.parametrize("layout", ["mono", "stereo"])
def test_every_pyav_layout_gives_the_same_mono(fmt, layout):
    t = np.arange(441) / 44100.0
    reference = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    channels = 1 if layout == "mono" else 2
    packed = np.repeat(reference, channels)[None, :]  # the same sound on every channel, no remixing
    source = av.AudioFrame.from_ndarray(packed, format="flt", layout=layout)
    source.sample_rate = 44100
    (frame,) = av.AudioResampler(format=fmt, layout=layout, rate=44100).resample(source)
    array = frame.to_ndarray()
    assert len(frame.layout.channels) == channels
    mono = to_mono_float(array, channels=channels, planar=frame.format.is_planar)
    step = {"u8": 1 / 128, "u8p": 1 / 128}.get(fmt, 1 / 32768)  # coarsest quantisation step of the format
    np.testing.assert_allclose(mono, reference, atol=step)


def test_planar_and_packed_of_the_same_audio_agree():
    rng = np.random.default_rng(0)
    planar = rng.uniform(-1, 1, size=(2, 1000)).astype(np.float32)
    packed = planar.T.reshape(1, -1)
    np.testing.assert_array_equal(to_mono_float(planar, 2, planar=True), to_mono_float(packed, 2, planar=False))


def test_bad_values_become_finite_and_in_range():
    x = np.array([np.nan, np.inf, -np.inf, 3.0, -0.5], np.float32)
    np.testing.assert_array_equal(to_mono_float(x, 1, planar=False), [0.0, 1.0, -1.0, 1.0, -0.5])


def test_samples_that_do_not_fill_the_channels_are_refused():
    with pytest.raises(ValueError, match="3 channels"):
        to_mono_float(np.zeros(10, np.int16), channels=3, planar=False)
    with pytest.raises(TypeError):
        to_mono_float(np.zeros(4, bool), channels=1, planar=False)
