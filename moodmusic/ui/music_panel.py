"""The music controls and list every page offers for a mood: strategy, genre, decade, like/skip.

One per-session `Recommender` (kept in `st.session_state`, so likes on one
page shape the next list on another). It starts with the likes and skips of
earlier sessions from the history store, so they steer every later list; shown
tracks and new likes/skips go to the store, and a store failure is noted, never
raised. A skip swaps the track for the next best one in place; a like marks it
and keeps it.
"""

from __future__ import annotations

import streamlit as st

from moodmusic.ui import components as ui
from moodmusic.ui import resources

STRATEGY_LABELS = {"match": "Match my mood", "lift": "Lift me up", "calm": "Calm me down"}


SESSION_PARAM = "sid"  # the browser session's id in the page address: ?sid=...


def session_id() -> str:
    """This browser session's id, also kept in the page address (`?sid=…`) so that a reload keeps it.

    `st.session_state` dies with a reload; the address does not, so "this browser session" on the
    History page still finds the readings the live page wrote before. Every page calls this, and
    the parameter is put back when a page switch drops it. Only a plausible id is taken from it.
    """
    import re
    import uuid

    state = st.session_state
    if "session_id" not in state:
        given = st.query_params.get(SESSION_PARAM, "")
        state.session_id = given if re.fullmatch(r"[A-Za-z0-9_-]{8,64}", given) else uuid.uuid4().hex
    if st.query_params.get(SESSION_PARAM) != state.session_id:
        st.query_params[SESSION_PARAM] = state.session_id
    return state.session_id


def recommender():
    """The session's recommender, or None with an error shown when the catalog cannot be loaded."""
    state = st.session_state
    if state.get("recommender") is None:
        try:
            from moodmusic.music import Recommender

            state.recommender = Recommender(catalog=resources.catalog(), settings=resources.settings())
        except Exception as exc:  # a damaged catalog: the analysis still stands
            st.error(f"The music catalog could not be loaded: {exc}")
            return None
        try:  # likes and skips of earlier sessions on this computer steer this one's lists
            state.recommender.remember(resources.store().track_feedback())
        except Exception as exc:  # no history: lists are still made, only without it
            st.caption(f"⚠️ Earlier likes and skips could not be read: {exc}")
    return state.recommender


def controls(key: str) -> tuple[str, str | None, str | None]:
    """Strategy, genre and decade pickers (None = any), laid out in one row."""
    rec = recommender()
    a, b, c = st.columns([3, 2, 2])
    strategy = a.radio("Strategy", list(STRATEGY_LABELS), format_func=STRATEGY_LABELS.get, key=f"{key}-strategy",
                       horizontal=True)
    genres = rec.genres() if rec is not None else []
    decades = rec.decades() if rec is not None else []
    genre = b.selectbox("Genre", ["any"] + genres, key=f"{key}-genre")
    decade = c.selectbox("Decade", ["any"] + decades, key=f"{key}-decade")
    return strategy, None if genre == "any" else genre, None if decade == "any" else decade


def music_for(mood: str, key: str, n: int = 8) -> None:
    """Controls plus a track list for `mood`; the list is recomputed only when a choice changes."""
    strategy, genre, decade = controls(key)
    rec = recommender()
    if rec is None:
        return
    state = st.session_state
    wanted = (mood, strategy, genre, decade)
    if state.get(f"{key}-recs-key") != wanted:
        recs = rec.recommend(mood, strategy, n=n, genre=genre, decade=decade)
        state[f"{key}-recs"], state[f"{key}-recs-key"] = recs, wanted
        note_shown(recs)
    recs = state[f"{key}-recs"]
    st.markdown(f"#### Music for {recs.mood} · {STRATEGY_LABELS[recs.strategy].lower()}")
    ui.track_list(recs, on_feedback=feedback_handler(f"{key}-recs"), key=key, liked=rec.liked)


def feedback_handler(recs_key: str):
    """The like/skip callback for the list kept in `st.session_state[recs_key]` (run before the page redraws)."""
    return lambda track_id, liked: record_feedback(track_id, liked, recs_key)


def record_feedback(track_id: str, liked: bool, recs_key: str) -> None:
    """A like marks the track and keeps it; a skip replaces it. Both steer later lists and go to the history."""
    state = st.session_state
    recs = state.get(recs_key)
    rec = recommender()
    if recs is None or rec is None:
        return
    try:
        rec.feedback(track_id, liked)
    except KeyError:  # a Spotify-only track: nothing to steer by, but it is still remembered
        pass
    if not liked:
        state[recs_key] = rec.replace(recs, track_id)
        note_shown(state[recs_key], only={r.track.id for r in state[recs_key].tracks} - {r.track.id for r in recs.tracks})
    try:
        resources.store().add_feedback(session_id(), track_id, liked, recs.mood)
    except Exception as exc:
        st.toast(f"⚠️ History is not being saved: {exc}")
    name = next((r.track.name for r in recs.tracks if r.track.id == track_id), "the track")
    st.toast(f"Liked {name}: more like this." if liked else f"Skipped {name}: here is another.")


def note_shown(recs, only: set[str] | None = None) -> None:
    """Write the tracks just shown (or those in `only`) to the history (a store failure is noted, never raised)."""
    try:
        store = resources.store()
        for r in recs.tracks:
            if only is not None and r.track.id not in only:
                continue
            store.add_shown(session_id(), r.track.id, recs.mood, recs.strategy, name=r.track.name,
                            artist=r.track.artist)
    except Exception as exc:
        st.caption(f"⚠️ History is not being saved: {exc}")


def pick_live(snap, rec, strategy: str, genre: str | None, decade: str | None, window_s: float,
              paused: bool, step_s: float) -> bool:
    """The live page's music, decided on every full run: returns True when a new list was picked.

    The music follows the dominant mood of the last `window_s` s (`music.dominant.music_mood`), kept in
    `st.session_state.music_mood`; paused, that mood stays. A new list is picked right here, in the run a
    control change causes, whenever the mood, strategy, genre or decade differs from the list shown.
    """
    from moodmusic.music.dominant import music_mood

    state = st.session_state
    if not paused:
        state.music_mood = music_mood(state.get("music_mood"), snap.timeline, snap.updated, window_s, step_s)
    mood = state.get("music_mood")
    wanted = (mood, strategy, genre, decade)
    if rec is None or mood is None or wanted == state.get("recs_key"):
        return False
    recs = rec.recommend(mood, strategy, n=8, genre=genre, decade=decade)
    state.recs, state.recs_key = recs, wanted
    note_shown(recs)
    return True


def liked_html(liked) -> str:
    """Liked tracks [(LikedTrack, mood)] as an HTML list: name, artist, the mood it was liked in, a Spotify link.

    Names are escaped exactly once (`attr`), never passed through markdown.

    >>> from moodmusic.store import LikedTrack
    >>> html = liked_html([(LikedTrack("abc", "Don't Stop", "A & B", 0.0), "sad")])
    >>> "Don&#x27;t Stop" in html and "A &amp; B" in html and "open.spotify.com/track/abc" in html
    True
    """
    from datetime import datetime

    from moodmusic.moods import STYLES
    from moodmusic.ui.text import attr

    items = []
    for track, mood in liked:
        when = datetime.fromtimestamp(track.ts).strftime("%d %b %Y, %H:%M")
        emoji = STYLES[mood].emoji if mood in STYLES else ""
        items.append(
            f'<li class="mm-liked-track" data-track-id="{attr(track.track_id)}">'
            f'<a href="https://open.spotify.com/track/{attr(track.track_id)}" target="_blank" rel="noopener">'
            f'<b>{attr(track.name or track.track_id)}</b></a> — {attr(track.artist or "unknown artist")} '
            f'<span style="opacity:.7">· liked when {emoji} {attr(mood)} · {attr(when)}</span></li>'
        )
    return f'<ul class="mm-liked-tracks" style="margin:0;padding-left:1.2rem">{"".join(items)}</ul>'


def liked_section(store, session: str | None = None) -> None:
    """The History page's "Tracks you liked": newest first, latest verdict per track (a later skip removes it)."""
    st.markdown("#### Tracks you liked")
    try:
        liked = store.liked_tracks(session_id=session)
    except Exception as exc:  # the rest of the page still stands
        st.error(f"Liked tracks could not be read: {exc}")
        return
    if not liked:
        st.caption("No liked tracks yet: press **👍 Like** under a track you like. Likes are kept here, and later "
                   "lists lean towards them.")
        return
    st.caption(f"{len(liked)} track{'s' if len(liked) != 1 else ''}, newest first. Every later list leans towards "
               "them; skipped tracks are not offered again.")
    st.html(liked_html(liked))
