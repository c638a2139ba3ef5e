"""The music controls and list every page offers for a mood: strategy, genre, decade, like/skip.

One per-session `Recommender` (kept in `st.session_state`, so likes on one
page shape the next list on another); shown tracks and likes/skips go to the
history store, and a store failure is noted, never raised.
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
    ui.track_list(recs, on_feedback=lambda track_id, liked: record_feedback(track_id, liked, recs.mood), key=key)


def record_feedback(track_id: str, liked: bool, mood: str) -> None:
    """A like or skip: shapes this session's next lists and goes to the history."""
    rec = recommender()
    if rec is not None:
        rec.feedback(track_id, liked)
    try:
        resources.store().add_feedback(session_id(), track_id, liked, mood)
    except Exception as exc:
        st.caption(f"⚠️ History is not being saved: {exc}")
    st.toast("Noted — more like this." if liked else "Skipped — less like this.")


def note_shown(recs) -> None:
    """Write the tracks just shown to the history (a store failure is noted, never raised)."""
    try:
        store = resources.store()
        for r in recs.tracks:
            store.add_shown(session_id(), r.track.id, recs.mood, recs.strategy, name=r.track.name,
                            artist=r.track.artist)
    except Exception as exc:
        st.caption(f"⚠️ History is not being saved: {exc}")
