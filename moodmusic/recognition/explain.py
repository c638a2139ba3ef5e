"""Why the experts said what they said: occlusion heatmaps over a face crop, and the voice's windows.

**Face: occlusion sensitivity, not Grad-CAM.** A square patch of the
48x48 crop is replaced by the crop's own mean grey (the face net standardises
each crop, so that is "no information" to it), the expert is asked again, and
the drop in its probability for the mood it chose is credited to the pixels
under the patch; every pixel's heat is the mean drop over the patches that
covered it. Why this one:

- it measures exactly what a person asks ("which part of the face, hidden,
  changes the answer?"), for the whole path that decides: the face net *and*
  AVFusion's face head, the frozen graph the live page runs, or an ONNX file;
  it needs any `crops -> probs` callable and no gradients;
- Grad-CAM reads the last convolutional stage, which is 5x5 cells for a
  40x40 centre crop (the stem and two stages halve it): a blob a fifth of the
  face wide, and its gradients describe the face net's logits, not the head
  that decides after it;
- cost on a CPU: 100 patch positions (12x12 px, stride 4) are one batch of
  101 crops through a net of about 26 M multiply-adds per crop: 63 ms at best,
  139 ms median, on one thread of these 2 shared cores (one crop: 1.6 ms).
  Grad-CAM would cost one forward and backward pass, a few ms; the price buys
  an exact answer at the crop's resolution, and it is paid only on request
  (a photo, a clip's windows, `predict --explain`), never per frame.

**Voice: each window's share.** The clip's voice opinion is the mean of its
windows' probabilities weighted by how voiced each was (`moodmusic.analysis`),
so a window's contribution to the clip's voice mood m is exactly
weight_k * p_k[m] / sum(weight): the contributions add up to the clip's
probability of m, and a window that heard another mood contributes little.

Arrays in, arrays out: no vision, no audio, no drawing of text.

>>> import numpy as np
>>> def dark_left(crops):  # a toy expert: "happy" grows with the left half's brightness
...     left = crops[:, :, :24].mean((1, 2)) / 255.0
...     p = np.full((len(crops), 6), 0.1); p[:, 2] = 0.5 + 0.5 * left
...     return p / p.sum(1, keepdims=True)
>>> crop = np.full((48, 48), 40, np.uint8); crop[:, :24] = 250
>>> heat, mood = occlusion(dark_left, crop)
>>> mood, heat.shape, bool(heat[:, :20].mean() > heat[:, 30:].mean())
(2, (48, 48), True)
>>> voice_contributions(np.array([[0.1, 0.9], [0.6, 0.4]]), np.array([1.0, 1.0]), 1).round(2).tolist()
[0.45, 0.2]
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

PATCH = 12  # px of the 48x48 crop hidden at a time: about an eye, a brow or the mouth
STRIDE = 4


def _patches(side: int, patch: int, stride: int) -> list[tuple[int, int]]:
    starts = list(range(0, side - patch + 1, stride))
    if starts[-1] != side - patch:  # cover the last rows and columns too
        starts.append(side - patch)
    return [(y, x) for y in starts for x in starts]


def occluded(crop: np.ndarray, y: int, x: int, patch: int = PATCH, fill: float | None = None) -> np.ndarray:
    """`crop` with the `patch` x `patch` square at (y, x) set to `fill` (default: the crop's mean grey)."""
    out = np.array(crop, copy=True)
    out[y:y + patch, x:x + patch] = np.uint8(round(float(np.mean(crop)) if fill is None else fill))
    return out


def occlusion(
    predict: Callable[[np.ndarray], np.ndarray],
    crop: np.ndarray,
    mood: int | None = None,
    patch: int = PATCH,
    stride: int = STRIDE,
) -> tuple[np.ndarray, int]:
    """(48, 48) float heat (the mean drop in p(mood) when that pixel is hidden; may be negative), and the mood.

    `predict` maps (N, 48, 48) uint8 crops to (N, 6) probabilities; `mood`
    defaults to the one it chooses for the whole crop.
    """
    crop = np.asarray(crop)
    if crop.ndim != 2 or crop.shape[0] != crop.shape[1] or crop.shape[0] < patch:
        raise ValueError(f"occlusion needs one square crop at least {patch} px wide, got shape {crop.shape}")
    side = crop.shape[0]
    spots = _patches(side, patch, stride)
    batch = np.stack([crop] + [occluded(crop, y, x, patch) for y, x in spots])
    probs = np.asarray(predict(batch), np.float64)
    if mood is None:
        mood = int(np.argmax(probs[0]))
    drops = probs[0, mood] - probs[1:, mood]
    total = np.zeros((side, side))
    count = np.zeros((side, side))
    for (y, x), d in zip(spots, drops):
        total[y:y + patch, x:x + patch] += d
        count[y:y + patch, x:x + patch] += 1
    return (total / np.maximum(count, 1)).astype(np.float32), mood


def hottest_square(heat: np.ndarray, patch: int = PATCH) -> tuple[int, int]:
    """(y, x) of the `patch` x `patch` square holding the most heat: the region the heatmap points at."""
    c = np.pad(np.cumsum(np.cumsum(np.asarray(heat, np.float64), 0), 1), ((1, 0), (1, 0)))
    sums = c[patch:, patch:] - c[:-patch, patch:] - c[patch:, :-patch] + c[:-patch, :-patch]
    y, x = np.unravel_index(int(np.argmax(sums)), sums.shape)
    return int(y), int(x)


def _colour(t: np.ndarray) -> np.ndarray:
    """0..1 -> RGB from yellow through orange to red (a plain ramp, no plotting library)."""
    stops = np.array([[1.0, 0.95, 0.2], [1.0, 0.55, 0.0], [0.85, 0.0, 0.0]])
    pos = np.clip(t, 0, 1) * (len(stops) - 1)
    i = np.minimum(pos.astype(int), len(stops) - 2)
    f = (pos - i)[..., None]
    return stops[i] * (1 - f) + stops[i + 1] * f


def overlay(crop: np.ndarray, heat: np.ndarray, alpha: float = 0.6) -> np.ndarray:
    """The grey crop with the positive heat (what argued *for* the mood) tinted over it: (H, W, 3) uint8 RGB.

    Scaled to the largest drop, so a face where nothing mattered stays mostly grey
    (scale floor 0.02, a 2-point drop).
    """
    grey = np.repeat(np.asarray(crop, np.float64)[..., None] / 255.0, 3, axis=2)
    h = np.clip(np.asarray(heat, np.float64), 0, None)
    t = h / max(float(h.max()), 0.02)
    a = (alpha * np.sqrt(t))[..., None]
    return np.round(255 * ((1 - a) * grey + a * _colour(t))).astype(np.uint8)


def voice_contributions(probs: np.ndarray, weights: np.ndarray, mood: int) -> np.ndarray:
    """Each window's share of the clip's voice probability for `mood`: weight_k * p_k[mood] / sum(weight).

    `probs` (K, 6) (rows of NaN, or weight 0, for windows without speech) and
    `weights` (K,) as the clip's voice opinion was averaged; the shares add up
    to that opinion's probability of `mood`.
    """
    p = np.asarray(probs, np.float64)
    w = np.where(np.isfinite(p).all(1), np.asarray(weights, np.float64), 0.0)
    if w.sum() <= 0:
        return np.zeros(len(p))
    return w * np.nan_to_num(p[:, mood]) / w.sum()
