"""Two real faces side by side in one 640x480 frame: the astronaut (reads happy) and Grace Hopper (neutral)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

FACES = Path(__file__).resolve().parents[1] / "fixtures" / "faces"


def _fit(img: np.ndarray, w: int, h: int) -> np.ndarray:
    s = min(w / img.shape[1], h / img.shape[0])
    img = cv2.resize(img, (int(img.shape[1] * s), int(img.shape[0] * s)), interpolation=cv2.INTER_AREA)
    out = np.full((h, w, 3), 90, np.uint8)
    y, x = (h - img.shape[0]) // 2, (w - img.shape[1]) // 2
    out[y:y + img.shape[0], x:x + img.shape[1]] = img
    return out


def astronaut(w: int = 320, h: int = 480) -> np.ndarray:
    return _fit(cv2.imread(str(FACES / "astronaut.jpg"))[0:360, 100:400], w, h)  # head and shoulders


def grace_hopper(w: int = 320, h: int = 480) -> np.ndarray:
    return _fit(cv2.imread(str(FACES / "grace_hopper.jpg")), w, h)


def two_faces(happy_left: bool = True) -> np.ndarray:
    """The astronaut on the left and Grace Hopper on the right (or swapped), BGR 640x480."""
    a, g = astronaut(), grace_hopper()
    return np.hstack([a, g] if happy_left else [g, a])


def one_face() -> np.ndarray:
    """The astronaut alone, in the middle of a 640x480 frame."""
    return _fit(cv2.imread(str(FACES / "astronaut.jpg"))[0:360, 100:400], 640, 480)
