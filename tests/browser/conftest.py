"""A real app server on loopback and a real Chromium with fake camera/microphone fed from real media."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from moodmusic import samples

ROOT = Path(__file__).resolve().parents[2]
SPEECH = samples.SPEECH_DIR
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_y4m(path: Path, frame_bgr: np.ndarray, seconds: float = 3.0, fps: int = 15) -> Path:
    """A raw YUV4MPEG2 clip, the format Chromium's fake camera reads (looped)."""
    h, w = frame_bgr.shape[:2]
    yuv = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2YUV_I420).tobytes()
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for i in range(int(seconds * fps)):
            f.write(b"FRAME\n" + yuv)
    return path


def speech_wav(path: Path) -> Path:
    """Real espeak speech (fixtures) joined into one 48 kHz wav for the fake microphone."""
    files = [str(SPEECH / n) for n in ("fox.flac", "rainbow.flac")]
    inputs = sum((["-i", f] for f in files), [])
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", *inputs, "-filter_complex", f"concat=n={len(files)}:v=0:a=1",
         "-ar", "48000", "-ac", "1", str(path)],
        check=True,
    )
    return path


@pytest.fixture(scope="session")
def media_files(tmp_path_factory) -> tuple[Path, Path]:
    if not Path(CHROMIUM).exists() or not shutil.which("ffmpeg"):
        pytest.skip("Chromium and ffmpeg are needed (scripts/setup.sh --dev installs them)")
    d = tmp_path_factory.mktemp("media")
    return write_y4m(d / "face.y4m", samples.face_frame()), speech_wav(d / "speech.wav")


@pytest.fixture(scope="session")
def app_server(tmp_path_factory) -> Iterator[str]:
    """`streamlit run app.py` on a free loopback port, with its own home (store, cache)."""
    port = free_port()
    home = tmp_path_factory.mktemp("home")
    env = dict(os.environ, MOODMUSIC_HOME=str(home), MOODMUSIC_STABLE_SECONDS="1.5", HOME=str(home))
    for name in ("SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET", "CLOUDFLARE_TURN_KEY_ID", "TWILIO_ACCOUNT_SID", "HF_TOKEN"):
        env.pop(name, None)
    log = open(home / "server.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).status == 200:
                break
        except OSError:
            time.sleep(0.3)
        if proc.poll() is not None:
            break
    else:
        proc.kill()
        pytest.fail("the app server did not start: " + (home / "server.log").read_text()[-2000:])
    if proc.poll() is not None:
        pytest.fail("the app server exited: " + (home / "server.log").read_text()[-2000:])
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture
def browser_page(media_files, tmp_path):
    from playwright.sync_api import sync_playwright

    video, audio = media_files
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless=new", "--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={video}",
                f"--use-file-for-fake-audio-capture={audio}", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-sync", "--autoplay-policy=no-user-gesture-required",
            ],
        )
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        try:
            yield page
        finally:
            context.close()
            browser.close()
