"""The history store → tables and charts for the History page: date ranges, thinning, sessions, deletion.

Pure functions over `moodmusic.store.Store` and pandas, so the page stays a
thin layout and the tests can check the sums.

>>> from datetime import date
>>> a, b = day_bounds(date(2024, 3, 1), date(2024, 3, 1))
>>> b - a in (82800.0, 86400.0, 90000.0)   # one local day (23/24/25 h around DST)
True
>>> stored_text({"sessions": 2, "readings": 7, "shown": 8, "feedback": 1}, this_session=False)
'Stored on this computer: 7 mood readings, 8 tracks shown and 1 like or skip, over 2 sessions.'
>>> stored_text({"sessions": 1, "readings": 1, "shown": 0, "feedback": 0}, this_session=True)
'Stored for this browser session: 1 mood reading, no tracks shown and no likes or skips.'
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


def _count(n: int, one: str, many: str) -> str:
    return f"no {many}" if n == 0 else f"1 {one}" if n == 1 else f"{n:,} {many}"


def contents_text(counts: dict[str, int]) -> str:
    """"7 mood readings, 8 tracks shown and 1 like or skip" (and mood-game matches, if any): the rows in words."""
    parts = [_count(counts['readings'], 'mood reading', 'mood readings'),
             _count(counts['shown'], 'track shown', 'tracks shown'),
             _count(counts['feedback'], 'like or skip', 'likes or skips')]
    if counts.get("games"):
        parts.append(_count(counts["games"], "mood-game match", "mood-game matches"))
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def place(backend: str = "sqlite") -> str:
    """Where the history lives, in words: a file here, or the PostgreSQL database every replica shares.

    >>> place("sqlite"), place("postgres")
    ('on this computer', 'in the shared database')
    """
    return "in the shared database" if backend == "postgres" else "on this computer"


def whose(this_session: bool, backend: str = "sqlite") -> str:
    """What "delete" takes, in words: this browser session's history, or all of it where it lives."""
    return "this browser session's history" if this_session else f"all history {place(backend)}"


def stored_text(counts: dict[str, int], this_session: bool, backend: str = "sqlite") -> str:
    """What is stored for the scope the page shows (`Store.counts` for that scope), in words."""
    if this_session:
        return f"Stored for this browser session: {contents_text(counts)}."
    sessions = _count(counts["sessions"], "session", "sessions")
    return f"Stored {place(backend)}: {contents_text(counts)}, over {sessions}."


def deleted_text(counts: dict[str, int], this_session: bool, backend: str = "sqlite") -> str:
    """The confirmation after a deletion, naming what went (counts taken just before it)."""
    return f"Deleted {whose(this_session, backend)}: {contents_text(counts)}."


def what_is_stored(interval_s: float = 1.0, backend: str = "sqlite") -> str:
    """What the history holds and how often it is written (the live page's `music_watch` and the store)."""
    often = "about once a second" if interval_s == 1 else f"at most once every {interval_s:g} s"
    return (
        f"**What is stored, and how often.** While the live page shows a current mood, one reading (the mood, "
        f"how sure it is, and how much the face and the voice counted) is stored {often}; nothing is stored "
        "while the camera and microphone are off. Each list of tracks is stored when it is shown (and the new "
        "track when you skip one), and each like or skip when you press it. No video, audio, picture or "
        "uploaded file is ever stored. "
        + ("It all stays in a local file on this computer" if backend != "postgres"
           else "It all goes to the PostgreSQL database this app's servers share")
        + ", under a random id for each browser session; the id is kept in the page address (`?sid=…`), "
        "so a reload keeps it."
    )


def time_format(frame: pd.DataFrame) -> str:
    """A d3 time format for the timeline's axis that fits the span shown (never a bare ':25')."""
    if frame.empty:
        return "%H:%M"
    span = (frame["time"].max() - frame["time"].min()).total_seconds()
    days = frame["time"].dt.date.nunique()
    if days > 1:
        return "%d %b %H:%M"
    return "%H:%M:%S" if span < 600 else "%H:%M"


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
