"""Re-derive `align.TEMPLATE`: where FER2013 puts the eyes and mouth in its 48x48 frame.

Run `python -m moodmusic.vision.template /path/to/fer2013.npz` and compare its
output with the constants in `align.py`. FER2013 is needed only here, never
at run time. Each sampled training image is upscaled 4x (the mesh reads a
192-pixel face far better than a 48-pixel one), searched with
`detect_faces_in_image`, and its three anchor points mapped back to 48x48
pixel coordinates; the template is their mean over images where a face was
found.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from moodmusic.vision.align import TEMPLATE, anchor_points
from moodmusic.vision.still import detect_faces_in_image

UPSCALE = 4


def fer_sample(npz_path: Path, n: int, split: str = "train", seed: int = 0) -> np.ndarray:
    """`n` FER2013 images of one split, drawn reproducibly."""
    with np.load(npz_path, allow_pickle=False) as data:
        images, splits = data["images"], data["split"]
    idx = np.flatnonzero(splits == split)
    pick = np.random.default_rng(seed).choice(idx, size=min(n, idx.size), replace=False)
    return images[np.sort(pick)]


def fer_landmarks(image48: np.ndarray) -> np.ndarray | None:
    """(468, 2) mesh landmarks in the 48x48 image's pixel coordinates, or None if no face was found."""
    big = cv2.resize(image48, None, fx=UPSCALE, fy=UPSCALE, interpolation=cv2.INTER_CUBIC)
    faces = detect_faces_in_image(big, "gray", max_faces=1)
    if not faces:
        return None
    # upscaled pixel u sits at (u + 0.5) / UPSCALE - 0.5 in the original
    return (faces[0].landmarks + 0.5) / UPSCALE - 0.5


def derive_template(images: np.ndarray) -> tuple[np.ndarray, int]:
    """(3, 2) mean anchor points over the images, and how many images had a face found."""
    points = []
    for img in images:
        lm = fer_landmarks(img)
        if lm is not None:
            points.append(anchor_points(lm))
    if not points:
        raise ValueError("no face found in any of the images")
    return np.mean(points, axis=0), len(points)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("npz", type=Path, help="fer2013.npz (images, labels, split)")
    parser.add_argument("-n", type=int, default=1000, help="training images to sample (default 1000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.npz.is_file():
        print(f"error: {args.npz} not found", file=sys.stderr)
        return 2
    cv2.setNumThreads(1)
    images = fer_sample(args.npz, args.n, seed=args.seed)
    template, found = derive_template(images)
    print(f"faces found in {found} of {len(images)} images")
    print("TEMPLATE = [")
    for name, (x, y) in zip(("image-left eye", "image-right eye", "mouth centre"), template):
        print(f"    [{x:.2f}, {y:.2f}],  # {name}")
    print("]")
    print(f"largest difference from align.TEMPLATE: {np.abs(template - TEMPLATE).max():.2f} px")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
