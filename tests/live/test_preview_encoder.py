"""The preview VP8 encoder: a real stream the browser can decode, without libvpx's denoiser."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from moodmusic import samples
from moodmusic.live.transport.preview_encoder import install_preview_encoder, preview_encoder_class


def _frames(n: int) -> list[np.ndarray]:
    base = samples.face_frame()
    return [np.roll(base, (i % 9) - 4, axis=1).copy() for i in range(n)]


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0 ** 2 / max(mse, 1e-9))


def test_the_preview_stream_decodes_to_the_frames_sent():
    from aiortc.codecs.vpx import vp8_depayload

    encoder = preview_encoder_class()()
    decoder = av.CodecContext.create("libvpx", "r")
    scores = []
    for i, image in enumerate(_frames(40)):
        frame = av.VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts, frame.time_base = i * 3000, Fraction(1, 90_000)
        payloads, timestamp = encoder.encode(frame)
        assert payloads and abs(timestamp - i * 3000) <= 1  # in the 90 kHz RTP clock
        data = b"".join(vp8_depayload(p) for p in payloads)
        for out in decoder.decode(av.Packet(data)):
            assert (out.width, out.height) == (640, 480)
            scores.append(_psnr(out.to_ndarray(format="bgr24"), image))
    assert len(scores) == 40
    assert np.median(scores) > 28  # a faithful picture at aiortc's 500 kb/s start rate


def test_the_encoder_opens_libvpx_without_the_denoiser_and_otherwise_as_aiortc():
    codec = preview_encoder_class()()._open(640, 480)
    assert codec.options["noise-sensitivity"] == "0"
    assert codec.options["deadline"] == "realtime" and codec.options["cpu-used"] == "-6"
    assert codec.options["minrate"] == codec.options["maxrate"] == str(codec.bit_rate) == "500000"


def test_a_size_or_bitrate_change_reopens_the_encoder_with_the_same_options():
    encoder = preview_encoder_class()()
    small = av.VideoFrame.from_ndarray(np.zeros((240, 320, 3), np.uint8), format="bgr24")
    small.pts, small.time_base = 0, Fraction(1, 90_000)
    encoder.encode(small)
    first = encoder.codec
    encoder.target_bitrate = 1_200_000
    encoder.encode(small)
    assert encoder.codec is not first and encoder.codec.bit_rate == 1_200_000


def test_installing_routes_vp8_only_and_is_idempotent(monkeypatch):
    from aiortc import rtcrtpsender
    from aiortc.rtcrtpparameters import RTCRtpCodecParameters

    monkeypatch.setattr(rtcrtpsender, "get_encoder", rtcrtpsender.get_encoder)  # undone after the test
    assert install_preview_encoder() and install_preview_encoder()
    vp8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90_000, payloadType=96)
    opus = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48_000, channels=2, payloadType=111)
    assert isinstance(rtcrtpsender.get_encoder(vp8), preview_encoder_class())
    assert type(rtcrtpsender.get_encoder(opus)).__name__ == "OpusEncoder"


@pytest.mark.parametrize("fmt", ["rgb24", "yuv420p"])
def test_any_pixel_format_is_accepted(fmt):
    encoder = preview_encoder_class()()
    frame = av.VideoFrame.from_ndarray(np.zeros((480, 640, 3), np.uint8), format="rgb24").reformat(format=fmt)
    frame.pts, frame.time_base = 0, Fraction(1, 90_000)
    payloads, _ = encoder.encode(frame)
    assert payloads
