"""A session's recommendations: fitting, varied, new each time, shaped by likes and skips."""

from __future__ import annotations

import numpy as np
import pytest

from moodmusic.moods import MOODS
from moodmusic.music import STRATEGIES, Recommender
from moodmusic.music.targets import distances, target_for


@pytest.fixture
def rec(catalog, offline_settings):
    return Recommender(catalog, offline_settings, seed=7)


def ids(recs):
    return [r.track.id for r in recs.tracks]


@pytest.mark.parametrize("mood", MOODS)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_mood_and_strategy_gives_a_full_page_close_to_its_target(rec, catalog, mood, strategy):
    recs = rec.recommend(mood, strategy, n=8)
    assert (recs.mood, recs.strategy, recs.source, recs.note) == (mood, strategy, "catalog", "")
    assert len(recs.tracks) == 8
    d = distances(np.stack([r.track.feature_vector() for r in recs.tracks]), target_for(mood, strategy))
    typical = np.median(distances(catalog.features, target_for(mood, strategy)))
    assert d.max() < 0.12 < typical
    verb = {"match": "matches", "lift": "lifts", "calm": "calms"}[strategy]
    assert all(r.reason.endswith(f"{verb} {mood}") for r in recs.tracks)


def test_no_artist_appears_twice_on_a_page(rec):
    for mood in MOODS:
        artists = [r.track.artist.casefold() for r in rec.recommend(mood, n=20).tracks if r.track.artist]
        assert len(artists) == len(set(artists))


def test_a_page_spreads_over_the_region_instead_of_stacking_on_its_centre(rec, catalog):
    page = np.stack([r.track.feature_vector()[:2] for r in rec.recommend("happy", n=8).tracks])
    nearest = np.argsort(distances(catalog.features, target_for("happy")))[:8]
    stacked = catalog.features[nearest, :2]
    spread = lambda x: np.mean([np.linalg.norm(a - b) for a in x for b in x])  # noqa: E731
    assert spread(page) > spread(stacked)


def test_the_next_page_shows_nothing_this_session_already_showed(rec):
    first = ids(rec.recommend("sad", n=8))
    second = ids(rec.recommend("sad", n=8))
    assert not set(first) & set(second)
    assert rec.shown == first + second


def test_a_played_track_is_not_offered_again(catalog, offline_settings):
    a = Recommender(catalog, offline_settings, seed=3)
    top = ids(a.recommend("happy", n=1))[0]
    b = Recommender(catalog, offline_settings, seed=3)
    b.mark_played(top)
    assert top not in ids(b.recommend("happy", n=8))


def test_the_same_seed_gives_the_same_pages_and_another_seed_others(catalog, offline_settings):
    a, b, c = (Recommender(catalog, offline_settings, seed=s) for s in (1, 1, 2))
    assert [ids(a.recommend("angry", n=8)) for _ in range(3)] == [ids(b.recommend("angry", n=8)) for _ in range(3)]
    assert ids(c.recommend("angry", n=8)) != ids(Recommender(catalog, offline_settings, seed=1).recommend("angry", n=8))


def test_a_like_pulls_its_neighbourhood_up(catalog, offline_settings):
    """Two sessions, same seed; one likes a track at the edge of the region: its next page moves there."""
    plain = Recommender(catalog, offline_settings, seed=5)
    liking = Recommender(catalog, offline_settings, seed=5)
    page = liking.recommend("neutral", n=8)
    plain.recommend("neutral", n=8)
    target = target_for("neutral")
    edge = max(page.tracks, key=lambda r: distances(r.track.feature_vector()[None], target)[0]).track
    liking.feedback(edge.id, liked=True)

    def mean_gap(recs):
        return np.mean([np.linalg.norm(r.track.feature_vector()[:4] - edge.feature_vector()[:4]) for r in recs.tracks])

    liked_page = liking.recommend("neutral", n=8)
    assert mean_gap(liked_page) < mean_gap(plain.recommend("neutral", n=8))
    assert any("close to a track you liked" in r.reason for r in liked_page.tracks)


def test_a_skip_pushes_its_neighbourhood_and_artist_down(catalog, offline_settings):
    plain = Recommender(catalog, offline_settings, seed=9)
    skipping = Recommender(catalog, offline_settings, seed=9)
    first = skipping.recommend("happy", n=8)
    plain.recommend("happy", n=8)
    skipped = first.tracks[0].track
    skipping.feedback(skipped.id, liked=False)

    def mean_gap(recs):
        return np.mean([np.linalg.norm(r.track.feature_vector()[:4] - skipped.feature_vector()[:4]) for r in recs.tracks])

    after = skipping.recommend("happy", n=8)
    assert mean_gap(after) > mean_gap(plain.recommend("happy", n=8))
    assert skipped.artist.casefold() not in {r.track.artist.casefold() for r in after.tracks}


def test_genre_and_decade_filters_hold(rec):
    recs = rec.recommend("happy", n=5, genre="Rock", decade="1980s")
    assert recs.tracks and all((r.track.genre, r.track.decade) == ("Rock", "1980s") for r in recs.tracks)
    assert rec.genres() and "1980s" in rec.decades()


def test_a_narrow_filter_says_how_many_match_shows_them_first_then_the_closest_others(rec, catalog):
    matching = int(((catalog.genre_of == "Folk / Country") & (catalog.decade_of == "1980s")).sum())
    assert 0 < matching < 8
    recs = rec.recommend("happy", n=8, genre="Folk / Country", decade="1980s")
    assert len(recs.tracks) == 8  # a full page, honestly labelled
    inside = [r for r in recs.tracks if r.in_filters]
    assert inside and all((r.track.genre, r.track.decade) == ("Folk / Country", "1980s") for r in inside)
    assert [r.in_filters for r in recs.tracks] == [True] * len(inside) + [False] * (8 - len(inside))
    assert recs.note.startswith(f"Only {matching} track") and f"{len(inside)} shown first" in recs.note
    # the closest others keep one of the two filters before neither
    assert recs.tracks[len(inside)].track.genre == "Folk / Country"


def test_filters_that_nothing_matches_say_so_and_still_give_music(rec, catalog):
    assert not ((catalog.genre_of == "Blues") & (catalog.decade_of == "1980s")).any()
    recs = rec.recommend("sad", n=8, genre="Blues", decade="1980s")
    assert len(recs.tracks) == 8 and not any(r.in_filters for r in recs.tracks)
    assert recs.note == "No track in the catalog matches Blues · 1980s: showing the closest others"
    assert recs.tracks[0].track.genre == "Blues"  # the genre first, then the decade, then anything


def test_every_filter_choice_acts_on_the_first_track(catalog, offline_settings):
    """The bug seen: with a genre chosen, the list still began with a track of another genre."""
    for genre in catalog.genres():
        recs = Recommender(catalog, offline_settings, seed=1).recommend("happy", n=8, genre=genre)
        assert recs.tracks[0].track.genre == genre, genre
    for decade in catalog.decades():
        recs = Recommender(catalog, offline_settings, seed=1).recommend("sad", n=8, decade=decade)
        assert recs.tracks[0].track.decade == decade, decade


def test_a_skip_replaces_that_track_in_place_and_keeps_the_others(rec):
    page = rec.recommend("happy", n=8, genre="Rock")
    gone = page.tracks[3].track.id
    rec.feedback(gone, liked=False)
    after = rec.replace(page, gone)
    assert len(after.tracks) == 8 and gone not in ids(after)
    assert ids(after)[:3] == ids(page)[:3] and ids(after)[4:] == ids(page)[4:]
    new = after.tracks[3].track
    assert new.id not in ids(page) and new.genre == "Rock"  # the filters still hold
    assert new.artist.casefold() not in {r.track.artist.casefold() for i, r in enumerate(page.tracks) if i != 3}


def test_likes_and_skips_of_an_earlier_session_steer_a_new_one(catalog, offline_settings):
    """What the store hands a new session (`remember`) works like the session's own feedback."""
    first = Recommender(catalog, offline_settings, seed=4)
    page = first.recommend("neutral", n=8)
    skipped, liked = page.tracks[0].track, page.tracks[-1].track
    later = Recommender(catalog, offline_settings, seed=4)
    assert later.remember({skipped.id: False, liked.id: True, "0SpotifyOnly0000000001": True}) == 2
    assert later.liked == {liked.id} and later.skipped == {skipped.id}
    fresh = Recommender(catalog, offline_settings, seed=4)
    steered, plain = later.recommend("neutral", n=8), fresh.recommend("neutral", n=8)
    assert skipped.id not in ids(steered) and skipped.id in ids(plain)
    assert skipped.artist.casefold() not in {r.track.artist.casefold() for r in steered.tracks}
    assert any("you liked" in r.reason for r in steered.tracks)


def test_bad_input_is_a_clear_value_error(rec):
    with pytest.raises(ValueError, match="angry, fear, happy, neutral, sad, surprise"):
        rec.recommend("grumpy")
    with pytest.raises(ValueError, match="match, lift, calm"):
        rec.recommend("happy", "shuffle")
    with pytest.raises(ValueError, match="unknown genre 'Polka'; choose one of: .*Jazz"):
        rec.recommend("happy", genre="Polka")
    with pytest.raises(ValueError, match="between 1 and 50"):
        rec.recommend("happy", n=0)
    with pytest.raises(KeyError):
        rec.feedback("no-such-track", liked=True)


def test_the_json_shape_has_what_the_page_and_cli_need(rec):
    d = rec.recommend("surprise", n=2).to_dict()
    assert set(d) >= {"mood", "strategy", "source", "note", "tracks"}
    assert set(d["tracks"][0]) >= {"id", "name", "artist", "valence", "energy", "tempo", "embed_url", "reason"}
