"""Every frame layout a camera, browser or file can hand us becomes the same BGR image; junk is refused clearly."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from moodmusic.vision import to_bgr


@pytest.mark.parametrize(
    ("pixel_format", "convert"),
    [
        ("bgr", None),
        ("rgb", cv2.COLOR_BGR2RGB),
        ("bgra", cv2.COLOR_BGR2BGRA),
        ("rgba", cv2.COLOR_BGR2RGBA),
    ],
)
def test_colour_layouts_come_back_as_the_same_bgr(astronaut, pixel_format, convert):
    frame = astronaut if convert is None else cv2.cvtColor(astronaut, convert)
    out = to_bgr(frame, pixel_format)
    assert out.dtype == np.uint8 and out.shape == astronaut.shape
    np.testing.assert_array_equal(out, astronaut)


def test_greyscale_is_recognised_by_shape_whatever_the_format_says(astronaut):
    grey = cv2.cvtColor(astronaut, cv2.COLOR_BGR2GRAY)
    for frame in (grey, grey[:, :, None]):
        out = to_bgr(frame)
        assert out.shape == astronaut.shape
        np.testing.assert_array_equal(out[:, :, 0], grey)
        np.testing.assert_array_equal(out[:, :, 2], grey)


def test_float_frames_are_read_as_zero_to_one(astronaut):
    out = to_bgr(astronaut.astype(np.float32) / 255.0)
    assert out.dtype == np.uint8
    assert np.abs(out.astype(int) - astronaut).max() <= 1


def test_float_frames_out_of_range_or_nan_are_clipped_not_wrapped():
    frame = np.array([[[-0.5, 2.0, np.nan]]], np.float64)
    assert to_bgr(frame).tolist() == [[[0, 255, 0]]]


def test_non_contiguous_views_are_accepted(astronaut):
    view = astronaut[::2, ::-1]
    np.testing.assert_array_equal(to_bgr(view), np.ascontiguousarray(view))


@pytest.mark.parametrize(
    ("frame", "pixel_format", "message"),
    [
        (np.zeros(10, np.uint8), "bgr", "H x W"),
        (np.zeros((1, 4, 4, 3), np.uint8), "bgr", "H x W"),
        (np.zeros((0, 640, 3), np.uint8), "bgr", "empty"),
        (np.zeros((480, 0), np.uint8), "bgr", "empty"),
        (np.zeros((4, 4, 2), np.uint8), "bgr", "channels"),
        (np.zeros((4, 4, 3), np.uint16), "bgr", "dtype"),
        (np.zeros((4, 4, 3), np.uint8), "yuv", "pixel_format"),
        (np.zeros((4, 4, 3), np.uint8), "gray", "single-channel"),
        ([[0, 1], [2, 3]], "bgr", "numpy array"),
    ],
)
def test_unusable_frames_raise_a_clear_value_error(frame, pixel_format, message):
    with pytest.raises(ValueError, match=message):
        to_bgr(frame, pixel_format)
