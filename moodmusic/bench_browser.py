"""`bench --live`: the live page in a real Chromium with fake camera/microphone, measured from outside.

Starts `streamlit run app.py` on a free loopback port, opens it in Debian's
Chromium (through Playwright) whose fake devices play the sample face and
speech, presses START, and reads what a person would see: the time to the
first `Mood: …`, and the status line's processed video fps and audio
frames/s; the server's CPU comes from /proc. Needs the test requirements
and Chromium (`scripts/setup.sh --dev`).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np

from moodmusic import samples
from moodmusic.config import ROOT
from moodmusic.moods import MOODS

MOOD_TEXT = re.compile(r"Mood: (" + "|".join(MOODS) + r")\b")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_y4m(path: Path, frame_bgr: np.ndarray, seconds: float = 4.0, fps: int = 30) -> Path:
    """A raw YUV4MPEG2 clip, the format Chromium's fake camera plays (looped)."""
    h, w = frame_bgr.shape[:2]
    yuv = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2YUV_I420).tobytes()
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(int(seconds * fps)):
            f.write(b"FRAME\n" + yuv)
    return path


def write_speech_wav(path: Path) -> Path:
    """The sample speech joined into one 48 kHz wav for the fake microphone (looped)."""
    import soundfile as sf
    import soxr

    speech = np.concatenate([samples.speech(n) for n in ("fox", "rainbow")])
    sf.write(path, soxr.resample(speech, 16000, 48000), 48000, subtype="PCM_16")
    return path


def chromium_args(video: Path, audio: Path) -> list[str]:
    return [
        "--headless=new", "--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={video}",
        f"--use-file-for-fake-audio-capture={audio}", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync", "--autoplay-policy=no-user-gesture-required",
    ]


def start_app(
    home: Path, port: int, extra_env: dict[str, str] | None = None, drop: tuple[str, ...] = ()
) -> subprocess.Popen:
    """`streamlit run app.py` on loopback with its own home; returns once it answers its health check.

    It runs in `home`, so the repository's .streamlit/config.toml is not read:
    the settings that matter for speed are passed on the command line.
    """
    env = dict(os.environ, MOODMUSIC_HOME=str(home), HOME=str(home), **(extra_env or {}))
    for name in drop:
        env.pop(name, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none", "--runner.postScriptGC", "false"],
        cwd=home, env=env, stdout=open(home / "server.log", "wb"), stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).status == 200:
                return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("the app did not start: " + (home / "server.log").read_text()[-1500:])


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(seconds: float = 20.0) -> dict:
    """One real-browser session: startup, then `seconds` of steady streaming."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise RuntimeError("Chromium is needed (scripts/setup.sh --dev installs it)")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        video = write_y4m(home / "face.y4m", samples.face_frame())
        audio = write_speech_wav(home / "speech.wav")
        port = free_port()
        server = start_app(home, port)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=chromium_args(video, audio))
                page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                page.goto(f"http://127.0.0.1:{port}", wait_until="domcontentloaded")
                start = page.frame_locator("iframe[title*='streamlit_webrtc']").get_by_role("button", name="START")
                start.wait_for(timeout=90_000)
                t0 = time.monotonic()
                start.click()
                page.get_by_text(MOOD_TEXT).first.wait_for(timeout=60_000)
                first_mood = time.monotonic() - t0
                status = page.get_by_text(re.compile(r"video \d+ fps processed")).first
                page.wait_for_timeout(3000)  # let rates settle over their 2 s window
                cpu0, wall0 = _cpu_seconds(server.pid), time.monotonic()
                readings = []
                while time.monotonic() - wall0 < seconds:
                    text = status.inner_text()
                    readings.append((
                        int(re.search(r"video (\d+) fps processed", text).group(1)),
                        int(re.search(r"of (\d+)", text).group(1)),
                        int(re.search(r"audio (\d+) frames/s", text).group(1)),
                        float(re.search(r"latency (\d+) ms", text).group(1)),
                    ))
                    page.wait_for_timeout(1000)
                cpu = (_cpu_seconds(server.pid) - cpu0) / (time.monotonic() - wall0)
                browser.close()
        finally:
            server.terminate()
            server.wait(10)
    a = np.asarray(readings, dtype=float)
    return {
        "live_first_mood_s": round(first_mood, 2),
        "live_video_fps": round(float(np.median(a[:, 0])), 1),
        "live_video_in_fps": round(float(np.median(a[:, 1])), 1),
        "live_audio_fps": round(float(np.median(a[:, 2])), 1),
        "live_latency_ms": round(float(np.median(a[:, 3])), 1),
        "live_server_cpu_cores": round(cpu, 2),
        "live_seconds": seconds,
    }
