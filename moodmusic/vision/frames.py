"""Turn whatever a camera, a browser or a file hands us into one layout: uint8 BGR.

Every later stage (detector, mesh, aligner) then has a single case to handle.
Greyscale is recognised by shape (H x W or H x W x 1), so `pixel_format` only
decides the channel order of colour frames. Floats are read as [0, 1].

>>> import numpy as np
>>> to_bgr(np.zeros((4, 6), np.uint8)).shape
(4, 6, 3)
>>> to_bgr(np.ones((2, 2, 4), np.float32), "rgba")[0, 0].tolist()
[255, 255, 255]
"""

from __future__ import annotations

import cv2
import numpy as np

PIXEL_FORMATS: tuple[str, ...] = ("bgr", "rgb", "bgra", "rgba", "gray", "grey")


def check_frame(frame: np.ndarray, pixel_format: str = "bgr") -> None:
    """Raise ValueError with a clear message if `frame` is not an image we can read."""
    if not isinstance(frame, np.ndarray):
        raise ValueError(f"frame must be a numpy array, got {type(frame).__name__}")
    fmt = pixel_format.lower() if isinstance(pixel_format, str) else pixel_format
    if fmt not in PIXEL_FORMATS:
        raise ValueError(f"unknown pixel_format {pixel_format!r}; use one of {', '.join(PIXEL_FORMATS)}")
    if frame.ndim not in (2, 3):
        raise ValueError(f"frame must be H x W or H x W x C, got shape {frame.shape}")
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ValueError(f"frame is empty (shape {frame.shape})")
    channels = 1 if frame.ndim == 2 else frame.shape[2]
    if channels not in (1, 3, 4):
        raise ValueError(f"frame must have 1, 3 or 4 channels, got {channels} (shape {frame.shape})")
    if fmt in ("gray", "grey") and channels != 1:
        raise ValueError(f"pixel_format {pixel_format!r} needs a single-channel frame, got shape {frame.shape}")
    if frame.dtype != np.uint8 and not np.issubdtype(frame.dtype, np.floating):
        raise ValueError(f"frame must be uint8 or float in [0, 1], got dtype {frame.dtype}")


def to_uint8(frame: np.ndarray) -> np.ndarray:
    """uint8 as is; floats read as [0, 1], clipped, NaN as black."""
    if frame.dtype == np.uint8:
        return frame
    scaled = np.nan_to_num(frame.astype(np.float32, copy=False), nan=0.0, posinf=1.0, neginf=0.0)
    return np.clip(scaled * 255.0 + 0.5, 0, 255).astype(np.uint8)


def to_bgr(frame: np.ndarray, pixel_format: str = "bgr") -> np.ndarray:
    """Any supported layout (BGR, RGB, BGRA, RGBA, greyscale; uint8 or float) -> uint8 H x W x 3 BGR.

    A frame that already is contiguous uint8 BGR comes back as is, not copied: don't write to the result.
    """
    check_frame(frame, pixel_format)
    fmt = pixel_format.lower()
    img = to_uint8(frame)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    img = np.ascontiguousarray(img)
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    rgb_order = fmt.startswith("rgb")
    if img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_RGBA2BGR if rgb_order else cv2.COLOR_BGRA2BGR)
    if rgb_order:
        return cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    return img
