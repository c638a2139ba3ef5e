"""FaceTracker finds real faces in video frames, follows them cheaply and never chokes on a frame."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from moodmusic.config import MODELS_DIR
from moodmusic.vision import CROP_SIZE, GEOMETRY_NAMES, FaceTracker, ModelFileError
from moodmusic.vision.face import box_iou


def shifted(frame: np.ndarray, dx: float, dy: float = 0.0) -> np.ndarray:
    """The frame moved by (dx, dy) pixels on black, as if the person moved in front of the camera."""
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(frame, m, (frame.shape[1], frame.shape[0]))


def two_heads(head: np.ndarray) -> np.ndarray:
    """A 640x480 frame with a large head top-left and a smaller one bottom-right."""
    frame = np.zeros((480, 640, 3), np.uint8)
    big = cv2.resize(head, None, fx=1.5, fy=1.5)[:480]
    small = cv2.resize(head, None, fx=0.9, fy=0.9)
    frame[: big.shape[0], : big.shape[1]] = big
    frame[480 - small.shape[0] :, 640 - small.shape[1] :] = small
    return frame


def test_finds_the_astronaut_with_landmarks_where_a_face_has_them(scene, face_in_portrait):
    faces = FaceTracker().process(scene)

    assert len(faces) == 1
    face = faces[0]
    x, y, w, h = face_in_portrait
    assert box_iou(face.box, (x + 64, y, w, h)) > 0.6
    assert face.score > 0.9
    lm = face.landmarks
    assert lm.shape == (468, 2) and lm.dtype == np.float32
    bx, by, bw, bh = face.box
    assert np.all((lm[:, 0] >= bx - 1) & (lm[:, 0] <= bx + bw) & (lm[:, 1] >= by - 1) & (lm[:, 1] <= by + bh))
    image_left_eye, image_right_eye = lm[[33, 133]].mean(0), lm[[263, 362]].mean(0)
    upper_lip, chin, nose_tip = lm[13], lm[152], lm[1]
    assert image_left_eye[0] < nose_tip[0] < image_right_eye[0]
    assert max(image_left_eye[1], image_right_eye[1]) < nose_tip[1] < upper_lip[1] < chin[1]
    assert face.crop.shape == (CROP_SIZE, CROP_SIZE) and face.crop.dtype == np.uint8
    assert face.geometry.shape == (len(GEOMETRY_NAMES),) and np.all(np.isfinite(face.geometry))


def test_frames_without_a_face_give_an_empty_list(no_face):
    tracker = FaceTracker()
    for frame in (
        np.zeros((480, 640, 3), np.uint8),
        np.full((480, 640, 3), 255, np.uint8),
        np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8),
        no_face,
    ):
        assert tracker.process(frame) == []


@pytest.mark.parametrize(
    ("pixel_format", "convert"),
    [
        ("rgb", cv2.COLOR_BGR2RGB),
        ("bgra", cv2.COLOR_BGR2BGRA),
        ("rgba", cv2.COLOR_BGR2RGBA),
        ("gray", cv2.COLOR_BGR2GRAY),
    ],
)
def test_every_pixel_format_finds_the_same_face(scene, pixel_format, convert):
    reference = FaceTracker().process(scene)[0]
    faces = FaceTracker().process(cv2.cvtColor(scene, convert), pixel_format)
    assert len(faces) == 1
    assert box_iou(faces[0].box, reference.box) > 0.9


def test_float_frames_find_the_same_face(scene):
    reference = FaceTracker().process(scene)[0]
    faces = FaceTracker().process(scene.astype(np.float32) / 255.0)
    assert len(faces) == 1 and box_iou(faces[0].box, reference.box) > 0.95


@pytest.mark.parametrize("shape", [(1, 1, 3), (1, 1), (20, 20, 3), (2, 640, 3), (640, 2)])
def test_tiny_and_sliver_frames_are_handled_without_error(shape):
    assert FaceTracker().process(np.full(shape, 128, np.uint8)) == []


def test_a_face_squeezed_into_20_pixels_does_not_break_anything(head):
    faces = FaceTracker().process(cv2.resize(head, (20, 20), interpolation=cv2.INTER_AREA))
    assert isinstance(faces, list)
    for face in faces:
        assert face.crop.shape == (CROP_SIZE, CROP_SIZE)


def test_a_face_filling_a_4k_frame_is_found(head):
    frame = np.zeros((2160, 3840, 3), np.uint8)
    frame[:, 965 : 965 + 1910] = cv2.resize(head, (1910, 2160))
    tracker = FaceTracker()
    for _ in range(2):  # detection, then tracking
        faces = tracker.process(frame)
        assert len(faces) == 1
        x, y, w, h = faces[0].box
        assert 1400 < x + w / 2 < 2400 and 600 < w < 1000


def test_tracking_follows_a_moving_face_and_skips_the_detector(scene):
    tracker = FaceTracker(redetect_every=15)
    start = tracker.process(scene)[0].box
    for step in range(1, 30):
        faces = tracker.process(shifted(scene, 3 * step))
        assert len(faces) == 1
        assert abs(faces[0].box[0] - (start[0] + 3 * step)) <= 3
    assert tracker.detector_runs == 2  # frame 0, then the periodic re-detection at frame 15


def test_a_face_sliding_out_of_the_frame_keeps_its_box_inside(scene):
    tracker = FaceTracker()
    for dx in range(0, -300, -30):
        for face in tracker.process(shifted(scene, dx)):
            x, y, w, h = face.box
            assert 0 <= x and 0 <= y and x + w <= 640 and y + h <= 480 and w > 0 and h > 0
            assert face.crop.shape == (48, 48)


def test_the_first_frame_of_a_face_reads_like_the_frames_after_it(scene):
    tracker = FaceTracker()
    first, second = tracker.process(scene)[0], tracker.process(scene)[0]
    # placed from the detector's box alone, landmarks differ by ~1.8 px and geometry by ~0.04
    assert np.abs(first.landmarks - second.landmarks).max() < 1.2
    np.testing.assert_allclose(first.geometry, second.geometry, atol=0.025)


def test_detector_runs_every_frame_when_asked(scene):
    tracker = FaceTracker(redetect_every=1)
    for step in range(5):
        assert len(tracker.process(shifted(scene, step))) == 1
    assert tracker.detector_runs == 5


def test_redetects_when_the_face_leaves_and_finds_it_again(scene):
    tracker = FaceTracker(redetect_every=0)
    for _ in range(3):
        assert len(tracker.process(scene)) == 1
    assert tracker.detector_runs == 1
    blank = np.zeros_like(scene)
    for _ in range(3):
        assert tracker.process(blank) == []
    assert tracker.detector_runs == 4  # looked for a face on every empty frame
    back = tracker.process(shifted(scene, -150))
    assert len(back) == 1 and back[0].box[0] < 150


def test_a_face_that_jumps_is_found_on_the_same_frame(head):
    left = np.zeros((480, 640, 3), np.uint8)
    left[100:360, 20:250] = head
    right = np.zeros_like(left)
    right[100:360, 390:620] = head
    tracker = FaceTracker(redetect_every=0)
    assert tracker.process(left)[0].box[0] < 200
    jumped = tracker.process(right)
    assert len(jumped) == 1 and jumped[0].box[0] > 390
    assert tracker.detector_runs == 2


def test_reset_forgets_the_tracked_face(scene):
    tracker = FaceTracker(redetect_every=0)
    tracker.process(scene)
    tracker.process(scene)
    tracker.reset()
    tracker.process(scene)
    assert tracker.detector_runs == 2


def test_several_faces_are_reported_largest_first(head):
    frame = two_heads(head)
    tracker = FaceTracker(max_faces=2)
    for _ in range(3):  # on the detection frame and while tracking
        faces = tracker.process(frame)
        assert len(faces) == 2
        assert faces[0].box[2] * faces[0].box[3] > 1.5 * faces[1].box[2] * faces[1].box[3]
        assert faces[0].box[0] < 320 < faces[1].box[0]


def test_max_faces_keeps_only_the_largest(head):
    faces = FaceTracker(max_faces=1).process(two_heads(head))
    assert len(faces) == 1 and faces[0].box[0] < 320


def test_a_larger_face_that_arrives_takes_the_only_slot(head):
    small_only = np.zeros((480, 640, 3), np.uint8)
    small = cv2.resize(head, None, fx=0.9, fy=0.9)
    small_only[480 - small.shape[0] :, 640 - small.shape[1] :] = small
    tracker = FaceTracker(max_faces=1, redetect_every=5)
    assert tracker.process(small_only)[0].box[0] > 320
    both = two_heads(head)
    boxes = [tracker.process(both)[0].box for _ in range(5)]
    assert boxes[-1][0] < 320  # picked up at the next periodic detection


@pytest.mark.parametrize(
    "frame", [np.zeros(5, np.uint8), np.zeros((0, 0, 3), np.uint8), np.zeros((4, 4, 5), np.uint8)]
)
def test_unusable_frames_raise_value_error(frame):
    with pytest.raises(ValueError):
        FaceTracker().process(frame)


@pytest.mark.parametrize(
    "kwargs", [{"redetect_every": -1}, {"max_faces": 0}, {"min_score": 0.0}, {"min_score": 1.5}]
)
def test_nonsense_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        FaceTracker(**kwargs)


def test_a_missing_model_file_is_named_with_how_to_restore_it(tmp_path):
    shutil.copy(MODELS_DIR / "face_detection_short_range.tflite", tmp_path)
    with pytest.raises(ModelFileError, match=r"face_landmark\.tflite.*restore"):
        FaceTracker(models_dir=tmp_path)


def test_a_damaged_model_file_is_refused_before_opencv_reads_it(tmp_path):
    shutil.copy(MODELS_DIR / "face_landmark.tflite", tmp_path)
    data = (MODELS_DIR / "face_detection_short_range.tflite").read_bytes()
    (tmp_path / "face_detection_short_range.tflite").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match=r"damaged.*face_detection_short_range\.tflite"):
        FaceTracker(models_dir=tmp_path)
