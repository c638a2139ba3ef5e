"""AudioStream: raw frames in any layout/rate in, mono 16 kHz windows out."""

from __future__ import annotations

import threading

import av
import numpy as np
import pytest
from tests.audio.conftest import webrtc_frames

from moodmusic.audio import SAMPLE_RATE, AudioStream


def tone(rate: int, seconds: float, freq: float = 440.0, start: float = 0.0) -> np.ndarray:
    t = start + np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_no_window_until_two_seconds_have_arrived():
    stream = AudioStream()
    frame = np.zeros((1, 1920), np.int16)
    for _ in range(99):  # 1.98 s of 20 ms frames
        stream.push(frame, 48000, 2)
    assert stream.window() is None
    for _ in range(3):
        stream.push(frame, 48000, 2)
    window = stream.window()
    assert window is not None and window.shape == (2 * SAMPLE_RATE,) and window.dtype == np.float32


def test_webrtc_frames_of_speech_arrive_as_the_same_speech(speech, speech_dir):
    original = speech["fox"]
    stream = AudioStream(seconds=10.0)
    for frame in webrtc_frames(speech_dir / "fox.flac"):
        assert frame.to_ndarray().shape in {(1, 1920), (1, 2 * frame.samples)}
        stream.push(frame.to_ndarray(), frame.sample_rate, len(frame.layout.channels), planar=False)
    received = stream.ring.latest(stream.total)
    n = received.size
    assert original.size - 640 <= n <= original.size  # only the resampler's few ms of delay are held back
    # libswresample spreads mono over stereo at -3 dB; the level is irrelevant, the waveform is not.
    gain = float(received @ original[:n] / (received @ received))
    residual = original[:n] - gain * received
    assert 10 * np.log10(np.mean(residual**2) / np.mean(original[:n] ** 2)) < -35


def test_planar_float_frames_at_44k1_work_like_packed_ints():
    a, b = AudioStream(), AudioStream()
    x = tone(44100, 2.5)
    for i in range(0, x.size, 1024):
        block = x[i : i + 1024]
        a.push(np.stack([block, block]), 44100, 2, planar=True)  # fltp, as PyAV decoders give
        b.push((np.repeat(block, 2) * 32767).astype(np.int16)[None, :], 44100, 2)  # s16 packed
    np.testing.assert_allclose(a.window(), b.window(), atol=1e-4)


def test_a_change_of_rate_mid_stream_keeps_time_and_pitch():
    stream = AudioStream()
    stream.push(tone(48000, 1.0), 48000, 1)
    stream.push(tone(44100, 1.5, start=1.0), 44100, 1)
    assert stream.input_rate == 44100
    window = stream.window()
    assert window is not None
    spectrum = np.abs(np.fft.rfft(window * np.hanning(window.size)))
    assert np.fft.rfftfreq(window.size, 1 / SAMPLE_RATE)[spectrum.argmax()] == pytest.approx(440.0, abs=1.0)
    assert 0 <= 2.5 * SAMPLE_RATE - stream.total < 640


def test_window_by_absolute_end_is_exact():
    stream = AudioStream(seconds=2.5)
    ramp = np.arange(3 * SAMPLE_RATE, dtype=np.float32) / (4 * SAMPLE_RATE)
    stream.push(ramp, SAMPLE_RATE, 1)  # 16 kHz input passes straight through
    np.testing.assert_array_equal(stream.window(1.0, end=40000), ramp[24000:40000])
    assert stream.window(1.0, end=20000) is None  # already overwritten
    assert stream.window(1.0, end=60000) is None  # the future


def test_pushing_and_reading_from_two_threads():
    stream = AudioStream()
    frames = [f.to_ndarray() for f in _tone_frames()]
    errors: list[BaseException] = []

    def push() -> None:
        try:
            for f in frames:
                stream.push(f, 48000, 2)
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    thread = threading.Thread(target=push)
    thread.start()
    windows = [stream.window() for _ in range(500)]
    thread.join()
    assert not errors
    assert stream.total >= 3 * SAMPLE_RATE - 640
    assert all(w is None or w.size == 2 * SAMPLE_RATE for w in windows)


def _tone_frames():
    x = (tone(48000, 3.0) * 32767).astype(np.int16)
    source = av.AudioFrame.from_ndarray(np.repeat(x, 2)[None, :], format="s16", layout="stereo")
    source.sample_rate = 48000
    resampler = av.AudioResampler(format="s16", layout="stereo", rate=48000, frame_size=960)
    return list(resampler.resample(source)) + list(resampler.resample(None))
