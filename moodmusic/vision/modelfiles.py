"""Load the two committed MediaPipe models, refusing missing or damaged files loudly.

The decoding code (anchors, ROI rules, output names) is written for these exact
files, so each is checked against its SHA-256 before OpenCV sees it: a
truncated or swapped file gives a message naming the file and how to restore
it instead of a crash or silently wrong landmarks.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2

DETECTOR_FILE = "face_detection_short_range.tflite"
MESH_FILE = "face_landmark.tflite"

# From mediapipe==0.10.21 (mediapipe/modules/face_detection|face_landmark/).
SHA256: dict[str, str] = {
    DETECTOR_FILE: "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
    MESH_FILE: "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
}

RESTORE_HINT = (
    "restore it with `git checkout -- models/{name}`, or take it from the mediapipe 0.10.21 wheel: "
    "`pip download mediapipe==0.10.21 --no-deps -d /tmp/mp`, unzip, copy "
    "mediapipe/modules/*/{name} into the models folder (see models/LICENSE-mediapipe.txt)"
)


class ModelFileError(RuntimeError):
    """A face model file is missing or damaged; the message names it and says how to restore it."""


def default_models_dir() -> Path:
    from moodmusic.config import MODELS_DIR

    return MODELS_DIR


def load_net(models_dir: Path | None, name: str) -> cv2.dnn.Net:
    """Read one verified tflite model with OpenCV's classic engine (the new one drops outputs)."""
    path = Path(models_dir or default_models_dir()) / name
    hint = RESTORE_HINT.format(name=name)
    if not path.is_file():
        raise ModelFileError(f"face model file not found: {path}; {hint}")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    expected = SHA256.get(name)
    if expected is not None and digest != expected:
        raise ModelFileError(
            f"face model file is damaged or not the expected version: {path} "
            f"(sha256 {digest[:12]}…, expected {expected[:12]}…); {hint}"
        )
    engine = getattr(cv2.dnn, "ENGINE_CLASSIC", None)  # OpenCV 5; OpenCV 4 has only the classic one
    try:
        if engine is None:  # pragma: no cover - the project pins OpenCV 5
            return cv2.dnn.readNet(str(path))
        return cv2.dnn.readNet(str(path), engine=engine)
    except cv2.error as exc:  # pragma: no cover - guarded by the checksum above
        raise ModelFileError(f"OpenCV could not read face model {path}: {exc}; {hint}") from exc
