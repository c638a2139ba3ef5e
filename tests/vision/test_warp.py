"""The detector's shrink: close to an area average on real frames, at any size."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from moodmusic.samples import face_frame
from moodmusic.vision.warp import shrink_to_fit


@pytest.mark.parametrize("width, height", [(640, 480), (600, 450), (900, 600), (1280, 720), (3840, 2160)])
def test_a_frame_shrinks_to_the_asked_side_close_to_an_area_average(width, height):
    frame = face_frame(width, height)
    small, scale = shrink_to_fit(frame, 128)
    assert max(small.shape[:2]) == 128 and small.dtype == np.uint8
    assert scale == pytest.approx(128 / max(width, height))
    area = cv2.resize(frame, (small.shape[1], small.shape[0]), interpolation=cv2.INTER_AREA)
    assert np.abs(small.astype(int) - area).mean() < 0.5  # grey levels, on a real face in a real scene


def test_the_finest_pattern_aliases_far_less_than_a_plain_bilinear_shrink():
    """One-pixel stripes: a plain bilinear 5x shrink keeps them at full contrast (false stripes), an area
    average leaves a 2-or-3-of-5 ripple; the two-step shrink lands in between, at half the contrast."""
    stripes = np.zeros((480, 640, 3), np.uint8)
    stripes[:, ::2] = 255
    small, _ = shrink_to_fit(stripes, 128)
    plain = cv2.resize(stripes, (128, 96), interpolation=cv2.INTER_LINEAR)
    assert abs(float(small.mean()) - 127.5) < 1
    assert float(small.std()) <= 0.5 * float(plain.std())
