"""Cut a face out upright, in greyscale, framed exactly like a FER2013 image.

The face expert is trained on FER2013's 48x48 images as they are, so a live
crop must put the eyes and mouth where FER2013 puts them. `TEMPLATE` holds
those places; a least-squares similarity transform (rotation, uniform scale,
shift) maps a face's two eye centres and mouth centre onto it. Eye centres are
the midpoints of the eye corners (steady through blinks); the mouth centre is
the mean of the outer lip contour.

How `TEMPLATE` was derived (re-derive with
`python -m moodmusic.vision.template /path/to/fer2013.npz`): 1000
FER2013 training images (seed 0), each upscaled 4x with bicubic
interpolation, run through `detect_faces_in_image`; the three points of every
image with a face found (943 of 1000; the rest are drawings, profiles and
hands over faces) were mapped back into 48x48 pixel coordinates (OpenCV
convention: pixel centres at integers) and averaged. Samples of 400 images
agree with these to about 0.3 pixel.
"""

from __future__ import annotations

import cv2
import numpy as np

from moodmusic.vision.frames import to_uint8
from moodmusic.vision.landmarks import (
    LEFT_EYE_INNER,
    LEFT_EYE_OUTER,
    LIPS_OUTER,
    RIGHT_EYE_INNER,
    RIGHT_EYE_OUTER,
)
from moodmusic.vision.warp import warp

CROP_SIZE: int = 48

# (x, y) in a 48x48 FER2013 image: image-left eye (subject's right), image-right eye, mouth centre.
TEMPLATE: np.ndarray = np.array(
    [
        [14.99, 18.29],
        [32.02, 18.01],
        [23.80, 36.43],
    ],
    dtype=np.float64,
)
TEMPLATE.setflags(write=False)


# Rows read by anchor_points: the four eye corners, then the outer lip contour.
_ANCHOR_ROWS = np.array([RIGHT_EYE_OUTER, RIGHT_EYE_INNER, LEFT_EYE_OUTER, LEFT_EYE_INNER, *LIPS_OUTER], dtype=np.intp)


def anchor_points(landmarks: np.ndarray) -> np.ndarray:
    """(3, 2): image-left eye centre, image-right eye centre, mouth centre from a 468-point mesh."""
    # only the rows we need, converted after picking them (same values as converting all 468 first)
    pts = np.asarray(landmarks)[_ANCHOR_ROWS, :2].astype(np.float64)
    out = np.empty((3, 2), np.float64)
    out[0] = (pts[0] + pts[1]) / 2.0
    out[1] = (pts[2] + pts[3]) / 2.0
    out[2] = pts[4:].mean(axis=0)
    return out


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2x3 least-squares similarity (no reflection) taking points `src` onto `dst` (Umeyama 1991)."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s0, d0 = src - mu_s, dst - mu_d
    var = (s0**2).sum() / len(src)
    if var <= 1e-12:
        raise ValueError("cannot align: the face's anchor points coincide")
    cov = d0.T @ s0 / len(src)
    u, sig, vt = np.linalg.svd(cov)
    fix = np.eye(2)
    # u and vt are orthogonal, so each determinant is +-1 and the 2x2 formula gets its sign exactly
    det_u = u[0, 0] * u[1, 1] - u[0, 1] * u[1, 0]
    det_vt = vt[0, 0] * vt[1, 1] - vt[0, 1] * vt[1, 0]
    if det_u * det_vt < 0:
        fix[1, 1] = -1.0
    rot = u @ fix @ vt
    scale = (sig * np.diag(fix)).sum() / var
    a = scale * rot
    return np.hstack([a, (mu_d - a @ mu_s)[:, None]])


def crop_matrix(landmarks: np.ndarray) -> np.ndarray:
    """2x3 matrix taking frame pixels to the 48x48 FER-framed crop of this face."""
    return similarity(anchor_points(landmarks), TEMPLATE)


def align_face(grey_or_bgr: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """(48, 48) uint8 greyscale crop, eyes level, framed like FER2013; edges beyond the frame repeat."""
    img = np.asarray(grey_or_bgr)
    lm = np.asarray(landmarks)
    if lm.ndim != 2 or lm.shape[0] < 468 or lm.shape[1] < 2:
        raise ValueError(f"landmarks must be (468, 2) or (468, 3), got shape {lm.shape}")
    if img.ndim not in (2, 3) or img.shape[0] == 0 or img.shape[1] == 0:
        raise ValueError(f"image must be a non-empty H x W or H x W x C array, got shape {img.shape}")
    img = np.ascontiguousarray(to_uint8(img))
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    out = warp(img, crop_matrix(lm), (CROP_SIZE, CROP_SIZE))
    if out.ndim == 3:
        code = cv2.COLOR_BGRA2GRAY if out.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        out = cv2.cvtColor(out, code)
    return out
