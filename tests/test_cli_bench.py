"""`bench` runs on real inputs and reports every figure the README quotes (values are not judged here)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEYS = ("face_ms_p50", "face_ms_p95", "face_detect_ms_p50", "audio_ms_p50", "audio_ms_p95", "model_ms_p50", "rss_mb")


def test_bench_json_reports_the_figures():
    proc = subprocess.run([sys.executable, "-m", "moodmusic", "bench", "--json", "--iterations", "20"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    for key in KEYS:
        assert out[key] > 0, key
    assert out["face_ms_p95"] >= out["face_ms_p50"] and out["rss_total_mb"] >= out["rss_mb"]


def test_bench_glass_needs_zero_or_two_photos():
    proc = subprocess.run([sys.executable, "-m", "moodmusic", "bench", "--iterations", "20", "--glass", "a.jpg"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "exactly two" in proc.stderr and "Traceback" not in proc.stderr
