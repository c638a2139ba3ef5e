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


def test_bench_capture_fps_needs_sessions_and_a_sane_rate():
    for extra in (["--capture-fps", "15"], ["--sessions", "1", "--capture-fps", "0"]):
        proc = subprocess.run([sys.executable, "-m", "moodmusic", "bench", "--iterations", "20", *extra],
                              cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 2 and "--capture-fps" in proc.stderr and "Traceback" not in proc.stderr


def test_bench_aiortc_visitors_go_with_sessions_only():
    proc = subprocess.run([sys.executable, "-m", "moodmusic", "bench", "--iterations", "20", "--client", "aiortc"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "--client aiortc" in proc.stderr and "Traceback" not in proc.stderr


def test_bench_capture_size_needs_sessions_and_a_sane_size():
    for extra, says in ((["--capture-size", "480x360"], "goes with --sessions"),
                        (["--sessions", "1", "--capture-size", "480x360", "640"], "WIDTHxHEIGHT")):
        proc = subprocess.run([sys.executable, "-m", "moodmusic", "bench", "--iterations", "20", *extra],
                              cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 2 and "--capture-size" in proc.stderr and says in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr


def test_thread_meter_tells_the_engine_threads_cpu_apart():
    """`bench --live` splits server CPU by the OS names the engine gives its threads."""
    import os
    import threading
    import time

    from moodmusic.bench.meters import ThreadCpuMeter
    from moodmusic.live.session import VIDEO_THREAD, name_os_thread

    meter = ThreadCpuMeter(os.getpid())
    stop = threading.Event()

    def work() -> None:
        name_os_thread(VIDEO_THREAD)
        while not stop.is_set():
            pass

    def idle() -> None:
        name_os_thread("moodmusic-idle")
        stop.wait()

    threads = [threading.Thread(target=work), threading.Thread(target=idle)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    used = meter.cores_by_name()  # while both still run: ended threads leave /proc
    stop.set()
    for t in threads:
        t.join()
    # A spinning thread gets most of a core on a quiet machine and less beside a loaded
    # CI box; a waiting one gets none. The meter must tell them apart by name either way.
    busy, idle = used.get(VIDEO_THREAD, 0.0), used.get("moodmusic-idle", 0.0)
    assert busy > 0.1 and idle < 0.05 and busy > 5 * idle, used
