"""History helpers: day bounds, thinning a long history, shares in long form, export of what is stored."""

from __future__ import annotations

import json
from datetime import date, datetime

import pandas as pd

from moodmusic.moods import MOODS
from moodmusic.ui import history_view as hv


def test_day_bounds_cover_whole_local_days_in_either_order():
    a, b = hv.day_bounds(date(2024, 5, 3), date(2024, 5, 1))
    assert datetime.fromtimestamp(a) == datetime(2024, 5, 1)
    assert datetime.fromtimestamp(b) == datetime(2024, 5, 4)


def test_a_long_history_is_thinned_to_each_minutes_most_frequent_mood():
    t0 = pd.Timestamp("2024-05-01 10:00:00")
    rows = [{"time": t0 + pd.Timedelta(seconds=s), "session": "s1",
             "mood": "happy" if s % 60 < 40 else "sad", "confidence": 0.5} for s in range(600)]
    thin, thinned = hv.thin(pd.DataFrame(rows), max_points=100)
    assert thinned and len(thin) == 10 and set(thin["mood"]) == {"happy"}
    same, thinned = hv.thin(pd.DataFrame(rows), max_points=1000)
    assert not thinned and len(same) == 600


def test_shares_keep_every_mood_of_every_day():
    frame = hv.share_frame({"2024-05-02": {"happy": 1.0}, "2024-05-01": {"sad": 0.5, "fear": 0.5}})
    assert len(frame) == 2 * len(MOODS)
    assert frame.groupby("day")["share"].sum().tolist() == [1.0, 1.0]
    assert frame.iloc[0]["day"] == "2024-05-01"


def test_export_and_session_listing_reflect_the_store(store):
    store.add_reading("a", "happy", 0.9, ts=1000.0)
    store.add_reading("b", "sad", 0.9, ts=2000.0)
    assert sorted(hv.session_ids(store)) == ["a", "b"]
    doc = json.loads(hv.export_text(store, session_id="b"))
    assert [r["mood"] for r in doc["readings"]] == ["sad"]
    assert hv.delete_sessions(store, ["a"]) == 2  # its reading and its session row
    assert hv.session_ids(store) == ["b"]
