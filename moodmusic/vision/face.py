"""One found face and everything later stages need from it, built the same way for video and stills."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from moodmusic.vision.align import align_face
from moodmusic.vision.geometry import expression_geometry

# Two faces whose landmark boxes overlap more than this are the same face found twice.
SAME_FACE_IOU = 0.5


@dataclass(frozen=True, eq=False)
class Face:
    """A face in frame pixels; `crop` and `geometry` are what the face expert reads."""

    box: tuple[int, int, int, int]  # x, y, w, h in frame pixels, clipped to the frame
    score: float  # face-presence confidence 0..1
    landmarks: np.ndarray  # (468, 2) float32, frame pixels
    crop: np.ndarray  # (48, 48) uint8 aligned greyscale, FER2013 framing
    geometry: np.ndarray  # (len(GEOMETRY_NAMES),) float32

    @property
    def area(self) -> int:
        return self.box[2] * self.box[3]


def landmark_box(landmarks: np.ndarray, frame_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """Integer x, y, w, h around the landmarks, clipped to the frame (w or h may be 0 if off-frame)."""
    h, w = frame_shape[:2]
    xy = np.asarray(landmarks)[:, :2]
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    # clamped in floats first (so inf stays finite), then floored / ceiled: the same integers as
    # clipping floor(min) and ceil(max) + 1 to the frame, without numpy's per-scalar overhead
    x0 = math.floor(min(max(float(lo[0]), 0.0), w))
    y0 = math.floor(min(max(float(lo[1]), 0.0), h))
    x1 = min(max(math.ceil(min(max(float(hi[0]), -1.0), w)) + 1, 0), w)
    y1 = min(max(math.ceil(min(max(float(hi[1]), -1.0), h)) + 1, 0), h)
    return x0, y0, x1 - x0, y1 - y0


def make_face(bgr: np.ndarray, score: float, landmarks3d: np.ndarray) -> Face | None:
    """A Face from mesh output, or None when the face lies (almost) entirely outside the frame."""
    lm3 = np.asarray(landmarks3d, dtype=np.float32)
    box = landmark_box(lm3, bgr.shape)
    if box[2] < 2 or box[3] < 2:
        return None
    lm2 = np.ascontiguousarray(lm3[:, :2])
    return Face(
        box=box,
        score=float(score),
        landmarks=lm2,
        crop=align_face(bgr, lm2),
        geometry=expression_geometry(lm3),
    )


def box_iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two x, y, w, h boxes."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def distinct(found: list[tuple[float, np.ndarray]]) -> list[tuple[float, np.ndarray]]:
    """Drop repeats of the same face found twice (by landmark-box overlap), keeping the more confident."""
    kept: list[tuple[float, np.ndarray, tuple[float, float, float, float]]] = []
    for score, lm in sorted(found, key=lambda item: -item[0]):
        xy = np.asarray(lm)[:, :2]
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        x0, y0 = float(lo[0]), float(lo[1])
        box = (x0, y0, float(hi[0]) - x0, float(hi[1]) - y0)
        if all(box_iou(box, other) <= SAME_FACE_IOU for _, _, other in kept):
            kept.append((score, lm, box))
    return [(score, lm) for score, lm, _ in kept]


def build_faces(bgr: np.ndarray, found: list[tuple[float, np.ndarray]], limit: int) -> list[Face]:
    """Faces from (score, 3-D landmarks) pairs: repeats dropped, largest first, at most `limit`."""
    faces = [f for f in (make_face(bgr, score, lm) for score, lm in distinct(found)) if f is not None]
    faces.sort(key=lambda f: -f.area)
    return faces[:limit]
