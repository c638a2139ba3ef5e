"""The "Analyse a clip" page: a real clip in, the same mood as `predict`, a timeline, music; clear errors."""

from __future__ import annotations

import io
import re

import cv2
import numpy as np
import pandas as pd
import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from tests.pages.conftest import PAGES
from moodmusic import samples
from moodmusic.analysis import Analyzer
from moodmusic.moods import MOODS
from moodmusic.pipeline import load_experts

PAGE = str(PAGES / "1_Analyse_a_clip.py")
MOOD_TEXT = re.compile(r"Mood: (" + "|".join(MOODS) + r")\b")


def _page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=180)
    at.run()
    assert not at.exception, at.exception
    return at


def _upload(at: AppTest, name: str, data: bytes, mime: str = "application/octet-stream") -> AppTest:
    at.file_uploader(key="clip-upload").set_value((name, data, mime))
    at.run()
    assert not at.exception, at.exception
    return at


def _html(at: AppTest) -> str:
    return "\n".join(str(e.proto.body) for e in at.get("html"))


@pytest.fixture
def served(monkeypatch) -> list[tuple[str, bytes]]:
    """(mimetype, bytes) of every file the page hands the browser: images and downloads, as served."""
    files: list[tuple[str, bytes]] = []
    original = MemoryMediaFileStorage.load_and_get_id

    def keep(self, path_or_data, mimetype, kind, filename=None):
        files.append((mimetype, path_or_data if isinstance(path_or_data, bytes) else open(path_or_data, "rb").read()))
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", keep)
    return files


def _green(pixels: np.ndarray) -> float:
    """Share of RGB pixels drawn in the overlay's green (as served: JPEG may soften it a little)."""
    r, g, b = (pixels[..., i].astype(int) for i in range(3))
    return float(np.mean((g > 120) & (g > r + 50) & (g > b + 50)))


def test_before_an_upload_the_page_asks_for_a_file(home):
    at = _page()
    assert any("Choose a file" in e.value for e in at.info)


def test_a_clip_gives_the_predict_mood_a_timeline_and_music(home, models_dir, clip_mp4):
    expected = Analyzer(load_experts(models_dir)).analyse(clip_mp4)
    at = _upload(_page(), clip_mp4.name, clip_mp4.read_bytes(), "video/mp4")

    html = _html(at)
    assert MOOD_TEXT.search(html).group(1) == expected.mood  # the same code as `predict`
    assert 'data-modality="face"' in html and 'data-modality="voice"' in html
    assert "no face found" not in html and "no speech heard" not in html  # the face and the speech both count

    assert len(at.get("vega_lite_chart")) == 1  # the timeline chart
    windows = at.dataframe[0].value
    assert len(windows) == len(expected.segments) >= 3  # 8.6 s in 2.5 s windows
    assert list(windows["mood"]) == [s.mood for s in expected.segments]
    assert [b.proto.label for b in at.get("download_button")] == ["⬇️ Timeline (CSV)", "⬇️ Result (JSON)"]

    assert any(f"Music for {expected.mood}" in m.value for m in at.markdown)
    assert len(at.get("iframe")) == 8
    assert {r.key for r in at.radio} >= {"clip-strategy"} and len(at.selectbox) == 2


def test_changing_the_strategy_changes_the_music_not_the_analysis(home, models_dir, clip_mp4):
    at = _upload(_page(), clip_mp4.name, clip_mp4.read_bytes(), "video/mp4")
    before = [e.proto.src for e in at.get("iframe")]
    mood = MOOD_TEXT.search(_html(at)).group(1)
    at.radio(key="clip-strategy").set_value("calm").run()
    assert not at.exception
    assert MOOD_TEXT.search(_html(at)).group(1) == mood
    assert any("calm me down" in m.value for m in at.markdown)
    assert [e.proto.src for e in at.get("iframe")] != before


def test_a_like_is_written_to_the_history(home, models_dir, clip_mp4, store):
    at = _upload(_page(), clip_mp4.name, clip_mp4.read_bytes(), "video/mp4")
    assert store.counts()["shown"] == 8
    at.button[[b.proto.label for b in at.button].index("👍 Like")].click().run()
    assert not at.exception
    assert store.counts()["feedback"] == 1
    assert sum(len(v) for v in store.liked_by_mood().values()) == 1


def test_a_recording_gives_a_voice_mood_and_says_there_is_no_picture(home, voice_model):
    speech = samples.SPEECH_DIR / "rainbow.flac"
    expected = Analyzer(load_experts(voice_model.parent)).analyse(speech)
    at = _upload(_page(), "rainbow.flac", speech.read_bytes(), "audio/flac")
    html = _html(at)
    assert MOOD_TEXT.search(html).group(1) == expected.mood
    assert 'data-modality="voice"' in html and 'data-modality="face"' not in html  # no face panel for sound
    assert any("no picture" in c.value for c in at.caption) and "no speech heard" not in html
    assert not at.get("image")
    assert len(at.get("vega_lite_chart")) == 1 and len(at.dataframe[0].value) == len(expected.segments) == 3


def test_a_photo_is_shown_with_the_face_read_no_voice_panel_and_one_csv_row(home, models_dir, served, tmp_path):
    photo = tmp_path / "astronaut.png"
    cv2.imwrite(str(photo), samples.face_photo())
    expected = Analyzer(load_experts(models_dir)).analyse(photo)
    at = _upload(_page(), photo.name, photo.read_bytes(), "image/png")

    html = _html(at)
    assert MOOD_TEXT.search(html).group(1) == expected.mood
    assert 'data-modality="face"' in html and 'data-modality="voice"' not in html  # no six 0% voice bars
    assert any("A photo has no sound" in c.value for c in at.caption)

    images = at.get("image")
    assert len(images) == 1 and images[0].captions == ["The face that was read"]
    shown = [cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1]
             for mime, data in served if mime.startswith("image/")]
    assert len(shown) == 1 and shown[0].shape == expected.segments[0].picture.shape
    x, y, w, h = expected.segments[0].face_box
    assert w > 40 and h > 40  # the astronaut's face, not a speck
    assert _green(shown[0][y, x + 2 : x + w - 2]) > 0.8  # the box's top edge is drawn
    assert _green(shown[0][y + h // 2, x + w // 4 : x + 3 * w // 4]) < 0.2  # the face itself is not painted over

    csv = [data for mime, data in served if mime.startswith("text/csv")]
    rows = pd.read_csv(io.BytesIO(csv[-1]))
    assert len(rows) == 1 and rows["mood"][0] == expected.mood  # one row, not just the header
    assert rows[[f"p_{m}" for m in MOODS]].sum(axis=1)[0] == pytest.approx(1, abs=1e-3)
    assert rows[[f"voice_{m}" for m in MOODS]].isna().all(axis=None)
    assert not at.get("vega_lite_chart")


def test_a_video_shows_a_frame_per_window_with_the_face_box(home, models_dir, served, clip_mp4):
    expected = Analyzer(load_experts(models_dir)).analyse(clip_mp4)
    at = _upload(_page(), clip_mp4.name, clip_mp4.read_bytes(), "video/mp4")
    images = at.get("image")
    assert len(images) == len(expected.segments) >= 3
    assert [i.captions[0].split(" · ")[1] for i in images] == [s.mood for s in expected.segments]
    assert all("no face found" not in i.captions[0] for i in images)
    frames = [cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1]
              for mime, data in served if mime.startswith("image/")]
    for frame, segment in zip(frames, expected.segments):
        x, y, w, h = segment.face_box
        assert _green(frame[y, x + 2 : x + w - 2]) > 0.8


def test_a_photo_without_a_face_says_so(home):
    _, png = cv2.imencode(".png", samples.face_photo()[380:512, 0:140])  # the spacesuit's corner, no face
    at = _upload(_page(), "suit.png", png.tobytes(), "image/png")
    assert not MOOD_TEXT.search(_html(at))
    assert any("No face was found" in e.value for e in at.info)
    assert not at.get("vega_lite_chart")


def test_a_wrong_file_type_is_a_clear_error(home):
    at = _upload(_page(), "notes.txt", b"just some text", "text/plain")
    assert len(at.error) == 1 and "not a file type moodmusic reads" in at.error[0].value
    assert not at.get("vega_lite_chart")


def test_a_damaged_video_is_a_clear_error_naming_the_file(home, clip_mp4):
    data = clip_mp4.read_bytes()
    broken = data[:64] + bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8))
    at = _upload(_page(), "holiday.mp4", broken, "video/mp4")
    assert len(at.error) == 1 and "holiday.mp4" in at.error[0].value
    assert not MOOD_TEXT.search(_html(at))
