"""Faces in a video stream, cheaply: detect once, then follow each face with the mesh alone.

The landmark model both locates the face and says whether one is still there,
so while it keeps finding the face we place next frame's ROI from this
frame's landmarks and skip the detector. The detector runs again when a
tracked face is lost (on that same frame, so nothing is missed), when no face
is tracked, and every `redetect_every` frames to pick up faces that entered.

>>> import numpy as np
>>> tracker = FaceTracker()
>>> tracker.process(np.zeros((480, 640, 3), np.uint8))
[]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from moodmusic.vision.detector import Detection, FaceDetector
from moodmusic.vision.face import Face, box_iou, build_faces
from moodmusic.vision.frames import to_bgr
from moodmusic.vision.mesh import FaceMesh
from moodmusic.vision.roi import Roi, roi_from_detection, roi_from_landmarks


def _already_tracked(det: Detection, faces: list[tuple[float, np.ndarray]]) -> bool:
    for _, lm in faces:
        xy = lm[:, :2]
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        x0, y0 = float(lo[0]), float(lo[1])
        box = (x0, y0, float(hi[0]) - x0, float(hi[1]) - y0)
        if box_iou(det.box, box) > 0.3:
            return True
    return False


def _detection_size(det: Detection) -> float:
    return det.box[2] * det.box[3]


class FaceTracker:
    """Per-stream face finder with state; one per video stream and thread.

    `redetect_every`: run the detector at least every N frames (1 = every frame,
    0 = only when a face is lost or none is tracked). `max_faces`: how many
    faces to follow and report. `min_score`: confidence below which a detection
    is ignored and a tracked face counts as lost.
    """

    def __init__(
        self,
        models_dir: Path | None = None,
        redetect_every: int = 15,
        max_faces: int = 2,
        min_score: float = 0.5,
    ) -> None:
        if redetect_every < 0:
            raise ValueError(f"redetect_every must be 0 or more, got {redetect_every}")
        if max_faces < 1:
            raise ValueError(f"max_faces must be at least 1, got {max_faces}")
        if not 0.0 < min_score < 1.0:
            raise ValueError(f"min_score must be between 0 and 1, got {min_score}")
        self.redetect_every = redetect_every
        self.max_faces = max_faces
        self.min_score = min_score
        self._detector = FaceDetector(models_dir, min_score)
        self._mesh = FaceMesh(models_dir)
        self._tracks: list[Roi] = []
        self._since_detect = 0
        self._detector_runs = 0

    @property
    def runtime(self) -> str:
        """The engine running both face models: 'litert' or 'opencv' (see vision.runtime)."""
        return self._detector.runtime

    @property
    def detector_runs(self) -> int:
        """How many times the detector has run (tracking keeps this far below the frame count)."""
        return self._detector_runs

    def reset(self) -> None:
        """Forget tracked faces; the next frame starts with a detection."""
        self._tracks = []
        self._since_detect = 0

    def process(self, frame: np.ndarray, pixel_format: str = "bgr") -> list[Face]:
        """Faces in this frame, largest first; [] when there is none. Raises ValueError for unusable frames."""
        bgr = to_bgr(frame, pixel_format)
        found = self._follow(bgr)
        due = self.redetect_every > 0 and self._since_detect + 1 >= self.redetect_every
        lost = len(found) < len(self._tracks)
        if not self._tracks or lost or due:
            found += self._find_new(bgr, found)
            self._since_detect = 0
        else:
            self._since_detect += 1
        faces = build_faces(bgr, found, self.max_faces)
        self._tracks = [roi_from_landmarks(f.landmarks) for f in faces]
        return faces

    def _follow(self, bgr: np.ndarray) -> list[tuple[float, np.ndarray]]:
        found = []
        for roi in self._tracks:
            score, lm = self._mesh.run(bgr, roi)
            if score >= self.min_score:
                found.append((score, lm))
        return found

    def _find_new(self, bgr: np.ndarray, tracked: list[tuple[float, np.ndarray]]) -> list[tuple[float, np.ndarray]]:
        self._detector_runs += 1
        detections = sorted(self._detector.detect(bgr), key=_detection_size, reverse=True)
        new: list[tuple[float, np.ndarray]] = []
        for det in detections:  # largest first; build_faces keeps the largest max_faces of old and new
            if len(new) >= self.max_faces:
                break
            if _already_tracked(det, tracked + new):
                continue
            score, lm = self._mesh.run(bgr, roi_from_detection(det.box, det.keypoints[0], det.keypoints[1]))
            if score < self.min_score:
                continue
            # place the ROI again from these landmarks, as tracking will: a new face's first
            # frame then reads the same as the frames that follow it
            score, lm = self._mesh.run(bgr, roi_from_landmarks(lm))
            if score >= self.min_score:
                new.append((score, lm))
        return new
