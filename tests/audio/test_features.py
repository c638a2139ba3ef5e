"""Voice features: fixed length, always finite, blind to level, and the same from a file and from a stream."""

from __future__ import annotations

import av
import numpy as np
import pytest
from tests.audio.conftest import SPEECH_NAMES, as_int16, set_rms_dbfs, webrtc_frames

from moodmusic.audio import (
    FEATURE_NAMES,
    FEATURE_VERSION,
    HOP_SECONDS,
    SAMPLE_RATE,
    WINDOW_SECONDS,
    AudioStream,
    clip_features,
    voice_features,
    warm_up,
    window_bounds,
)

D = len(FEATURE_NAMES)
WINDOW = int(WINDOW_SECONDS * SAMPLE_RATE)


@pytest.fixture(scope="module")
def spread(speech) -> np.ndarray:
    """How much each feature varies across real speech: the yardstick for "nearly identical"."""
    features = np.vstack([clip_features(speech[n]) for n in SPEECH_NAMES])
    return features.std(axis=0) + 1e-6


def deviation(a: np.ndarray, b: np.ndarray, spread: np.ndarray) -> np.ndarray:
    return np.abs(a - b) / spread


def test_names_and_version_describe_the_vector():
    assert len(set(FEATURE_NAMES)) == D
    assert "mfcc0_mean" not in FEATURE_NAMES  # c0 is the level: left out on purpose
    assert {"f0_median_st", "energy_std_db", "mfcc39_delta_std"} <= set(FEATURE_NAMES)
    assert FEATURE_VERSION.startswith("voice-")


def test_window_bounds_step_by_the_hop():
    hop = int(HOP_SECONDS * SAMPLE_RATE)
    assert window_bounds(WINDOW) == [(0, WINDOW)]
    assert window_bounds(WINDOW + 2 * hop + 5) == [(0, WINDOW), (hop, WINDOW + hop), (2 * hop, WINDOW + 2 * hop)]
    assert window_bounds(100) == [(0, WINDOW)]  # short clips are padded to one window
    assert window_bounds(int(2.5 * 44100), rate=44100) == [(0, 88200), (22050, 110250)]


@pytest.mark.parametrize(
    "window",
    [
        np.zeros(WINDOW, np.float32),
        np.full(WINDOW, np.nan, np.float32),
        np.sign(np.sin(np.arange(WINDOW) * 0.05)).astype(np.float32),  # hard-clipped square wave
        np.full(WINDOW, 1e9, np.float32),
        np.r_[np.zeros(WINDOW - 1), 1.0].astype(np.float32),  # one click
        np.zeros(10, np.float32),  # far too short
    ],
    ids=["silence", "nan", "clipped", "huge", "click", "short"],
)
def test_any_input_gives_a_finite_vector(window):
    f = voice_features(window)
    assert f.shape == (D,) and f.dtype == np.float32 and np.isfinite(f).all()


def test_clip_features_cover_the_clip_at_the_hop(speech):
    x = speech["rainbow"]
    f = clip_features(x)
    assert f.shape == (len(window_bounds(x.size)), D)
    np.testing.assert_allclose(f[2], voice_features(x[2 * 8000 : 2 * 8000 + WINDOW]), rtol=1e-6, atol=1e-6)
    assert clip_features(x[:12000]).shape == (1, D)


def test_other_rates_are_resampled_first(speech):
    x = speech["fox"]
    import soxr

    at_44k = soxr.resample(x, SAMPLE_RATE, 44100)
    assert clip_features(at_44k, rate=44100).shape == clip_features(x).shape


@pytest.mark.parametrize("name", SPEECH_NAMES)
def test_level_does_not_change_the_features(speech, spread, name):
    """The same speech at -40, -25 and -10 dBFS: a quiet corpus and a loud close microphone."""
    x = speech[name]
    levels = [clip_features(set_rms_dbfs(x, db)) for db in (-40.0, -25.0, -10.0)]
    for other in levels[1:]:
        assert deviation(levels[0], other, spread).max() < 1e-3


@pytest.mark.parametrize("name", SPEECH_NAMES)
def test_level_does_not_matter_after_16_bit_quantisation(speech, spread, name):
    """Through a sound card: quiet speech loses resolution, the loudest clean take peaks at -1 dBFS."""
    x = speech[name]
    quiet = clip_features(as_int16(set_rms_dbfs(x, -40.0)))
    normal = clip_features(as_int16(set_rms_dbfs(x, -25.0)))
    loud = clip_features(as_int16(x * (10 ** (-1 / 20) / np.abs(x).max())))
    for other in (quiet, loud):
        d = deviation(normal, other, spread)
        assert d.max() < 0.1 and np.median(d) < 0.01


def test_different_speech_gives_different_features(speech, spread):
    """Guard for the invariance tests: the features do see what is said and by whom."""
    a = voice_features(speech["fox"][:WINDOW])
    b = voice_features(speech["rainbow"][:WINDOW])
    assert np.median(deviation(a, b, spread)) > 0.3


def test_a_higher_voice_has_a_higher_pitch(speech):
    i = FEATURE_NAMES.index("f0_median_st")
    male = clip_features(speech["fox"])[:, i]  # espeak en-us default voice
    female = clip_features(speech["rainbow"])[:, i]  # espeak en+f3, raised pitch
    assert female.min() > male.max() + 5  # semitones


def _stream_windows(frames, n_windows: int) -> np.ndarray:
    """Push frames like a WebRTC callback and take the window ending at each hop, as the live worker does."""
    stream = AudioStream()
    ends = [b for _, b in window_bounds(10**9)][:n_windows]
    out = []
    for frame in frames:
        stream.push(frame.to_ndarray(), frame.sample_rate, len(frame.layout.channels), frame.format.is_planar)
        while ends and stream.total >= ends[0]:
            out.append(voice_features(stream.window(end=ends.pop(0))))
    assert not ends
    return np.array(out)


def test_stream_and_file_give_the_same_features_from_the_same_samples(tmp_path, speech_dir, spread):
    """A 48 kHz stereo recording: read whole as a file, or sliced into (1, 1920) s16 frames as WebRTC sends it."""
    from moodmusic.media import read_audio

    path = tmp_path / "take.wav"
    frames = list(webrtc_frames(speech_dir / "rainbow.flac"))
    with av.open(str(path), "w") as out:
        stream = out.add_stream("pcm_s16le", rate=48000, layout="stereo")
        for frame in frames:
            frame.pts = None
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    assert all(f.to_ndarray().shape == (1, 1920) for f in frames[:-1])

    from_file = clip_features(read_audio(path))
    from_stream = _stream_windows(frames, n_windows=from_file.shape[0])
    assert from_file.shape[0] >= 5
    assert deviation(from_file, from_stream, spread).max() < 1e-3


def test_stream_features_match_the_original_16k_recording(speech, speech_dir, spread):
    """Up to 48 kHz stereo s16 through libswresample and back down through ours: still the same features."""
    reference = clip_features(speech["rainbow"])
    live = _stream_windows(webrtc_frames(speech_dir / "rainbow.flac"), n_windows=reference.shape[0])
    d = deviation(reference, live, spread)
    assert d.max() < 0.25 and np.median(d) < 0.03


def test_warm_up_runs():
    warm_up()
