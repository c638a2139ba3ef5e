"""The History page: rows written through the store are shown, filtered by date, exported, and really deleted."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

from streamlit.testing.v1 import AppTest

from tests.pages.conftest import PAGES
from moodmusic.ui import history_view

PAGE = str(PAGES / "2_History.py")


def _at(hour: int, days_ago: int) -> float:
    day = date.today() - timedelta(days=days_ago)
    return datetime(day.year, day.month, day.day, hour, 0, 0).timestamp()


def _fill(store) -> None:
    """Two sessions over two days: 3 readings yesterday, 4 today; one liked track with markup in its name."""
    for i, mood in enumerate(["sad", "sad", "neutral"]):
        store.add_reading("yesterday-session", mood, 0.7, ts=_at(10, 1) + 2 * i)
    for i, mood in enumerate(["happy", "happy", "happy", "surprise"]):
        store.add_reading("today-session", mood, 0.8, ts=_at(9, 0) + 2 * i)
    store.add_shown("today-session", "4uLU6hMCjMI75M1A2tKUQC", "happy", "match", name="Never <b>Gonna</b>",
                    artist="Rick *Astley*")
    store.add_feedback("today-session", "4uLU6hMCjMI75M1A2tKUQC", True, "happy")


def _run(session_id: str | None = None, sid_param: str | None = None) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    if session_id:
        at.session_state["session_id"] = session_id
    if sid_param:  # a reload: a fresh Streamlit session, the address still holding ?sid=
        at.query_params["sid"] = sid_param
    at.run()
    assert not at.exception, at.exception
    return at


def test_an_empty_history_says_where_readings_come_from(home):
    at = _run()
    assert any("No mood readings yet" in e.value for e in at.info)


def test_readings_from_the_store_are_charted_shared_per_day_and_liked_tracks_listed(home, store):
    _fill(store)
    at = _run()
    assert any(m.value == "#### Moods over time · 7 readings" for m in at.markdown)
    assert len(at.get("vega_lite_chart")) == 2  # timeline + share per day
    shares = at.dataframe[0].value
    assert len(shares) == 2
    assert shares.loc[str(date.today()), "happy"] == 0.75
    assert abs(shares.loc[str(date.today() - timedelta(days=1)), "sad"] - 2 / 3) < 1e-9
    assert any(m.value == "#### Tracks you liked" for m in at.markdown)
    liked = "".join(str(h.proto) for h in at.get("html"))
    # outside text escaped exactly once: the markup shows as text, never as "&amp;lt;" or markdown
    assert "Never &lt;b&gt;Gonna&lt;/b&gt;" in liked and "Rick *Astley*" in liked and "&amp;lt;" not in liked
    assert "liked when" in liked and "open.spotify.com/track/4uLU6hMCjMI75M1A2tKUQC" in liked


def test_the_date_filter_narrows_the_readings(home, store):
    _fill(store)
    at = _run()
    today = date.today()
    at.date_input(key="history-dates").set_value((today, today)).run()
    assert any(m.value == "#### Moods over time · 4 readings" for m in at.markdown)
    assert list(at.dataframe[0].value.index) == [str(today)]


def test_delete_asks_first_and_cancel_keeps_everything(home, store):
    _fill(store)
    at = _run()
    at.button(key="history-delete").click().run()
    assert "cannot be undone" in at.warning[0].value
    assert store.counts()["readings"] == 7  # nothing deleted yet
    at.button(key="history-delete-no").click().run()
    assert not at.warning and store.counts()["readings"] == 7


def test_delete_really_empties_the_history(home, store):
    _fill(store)
    at = _run()
    at.button(key="history-delete").click().run()
    at.button(key="history-delete-yes").click().run()
    assert not at.exception
    assert store.counts() == {"sessions": 0, "readings": 0, "shown": 0, "feedback": 0, "games": 0}
    assert [s.value for s in at.success] == [
        "Deleted all history on this computer: 7 mood readings, 1 track shown and 1 like or skip."]
    assert any("No mood readings yet" in e.value for e in at.info)
    assert json.loads(history_view.export_text(store))["readings"] == []


def test_this_session_only_shows_and_deletes_just_this_session(home, store):
    _fill(store)
    at = _run(session_id="today-session")
    at.radio(key="history-scope").set_value("this").run()
    assert any(m.value == "#### Moods over time · 4 readings" for m in at.markdown)
    at.button(key="history-delete").click().run()
    at.button(key="history-delete-yes").click().run()
    counts = store.counts()
    assert counts["readings"] == 3 and counts["feedback"] == 0
    assert {r.session_id for r in store.readings()} == {"yesterday-session"}


def _caption(at: AppTest) -> str:
    return next(c.value for c in at.caption if c.value.startswith("Stored "))


def test_the_stored_count_follows_the_session_choice_in_words(home, store):
    _fill(store)
    at = _run(session_id="today-session")
    assert _caption(at).startswith(
        "Stored on this computer: 7 mood readings, 1 track shown and 1 like or skip, over 2 sessions.")
    at.radio(key="history-scope").set_value("this").run()
    assert _caption(at).startswith(
        "Stored for this browser session: 4 mood readings, 1 track shown and 1 like or skip.")
    at = _run(session_id="yesterday-session")
    at.radio(key="history-scope").set_value("this").run()
    assert _caption(at).startswith("Stored for this browser session: 3 mood readings, no tracks shown and no "
                                   "likes or skips.")
    text = "\n".join(m.value for m in at.markdown)
    assert "about once a second" in text and "No video, audio, picture or uploaded file" in text
    assert " rows" not in _caption(at)


def test_deleting_this_session_says_what_went_in_words(home, store):
    _fill(store)
    at = _run(session_id="today-session")
    at.radio(key="history-scope").set_value("this").run()
    at.button(key="history-delete").click().run()
    at.button(key="history-delete-yes").click().run()
    assert [s.value for s in at.success] == [
        "Deleted this browser session's history: 4 mood readings, 1 track shown and 1 like or skip."]


def test_the_session_id_is_kept_in_the_address_and_survives_a_reload(home, store):
    first = _run()
    sid = first.query_params["sid"]
    assert sid == first.session_state["session_id"] and len(sid) == 32
    for i, mood in enumerate(["angry", "angry", "sad"]):  # what the live page writes under this id
        store.add_reading(sid, mood, 0.8, ts=_at(11, 0) + 2 * i)
    store.add_reading("someone-else", "happy", 0.8, ts=_at(11, 0))

    again = _run(sid_param=sid)  # reload: session_state is new, the address is not
    assert again.session_state["session_id"] == sid and again.query_params["sid"] == sid
    again.radio(key="history-scope").set_value("this").run()
    assert any(m.value == "#### Moods over time · 3 readings" for m in again.markdown)

    forged = _run(sid_param="x'; DROP TABLE readings; --")  # not an id: a new one, nothing read with it
    assert forged.session_state["session_id"] != "x'; DROP TABLE readings; --"
    assert store.counts()["readings"] == 4


def test_the_time_axis_reads_as_clock_times():
    import pandas as pd

    def frame(*times: str) -> pd.DataFrame:
        return pd.DataFrame({"time": pd.to_datetime(list(times))})

    assert history_view.time_format(frame("2025-03-01 09:00:00", "2025-03-01 09:00:30")) == "%H:%M:%S"
    assert history_view.time_format(frame("2025-03-01 09:00:00", "2025-03-01 17:00:00")) == "%H:%M"
    assert history_view.time_format(frame("2025-03-01 09:00:00", "2025-03-02 09:00:00")) == "%d %b %H:%M"


def test_the_page_timeline_uses_a_clock_format(home, store):
    _fill(store)
    at = _run()
    spec = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    axis = spec["encoding"]["x"]["axis"]
    assert axis["format"] == "%d %b %H:%M"  # readings on two days


def test_on_postgresql_the_page_says_the_history_is_shared_not_on_this_computer(home, pg_backend, monkeypatch):
    """MOODMUSIC_DB=postgresql://… (every replica's history): the page reads and words it as the shared database."""
    from moodmusic.ui import resources

    monkeypatch.setenv("MOODMUSIC_DB", str(pg_backend.target))
    resources.store.clear()
    store = resources.store()
    assert store.backend == "postgres"
    _fill(store)
    at = _run(session_id="today-session")
    assert _caption(at).startswith(
        "Stored in the shared database: 7 mood readings, 1 track shown and 1 like or skip, over 2 sessions.")
    assert not any("on this computer" in m.value for m in [*at.markdown, *at.caption])
    at.button(key="history-delete").click().run()
    assert any("Delete all history in the shared database" in w.value for w in at.warning)
    resources.store.clear()
