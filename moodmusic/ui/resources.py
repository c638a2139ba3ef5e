"""Things loaded once per server process and shared by every session (`st.cache_resource`)."""

from __future__ import annotations

import logging
import os

import streamlit as st

from moodmusic.config import Settings, load_settings

log = logging.getLogger(__name__)


def settings() -> Settings:
    """Settings, with Streamlit secrets folded into the environment first (env wins)."""
    try:
        for name, value in st.secrets.items():
            if isinstance(value, (str, int, float)) and name.isupper():
                os.environ.setdefault(name, str(value))
    except Exception:  # no secrets file: that's the normal local case
        pass
    return load_settings()


def experts():
    """Face and voice experts from the configured models folder (None where a file is missing or broken)."""
    return _experts(str(settings().models_dir))


@st.cache_resource(show_spinner="Loading the emotion models…")
def _experts(models_dir: str):
    """Keyed by folder, so a changed MOODMUSIC_MODELS_DIR is honoured; the process is prepared first."""
    from moodmusic.live.assemble import pin_threads, switch_threads_often, warm_up
    from moodmusic.pipeline import load_experts

    pin_threads()
    switch_threads_often()  # this server's media threads trade the GIL constantly
    warm_up()
    return load_experts(models_dir)


class NoFaceTracker:
    """Stands in for the face tracker when its model files are missing or damaged.

    Video passes through untouched and the voice still reads moods, instead
    of the page failing to start (the page shows why, once).
    """

    def process(self, frame, pixel_format: str = "bgr") -> list:  # noqa: ANN001 - FaceTracker's signature
        return []


def face_tracker():
    """(a face tracker for one video stream, None) or (a NoFaceTracker, why the face models cannot be used)."""
    from moodmusic.vision import FaceTracker, ModelFileError

    problem = face_models_problem()
    if problem is None:
        try:
            return FaceTracker(settings().models_dir), None
        except (ModelFileError, RuntimeError) as exc:  # damaged between the check and now
            problem = str(exc)
    return NoFaceTracker(), problem


def face_models_problem() -> str | None:
    """Why the configured face detector/landmark files cannot be used, or None."""
    return _face_models_problem(str(settings().models_dir))


@st.cache_resource(show_spinner=False)
def _face_models_problem(models_dir: str) -> str | None:
    """Why the face detector/landmark files in `models_dir` cannot be used, or None; checked once per folder."""
    from moodmusic.vision import FaceTracker

    try:
        FaceTracker(models_dir)
    except Exception as exc:  # ModelFileError names the file and how to restore it; anything else, too
        log.warning("face models unusable: %s", exc)
        return f"The face detector cannot run, so moods come from the voice only: {exc}"
    return None


def catalog():
    """The offline music catalog from the configured path; CatalogError says which file and how to restore it."""
    return _catalog(str(settings().catalog_path))


@st.cache_resource(show_spinner="Loading the music catalog…")
def _catalog(path: str):
    from moodmusic.music import load_catalog

    return load_catalog(path)


@st.cache_resource
def store():
    from moodmusic.store import Store

    return Store(settings().database)
