"""The embedded history backend: one SQLite file, no server (the default).

Built for several page sessions (threads) and processes writing at once:

* WAL journal, so readers never block the writer and a crash mid-write
  leaves what was committed intact;
* every write is one short IMMEDIATE transaction, and a busy database is
  waited on for `busy_timeout_s` before the write is given up;
* schema changes are the numbered migrations of `base.MIGRATIONS`, the
  version kept in `PRAGMA user_version`; the first writer to open an old file
  migrates it inside one IMMEDIATE transaction, so openers at once are safe;
* `secure_delete` overwrites freed pages with zeros, and a deletion
  checkpoints and truncates the WAL.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from moodmusic.store.base import MIGRATIONS, SCHEMA_VERSION, Store, StoreError, statements


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


class SQLiteStore(Store, backend="sqlite"):
    """The history in one SQLite file; shared between threads, and between processes through SQLite's locks."""

    def __init__(self, path: Path | str, *, busy_timeout_s: float = 5.0, min_interval_s: float = 1.0,
                 read_only: bool = False) -> None:
        super().__init__(path, busy_timeout_s=busy_timeout_s, min_interval_s=min_interval_s, read_only=read_only)
        self.path = Path(path).expanduser()
        self.where = str(self.path)
        try:
            if not read_only:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            uri = f"file:{self.path}?mode=ro" if read_only else f"file:{self.path}"
            self._conn = sqlite3.connect(uri, uri=True, timeout=busy_timeout_s, isolation_level=None,
                                         check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the history database {self.path} ({exc})", "open") from None
        # Several processes opening a new file at once (replicas starting together) can get "locked" from
        # the switch to WAL or the first migration without SQLite's busy handler waiting (a lock upgrade it
        # will not wait on): those steps are tried again, within the same busy timeout.
        deadline = time.monotonic() + busy_timeout_s
        while True:
            try:
                self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
                if not read_only:
                    self._conn.execute("PRAGMA journal_mode = WAL")
                    self._conn.execute("PRAGMA synchronous = NORMAL")
                self._conn.execute("PRAGMA secure_delete = ON")
                self._migrate()
                break
            except sqlite3.Error as exc:
                error = _classify(exc, self.path, "opening it")
                if error.kind == "busy" and time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                self._conn.close()
                raise error from None
            except StoreError:
                self._conn.close()
                raise

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
                for statement in statements(MIGRATIONS[number - 1]):
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

    def _read(self, sql: str, params: tuple = (), action: str = "the history") -> list[tuple]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                err = _classify(exc, self.path, action)
                self.last_error = err
                raise err from None

    def _read_many(self, queries: dict[str, tuple[str, tuple]], action: str) -> dict[str, tuple[list[str], list]]:
        out = {}
        with self._lock:
            try:
                self._conn.execute("BEGIN")  # one snapshot for all of them
                try:
                    for name, (sql, params) in queries.items():
                        cur = self._conn.execute(sql, params)
                        out[name] = ([c[0] for c in cur.description], cur.fetchall())
                finally:
                    self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise _classify(exc, self.path, action) from None
        return out

    def _after_delete(self, tables: list[str]) -> None:
        self.checkpoint()

    def checkpoint(self) -> bool:
        """Fold the WAL into the database file and truncate it; False if readers kept part of it."""
        with self._lock:
            try:
                busy, _, _ = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            except sqlite3.Error:
                return False
            return busy == 0

    def close(self) -> None:
        with self._lock:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
