"""`python -m moodmusic predict` on real files, in one process, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import soundfile as sf

from moodmusic import samples
from moodmusic.moods import MOODS

ROOT = Path(__file__).resolve().parents[1]


def predict(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "moodmusic", "predict", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("predict")
    photo = d / "astronaut.jpg"
    cv2.imwrite(str(photo), samples.face_photo())
    tight = d / "tight.png"  # a 48x48 face crop, like a FER2013 image
    cv2.imwrite(str(tight), cv2.resize(cv2.cvtColor(samples.face_photo()[60:260, 130:300], cv2.COLOR_BGR2GRAY), (48, 48)))
    speech = np.concatenate([samples.speech("fox"), samples.speech("rainbow")])
    wav = d / "speech.wav"
    sf.write(wav, speech, 16000)
    video = samples.make_clip(d / "talking.mp4", [(cv2.resize(samples.face_photo(), (320, 320)), len(speech) / 16000)],
                              fps=10, audio=speech)
    text = d / "notes.mp4"
    text.write_text("this is not a video")
    empty = d / "empty.wav"
    empty.write_bytes(b"")
    return {"photo": photo, "tight": tight, "wav": wav, "video": video, "text": text, "empty": empty,
            "missing": d / "nope.flac"}


@pytest.fixture(scope="module")
def results(files) -> tuple[subprocess.CompletedProcess, dict[str, dict]]:
    order = ["photo", "tight", "wav", "video", "text", "empty", "missing"]
    proc = predict(*[str(files[k]) for k in order], "--json")
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["path"] for r in lines] == [str(files[k]) for k in order]  # one line per path, in order
    return proc, dict(zip(order, lines))


def probs_ok(p: dict) -> bool:
    return set(p) == set(MOODS) and abs(sum(p.values()) - 1) < 1e-3


def test_a_face_photo_reads_a_mood_from_the_face(results):
    r = results[1]["photo"]
    assert r["mood"] in MOODS and probs_ok(r["probs"]) and 0 < r["confidence"] <= 1
    assert r["face"]["detected"] is True and probs_ok(r["face"]["probs"])
    assert r["voice"] is None and r["timeline"] == []


def test_a_tight_face_crop_works_too(results):
    r = results[1]["tight"]
    assert r["face"]["detected"] is True and r["mood"] in MOODS


def test_speech_reads_a_mood_from_the_voice_with_a_timeline(results):
    r = results[1]["wav"]
    assert r["face"] is None and r["voice"]["active"] is True and probs_ok(r["voice"]["probs"])
    assert r["mood"] in MOODS
    assert len(r["timeline"]) == 4  # 8.6 s in 2.5 s windows
    assert r["timeline"][0]["start"] == 0 and all(s["end"] > s["start"] for s in r["timeline"])


def test_video_fuses_face_and_voice(results):
    r = results[1]["video"]
    assert r["face"]["detected"] and r["voice"]["active"]
    assert r["mood"] in MOODS and len(r["timeline"]) >= 3
    assert all(s["mood"] in MOODS for s in r["timeline"])


def test_bad_files_give_a_reason_and_a_failing_exit_code_without_traceback(results):
    proc, by = results
    for key in ("text", "empty", "missing"):
        assert set(by[key]) == {"path", "error"} and len(by[key]["error"]) > 10, by[key]
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout


def test_human_readable_output(files):
    proc = predict(str(files["photo"]))
    assert proc.returncode == 0
    assert proc.stdout.startswith(str(files["photo"]) + ": ") and "face" in proc.stdout
