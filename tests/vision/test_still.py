"""detect_faces_in_image finds faces in photos of any framing: a small face in a big scene or a tight crop."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from moodmusic.vision import detect_faces_in_image
from moodmusic.vision.face import box_iou


def test_finds_the_astronaut_in_her_portrait(astronaut, face_in_portrait):
    faces = detect_faces_in_image(astronaut)
    assert len(faces) == 1
    assert box_iou(faces[0].box, face_in_portrait) > 0.6


def test_finds_the_cameraman_in_a_greyscale_photo():
    camera = pytest.importorskip("skimage.data").camera()
    faces = detect_faces_in_image(camera, "gray")
    assert len(faces) == 1
    x, y, w, h = faces[0].box
    assert 150 < x + w / 2 < 300 and 80 < y + h / 2 < 220  # his head, upper middle of the picture


def test_a_tight_face_crop_is_found(astronaut, face_in_portrait):
    x, y, w, h = face_in_portrait
    faces = detect_faces_in_image(astronaut[y : y + h, x : x + w])
    assert len(faces) == 1
    assert faces[0].box[2] > 0.8 * w  # the face fills the crop


def test_a_fer_sized_face_upscaled_is_found(astronaut, face_in_portrait):
    x, y, w, h = face_in_portrait
    grey = cv2.cvtColor(astronaut[y : y + h, x : x + w], cv2.COLOR_BGR2GRAY)
    grey48 = cv2.resize(grey, (48, 48), interpolation=cv2.INTER_AREA)
    enlarged = cv2.resize(grey48, (192, 192), interpolation=cv2.INTER_CUBIC)
    assert len(detect_faces_in_image(enlarged, "gray")) == 1


def test_a_small_face_in_a_4k_photo_is_found(astronaut, face_in_portrait):
    photo = np.full((2160, 3840, 3), 90, np.uint8)
    photo[1200:1712, 2900:3412] = astronaut  # face about 100 pixels wide: 1/38 of the width
    faces = detect_faces_in_image(photo)
    assert len(faces) == 1
    x, y, w, h = face_in_portrait
    assert box_iou(faces[0].box, (x + 2900, y + 1200, w, h)) > 0.6


def test_several_faces_come_largest_first(astronaut):
    photo = np.zeros((720, 1280, 3), np.uint8)
    photo[100:612, 50:562] = astronaut
    small = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    photo[300:556, 900:1156] = small
    faces = detect_faces_in_image(photo)
    assert len(faces) == 2
    assert faces[0].box[0] < 640 < faces[1].box[0]
    assert faces[0].box[2] > 1.6 * faces[1].box[2]


def test_photos_without_faces_give_an_empty_list(no_face):
    data = pytest.importorskip("skimage.data")
    for photo, fmt in ((no_face, "bgr"), (data.coffee(), "rgb"), (data.chelsea(), "rgb"), (data.coins(), "gray")):
        assert detect_faces_in_image(photo, fmt) == []


def test_tiny_images_give_an_empty_list():
    for shape in ((1, 1), (20, 20, 3), (3, 500, 3)):
        assert detect_faces_in_image(np.full(shape, 200, np.uint8)) == []


@pytest.mark.parametrize("image", [np.zeros((0, 10, 3), np.uint8), np.zeros((4, 4, 4, 4), np.uint8)])
def test_unusable_images_raise_value_error(image):
    with pytest.raises(ValueError):
        detect_faces_in_image(image)
