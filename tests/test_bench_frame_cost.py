"""`python -m moodmusic.bench.frame_cost`: every server step of a frame timed, on real VP8 and a real face."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from moodmusic.bench.frame_cost import STEPS, frame_cost
from moodmusic.pipeline import load_experts

ROOT = Path(__file__).resolve().parents[1]


def test_each_step_of_a_frame_is_timed_and_the_face_is_found_at_every_size():
    experts = load_experts()
    for size in ("640x480", "320x240"):
        cost = frame_cost(size, experts, frames=12)
        assert all(cost[step] > 0 for step in STEPS), cost
        assert abs(cost["total"] - sum(cost[step] for step in STEPS)) < 0.05, cost
        assert cost["faces_found"] == 1.0, (size, cost)  # the overlay was drawn and sent back on every frame


def test_a_wrong_size_is_a_usage_error_not_a_traceback():
    proc = subprocess.run([sys.executable, "-m", "moodmusic.bench.frame_cost", "640"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "WIDTHxHEIGHT" in proc.stderr and "Traceback" not in proc.stderr
