"""The WebRTC callbacks on real PyAV frames: the overlay goes back as the encoder's own format, untouched frames as they came."""

from __future__ import annotations

from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from moodmusic.live.session import LiveSession
from moodmusic.live.sources.webrtc import bgr_to_video_frame, make_callbacks, media_constraints
from moodmusic.pipeline import load_experts


@pytest.fixture(scope="module")
def experts():
    return load_experts()


def decoded(image: np.ndarray, pts: int = 3000) -> av.VideoFrame:
    """A frame as aiortc's VP8 decoder hands it over: yuv420p with a pts on the 90 kHz clock."""
    frame = av.VideoFrame.from_ndarray(cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420), format="yuv420p")
    frame.pts, frame.time_base = pts, Fraction(1, 90000)
    return frame


def test_a_face_comes_back_drawn_as_yuv420p_with_its_timing(experts, face_frame):
    session = LiveSession(experts.face, None, start_worker=False)
    video_cb, _ = make_callbacks(lambda: session)
    frame = decoded(face_frame)
    out = video_cb(frame)
    assert out is not frame and out.format.name == "yuv420p"  # the VP8 encoder takes it without converting
    assert (out.width, out.height, out.pts, out.time_base) == (640, 480, frame.pts, frame.time_base)
    drawn = out.to_ndarray(format="bgr24").astype(int)
    plain = frame.to_ndarray(format="bgr24").astype(int)
    changed = np.abs(drawn - plain).max(axis=2) > 40
    assert 0.001 < changed.mean() < 0.2  # the box and outline, not a different picture
    assert session.snapshot().counters["video_processed"] == 1


def test_a_frame_with_nothing_to_draw_goes_back_as_it_came(experts, blank_frame):
    session = LiveSession(experts.face, None, start_worker=False)
    video_cb, _ = make_callbacks(lambda: session)
    frame = decoded(blank_frame)
    assert video_cb(frame) is frame
    assert session.snapshot().face_state == "no face"


def test_conversion_keeps_the_picture_and_odd_sizes(face_frame):
    back = bgr_to_video_frame(face_frame).to_ndarray(format="bgr24").astype(int)
    assert np.abs(back - face_frame.astype(int)).mean() < 3  # 4:2:0 loses colour detail only
    odd = bgr_to_video_frame(face_frame[:479, :639])
    assert odd.format.name == "bgr24" and np.array_equal(odd.to_ndarray(format="bgr24"), face_frame[:479, :639])


def test_a_lower_camera_rate_is_also_a_maximum():
    """Chrome honours `max` by dropping frames before encoding; `ideal` alone would still send 30."""
    assert media_constraints()["video"]["frameRate"] == {"ideal": 30.0}
    assert media_constraints(15)["video"]["frameRate"] == {"ideal": 15, "max": 15}
    audio = media_constraints(15)["audio"]
    assert not (audio["echoCancellation"] or audio["noiseSuppression"] or audio["autoGainControl"])


def test_the_camera_size_setting_is_checked(monkeypatch):
    from moodmusic.config import load_settings

    monkeypatch.delenv("MOODMUSIC_CAPTURE_SIZE", raising=False)
    assert load_settings().capture_size == (480, 360)
    assert media_constraints()["video"]["width"] == {"ideal": 480}
    monkeypatch.setenv("MOODMUSIC_CAPTURE_SIZE", " 640X480 ")
    assert load_settings().capture_size == (640, 480)
    for bad in ("640", "641x480", "100x80", "4000x3000", "big"):
        monkeypatch.setenv("MOODMUSIC_CAPTURE_SIZE", bad)
        with pytest.raises(ValueError, match="MOODMUSIC_CAPTURE_SIZE"):
            load_settings()


def test_the_camera_rate_setting_is_checked(monkeypatch):
    from moodmusic.config import load_settings

    monkeypatch.setenv("MOODMUSIC_CAPTURE_FPS", "12")
    assert load_settings().capture_fps == 12.0
    for bad in ("0", "120", "fast"):
        monkeypatch.setenv("MOODMUSIC_CAPTURE_FPS", bad)
        with pytest.raises(ValueError, match="MOODMUSIC_CAPTURE_FPS"):
            load_settings()
