"""Timing of the voice pipeline's per-hop work on this machine: `python -m moodmusic.bench.audio`.

Speed is measured here, not asserted in tests. Prints p50/p90 of each step on
real speech (the committed espeak-ng fixtures, or any audio files given).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from moodmusic.audio import (
    SAMPLE_RATE,
    WINDOW_SECONDS,
    AudioStream,
    VoiceActivity,
    voice_features,
    warm_up,
    window_bounds,
)

_FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "speech"


def _timings(fn, items, repeat: int) -> tuple[np.ndarray, np.ndarray]:
    """Wall-clock and CPU milliseconds per call (CPU time is less disturbed by other processes)."""
    wall, cpu = [], []
    for _ in range(repeat):
        for item in items:
            w0, c0 = time.perf_counter(), time.process_time()
            fn(item)
            wall.append(time.perf_counter() - w0)
            cpu.append(time.process_time() - c0)
    return np.array(wall) * 1000.0, np.array(cpu) * 1000.0


def _report(name: str, timings: tuple[np.ndarray, np.ndarray]) -> None:
    wall, cpu = timings
    w50, w90 = np.percentile(wall, [50, 90])
    print(f"{name:<34} wall p50 {w50:7.3f} ms  p90 {w90:7.3f} ms   cpu mean {cpu.mean():7.3f} ms   (n={wall.size})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, help="audio files (default: the test fixtures)")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)

    from moodmusic.media import read_audio

    files = args.files or sorted(_FIXTURES.glob("*.flac"))
    signals = [read_audio(f) for f in files]
    width = int(WINDOW_SECONDS * SAMPLE_RATE)
    windows = [np.pad(x, (0, max(0, width - x.size)))[a:b] for x in signals for a, b in window_bounds(x.size)]

    t0 = time.perf_counter()
    warm_up()
    print(f"{'warm_up (first call in process)':<34} {1000 * (time.perf_counter() - t0):.0f} ms")
    _report("voice_features per 2 s window", _timings(voice_features, windows, args.repeat))
    vad = VoiceActivity()
    _report("VoiceActivity.activity per window", _timings(vad.activity, windows, args.repeat))

    frames = []
    for x in signals:  # 48 kHz stereo s16 frames of 20 ms, as a browser sends them
        up = np.repeat(np.clip(x * 32767, -32768, 32767).astype(np.int16), 3)  # crude, only the cost matters
        frames += [np.repeat(up[i : i + 960], 2)[None, :] for i in range(0, up.size - 960, 960)]
    stream = AudioStream()
    _report("AudioStream.push per 20 ms frame", _timings(lambda f: stream.push(f, 48000, 2), frames, 1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
