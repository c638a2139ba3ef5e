"""Against FER2013 itself: the crop template still matches its framing, and geometry follows its expressions.

These need the training data beside the project and skip on a fresh clone.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from moodmusic.vision import GEOMETRY_NAMES, detect_faces_in_image
from moodmusic.vision.align import TEMPLATE
from moodmusic.vision.template import derive_template, fer_sample

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def fer(shared_data):
    path = shared_data / "faces" / "fer2013.npz"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in ("images", "labels", "split")}


def sample(fer, label: str, n: int, seed: int = 0) -> np.ndarray:
    idx = np.flatnonzero((fer["split"] == "test") & (fer["labels"] == label))
    return fer["images"][np.random.default_rng(seed).choice(idx, n, replace=False)]


def enlarged(image48: np.ndarray) -> np.ndarray:
    return cv2.resize(image48, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)


def test_the_template_still_matches_fer2013(shared_data):
    images = fer_sample(shared_data / "faces" / "fer2013.npz", 100, seed=1)  # not the derivation's sample
    template, found = derive_template(images)
    assert found >= 90
    assert np.abs(template - TEMPLATE).max() < 0.75  # pixels in the 48x48 frame


def test_live_crops_frame_faces_the_way_fer2013_does(fer):
    """FER faces shown tilted inside a bigger frame come out of the pipeline framed like FER again."""
    images = fer["images"][np.flatnonzero(fer["split"] == "test")[:60]]
    crops, originals = [], []
    for image in images:
        frame = np.full((360, 360), 110, np.uint8)
        frame[84:276, 84:276] = enlarged(image)
        tilted = cv2.warpAffine(frame, cv2.getRotationMatrix2D((180, 180), 15, 1.0), (360, 360), borderValue=110)
        faces = detect_faces_in_image(tilted, "gray", max_faces=1)
        if faces:
            crops.append(faces[0].crop.astype(np.float32))
            originals.append(image.astype(np.float32))
    assert len(crops) >= 50
    mean_crop, mean_fer = np.mean(crops, axis=0), np.mean(originals, axis=0)
    (dx, dy), _ = cv2.phaseCorrelate(mean_fer, mean_crop)
    print(f"mean crop vs mean FER image: shift ({dx:.2f}, {dy:.2f}) px, {len(crops)} faces")
    assert abs(dx) < 0.75 and abs(dy) < 0.75  # the average face sits where FER's average face sits
    assert np.corrcoef(mean_crop.ravel(), mean_fer.ravel())[0, 1] > 0.85


def test_geometry_follows_fer2013_expressions(fer):
    def median_geometry(label: str) -> dict[str, float]:
        rows = []
        for image in sample(fer, label, 30):
            faces = detect_faces_in_image(enlarged(image), "gray", max_faces=1)
            if faces:
                rows.append(faces[0].geometry)
        assert len(rows) >= 25
        return dict(zip(GEOMETRY_NAMES, np.median(rows, axis=0)))

    surprise, neutral, happy, angry = (median_geometry(m) for m in ("surprise", "neutral", "happy", "angry"))
    assert surprise["mouth_open"] > neutral["mouth_open"] * 1.3
    assert surprise["eye_open_left"] > neutral["eye_open_left"]
    assert surprise["brow_raise_right"] > angry["brow_raise_right"]
    assert happy["lip_corner_lift"] > neutral["lip_corner_lift"] * 1.5
    assert happy["mouth_width"] > neutral["mouth_width"] * 1.1
