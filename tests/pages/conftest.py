"""Real clips for the page tests, an isolated history per test, and the trained models (or a skip)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from moodmusic import samples
from moodmusic.audio import SAMPLE_RATE

PAGES = Path(__file__).resolve().parents[2] / "pages"


def make_clip(path: Path, speech: tuple[str, ...] = ("fox", "rainbow"), fps: int = 10, size: int = 256) -> Path:
    """An mp4 of the astronaut portrait (a still) with real espeak speech as its sound track."""
    import cv2

    audio = np.concatenate([samples.speech(n) for n in speech])
    face = cv2.resize(samples.face_photo(), (size, size))
    return samples.make_clip(path, [(face, len(audio) / SAMPLE_RATE)], fps=fps, audio=audio)


@pytest.fixture(scope="session")
def clip_mp4(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clips") / "astronaut speaking.mp4")


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A fresh MOODMUSIC_HOME (so a fresh history database) for each test."""
    from moodmusic.ui import resources

    monkeypatch.setenv("MOODMUSIC_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MOODMUSIC_DB", raising=False)
    for name in ("SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    resources.store.clear()
    yield tmp_path / "home"
    resources.store.clear()  # the experts and catalog stay cached: they do not depend on HOME


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """The trained models the app ships; the analysis tests need both experts."""
    from moodmusic.config import load_settings
    from moodmusic.recognition.experts import FACE_FILE, VOICE_FILE

    d = load_settings().models_dir
    missing = [f for f in (FACE_FILE, VOICE_FILE) if not (d / f).is_file()]
    if missing:
        pytest.skip(f"the trained models {', '.join(missing)} are not in {d} yet")
    return d


@pytest.fixture
def store(home):
    from moodmusic.ui import resources

    return resources.store()


@pytest.fixture(scope="session")
def voice_model() -> Path:
    """The trained voice expert alone (enough for sound-only files)."""
    from moodmusic.config import load_settings
    from moodmusic.recognition.experts import VOICE_FILE

    path = load_settings().models_dir / VOICE_FILE
    if not path.is_file():
        pytest.skip(f"the trained voice model {path} is not there yet")
    return path
