"""The local source with real devices: a video file opened through the camera API, and real speech
recorded through PortAudio from an ALSA capture device backed by a raw PCM file."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from moodmusic import samples
from tests.live.conftest import install_file_microphone, wait_for
from moodmusic.bench.live import place
from moodmusic.samples import make_clip
from moodmusic.live.session import EngineConfig, LiveSession
from moodmusic.live.sources import local
from moodmusic.live.sources.local import (
    AudioUnavailable,
    CameraSource,
    DeviceError,
    LocalCapture,
    MicrophoneSource,
    camera_target,
    find_microphone,
    list_microphones,
)

FAST = EngineConfig(signal_timeout=0.5)


def source_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(("moodmusic-camera", "moodmusic-microphone"))]


@pytest.fixture(scope="module")
def astronaut_clip(tmp_path_factory) -> Path:
    """Two seconds of the astronaut in a webcam-sized frame, 15 fps H.264."""
    head = samples.face_photo()[0:300, 100:330]
    return make_clip(tmp_path_factory.mktemp("cam") / "astronaut.mp4", [(place(head), 2.0)])


@pytest.fixture
def file_microphone(tmp_path, monkeypatch):
    """A real ALSA capture device named "filemic" that plays fox.flac, then silence."""
    yield install_file_microphone(tmp_path, monkeypatch, samples.speech("fox"))
    monkeypatch.undo()
    local.refresh_audio_devices()


class Recorder:
    """Stands in for the session where a test looks at exactly what the source delivers."""

    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []
        self.audio: list[tuple[np.ndarray, int, int]] = []

    def on_video(self, frame, pixel_format="bgr"):
        self.frames.append(frame)
        return frame

    def on_audio(self, samples, rate, channels, planar=False):
        self.audio.append((samples, rate, channels))


# ------------------------------------------------------------------ camera
def test_device_numbers_paths_and_urls_are_told_apart():
    assert camera_target("0") == 0 and camera_target(2) == 2
    assert camera_target(" clip.mp4 ") == "clip.mp4"
    assert camera_target("rtsp://host/stream") == "rtsp://host/stream"


def test_a_video_file_as_camera_shows_the_face_to_the_session(astronaut_clip):
    with LiveSession(None, None, config=FAST) as session:
        cam = CameraSource(session, str(astronaut_clip))
        cam.check()
        cam.start()
        try:
            assert wait_for(lambda: session.snapshot().face_state == "face"), session.snapshot()
            assert wait_for(lambda: session.snapshot().counters["video_frames"] > 3)
            assert session.snapshot().counters["errors"] == 0
            assert cam.size == (640, 480) and cam.error is None
        finally:
            cam.stop()
    assert not cam.running and not source_threads()


def test_frames_are_paced_mirrored_and_shrunk_to_the_requested_size(astronaut_clip):
    rec = Recorder()
    cam = CameraSource(rec, str(astronaut_clip), width=320, height=240, mirror=True).start()
    time.sleep(0.6)
    cam.stop()
    # 15 fps clip: about 9 frames in 0.6 s, not the whole file at decoding speed.
    assert 3 <= len(rec.frames) <= 14
    assert rec.frames[0].shape == (240, 320, 3)
    original = cv2.resize(place(samples.face_photo()[0:300, 100:330]), (320, 240), interpolation=cv2.INTER_AREA)
    err_mirrored = np.abs(rec.frames[0].astype(int) - cv2.flip(original, 1)).mean()
    err_plain = np.abs(rec.frames[0].astype(int) - original).mean()
    assert err_mirrored < 6 < err_plain


def test_files_are_not_mirrored_by_default_but_webcams_are(astronaut_clip):
    assert CameraSource(Recorder(), str(astronaut_clip)).mirror is False
    assert CameraSource(Recorder(), 0).mirror is True


def test_a_camera_that_disappears_means_no_signal_until_it_returns(astronaut_clip, tmp_path):
    clip = tmp_path / "cam.mp4"
    clip.write_bytes(astronaut_clip.read_bytes())
    away = tmp_path / "unplugged.mp4"
    with LiveSession(None, None, config=FAST) as session:
        cam = CameraSource(session, str(clip), retry_every=0.2).start()
        try:
            assert wait_for(lambda: session.snapshot().face_state == "face")
            clip.rename(away)  # the file plays to its end, then cannot be reopened: the device is gone
            assert wait_for(lambda: session.snapshot().state == "no signal"), session.snapshot()
            assert session.snapshot().face_state == "off" and cam.error == "file not found"
            frames = cam.frames
            away.rename(clip)
            assert wait_for(lambda: session.snapshot().face_state == "face"), session.snapshot()
            assert cam.frames > frames and cam.opens >= 2 and cam.error is None
        finally:
            cam.stop()
    assert not source_threads()


def test_a_missing_camera_is_a_clear_error(tmp_path):
    with pytest.raises(DeviceError, match="nothing.mp4 cannot be opened: file not found"):
        CameraSource(Recorder(), str(tmp_path / "nothing.mp4")).check()
    # No camera number 63 on any computer that runs these tests.
    with pytest.raises(DeviceError, match="camera 63 cannot be opened: no such device"):
        CameraSource(Recorder(), 63).check()


def test_camera_listing_only_reports_cameras_that_deliver():
    cameras = local.list_cameras()
    for cam in cameras:
        assert cam.width > 0 and cam.height > 0
    if not any(Path("/dev").glob("video*")) and sys.platform.startswith("linux"):
        assert cameras == []


# ------------------------------------------------------------------ microphone
def test_the_file_microphone_is_listed_with_its_native_format(file_microphone):
    mic = find_microphone("filemic")
    assert mic.name == "filemic" and mic.rate == 16000 and mic.channels >= 1
    assert any(m.name == "filemic" for m in list_microphones())


def test_real_speech_through_portaudio_reaches_the_session(file_microphone):
    with LiveSession(None, None, config=FAST) as session:
        mic = MicrophoneSource(session, "filemic")
        mic.check()
        mic.start()
        started = time.monotonic()
        try:
            assert wait_for(lambda: session.snapshot().voice_state == "speech", timeout=8), session.snapshot()
            snap = session.snapshot()
            assert snap.audio_level_db > -40 and snap.counters["audio_errors"] == 0
            assert mic.format == (16000.0, 1)
            # After the 3.4 s sentence the device gives silence, in real time (not thousands of blocks).
            assert wait_for(lambda: session.snapshot().voice_state == "silence", timeout=8)
            assert mic.blocks * 0.02 < time.monotonic() - started + 0.5
        finally:
            mic.stop()
    assert not mic.running and not mic.streaming and not source_threads()


def test_blocks_arrive_in_real_time_and_exactly_as_recorded(file_microphone):
    rec = Recorder()
    mic = MicrophoneSource(rec, "filemic").start()
    t0 = time.monotonic()
    time.sleep(1.0)
    mic.stop()
    elapsed = time.monotonic() - t0
    got = np.concatenate([a[0][:, 0] for a in rec.audio])
    assert {(a[1], a[2]) for a in rec.audio} == {(16000, 1)}
    assert got.size / 16000 < elapsed + 0.5  # paced to the clock, not as fast as the file reads
    expected = (np.clip(samples.speech("fox"), -1, 1) * 32767).astype(np.int16)[: got.size]
    assert np.array_equal(got, expected)


def test_a_stream_that_stops_is_reopened(file_microphone):
    with LiveSession(None, None, config=FAST) as session:
        mic = MicrophoneSource(session, "filemic", retry_every=0.1, stall_after=0.5).start()
        try:
            assert wait_for(lambda: mic.streaming and mic.blocks > 5)
            mic._stream.abort()  # what PortAudio does when the device goes away under it
            assert wait_for(lambda: mic.opens >= 2 and mic.streaming), (mic.opens, mic.error)
            blocks = mic.blocks
            assert wait_for(lambda: mic.blocks > blocks + 5)
        finally:
            mic.stop()
    assert not source_threads()


def test_a_microphone_that_appears_later_is_picked_up(file_microphone):
    config = file_microphone / ".asoundrc"
    text = config.read_text()
    config.write_text("")
    local.refresh_audio_devices()
    with LiveSession(None, None, config=FAST) as session:
        mic = MicrophoneSource(session, "filemic", retry_every=0.2)
        with pytest.raises(DeviceError, match="no microphone"):
            mic.check()
        mic.start()
        try:
            assert wait_for(lambda: mic.error is not None and "no microphone" in mic.error)
            assert session.snapshot().voice_state == "off"
            config.write_text(text)  # plugged in
            assert wait_for(lambda: session.snapshot().voice_state in ("silence", "speech")), mic.error
            assert mic.opens == 1 and mic.error is None
        finally:
            mic.stop()
    assert not source_threads()


def test_rescanning_never_cuts_off_an_open_microphone(file_microphone):
    rec = Recorder()
    mic = MicrophoneSource(rec, "filemic").start()
    try:
        assert wait_for(lambda: mic.streaming and len(rec.audio) > 3)
        assert local.refresh_audio_devices() is False
        n = len(rec.audio)
        assert wait_for(lambda: len(rec.audio) > n + 5)
    finally:
        mic.stop()
    assert local.refresh_audio_devices() is True


def test_an_unknown_microphone_names_the_ones_there_are(file_microphone):
    with pytest.raises(DeviceError, match=r"no microphone 'studio mic'; available: .*filemic"):
        find_microphone("studio mic")


def test_without_portaudio_the_reason_is_given(monkeypatch):
    import ctypes.util

    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    monkeypatch.setitem(sys.modules, "_sounddevice_data", None)  # the wheel's bundled copy, where present
    with pytest.raises(AudioUnavailable, match="needs the PortAudio library.*libportaudio2"):
        local.sounddevice()
    assert "PortAudio" in local.audio_unavailable_reason()
    with pytest.raises(AudioUnavailable):
        MicrophoneSource(Recorder()).start()
    assert not source_threads()


# ------------------------------------------------------------------ both
def test_camera_and_microphone_together_then_everything_is_released(astronaut_clip, file_microphone):
    with LiveSession(None, None, config=FAST) as session:
        capture = LocalCapture(CameraSource(session, str(astronaut_clip)), MicrophoneSource(session, "filemic"))
        capture.check()
        capture.start()
        try:
            assert wait_for(lambda: (session.snapshot().face_state, session.snapshot().voice_state) == ("face", "speech"))
        finally:
            capture.stop()
        assert not capture.running
    assert not source_threads()
    # The microphone was released: a new source opens it at once.
    rec = Recorder()
    again = MicrophoneSource(rec, "filemic").start()
    assert wait_for(lambda: len(rec.audio) > 5)
    again.stop()


# ------------------------------------------------------------------ the page widgets
def _source_page():
    import streamlit as st

    from moodmusic.live.session import EngineConfig, LiveSession
    from moodmusic.ui import local_source

    if "live" not in st.session_state:
        st.session_state.live = LiveSession(None, None, config=EngineConfig(signal_timeout=0.5))
    kind = st.radio("Source", ["This computer", "File"], key="source")
    if kind == "This computer":
        playing = local_source.render_local(lambda: st.session_state.live)
    else:
        playing = local_source.render_file(lambda: st.session_state.live)
    st.markdown(f"playing: {playing}")


def test_the_page_starts_local_capture_and_releases_it_on_source_change(astronaut_clip, file_microphone):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_source_page, default_timeout=60).run()
    assert not at.exception
    mic_options = at.selectbox(key="local-mic").options
    assert any("filemic" in o for o in mic_options)
    at.selectbox(key="local-camera").set_value("file").run()
    at.text_input(key="local-camera-path").set_value(str(astronaut_clip)).run()
    filemic = next(i for i, m in enumerate(list_microphones()) if m.name == "filemic")
    at.selectbox(key="local-mic").set_value(str(list_microphones()[filemic].index)).run()
    at.button(key="local-start").click().run()
    assert not at.exception and not at.error
    assert [b.label for b in at.button] == ["■ STOP"]
    live = at.session_state["live"]
    assert wait_for(lambda: (live.snapshot().face_state, live.snapshot().voice_state) == ("face", "speech"))
    assert sorted(source_threads()) == ["moodmusic-camera-" + str(astronaut_clip), "moodmusic-microphone"]
    at.radio(key="source").set_value("File").run()  # another source: the devices are released
    assert not at.exception
    assert wait_for(lambda: not source_threads(), timeout=5)
    assert "playing: False" in [m.value for m in at.markdown]


def test_the_page_explains_when_the_devices_are_not_the_visitors(monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("MOODMUSIC_LOCAL_CAPTURE", "0")
    at = AppTest.from_function(_source_page, default_timeout=60).run()
    assert not at.exception
    assert any("Local capture is unavailable" in i.value for i in at.info)
    assert not at.button  # nothing to start
