"""Real sample inputs shared by `bench` and the tests: a public-domain face and generated speech.

Both live in `tests/fixtures/` (see its README for provenance and licenses),
so measuring speed never needs the training data or a download.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from moodmusic.config import ROOT

FIXTURES = ROOT / "tests" / "fixtures"
ASTRONAUT = FIXTURES / "faces" / "astronaut.jpg"
HOPPER = FIXTURES / "faces" / "grace_hopper.jpg"
SPEECH_DIR = FIXTURES / "speech"


def face_photo(path: Path = ASTRONAUT) -> np.ndarray:
    """The astronaut portrait (512x512 BGR), or another fixture face such as `HOPPER`."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"sample face {path} is missing; restore it with git")
    return image


def second_face() -> np.ndarray:
    """Grace Hopper's head (public domain): a calmer, older face than the astronaut's smile.

    The face expert reads the astronaut as happy and this one as neutral, so the
    pair gives `bench --glass` a real expression change to time.
    """
    return face_photo(HOPPER)[60:460, 80:460]


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


def make_clip(
    path: str | Path,
    segments: Sequence[tuple[np.ndarray, float]],
    fps: int = 15,
    audio: np.ndarray | None = None,
    audio_rate: int = 16000,
) -> Path:
    """Write an H.264 mp4 showing each (BGR frame, seconds) in turn, with optional mono float audio."""
    path = Path(path)
    h, w = segments[0][0].shape[:2]
    import av

    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "crf": "20"})
        vs.width, vs.height, vs.pix_fmt = w - w % 2, h - h % 2, "yuv420p"
        aus = None
        if audio is not None:
            aus = out.add_stream("aac", rate=audio_rate, layout="mono")
        index = 0
        for frame, seconds in segments:
            image = np.ascontiguousarray(frame[: vs.height, : vs.width])
            for _ in range(max(1, round(seconds * fps))):
                vf = av.VideoFrame.from_ndarray(image, format="bgr24")
                vf.pts, vf.time_base = index, Fraction(1, fps)
                index += 1
                for packet in vs.encode(vf):
                    out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
        if aus is not None:
            samples = np.asarray(audio, np.float32)
            step = 1024
            for start in range(0, len(samples), step):
                chunk = samples[start : start + step]
                af = av.AudioFrame.from_ndarray(chunk[None, :], format="flt", layout="mono")
                af.sample_rate, af.pts, af.time_base = audio_rate, start, Fraction(1, audio_rate)
                for packet in aus.encode(af):
                    out.mux(packet)
            for packet in aus.encode():
                out.mux(packet)
    return path
