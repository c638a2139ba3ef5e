"""Real inputs for the live engine: the astronaut's face in a webcam frame, espeak speech as WebRTC audio frames."""

from __future__ import annotations

import time
from pathlib import Path

import av
import numpy as np
import pytest

from moodmusic import samples

SPEECH = samples.SPEECH_DIR


class Clock:
    """A hand-driven monotonic clock, so tests control time exactly."""

    def __init__(self, t: float = 100.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="session")
def face_frame() -> np.ndarray:
    return samples.face_frame()


@pytest.fixture(scope="session")
def blank_frame() -> np.ndarray:
    return np.full((480, 640, 3), 90, np.uint8)


def webrtc_audio(path: Path) -> list[np.ndarray]:
    """Browser-like audio: 48 kHz stereo s16 in (1, 1920) arrays, 20 ms each."""
    out = []
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="s16", layout="stereo", rate=48000, frame_size=960)
        for frame in container.decode(audio=0):
            out += [f.to_ndarray() for f in resampler.resample(frame)]
        out += [f.to_ndarray() for f in resampler.resample(None)]
    return out


@pytest.fixture(scope="session")
def speech_frames() -> list[np.ndarray]:
    return webrtc_audio(SPEECH / "fox.flac")


@pytest.fixture(scope="session")
def silence_frames() -> list[np.ndarray]:
    return [np.zeros((1, 1920), np.int16) for _ in range(150)]


def wait_for(condition, timeout: float = 10.0, step: float = 0.05) -> bool:
    """Poll `condition` until it holds or `timeout` seconds pass; its last value."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(step)
    return condition()


def install_file_microphone(tmp_path: Path, monkeypatch, speech: np.ndarray) -> Path:
    """A real ALSA capture device named "filemic" that plays `speech` (16 kHz mono), then silence."""
    from moodmusic.live.sources import local

    raw = tmp_path / "speech.raw"
    (np.clip(speech, -1, 1) * 32767).astype("<i2").tofile(raw)
    home = tmp_path / "home"
    home.mkdir()
    (home / ".asoundrc").write_text(local.file_microphone_asoundrc(raw, "filemic"))
    monkeypatch.setenv("HOME", str(home))
    local.refresh_audio_devices()  # PortAudio reads the ALSA configuration when it starts
    return home
