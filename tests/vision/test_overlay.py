"""The overlay marks the face for the live page and hands back a frame of exactly the same kind."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from moodmusic.vision import FaceTracker, draw_overlay, draw_overlay_i420


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


def _i420(bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)


def _chroma_per_pixel(bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel's own U and V as OpenCV's yuv420p conversion computes them (it samples 1 pixel in 4)."""
    h, w = bgr.shape[:2]
    planes = _i420(cv2.resize(bgr, (2 * w, 2 * h), interpolation=cv2.INTER_NEAREST)).astype(np.float64)
    return planes[2 * h : 2 * h + h // 2].reshape(h, w), planes[2 * h + h // 2 :].reshape(h, w)


def test_drawing_in_yuv420p_planes_matches_drawing_in_bgr(scene, faces):
    """What the live page sends back: the BGR drawing in yuv420p, each 2x2 block's colour averaged."""
    h, w = scene.shape[:2]
    blocky = cv2.resize(cv2.resize(scene, (w // 2, h // 2), interpolation=cv2.INTER_AREA), (w, h),
                        interpolation=cv2.INTER_NEAREST)  # one colour per 2x2 block: yuv420p holds it exactly
    faces = FaceTracker().process(blocky)
    planes = _i420(blocky)
    before = planes.copy()
    for label, tolerance in ((None, 1.5), ("happy 85%", 8.0)):
        # Outlines and box blend linearly, so only rounding differs; the label's dark shadow under its
        # letters does not (shadow, then ink, over 2x2 blocks is not the average of per-pixel results).
        out = draw_overlay_i420(planes, faces, label)
        np.testing.assert_array_equal(planes, before)  # a copy by default
        assert out.shape == planes.shape and out.dtype == np.uint8
        drawn = draw_overlay(blocky, faces, label)
        want_y = _i420(drawn)[:h].astype(int)
        assert np.abs(out[:h].astype(int) - want_y).max() <= 1
        assert (want_y != planes[:h]).sum() > 2000  # the drawing is really there
        for got, per_pixel in zip((out[h : h + h // 4], out[h + h // 4 :]), _chroma_per_pixel(drawn)):
            want = per_pixel.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
            assert np.abs(got.reshape(h // 2, w // 2) - want).max() <= tolerance
    x, y, bw, _ = faces[0].box
    b, g, r = cv2.cvtColor(out, cv2.COLOR_YUV2BGR_I420)[y, x + bw // 2].astype(int)
    assert g > 150 and b < 60 and r < 60  # the box's top edge is green


def test_drawing_in_yuv420p_in_place_and_with_nothing_to_draw(scene, faces):
    planes = _i420(scene)
    np.testing.assert_array_equal(draw_overlay_i420(planes, []), planes)
    same = draw_overlay_i420(planes, faces, copy=False)
    assert same is planes and not np.array_equal(planes, _i420(scene))


@pytest.mark.parametrize("shape,dtype", [((722, 640), np.uint8), ((721, 640), np.uint8), ((720, 641), np.uint8),
                                         ((480, 640, 3), np.uint8), ((720, 640), np.float32), ((0, 0), np.uint8)])
def test_a_picture_that_is_not_yuv420p_is_refused_clearly(shape, dtype):
    with pytest.raises(ValueError, match="yuv420p"):
        draw_overlay_i420(np.zeros(shape, dtype), [])
