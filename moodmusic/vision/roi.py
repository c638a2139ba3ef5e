"""The rotated square around a face that the landmark model looks at.

MediaPipe's rules, which the mesh model was trained with: the square is centred
on the face, rotated so the eyes are level in the crop, and 1.5 times the face's
longer side so the face stays inside while it moves between frames. We build it
either from a detection (eye keypoints + box) or, while tracking, from the
previous frame's landmarks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from moodmusic.vision.landmarks import LEFT_EYE_OUTER, RIGHT_EYE_OUTER

ROI_SCALE = 1.5
MIN_SIDE = 2.0  # pixels; keeps the crop transform finite for degenerate boxes


@dataclass(frozen=True)
class Roi:
    """Centre (frame pixels), side length (pixels) and rotation (radians, eyes' direction in the frame)."""

    cx: float
    cy: float
    size: float
    angle: float

    def crop_from_frame(self, crop_size: int) -> np.ndarray:
        """2x3 matrix mapping frame pixels into a `crop_size` square, eyes level."""
        s = crop_size / self.size
        c, n = math.cos(self.angle), math.sin(self.angle)
        half = (crop_size - 1) / 2.0
        # crop = s * R(-angle) @ (p - centre) + half
        a = np.array([[c, n], [-n, c]], dtype=np.float64) * s
        t = np.array([half, half]) - a @ np.array([self.cx, self.cy])
        return np.hstack([a, t[:, None]])

    def frame_from_crop(self, crop_size: int) -> np.ndarray:
        """2x3 matrix mapping crop pixels back into the frame."""
        s = self.size / crop_size
        c, n = math.cos(self.angle), math.sin(self.angle)
        half = (crop_size - 1) / 2.0
        a = np.array([[c, -n], [n, c]], dtype=np.float64) * s
        t = np.array([self.cx, self.cy]) - a @ np.array([half, half])
        return np.hstack([a, t[:, None]])

    def box(self) -> tuple[float, float, float, float]:
        """Axis-aligned bounds (x0, y0, x1, y1) of the rotated square."""
        r = self.size / 2.0 * (abs(math.cos(self.angle)) + abs(math.sin(self.angle)))
        return self.cx - r, self.cy - r, self.cx + r, self.cy + r


def roi_from_detection(box: tuple[float, float, float, float], right_eye: np.ndarray, left_eye: np.ndarray) -> Roi:
    """ROI from a detector box (x, y, w, h) and its two eye keypoints (image-left eye first)."""
    x, y, w, h = box
    dx, dy = float(left_eye[0] - right_eye[0]), float(left_eye[1] - right_eye[1])
    angle = math.atan2(dy, dx)
    return Roi(x + w / 2.0, y + h / 2.0, max(max(w, h) * ROI_SCALE, MIN_SIDE), angle)


def roi_from_landmarks(landmarks: np.ndarray) -> Roi:
    """ROI that encloses the mesh, rotated by the outer eye corners, for the next frame."""
    pts = np.asarray(landmarks, dtype=np.float64)[:, :2]
    d = pts[LEFT_EYE_OUTER] - pts[RIGHT_EYE_OUTER]
    angle = math.atan2(d[1], d[0])
    c, n = math.cos(angle), math.sin(angle)
    # extents measured along the face's own axes, so a tilted head gets the same framing as an upright one
    u = pts[:, 0] * c + pts[:, 1] * n
    v = -pts[:, 0] * n + pts[:, 1] * c
    uc, vc = (u.min() + u.max()) / 2.0, (v.min() + v.max()) / 2.0
    side = max(u.max() - u.min(), v.max() - v.min()) * ROI_SCALE
    return Roi(float(uc * c - vc * n), float(uc * n + vc * c), max(float(side), MIN_SIDE), angle)
