"""The listening history in SQLite: mood readings, tracks shown, likes and skips.

Embedded on purpose: one file (`Settings.database`), no server. Built for
several page sessions (threads) and processes writing at once:

* WAL journal, so readers never block the writer and a crash mid-write
  leaves what was committed intact;
* every write is one short transaction, and a busy database is waited on
  for `busy_timeout_s` before the write is given up;
* readings are downsampled in the database itself: at most one per
  `min_interval_s` per session (a UNIQUE slot; extra readings are ignored),
  so a 30 fps stream costs one row a second whoever writes it;
* schema changes are numbered migrations recorded in `PRAGMA user_version`.

Failures (busy, read-only, disk full, not a database) raise `StoreError`
with a `kind` and a one-line message; the connection stays usable and what
was already committed is untouched, so the app can note it and carry on.
`delete_history` really deletes: `secure_delete` overwrites the freed
pages and the WAL is checkpointed and truncated.

>>> import tempfile, pathlib
>>> s = Store(pathlib.Path(tempfile.mkdtemp()) / "h.sqlite3")
>>> s.add_reading("sess-1", "happy", 0.9, 0.8, 0.7, ts=1_000.0)
True
>>> s.add_reading("sess-1", "happy", 0.9, ts=1_000.5)   # same second: downsampled away
False
>>> [r.mood for r in s.readings(0, 2_000)]
['happy']
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from moodmusic.moods import MOODS

STRATEGY_NAMES = ("match", "lift", "calm")

# Numbered schema migrations; index + 1 is the version after applying it.
MIGRATIONS: tuple[str, ...] = (
    # 1: the three histories, keyed by session
    """
    CREATE TABLE sessions (
        session_id TEXT PRIMARY KEY,
        user_id    TEXT,
        started    REAL NOT NULL
    );
    CREATE TABLE readings (
        id         INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL,
        ts         REAL NOT NULL,
        slot       INTEGER NOT NULL,
        mood       TEXT NOT NULL,
        confidence REAL NOT NULL,
        face_conf  REAL,
        voice_conf REAL,
        UNIQUE (session_id, slot)
    );
    CREATE INDEX readings_ts ON readings (ts);
    CREATE TABLE shown (
        id         INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL,
        ts         REAL NOT NULL,
        track_id   TEXT NOT NULL,
        mood       TEXT NOT NULL,
        strategy   TEXT NOT NULL
    );
    CREATE INDEX shown_session ON shown (session_id, ts);
    CREATE TABLE feedback (
        id         INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL,
        ts         REAL NOT NULL,
        track_id   TEXT NOT NULL,
        liked      INTEGER NOT NULL,
        mood       TEXT NOT NULL
    );
    CREATE INDEX feedback_session ON feedback (session_id, ts);
    """,
    # 2: remember what a shown track was called (Spotify-only tracks are not in the catalog),
    #    and find a user's sessions fast
    """
    ALTER TABLE shown ADD COLUMN name TEXT NOT NULL DEFAULT '';
    ALTER TABLE shown ADD COLUMN artist TEXT NOT NULL DEFAULT '';
    CREATE INDEX shown_track ON shown (track_id, ts);
    CREATE INDEX sessions_user ON sessions (user_id);
    """,
    # 3: the mood game's finished matches, the leaderboard (players 1 or 2; p2 NULL for a solo game;
    #    winner 1 or 2, NULL for a draw or a solo game)
    """
    CREATE TABLE games (
        id         INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL,
        ts         REAL NOT NULL,
        rounds     INTEGER NOT NULL,
        players    INTEGER NOT NULL,
        p1         INTEGER NOT NULL,
        p2         INTEGER,
        winner     INTEGER
    );
    CREATE INDEX games_session ON games (session_id, ts);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
# What a person's history is made of: counted, exported and deleted together (with their `sessions` rows).
HISTORY_TABLES: tuple[str, ...] = ("readings", "shown", "feedback", "games")


# A feedback row `f`'s track name and artist, as the last list that showed the track had them.
_NAME_AND_ARTIST = (
    "COALESCE((SELECT s.name FROM shown s WHERE s.track_id = f.track_id AND s.name != '' "
    "ORDER BY s.ts DESC LIMIT 1), ''), "
    "COALESCE((SELECT s.artist FROM shown s WHERE s.track_id = f.track_id AND s.artist != '' "
    "ORDER BY s.ts DESC LIMIT 1), '')"
)


class StoreError(Exception):
    """The history could not be read or written; `kind` says why, the message says what to do."""

    def __init__(self, message: str, kind: str = "other") -> None:
        super().__init__(message)
        self.kind = kind  # busy | read_only | full | corrupt | open | newer | other


@dataclass(frozen=True)
class Reading:
    session_id: str
    ts: float
    mood: str
    confidence: float
    face_conf: float | None
    voice_conf: float | None


@dataclass(frozen=True)
class GameResult:
    """One finished mood-game match: points per player (one for a solo game), the winner 1/2 or None."""

    session_id: str
    ts: float
    rounds: int
    points: tuple[int, ...]
    winner: int | None


@dataclass(frozen=True)
class LikedTrack:
    track_id: str
    name: str
    artist: str
    ts: float


def _epoch(t: datetime | float | int | None, default: float) -> float:
    if t is None:
        return default
    if isinstance(t, datetime):
        return t.timestamp()  # naive datetimes are local time
    return float(t)


def _classify(exc: sqlite3.Error, path: Path, action: str) -> StoreError:
    msg = str(exc).lower()
    if "locked" in msg or "busy" in msg:
        return StoreError(f"the history database is busy (another writer held it too long); {action} was not saved",
                          "busy")
    if "readonly" in msg or "read-only" in msg or "read only" in msg:
        return StoreError(f"the history database {path} is read-only; {action} was not saved", "read_only")
    if "full" in msg:
        return StoreError(f"the disk holding {path} is full; {action} was not saved", "full")
    if "not a database" in msg or "malformed" in msg or "corrupt" in msg:
        return StoreError(f"{path} is not a moodmusic history database or is damaged; move it aside to start afresh",
                          "corrupt")
    if "unable to open" in msg:
        return StoreError(f"cannot open the history database {path}", "open")
    return StoreError(f"history database error ({exc}); {action} was not saved")


class Store:
    """The history database; safe to share between threads, and between processes via SQLite."""

    def __init__(self, path: Path | str, *, busy_timeout_s: float = 5.0, min_interval_s: float = 1.0,
                 read_only: bool = False) -> None:
        self.path = Path(path).expanduser()
        self.min_interval_s = float(min_interval_s)
        self.read_only = read_only
        self.last_error: StoreError | None = None
        self._lock = threading.RLock()
        self._known_sessions: set[str] = set()
        try:
            if not read_only:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            uri = f"file:{self.path}?mode=ro" if read_only else f"file:{self.path}"
            self._conn = sqlite3.connect(uri, uri=True, timeout=busy_timeout_s, isolation_level=None,
                                         check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the history database {self.path} ({exc})", "open") from None
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            if not read_only:
                self._conn.execute("PRAGMA journal_mode = WAL")
                self._conn.execute("PRAGMA synchronous = NORMAL")
            self._conn.execute("PRAGMA secure_delete = ON")
            self._migrate()
        except sqlite3.Error as exc:
            self._conn.close()
            raise _classify(exc, self.path, "opening it") from None

    # ---------------------------------------------------------------- plumbing
    def _migrate(self) -> None:
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path} was written by a newer moodmusic (schema {version}, this one knows "
                             f"{SCHEMA_VERSION}); upgrade moodmusic", "newer")
        if version == SCHEMA_VERSION or self.read_only:
            if version < SCHEMA_VERSION and self.read_only:
                raise StoreError(f"{self.path} has an older schema ({version}); open it once for writing to "
                                 "upgrade it", "read_only")
            return
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]  # another process may have migrated
            for number in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[number - 1].split(";"):
                    if statement.strip():
                        self._conn.execute(statement)
                self._conn.execute(f"PRAGMA user_version = {number}")
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    @property
    def schema_version(self) -> int:
        with self._lock:
            return self._conn.execute("PRAGMA user_version").fetchone()[0]

    @contextmanager
    def _write(self, action: str) -> Iterator[sqlite3.Connection]:
        """One short IMMEDIATE transaction; any SQLite failure becomes a StoreError after rollback."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                    self._conn.execute("COMMIT")
                except BaseException:
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                err = _classify(exc, self.path, action)
                self.last_error = err
                raise err from None
            self.last_error = None

    def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                err = _classify(exc, self.path, "the history")
                self.last_error = err
                raise err from None

    def _session(self, conn: sqlite3.Connection, session_id: str, user_id: str | None, ts: float) -> None:
        if session_id in self._known_sessions and user_id is None:
            return
        conn.execute("INSERT OR IGNORE INTO sessions (session_id, user_id, started) VALUES (?, ?, ?)",
                     (session_id, user_id, ts))
        if user_id is not None:
            conn.execute("UPDATE sessions SET user_id = ? WHERE session_id = ? AND user_id IS NULL",
                         (user_id, session_id))

    # ---------------------------------------------------------------- writes
    def add_reading(self, session_id: str, mood: str, confidence: float, face_conf: float | None = None,
                    voice_conf: float | None = None, ts: float | None = None, *, user_id: str | None = None) -> bool:
        """Record a mood reading; False when this session already has one in this time slot."""
        if mood not in MOODS:
            raise ValueError(f"unknown mood {mood!r}; choose one of: {', '.join(MOODS)}")
        ts = time.time() if ts is None else float(ts)
        slot = int(ts // self.min_interval_s)
        with self._write("the mood reading") as conn:
            self._session(conn, session_id, user_id, ts)
            cur = conn.execute(
                "INSERT OR IGNORE INTO readings (session_id, ts, slot, mood, confidence, face_conf, voice_conf) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (session_id, ts, slot, mood, float(confidence),
                 None if face_conf is None else float(face_conf), None if voice_conf is None else float(voice_conf)))
        self._known_sessions.add(session_id)
        return cur.rowcount == 1

    def add_shown(self, session_id: str, track_id: str, mood: str, strategy: str, *, name: str = "",
                  artist: str = "", ts: float | None = None, user_id: str | None = None) -> None:
        """Record that a track was shown for a mood under a strategy."""
        if mood not in MOODS:
            raise ValueError(f"unknown mood {mood!r}; choose one of: {', '.join(MOODS)}")
        if strategy not in STRATEGY_NAMES:
            raise ValueError(f"unknown strategy {strategy!r}; choose one of: {', '.join(STRATEGY_NAMES)}")
        ts = time.time() if ts is None else float(ts)
        with self._write("the shown track") as conn:
            self._session(conn, session_id, user_id, ts)
            conn.execute("INSERT INTO shown (session_id, ts, track_id, mood, strategy, name, artist) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)", (session_id, ts, track_id, mood, strategy, name, artist))
        self._known_sessions.add(session_id)

    def add_feedback(self, session_id: str, track_id: str, liked: bool, mood: str, *, ts: float | None = None,
                     user_id: str | None = None) -> None:
        """Record a like (liked=True) or a skip (liked=False); the latest one per track and mood counts."""
        if mood not in MOODS:
            raise ValueError(f"unknown mood {mood!r}; choose one of: {', '.join(MOODS)}")
        ts = time.time() if ts is None else float(ts)
        with self._write("the like/skip") as conn:
            self._session(conn, session_id, user_id, ts)
            conn.execute("INSERT INTO feedback (session_id, ts, track_id, liked, mood) VALUES (?, ?, ?, ?, ?)",
                         (session_id, ts, track_id, int(bool(liked)), mood))
        self._known_sessions.add(session_id)

    # ---------------------------------------------------------------- reads
    @staticmethod
    def _scope(session_id: str | None, user_id: str | None, alias: str = "") -> tuple[str, tuple]:
        col = f"{alias}session_id"
        if session_id is not None:
            return f" AND {col} = ?", (session_id,)
        if user_id is not None:
            return f" AND {col} IN (SELECT session_id FROM sessions WHERE user_id = ?)", (user_id,)
        return "", ()

    def readings(self, start: datetime | float | None = None, end: datetime | float | None = None,
                 session_id: str | None = None, *, user_id: str | None = None) -> list[Reading]:
        """Readings with start <= ts < end (epoch seconds or datetimes), oldest first."""
        where, params = self._scope(session_id, user_id)
        rows = self._read(
            "SELECT session_id, ts, mood, confidence, face_conf, voice_conf FROM readings "
            f"WHERE ts >= ? AND ts < ?{where} ORDER BY ts, id",
            (_epoch(start, float("-inf")), _epoch(end, float("inf")), *params))
        return [Reading(*r) for r in rows]

    def mood_share_by_day(self, start: datetime | float | None = None, end: datetime | float | None = None,
                          session_id: str | None = None, *, user_id: str | None = None,
                          utc: bool = False) -> dict[str, dict[str, float]]:
        """{"YYYY-MM-DD": {mood: share of that day's readings}} (local days unless utc=True); shares sum to 1."""
        where, params = self._scope(session_id, user_id)
        modifier = "" if utc else ", 'localtime'"
        rows = self._read(
            f"SELECT date(ts, 'unixepoch'{modifier}) AS day, mood, COUNT(*) FROM readings "
            f"WHERE ts >= ? AND ts < ?{where} GROUP BY day, mood ORDER BY day",
            (_epoch(start, float("-inf")), _epoch(end, float("inf")), *params))
        counts: dict[str, dict[str, int]] = defaultdict(dict)
        for day, mood, n in rows:
            counts[day][mood] = n
        return {day: {m: by_mood.get(m, 0) / sum(by_mood.values()) for m in MOODS} for day, by_mood in counts.items()}

    def liked_by_mood(self, session_id: str | None = None, *, user_id: str | None = None) -> dict[str, list[LikedTrack]]:
        """Tracks whose latest like/skip for a mood is a like, newest first, per mood."""
        where, params = self._scope(session_id, user_id, "f.")
        rows = self._read(
            "SELECT f.mood, f.track_id, f.liked, f.ts, "
            f"{_NAME_AND_ARTIST} "
            f"FROM feedback f WHERE 1 = 1{where} ORDER BY f.ts, f.id", params)
        latest: dict[tuple[str, str], tuple] = {}
        for mood, track_id, liked, ts, name, artist in rows:
            latest[(mood, track_id)] = (liked, ts, name, artist)
        out: dict[str, list[LikedTrack]] = {}
        for (mood, track_id), (liked, ts, name, artist) in latest.items():
            if liked:
                out.setdefault(mood, []).append(LikedTrack(track_id, name, artist, ts))
        return {m: sorted(v, key=lambda t: -t.ts) for m, v in out.items()}

    def track_feedback(self, session_id: str | None = None, *, user_id: str | None = None,
                       limit: int = 500) -> dict[str, bool]:
        """Each track's latest like (True) or skip (False), whatever the mood, newest first; at most `limit`.

        What a new session's recommender remembers (`Recommender.remember`), so likes and skips outlive
        the session they were made in.
        """
        where, params = self._scope(session_id, user_id, "f.")
        inner, _ = self._scope(session_id, user_id, "g.")
        rows = self._read(
            "SELECT f.track_id, f.liked FROM feedback f WHERE f.id = (SELECT MAX(g.id) FROM feedback g "
            f"WHERE g.track_id = f.track_id{inner}){where} ORDER BY f.ts DESC, f.id DESC LIMIT ?",
            (*params, *params, int(limit)))
        return {track_id: bool(liked) for track_id, liked in rows}

    def liked_tracks(self, session_id: str | None = None, *, user_id: str | None = None,
                     limit: int = 200) -> list[tuple[LikedTrack, str]]:
        """Tracks whose latest like/skip is a like, newest first, each with the mood it was liked in."""
        where, params = self._scope(session_id, user_id, "f.")
        inner, _ = self._scope(session_id, user_id, "g.")
        rows = self._read(
            "SELECT f.track_id, f.ts, f.mood, "
            f"{_NAME_AND_ARTIST} "
            "FROM feedback f WHERE f.liked = 1 AND f.id = (SELECT MAX(g.id) FROM feedback g "
            f"WHERE g.track_id = f.track_id{inner}){where} ORDER BY f.ts DESC, f.id DESC LIMIT ?",
            (*params, *params, int(limit)))
        return [(LikedTrack(track_id, name, artist, ts), mood) for track_id, ts, mood, name, artist in rows]

    def export(self, dest: Path | str | IO[str], session_id: str | None = None, *,
               user_id: str | None = None) -> dict[str, int]:
        """Write the history (all, one session's or one user's) as one JSON document; returns row counts."""
        where, params = self._scope(session_id, user_id)
        doc: dict[str, Any] = {"schema": self.schema_version, "exported_at": time.time()}
        tables = {
            "sessions": "SELECT session_id, user_id, started FROM sessions",
            "readings": "SELECT session_id, ts, mood, confidence, face_conf, voice_conf FROM readings",
            "shown": "SELECT session_id, ts, track_id, mood, strategy, name, artist FROM shown",
            "feedback": "SELECT session_id, ts, track_id, liked, mood FROM feedback",
            "games": "SELECT session_id, ts, rounds, players, p1, p2, winner FROM games",
        }
        with self._lock:
            try:
                for table, sql in tables.items():
                    cur = self._conn.execute(f"{sql} WHERE 1 = 1{where} ORDER BY rowid", params)
                    cols = [c[0] for c in cur.description]
                    doc[table] = [dict(zip(cols, row)) for row in cur.fetchall()]
            except sqlite3.Error as exc:
                raise _classify(exc, self.path, "the export") from None
        for row in doc["feedback"]:
            row["liked"] = bool(row["liked"])
        if hasattr(dest, "write"):
            json.dump(doc, dest, indent=1)
        else:
            dest = Path(dest)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(json.dumps(doc, indent=1), encoding="utf-8")
        return {t: len(doc[t]) for t in tables}

    def delete_history(self, session_or_user: str) -> int:
        """Delete every row of a session id or of all sessions of a user id; returns rows deleted.

        Freed pages are overwritten (secure_delete) and the WAL is checkpointed
        and truncated, so the data does not linger in the files.
        """
        key = str(session_or_user)
        total = 0
        with self._write("the deletion") as conn:
            ids = [key] + [r[0] for r in conn.execute("SELECT session_id FROM sessions WHERE user_id = ?", (key,))]
            marks = ",".join("?" * len(ids))
            for table in (*HISTORY_TABLES, "sessions"):
                total += conn.execute(f"DELETE FROM {table} WHERE session_id IN ({marks})", ids).rowcount
        self._known_sessions.difference_update(ids)
        self.checkpoint()
        return total

    def add_game(self, session_id: str, rounds: int, points: tuple[int, ...] | list[int], winner: int | None, *,
                 ts: float | None = None, user_id: str | None = None) -> None:
        """Record a finished mood-game match (the leaderboard); `winner` is 1 or 2, None for a draw or solo."""
        if len(points) not in (1, 2):
            raise ValueError(f"a game has 1 or 2 players, got {len(points)} scores")
        if winner not in (None, 1, 2) or (winner is not None and winner > len(points)):
            raise ValueError(f"the winner is player 1 or 2 (or None for a draw), got {winner!r}")
        ts = time.time() if ts is None else float(ts)
        with self._write("the game result") as conn:
            self._session(conn, session_id, user_id, ts)
            conn.execute("INSERT INTO games (session_id, ts, rounds, players, p1, p2, winner) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (session_id, ts, int(rounds), len(points), int(points[0]),
                          int(points[1]) if len(points) == 2 else None, winner))
        self._known_sessions.add(session_id)

    def games(self, session_id: str | None = None, *, user_id: str | None = None, limit: int = 10) -> list[GameResult]:
        """Finished matches, best first (the leaderboard): a match's best score, then the newest."""
        where, params = self._scope(session_id, user_id)
        rows = self._read(
            f"SELECT session_id, ts, rounds, p1, p2, winner FROM games WHERE 1 = 1{where} "
            "ORDER BY MAX(p1, COALESCE(p2, 0)) DESC, ts DESC LIMIT ?", (*params, int(limit)))
        return [GameResult(sid, ts, rounds, (p1,) if p2 is None else (p1, p2), winner)
                for sid, ts, rounds, p1, p2, winner in rows]

    def checkpoint(self) -> bool:
        """Fold the WAL into the database file and truncate it; False if readers kept part of it."""
        with self._lock:
            try:
                busy, _, _ = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            except sqlite3.Error:
                return False
            return busy == 0

    def counts(self, session_id: str | None = None, *, user_id: str | None = None) -> dict[str, int]:
        """Rows per table: all of them, or one session's or one user's (what the History page shows)."""
        where, params = self._scope(session_id, user_id)
        return {t: self._read(f"SELECT COUNT(*) FROM {t} WHERE 1 = 1{where}", params)[0][0]
                for t in ("sessions", *HISTORY_TABLES)}

    def close(self) -> None:
        with self._lock:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

