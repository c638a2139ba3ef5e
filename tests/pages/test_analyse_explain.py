"""The Analyse page's "why?": face heatmaps on request (photo and each window) and what the voice heard."""

from __future__ import annotations

import cv2
import numpy as np
from streamlit.testing.v1 import AppTest

from tests.pages.conftest import PAGES
from moodmusic import samples
from moodmusic.analysis import Analyzer
from moodmusic.pipeline import load_experts
from moodmusic.ui.clip_report import voice_table

PAGE = str(PAGES / "1_Analyse_a_clip.py")


def _upload(name: str, data: bytes, mime: str) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=180)
    at.run()
    at.file_uploader(key="clip-upload").set_value((name, data, mime))
    at.run()
    assert not at.exception, at.exception
    return at


def _why(at: AppTest) -> AppTest:
    at.toggle(key="clip-why").set_value(True).run()
    assert not at.exception, at.exception
    return at


def test_a_photo_shows_its_heatmap_only_when_asked(home, tmp_path):
    photo = tmp_path / "astronaut.png"
    cv2.imwrite(str(photo), samples.face_photo())
    at = _upload(photo.name, photo.read_bytes(), "image/png")
    assert len(at.get("image")) == 1  # nothing is computed until someone asks
    images = _why(at).get("image")
    assert len(images) == 2 and "made the face model say so" in images[1].captions[0]


def test_a_clip_shows_a_heatmap_per_window_and_the_voice_seconds(home, models_dir, clip_mp4):
    expected = Analyzer(load_experts(models_dir)).analyse(clip_mp4)
    at = _upload(clip_mp4.name, clip_mp4.read_bytes(), "video/mp4")
    charts = at.get("vega_lite_chart")
    assert len(charts) == 1  # the timeline, with what the voice heard under it in the same chart
    assert "What the voice heard" in charts[0].proto.spec
    frames = len(at.get("image"))
    captions = [i.captions[0] for i in _why(at).get("image")[frames:]]
    assert len(captions) == sum(s.face_crop is not None for s in expected.segments) >= 3
    assert captions[0].startswith("0.0–2.5 s")

    shares = expected.voice_contributions()
    assert abs(shares.sum() - float(expected.voice_probs.max())) < 1e-6  # exactly the clip's voice opinion
    heard = voice_table(expected)
    assert np.allclose(heard["share"], shares, atol=1e-4)
    voice = expected.to_json()["voice"]["probs"]
    assert heard["voice_mood"][0] == max(voice, key=voice.get)
    assert (heard["share"] >= 0).all() and heard["share"].max() > 0
