"""The REST API over real HTTP: `python -m moodmusic serve` started as a user starts it, on loopback.

Two servers run for the whole module: `guarded` has a bearer token and small
limits (0.5 MB, 6 s, two analyses at once, a 30 s queue); `open` has no token,
one analysis at once and no queue, to see the 503. Answers are compared with
what `predict --json` and `recommend --json` print for the same input.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import moodmusic
from moodmusic import samples
from moodmusic.bench.page import free_port

ROOT = Path(__file__).resolve().parents[2]
FACE = ROOT / "tests" / "fixtures" / "faces" / "astronaut.jpg"
SPEECH = ROOT / "tests" / "fixtures" / "speech" / "fox.flac"
TOKEN = "t0ken-" + uuid.uuid4().hex


# --- a tiny HTTP client (urllib: the standard library, nothing the server shares) -----------------


class Answer:
    def __init__(self, status: int, headers, body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)


def call(url: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None,
         token: str | None = None) -> Answer:
    headers = dict(headers or {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=120) as r:
            return Answer(r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        return Answer(e.code, e.headers, e.read())


def upload(url: str, name: str, data: bytes, token: str | None = None, field: str = "file") -> Answer:
    """POST one file as multipart/form-data, as `curl -F file=@name` does."""
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return call(url, "POST", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}, token)


# --- the servers -----------------------------------------------------------------------------------


class Server:
    def __init__(self, folder: Path, **env: str) -> None:
        self.folder, self.uploads, self.port = folder, folder / "uploads", free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / "server.log"
        self.env = {**os.environ, "MOODMUSIC_HOME": str(folder / "home"), "MOODMUSIC_API_UPLOAD_DIR": str(self.uploads),
                    "SPOTIFY_CLIENT_ID": "", "SPOTIFY_CLIENT_SECRET": "", "MOODMUSIC_API_TOKEN": "", **env}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moodmusic", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=folder, env=self.env, stdout=subprocess.DEVNULL, stderr=self.log.open("wb"))

    def wait(self) -> Server:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"the server stopped:\n{self.log.read_text()[-3000:]}"
            try:
                if call(self.url + "/health/live").status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"the server did not answer in 120 s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def log_lines(self) -> list[dict]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """Both servers start together (their model loading overlaps) and stop at the end of the module."""
    guarded = Server(tmp_path_factory.mktemp("guarded"), MOODMUSIC_API_TOKEN=TOKEN, MOODMUSIC_API_MAX_MB="0.5",
                     MOODMUSIC_API_MAX_SECONDS="6", MOODMUSIC_API_MAX_CONCURRENT="2", MOODMUSIC_API_QUEUE_SECONDS="30")
    open_ = Server(tmp_path_factory.mktemp("open"), MOODMUSIC_API_MAX_CONCURRENT="1", MOODMUSIC_API_QUEUE_SECONDS="0")
    try:
        yield {"guarded": guarded.wait(), "open": open_.wait()}
    finally:
        guarded.stop()
        open_.stop()


@pytest.fixture(scope="module")
def guarded(servers) -> Server:
    return servers["guarded"]


@pytest.fixture(scope="module")
def open_server(servers) -> Server:
    return servers["open"]


def cli(*args: str, cwd: Path = ROOT) -> list[dict]:
    env = {**os.environ, "SPOTIFY_CLIENT_ID": "", "SPOTIFY_CLIENT_SECRET": ""}
    proc = subprocess.run([sys.executable, "-m", "moodmusic", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def printed(tmp_path_factory) -> dict[str, dict]:
    """What `predict --json` prints for the face photo and the speech, run where they sit by their own names."""
    folder = tmp_path_factory.mktemp("cli")
    for src in (FACE, SPEECH):
        shutil.copy(src, folder / src.name)
    rows = cli("predict", "--json", FACE.name, SPEECH.name, cwd=folder)
    return {row["path"]: row for row in rows}


# --- health and the token ------------------------------------------------------------------------


def test_health_reports_the_models_and_the_version(guarded):
    answer = call(guarded.url + "/health", token=TOKEN)
    assert answer.status == 200
    body = answer.json()
    assert body["status"] == "ok" and body["problems"] == []
    assert body["models"] == {"face": True, "voice": True, "fusion": True, "catalog": True}
    assert body["version"] == moodmusic.__version__ and body["catalog_tracks"] > 1000
    assert call(guarded.url + "/health/ready", token=TOKEN).json()["models"] == body["models"]


def test_liveness_needs_no_token_and_everything_else_does(guarded):
    assert call(guarded.url + "/health/live").json() == {"status": "ok"}
    for method, path in [("GET", "/health"), ("GET", "/health/ready"), ("GET", "/recommend?mood=happy"),
                         ("POST", "/predict")]:
        for token in (None, "wrong", TOKEN + "x"):
            answer = call(guarded.url + path, method, body=b"" if method == "POST" else None, token=token)
            assert answer.status == 401, (path, token)
            assert "bearer token" in answer.json()["error"]
            assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert call(guarded.url + "/recommend?mood=happy&n=1", token=TOKEN).status == 200


def test_the_open_server_needs_no_token(open_server):
    assert call(open_server.url + "/health").status == 200
    assert call(open_server.url + "/recommend?mood=sad&n=2").status == 200


def test_health_says_what_failed_to_load_and_the_server_refuses_with_503(tmp_path):
    """No models and no catalog: alive, not ready, and predict and recommend say why."""
    (tmp_path / "no-models").mkdir()
    server = Server(tmp_path, MOODMUSIC_MODELS_DIR=str(tmp_path / "no-models"),
                    MOODMUSIC_CATALOG=str(tmp_path / "none.npz"))
    try:
        server.wait()
        assert call(server.url + "/health/live").status == 200
        health = call(server.url + "/health")
        assert health.status == 503 and health.json()["status"] == "unavailable"
        assert health.json()["models"] == {"face": False, "voice": False, "fusion": False, "catalog": False}
        problems = " ".join(health.json()["problems"])
        assert "face_expert.pt is missing" in problems and "voice_expert.pt is missing" in problems
        assert "catalog not found" in problems
        predicted = upload(server.url + "/predict", FACE.name, FACE.read_bytes())
        assert predicted.status == 503 and "face_expert.pt" in predicted.json()["error"]
        recommended = call(server.url + "/recommend?mood=sad")
        assert recommended.status == 503 and "catalog not found" in recommended.json()["error"]
    finally:
        server.stop()


def test_openapi_docs(guarded):
    docs = call(guarded.url + "/docs")
    assert docs.status == 200 and b"swagger" in docs.body.lower()
    paths = call(guarded.url + "/openapi.json").json()["paths"]
    assert {"/health", "/health/live", "/predict", "/recommend"} <= set(paths)


# --- predict ---------------------------------------------------------------------------------------


def test_predict_on_a_face_photo_answers_what_predict_json_prints(guarded, printed):
    answer = upload(guarded.url + "/predict", FACE.name, FACE.read_bytes(), TOKEN)
    assert answer.status == 200, answer.body
    assert answer.json() == printed[FACE.name]
    assert answer.json()["mood"] == "happy" and answer.json()["face"]["detected"]


def test_predict_on_speech_answers_what_predict_json_prints(guarded, printed):
    answer = upload(guarded.url + "/predict", SPEECH.name, SPEECH.read_bytes(), TOKEN)
    assert answer.status == 200, answer.body
    assert answer.json() == printed[SPEECH.name]
    assert answer.json()["voice"]["active"] and answer.json()["face"] is None


@pytest.mark.parametrize("name, data, reason", [
    ("notes.mp4", b"this is not a video", "not a readable"),
    ("photo.jpg", bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8)), "not a readable image"),
    ("empty.wav", b"", "empty"),
    ("letter.docx", b"PK\x03\x04 a word file", "unsupported file type"),
    ("../../../etc/evil.flac", b"fLaC garbage", "evil.flac"),
])
def test_a_file_that_cannot_be_read_gets_422_and_the_reason(guarded, name, data, reason):
    answer = upload(guarded.url + "/predict", name, data, TOKEN)
    assert answer.status == 422, answer.body
    body = answer.json()
    assert reason in body["error"] and "Traceback" not in body["error"]
    assert str(guarded.uploads) not in body["error"] and "moodmusic-upload-" not in body["error"]
    assert "/" not in body["path"]


def test_a_request_without_a_file_gets_422(guarded):
    answer = upload(guarded.url + "/predict", "a.jpg", FACE.read_bytes(), TOKEN, field="photo")
    assert answer.status == 422 and "file" in answer.json()["error"]


def test_an_upload_over_the_size_limit_gets_413(guarded):
    answer = upload(guarded.url + "/predict", "big.wav", b"\0" * 600_000, TOKEN)
    assert answer.status == 413
    assert "MOODMUSIC_API_MAX_MB" in answer.json()["error"]


def test_a_clip_over_the_duration_limit_gets_413(guarded, tmp_path):
    wav = tmp_path / "long.wav"
    sf.write(wav, np.concatenate([samples.speech("fox"), samples.speech("rainbow")]), 16000)  # about 9.5 s > 6 s
    answer = upload(guarded.url + "/predict", wav.name, wav.read_bytes(), TOKEN)
    assert answer.status == 413
    assert "MOODMUSIC_API_MAX_SECONDS" in answer.json()["error"] and "long.wav" in answer.json()["error"]


def test_four_predicts_at_once_all_answer_the_same(guarded, printed):
    start = threading.Barrier(4)
    answers: list[Answer] = []

    def one() -> None:
        start.wait()
        answers.append(upload(guarded.url + "/predict", SPEECH.name, SPEECH.read_bytes(), TOKEN))

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert [a.status for a in answers] == [200] * 4
    assert all(a.json() == printed[SPEECH.name] for a in answers)


def long_talk(folder: Path) -> Path:
    wav = folder / "talk.wav"
    speech = np.concatenate([samples.speech(n) for n in ("fox", "rainbow", "gaps")])
    sf.write(wav, np.tile(speech, 8), 16000)  # about 95 s of speech (under the 120 s limit): seconds of analysis
    return wav


def start_analysis(server: Server, wav: Path) -> tuple[threading.Thread, list[Answer]]:
    """POST `wav` in a thread; return once the server's /health shows it running."""
    answers: list[Answer] = []
    runner = threading.Thread(target=lambda: answers.append(upload(server.url + "/predict", wav.name,
                                                                   wav.read_bytes())))
    runner.start()
    deadline, seen = time.monotonic() + 30, {}
    while time.monotonic() < deadline and not answers:
        seen = call(server.url + "/health").json()["analyses"]
        if seen["running"] == 1:
            break
        time.sleep(0.01)
    assert seen.get("running") == 1, f"the long analysis never showed as running: {answers and answers[0].body}"
    return runner, answers


def test_a_full_server_answers_503_with_retry_after(open_server, tmp_path):
    """One slot and no queue: while a long clip is analysed, the next request is turned away at once."""
    wav = long_talk(tmp_path)
    runner, first = start_analysis(open_server, wav)
    deadline, inside = time.monotonic() + 10, []
    while time.monotonic() < deadline and not first and not inside:  # the slot is taken before the copy starts
        inside = [p for p in open_server.uploads.glob("*/*") if p.stat().st_size == wav.stat().st_size]
        time.sleep(0.005)
    assert [p.relative_to(open_server.uploads).parts[1] for p in inside] == [wav.name]  # the upload sits only there
    assert inside[0].parent.name.startswith("moodmusic-upload-")
    busy = upload(open_server.url + "/predict", FACE.name, FACE.read_bytes())
    runner.join(120)
    assert busy.status == 503
    assert "busy" in busy.json()["error"] and int(busy.headers["Retry-After"]) >= 1
    assert first and first[0].status == 200 and first[0].json()["path"] == wav.name


# --- recommend -------------------------------------------------------------------------------------


@pytest.mark.parametrize("query, args", [
    ("mood=sad&strategy=lift&n=5&seed=3", ["--mood", "sad", "--strategy", "lift", "--n", "5", "--seed", "3"]),
    ("mood=happy", ["--mood", "happy"]),
    ("mood=Angry&strategy=calm&n=4&genre=Rock&decade=1980s&seed=1",
     ["--mood", "Angry", "--strategy", "calm", "--n", "4", "--genre", "Rock", "--decade", "1980s", "--seed", "1"]),
])
def test_recommend_answers_what_recommend_json_prints(guarded, query, args):
    answer = call(f"{guarded.url}/recommend?{query}", token=TOKEN)
    assert answer.status == 200, answer.body
    (printed,) = cli("recommend", "--json", *args)
    assert answer.json() == printed
    assert answer.json()["tracks"]


@pytest.mark.parametrize("query, reason", [
    ("mood=bored", "unknown mood"),
    ("mood=happy&strategy=louder", "unknown strategy"),
    ("mood=happy&n=0", "n must be between"),
    ("mood=happy&n=many", "n:"),
    ("strategy=lift", "mood:"),
])
def test_recommend_bad_input_gets_422_and_the_reason(guarded, query, reason):
    answer = call(f"{guarded.url}/recommend?{query}", token=TOKEN)
    assert answer.status == 422
    assert reason in answer.json()["error"]


def test_an_unknown_endpoint_gets_404_json(guarded):
    answer = call(guarded.url + "/nothing", token=TOKEN)
    assert answer.status == 404 and "/nothing" in answer.json()["error"]


# --- what is left behind ---------------------------------------------------------------------------


def test_no_upload_is_left_behind(guarded, open_server):
    for server in (guarded, open_server):
        assert server.uploads.is_dir()  # uploads went there (the 503 test saw one inside)
        assert list(server.uploads.iterdir()) == []


def test_the_access_log_is_json_lines_and_never_shows_the_token(guarded):
    text = guarded.log.read_text()
    assert TOKEN not in text
    requests = [line for line in guarded.log_lines() if line.get("event") == "request"]
    seen = {(r["method"], r["path"], r["status"]) for r in requests}
    assert {("POST", "/predict", 200), ("POST", "/predict", 413), ("POST", "/predict", 422),
            ("GET", "/health", 401), ("GET", "/recommend", 200)} <= seen
    assert all(r["ms"] >= 0 and r["request_id"] for r in requests)


def test_sigterm_finishes_the_analysis_in_flight_then_stops(open_server, tmp_path):
    """Uvicorn stops taking requests, answers those in flight, runs the app's shutdown, then ends by the signal."""
    runner, answers = start_analysis(open_server, long_talk(tmp_path))
    assert open_server.stop() in (0, -signal.SIGTERM)
    runner.join(30)
    assert answers[0].status == 200 and answers[0].json()["duration"] > 90
    assert list(open_server.uploads.iterdir()) == []
    messages = [line.get("message") for line in open_server.log_lines()]
    assert "stopped" in messages and "Application shutdown complete." in messages
    assert messages[-1].startswith("Finished server process")
