"""Which engine runs the two face models: LiteRT when it works here, OpenCV's DNN module otherwise.

LiteRT (`ai-edge-litert`, Google's TFLite interpreter) runs BlazeFace and
FaceMesh about 1.5-2x faster than `cv2.dnn` on one thread, so it is the
default. It has no wheel for every platform (none for Intel macOS) and a
native library can fail to load, so when it cannot be imported or cannot
build an interpreter we say so once in the log and use `cv2.dnn`, which reads
the same files. `MOODMUSIC_VISION_RUNTIME=litert|opencv` forces one
(`auto`, the default, prefers LiteRT).

Both engines take the same input: one NHWC float32 image made by
`to_tensor`, bit-for-bit what `cv2.dnn.blobFromImage` gave before LiteRT
existed here (OpenCV gets it transposed to NCHW). A model object is not
thread-safe; each FaceDetector / FaceMesh owns its own, and each live
session owns its own tracker.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Protocol

import cv2
import numpy as np

log = logging.getLogger(__name__)

RUNTIME_ENV = "MOODMUSIC_VISION_RUNTIME"
LITERT, OPENCV, AUTO = "litert", "opencv", "auto"
RUNTIMES = (LITERT, OPENCV)

_fallback_lock = threading.Lock()
_fallback_logged = False


class VisionRuntimeError(RuntimeError):
    """The face-model engine asked for cannot run here; the message says what to change."""


class Model(Protocol):
    """One loaded tflite model: NHWC float32 in, the named outputs out."""

    runtime: str

    def run(self, tensor: np.ndarray, outputs: tuple[str, ...]) -> list[np.ndarray]: ...


def to_tensor(bgr: np.ndarray, scale: float, offset: float = 0.0) -> np.ndarray:
    """(1, H, W, 3) float32 RGB of (pixel - offset) * scale: cv2.dnn.blobFromImage's arithmetic, in NHWC."""
    x = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32)
    if offset:
        x -= np.float32(offset)
    x *= np.float32(scale)
    return x[None]


def requested_runtime() -> str:
    """`auto`, `litert` or `opencv` from MOODMUSIC_VISION_RUNTIME (empty means auto)."""
    raw = os.environ.get(RUNTIME_ENV, "").strip().lower() or AUTO
    if raw not in (AUTO, *RUNTIMES):
        raise VisionRuntimeError(f"{RUNTIME_ENV} must be auto, litert or opencv, got {raw!r}")
    return raw


class LiteRTModel:
    """A tflite model in LiteRT's interpreter: one thread, tensors allocated once."""

    runtime = LITERT

    def __init__(self, content: bytes) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self._interpreter = Interpreter(model_content=content, num_threads=1)
        self._interpreter.allocate_tensors()
        (inp,) = self._interpreter.get_input_details()
        self._input = int(inp["index"])
        self._outputs = {d["name"]: int(d["index"]) for d in self._interpreter.get_output_details()}

    def run(self, tensor: np.ndarray, outputs: tuple[str, ...]) -> list[np.ndarray]:
        self._interpreter.set_tensor(self._input, tensor)
        self._interpreter.invoke()
        return [self._interpreter.get_tensor(self._outputs[name]) for name in outputs]


class OpenCVModel:
    """A tflite model in cv2.dnn: one net per instance, fed the NHWC tensor as NCHW."""

    runtime = OPENCV

    def __init__(self, net: cv2.dnn.Net) -> None:
        self.net = net

    def run(self, tensor: np.ndarray, outputs: tuple[str, ...]) -> list[np.ndarray]:
        self.net.setInput(np.ascontiguousarray(tensor.transpose(0, 3, 1, 2)))
        return list(self.net.forward(list(outputs)))


def _log_fallback(exc: BaseException) -> None:
    global _fallback_logged
    with _fallback_lock:
        if _fallback_logged:
            return
        _fallback_logged = True
    log.warning(
        "LiteRT (ai-edge-litert) is not usable here (%s: %s); running the face models with OpenCV's DNN "
        "module instead, which is slower. Install the version in requirements.txt, or set %s=opencv "
        "to silence this.",
        type(exc).__name__, exc, RUNTIME_ENV,
    )


def make_model(content: bytes, open_cv_net: Callable[[], cv2.dnn.Net], name: str) -> Model:
    """The model in the engine MOODMUSIC_VISION_RUNTIME asks for; `auto` falls back to OpenCV, once logged.

    `content` is the verified file's bytes; `open_cv_net` reads the same file with cv2.dnn when needed.
    """
    wanted = requested_runtime()
    if wanted == OPENCV:
        return OpenCVModel(open_cv_net())
    try:
        return LiteRTModel(content)
    except Exception as exc:  # ImportError, a native library that fails to load, a model it rejects
        if wanted == LITERT:
            raise VisionRuntimeError(
                f"{RUNTIME_ENV}=litert, but LiteRT cannot run {name} here ({type(exc).__name__}: {exc}); "
                "install the ai-edge-litert version pinned in requirements.txt, or set it to auto or opencv"
            ) from exc
        _log_fallback(exc)
        return OpenCVModel(open_cv_net())
