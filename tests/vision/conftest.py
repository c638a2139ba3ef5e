"""Real faces for the vision tests: NASA's public-domain astronaut portrait shipped with scikit-image."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

skimage_data = pytest.importorskip("skimage.data")



@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """The 512x512 portrait, BGR."""
    return cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)


@pytest.fixture(scope="session")
def face_in_portrait() -> tuple[int, int, int, int]:
    """Where the astronaut's face lies in the portrait (x, y, w, h: brow to chin, ear to ear), read off by eye."""
    return 175, 65, 100, 115


@pytest.fixture(scope="session")
def head(astronaut: np.ndarray) -> np.ndarray:
    """Head and shoulders, 230x260: a face that fills a good part of the frame, as on a webcam."""
    return astronaut[0:260, 110:340].copy()


@pytest.fixture(scope="session")
def scene(astronaut: np.ndarray) -> np.ndarray:
    """A 640x480 camera frame: the portrait centred on black, face near the top middle."""
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[:, 64:576] = astronaut[:480]
    return frame


@pytest.fixture(scope="session")
def no_face(astronaut: np.ndarray) -> np.ndarray:
    """A real photo with no face in it: the flag and the shuttle, tiled from the portrait's edges."""
    return np.hstack([astronaut[0:240, 0:160], astronaut[0:240, 400:512], astronaut[272:512, 0:100]])
