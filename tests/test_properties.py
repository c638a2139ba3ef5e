"""Property-based tests: any shape, dtype, rate, channel count, NaN/inf, silence, clipping, zero length.

The pure cores must give either a clear error (ValueError/TypeError) or a
defined, finite result — never a crash of another kind and never NaN.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from moodmusic.audio import FEATURE_NAMES, SAMPLE_RATE, StreamResampler, to_mono_float, voice_features
from moodmusic.moods import MOODS
from moodmusic.recognition.fusion import Opinion, fuse
from moodmusic.vision import to_bgr

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

special_floats = st.floats(allow_nan=True, allow_infinity=True, width=32)
audio_dtypes = st.sampled_from([np.int16, np.int32, np.uint8, np.float32, np.float64])


def audio_arrays(max_len: int = 4000):
    return audio_dtypes.flatmap(
        lambda dt: arrays(
            dt, array_shapes(min_dims=1, max_dims=2, min_side=0, max_side=max_len),
            elements=special_floats if np.dtype(dt).kind == "f" else None,
        )
    )


@FAST
@given(samples=audio_arrays(), channels=st.integers(-1, 8), planar=st.booleans())
def test_audio_conversion_is_finite_mono_or_a_clear_error(samples, channels, planar):
    try:
        mono = to_mono_float(samples, channels=channels, planar=planar)
    except (ValueError, TypeError) as exc:
        assert str(exc)
        return
    assert mono.dtype == np.float32 and mono.ndim == 1
    assert mono.size * max(channels, 1) == samples.size
    assert np.isfinite(mono).all() and np.abs(mono).max(initial=0) <= 1.0


@FAST
@given(
    rate=st.sampled_from([8000, 11025, 16000, 22050, 32000, 44100, 48000, 96000]),
    blocks=st.lists(st.integers(0, 2000), min_size=1, max_size=6),
    seed=st.integers(0, 2**16),
)
def test_streaming_resampler_output_is_finite_and_the_right_length(rate, blocks, seed):
    rng = np.random.default_rng(seed)
    r = StreamResampler(rate)
    out = [r.process(rng.uniform(-1, 1, n).astype(np.float32)) for n in blocks]
    out.append(r.flush())
    y = np.concatenate(out)
    assert np.isfinite(y).all()
    expected = sum(blocks) * SAMPLE_RATE / rate
    assert abs(len(y) - expected) <= 2 + 0.01 * expected


@FAST
@given(
    window=arrays(np.float32, st.integers(0, 2 * SAMPLE_RATE), elements=special_floats),
    gain=st.sampled_from([0.0, 1e-6, 1.0, 50.0]),
)
def test_voice_features_are_always_finite_and_fixed_length(window, gain):
    with np.errstate(all="ignore"):
        feats = voice_features(window * np.float32(gain))
    assert feats.shape == (len(FEATURE_NAMES),) and feats.dtype == np.float32
    assert np.isfinite(feats).all()


@FAST
@given(
    face=st.one_of(st.none(), arrays(np.float64, len(MOODS), elements=special_floats)),
    voice=st.one_of(st.none(), arrays(np.float64, len(MOODS), elements=special_floats)),
    quality=special_floats, age=special_floats,
)
def test_fusion_gives_a_distribution_or_nothing(face, voice, quality, age):
    fused = fuse(
        None if face is None else Opinion(face, quality, age),
        None if voice is None else Opinion(voice, 1.0, 0.0),
    )
    if fused.probs is None:
        assert fused.mood is None and fused.weights == {}
        return
    assert np.isfinite(fused.probs).all() and abs(float(fused.probs.sum()) - 1) < 1e-4
    assert fused.mood in MOODS and abs(sum(fused.weights.values()) - 1) < 1e-6


@FAST
@given(
    frame=st.sampled_from([np.uint8, np.uint16, np.float32, np.float64, np.int64, np.bool_]).flatmap(
        lambda dt: arrays(dt, array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=24))
    ),
    pixel_format=st.sampled_from(["bgr", "rgb", "bgra", "rgba", "gray", "yuv"]),
)
def test_frame_conversion_gives_bgr_uint8_or_a_clear_error(frame, pixel_format):
    try:
        with np.errstate(all="ignore"):
            out = to_bgr(frame, pixel_format=pixel_format)
    except (ValueError, TypeError) as exc:
        assert str(exc)
        return
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
    assert out.shape[:2] == frame.shape[:2]
