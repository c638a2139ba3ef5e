"""The landmark box and the anchor points match their plain numpy definitions, edge cases included."""

from __future__ import annotations

import numpy as np
import pytest

from moodmusic.vision.align import anchor_points
from moodmusic.vision.face import landmark_box
from moodmusic.vision.landmarks import LEFT_EYE_INNER, LEFT_EYE_OUTER, LIPS_OUTER, RIGHT_EYE_INNER, RIGHT_EYE_OUTER


def reference_box(landmarks: np.ndarray, frame_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    h, w = frame_shape[:2]
    x0 = int(np.clip(np.floor(landmarks[:, 0].min()), 0, w))
    y0 = int(np.clip(np.floor(landmarks[:, 1].min()), 0, h))
    x1 = int(np.clip(np.ceil(landmarks[:, 0].max()) + 1, 0, w))
    y1 = int(np.clip(np.ceil(landmarks[:, 1].max()) + 1, 0, h))
    return x0, y0, x1 - x0, y1 - y0


EDGES = np.array(
    [-np.inf, -1e9, -1.5, -1.0, -0.5, -0.0, 0.0, 0.2, 0.5, 1.0, 99.5, 100.0, 100.2, 639.9, 640.0, 640.1, 1e9, np.inf],
    np.float32,
)


@pytest.mark.parametrize("shape", [(480, 640, 3), (100, 100)])
def test_landmark_box_matches_clipped_floor_and_ceil(shape):
    rng = np.random.default_rng(0)
    for i in range(2000):
        if i % 2:
            lm = rng.choice(EDGES, size=(5, 3)).astype(np.float32)
        else:
            lm = rng.normal(300, 300, (468, 3)).astype(np.float32)
        box = landmark_box(lm, shape)
        assert box == reference_box(lm, shape)
        assert all(type(v) is int for v in box)


def test_anchor_points_are_eye_corner_midpoints_and_lip_mean():
    lm = np.random.default_rng(1).normal(300, 80, (468, 3)).astype(np.float32)
    pts = lm.astype(np.float64)[:, :2]
    expected = np.stack([
        (pts[RIGHT_EYE_OUTER] + pts[RIGHT_EYE_INNER]) / 2.0,
        (pts[LEFT_EYE_OUTER] + pts[LEFT_EYE_INNER]) / 2.0,
        pts[list(LIPS_OUTER)].mean(axis=0),
    ])
    np.testing.assert_array_equal(anchor_points(lm), expected)
    np.testing.assert_array_equal(anchor_points(lm[:, :2].tolist()), expected)
