"""The history on both backends: concurrent writers lose nothing, failures are reported, deletion is real.

Every test taking `store_backend` (or `store`) runs twice: on a SQLite file and on a real PostgreSQL
server started from the system's packages for the session (tests/pg.py; skipped, saying why, where
none can start). The few tests only one backend can have say so in their names.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from moodmusic.config import ROOT
from moodmusic.store import MIGRATIONS, SCHEMA_VERSION, PostgresStore, SQLiteStore, Store, StoreError, postgres_url
from moodmusic.store.base import postgres_ddl, statements
from tests.pg import Backend

DAY = 86_400.0
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc).timestamp()


@pytest.fixture
def db(tmp_path) -> Path:
    """A SQLite file, for the tests only SQLite can have."""
    return tmp_path / "history" / "moodmusic.sqlite3"


@pytest.fixture
def sqlite_store(db):
    s = Store(db)
    yield s
    s.close()


@pytest.fixture
def store(store_backend: Backend):
    s = Store(store_backend.target)
    assert s.backend == store_backend.name
    yield s
    s.close()


def _set_version(b: Backend, version: int) -> None:
    """Write a schema version beside the store, as another moodmusic would have."""
    raw = b.raw()
    if b.name == "sqlite":
        raw.execute(f"PRAGMA user_version = {version}")
    else:
        raw.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                    "applied DOUBLE PRECISION NOT NULL)")
        raw.execute("INSERT INTO schema_version VALUES (%s, 0)", (version,))
    raw.close()


# --- the same behaviour on both backends ----------------------------------------------------------


def test_readings_are_downsampled_to_one_per_second_per_session(store):
    stored = [store.add_reading("s1", "happy", 0.9, 0.8, 0.7, ts=T0 + i * 0.1) for i in range(30)]  # 30 fps, 1 s
    assert stored.count(True) == 3  # slots T0, T0+1, T0+2 (T0 is on a second boundary: 0.0–0.9, 1.0–1.9, 2.0–2.9)
    assert store.add_reading("s2", "sad", 0.6, ts=T0)  # another session has its own slots
    got = store.readings(T0, T0 + 10, session_id="s1")
    assert [(r.mood, r.confidence, r.face_conf, r.voice_conf) for r in got] == [("happy", 0.9, 0.8, 0.7)] * 3


def test_readings_in_a_range_and_per_user(store):
    for i, mood in enumerate(["happy", "sad", "angry", "sad"]):
        store.add_reading("s1", mood, 0.5, ts=T0 + i * DAY, user_id="ann")
    store.add_reading("s2", "fear", 0.5, ts=T0 + DAY, user_id="bob")
    assert [r.mood for r in store.readings(T0 + DAY, T0 + 3 * DAY)] == ["sad", "fear", "angry"]
    assert [r.mood for r in store.readings(user_id="ann")] == ["happy", "sad", "angry", "sad"]
    start = datetime.fromtimestamp(T0 + 2 * DAY)  # naive datetimes are local time
    assert [r.mood for r in store.readings(start, None, session_id="s1")] == ["angry", "sad"]


def test_times_keep_their_fractions_of_a_second(store):
    """PostgreSQL's REAL is 4 bytes (it would round an epoch time to about 2 minutes): the schema uses 8."""
    store.add_shown("s1", "t1", "happy", "match", ts=T0 + 0.123456)
    store.add_reading("s1", "happy", 0.9, ts=T0 + 0.123456)
    assert store.readings()[0].ts == T0 + 0.123456
    buf = io.StringIO()
    store.export(buf)
    doc = json.loads(buf.getvalue())
    assert doc["shown"][0]["ts"] == T0 + 0.123456


def test_mood_share_by_day_sums_to_one_each_day(store):
    for i, mood in enumerate(["happy"] * 3 + ["sad"]):
        store.add_reading("s1", mood, 0.9, ts=T0 + i * 10)
    store.add_reading("s1", "angry", 0.9, ts=T0 + DAY)
    share = store.mood_share_by_day(utc=True)
    assert share["2025-03-01"]["happy"] == 0.75 and share["2025-03-01"]["sad"] == 0.25
    assert share["2025-03-02"]["angry"] == 1.0
    assert all(abs(sum(day.values()) - 1) < 1e-9 for day in share.values())


@pytest.mark.skipif(not hasattr(time, "tzset"), reason="needs time.tzset to change the local time zone")
def test_mood_share_by_day_counts_local_days_even_half_an_hour_off_utc(store, monkeypatch):
    """In Kolkata (UTC+5:30) 18:29 and 18:31 UTC fall on two local days; both backends agree with Python."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        midnight = datetime(2025, 3, 2, tzinfo=timezone.utc).timestamp() - 5.5 * 3600  # local midnight in UTC
        store.add_reading("s1", "sad", 0.9, ts=midnight - 60)
        store.add_reading("s1", "happy", 0.9, ts=midnight + 60)
        store.add_reading("s1", "happy", 0.9, ts=midnight + 120)
        share = store.mood_share_by_day()
        assert share == {"2025-03-01": {**dict.fromkeys(share["2025-03-01"], 0.0), "sad": 1.0},
                         "2025-03-02": {**dict.fromkeys(share["2025-03-02"], 0.0), "happy": 1.0}}
        assert list(store.mood_share_by_day(utc=True)) == ["2025-03-01"]  # all three on one UTC day
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_liked_by_mood_keeps_the_latest_verdict_and_the_track_name(store):
    store.add_shown("s1", "t-like", "happy", "match", name="Die Young", artist="Kesha", ts=T0)
    store.add_shown("s1", "t-flip", "happy", "match", ts=T0)
    store.add_feedback("s1", "t-like", True, "happy", ts=T0 + 1)
    store.add_feedback("s1", "t-flip", True, "happy", ts=T0 + 2)
    store.add_feedback("s1", "t-flip", False, "happy", ts=T0 + 3)   # changed its mind: a skip now
    store.add_feedback("s1", "t-sad", True, "sad", ts=T0 + 4)
    liked = store.liked_by_mood()
    assert [(t.track_id, t.name, t.artist) for t in liked["happy"]] == [("t-like", "Die Young", "Kesha")]
    assert [t.track_id for t in liked["sad"]] == ["t-sad"]


def test_bad_moods_and_strategies_are_refused(store):
    with pytest.raises(ValueError, match="angry, fear, happy, neutral, sad, surprise"):
        store.add_reading("s1", "grumpy", 0.5)
    with pytest.raises(ValueError, match="match, lift, calm"):
        store.add_shown("s1", "t", "happy", "shuffle")


def test_export_writes_everything_as_json(store, tmp_path):
    store.add_reading("s1", "happy", 0.9, ts=T0, user_id="ann")
    store.add_shown("s1", "t1", "happy", "lift", name="N", artist="A", ts=T0)
    store.add_feedback("s1", "t1", True, "happy", ts=T0)
    store.add_game("s1", 3, (120, 80), 1, ts=T0)
    store.add_reading("s2", "sad", 0.4, ts=T0)
    counts = store.export(tmp_path / "out.json", user_id="ann")
    doc = json.loads((tmp_path / "out.json").read_text())
    assert counts == {"sessions": 1, "readings": 1, "shown": 1, "feedback": 1, "games": 1}
    assert doc["games"] == [{"session_id": "s1", "ts": T0, "rounds": 3, "players": 2, "p1": 120, "p2": 80, "winner": 1}]
    assert doc["schema"] == SCHEMA_VERSION
    assert doc["feedback"] == [{"session_id": "s1", "ts": T0, "track_id": "t1", "liked": True, "mood": "happy"}]
    assert doc["sessions"] == [{"session_id": "s1", "user_id": "ann", "started": T0}]


def test_counts_follow_the_session_or_user_asked_for(store):
    for i in range(3):
        store.add_reading("s1", "happy", 0.9, ts=T0 + i, user_id="ann")
    store.add_shown("s1", "t1", "happy", "match", ts=T0)
    store.add_reading("s2", "sad", 0.4, ts=T0)
    store.add_feedback("s2", "t1", False, "sad", ts=T0)
    assert store.counts() == {"sessions": 2, "readings": 4, "shown": 1, "feedback": 1, "games": 0}
    assert store.counts("s1") == {"sessions": 1, "readings": 3, "shown": 1, "feedback": 0, "games": 0}
    assert store.counts("s2") == {"sessions": 1, "readings": 1, "shown": 0, "feedback": 1, "games": 0}
    assert store.counts(user_id="ann") == store.counts("s1")
    assert store.counts("nobody") == {"sessions": 0, "readings": 0, "shown": 0, "feedback": 0, "games": 0}


def _pg_dead_rows(b: Backend, tables: tuple[str, ...]) -> dict[str, tuple[int, int]]:
    """{table: (dead rows left, times VACUUMed)} from the server's own statistics."""
    raw = b.raw()
    rows = raw.execute("SELECT relname, n_dead_tup, vacuum_count FROM pg_stat_user_tables "
                       "WHERE schemaname = %s AND relname = ANY(%s)", (b.schema, list(tables))).fetchall()
    raw.close()
    return {name: (dead, vacuums) for name, dead, vacuums in rows}


def test_delete_history_really_deletes(store_backend, store):
    """SQLite: not a byte of it is left in the files. PostgreSQL: the rows are gone and VACUUM removed them."""
    marker = "session-3f9c1e-delete-me"
    for i in range(200):
        store.add_reading(marker, "happy", 0.9, ts=T0 + i)
        store.add_shown(marker, f"track-of-{marker}-{i}", "happy", "match", ts=T0 + i)
    store.add_feedback(marker, f"track-of-{marker}-0", True, "happy")
    store.add_reading("keep-me", "sad", 0.5, ts=T0)
    assert store.delete_history(marker) == 200 + 200 + 1 + 1
    assert store.readings(session_id=marker) == [] and len(store.readings()) == 1
    if store_backend.name == "sqlite":
        db = Path(store_backend.target)
        files = [p for p in db.parent.iterdir() if p.name.startswith(db.name)]
        assert not any(marker.encode() in p.read_bytes() for p in files)
    else:
        touched = ("readings", "shown", "feedback", "sessions")
        stats = _pg_dead_rows(store_backend, touched)
        assert {t: dead for t, (dead, _) in stats.items()} == dict.fromkeys(touched, 0)
        assert all(vacuums >= 1 for _, vacuums in stats.values())
        raw = store_backend.raw()
        for table in touched:
            assert raw.execute(f"SELECT COUNT(*) FROM {table} WHERE session_id = %s", (marker,)).fetchone() == (0,)
        raw.close()


def test_delete_history_by_user_covers_all_their_sessions(store):
    store.add_reading("s1", "happy", 0.9, ts=T0, user_id="ann")
    store.add_reading("s2", "sad", 0.9, ts=T0, user_id="ann")
    store.add_reading("s3", "sad", 0.9, ts=T0, user_id="bob")
    assert store.delete_history("ann") == 4  # 2 readings + 2 sessions
    assert {r.session_id for r in store.readings()} == {"s3"}


def test_threads_sharing_and_not_sharing_a_store_lose_no_row(store_backend, store):
    def writer(s, name):
        for i in range(100):
            s.add_shown(name, f"t{i}", "happy", "match")
            s.add_reading(name, "happy", 0.5, ts=T0 + i)

    own = [Store(store_backend.target, busy_timeout_s=10) for _ in range(3)]
    threads = [threading.Thread(target=writer, args=(store, f"shared-{k}")) for k in range(3)]
    threads += [threading.Thread(target=writer, args=(s, f"own-{k}")) for k, s in enumerate(own)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in own:
        s.close()
    assert store.counts()["shown"] == 600 and store.counts()["readings"] == 600



def test_a_session_deleted_by_another_replica_gets_its_row_back_on_the_next_write(store_backend, store):
    """Replica B deletes all history while replica A's visitor goes on: A's next reading is counted, session too."""
    store.add_reading("live", "happy", 0.9, ts=T0, user_id="ann")
    with Store(store_backend.target) as other:
        assert other.delete_history("ann") == 2
    store.add_reading("live", "sad", 0.9, ts=T0 + 5)
    assert store.counts("live") == {"sessions": 1, "readings": 1, "shown": 0, "feedback": 0, "games": 0}

WRITER = """
import sys
from moodmusic.store import Store
s = Store(sys.argv[1], busy_timeout_s=20)
name = sys.argv[2]
for i in range(150):
    s.add_shown(name, f"t{i}", "sad", "calm")
    s.add_reading(name, "sad", 0.5, ts=1e9 + i)
s.close()
"""


def test_processes_writing_at_once_lose_no_row(store_backend, store):
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(store_backend.target), f"proc-{k}"], cwd=ROOT,
                              stderr=subprocess.PIPE, text=True) for k in range(4)]
    for k in range(150):  # and this process writes at the same time
        store.add_feedback("here", f"t{k}", k % 2 == 0, "sad")
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errors
    assert store.counts() == {"sessions": 5, "readings": 600, "shown": 600, "feedback": 150, "games": 0}
    if store_backend.name == "sqlite":
        assert sqlite3.connect(store_backend.target).execute("PRAGMA integrity_check").fetchone() == ("ok",)


OPENER = """
import sys
from moodmusic.store import Store
with Store(sys.argv[1], busy_timeout_s=20) as s:
    s.add_reading(sys.argv[2], "happy", 0.5, ts=1e9)
    print(s.schema_version)
"""


def test_replicas_opening_a_new_history_at_once_migrate_it_once(store_backend):
    """Several app replicas starting together on an empty database: one migrates, the others wait for it."""
    procs = [subprocess.Popen([sys.executable, "-c", OPENER, str(store_backend.target), f"replica-{k}"], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for k in range(4)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [err for _, err in outs]
    assert [out.strip() for out, _ in outs] == [str(SCHEMA_VERSION)] * 4
    with Store(store_backend.target) as s:
        assert s.counts()["readings"] == 4
    if store_backend.name == "postgres":
        raw = store_backend.raw()
        assert raw.execute("SELECT version FROM schema_version ORDER BY version").fetchall() == [
            (n,) for n in range(1, SCHEMA_VERSION + 1)]
        raw.close()


def test_a_locked_table_is_reported_and_nothing_is_lost(store_backend, store):
    store.add_reading("s1", "happy", 0.9, ts=T0)
    blocker = store_backend.raw()
    if store_backend.name == "sqlite":
        blocker.execute("BEGIN EXCLUSIVE")  # another process holding the write lock
    else:
        blocker.execute("BEGIN")
        blocker.execute("LOCK TABLE readings IN ACCESS EXCLUSIVE MODE")  # e.g. someone's VACUUM FULL
    impatient = Store(store_backend.target, busy_timeout_s=0.2)
    with pytest.raises(StoreError) as err:
        impatient.add_reading("s1", "sad", 0.5, ts=T0 + 5)
    assert err.value.kind == "busy" and "was not saved" in str(err.value)
    assert impatient.last_error is err.value
    blocker.execute("ROLLBACK")
    blocker.close()
    assert impatient.add_reading("s1", "sad", 0.5, ts=T0 + 5)  # the app carries on
    assert impatient.last_error is None
    assert [r.mood for r in store.readings()] == ["happy", "sad"]
    impatient.close()


def test_a_read_only_store_reads_and_refuses_writes_clearly(store_backend, store):
    store.add_reading("s1", "happy", 0.9, ts=T0)
    reader = Store(store_backend.target, read_only=True)
    assert [r.mood for r in reader.readings()] == ["happy"]
    with pytest.raises(StoreError) as err:
        reader.add_reading("s1", "sad", 0.5, ts=T0 + 5)
    assert err.value.kind == "read_only"
    reader.close()


def test_an_old_schema_is_migrated_in_place_keeping_its_rows(store_backend):
    raw = store_backend.raw()
    for statement in statements(MIGRATIONS[0]):
        raw.execute(statement if store_backend.name == "sqlite" else postgres_ddl(statement))
    raw.execute("INSERT INTO sessions VALUES ('s1', NULL, 1.0)")
    raw.execute("INSERT INTO shown (session_id, ts, track_id, mood, strategy) VALUES ('s1', 1.0, 't1', 'sad', 'calm')")
    raw.close()
    _set_version(store_backend, 1)
    s = Store(store_backend.target)
    assert s.schema_version == SCHEMA_VERSION == 3
    s.add_shown("s1", "t2", "sad", "calm", name="New", artist="Columns", ts=2.0)
    raw = store_backend.raw()
    rows = raw.execute("SELECT track_id, name, artist FROM shown ORDER BY ts").fetchall()
    raw.close()
    assert [tuple(r) for r in rows] == [("t1", "", ""), ("t2", "New", "Columns")]
    s.close()


def test_a_newer_schema_is_refused_rather_than_damaged(store_backend):
    _set_version(store_backend, SCHEMA_VERSION + 1)
    with pytest.raises(StoreError, match="newer moodmusic") as err:
        Store(store_backend.target)
    assert err.value.kind == "newer"


def test_tables_that_are_not_a_history_are_reported_and_left_alone(store_backend):
    raw = store_backend.raw()
    raw.execute("CREATE TABLE readings (book TEXT, page INTEGER)")
    raw.execute("INSERT INTO readings VALUES ('Moby-Dick', 42)")
    with pytest.raises(StoreError) as err:
        Store(store_backend.target)
    assert err.value.kind in {"corrupt", "other"} and "\n" not in str(err.value)
    assert [tuple(r) for r in raw.execute("SELECT * FROM readings").fetchall()] == [("Moby-Dick", 42)]
    raw.close()


def test_likes_and_skips_outlive_their_session_latest_one_per_track_counts(store_backend):
    """A new session (a new Store on the same history, as after a restart) gets every track's latest verdict."""
    with Store(store_backend.target) as s:
        s.add_shown("visit-1", "t-like", "sad", "match", name="Don't Stop", artist="A & B", ts=10.0)
        s.add_feedback("visit-1", "t-like", True, "sad", ts=11.0)
        s.add_feedback("visit-1", "t-skip", False, "sad", ts=12.0)
        s.add_feedback("visit-1", "t-changed", True, "happy", ts=13.0)
        s.add_feedback("visit-2", "t-changed", False, "sad", ts=14.0)  # liked once, skipped later: skipped
    with Store(store_backend.target) as s:
        assert s.track_feedback() == {"t-changed": False, "t-skip": False, "t-like": True}
        assert list(s.track_feedback()) == ["t-changed", "t-skip", "t-like"]  # newest first
        assert s.track_feedback(session_id="visit-1") == {"t-changed": True, "t-skip": False, "t-like": True}
        assert s.track_feedback(limit=1) == {"t-changed": False}
        liked = s.liked_tracks()
        assert [(t.track_id, t.name, t.artist, mood) for t, mood in liked] == [("t-like", "Don't Stop", "A & B", "sad")]
        assert [t.track_id for t, _ in s.liked_tracks(session_id="visit-1")] == ["t-changed", "t-like"]
        s.delete_history("visit-1")
        assert s.track_feedback() == {"t-changed": False}


def test_game_results_are_a_leaderboard_per_session_best_first(store):
    s = store
    s.add_game("visit-1", 3, (120, 260), winner=2, ts=10.0)
    s.add_game("visit-1", 1, (90,), winner=None, ts=11.0)  # solo
    s.add_game("visit-1", 3, (300, 140), winner=1, ts=12.0)
    s.add_game("visit-2", 3, (999, 0), winner=1, ts=13.0)
    board = s.games(session_id="visit-1")
    assert [(g.points, g.winner, g.rounds) for g in board] == [((300, 140), 1, 3), ((120, 260), 2, 3), ((90,), None, 1)]
    assert s.games()[0].points == (999, 0) and len(s.games(limit=2)) == 2
    with pytest.raises(ValueError, match="winner is player 1 or 2"):
        s.add_game("visit-1", 1, (90,), winner=2)
    with pytest.raises(ValueError, match="1 or 2 players"):
        s.add_game("visit-1", 1, (1, 2, 3), winner=None)


def test_deleting_a_sessions_history_deletes_its_game_results_too(store_backend, store):
    """The History page's delete (Store.delete_history) takes the leaderboard with the rest."""
    store.add_reading("visit-1", "happy", 0.9, ts=1.0)
    store.add_game("visit-1", 3, (120, 260), winner=2, ts=10.0)
    store.add_game("visit-2", 3, (50, 60), winner=2, ts=11.0)
    assert store.delete_history("visit-1") == 3  # the reading, the game and the session
    assert store.games(session_id="visit-1") == [] and len(store.games()) == 1
    raw = store_backend.raw()
    mark = "?" if store_backend.name == "sqlite" else "%s"
    assert tuple(raw.execute(f"SELECT COUNT(*) FROM games WHERE session_id = {mark}", ("visit-1",)).fetchone()) == (0,)
    raw.close()


# --- SQLite only -----------------------------------------------------------------------------------


def test_sqlite_a_full_disk_is_reported_and_what_was_written_stays(db, sqlite_store):
    store = sqlite_store
    store.add_reading("s1", "happy", 0.9, ts=T0)
    store.checkpoint()
    # SQLite's own size cap makes writes fail exactly as on a full disk (SQLITE_FULL).
    pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
    store._conn.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(StoreError) as err:
        for i in range(2000):
            store.add_shown("s1", f"track-{i}-" + "x" * 200, "happy", "match", ts=T0 + i)
    assert err.value.kind == "full" and "full" in str(err.value)
    store._conn.execute("PRAGMA max_page_count = 1073741823")  # space freed
    store.add_reading("s1", "sad", 0.5, ts=T0 + 10)
    assert [r.mood for r in store.readings()] == ["happy", "sad"]
    assert store._conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores file permissions")
def test_sqlite_a_read_only_file_is_reported(db, sqlite_store):
    sqlite_store.add_reading("s1", "happy", 0.9, ts=T0)
    sqlite_store.close()
    for p in db.parent.iterdir():
        p.chmod(0o444)
    db.parent.chmod(0o555)
    try:
        with pytest.raises(StoreError) as err:
            s = Store(db)
            s.add_reading("s1", "sad", 0.5, ts=T0 + 5)
        assert err.value.kind in {"read_only", "open"}
    finally:
        db.parent.chmod(0o755)


def test_sqlite_a_file_that_is_not_a_database_is_reported_not_overwritten(tmp_path):
    path = tmp_path / "notes.sqlite3"
    path.write_bytes(b"my precious notes " * 300)
    with pytest.raises(StoreError) as err:
        Store(path)
    assert err.value.kind == "corrupt"
    assert path.read_bytes() == b"my precious notes " * 300


def test_sqlite_the_database_uses_wal(sqlite_store):
    assert isinstance(sqlite_store, SQLiteStore) and isinstance(sqlite_store, Store)
    assert sqlite_store._conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


# --- PostgreSQL only: what a shared server adds (its URL, its connection, its mistakes) ---------------


@pytest.fixture
def pg(pg_backend: Backend) -> Backend:
    return pg_backend


def test_postgres_is_chosen_by_a_url_even_one_that_went_through_a_path(pg):
    """A Path folds `//` (settings keep a URL as text, but a caller may pass one): it still opens PostgreSQL."""
    with Store(Path(str(pg.target))) as s:
        assert isinstance(s, PostgresStore) and isinstance(s, Store) and s.backend == "postgres"
        s.add_reading("s1", "happy", 0.9, ts=T0)
    with Store(str(pg.target)) as s:
        assert s.counts()["readings"] == 1
    assert postgres_url(Path("/home/ann/.moodmusic/moodmusic.sqlite3")) is None



def test_postgres_from_moodmusic_db_as_the_app_reads_it(pg, monkeypatch):
    """MOODMUSIC_DB → Settings.database → Store, the way the pages' `resources.store()` opens the history."""
    from moodmusic.config import load_settings

    monkeypatch.setenv("MOODMUSIC_DB", str(pg.target))
    with Store(load_settings().database) as s:
        assert s.backend == "postgres"
        s.add_game("s1", 1, (90,), None, ts=T0)
    with Store(pg.target) as s:
        assert len(s.games()) == 1

def test_settings_keep_a_database_url_whole_and_never_show_its_password(monkeypatch, tmp_path):
    """A Path would fold `postgresql:///db` to `postgresql:/db`; the settings' repr goes into logs."""
    from moodmusic.config import load_settings

    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    monkeypatch.setenv("MOODMUSIC_DB", "postgresql://ann:s3cret@db.example:5432/mm")
    settings = load_settings()
    assert settings.database == "postgresql://ann:s3cret@db.example:5432/mm"
    assert "s3cret" not in repr(settings) and "postgresql://ann:***@db.example:5432/mm" in repr(settings)
    monkeypatch.setenv("MOODMUSIC_DB", "postgresql:///mm")
    assert load_settings().database == "postgresql:///mm"
    monkeypatch.setenv("MOODMUSIC_DB", str(tmp_path / "h.sqlite3"))
    assert load_settings().database == tmp_path / "h.sqlite3" and str(tmp_path) in repr(load_settings())


def test_postgres_never_shows_the_password(pg):
    password = pg.server.password
    with Store(pg.target) as s:
        assert password not in repr(s) and password not in s.where and "@127.0.0.1" in s.where
    wrong = str(pg.target).replace(password, "not-" + password + "-at-all")
    with pytest.raises(StoreError) as err:
        Store(wrong)
    msg = str(err.value)
    assert err.value.kind == "open" and "refused the password for user moodmusic" in msg, msg
    assert password not in msg and "not-" not in msg and "\n" not in msg


def test_postgres_a_missing_database_says_so(pg):
    url = str(pg.target).replace("/moodmusic?", "/no_such_db?")
    with pytest.raises(StoreError, match=r"the database no_such_db does not exist .*createdb no_such_db") as err:
        Store(url)
    assert err.value.kind == "open" and pg.server.password not in str(err.value)



def test_postgres_other_setup_mistakes_say_what_to_do(pg):
    no_password = str(pg.target).replace(f":{pg.server.password}@", "@")
    with pytest.raises(StoreError, match="wants a password for user moodmusic: put it in PGPASSWORD") as err:
        Store(no_password)
    assert err.value.kind == "open"
    no_schema = str(pg.target).replace(pg.schema, "no_such_schema")
    with pytest.raises(StoreError, match="the schema named in the search path .* does not exist") as err:
        Store(no_schema)
    assert err.value.kind == "open"
    with pytest.raises(StoreError, match="holds no moodmusic history yet; open it once for writing") as err:
        Store(pg.target, read_only=True)
    assert err.value.kind == "read_only"

def test_postgres_a_lost_connection_fails_one_call_and_the_next_reconnects(pg):
    store = Store(pg.target)
    store.add_reading("s1", "happy", 0.9, ts=T0)
    raw = pg.raw()  # the server drops the store's connection, as in a restart or failover
    killed = raw.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE application_name = 'moodmusic' AND pid != pg_backend_pid()").fetchall()
    raw.close()
    assert killed
    with pytest.raises(StoreError) as err:
        store.add_reading("s1", "sad", 0.5, ts=T0 + 5)
    assert err.value.kind == "offline" and "was not saved" in str(err.value)
    assert store.add_reading("s1", "sad", 0.5, ts=T0 + 6)  # connected again
    assert [r.mood for r in store.readings()] == ["happy", "sad"] and store.last_error is None
    store.close()


@pytest.mark.parametrize("url, says", [
    ("postgresql://ann:pa%zzss@127.0.0.1:5432/db", "not a valid PostgreSQL URL"),  # libpq echoes the password
    ("postgresql://ann:pa%zzss@[::1/db", "not a valid PostgreSQL URL"),  # libpq echoes the whole URL
    ("postgresql://ann:pa55wd@127.0.0.1:port/db", "port in the history database URL must be a number"),
    ("postgresql://ann:pa55wd@127.0.0.1:5432/db?colour=blue", "not a valid PostgreSQL URL"),
])
def test_postgres_a_bad_url_is_one_clear_line_without_the_password(url, says):
    pytest.importorskip("psycopg")
    with pytest.raises(StoreError, match=says) as err:
        Store(url)
    msg = str(err.value)
    assert err.value.kind == "open" and "pa%zzss" not in msg and "pa55wd" not in msg and "\n" not in msg


def test_postgres_no_server_is_one_clear_line(unused_port):
    pytest.importorskip("psycopg")
    started = time.monotonic()
    with pytest.raises(StoreError, match=f"no PostgreSQL server answers at 127.0.0.1:{unused_port}") as err:
        Store(f"postgresql://ann:s3cret@127.0.0.1:{unused_port}/moodmusic", busy_timeout_s=1)
    assert err.value.kind == "open" and "s3cret" not in str(err.value) and "\n" not in str(err.value)
    assert time.monotonic() - started < 10


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: nothing listens there


def test_postgres_a_server_that_never_answers_costs_one_wait_not_one_per_write(monkeypatch):
    """A host that swallows the connection: the first open waits the connect timeout, the next fail at once."""
    pytest.importorskip("psycopg")
    import socket

    from moodmusic.store import postgres

    monkeypatch.setattr(postgres, "RETRY_AFTER_S", 60.0)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts the TCP connection and never says a word
    url = f"postgresql://ann@127.0.0.1:{silent.getsockname()[1]}/moodmusic"
    started = time.monotonic()
    with pytest.raises(StoreError, match="no PostgreSQL server answers") as first:
        Store(url, busy_timeout_s=1)
    waited = time.monotonic() - started
    asked = postgres._failed[url][0]
    started = time.monotonic()
    with pytest.raises(StoreError) as again:
        Store(url, busy_timeout_s=1)
    assert time.monotonic() - started < 0.5 and waited > 1.5  # libpq's shortest connect timeout is 2 s
    assert str(again.value) == str(first.value) and again.value.kind == "open"
    assert postgres._failed[url][0] == asked  # not asked again
    silent.close()  # the port now refuses at once
    monkeypatch.setattr(postgres, "RETRY_AFTER_S", 0.0)
    with pytest.raises(StoreError, match="no PostgreSQL server answers"):
        Store(url, busy_timeout_s=1)
    assert postgres._failed[url][0] > asked  # once the pause is over, it asks the server again
