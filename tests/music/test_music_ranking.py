"""The ranking rules one at a time, on the real catalog features."""

from __future__ import annotations

import numpy as np

from moodmusic.music.ranking import Signals, rank, title_key
from moodmusic.music.targets import distances, target_for


def nearest(catalog, target, k):
    return [int(i) for i in np.argsort(distances(catalog.features, target), kind="stable")[:k]]


def test_one_artist_owning_the_target_region_still_gets_one_slot(catalog):
    target = target_for("happy")
    top = nearest(catalog, target, 10)
    artists = [f"artist-{i}" for i in range(len(catalog))]
    for i in top:
        artists[i] = "one prolific artist"
    page = rank(catalog.features, artists, catalog.names, target, 8)
    assert sum(artists[r.index] == "one prolific artist" for r in page) == 1
    assert len(page) == 8


def test_the_same_song_in_another_version_is_not_shown_twice(catalog):
    target = target_for("sad")
    a, b = nearest(catalog, target, 2)
    names = list(catalog.names)
    artists = [f"artist-{i}" for i in range(len(catalog))]
    names[a], names[b] = "Hallelujah", "Hallelujah - Remastered 2011"
    artists[a] = artists[b] = "same artist"
    page = [r.index for r in rank(catalog.features, artists, names, target, 5)]
    assert (a in page) != (b in page)
    assert title_key("Hallelujah - Remastered 2011") == title_key("Hallelujah") == "hallelujah"


def test_without_diversity_a_page_would_be_the_nearest_tracks_with_it_is_wider(catalog):
    """No jitter and all-distinct artists isolate the diversity rule: it trades a little closeness for spread."""
    target = target_for("neutral")
    artists = [f"artist-{i}" for i in range(len(catalog))]
    page = [r.index for r in rank(catalog.features, artists, catalog.names, target, 8)]
    stacked = nearest(catalog, target, 8)
    plane = catalog.features[:, :2]  # neutral's target weighs valence and energy only
    spread = lambda idx: np.mean([np.linalg.norm(plane[i] - plane[j]) for i in idx for j in idx])  # noqa: E731
    assert spread(page) > 2 * spread(stacked)  # measured 6.5x
    assert distances(catalog.features[page], target).max() < 0.06  # still close (measured 0.038)


def test_seen_tracks_come_back_only_when_nothing_else_is_left(catalog):
    target = target_for("fear")
    artists = [f"artist-{i}" for i in range(len(catalog))]
    first = {r.index for r in rank(catalog.features, artists, catalog.names, target, 8)}
    second = {r.index for r in rank(catalog.features, artists, catalog.names, target, 8,
                                    signals=Signals(seen=frozenset(first)))}
    assert not first & second
    allowed = np.zeros(len(catalog), bool)
    allowed[list(first)] = True
    again = {r.index for r in rank(catalog.features, artists, catalog.names, target, 8, allowed=allowed,
                                   signals=Signals(seen=frozenset(first)))}
    assert again == first


def test_tracks_without_features_are_never_ranked(catalog):
    feats = catalog.features.copy()
    feats[:, :2] = np.nan
    assert rank(feats, catalog.artist_keys, catalog.names, target_for("happy"), 5) == []
