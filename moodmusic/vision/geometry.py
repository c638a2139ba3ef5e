"""Expression geometry: a few mesh distances that move with expressions, not with the camera.

Every distance is measured between 3-D mesh points (the mesh's z is in pixel
units too), so turning the head changes it little, and divided by the distance
between the eye centres, so moving closer to the camera changes it not at all.
Heights are measured along the face's own "up" (eyes minus mouth, made square
to the eye line), so tilting the head does not change them either.

>>> GEOMETRY_NAMES[:3]
('brow_raise_right', 'brow_raise_left', 'brow_gap')
"""

from __future__ import annotations

import math

import numpy as np

from moodmusic.vision import landmarks as L

GEOMETRY_NAMES: tuple[str, ...] = (
    "brow_raise_right",  # brow above its eye (surprise, fear up; anger down)
    "brow_raise_left",
    "brow_gap",  # inner brow ends apart (frowning pulls them together)
    "eye_open_right",  # lid gap over eye width (surprise, fear wide; smiling narrows)
    "eye_open_left",
    "mouth_open",  # gap between the inner lip edges
    "mouth_width",  # corner to corner (smiles widen, fear stretches)
    "lip_corner_lift",  # corners above the lips' centre line: + smile, - sad
    "upper_lip_raise",  # nose base to upper lip (disgust shortens it)
    "lip_thickness",  # both lips' red height (pressed lips in anger thin it)
    "jaw_drop",  # nose tip to chin
)


_RIGHT_BROW = np.array(L.RIGHT_BROW, dtype=np.intp)
_LEFT_BROW = np.array(L.LEFT_BROW, dtype=np.intp)


def _norm(v: np.ndarray) -> float:
    # exactly what np.linalg.norm computes for a 1-D float vector, sqrt(v . v), without its overhead
    return math.sqrt(float(v.dot(v)))


def _dist(a: np.ndarray, b: np.ndarray) -> float:
    return _norm(a - b)


def expression_geometry(landmarks: np.ndarray) -> np.ndarray:
    """(len(GEOMETRY_NAMES),) float32 from (468, 3) landmarks (or (468, 2), then depth is taken as 0)."""
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.ndim != 2 or lm.shape[0] < L.NUM_LANDMARKS or lm.shape[1] not in (2, 3):
        raise ValueError(f"landmarks must be (468, 2) or (468, 3), got shape {lm.shape}")
    p = lm if lm.shape[1] == 3 else np.hstack([lm, np.zeros((len(lm), 1))])

    right_eye = (p[L.RIGHT_EYE_OUTER] + p[L.RIGHT_EYE_INNER]) / 2.0
    left_eye = (p[L.LEFT_EYE_OUTER] + p[L.LEFT_EYE_INNER]) / 2.0
    iod = _dist(right_eye, left_eye)
    if iod < 1e-6:
        return np.zeros(len(GEOMETRY_NAMES), np.float32)

    across = (left_eye - right_eye) / iod
    mouth_mid = (p[L.UPPER_LIP_INNER] + p[L.LOWER_LIP_INNER]) / 2.0
    up = (right_eye + left_eye) / 2.0 - mouth_mid
    up -= across * float(up @ across)
    up /= max(_norm(up), 1e-9)

    corners = (p[L.MOUTH_RIGHT] + p[L.MOUTH_LEFT]) / 2.0
    values = (
        _dist(p[_RIGHT_BROW].mean(0), right_eye) / iod,
        _dist(p[_LEFT_BROW].mean(0), left_eye) / iod,
        _dist(p[L.RIGHT_BROW_INNER], p[L.LEFT_BROW_INNER]) / iod,
        _dist(p[L.RIGHT_EYE_TOP], p[L.RIGHT_EYE_BOTTOM]) / max(_dist(p[L.RIGHT_EYE_OUTER], p[L.RIGHT_EYE_INNER]), 1e-9),
        _dist(p[L.LEFT_EYE_TOP], p[L.LEFT_EYE_BOTTOM]) / max(_dist(p[L.LEFT_EYE_OUTER], p[L.LEFT_EYE_INNER]), 1e-9),
        _dist(p[L.UPPER_LIP_INNER], p[L.LOWER_LIP_INNER]) / iod,
        _dist(p[L.MOUTH_RIGHT], p[L.MOUTH_LEFT]) / iod,
        float((corners - mouth_mid) @ up) / iod,
        _dist(p[L.NOSE_BASE], p[L.UPPER_LIP_TOP]) / iod,
        (_dist(p[L.UPPER_LIP_TOP], p[L.UPPER_LIP_INNER]) + _dist(p[L.LOWER_LIP_INNER], p[L.LOWER_LIP_BOTTOM])) / iod,
        _dist(p[L.NOSE_TIP], p[L.CHIN]) / iod,
    )
    return np.asarray(values, dtype=np.float32)
