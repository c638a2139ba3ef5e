"""`python -m moodmusic live` and `devices` on real media: a clip, a video file as camera, a file-backed microphone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from moodmusic import samples
from moodmusic.bench.live import place
from moodmusic.samples import make_clip
from moodmusic.cli import main
from moodmusic.live.sources import local
from moodmusic.moods import MOODS
from tests.live.conftest import install_file_microphone

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def talking_clip(tmp_path_factory) -> Path:
    """The astronaut on screen while espeak says "The quick brown fox jumps over the lazy dog" (3.4 s)."""
    speech = samples.speech("fox")
    head = place(samples.face_photo()[0:300, 100:330])
    return make_clip(tmp_path_factory.mktemp("cli") / "talking.mp4", [(head, len(speech) / 16000)], audio=speech)


@pytest.fixture
def file_microphone(tmp_path, monkeypatch):
    """A real ALSA capture device named "filemic" that plays fox.flac then rainbow.flac."""
    speech = np.concatenate([samples.speech("fox"), samples.speech("rainbow")])
    yield install_file_microphone(tmp_path, monkeypatch, speech)
    monkeypatch.undo()
    local.refresh_audio_devices()


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def no_source_threads() -> bool:
    return not [t for t in threading.enumerate() if t.name.startswith(("moodmusic-camera", "moodmusic-microphone", "moodmusic-file"))]


def test_a_clip_prints_json_mood_lines_with_music_and_a_summary(talking_clip, capsys):
    assert main(["live", "--file", str(talking_clip), "--json", "--tracks", "2"]) == 0
    events = json_lines(capsys.readouterr().out)
    moods = [e for e in events if e["event"] == "mood"]
    assert moods, events
    first = moods[0]
    assert first["mood"] in MOODS and 0 < first["confidence"] <= 1
    assert first["face"]["mood"] in MOODS and set(first["face"]["probs"]) == set(MOODS)
    assert len(first["tracks"]) == 2 and all(t["embed_url"].startswith("https://open.spotify.com/embed/track/")
                                             for t in first["tracks"])
    # One line per change: consecutive lines never repeat the same mood.
    labels = [e["mood"] or e["state"] for e in events[:-1]]
    assert all(a != b for a, b in zip(labels, labels[1:]))
    summary = events[-1]
    assert summary["event"] == "summary" and summary["stopped_by"] == "source ended"
    assert 3 < summary["seconds"] < 15 and summary["counters"]["errors"] == 0
    assert set(summary["moods"]) <= set(MOODS)
    assert no_source_threads()


def test_camera_and_microphone_in_text_mode_for_n_seconds(talking_clip, file_microphone, capsys):
    assert main(["live", "--camera", str(talking_clip), "--mic", "filemic", "--seconds", "4", "--tracks", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    mood_lines = [line for line in out if any(f"{m.upper()} " in line for m in MOODS)]
    assert mood_lines, out
    assert "face " in mood_lines[0] and "♪ " in mood_lines[0]
    assert out[-1].startswith("time is up: watched 4.")
    assert no_source_threads()


def test_microphone_only_reaches_a_mood_from_the_voice(file_microphone, capsys):
    assert main(["live", "--no-video", "--mic", "filemic", "--json", "--seconds", "5", "--tracks", "0"]) == 0
    events = json_lines(capsys.readouterr().out)
    moods = [e for e in events if e["event"] == "mood"]
    assert moods, events
    assert moods[0]["face"] is None and moods[0]["voice"]["mood"] in MOODS and moods[0]["voice_state"] == "speech"
    assert "tracks" in moods[0] and moods[0]["tracks"] == []


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--camera", "/no/such/camera.mp4"], "error: /no/such/camera.mp4 cannot be opened: file not found"),
        (["--camera", "63", "--no-audio"], "error: camera 63 cannot be opened: no such device"),
        (["--no-video", "--mic", "studio microphone"], "error: no microphone"),
        (["--file", "/no/such/clip.mp4"], "error: clip.mp4: no such file"),
        (["--window"], "opencv-python-headless"),
        (["--no-video", "--no-audio"], "leave nothing to read"),
        (["--file", "x.mp4", "--camera", "0"], "instead of the camera"),
        (["--strategy", "louder"], "unknown strategy"),
        (["--mic", "filemic", "--no-audio"], "contradict each other"),
    ],
)
def test_user_mistakes_are_one_line_and_exit_2(argv, message, capsys):
    assert main(["live", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("error: ")
    assert no_source_threads()


def test_ctrl_c_stops_cleanly_with_a_summary(talking_clip):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moodmusic", "live", "--file", str(talking_clip), "--loop", "--no-audio", "--json"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        lines = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(json.loads(line))
            if lines[-1]["event"] == "mood":
                break
        assert lines and lines[-1]["event"] == "mood", (lines, proc.stderr.read() if proc.poll() is not None else "")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    summary = json_lines(out)[-1]
    assert summary["event"] == "summary" and summary["stopped_by"] == "interrupted"
    assert "Traceback" not in err


def test_devices_lists_the_microphone_and_no_cameras_it_cannot_open(file_microphone, capsys):
    assert main(["devices", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    mic = next(m for m in listing["microphones"] if m["name"] == "filemic")
    assert mic["rate"] == 16000 and listing["microphone_problem"] is None
    assert all(c["width"] > 0 for c in listing["cameras"])
    assert main(["devices"]) == 0
    text = capsys.readouterr().out
    assert "Microphones:" in text and "filemic — " in text and "Cameras:" in text
