"""The face pipeline: frames in, faces out (box, 468 landmarks, FER-framed crop, expression geometry).

Fully offline: MediaPipe's BlazeFace detector and FaceMesh landmark model,
committed in `models/` and run with LiteRT, or OpenCV's DNN module where LiteRT
is missing (`MOODMUSIC_VISION_RUNTIME`, see vision.runtime). Never imports torch.

>>> import numpy as np
>>> from moodmusic.vision import FaceTracker, draw_overlay
>>> tracker = FaceTracker()
>>> frame = np.zeros((480, 640, 3), np.uint8)
>>> faces = tracker.process(frame)          # largest first; [] means no face
>>> draw_overlay(frame, faces, "neutral").shape
(480, 640, 3)
"""

from moodmusic.vision.align import CROP_SIZE, align_face
from moodmusic.vision.face import Face
from moodmusic.vision.frames import PIXEL_FORMATS, to_bgr
from moodmusic.vision.geometry import GEOMETRY_NAMES, expression_geometry
from moodmusic.vision.modelfiles import ModelFileError
from moodmusic.vision.overlay import draw_overlay, draw_overlay_i420
from moodmusic.vision.runtime import VisionRuntimeError
from moodmusic.vision.still import detect_faces_in_image
from moodmusic.vision.tracker import FaceTracker

# Bump when the crop framing (align.TEMPLATE), the crop itself or the geometry changes:
# models trained on the old features must then refuse to load.
FEATURE_VERSION: str = "face-v1"

__all__ = [
    "CROP_SIZE",
    "FEATURE_VERSION",
    "GEOMETRY_NAMES",
    "PIXEL_FORMATS",
    "Face",
    "FaceTracker",
    "ModelFileError",
    "VisionRuntimeError",
    "align_face",
    "detect_faces_in_image",
    "draw_overlay",
    "draw_overlay_i420",
    "expression_geometry",
    "to_bgr",
]
