"""The history store → tables and charts for the History page: date ranges, thinning, sessions, deletion.

Pure functions over `moodmusic.store.Store` and pandas, so the page stays a
thin layout and the tests can check the sums.

>>> from datetime import date
>>> a, b = day_bounds(date(2024, 3, 1), date(2024, 3, 1))
>>> b - a in (82800.0, 86400.0, 90000.0)   # one local day (23/24/25 h around DST)
True
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

import pandas as pd

from moodmusic.moods import MOODS

MAX_POINTS = 4000  # beyond this the timeline shows each minute's most frequent mood


def day_bounds(start: date, end: date) -> tuple[float, float]:
    """Epoch seconds from local midnight of `start` to local midnight after `end` (end inclusive)."""
    if end < start:
        start, end = end, start
    a = datetime.combine(start, time.min).timestamp()
    b = datetime.combine(end + timedelta(days=1), time.min).timestamp()
    return a, b


def readings_frame(readings: Sequence) -> pd.DataFrame:
    """Readings as rows: local time, session, mood, confidence (oldest first)."""
    return pd.DataFrame(
        [{"time": datetime.fromtimestamp(r.ts), "session": r.session_id[:8], "mood": r.mood,
          "confidence": round(float(r.confidence), 3)} for r in readings],
        columns=["time", "session", "mood", "confidence"],
    )


def thin(frame: pd.DataFrame, max_points: int = MAX_POINTS) -> tuple[pd.DataFrame, bool]:
    """At most about `max_points` rows: each session's most frequent mood per minute when there are more."""
    if len(frame) <= max_points:
        return frame, False
    minute = frame.assign(time=frame["time"].dt.floor("min"))
    grouped = (minute.groupby(["session", "time", "mood"], as_index=False)
               .agg(n=("mood", "size"), confidence=("confidence", "mean")))
    best = grouped.sort_values("n", ascending=False).drop_duplicates(["session", "time"])
    return best.sort_values("time")[["time", "session", "mood", "confidence"]].reset_index(drop=True), True


def share_frame(share: dict[str, dict[str, float]]) -> pd.DataFrame:
    """`Store.mood_share_by_day` in long form: day, mood, share (every mood of every day, zeros kept)."""
    return pd.DataFrame(
        [{"day": day, "mood": m, "share": float(by_mood.get(m, 0.0))} for day, by_mood in sorted(share.items())
         for m in MOODS],
        columns=["day", "mood", "share"],
    )


def liked_rows(liked: dict) -> list[tuple[str, list[str]]]:
    """[(mood, ["name — artist", ...])] in the order of MOODS, only moods with likes."""
    out = []
    for mood in MOODS:
        tracks = liked.get(mood) or []
        if tracks:
            out.append((mood, [f"{t.name} — {t.artist}" if t.artist else (t.name or t.track_id) for t in tracks]))
    return out


def session_ids(store) -> list[str]:
    """Every session the store knows (all of this computer's history)."""
    buf = io.StringIO()
    store.export(buf)
    return [row["session_id"] for row in json.loads(buf.getvalue())["sessions"]]


def delete_sessions(store, ids: Sequence[str]) -> int:
    """Really delete these sessions' readings, tracks shown and likes/skips; returns rows deleted."""
    return sum(store.delete_history(i) for i in ids)


def export_text(store, session_id: str | None = None) -> str:
    """The whole history (or one session's) as the store's JSON export."""
    buf = io.StringIO()
    store.export(buf, session_id=session_id)
    return buf.getvalue()
