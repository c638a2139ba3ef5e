"""How a face expert holds up when the face is not a clean FER2013 picture: the val faces, perturbed.

Faces in the wild are smaller, softer, lit from one side, noisier and
sometimes behind glasses. This scores a checkpoint on the val split's
original-pixel faces, as they are and under fixed, deterministic
perturbations of the 48x48 crop (the same for every model compared), with
both label sets (FER2013's own and the FER+ majority). It is a check on
validation data, used to compare models and augmentations, never on test.

    python -m moodmusic.training.face_robustness models/face_expert.pt runs/x/student.pt

>>> list(PERTURBATIONS)[:4]
['clean', 'blur', 'low-res', 'dark']
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from moodmusic.training.datasets import DEFAULT_DATA, load_fer


def _blur(x: np.ndarray) -> np.ndarray:
    import cv2

    return np.stack([cv2.GaussianBlur(f, (0, 0), 1.5) for f in x])


def _low_res(x: np.ndarray) -> np.ndarray:
    """A face about 16 px across, enlarged to the model's 48 px (what a distant face in a webcam frame gives)."""
    import cv2

    return np.stack([cv2.resize(cv2.resize(f, (16, 16), interpolation=cv2.INTER_AREA), (48, 48),
                                interpolation=cv2.INTER_LINEAR) for f in x])


def _ramp(x: np.ndarray) -> np.ndarray:
    """Light from the left: brightness x 1.5 on the left edge down to x 0.5 on the right, clipped."""
    gain = np.linspace(1.5, 0.5, x.shape[2], dtype=np.float32)[None, None, :]
    return np.clip(x * gain, 0, 255).round().astype(np.uint8)


def _glasses(x: np.ndarray) -> np.ndarray:
    """A dark, 80 %-opaque band over the eyes (rows 14-21 of FER2013's framing)."""
    y = x.astype(np.float32)
    y[:, 14:22] = 0.2 * y[:, 14:22] + 0.8 * 20
    return y.round().astype(np.uint8)


def _noise(x: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.clip(x + rng.normal(0, 10, x.shape), 0, 255).round().astype(np.uint8)


PERTURBATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "clean": lambda x: x,
    "blur": _blur,  # Gaussian, sigma 1.5 px
    "low-res": _low_res,
    "dark": lambda x: (x * 0.3).round().astype(np.uint8),  # a dim room: 30 % of the light, 8-bit quantised
    "bright": lambda x: np.clip(x * 1.5 + 40, 0, 255).round().astype(np.uint8),  # over-exposed, clipped
    "side-light": _ramp,
    "glasses": _glasses,
    "noise": _noise,  # Gaussian, sigma 10 grey levels
}


def robustness(checkpoint: str | Path, data_dir: str | Path = DEFAULT_DATA, split: str = "val",
               flip_average: bool | None = None) -> dict[str, dict[str, float]]:
    """{perturbation: {"fer2013": accuracy, "ferplus": accuracy}} on the split's original-pixel faces."""
    from moodmusic.recognition.face_expert import FaceExpert

    expert = FaceExpert.load(checkpoint)
    if flip_average is not None:
        expert.flip_average = flip_average
    sets = {"fer2013": load_fer(data_dir, (split,), originals_only=True)[split],
            "ferplus": load_fer(data_dir, (split,), labels="ferplus")[split]}
    out: dict[str, dict[str, float]] = {}
    for name, perturb in PERTURBATIONS.items():
        out[name] = {}
        for labels, (x, y) in sets.items():
            xp = perturb(x)
            probs = np.concatenate([expert.predict(xp[i:i + 512])[0] for i in range(0, len(xp), 512)])
            out[name][labels] = float((probs.argmax(1) == y).mean())
    return out


def format_table(results: dict[str, dict[str, dict[str, float]]]) -> str:
    """A markdown table: one row per perturbation, FER2013 / FER+ accuracy per model."""
    models = list(results)
    head = "| val, original pixels | " + " | ".join(f"{m} (FER2013 / FER+)" for m in models) + " |"
    lines = [head, "|---" * (len(models) + 1) + "|"]
    for name in PERTURBATIONS:
        cells = [f"{100 * results[m][name]['fer2013']:.1f}% / {100 * results[m][name]['ferplus']:.1f}%"
                 for m in models]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    means = [np.mean([results[m][n][s] for n in PERTURBATIONS if n != "clean"]) for m in models
             for s in ("fer2013", "ferplus")]
    lines.append("| mean of the perturbed | " + " | ".join(
        f"{100 * means[2 * i]:.1f}% / {100 * means[2 * i + 1]:.1f}%" for i in range(len(models))) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    import torch

    torch.set_num_threads(1)
    if not argv:
        print("usage: python -m moodmusic.training.face_robustness CHECKPOINT...", file=sys.stderr)
        return 2
    missing = [p for p in argv if not Path(p).is_file()]
    if missing:
        print(f"no such checkpoint: {', '.join(missing)}", file=sys.stderr)
        return 2
    results: dict[str, Any] = {path: robustness(path) for path in argv}
    print(format_table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
