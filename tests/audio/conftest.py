"""Real speech for the voice-pipeline tests: espeak-ng recordings committed under tests/fixtures/speech."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

SPEECH_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "speech"
SPEECH_NAMES = ("fox", "rainbow", "gaps")


def load_speech(name: str) -> np.ndarray:
    """A fixture as mono float32 at 16 kHz (how the files are stored)."""
    x, rate = sf.read(SPEECH_DIR / f"{name}.flac", dtype="float32")
    assert rate == 16000 and x.ndim == 1
    return x


def webrtc_frames(path: Path, rate: int = 48000, frame_size: int = 960) -> Iterator[av.AudioFrame]:
    """What a browser sends a streamlit-webrtc server: stereo s16 frames of 20 ms at 48 kHz, via libswresample."""
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="s16", layout="stereo", rate=rate, frame_size=frame_size)
        for frame in container.decode(audio=0):
            yield from resampler.resample(frame)
        yield from resampler.resample(None)


def set_rms_dbfs(x: np.ndarray, dbfs: float) -> np.ndarray:
    """The same signal scaled to an overall RMS level in dBFS."""
    return (x * (10.0 ** (dbfs / 20.0) / np.sqrt(np.mean(x.astype(np.float64) ** 2)))).astype(np.float32)


def as_int16(x: np.ndarray) -> np.ndarray:
    """Round-trip through 16-bit PCM as a sound card would store it (with clipping)."""
    return (np.clip(np.round(x * 32767.0), -32768, 32767) / 32768.0).astype(np.float32)


@pytest.fixture(scope="session")
def speech() -> dict[str, np.ndarray]:
    return {name: load_speech(name) for name in SPEECH_NAMES}


@pytest.fixture(scope="session")
def speech_dir() -> Path:
    return SPEECH_DIR
