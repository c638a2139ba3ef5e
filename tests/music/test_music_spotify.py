"""spotipy against a real HTTP server on loopback: search, caching, and every way Spotify can fail.

Each failure must give the page catalog results at once with a short note,
never a wait on Retry-After, a hang on a slow answer, or a traceback.
"""

from __future__ import annotations

import logging
import stat
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from tests.music.conftest import FAR_FROM_HAPPY, HAPPY_IDS
from tests.music.fake_spotify import APP_TOKEN, CLIENT_SECRET, REFRESH_TOKEN, USER_TOKEN, Answer

from moodmusic.music import Recommender
from moodmusic.music.cache import TTLCache
from moodmusic.music.spotify import SpotifyError, SpotifySource, SpotifyUser, complete_sign_in

pytestmark = pytest.mark.timeout(30)  # a hang is a failure, not a slow pass


def source(settings, fake, **kw) -> SpotifySource:
    return SpotifySource(settings, api_base=fake.base, auth_base=fake.base, **kw)


def test_search_is_paged_ten_at_a_time_after_one_404_from_recommendations(spotify_settings, fake_spotify):
    res = source(spotify_settings, fake_spotify).fetch("happy", "match")
    assert res.ok and res.endpoint == "search" and not res.from_cache
    searches = fake_spotify.api_requests("/search")
    assert [(s.query["limit"], s.query["offset"]) for s in searches] == [(["10"], ["0"]), (["10"], ["10"])]
    assert searches[0].query["q"] == ["happy upbeat"] and searches[0].query["market"] == ["US"]
    assert len(fake_spotify.api_requests("/recommendations")) == 1
    assert [t.id for t in res.tracks[:3]] == list(HAPPY_IDS)
    assert res.tracks[-1].decade == "1980s"


def test_a_mood_change_costs_one_round_and_a_repeat_costs_none(spotify_settings, fake_spotify):
    src = source(spotify_settings, fake_spotify)
    src.fetch("happy", "match")
    n = len(fake_spotify.api_requests())
    again = src.fetch("happy", "match")
    assert again.from_cache and len(fake_spotify.api_requests()) == n
    src.fetch("sad", "calm")
    new = fake_spotify.api_requests()[n:]
    assert [s.path for s in new] == ["/v1/search", "/v1/search"]  # the 404 was remembered


def test_the_cache_outlives_the_process_on_disk(spotify_settings, fake_spotify):
    source(spotify_settings, fake_spotify).fetch("happy", "lift")
    n = len(fake_spotify.seen)
    res = source(spotify_settings, fake_spotify).fetch("happy", "lift")  # a restarted server
    assert res.from_cache and len(fake_spotify.seen) == n
    assert list((spotify_settings.cache_dir / "spotify").glob("*.json"))


def test_recommendations_are_used_where_the_app_still_has_them(spotify_settings, fake_spotify, catalog):
    t = catalog.get(HAPPY_IDS[0])
    fake_spotify.recommendations = Answer(200, {"tracks": [{"id": t.id, "name": t.name, "type": "track",
                                                             "artists": [{"name": t.artist}], "album": {}}]})
    res = source(spotify_settings, fake_spotify).fetch("happy", "match")
    assert res.endpoint == "recommendations" and [x.id for x in res.tracks] == [t.id]
    (rq,) = fake_spotify.api_requests("/recommendations")
    assert rq.query["seed_genres"] == ["happy,pop"] and rq.query["target_valence"] == ["0.8"]
    assert not fake_spotify.api_requests("/search")


def test_a_429_with_a_long_retry_after_is_respected_without_waiting(spotify_settings, fake_spotify):
    fake_spotify.search = Answer(429, {"error": {"status": 429, "message": "API rate limit exceeded"}},
                                 {"Retry-After": "3600"})
    src = source(spotify_settings, fake_spotify)
    res = src.fetch("happy", "match")
    assert not res.ok and "rate limit" in res.note and "offline catalog" in res.note
    assert len(fake_spotify.api_requests("/search")) == 1  # no retry, so no sleep on Retry-After
    assert 3500 < src.blocked_for() <= 3600
    before = len(fake_spotify.seen)
    later = src.fetch("sad", "match")  # during the cool-down nothing is sent at all
    assert not later.ok and len(fake_spotify.seen) == before and "next try in" in later.note


def test_a_server_error_is_retried_once_then_paused(spotify_settings, fake_spotify):
    fake_spotify.search = Answer(500, {"error": {"status": 500, "message": "Server error"}})
    src = source(spotify_settings, fake_spotify)
    res = src.fetch("angry", "calm")
    assert not res.ok and "(500)" in res.note
    assert len(fake_spotify.api_requests("/search")) == 2
    assert src.blocked_for() > 0


def test_a_slow_answer_times_out(spotify_settings, fake_spotify):
    fake_spotify.search = Answer(200, {"tracks": {"items": []}}, delay_s=3.0)
    src = source(spotify_settings, fake_spotify, timeout_s=0.3)
    res = src.fetch("fear", "match")
    assert not res.ok and "did not answer in time" in res.note


def test_rejected_credentials_stop_all_requests(spotify_settings, fake_spotify):
    fake_spotify.token_ok = False
    src = source(spotify_settings, fake_spotify)
    res = src.fetch("happy", "match")
    assert not res.ok and "invalid_client" in res.note and "SPOTIFY_CLIENT_ID" in res.note
    assert fake_spotify.api_requests() == []
    assert src.blocked_for() > 1000


def test_no_network_at_all_is_just_a_note(spotify_settings, tmp_path):
    res = SpotifySource(spotify_settings, api_base="http://127.0.0.1:9", auth_base="http://127.0.0.1:9").fetch("sad")
    assert not res.ok and "unreachable" in res.note


def test_the_recommender_places_spotify_results_with_catalog_features(spotify_settings, fake_spotify, catalog):
    rec = Recommender(catalog, spotify_settings, seed=0, spotify=source(spotify_settings, fake_spotify))
    recs = rec.recommend("happy", "match", n=8)
    assert recs.source == "spotify" and len(recs.tracks) == 8
    got = [r.track.id for r in recs.tracks]
    assert got[:3] == list(HAPPY_IDS)                      # known ids keep catalog features …
    assert recs.tracks[0].track.valence == catalog.get(HAPPY_IDS[0]).valence
    assert "found on Spotify" in recs.tracks[0].reason
    assert FAR_FROM_HAPPY not in got                       # … and are dropped when they do not fit
    assert "no audio features known, ranked by relevance" in recs.tracks[3].reason
    assert recs.tracks[3].track.valence is None
    again = rec.recommend("happy", "match", n=8)           # from cache: the rest of the results, then catalog
    assert not set(got) & {r.track.id for r in again.tracks}
    assert len(again.tracks) == 8


def test_the_recommender_falls_back_to_the_catalog_with_a_note(spotify_settings, fake_spotify, catalog):
    fake_spotify.search = Answer(503, {"error": {"status": 503, "message": "down"}})
    rec = Recommender(catalog, spotify_settings, seed=0, spotify=source(spotify_settings, fake_spotify))
    recs = rec.recommend("sad", "lift", n=6)
    assert recs.source == "catalog" and len(recs.tracks) == 6
    assert "Spotify is having trouble (503)" in recs.note
    assert recs.to_dict()["note"] == recs.note


def test_credentials_and_tokens_never_reach_the_log(spotify_settings, fake_spotify, caplog):
    caplog.set_level(logging.DEBUG)
    source(spotify_settings, fake_spotify).fetch("neutral", "match")
    user = SpotifyUser(spotify_settings, api_base=fake_spotify.base, auth_base=fake_spotify.base)
    loc = requests.get(user.authorize_url(), allow_redirects=False).headers["Location"]
    q = parse_qs(urlparse(loc).query)
    complete_sign_in(spotify_settings, q["code"][0], q["state"][0], api_base=fake_spotify.base,
                     auth_base=fake_spotify.base).play(HAPPY_IDS[0])
    assert "Authorization" in caplog.text  # spotipy did log its request headers …
    for secret in (APP_TOKEN, USER_TOKEN, REFRESH_TOKEN, CLIENT_SECRET):
        assert secret not in caplog.text   # … with the credentials scrubbed
    import base64
    assert base64.b64encode(f"x:{CLIENT_SECRET}".encode()).decode()[8:] not in caplog.text


# ---------------------------------------------------------------- a listener's account (PKCE)

def sign_in(settings, fake, user_key="local"):
    user = SpotifyUser(settings, user_key, api_base=fake.base, auth_base=fake.base)
    url = user.authorize_url()
    assert url.startswith(fake.base + "/authorize?")
    params = parse_qs(urlparse(url).query)
    assert params["redirect_uri"] == ["http://127.0.0.1:8501"] and params["code_challenge_method"] == ["S256"]
    # the listener approves on Spotify's page, which redirects back to the app with ?code=…&state=…
    back = requests.get(url, allow_redirects=False)
    assert back.status_code == 302
    q = parse_qs(urlparse(back.headers["Location"]).query)
    return complete_sign_in(settings, q["code"][0], q["state"][0], api_base=fake.base, auth_base=fake.base), q


def test_sign_in_with_pkce_stores_a_private_token(spotify_settings, fake_spotify):
    user, _ = sign_in(spotify_settings, fake_spotify)
    assert user.signed_in
    assert stat.S_IMODE(user.token_path.stat().st_mode) == 0o600
    assert user.token_path.is_relative_to(spotify_settings.home)
    assert user.devices() == [{"id": "dev1", "name": "Kitchen", "type": "Speaker", "is_active": True}]


def test_a_sign_in_link_works_once(spotify_settings, fake_spotify):
    _, q = sign_in(spotify_settings, fake_spotify)
    with pytest.raises(SpotifyError, match="expired or was already used"):
        complete_sign_in(spotify_settings, q["code"][0], q["state"][0], api_base=fake_spotify.base,
                         auth_base=fake_spotify.base)


def test_a_wrong_code_is_refused_in_words(spotify_settings, fake_spotify):
    user = SpotifyUser(spotify_settings, api_base=fake_spotify.base, auth_base=fake_spotify.base)
    state = parse_qs(urlparse(user.authorize_url()).query)["state"][0]
    with pytest.raises(SpotifyError, match="refused the sign-in"):
        complete_sign_in(spotify_settings, "forged-code", state, api_base=fake_spotify.base,
                         auth_base=fake_spotify.base)
    assert not user.signed_in


def test_play_and_queue_reach_the_player_endpoints(spotify_settings, fake_spotify):
    user, _ = sign_in(spotify_settings, fake_spotify)
    user.play(HAPPY_IDS[0])
    user.add_to_queue(HAPPY_IDS[1], device_id="dev1")
    play, queue = fake_spotify.api_requests("/me/player/play")[0], fake_spotify.api_requests("/me/player/queue")[0]
    assert play.method == "PUT" and play.body == b'{"uris": ["spotify:track:%s"]}' % HAPPY_IDS[0].encode()
    assert queue.method == "POST" and queue.query == {"uri": [f"spotify:track:{HAPPY_IDS[1]}"], "device_id": ["dev1"]}


@pytest.mark.parametrize("answer, message", [
    (Answer(404, {"error": {"status": 404, "message": "Player command failed: No active device found",
                            "reason": "NO_ACTIVE_DEVICE"}}), "no active Spotify device"),
    (Answer(403, {"error": {"status": 403, "message": "Player command failed: Premium required",
                            "reason": "PREMIUM_REQUIRED"}}), "needs Spotify Premium"),
    (Answer(429, {"error": {"status": 429, "message": "rate"}}, {"Retry-After": "7200"}), "try again in 7200 s"),
    (Answer(502, {"error": {"status": 502, "message": "bad gateway"}}), "having trouble"),
])
def test_player_failures_are_told_in_words(spotify_settings, fake_spotify, answer, message):
    user, _ = sign_in(spotify_settings, fake_spotify)
    fake_spotify.player = answer
    with pytest.raises(SpotifyError, match=message):
        user.play(HAPPY_IDS[0])


def test_without_sign_in_the_player_asks_for_it_instead_of_prompting(spotify_settings, fake_spotify):
    user = SpotifyUser(spotify_settings, api_base=fake_spotify.base, auth_base=fake_spotify.base)
    with pytest.raises(SpotifyError, match="sign in first"):
        user.play(HAPPY_IDS[0])
    assert fake_spotify.api_requests() == []


def test_listeners_keep_separate_tokens_and_sign_out_forgets(spotify_settings, fake_spotify):
    alice, _ = sign_in(spotify_settings, fake_spotify, "alice")
    bob = SpotifyUser(spotify_settings, "bob", api_base=fake_spotify.base, auth_base=fake_spotify.base)
    assert alice.signed_in and not bob.signed_in
    alice.sign_out()
    assert not alice.signed_in and not alice.token_path.exists()


def test_spotify_needs_credentials(offline_settings):
    with pytest.raises(SpotifyError, match="SPOTIFY_CLIENT_ID"):
        SpotifySource(offline_settings)
    with pytest.raises(SpotifyError, match="SPOTIFY_CLIENT_ID"):
        SpotifyUser(offline_settings)


def test_disk_cache_is_isolated_per_market(spotify_settings, fake_spotify, tmp_path):
    cache = TTLCache(tmp_path / "c", ttl_s=60)
    source(spotify_settings, fake_spotify, cache=cache).fetch("happy")
    from dataclasses import replace
    se = replace(spotify_settings, spotify_market="SE")
    res = SpotifySource(se, api_base=fake_spotify.base, auth_base=fake_spotify.base, cache=cache).fetch("happy")
    assert not res.from_cache and fake_spotify.api_requests("/search")[-1].query["market"] == ["SE"]
