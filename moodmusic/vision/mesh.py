"""MediaPipe FaceMesh: 468 3-D landmarks and a face-presence score for one ROI.

The model sees the ROI warped to 192x192 RGB in [0, 1] (MediaPipe's
`face_landmark_cpu` graph; checked here: it gives the tightest landmarks under
jitter of the ROI). Its x, y come out in crop pixels and z in the same units,
so we map all three back to frame pixels with the ROI's similarity transform.
The presence score lets the tracker notice when it has lost the face.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from moodmusic.vision.landmarks import NUM_LANDMARKS
from moodmusic.vision.modelfiles import MESH_FILE, load_model
from moodmusic.vision.roi import Roi
from moodmusic.vision.runtime import to_tensor
from moodmusic.vision.warp import warp

INPUT_SIZE = 192
_SCORE_OUTPUT, _LANDMARK_OUTPUT = "conv2d_31", "conv2d_21"


class FaceMesh:
    """Landmarks for a face inside a given ROI; one instance per thread."""

    def __init__(self, models_dir: Path | None = None) -> None:
        self.model = load_model(models_dir, MESH_FILE)

    @property
    def runtime(self) -> str:
        """The engine running the model: 'litert' or 'opencv'."""
        return self.model.runtime

    def run(self, bgr: np.ndarray, roi: Roi) -> tuple[float, np.ndarray]:
        """(presence probability, (468, 3) landmarks in frame pixels; z has the same scale as x)."""
        crop = warp(bgr, roi.crop_from_frame(INPUT_SIZE), (INPUT_SIZE, INPUT_SIZE), border=cv2.BORDER_REPLICATE)
        raw_score, raw_points = self.model.run(to_tensor(crop, 1.0 / 255.0), (_SCORE_OUTPUT, _LANDMARK_OUTPUT))
        logit = min(max(float(raw_score.reshape(-1)[0]), -100.0), 100.0)  # np.clip's result, as a float
        presence = 1.0 / (1.0 + np.exp(-logit))
        pts = raw_points.reshape(NUM_LANDMARKS, 3).astype(np.float64)
        back = roi.frame_from_crop(INPUT_SIZE)
        out = np.empty_like(pts)
        # model x, y are continuous crop coordinates; -0.5 gives OpenCV pixel-centre coordinates
        out[:, :2] = (pts[:, :2] - 0.5) @ back[:, :2].T + back[:, 2]
        out[:, 2] = pts[:, 2] * (roi.size / INPUT_SIZE)
        return presence, out.astype(np.float32)
