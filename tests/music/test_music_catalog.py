"""The committed catalog: what it holds, how it loads, how it fails."""

from __future__ import annotations

import math

import numpy as np
import pytest

from moodmusic.music.catalog import (
    COLUMNS, DEFAULT_PATH, Catalog, CatalogError, Track, decade_from_date, load_catalog, read_catalog, write_catalog,
)


def test_the_committed_catalog_is_large_unique_and_playable(catalog):
    assert DEFAULT_PATH.is_file()
    assert len(catalog) > 20_000
    assert len(set(catalog.ids)) == len(catalog)
    t = catalog.get("7EQGXaVSyEDsCWKmUcfpLk")
    assert (t.name, t.artist) == ("Die Young", "Kesha")
    assert t.embed_url == "https://open.spotify.com/embed/track/7EQGXaVSyEDsCWKmUcfpLk"


def test_every_track_has_valence_and_energy_on_a_unit_scale(catalog):
    f = catalog.features
    assert not np.isnan(f[:, :2]).any()
    assert (f >= 0).all() and (f <= 1).all()


def test_the_687_mood_labels_travel_with_the_catalog(catalog):
    labels = dict(zip(*np.unique(catalog.label_of[catalog.label_of != ""], return_counts=True)))
    assert labels == {"Calm": 195, "Energetic": 154, "Happy": 140, "Sad": 198}


def test_genres_and_decades_are_short_lists_for_filters(catalog):
    assert "Jazz" in catalog.genres() and "" not in catalog.genres()
    assert catalog.decades() == sorted(catalog.decades())
    assert {"1960s", "1980s", "2010s"} <= set(catalog.decades())


def test_text_is_stored_unescaped(catalog):
    import re

    names = [n for n in catalog.names if "&" in n or "'" in n]
    assert names and not any("&amp;" in n or "&#39;" in n for n in names)
    entity = re.compile(r"&(#x?[0-9a-fA-F]+|amp|quot|lt|gt|apos);")
    assert not [t for t in (*catalog.names, *catalog.artists) if entity.search(t)]
    band = catalog.get("5AnDn91YRZMCIJJMWl99yD")
    assert band.name == "Don't You Know I'm In a Band"  # shown as "Don&#x27;t You Know …" before (issue 20)


def test_how_many_tracks_have_a_genre_a_decade_and_a_year(catalog):
    """The figures docs/music.md reports; a rebuild that loses coverage fails here."""
    n = len(catalog)
    genre, decade = (catalog.genre_of != "").sum(), (catalog.decade_of != "").sum()
    year = (catalog.year_of != "").sum()
    assert genre / n > 0.24 and decade / n > 0.45 and year >= 680
    years = [int(y) for y in catalog.year_of.tolist() if y]
    assert all(1900 <= y <= 2030 for y in years)
    with_year = catalog.year_of != ""
    assert all(d == f"{y[:3]}0s" for y, d in zip(catalog.year_of[with_year], catalog.decade_of[with_year]))


def test_load_is_cached_per_process(catalog):
    assert load_catalog() is catalog


@pytest.mark.parametrize("suffix", [".npz", ".csv", ".csv.gz"])
def test_write_then_read_gives_the_same_tracks(catalog, tmp_path, suffix):
    sample = [catalog.track(i) for i in range(0, len(catalog), 997)]
    sample.append(Track("0SpotifyOnly0000000001", 'Quote "and" comma, name', "", genre="", decade="2020s",
                        year="2021"))
    path = tmp_path / f"cat{suffix}"
    write_catalog(sample, path)
    back = read_catalog(path)
    assert [back.track(i) for i in range(len(back))] == sample
    assert math.isnan(back.features[-1, 0])


def test_rebuilding_writes_identical_bytes(catalog, tmp_path):
    sample = Catalog(catalog.track(i) for i in range(500))
    write_catalog(sample, tmp_path / "a.npz")
    write_catalog(sample, tmp_path / "b.npz")
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()


def test_a_missing_catalog_says_how_to_build_it(tmp_path):
    with pytest.raises(CatalogError, match="catalog build"):
        load_catalog(tmp_path / "nope.npz")


def test_a_damaged_catalog_is_a_clear_error(tmp_path):
    bad = tmp_path / "cat.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(CatalogError, match="unreadable"):
        read_catalog(bad)
    csv = tmp_path / "cat.csv"
    csv.write_text("id,title\n1,x\n")
    with pytest.raises(CatalogError, match="columns"):
        read_catalog(csv)


def test_csv_header_is_the_documented_schema(tmp_path, catalog):
    write_catalog([catalog.track(0)], tmp_path / "one.csv")
    assert (tmp_path / "one.csv").read_text().splitlines()[0].split(",") == list(COLUMNS)


@pytest.mark.parametrize("raw, decade", [
    ("90s", "1990s"), ("00s", "2000s"), ("10s", "2010s"), ("60s", "1960s"),
    ("27-10-1982", "1980s"), ("2007-04-16", "2000s"), ("1999", "1990s"), ("", ""), ("unknown", ""),
])
def test_decades_are_normalised(raw, decade):
    assert decade_from_date(raw) == decade
