"""Load the two committed MediaPipe models, refusing missing or damaged files loudly.

The decoding code (anchors, ROI rules, output names) is written for these exact
files, so each is checked against its SHA-256 before LiteRT or OpenCV sees it:
a truncated or swapped file gives a message naming the file and how to restore
it instead of a crash or silently wrong landmarks.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2

from moodmusic.vision.runtime import Model, make_model

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


def verified_file(models_dir: Path | None, name: str) -> tuple[Path, bytes]:
    """(path, contents) of one model file whose checksum matches; ModelFileError otherwise."""
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
    return path, data


def _read_net(path: Path) -> cv2.dnn.Net:
    """A verified file in OpenCV's classic engine (the new one drops one of the detector's outputs)."""
    engine = getattr(cv2.dnn, "ENGINE_CLASSIC", None)  # OpenCV 5; OpenCV 4 has only the classic one
    try:
        if engine is None:  # pragma: no cover - the project pins OpenCV 5
            return cv2.dnn.readNet(str(path))
        return cv2.dnn.readNet(str(path), engine=engine)
    except cv2.error as exc:  # pragma: no cover - guarded by the checksum
        hint = RESTORE_HINT.format(name=path.name)
        raise ModelFileError(f"OpenCV could not read face model {path}: {exc}; {hint}") from exc


def load_model(models_dir: Path | None, name: str) -> Model:
    """One verified tflite model in the engine chosen by MOODMUSIC_VISION_RUNTIME (see vision.runtime)."""
    path, data = verified_file(models_dir, name)
    return make_model(data, lambda: _read_net(path), name)
