"""History: moods over time across sessions, each mood's share per day, liked tracks; export and delete.

Everything shown comes from the local SQLite history (`moodmusic.store`);
deleting really deletes (rows removed, freed pages overwritten).
"""

from __future__ import annotations

from datetime import date, timedelta

import streamlit as st

st.set_page_config(page_title="History · moodmusic", page_icon="📈", layout="wide")

import altair as alt  # noqa: E402

from moodmusic.moods import MOODS, STYLES  # noqa: E402
from moodmusic.store import StoreError  # noqa: E402
from moodmusic.ui import history_view as hv  # noqa: E402
from moodmusic.ui import music_panel, resources  # noqa: E402
from moodmusic.ui.text import plain  # noqa: E402

state = st.session_state
COLOURS = alt.Scale(domain=list(MOODS), range=[STYLES[m].colour for m in MOODS])
SCOPES = {"all": "All sessions", "this": "This browser session only"}

st.title("📈 History")
if state.get("history-done"):
    st.success(state.pop("history-done"))

browser_session = music_panel.session_id()  # always, so the address carries it and a reload keeps it
try:
    store = resources.store()
    scope = st.radio("Whose history", list(SCOPES), format_func=SCOPES.get, horizontal=True, key="history-scope")
    session = browser_session if scope == "this" else None
    days = sorted(store.mood_share_by_day(session_id=session))
    counts = store.counts(session_id=session)
except StoreError as exc:
    st.error(plain(str(exc)))
    st.stop()

st.caption(hv.stored_text(counts, this_session=session is not None, backend=store.backend)
           + " No video or audio is ever stored.")
with st.expander("What is stored, and how often"):
    st.markdown(hv.what_is_stored(store.min_interval_s, backend=store.backend))

if not days:
    st.info("No mood readings yet" + (" in this browser session" if session else "")
            + ". They appear here once the live page has read your mood.")
else:
    first, today = date.fromisoformat(days[0]), date.today()
    last = max(today, date.fromisoformat(days[-1]))
    picked = st.date_input("Dates", value=(max(first, last - timedelta(days=30)), last), min_value=first,
                           max_value=last, key="history-dates")
    start, end = (picked if isinstance(picked, (tuple, list)) and len(picked) == 2
                  else (picked[0], picked[0]) if isinstance(picked, (tuple, list)) and picked else (first, last))
    lo, hi = hv.day_bounds(start, end)
    try:
        frame = hv.readings_frame(store.readings(lo, hi, session_id=session))
        share = hv.share_frame(store.mood_share_by_day(lo, hi, session_id=session))
    except StoreError as exc:
        st.error(plain(str(exc)))
        st.stop()

    st.markdown(f"#### Moods over time · {len(frame)} readings")
    if frame.empty:
        st.info("No readings in these dates.")
    else:
        shown, thinned = hv.thin(frame)
        chart = (
            alt.Chart(shown).mark_circle(size=40)
            .encode(
                x=alt.X("time:T", title=None, axis=alt.Axis(format=hv.time_format(shown), labelOverlap=True)),
                y=alt.Y("mood:N", sort=list(MOODS), scale=alt.Scale(domain=list(MOODS)), title=None),
                color=alt.Color("mood:N", scale=COLOURS, legend=None),
                opacity=alt.Opacity("confidence:Q", legend=None, scale=alt.Scale(domain=[0.2, 1])),
                tooltip=[alt.Tooltip("time:T", format="%Y-%m-%d %H:%M:%S"), "session", "mood",
                         alt.Tooltip("confidence:Q", format=".0%")],
            )
            .properties(height=230)
        )
        st.altair_chart(chart, width="stretch")
        if thinned:
            st.caption("Many readings: each session's most frequent mood per minute is shown.")

        st.markdown("#### Share of each mood per day")
        bars = (
            alt.Chart(share).mark_bar()
            .encode(
                x=alt.X("day:N", title=None, axis=alt.Axis(labelAngle=0)),
                y=alt.Y("share:Q", stack="normalize", axis=alt.Axis(format="%"), title=None),
                color=alt.Color("mood:N", scale=COLOURS, sort=list(MOODS)),
                order=alt.Order("mood:N"),
                tooltip=["day", "mood", alt.Tooltip("share:Q", format=".0%")],
            )
            .properties(height=230)
        )
        st.altair_chart(bars, width="stretch")
        table = share.pivot(index="day", columns="mood", values="share").reindex(columns=list(MOODS))
        with st.expander("Shares as a table"):
            st.dataframe(table.style.format("{:.0%}"), width="stretch")

music_panel.liked_section(store, session)  # newest first, names escaped once, each linked to Spotify

st.divider()
left, right = st.columns(2)
with left:
    st.markdown("#### Export")
    try:
        st.download_button("⬇️ Download history (JSON)", hv.export_text(store, session_id=session),
                           file_name="moodmusic-history.json", mime="application/json", key="history-export")
    except StoreError as exc:
        st.error(plain(str(exc)))
with right:
    st.markdown("#### Delete")
    what = hv.whose(session is not None, store.backend)
    if not state.get("history-confirm"):
        if st.button("🗑️ Delete my history…", key="history-delete"):
            state["history-confirm"] = True
            st.rerun()
    else:
        st.warning(f"Delete {what} — mood readings, tracks shown, likes and skips? This cannot be undone.")
        yes, no = st.columns(2)
        if yes.button("Yes, delete it", type="primary", key="history-delete-yes"):
            state["history-confirm"] = False
            try:
                ids = [session] if session else hv.session_ids(store)
                gone = store.counts(session_id=session)
                hv.delete_sessions(store, ids)
                state["history-done"] = hv.deleted_text(gone, this_session=session is not None, backend=store.backend)
            except StoreError as exc:
                state["history-done"] = None
                st.error(plain(str(exc)))
                st.stop()
            st.rerun()
        if no.button("Cancel", key="history-delete-no"):
            state["history-confirm"] = False
            st.rerun()
