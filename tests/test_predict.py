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


# ----------------------------------------------------------------------------- --baseline NEUTRAL_MEDIA

@pytest.fixture(scope="module")
def neutral(tmp_path_factory) -> dict[str, Path]:
    """Grace Hopper's portrait (she reads neutral-to-angry) as a photo, a 2 s video, and media that cannot serve."""
    d = tmp_path_factory.mktemp("neutral")
    hopper = samples.face_photo(samples.HOPPER)
    photo = d / "hopper.jpg"
    cv2.imwrite(str(photo), hopper)
    video = samples.make_clip(d / "hopper.mp4", [(hopper, 2.0)], fps=10)
    blink = samples.make_clip(d / "blink.mp4", [(hopper, 0.3)], fps=10)  # 2 frames with a face at 6 fps
    wall = d / "wall.png"
    cv2.imwrite(str(wall), np.full((480, 640, 3), 90, np.uint8))
    return {"photo": photo, "video": video, "blink": blink, "wall": wall}


def test_baseline_reads_the_face_relative_to_the_persons_neutral_face(files, neutral, results):
    from moodmusic.recognition.baseline import geometric_mean, load_reference

    proc = predict("--baseline", str(neutral["photo"]), str(files["photo"]), str(neutral["photo"]), "--json")
    assert proc.returncode == 0, proc.stderr
    smile, herself = (json.loads(line) for line in proc.stdout.splitlines())
    plain = results[1]["photo"]
    assert set(smile) == set(plain) | {"baseline"} and smile["baseline"] == str(neutral["photo"])
    # the correction is the prior shift: face' ∝ face · reference / (her neutral face's reading)
    plain_hopper = json.loads(predict(str(neutral["photo"]), "--json").stdout)["face"]["probs"]
    b = geometric_mean(np.array([[plain_hopper[m] for m in MOODS]]))
    expected = np.array([plain["face"]["probs"][m] for m in MOODS]) * load_reference() / b
    np.testing.assert_allclose([smile["face"]["probs"][m] for m in MOODS], expected / expected.sum(), atol=2e-3)
    assert smile["mood"] == "happy"  # a smile still reads as a smile
    assert herself["face"]["probs"]["neutral"] == max(herself["face"]["probs"].values())  # her own face: neutral


def test_baseline_from_a_video_and_the_human_line_says_so(files, neutral):
    proc = predict("--baseline", str(neutral["video"]), str(files["photo"]))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"{files['photo']}: happy") and f"neutral face in {neutral['video']}" in proc.stdout


@pytest.mark.parametrize("key, message", [
    ("wall", "no face found in wall.png"),
    ("blink", "at least 5 frames with a face; got 2"),
    ("wav", "has no picture"),
    ("text", "notes.mp4"),
    ("missing", "nope.flac"),
])
def test_a_baseline_that_cannot_serve_is_one_clear_line(files, neutral, key, message):
    path = neutral.get(key) or files[key]
    proc = predict("--baseline", str(path), str(files["photo"]))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines()[-1].startswith("error: baseline") and message in proc.stderr
    assert "Traceback" not in proc.stderr


# --------------------------------------------------------------- --explain (issue 22)
@pytest.fixture(scope="module")
def explained(files, results, tmp_path_factory) -> tuple[Path, dict[str, dict]]:
    out = tmp_path_factory.mktemp("why") / "why"
    order = ["photo", "wav", "video", "text"]
    proc = predict(*[str(files[k]) for k in order], "--json", "--explain", str(out))
    assert proc.returncode == 1  # the text file still fails, on its own line
    return out, dict(zip(order, (json.loads(line) for line in proc.stdout.splitlines())))


def test_explain_writes_a_picture_per_face_and_names_it(files, results, explained):
    out, docs = explained
    photo = docs["photo"]
    assert {k: v for k, v in photo.items() if k != "explanation"} == results[1]["photo"]  # the other keys unchanged
    picture = cv2.imread(photo["explanation"])[:, :, ::-1]
    assert Path(photo["explanation"]).parent == out and picture.shape == (222, 388, 3)
    crop, heat = picture[:192, :192].astype(int), picture[:192, 196:].astype(int)
    assert np.abs(crop[..., 0] - crop[..., 2]).max() <= 2  # the crop as read: grey
    assert (heat[..., 0] - heat[..., 2] > 60).mean() > 0.02  # and beside it, the same crop tinted where it mattered
    video = docs["video"]
    assert video["explanation"] in video["explanations"] and len(video["explanations"]) == len(video["timeline"]) >= 3
    assert all(Path(p).is_file() for p in video["explanations"])


def test_explain_leaves_sound_and_failures_without_a_picture(explained):
    out, docs = explained
    assert docs["wav"]["explanation"] is None and docs["wav"]["explanations"] == []
    assert "error" in docs["text"] and "explanation" not in docs["text"]
    assert len(list(out.glob("*.png"))) == 1 + len(docs["video"]["explanations"])


def test_explain_into_a_file_is_one_clear_line(files, tmp_path):
    blocker = tmp_path / "taken"
    blocker.write_text("a file, not a folder")
    proc = predict(str(files["photo"]), "--explain", str(blocker))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(f"error: --explain {blocker}: cannot make that folder")
