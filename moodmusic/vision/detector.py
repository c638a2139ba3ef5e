"""BlazeFace short-range face detector (MediaPipe), decoded in numpy.

The model sees the frame letterboxed into 128x128, pixels scaled to [-1, 1],
and scores 896 SSD anchors (16x16 cells x 2 at stride 8, 8x8 cells x 6 at
stride 16), each with a box and six keypoints (eyes, nose tip, mouth, ears)
relative to the anchor. We keep anchors scoring at least `min_score`, merge
overlapping ones with MediaPipe's weighted non-maximum suppression, and map
everything back into frame pixels. It finds faces whose width is at least
roughly a tenth of the frame's longer side.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from moodmusic.vision.modelfiles import DETECTOR_FILE, load_model
from moodmusic.vision.runtime import to_tensor
from moodmusic.vision.warp import shrink_to_fit

INPUT_SIZE = 128
NMS_IOU = 0.3


@dataclass(frozen=True)
class Detection:
    box: tuple[float, float, float, float]  # x, y, w, h in frame pixels
    score: float
    keypoints: np.ndarray  # (6, 2): right eye, left eye, nose tip, mouth, right ear, left ear


def ssd_anchors() -> np.ndarray:
    """(896, 2) anchor centres in [0, 1], in the model's output order."""
    centres = []
    for cells, per_cell in ((16, 2), (8, 6)):
        ys, xs = np.mgrid[0:cells, 0:cells]
        grid = np.stack([(xs.ravel() + 0.5) / cells, (ys.ravel() + 0.5) / cells], axis=1)
        centres.append(np.repeat(grid, per_cell, axis=0))
    return np.concatenate(centres).astype(np.float32)


ANCHORS = ssd_anchors()


def decode(scores: np.ndarray, regressors: np.ndarray, min_score: float) -> tuple[np.ndarray, np.ndarray]:
    """Raw outputs -> (scores (N,), boxes+keypoints (N, 16) as x0, y0, x1, y1, kx, ky... in [0, 1])."""
    logits = np.clip(scores.reshape(-1).astype(np.float64), -100.0, 100.0)
    probs = 1.0 / (1.0 + np.exp(-logits))
    keep = np.flatnonzero(probs >= min_score)
    if keep.size == 0:
        return np.zeros(0, np.float32), np.zeros((0, 16), np.float32)
    raw = regressors.reshape(-1, 16)[keep] / INPUT_SIZE
    anchors = ANCHORS[keep]
    cx, cy = raw[:, 0] + anchors[:, 0], raw[:, 1] + anchors[:, 1]
    w, h = raw[:, 2], raw[:, 3]
    out = np.empty((keep.size, 16), np.float32)
    out[:, 0], out[:, 1], out[:, 2], out[:, 3] = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
    out[:, 4::2] = raw[:, 4::2] + anchors[:, :1]
    out[:, 5::2] = raw[:, 5::2] + anchors[:, 1:]
    return probs[keep].astype(np.float32), out


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    ix = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = ix * iy
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def weighted_nms(scores: np.ndarray, coords: np.ndarray, iou: float = NMS_IOU) -> list[tuple[float, np.ndarray]]:
    """MediaPipe's WEIGHTED suppression: each cluster becomes the score-weighted mean of its members."""
    order = np.argsort(-scores)
    scores, coords = scores[order], coords[order]
    alive = np.ones(len(scores), bool)
    merged: list[tuple[float, np.ndarray]] = []
    for i in range(len(scores)):
        if not alive[i]:
            continue
        overlap = alive & (_iou(coords[i, :4], coords[:, :4]) > iou)
        overlap[i] = True
        w = scores[overlap]
        merged.append((float(scores[i]), (coords[overlap] * w[:, None]).sum(0) / w.sum()))
        alive &= ~overlap
    return merged


class FaceDetector:
    """Finds faces in a BGR frame; one instance per thread (neither LiteRT nor OpenCV models are thread-safe)."""

    def __init__(self, models_dir: Path | None = None, min_score: float = 0.5) -> None:
        self.model = load_model(models_dir, DETECTOR_FILE)
        self.min_score = min_score

    @property
    def runtime(self) -> str:
        """The engine running the model: 'litert' or 'opencv'."""
        return self.model.runtime

    def detect(self, bgr: np.ndarray) -> list[Detection]:
        """All faces found in a uint8 BGR frame, highest score first."""
        h, w = bgr.shape[:2]
        small, _ = shrink_to_fit(bgr, INPUT_SIZE)
        sh, sw = small.shape[:2]
        left, top = (INPUT_SIZE - sw) // 2, (INPUT_SIZE - sh) // 2  # letterbox, centred, black
        tensor_img = cv2.copyMakeBorder(
            small, top, INPUT_SIZE - sh - top, left, INPUT_SIZE - sw - left, cv2.BORDER_CONSTANT, value=(0, 0, 0)
        )
        tensor = to_tensor(tensor_img, 2.0 / 255.0, offset=127.5)  # RGB in [-1, 1]
        raw_scores, raw_boxes = self.model.run(tensor, ("classificators", "regressors"))
        probs, coords = decode(raw_scores, raw_boxes, self.min_score)
        sx, sy = sw / w, sh / h
        detections = []
        for score, c in weighted_nms(probs, coords):
            # model coordinates are continuous in [0, 1] of the 128 square; to frame pixel centres
            xs = (c[0::2] * INPUT_SIZE - left) / sx - 0.5
            ys = (c[1::2] * INPUT_SIZE - top) / sy - 0.5
            box = (float(xs[0]), float(ys[0]), float(xs[1] - xs[0]), float(ys[1] - ys[0]))
            detections.append(Detection(box, score, np.stack([xs[2:], ys[2:]], axis=1).astype(np.float32)))
        return detections
