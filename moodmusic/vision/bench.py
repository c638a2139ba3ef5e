"""How fast is the face pipeline here? `python -m moodmusic.vision.bench`

Times `FaceTracker.process` on the astronaut portrait placed in a 640x480
frame (scikit-image's public-domain test photo), one OpenCV thread, as the
live server runs it: with tracking (detector every 15 frames) and detecting
on every frame, plus the stages on their own. The face drifts a pixel per
frame so tracking does real work. Wall-clock medians suffer when other
processes share the cores; the CPU-time column (this thread only) shows the
work itself.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import cv2
import numpy as np


def _frames(n: int) -> list[np.ndarray]:
    from skimage.data import astronaut

    scene = np.zeros((480, 640, 3), np.uint8)
    scene[:, 64:576] = cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR)[:480]
    frames = []
    for i in range(n):
        dx = abs(i % 40 - 20) - 10  # drift left and right by up to 10 pixels
        frames.append(cv2.warpAffine(scene, np.float32([[1, 0, dx], [0, 1, 0]]), (640, 480)))
    return frames


def time_calls(fn: Callable[[int], object], iterations: int, warmup: int = 20) -> dict[str, float]:
    """Median and 90th percentile of wall and thread-CPU milliseconds per call of fn(i)."""
    for i in range(warmup):
        fn(i)
    wall, cpu = [], []
    for i in range(iterations):
        w0, c0 = time.perf_counter(), time.thread_time()
        fn(i)
        cpu.append(time.thread_time() - c0)
        wall.append(time.perf_counter() - w0)
    ms = lambda xs, q: float(np.percentile(xs, q) * 1000.0)  # noqa: E731
    return {"wall_p50": ms(wall, 50), "wall_p90": ms(wall, 90), "cpu_p50": ms(cpu, 50), "cpu_p90": ms(cpu, 90)}


def run(iterations: int = 300) -> dict[str, dict[str, float]]:
    """Timings for the tracked pipeline, detect-every-frame, and each stage."""
    from moodmusic.vision import FaceTracker, align_face, draw_overlay, expression_geometry
    from moodmusic.vision.roi import roi_from_landmarks

    cv2.setNumThreads(1)
    frames = _frames(iterations + 40)
    tracked, every = FaceTracker(redetect_every=15), FaceTracker(redetect_every=1)
    probe = FaceTracker()
    face = probe.process(frames[0])[0]
    roi = roi_from_landmarks(face.landmarks)
    detector, mesh = probe._detector, probe._mesh
    results = {
        "pipeline, tracking (detector every 15th frame)": time_calls(lambda i: tracked.process(frames[i]), iterations),
        "pipeline, detector every frame": time_calls(lambda i: every.process(frames[i]), iterations),
        "detector alone": time_calls(lambda i: detector.detect(frames[i]), iterations),
        "mesh alone (warp + model)": time_calls(lambda i: mesh.run(frames[0], roi), iterations),
        "aligned crop": time_calls(lambda i: align_face(frames[0], face.landmarks), iterations),
        "geometry": time_calls(lambda i: expression_geometry(face.landmarks), iterations),
        "overlay": time_calls(lambda i: draw_overlay(frames[0], [face], "happy"), iterations),
    }
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--iterations", type=int, default=300)
    args = parser.parse_args(argv)
    results = run(args.iterations)
    print(f"{'ms per 640x480 frame, 1 OpenCV thread':48} {'wall p50':>9} {'wall p90':>9} {'cpu p50':>8} {'cpu p90':>8}")
    for name, t in results.items():
        print(f"{name:48} {t['wall_p50']:9.2f} {t['wall_p90']:9.2f} {t['cpu_p50']:8.2f} {t['cpu_p90']:8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
