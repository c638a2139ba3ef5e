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


@st.cache_resource(show_spinner="Loading the emotion models…")
def experts():
    """Face and voice experts, threads pinned and first-use compilation warmed up."""
    import cv2
    import torch

    from moodmusic.audio import warm_up
    from moodmusic.pipeline import load_experts

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    warm_up()
    return load_experts(settings().models_dir)


@st.cache_resource(show_spinner="Loading the music catalog…")
def catalog():
    from moodmusic.music import load_catalog

    return load_catalog()


@st.cache_resource
def store():
    from moodmusic.store import Store

    return Store(settings().database)
