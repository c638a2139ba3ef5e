"""Faces in a still photo: no tracking, so spend more to find faces at any size.

The short-range detector only sees faces that fill at least about a tenth of
its input, and misses a face that fills all of it. So a photo is searched
several ways and the results merged: the whole image as it is; the whole image
inside a black border (a tight face crop, e.g. a FER2013 image, then looks like
a face in a frame); and overlapping square tiles of 1/2, 1/4 and 1/8 of the
longer side (small faces in a big scene). Each face's landmarks are refined
with a second mesh pass placed from the first pass's landmarks. When the
detector finds nothing in a roughly square image, the mesh is asked directly
whether the whole image is one face (a crop the detector cannot place, e.g. a
FER2013 face half hidden by a hand); its presence score keeps this from
inventing faces.
"""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np

from moodmusic.vision.detector import Detection, FaceDetector, weighted_nms
from moodmusic.vision.face import Face, build_faces
from moodmusic.vision.frames import to_bgr
from moodmusic.vision.mesh import FaceMesh
from moodmusic.vision.roi import Roi, roi_from_detection, roi_from_landmarks

PAD_FRACTION = 0.5  # border added on each side, as a fraction of the image's longer side
MIN_TILE = 192  # smaller tiles would find only faces too small to read (under ~20 pixels)
WHOLE_IMAGE_MAX_ASPECT = 1.5  # only images about this square may be taken as one face
WHOLE_IMAGE_ROI = 1.2  # ROI side for that guess, relative to the image's shorter side
TILE_LEVELS = 3  # tiles of 1/2, 1/4 and 1/8 of the longer side: faces down to about 1/80 of it

_lock = threading.Lock()
_models: dict[Path | None, tuple[FaceDetector, FaceMesh]] = {}


def _shared_models(models_dir: Path | None, min_score: float) -> tuple[FaceDetector, FaceMesh]:
    if models_dir not in _models:
        _models[models_dir] = (FaceDetector(models_dir, min_score), FaceMesh(models_dir))
    detector, mesh = _models[models_dir]
    detector.min_score = min_score
    return detector, mesh


def _windows(width: int, height: int) -> list[tuple[int, int, int]]:
    """(x, y, side) of square tiles at 1/2, 1/4, 1/8 of the longer side, overlapping by half."""
    longest = max(width, height)
    tiles = []
    for side in (longest >> k for k in range(1, TILE_LEVELS + 1)):
        if side < MIN_TILE:
            break
        step = side // 2
        xs = list(range(0, max(width - side, 0) + 1, step))
        ys = list(range(0, max(height - side, 0) + 1, step))
        if xs[-1] + side < width:
            xs.append(width - side)
        if ys[-1] + side < height:
            ys.append(height - side)
        tiles += [(x, y, side) for y in ys for x in xs]
    return tiles


def _shift(det: Detection, dx: float, dy: float) -> np.ndarray:
    x, y, w, h = det.box
    coords = np.concatenate([[x + dx, y + dy, x + w + dx, y + h + dy], (det.keypoints + [dx, dy]).ravel()])
    return coords.astype(np.float32)


def detect_faces_in_image(
    image: np.ndarray,
    pixel_format: str = "bgr",
    *,
    max_faces: int = 20,
    min_score: float = 0.5,
    models_dir: Path | None = None,
) -> list[Face]:
    """All faces in a photo (large or small, or the photo a tight face crop), largest first; [] if none."""
    if max_faces < 1:
        raise ValueError(f"max_faces must be at least 1, got {max_faces}")
    if not 0.0 < min_score < 1.0:
        raise ValueError(f"min_score must be between 0 and 1, got {min_score}")
    bgr = to_bgr(image, pixel_format)
    h, w = bgr.shape[:2]
    pad = max(1, int(round(max(h, w) * PAD_FRACTION)))
    padded = cv2.copyMakeBorder(bgr, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0))

    with _lock:  # the models are not thread-safe; stills are rare, so one shared pair suffices
        detector, mesh = _shared_models(models_dir, min_score)
        views = [(0, 0, padded), (pad, pad, padded[pad : pad + h, pad : pad + w])]
        for x, y, side in _windows(w, h):
            views.append((pad + x, pad + y, padded[pad + y : pad + y + side, pad + x : pad + x + side]))
        scores, coords = [], []
        for dx, dy, view in views:
            for det in detector.detect(view):
                scores.append(det.score)
                coords.append(_shift(det, dx, dy))
        rois = []
        if scores:
            for _, c in weighted_nms(np.asarray(scores, np.float32), np.stack(coords)):
                box = (float(c[0]), float(c[1]), float(c[2] - c[0]), float(c[3] - c[1]))
                kps = c[4:].reshape(6, 2)
                rois.append(roi_from_detection(box, kps[0], kps[1]))
        elif max(h, w) <= WHOLE_IMAGE_MAX_ASPECT * min(h, w):
            rois.append(Roi(pad + (w - 1) / 2.0, pad + (h - 1) / 2.0, WHOLE_IMAGE_ROI * min(h, w), 0.0))
        found = []
        for roi in rois:
            score, lm = mesh.run(padded, roi)
            if score < min_score:
                continue
            score, lm = mesh.run(padded, roi_from_landmarks(lm))
            if score >= min_score:
                lm[:, :2] -= pad
                found.append((score, lm))
    return build_faces(bgr, found, max_faces)
