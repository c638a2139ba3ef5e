"""Sample a (rotated, scaled) window of an image into a small square without aliasing, cheaply.

Bilinear `warpAffine` alone only looks at 4 source pixels per output pixel, so
shrinking a 600-pixel face to 48 pixels, or a frame to the detector's 128,
would alias. Two remedies, whichever is cheaper: warp to an integer multiple
of the output size and average blocks down (`INTER_AREA` by an integer factor
is OpenCV's fast path), or, for very large shrinks, area-shrink just the
region we need first. All matrices use OpenCV's convention: pixel (i, j) has
its centre at integer coordinates.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

# The final bilinear step may shrink by at most this factor without visible aliasing.
_MAX_BILINEAR_SHRINK = 1.5
# Above this many supersampled pixels, shrinking the source region first is cheaper.
_MAX_SUPERSAMPLED_PIXELS = 400_000


def warp(
    image: np.ndarray,
    dst_from_src: np.ndarray,
    size: tuple[int, int],
    border: int = cv2.BORDER_REPLICATE,
) -> np.ndarray:
    """`cv2.warpAffine(image, dst_from_src, size)` with anti-aliasing when it shrinks.

    `size` is (width, height) of the output, as in OpenCV; constant borders are black.
    """
    m = np.asarray(dst_from_src, dtype=np.float64).reshape(2, 3)
    scale = math.sqrt(abs(float(np.linalg.det(m[:, :2]))))  # output pixels per input pixel
    if scale <= 0.0 or scale * _MAX_BILINEAR_SHRINK >= 1.0:
        return _bilinear(image, m, size, border)
    k = math.ceil(1.0 / (scale * _MAX_BILINEAR_SHRINK))
    if size[0] * size[1] * k * k <= _MAX_SUPERSAMPLED_PIXELS:
        # output pixel u covers supersampled pixels k*u .. k*u + k-1, centred at k*u + (k-1)/2
        mk = m * k
        mk[:, 2] += (k - 1) / 2.0
        big = _bilinear(image, mk, (size[0] * k, size[1] * k), border)
        return cv2.resize(big, size, interpolation=cv2.INTER_AREA)
    small, m = _preshrink(image, m, size, scale * _MAX_BILINEAR_SHRINK)
    return _bilinear(small, m, size, border)


def _bilinear(image: np.ndarray, m: np.ndarray, size: tuple[int, int], border: int) -> np.ndarray:
    return cv2.warpAffine(image, m, size, flags=cv2.INTER_LINEAR, borderMode=border, borderValue=(0, 0, 0, 0))


def _preshrink(
    image: np.ndarray, m: np.ndarray, size: tuple[int, int], factor: float
) -> tuple[np.ndarray, np.ndarray]:
    """Area-shrink only the part of `image` the output can see; return it and the adjusted matrix."""
    h, w = image.shape[:2]
    inv = cv2.invertAffineTransform(m)
    ow, oh = size
    corners = np.array([[-1, -1, 1], [ow, -1, 1], [-1, oh, 1], [ow, oh, 1]], dtype=np.float64)
    src = corners @ inv.T
    x0 = int(np.clip(np.floor(src[:, 0].min()) - 2, 0, w))
    x1 = int(np.clip(np.ceil(src[:, 0].max()) + 3, 0, w))
    y0 = int(np.clip(np.floor(src[:, 1].min()) - 2, 0, h))
    y1 = int(np.clip(np.ceil(src[:, 1].max()) + 3, 0, h))
    if x1 - x0 < 2 or y1 - y0 < 2:  # the output sees only border: nothing worth shrinking
        return image, m
    region = image[y0:y1, x0:x1]
    nw = max(1, int(round((x1 - x0) * factor)))
    nh = max(1, int(round((y1 - y0) * factor)))
    small = cv2.resize(region, (nw, nh), interpolation=cv2.INTER_AREA)
    fx, fy = nw / (x1 - x0), nh / (y1 - y0)
    # small pixel u sits at source x = (u + 0.5) / fx - 0.5 + x0 (OpenCV's resize convention)
    src_from_small = np.array(
        [[1 / fx, 0, 0.5 / fx - 0.5 + x0], [0, 1 / fy, 0.5 / fy - 0.5 + y0], [0, 0, 1]], dtype=np.float64
    )
    return small, m @ src_from_small


def shrink_to_fit(image: np.ndarray, size: int) -> tuple[np.ndarray, float]:
    """Resize so the longer side is `size` (aspect kept), anti-aliased; returns the image and its scale."""
    h, w = image.shape[:2]
    scale = size / max(h, w)
    out = (max(1, round(w * scale)), max(1, round(h * scale)))
    if scale * _MAX_BILINEAR_SHRINK >= 1.0:
        return cv2.resize(image, out, interpolation=cv2.INTER_LINEAR), scale
    if scale >= 0.2:
        # bilinear to twice the target (a shrink of at most 2.5x), then a 2x block average: within a
        # quarter of a grey level of INTER_AREA on a real 640x480 frame, at under half its cost (only
        # one-pixel patterns keep some contrast: half of what a plain bilinear shrink leaves them)
        twice = cv2.resize(image, (out[0] * 2, out[1] * 2), interpolation=cv2.INTER_LINEAR)
        return cv2.resize(twice, out, interpolation=cv2.INTER_AREA), scale
    return cv2.resize(image, out, interpolation=cv2.INTER_AREA), scale
