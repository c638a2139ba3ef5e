"""The geometry that places the landmark model's window: exact inverses, rotation-aware, sane anchors."""

from __future__ import annotations

import math

import numpy as np

from moodmusic.vision.detector import ANCHORS, weighted_nms
from moodmusic.vision.roi import Roi, roi_from_landmarks


def test_crop_and_frame_transforms_are_inverses():
    roi = Roi(cx=300.0, cy=200.0, size=150.0, angle=math.radians(20))
    to_crop, to_frame = roi.crop_from_frame(192), roi.frame_from_crop(192)
    pts = np.array([[300.0, 200.0], [250.0, 180.0], [350.0, 260.0]])
    back = (pts @ to_crop[:, :2].T + to_crop[:, 2]) @ to_frame[:, :2].T + to_frame[:, 2]
    np.testing.assert_allclose(back, pts, atol=1e-9)
    centre = np.array([300.0, 200.0]) @ to_crop[:, :2].T + to_crop[:, 2]
    np.testing.assert_allclose(centre, [95.5, 95.5])  # the ROI centre lands mid-crop


def test_a_rotated_face_gets_the_same_window_size_and_its_angle(scene):
    from moodmusic.vision import FaceTracker

    lm = FaceTracker().process(scene)[0].landmarks.astype(np.float64)
    upright = roi_from_landmarks(lm)
    theta = math.radians(30)
    rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    turned = roi_from_landmarks((lm - lm.mean(0)) @ rot.T + lm.mean(0))
    assert math.isclose(turned.size, upright.size, rel_tol=1e-9)
    assert math.isclose(turned.angle - upright.angle, theta, abs_tol=1e-9)


def test_anchors_match_the_detectors_896_outputs():
    assert ANCHORS.shape == (896, 2)
    np.testing.assert_allclose(ANCHORS[0], [1 / 32, 1 / 32])  # stride 8: 16x16 cells, 2 anchors each
    np.testing.assert_allclose(ANCHORS[512], [1 / 16, 1 / 16])  # stride 16: 8x8 cells, 6 anchors each
    assert np.all((ANCHORS > 0) & (ANCHORS < 1))


def test_weighted_nms_merges_overlapping_boxes_and_keeps_separate_ones():
    coords = np.zeros((3, 16), np.float32)
    coords[0, :4] = [0.10, 0.10, 0.30, 0.30]
    coords[1, :4] = [0.12, 0.10, 0.32, 0.30]
    coords[2, :4] = [0.60, 0.60, 0.80, 0.80]
    merged = weighted_nms(np.array([0.9, 0.6, 0.8], np.float32), coords)
    assert [round(score, 2) for score, _ in merged] == [0.9, 0.8]
    np.testing.assert_allclose(merged[0][1][0], (0.10 * 0.9 + 0.12 * 0.6) / 1.5, rtol=1e-6)
