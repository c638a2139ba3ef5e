"""`python -m moodmusic recommend` and `catalog` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from moodmusic.cli import main
from moodmusic.config import ROOT


@pytest.fixture(autouse=True)
def no_spotify(monkeypatch, tmp_path):
    for var in ("SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MOODMUSIC_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_json_output_has_the_documented_shape(capsys):
    assert main(["recommend", "--mood", "happy", "--strategy", "lift", "--n", "5", "--json", "--seed", "3"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["mood"], out["strategy"], out["source"]) == ("happy", "lift", "catalog")
    assert len(out["tracks"]) == 5
    for t in out["tracks"]:
        assert {"id", "name", "artist", "valence", "energy", "tempo", "embed_url", "reason"} <= set(t)
        assert t["embed_url"] == f"https://open.spotify.com/embed/track/{t['id']}"


def test_the_same_seed_prints_the_same_list(capsys):
    main(["recommend", "--mood", "fear", "--json", "--seed", "11"])
    first = capsys.readouterr().out
    main(["recommend", "--mood", "fear", "--json", "--seed", "11"])
    assert capsys.readouterr().out == first


def test_text_output_lists_tracks_with_reasons_and_players(capsys):
    assert main(["recommend", "--mood", "sad", "--n", "3", "--genre", "Jazz"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("sad · match · from the offline catalog")
    assert out.count("https://open.spotify.com/embed/track/") == 3
    assert "(Jazz" in out


@pytest.mark.parametrize("argv, message", [
    (["recommend", "--mood", "grumpy"], "unknown mood 'grumpy'; choose one of: angry, fear, happy, neutral, sad, surprise"),
    (["recommend", "--mood", "happy", "--strategy", "loud"], "choose one of: match, lift, calm"),
    (["recommend", "--mood", "happy", "--decade", "1850s"], "unknown decade '1850s'"),
    (["recommend", "--mood", "happy", "--n", "500"], "between 1 and 50"),
    (["recommend", "--mood", "happy", "--catalog", "missing.npz"], "catalog build"),
])
def test_user_errors_are_one_line_and_exit_2(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err
    assert err.count("\n") == 1


def test_catalog_info_and_check_describe_the_committed_catalog(capsys):
    assert main(["catalog", "info"]) == 0
    info = capsys.readouterr().out
    assert "tracks" in info and "Jazz" in info and "Happy 140" in info
    assert main(["catalog", "check", "--k", "50"]) == 0
    check = capsys.readouterr().out
    assert "happy match → Happy" in check and "base rate" in check


def test_catalog_build_without_data_says_what_is_missing(capsys, tmp_path):
    assert main(["catalog", "build", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "c.npz")]) == 2
    assert "--data" in capsys.readouterr().err


@pytest.mark.data
def test_catalog_build_writes_a_loadable_file(capsys, shared_data, tmp_path):
    out = tmp_path / "catalog.csv.gz"
    assert main(["catalog", "build", "--data", str(shared_data / "music"), "--out", str(out)]) == 0
    assert "tracks_a realignment" in capsys.readouterr().out
    assert main(["recommend", "--mood", "happy", "--catalog", str(out), "--json"]) == 0


def test_the_module_runs_as_a_program(tmp_path):
    res = subprocess.run([sys.executable, "-m", "moodmusic", "recommend", "--mood", "neutral", "--n", "2", "--json"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "MOODMUSIC_HOME": str(tmp_path), "HOME": str(tmp_path)})
    assert res.returncode == 0, res.stderr
    assert len(json.loads(res.stdout)["tracks"]) == 2
