"""The clip report's pure half: upload checks, private analysis (the copy is always deleted), CSV/JSON."""

from __future__ import annotations

import io
import json
import tempfile

import pandas as pd
import pytest

from moodmusic.analysis import Analyzer
from moodmusic.media import MediaError
from moodmusic.moods import MOODS
from moodmusic.pipeline import load_experts
from moodmusic.ui import clip_report


def test_uploads_are_checked_for_type_emptiness_and_size():
    assert clip_report.check_upload("clip.MOV", 10) is None
    assert "not a file type" in clip_report.check_upload("clip.exe", 10)
    assert "not a file type" in clip_report.check_upload("no_extension", 10)
    assert clip_report.check_upload("clip.mp4", 0) == "clip.mp4 is empty"
    too_big = clip_report.check_upload("clip.mp4", 201 * 2**20)
    assert "201 MB" in too_big and "200 MB" in too_big
    assert clip_report.check_upload("clip.mp4", 200 * 2**20) is None


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """Where analyse_upload's temporary copies go, so the test can see what is left behind."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def test_the_upload_exists_only_while_it_is_analysed(private_tmp, models_dir, clip_mp4):
    seen = []

    def progress(fraction, message):
        seen.extend(p.name for p in private_tmp.glob("moodmusic-upload-*/*"))

    analysis = clip_report.analyse_upload(Analyzer(load_experts(models_dir)), "my holiday.mp4",
                                          io.BytesIO(clip_mp4.read_bytes()), progress)
    assert "my holiday.mp4" in seen  # it was there during the analysis…
    assert list(private_tmp.iterdir()) == []  # …and nothing is left afterwards
    assert analysis.path == "my holiday.mp4" and analysis.kind == "video"


def test_a_file_that_cannot_be_read_is_deleted_too(private_tmp):
    with pytest.raises(MediaError, match="broken.wav"):
        clip_report.analyse_upload(Analyzer(load_experts(private_tmp / "no-models")), "broken.wav", b"RIFF0000WAVE")
    assert [p for p in private_tmp.iterdir() if p.name.startswith("moodmusic-upload-")] == []


def test_names_from_outside_cannot_escape_the_temporary_folder():
    assert clip_report._safe_name("../../etc/passwd.mp4") == "passwd.mp4"
    assert clip_report._safe_name("a/b\\c;rm -rf.WAV") == "b_c_rm -rf.wav"


def test_csv_and_json_hold_every_window(models_dir, clip_mp4):
    analysis = Analyzer(load_experts(models_dir)).analyse(clip_mp4)
    table = pd.read_csv(io.StringIO(clip_report.to_csv(analysis)))
    assert len(table) == len(analysis.segments)
    assert list(table["mood"]) == [s.mood for s in analysis.segments]
    assert {f"p_{m}" for m in MOODS} <= set(table.columns)
    assert table[[f"p_{m}" for m in MOODS]].sum(axis=1).round(2).eq(1.0).all()

    doc = json.loads(clip_report.to_json_text(analysis))
    assert doc["mood"] == analysis.mood and len(doc["windows"]) == len(analysis.segments)
    assert doc["timeline"][0]["start"] == 0.0 and doc["face"]["detected"] and doc["voice"]["active"]
