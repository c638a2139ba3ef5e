"""The live page under test: served by `streamlit run app.py` on loopback, and read as a person reads it.

The browser bench and the headless visitors start the same server and read
the same text (the `Mood: …` badge, the status line), so their figures compare.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from moodmusic.config import ROOT
from moodmusic.moods import MOODS

MOOD_TEXT = re.compile(r"Mood: (" + "|".join(MOODS) + r")\b")
# A benchmark's app server logs each engine's rates (live/engine_log), and streams every visitor it is sent:
# the benchmarks measure what happens past MOODMUSIC_MAX_LIVE_SESSIONS too.
BENCH_SERVER_ENV = {"MOODMUSIC_ENGINE_LOG_SECONDS": "2", "MOODMUSIC_MAX_LIVE_SESSIONS": "0"}


def camera_envs(capture_fps: float | None, sizes: list[str] | None) -> list[tuple[str, dict[str, str]]]:
    """(camera size, app environment) for each size to measure: what the page asks the visitors' cameras for.

    >>> camera_envs(15, ["640x480", "480x360"])
    [('640x480', {'MOODMUSIC_CAPTURE_FPS': '15', 'MOODMUSIC_CAPTURE_SIZE': '640x480'}), \
('480x360', {'MOODMUSIC_CAPTURE_FPS': '15', 'MOODMUSIC_CAPTURE_SIZE': '480x360'})]
    """
    from moodmusic.config import CAPTURE_SIZE

    base = {"MOODMUSIC_CAPTURE_FPS": f"{capture_fps:g}"} if capture_fps is not None else {}
    if not sizes:
        size = os.environ.get("MOODMUSIC_CAPTURE_SIZE", "").strip().lower() or "x".join(map(str, CAPTURE_SIZE))
        return [(size, base)]
    return [(size, {**base, "MOODMUSIC_CAPTURE_SIZE": size}) for size in sizes]


def free_port() -> int:
    """A TCP port nothing listens on at the moment, on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# What a test or benchmark server runs without: no TURN relay (the developer's own would carry every
# test's media), and for NO_KEYS also no Spotify keys (the offline catalog).
NO_RELAY: tuple[str, ...] = ("CLOUDFLARE_TURN_KEY_ID", "TWILIO_ACCOUNT_SID", "HF_TOKEN", "MOODMUSIC_ICE_SERVERS",
                             "MOODMUSIC_TURN_SECRET", "MOODMUSIC_ICE_TRANSPORT_POLICY")
NO_KEYS: tuple[str, ...] = ("SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET", *NO_RELAY)


def start_app(
    home: Path, port: int, extra_env: dict[str, str] | None = None, drop: tuple[str, ...] = ()
) -> subprocess.Popen:
    """`streamlit run app.py` on loopback with its own home; returns once it answers its health check.

    It runs in `home`, so the repository's .streamlit/config.toml is not read:
    the settings that matter for speed are passed on the command line.
    """
    env = {name: value for name, value in os.environ.items() if name not in drop}  # the developer's keys go
    env.update(MOODMUSIC_HOME=str(home), HOME=str(home), **(extra_env or {}))  # what the caller sets stays
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


def parse_status(text: str) -> dict[str, float] | None:
    """The live page's status line as numbers, or None when it is not showing."""
    fields = {
        "video_fps": r"video (\d+) fps processed", "video_in_fps": r"fps processed of (\d+)",
        "audio_fps": r"audio (\d+) frames/s", "latency_ms": r"latency (\d+) ms",
    }
    out = {}
    for key, pattern in fields.items():
        m = re.search(pattern, text)
        if m is None:
            return None
        out[key] = float(m.group(1))
    return out
