"""The Analyse page shows what was said: "Words: '…' → leaning X (weight w)"."""

from __future__ import annotations

import io
import re

import pytest
import soundfile as sf
from streamlit.testing.v1 import AppTest

from moodmusic import samples
from moodmusic.moods import MOODS
from tests.pages.conftest import PAGES

pytest.importorskip("pocketsphinx", reason="words need pocketsphinx==5.1.1 (requirements.txt)")
pytest.importorskip("vaderSentiment", reason="words need vaderSentiment==3.3.2 (requirements.txt)")

LEAN = r"(leaning \*\*(" + "|".join(MOODS) + r")\*\* \(\d+%\)|no leaning \(every mood about equal, \d+% at most\))"
WORDS = re.compile(r"\*\*Words:\*\* “[^”]+” → " + LEAN + r" \(weight [0-9.]+")


def test_a_recording_shows_its_words_and_their_weight(home):
    from moodmusic.recognition.words import MAP_FILE, WordsMap

    buf = io.BytesIO()
    sf.write(buf, samples.speech("rainbow"), 16000, format="WAV")
    at = AppTest.from_file(str(PAGES / "1_Analyse_a_clip.py"), default_timeout=180)
    at.run()
    at.file_uploader(key="clip-upload").set_value(("rainbow.wav", buf.getvalue(), "audio/wav"))
    at.run()
    assert not at.exception, at.exception
    said = [m.value for m in at.markdown if m.value.startswith("**Words:**")]
    assert len(said) == 1 and WORDS.search(said[0]), said
    weight = WordsMap.load(PAGES.parent / "models" / MAP_FILE).weight
    assert f"(weight {weight:g}" in said[0]
