"""Expression geometry describes the face, not the camera: the same face gives the same numbers."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from moodmusic.vision import GEOMETRY_NAMES, detect_faces_in_image, expression_geometry


def geometry_of(image: np.ndarray) -> np.ndarray:
    faces = detect_faces_in_image(image)
    assert len(faces) == 1
    return faces[0].geometry


@pytest.fixture(scope="module")
def reference(scene) -> np.ndarray:
    return geometry_of(scene)


def test_one_named_finite_value_per_measure(reference):
    assert reference.shape == (len(GEOMETRY_NAMES),) and reference.dtype == np.float32
    assert len(set(GEOMETRY_NAMES)) == len(GEOMETRY_NAMES)
    assert np.all(np.isfinite(reference))


def test_the_astronauts_smile_reads_as_a_smile(reference):
    g = dict(zip(GEOMETRY_NAMES, reference))
    assert g["lip_corner_lift"] > 0.1  # corners well above the lips' centre line
    assert g["mouth_width"] > 0.9  # mouth about as wide as the eyes are apart
    assert 0.2 < g["eye_open_right"] < 0.6 and 0.2 < g["eye_open_left"] < 0.6


@pytest.mark.parametrize("scale", [0.5, 2.0])
def test_distance_to_the_camera_does_not_change_it(scene, reference, scale):
    g = geometry_of(cv2.resize(scene, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA))
    np.testing.assert_allclose(g, reference, atol=0.04)


@pytest.mark.parametrize("degrees", [25, -25])
def test_tilting_the_head_does_not_change_it(scene, reference, degrees):
    tilted = cv2.warpAffine(scene, cv2.getRotationMatrix2D((290, 125), degrees, 1.0), scene.shape[1::-1])
    np.testing.assert_allclose(geometry_of(tilted), reference, atol=0.04)


def test_a_mirrored_face_swaps_left_and_right(scene, reference):
    g = dict(zip(GEOMETRY_NAMES, geometry_of(scene[:, ::-1])))
    r = dict(zip(GEOMETRY_NAMES, reference))
    for side_a, side_b in (("brow_raise_right", "brow_raise_left"), ("eye_open_right", "eye_open_left")):
        assert g[side_a] == pytest.approx(r[side_b], abs=0.03)
        assert g[side_b] == pytest.approx(r[side_a], abs=0.03)


def test_flat_landmarks_agree_on_measures_that_lie_across_the_face(scene):
    face = detect_faces_in_image(scene)[0]
    flat = dict(zip(GEOMETRY_NAMES, expression_geometry(face.landmarks)))  # (468, 2): depth taken as 0
    full = dict(zip(GEOMETRY_NAMES, face.geometry))
    for name in ("brow_gap", "eye_open_right", "eye_open_left", "mouth_open", "mouth_width"):
        assert flat[name] == pytest.approx(full[name], abs=0.02)
    # the nose sticks out: without depth, nose-to-chin reads shorter than it is
    assert flat["jaw_drop"] < full["jaw_drop"] - 0.1


def test_wrong_landmarks_are_refused():
    with pytest.raises(ValueError, match="landmarks"):
        expression_geometry(np.zeros((68, 2)))
