"""The overlay marks the face for the live page and hands back a frame of exactly the same kind."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from moodmusic.vision import FaceTracker, draw_overlay


@pytest.fixture(scope="module")
def faces(scene):
    return FaceTracker().process(scene)


@pytest.mark.parametrize(
    "convert",
    [None, cv2.COLOR_BGR2RGB, cv2.COLOR_BGR2BGRA, cv2.COLOR_BGR2GRAY, "grey_hw1", "float32", "float64"],
)
def test_shape_and_dtype_are_kept_and_the_input_is_untouched(scene, faces, convert):
    if convert is None:
        frame = scene.copy()
    elif convert == "grey_hw1":
        frame = cv2.cvtColor(scene, cv2.COLOR_BGR2GRAY)[:, :, None]
    elif isinstance(convert, str):
        frame = scene.astype(convert) / 255.0
    else:
        frame = cv2.cvtColor(scene, convert)
    before = frame.copy()

    out = draw_overlay(frame, faces, "happy")

    assert out.shape == frame.shape and out.dtype == frame.dtype
    np.testing.assert_array_equal(frame, before)
    assert not np.array_equal(out, frame)
    if out.dtype.kind == "f":
        assert out.min() >= 0.0 and out.max() <= 1.0


def test_the_box_is_drawn_where_the_face_is(scene, faces):
    out = draw_overlay(scene, faces)
    changed = np.any(out != scene, axis=2)
    x, y, w, h = faces[0].box
    assert changed[y, x : x + w].mean() > 0.9  # top edge of the box
    assert not changed[y + h + 20 :, :].any()  # nothing drawn well below the face without a label


def test_without_faces_the_label_goes_top_left_and_nothing_else_changes(scene):
    out = draw_overlay(scene, [], "no face")
    changed = np.any(out != scene, axis=2)
    ys, xs = np.nonzero(changed)
    assert ys.size > 0 and ys.max() < 60 and xs.max() < 320


def test_nothing_to_draw_returns_an_equal_copy(scene):
    out = draw_overlay(scene, [])
    assert out is not scene
    np.testing.assert_array_equal(out, scene)


def test_the_colour_is_used_as_given(scene, faces):
    out = draw_overlay(np.zeros_like(scene), faces, colour=(255, 0, 0))
    x, y, w, _ = faces[0].box
    assert out[y, x + w // 2].tolist() == [255, 0, 0]
