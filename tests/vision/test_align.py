"""The aligned crop is 48x48 greyscale, upright whatever the head's tilt, and the same from any layout."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from moodmusic.vision import CROP_SIZE, align_face, detect_faces_in_image
from moodmusic.vision.align import similarity


def corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel().astype(float), b.ravel().astype(float))[0, 1])


def eye_line_degrees(landmarks: np.ndarray) -> float:
    d = landmarks[[263, 362]].mean(0) - landmarks[[33, 133]].mean(0)
    return float(np.degrees(np.arctan2(d[1], d[0])))


@pytest.fixture(scope="module")
def upright(scene):
    return detect_faces_in_image(scene)[0]


def test_crop_is_48x48_uint8(upright):
    assert upright.crop.shape == (CROP_SIZE, CROP_SIZE) == (48, 48)
    assert upright.crop.dtype == np.uint8
    assert upright.crop.std() > 20  # a face, not a flat patch


@pytest.mark.parametrize("degrees", [20, -20])
def test_a_tilted_head_gives_the_same_upright_crop(scene, upright, degrees):
    centre = (upright.box[0] + upright.box[2] / 2, upright.box[1] + upright.box[3] / 2)
    tilted = cv2.warpAffine(scene, cv2.getRotationMatrix2D(centre, degrees, 1.0), scene.shape[1::-1])
    assert abs(eye_line_degrees(upright.landmarks) - eye_line_degrees(detect_faces_in_image(tilted)[0].landmarks)) > 15

    crop = detect_faces_in_image(tilted)[0].crop

    assert corr(crop, upright.crop) > 0.97
    # and the face in the crop has level eyes: measure them with the mesh on the enlarged crop
    again = detect_faces_in_image(cv2.resize(crop, (192, 192), interpolation=cv2.INTER_CUBIC), "gray")
    assert abs(eye_line_degrees(again[0].landmarks)) < 4


def test_grey_colour_and_alpha_frames_give_the_same_crop(scene, upright):
    from_bgr = align_face(scene, upright.landmarks)
    from_grey = align_face(cv2.cvtColor(scene, cv2.COLOR_BGR2GRAY), upright.landmarks)
    from_bgra = align_face(cv2.cvtColor(scene, cv2.COLOR_BGR2BGRA), upright.landmarks)
    np.testing.assert_array_equal(from_bgr, upright.crop)
    assert np.abs(from_grey.astype(int) - from_bgr).max() <= 1
    np.testing.assert_array_equal(from_bgra, from_bgr)


def test_a_face_at_the_frame_edge_still_gives_a_full_crop(scene, upright):
    x = upright.box[0] + upright.box[2] // 2
    half_out = scene[:, x:]  # cut through the middle of the face
    crop = align_face(half_out, upright.landmarks - [x, 0])
    assert crop.shape == (48, 48) and crop.dtype == np.uint8


def test_similarity_recovers_a_known_rotation_scale_and_shift():
    src = np.array([[10.0, 20.0], [40.0, 22.0], [25.0, 55.0]])
    angle, scale, shift = np.radians(25), 0.4, np.array([3.0, -7.0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    m = similarity(src, src @ rot.T + shift)
    np.testing.assert_allclose(m[:, :2], rot, atol=1e-9)
    np.testing.assert_allclose(m[:, 2], shift, atol=1e-9)


def test_similarity_never_mirrors():
    src = np.array([[0.0, 0.0], [10.0, 0.0], [5.0, 10.0]])
    mirrored = src * [-1, 1]
    assert np.linalg.det(similarity(src, mirrored)[:, :2]) > 0


@pytest.mark.parametrize("landmarks", [np.zeros((10, 2)), np.zeros(936)])
def test_wrong_landmarks_are_refused(scene, landmarks):
    with pytest.raises(ValueError, match="landmarks"):
        align_face(scene, landmarks)
