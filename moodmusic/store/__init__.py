"""The listening history: mood readings, tracks shown, likes and skips, the mood game's matches.

`Store(target)` opens it; the target picks the backend (docs/store.md):

* a file path: SQLite, embedded, one file, no server (the default,
  `$MOODMUSIC_HOME/moodmusic.sqlite3`; `sqlite.py`);
* a `postgresql://…` URL (any libpq URL): PostgreSQL, so every app replica
  shares one history (`postgres.py`).

Both run the same queries (`base.py`), the same numbered migrations (applied
on open, safe with several openers at once) and answer the same. Built for
several page sessions (threads) and processes writing at once; readings are
downsampled in the database itself: at most one per `min_interval_s` per
session (a UNIQUE slot; extra readings are ignored), so a 30 fps stream costs
one row a second whoever writes it.

Failures (busy, read-only, disk full, not a history database, server down,
bad URL, wrong password) raise `StoreError` with a `kind` and a one-line
message that never holds a password; the store stays usable and what was
already committed is untouched, so the app can note it and carry on.
`delete_history` really deletes (docs/store.md says how far, per backend).

>>> import tempfile, pathlib
>>> s = Store(pathlib.Path(tempfile.mkdtemp()) / "h.sqlite3")
>>> s.add_reading("sess-1", "happy", 0.9, 0.8, 0.7, ts=1_000.0)
True
>>> s.add_reading("sess-1", "happy", 0.9, ts=1_000.5)   # same second: downsampled away
False
>>> [r.mood for r in s.readings(0, 2_000)], s.backend
(['happy'], 'sqlite')
"""

from moodmusic.store.base import (
    HISTORY_TABLES,
    MIGRATIONS,
    SCHEMA_VERSION,
    STRATEGY_NAMES,
    GameResult,
    LikedTrack,
    Reading,
    Store,
    StoreError,
    postgres_url,
)
from moodmusic.store.postgres import PostgresStore
from moodmusic.store.sqlite import SQLiteStore

__all__ = ["HISTORY_TABLES", "MIGRATIONS", "SCHEMA_VERSION", "STRATEGY_NAMES", "GameResult", "LikedTrack",
           "PostgresStore", "Reading", "SQLiteStore", "Store", "StoreError", "postgres_url"]
