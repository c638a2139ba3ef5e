"""Real sample inputs shared by `bench` and the tests: a public-domain face and generated speech.

Both live in `tests/fixtures/` (see its README for provenance and licenses),
so measuring speed never needs the training data or a download.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from moodmusic.config import ROOT

FIXTURES = ROOT / "tests" / "fixtures"
ASTRONAUT = FIXTURES / "faces" / "astronaut.jpg"
SPEECH_DIR = FIXTURES / "speech"


def face_photo() -> np.ndarray:
    """The astronaut portrait (512x512 BGR)."""
    image = cv2.imread(str(ASTRONAUT), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"sample face {ASTRONAUT} is missing; restore it with git")
    return image


def face_frame(width: int = 640, height: int = 480) -> np.ndarray:
    """The astronaut's head and shoulders placed in a webcam-sized frame on a grey wall."""
    head = face_photo()[0:300, 100:330]
    frame = np.full((height, width, 3), 90, np.uint8)
    y, x = (height - 300) // 2, (width - 230) // 2
    frame[y : y + 300, x : x + 230] = head
    return frame


def speech_files() -> list[Path]:
    return sorted(SPEECH_DIR.glob("*.flac"))


def speech(name: str = "fox") -> np.ndarray:
    """A speech fixture as mono float32 at 16 kHz."""
    from moodmusic.media import read_audio

    path = SPEECH_DIR / f"{name}.flac"
    if not path.is_file():
        raise FileNotFoundError(f"sample speech {path} is missing; restore it with git")
    return read_audio(path)
