"""Building the catalog from the shared CSV exports (the rules; and, with the data, the real build)."""

from __future__ import annotations

import numpy as np
import pytest

from moodmusic.music.build import build_catalog, fix_mojibake, genre_family, realign_shifted_features
from moodmusic.music.catalog import DEFAULT_PATH, read_catalog, write_catalog


def test_a_table_whose_features_slipped_one_row_is_realigned():
    true = {f"id{i}": np.array([i / 10, 1 - i / 10]) for i in range(10)}
    ids = [f"id{i}" for i in range(10)]
    stored = np.array([true[f"id{i}"] for i in range(10)])
    # from row 5 on, each row holds the next row's features (the slip seen in tracks_a.csv)
    stored[5:9] = stored[6:10]
    reference = {k: v for k, v in true.items() if k in {"id1", "id3", "id7", "id9"}}
    fixed, keep, counts = realign_shifted_features(ids, stored, reference)
    # rows 4..6 lie between the last verified-aligned row (3) and the first verified-shifted row (7)
    assert keep.tolist() == [True] * 4 + [False] * 3 + [True] * 3
    for i in (0, 1, 2, 3, 7, 8, 9):
        assert np.allclose(fixed[i], true[f"id{i}"]), i
    assert counts["break_row"] == 7


def test_an_aligned_table_is_left_alone():
    ids = ["a", "b", "c"]
    feats = np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]])
    fixed, keep, counts = realign_shifted_features(ids, feats, {"a": feats[0], "c": feats[2]})
    assert keep.all() and np.array_equal(fixed, feats) and counts["break_row"] == -1


@pytest.mark.parametrize("genres, family", [
    ("dance pop; pop", "Pop"), ("german hip hop", "Hip Hop"), ("bebop; cool jazz", "Jazz"),
    ("alternative metal", "Metal"), ("deathcore", "Metal"), ("classic soul", "R&B / Soul"),
    ("orchestral soundtrack; soundtrack", "Soundtrack"), ("color noise; white noise", "Noise"),
    ("album rock", "Rock"), ("reggaeton", "Latin"), ("kindermusik", "Children"), ("unknown", ""), ("", ""),
    # the family most of the artist's genres share wins, not the alphabetically first genre
    ("adult standards; classic soul; disco; quiet storm; soft rock; soul; vocal jazz", "R&B / Soul"),
    ("blues rock; classic rock; hard rock", "Rock"), ("acoustic blues; country blues; delta blues", "Blues"),
    ("soft rock", "Pop"),  # Lionel Richie's "Endless Love" was filed under Rock
    ("lullaby; sleep; pop", "Noise"),
])
def test_genre_lists_map_to_one_short_family(genres, family):
    assert genre_family(genres) == family


def test_mis_decoded_titles_are_repaired_and_good_ones_kept():
    assert fix_mojibake("CorazÃ³n Contento") == "Corazón Contento"
    assert fix_mojibake("Tous les garÃ§ons") == "Tous les garçons"
    assert fix_mojibake("Beyoncé — Ça va") == "Beyoncé — Ça va"


@pytest.mark.data
def test_the_build_reproduces_the_committed_catalog(shared_data, tmp_path):
    tracks, report = build_catalog(shared_data / "music")
    assert report.unique_ids > 23_000
    # tracks_a's slip is found and repaired: nearly every verifiable row agrees after it
    assert report.realigned["agree_after"] / report.realigned["verifiable_after"] > 0.95
    write_catalog(tracks, tmp_path / "catalog.npz")
    assert (tmp_path / "catalog.npz").read_bytes() == DEFAULT_PATH.read_bytes()


@pytest.mark.data
def test_labels_in_the_catalog_are_those_of_tracks_c(shared_data, catalog):
    import csv

    with open(shared_data / "music" / "tracks_c_moods.csv", newline="", encoding="utf-8") as fh:
        rows = {r["id"]: r["mood"] for r in csv.DictReader(fh)}
    labelled = {tid: lab for tid, lab in zip(catalog.ids, catalog.label_of) if lab}
    assert labelled == rows
    assert read_catalog(DEFAULT_PATH).get(next(iter(rows))).label == next(iter(rows.values()))


@pytest.mark.data
def test_genre_is_the_artists_and_reaches_every_track_by_that_artist(shared_data, catalog):
    """Spotify's genres belong to artists: a family found for an artist in tracks_b is on all of their tracks."""
    from moodmusic.music.build import artist_genres, read_sources

    sources, _ = read_sources(shared_data / "music")
    by_artist = artist_genres(sources[2].rows)
    checked = 0
    for artist, genre in zip(catalog.artist_keys.tolist(), catalog.genre_of.tolist()):
        if artist in by_artist:
            assert genre, artist
            checked += 1
    assert checked > 4_000
    endless = [catalog.track(i) for i, n in enumerate(catalog.names) if n == "Endless Love"]
    assert endless and {t.genre for t in endless} == {"Pop"}


def test_the_same_recording_under_another_id_is_found_by_title_and_features():
    from moodmusic.music.build import same_recordings
    from moodmusic.music.catalog import Track

    feats = dict(valence=0.5, energy=0.6, danceability=0.7, acousticness=0.1)
    unnamed = [Track("d1", "Song (Remastered 2011)", "", decade="1980s", **feats),
               Track("d2", "Song", "", **{**feats, "energy": 0.9})]
    named = [Track("a1", "Song", "Band", **{k: v + 0.005 for k, v in feats.items()})]
    assert {k: v.id for k, v in same_recordings(unnamed, named).items()} == {"d1": "a1"}
