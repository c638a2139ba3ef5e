"""Start-up with missing or damaged model and catalog files: every page comes up, says which file and how to restore it, and works with what it has.

The pages run in AppTest (the WebRTC widget behind its seam, as in
test_app_page.py) with MOODMUSIC_MODELS_DIR and MOODMUSIC_CATALOG pointing
at a temporary copy of the real files, one of them removed, cut short or
overwritten with other bytes.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from moodmusic import samples
from moodmusic.config import CATALOG_PATH, MODELS_DIR
from moodmusic.ui import streamer

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
MODEL_FILES = ("face_expert.pt", "voice_expert.pt", "avfusion.pt",
               "face_detection_short_range.tflite", "face_landmark.tflite")


def damage(path: Path, how: str) -> None:
    if how == "missing":
        path.unlink()
    elif how == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    elif how == "foreign":  # another file's bytes under this name
        path.write_bytes((ROOT / "README.md").read_bytes())
    else:
        raise ValueError(how)


@pytest.fixture(scope="module")
def intact() -> None:
    """The committed files must load with this code, or damaging one of them proves nothing."""
    from moodmusic.pipeline import load_experts

    for name in MODEL_FILES:
        if not (MODELS_DIR / name).is_file():
            pytest.skip(f"models/{name} is not there to copy")
    problems = load_experts(MODELS_DIR).problems
    if problems:
        pytest.skip(f"the committed models do not load with this code: {problems}")


@pytest.fixture
def files(intact, tmp_path, monkeypatch) -> tuple[Path, Path]:
    """A models folder and a catalog copied from the real ones, used by the pages through the settings."""
    models = tmp_path / "models"
    models.mkdir()
    for name in MODEL_FILES:
        shutil.copy(MODELS_DIR / name, models / name)
    catalog = tmp_path / "catalog.npz"
    shutil.copy(CATALOG_PATH, catalog)
    monkeypatch.setenv("MOODMUSIC_MODELS_DIR", str(models))
    monkeypatch.setenv("MOODMUSIC_CATALOG", str(catalog))
    monkeypatch.setenv("MOODMUSIC_HOME", str(tmp_path / "home"))
    for name in ("SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET", "MOODMUSIC_DB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(streamer, "render", lambda get_session, key="moodmusic-live", **kw: False)
    return models, catalog


def run_page(script: str) -> AppTest:
    at = AppTest.from_file(script, default_timeout=120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def messages(at: AppTest, kind: str) -> str:
    return "\n".join(str(e.value) for e in at.get(kind))


def speak_into(live) -> None:
    """Real speech into the page's engine, as 20 ms blocks, then one voice step."""
    speech = samples.speech("fox")
    for i in range(0, 3 * 16000, 320):
        live.on_audio(speech[i : i + 320], rate=16000, channels=1)
    live.voice_step()


@pytest.mark.parametrize("how", ["missing", "truncated", "foreign"])
@pytest.mark.parametrize("name", ["face_expert.pt", "face_detection_short_range.tflite", "face_landmark.tflite"])
def test_broken_face_model_leaves_a_voice_only_live_page(files, name, how):
    models, _ = files
    damage(models / name, how)
    at = run_page(APP)
    warnings = messages(at, "warning")
    assert name in warnings, warnings
    assert f"git checkout -- models/{name}" in warnings or "git checkout -- " + name in warnings, warnings
    assert at.title[0].value.startswith("🎵 moodmusic")
    live = at.session_state["live"]
    try:
        # Video still passes through, and the voice alone reads a mood.
        frame = samples.face_frame()
        out = live.on_video(frame)
        assert out.shape == frame.shape
        speak_into(live)
        snap = live.snapshot()
        assert snap.mood is not None and snap.voice is not None and snap.face is None, snap
        assert snap.counters["errors"] == 0, snap.counters
    finally:
        live.close()
    assert "Genre" in [s.label for s in at.sidebar.selectbox] and len(at.sidebar.selectbox(key="genre").options) > 1


@pytest.mark.parametrize("how", ["missing", "truncated", "foreign"])
def test_broken_voice_model_leaves_a_face_only_live_page(files, how):
    models, _ = files
    damage(models / "voice_expert.pt", how)
    at = run_page(APP)
    warnings = messages(at, "warning")
    assert "voice_expert.pt" in warnings and "git checkout" in warnings, warnings
    live = at.session_state["live"]
    try:
        assert live.voice_model is None and live.face_model is not None
        live.on_video(samples.face_frame())
        snap = live.snapshot()
        assert snap.mood is not None and snap.face is not None, snap
    finally:
        live.close()


@pytest.mark.parametrize("how", ["truncated", "foreign"])
def test_broken_fusion_model_is_named_and_the_experts_still_work(files, how):
    models, _ = files
    damage(models / "avfusion.pt", how)
    at = run_page(APP)
    warnings = messages(at, "warning")
    assert "avfusion.pt" in warnings and "git checkout" in warnings, warnings
    live = at.session_state["live"]
    try:
        assert live.face_model is not None and live.voice_model is not None
        live.on_video(samples.face_frame())
        assert live.snapshot().mood is not None
    finally:
        live.close()


def test_no_models_at_all_still_renders_and_names_each_file(files):
    models, _ = files
    for name in MODEL_FILES:
        (models / name).unlink()
    at = run_page(APP)
    warnings = messages(at, "warning")
    for name in ("face_expert.pt", "voice_expert.pt", "face_detection_short_range.tflite"):
        assert name in warnings, (name, warnings)
    live = at.session_state["live"]
    try:
        out = live.on_video(samples.face_frame())
        assert out.shape == (480, 640, 3)
        speak_into(live)
        assert live.snapshot().mood is None  # nothing to read with, and nothing raised
    finally:
        live.close()


@pytest.mark.parametrize("how", ["missing", "truncated", "foreign"])
def test_broken_catalog_leaves_the_live_page_without_music(files, how):
    _, catalog = files
    damage(catalog, how)
    at = run_page(APP)
    errors = messages(at, "error")
    assert "catalog.npz" in errors and "git checkout -- data/catalog.npz" in errors, errors
    assert at.sidebar.selectbox(key="genre").options == ["any"]
    live = at.session_state["live"]
    try:
        live.on_video(samples.face_frame())
        assert live.snapshot().mood is not None  # moods are still read, only music is missing
    finally:
        live.close()
    at.sidebar.radio(key="strategy").set_value("calm").run()  # and the page keeps running
    assert not at.exception


def test_analyse_page_names_broken_files(files):
    models, catalog = files
    damage(models / "face_landmark.tflite", "truncated")
    damage(models / "voice_expert.pt", "foreign")
    damage(catalog, "truncated")
    at = run_page(str(ROOT / "pages" / "1_Analyse_a_clip.py"))
    warnings = messages(at, "warning")
    assert "face_landmark.tflite" in warnings and "voice_expert.pt" in warnings, warnings
    assert "Choose a file" in messages(at, "info")


def test_model_page_marks_missing_files(files):
    models, _ = files
    damage(models / "face_expert.pt", "missing")
    at = run_page(str(ROOT / "pages" / "3_Model.py"))
    captions = [c.value.replace("\\_", "_") for c in at.sidebar.caption]  # markdown escapes the underscores
    assert "❌ face: models/face_expert.pt" in captions, captions
    assert "✅ voice: models/voice_expert.pt" in captions, captions


def test_voice_is_heard_through_the_page_engine_with_all_files_present(files):
    """The control for the tests above: with intact copies the same steps read face and voice."""
    at = run_page(APP)
    assert not messages(at, "warning") and not messages(at, "error")
    live = at.session_state["live"]
    try:
        live.on_video(samples.face_frame())
        speak_into(live)
        snap = live.snapshot()
        assert snap.face is not None and snap.voice is not None and snap.mood is not None
        assert np.isclose(snap.face.weight + snap.voice.weight, 1.0)
    finally:
        live.close()
