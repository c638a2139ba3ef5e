"""The SQLite history: concurrent writers lose nothing, failures are reported, deletion is real."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest

from moodmusic.config import ROOT
from moodmusic.store import MIGRATIONS, SCHEMA_VERSION, Store, StoreError

DAY = 86_400.0
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc).timestamp()


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "history" / "moodmusic.sqlite3"


@pytest.fixture
def store(db):
    s = Store(db)
    yield s
    s.close()


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


def test_mood_share_by_day_sums_to_one_each_day(store):
    for i, mood in enumerate(["happy"] * 3 + ["sad"]):
        store.add_reading("s1", mood, 0.9, ts=T0 + i * 10)
    store.add_reading("s1", "angry", 0.9, ts=T0 + DAY)
    share = store.mood_share_by_day(utc=True)
    assert share["2025-03-01"]["happy"] == 0.75 and share["2025-03-01"]["sad"] == 0.25
    assert share["2025-03-02"]["angry"] == 1.0
    assert all(abs(sum(day.values()) - 1) < 1e-9 for day in share.values())


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


def test_delete_history_leaves_no_trace_in_the_files(db, store):
    marker = "session-3f9c1e-delete-me"
    for i in range(200):
        store.add_reading(marker, "happy", 0.9, ts=T0 + i)
        store.add_shown(marker, f"track-of-{marker}-{i}", "happy", "match", ts=T0 + i)
    store.add_feedback(marker, f"track-of-{marker}-0", True, "happy")
    store.add_reading("keep-me", "sad", 0.5, ts=T0)
    assert store.delete_history(marker) == 200 + 200 + 1 + 1
    assert store.readings(session_id=marker) == [] and len(store.readings()) == 1
    files = [p for p in db.parent.iterdir() if p.name.startswith(db.name)]
    assert not any(marker.encode() in p.read_bytes() for p in files)


def test_delete_history_by_user_covers_all_their_sessions(store):
    store.add_reading("s1", "happy", 0.9, ts=T0, user_id="ann")
    store.add_reading("s2", "sad", 0.9, ts=T0, user_id="ann")
    store.add_reading("s3", "sad", 0.9, ts=T0, user_id="bob")
    assert store.delete_history("ann") == 4  # 2 readings + 2 sessions
    assert {r.session_id for r in store.readings()} == {"s3"}


def test_threads_sharing_and_not_sharing_a_store_lose_no_row(db, store):
    def writer(s, name):
        for i in range(100):
            s.add_shown(name, f"t{i}", "happy", "match")
            s.add_reading(name, "happy", 0.5, ts=T0 + i)

    own = [Store(db, busy_timeout_s=10) for _ in range(3)]
    threads = [threading.Thread(target=writer, args=(store, f"shared-{k}")) for k in range(3)]
    threads += [threading.Thread(target=writer, args=(s, f"own-{k}")) for k, s in enumerate(own)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in own:
        s.close()
    assert store.counts()["shown"] == 600 and store.counts()["readings"] == 600


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


def test_processes_writing_at_once_lose_no_row(db, store):
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(db), f"proc-{k}"], cwd=ROOT,
                              stderr=subprocess.PIPE, text=True) for k in range(4)]
    for k in range(150):  # and this process writes at the same time
        store.add_feedback("here", f"t{k}", k % 2 == 0, "sad")
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errors
    assert store.counts() == {"sessions": 5, "readings": 600, "shown": 600, "feedback": 150, "games": 0}
    assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_locked_database_is_reported_and_nothing_is_lost(db, store):
    store.add_reading("s1", "happy", 0.9, ts=T0)
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # another process holding the write lock
    impatient = Store(db, busy_timeout_s=0.2)
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


def test_a_full_disk_is_reported_and_what_was_written_stays(db, store):
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


def test_a_read_only_store_reads_and_refuses_writes_clearly(db, store):
    store.add_reading("s1", "happy", 0.9, ts=T0)
    reader = Store(db, read_only=True)
    assert [r.mood for r in reader.readings()] == ["happy"]
    with pytest.raises(StoreError) as err:
        reader.add_reading("s1", "sad", 0.5, ts=T0 + 5)
    assert err.value.kind == "read_only"
    reader.close()


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores file permissions")
def test_a_read_only_file_is_reported(db, store):
    store.add_reading("s1", "happy", 0.9, ts=T0)
    store.close()
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


def test_a_file_that_is_not_a_database_is_reported_not_overwritten(tmp_path):
    path = tmp_path / "notes.sqlite3"
    path.write_bytes(b"my precious notes " * 300)
    with pytest.raises(StoreError) as err:
        Store(path)
    assert err.value.kind == "corrupt"
    assert path.read_bytes() == b"my precious notes " * 300


def test_an_old_schema_is_migrated_in_place_keeping_its_rows(db):
    db.parent.mkdir(parents=True)
    old = sqlite3.connect(db, isolation_level=None)
    old.executescript(MIGRATIONS[0])
    old.execute("PRAGMA user_version = 1")
    old.execute("INSERT INTO sessions VALUES ('s1', NULL, 1.0)")
    old.execute("INSERT INTO shown (session_id, ts, track_id, mood, strategy) VALUES ('s1', 1.0, 't1', 'sad', 'calm')")
    old.close()
    s = Store(db)
    assert s.schema_version == SCHEMA_VERSION == 3
    s.add_shown("s1", "t2", "sad", "calm", name="New", artist="Columns", ts=2.0)
    rows = s._conn.execute("SELECT track_id, name, artist FROM shown ORDER BY ts").fetchall()
    assert rows == [("t1", "", ""), ("t2", "New", "Columns")]
    s.close()


def test_a_newer_schema_is_refused_rather_than_damaged(db):
    db.parent.mkdir(parents=True)
    con = sqlite3.connect(db)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.close()
    with pytest.raises(StoreError, match="newer moodmusic") as err:
        Store(db)
    assert err.value.kind == "newer"


def test_the_database_uses_wal(store, db):
    assert store._conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_likes_and_skips_outlive_their_session_latest_one_per_track_counts(tmp_path):
    """A new session (a new Store on the same file, as after a restart) gets every track's latest verdict."""
    path = tmp_path / "h.sqlite3"
    with Store(path) as s:
        s.add_shown("visit-1", "t-like", "sad", "match", name="Don't Stop", artist="A & B", ts=10.0)
        s.add_feedback("visit-1", "t-like", True, "sad", ts=11.0)
        s.add_feedback("visit-1", "t-skip", False, "sad", ts=12.0)
        s.add_feedback("visit-1", "t-changed", True, "happy", ts=13.0)
        s.add_feedback("visit-2", "t-changed", False, "sad", ts=14.0)  # liked once, skipped later: skipped
    with Store(path) as s:
        assert s.track_feedback() == {"t-changed": False, "t-skip": False, "t-like": True}
        assert list(s.track_feedback()) == ["t-changed", "t-skip", "t-like"]  # newest first
        assert s.track_feedback(session_id="visit-1") == {"t-changed": True, "t-skip": False, "t-like": True}
        assert s.track_feedback(limit=1) == {"t-changed": False}
        liked = s.liked_tracks()
        assert [(t.track_id, t.name, t.artist, mood) for t, mood in liked] == [("t-like", "Don't Stop", "A & B", "sad")]
        assert [t.track_id for t, _ in s.liked_tracks(session_id="visit-1")] == ["t-changed", "t-like"]
        s.delete_history("visit-1")
        assert s.track_feedback() == {"t-changed": False}


def test_game_results_are_a_leaderboard_per_session_best_first(tmp_path):
    with Store(tmp_path / "h.sqlite3") as s:
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


def test_deleting_a_sessions_history_deletes_its_game_results_too(tmp_path):
    """The History page's delete (Store.delete_history) takes the leaderboard with the rest."""
    path = tmp_path / "h.sqlite3"
    with Store(path) as s:
        s.add_reading("visit-1", "happy", 0.9, ts=1.0)
        s.add_game("visit-1", 3, (120, 260), winner=2, ts=10.0)
        s.add_game("visit-2", 3, (50, 60), winner=2, ts=11.0)
        assert s.delete_history("visit-1") == 3  # the reading, the game and the session
        assert s.games(session_id="visit-1") == [] and len(s.games()) == 1
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT COUNT(*) FROM games WHERE session_id = 'visit-1'").fetchone() == (0,)
    raw.close()
