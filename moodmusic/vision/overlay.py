"""Draw what the pipeline saw onto a frame for the live page: box, a faint mesh outline, a label.

Works on a copy in the frame's own layout (grey, 3 or 4 channels, uint8 or
float), so it can sit in a video callback that must return the frame it got.
`colour` is in the frame's channel order, 0..255.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from moodmusic.vision.face import Face
from moodmusic.vision.frames import check_frame
from moodmusic.vision.landmarks import FACE_OVAL, LEFT_BROW, LEFT_EYE, LIPS_OUTER, RIGHT_BROW, RIGHT_EYE

_OUTLINES = (  # (points, closed)
    (FACE_OVAL, True),
    (RIGHT_EYE, True),
    (LEFT_EYE, True),
    (LIPS_OUTER, True),
    (RIGHT_BROW, False),
    (LEFT_BROW, False),
)
_FAINT = 0.6  # outline opacity: a hint of the mesh, not a mask over the face


def _pixel(colour: Sequence[float], frame: np.ndarray) -> np.ndarray:
    """The colour as one of this frame's pixels: grey for one channel, opaque alpha for four, [0, 1] for floats."""
    c = [float(v) for v in colour][:3]
    channels = 1 if frame.ndim == 2 else frame.shape[2]
    if channels == 1:
        c = [0.114 * c[0] + 0.587 * c[1] + 0.299 * c[2]]
    elif channels == 4:
        c = c + [255.0]
    scale = 1.0 if frame.dtype == np.uint8 else 1.0 / 255.0
    return np.asarray(c, np.float32) * scale


def _blend(
    out: np.ndarray, alpha: np.ndarray, colour: np.ndarray, rect: tuple[int, int, int, int] | None = None
) -> None:
    """out = out * (1 - alpha) + colour * alpha, in place, only where something was drawn.

    `rect`: (x, y, w, h) holding every nonzero of `alpha`, when the caller knows it.
    """
    x, y, w, h = cv2.boundingRect(alpha) if rect is None else rect
    if w == 0 or h == 0:
        return
    a = alpha[y : y + h, x : x + w].astype(np.float32) / 255.0
    region = out[y : y + h, x : x + w]
    a = a if region.ndim == 2 else a[:, :, None]
    mixed = region.astype(np.float32) * (1.0 - a) + colour * a
    if out.dtype == np.uint8:
        mixed = np.clip(mixed + 0.5, 0, 255)
    out[y : y + h, x : x + w] = mixed.astype(out.dtype)


def _masks(
    shape: tuple[int, int], faces: Sequence[Face], label: str | None
) -> tuple[np.ndarray, np.ndarray]:
    """(ink, shadow): 8-bit coverage masks of the strokes and of the label's dark outline."""
    h, w = shape
    thick = max(1, round(min(h, w) / 320))
    ink = np.zeros((h, w), np.uint8)
    shadow = np.zeros((h, w), np.uint8)
    for face in faces:  # outlines first, so the boxes drawn next stay solid where they cross
        pts = np.round(face.landmarks).astype(np.int32)
        for idx, closed in _OUTLINES:
            cv2.polylines(ink, [pts[list(idx)].reshape(-1, 1, 2)], closed, int(255 * _FAINT), 1, cv2.LINE_AA)
    for face in faces:
        x, y, bw, bh = face.box
        cv2.rectangle(ink, (x, y), (x + bw - 1, y + bh - 1), 255, thick, cv2.LINE_8)
    if label:
        scale = max(0.4, min(h, w) / 800)
        (_, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        if faces:
            x, y = faces[0].box[0], faces[0].box[1] - base - 4
            if y - th < 0:  # no room above the box: write inside its top edge
                y = faces[0].box[1] + th + 4
        else:
            x, y = 6, th + 6
        cv2.putText(shadow, label, (int(x), int(y)), cv2.FONT_HERSHEY_SIMPLEX, scale, 255, thick + 2, cv2.LINE_AA)
        cv2.putText(ink, label, (int(x), int(y)), cv2.FONT_HERSHEY_SIMPLEX, scale, 255, thick, cv2.LINE_AA)
    return ink, shadow


def draw_overlay(
    frame: np.ndarray,
    faces: Sequence[Face],
    label: str | None = None,
    colour: tuple[int, int, int] = (0, 200, 0),
) -> np.ndarray:
    """A copy of `frame` with each face's box and outline, and `label` by the largest face (or top-left).

    Strokes are drawn into 8-bit masks and blended in, so every layout and dtype
    gets the same drawing (OpenCV cannot write text onto float images).
    """
    check_frame(frame)
    out = np.array(frame, copy=True, order="C")
    ink, shadow = _masks(out.shape[:2], faces, label)
    _blend(out, shadow, _pixel((0, 0, 0), out))
    _blend(out, ink, _pixel(colour, out))
    return out


def draw_overlay_i420(
    planes: np.ndarray,
    faces: Sequence[Face],
    label: str | None = None,
    colour: tuple[int, int, int] = (0, 200, 0),
    copy: bool = True,
) -> np.ndarray:
    """`draw_overlay` for a yuv420p picture, as PyAV and OpenCV lay it out: (H * 3/2, W) uint8.

    The live page sends the overlay back as yuv420p (what the VP8 encoder
    takes). Drawing into those planes directly skips two whole-frame colour
    conversions per frame (BGR and back). The result is the BGR drawing
    converted to yuv420p, up to rounding: the same masks are blended into Y at
    full and into U and V at half resolution, toward the colour's own Y, U
    and V (`colour` is BGR, 0..255). `copy=False` draws into `planes` itself,
    for a caller that owns them.
    """
    planes = np.asarray(planes)
    rows, w = planes.shape[:2] if planes.ndim == 2 else (0, 0)
    h = rows * 2 // 3
    if planes.dtype != np.uint8 or planes.ndim != 2 or h % 2 or w % 2 or rows != h * 3 // 2 or h == 0:
        raise ValueError(f"a yuv420p picture is an (H * 3/2, W) uint8 array with H and W even, got "
                         f"{planes.dtype} {planes.shape}")
    out = np.array(planes, copy=True, order="C") if copy else planes
    ink, shadow = _masks((h, w), faces, label)
    y = out[:h]
    u = out[h : h + h // 4].reshape(h // 2, w // 2)
    v = out[h + h // 4 :].reshape(h // 2, w // 2)
    for mask, bgr in ((shadow, (0, 0, 0)), (ink, colour)):
        x0, y0, bw, bh = cv2.boundingRect(mask)
        if bw == 0 or bh == 0:
            continue
        cy, cu, cv = _yuv(bgr)
        _blend(y, mask, np.float32(cy), (x0, y0, bw, bh))
        x0, y0 = x0 - x0 % 2, y0 - y0 % 2  # whole 2x2 blocks, so the half-size mask lines up
        x1, y1 = min(w, x0 + bw + 2) // 2 * 2, min(h, y0 + bh + 2) // 2 * 2
        half = cv2.resize(mask[y0:y1, x0:x1], ((x1 - x0) // 2, (y1 - y0) // 2), interpolation=cv2.INTER_AREA)
        at = (x0 // 2, y0 // 2, (x1 - x0) // 2, (y1 - y0) // 2)
        _blend(u[at[1] :, at[0] :], half, np.float32(cu), (0, 0, at[2], at[3]))
        _blend(v[at[1] :, at[0] :], half, np.float32(cv), (0, 0, at[2], at[3]))
    return out


def _yuv(bgr: tuple[int, int, int]) -> tuple[int, int, int]:
    """A BGR colour's Y, U and V as OpenCV's yuv420p conversion writes them."""
    block = np.empty((2, 2, 3), np.uint8)
    block[:] = np.clip(np.asarray(bgr[:3], np.float64), 0, 255).round().astype(np.uint8)
    yuv = cv2.cvtColor(block, cv2.COLOR_BGR2YUV_I420).reshape(-1)
    return int(yuv[0]), int(yuv[4]), int(yuv[5])
