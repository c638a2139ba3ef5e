"""How fast is the face pipeline here? `python -m moodmusic.bench.vision`

Times `FaceTracker.process` on the astronaut portrait placed in a 640x480
frame (scikit-image's public-domain test photo), one thread, as the live
server runs it, in the engine vision.runtime picks (LiteRT or OpenCV): with
tracking (detector every 15 frames) and detecting on every frame, plus the
stages on their own. The face drifts a pixel per
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


def compare_runtimes(iterations: int = 300) -> dict[str, dict[str, float]]:
    """LiteRT against OpenCV on the same frames, call by call in turn, so both meet the same noise.

    On a shared, busy machine separate runs of each engine differ by 2x; interleaving keeps the
    ratio honest. Per pipeline: each engine's wall and thread-CPU median, and the median of the
    per-frame CPU ratios (OpenCV / LiteRT).
    """
    import os

    from moodmusic.vision import FaceTracker
    from moodmusic.vision.runtime import RUNTIME_ENV

    cv2.setNumThreads(1)
    frames = _frames(iterations + 40)
    before = os.environ.get(RUNTIME_ENV)
    trackers: dict[str, dict[int, FaceTracker]] = {}
    try:
        for name in ("litert", "opencv"):
            os.environ[RUNTIME_ENV] = name
            trackers[name] = {every: FaceTracker(redetect_every=every) for every in (15, 1)}
    finally:
        if before is None:
            os.environ.pop(RUNTIME_ENV, None)
        else:
            os.environ[RUNTIME_ENV] = before
    results = {}
    for every, label in ((15, "tracking (detector every 15th frame)"), (1, "detector every frame")):
        wall: dict[str, list[float]] = {"litert": [], "opencv": []}
        cpu: dict[str, list[float]] = {"litert": [], "opencv": []}
        for i in range(iterations + 20):
            for name in ("litert", "opencv") if i % 2 else ("opencv", "litert"):
                w0, c0 = time.perf_counter(), time.thread_time()
                trackers[name][every].process(frames[i])
                if i >= 20:  # warm-up
                    cpu[name].append(time.thread_time() - c0)
                    wall[name].append(time.perf_counter() - w0)
        row = {}
        for n in wall:
            row[f"{n}_wall_p50"] = float(np.median(wall[n]) * 1000)
            row[f"{n}_cpu_p50"] = float(np.median(cpu[n]) * 1000)
        row["cpu_ratio_p50"] = float(np.median(np.divide(cpu["opencv"], np.maximum(cpu["litert"], 1e-6))))
        results[label] = row
    return results


def interleaved_spread(copies: int = 4, iterations: int = 200) -> list[float]:
    """Wall-clock p50 (ms) of `copies` identical detect-every-frame trackers, timed call by call in turn.

    Whole runs of this machine differ by a third from one another. If identical
    trackers sharing each moment agree while separate runs do not, the
    machine's speed changed between runs, not the work.
    """
    from moodmusic.vision import FaceTracker

    cv2.setNumThreads(1)
    frames = _frames(iterations + 20)
    trackers = [FaceTracker(redetect_every=1) for _ in range(copies)]
    wall: list[list[float]] = [[] for _ in trackers]
    for i in range(iterations + 20):
        for k, tracker in enumerate(trackers):
            t0 = time.perf_counter()
            tracker.process(frames[i])
            if i >= 20:  # warm-up
                wall[k].append(time.perf_counter() - t0)
    return [float(np.median(w) * 1000) for w in wall]


def python_runs_during(call: Callable[[], object], seconds: float = 1.0) -> dict[str, float]:
    """Does `call` let other Python threads run (release the GIL)? The live page needs it to.

    A worker thread repeats `call`, logging each call's start and end; this thread sleeps
    0.2 ms at a time and logs each moment it runs Python again. A wake-up strictly inside a
    call is only possible while that call has released the GIL. Returns the share of calls
    with such a wake-up and wake-ups per millisecond of call (a call holding the GIL gives
    about 0 for both; compare with time.sleep, which releases it).
    """
    import threading

    spans: list[tuple[float, float]] = []
    wakes: list[float] = []
    stop = threading.Event()

    def worker() -> None:
        while not stop.is_set():
            t0 = time.perf_counter()
            call()
            spans.append((t0, time.perf_counter()))

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        time.sleep(0.0002)
        wakes.append(time.perf_counter())
    stop.set()
    thread.join()
    w = np.asarray(wakes)
    margin = 5e-5  # the worker's own bytecode around the call may run while this thread holds the GIL
    inside = np.array([np.count_nonzero((w > t0 + margin) & (w < t1 - margin)) for t0, t1 in spans])
    call_ms = sum(t1 - t0 for t0, t1 in spans) * 1000.0
    return {
        "calls": float(len(spans)),
        "share_with_wakeup": float(np.mean(inside > 0)) if spans else 0.0,
        "wakeups_per_ms": float(inside.sum() / call_ms) if call_ms else 0.0,
    }


def gil_report(seconds: float = 1.0) -> dict[str, dict[str, float]]:
    """python_runs_during for both models' native inference, with a GIL-holding and a releasing control."""
    from moodmusic.vision import FaceTracker
    from moodmusic.vision.detector import INPUT_SIZE as DET_SIZE
    from moodmusic.vision.mesh import INPUT_SIZE as MESH_SIZE
    from moodmusic.vision.runtime import to_tensor

    cv2.setNumThreads(1)
    frame = _frames(1)[0]
    tracker = FaceTracker()
    det, mesh = tracker._detector.model, tracker._mesh.model
    det_in = to_tensor(cv2.resize(frame, (DET_SIZE, DET_SIZE)), 2.0 / 255.0, 127.5)
    mesh_in = to_tensor(cv2.resize(frame, (MESH_SIZE, MESH_SIZE)), 1.0 / 255.0)

    def python_loop() -> None:
        total = 0
        for i in range(20000):
            total += i

    return {
        "detector model": python_runs_during(lambda: det.run(det_in, ("classificators", "regressors")), seconds),
        "mesh model": python_runs_during(lambda: mesh.run(mesh_in, ("conv2d_31", "conv2d_21")), seconds),
        "control: pure-Python loop (holds it)": python_runs_during(python_loop, seconds),
        "control: time.sleep(2 ms) (releases it)": python_runs_during(lambda: time.sleep(0.002), seconds),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--iterations", type=int, default=300)
    parser.add_argument("--gil", action="store_true", help="also check that model inference releases the GIL")
    parser.add_argument("--compare", action="store_true", help="also time LiteRT against OpenCV, interleaved")
    parser.add_argument("--spread", type=int, default=0, metavar="K",
                        help="also time K identical detect-every-frame trackers interleaved: do they agree?")
    args = parser.parse_args(argv)
    from moodmusic.vision import FaceTracker

    print(f"face models run with {FaceTracker().runtime} (MOODMUSIC_VISION_RUNTIME picks: auto, litert, opencv)")
    results = run(args.iterations)
    print(f"{'ms per 640x480 frame, 1 thread':48} {'wall p50':>9} {'wall p90':>9} {'cpu p50':>8} {'cpu p90':>8}")
    for name, t in results.items():
        print(f"{name:48} {t['wall_p50']:9.2f} {t['wall_p90']:9.2f} {t['cpu_p50']:8.2f} {t['cpu_p90']:8.2f}")
    if args.compare:
        print(f"\n{'LiteRT vs OpenCV, interleaved, ms p50':48} {'litert':>15} {'opencv':>15} {'cpu ratio':>9}")
        print(f"{'':48} {'wall':>7} {'cpu':>7} {'wall':>7} {'cpu':>7}")
        for name, r in compare_runtimes(args.iterations).items():
            print(f"pipeline, {name:38} {r['litert_wall_p50']:7.2f} {r['litert_cpu_p50']:7.2f} "
                  f"{r['opencv_wall_p50']:7.2f} {r['opencv_cpu_p50']:7.2f} {r['cpu_ratio_p50']:8.2f}x")
    if args.spread:
        medians = interleaved_spread(max(2, args.spread), args.iterations)
        spread = (max(medians) - min(medians)) / min(medians)
        print(f"\n{'identical trackers, interleaved, wall p50 ms':48} " + " ".join(f"{m:.2f}" for m in medians)
              + f"  (spread {spread:.1%})")
    if args.gil:
        print(f"\n{'other Python thread ran during a call':48} {'share':>9} {'per ms':>9} {'calls':>8}")
        for name, g in gil_report().items():
            print(f"{name:48} {g['share_with_wakeup']:9.0%} {g['wakeups_per_ms']:9.2f} {g['calls']:8.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
