"""The shared history backend: PostgreSQL through psycopg 3, so every app replica sees one history.

Chosen when the store's target is a `postgresql://` (or `postgres://`) URL,
any libpq URL: `postgresql://user@host:5432/moodmusic?sslmode=require`. The
password is best left out of the URL (libpq reads `PGPASSWORD` and
`~/.pgpass`); where it is in it, it never appears in a message or a `repr`.

* One connection per `Store`, in autocommit, behind the store's lock; each
  write is one short transaction. A connection lost mid-run (the server
  restarted) fails that call with kind "offline", and the next call connects
  again.
* `busy_timeout_s` is the lock wait (`lock_timeout`) and the connect timeout;
  a server that could not be reached is not asked again for
  `RETRY_AFTER_S` (the same error comes back at once), so a host that
  swallows packets does not hold every write of the live page.
* Migrations are `base.MIGRATIONS` through `base.postgres_ddl`, one row per
  applied migration in `schema_version`; the opener that migrates holds a
  transaction-scoped advisory lock, so replicas starting at once migrate once
  and the others wait, then find the schema current. DDL is transactional
  here: a migration that fails leaves nothing half done.
* `delete_history` deletes in one transaction, then VACUUMs the tables it
  deleted from (docs/store.md says what that erases and what it does not).
* The tables live in the first schema of the connection's search path
  (`?options=-csearch_path%3Dname` in the URL picks one).
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from moodmusic.store.base import MIGRATIONS, SCHEMA_VERSION, Store, StoreError, postgres_ddl, postgres_url, statements

# Advisory-lock namespace for migrations: one lock per schema, hashed by the server.
_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtextextended('moodmusic.store:' || COALESCE(current_schema(), ''), 0))"
_MIGRATION_LOCK_WAIT = "60s"  # how long an opener waits for another one's migration
# A server that could not be reached is not asked again for this long (per URL, per process): the live
# page writes every second, and a host that swallows packets would hold each write for the connect timeout.
RETRY_AFTER_S = 10.0
_failed: dict[str, tuple[float, StoreError]] = {}
# A server that vanishes mid-call (a dead host, a cut network) fails the call within about 15 s instead
# of holding the store's lock until the kernel gives up on TCP (minutes): libpq's keepalives and
# TCP_USER_TIMEOUT (Linux; ignored elsewhere).
_NETWORK_DEFAULTS = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 5, "keepalives_count": 3,
                     "tcp_user_timeout": 15_000}
_failed_lock = threading.Lock()


def scrub(text: str, secrets: tuple[str, ...] = ()) -> str:
    """`text` without passwords: the given ones, any `scheme://user:pass@` and any `password=…`.

    >>> scrub('bad token "pa%zz": postgresql://ann:pa%zz@h/db password=pa%zz', ("pa%zz",))
    'bad token "***": postgresql://ann:***@h/db password=***'
    """
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = re.sub(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s\"']*:)[^@\s\"']*@", r"\1***@", text, flags=re.I)
    return re.sub(r"(password\s*=\s*)('[^']*'|\S+)", r"\1***", text, flags=re.I)


def _first_line(exc: BaseException, secrets: tuple[str, ...]) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return scrub(lines[0] if lines else type(exc).__name__, secrets)


class PostgresStore(Store, backend="postgres"):
    """The history in a PostgreSQL database, shared by every process and replica that opens the same URL."""

    _insert_ignore = ("INSERT INTO", " ON CONFLICT DO NOTHING")
    _greatest = "GREATEST"
    _bucket = "FLOOR(ts / {s})::BIGINT"
    _sessions_order = "started, session_id"

    def __init__(self, url: Path | str, *, busy_timeout_s: float = 5.0, min_interval_s: float = 1.0,
                 read_only: bool = False) -> None:
        super().__init__(url, busy_timeout_s=busy_timeout_s, min_interval_s=min_interval_s, read_only=read_only)
        self._url = postgres_url(url) or str(url)
        self._secrets = self._passwords(self._url)
        self.where = "the PostgreSQL history database"
        try:
            import psycopg
            from psycopg.conninfo import conninfo_to_dict
        except ImportError:
            raise StoreError("the history database is PostgreSQL but psycopg is not installed; "
                             "run `pip install -r requirements.txt`", "open") from None
        self._psycopg = psycopg
        try:
            self._info = conninfo_to_dict(self._url)
        except psycopg.Error as exc:
            raise StoreError(f"the history database URL is not a valid PostgreSQL URL "
                             f"({_first_line(exc, self._secrets)}); write it as "
                             "postgresql://user@host:port/database", "open") from None
        port = str(self._info.get("port") or "")
        if port and not all(p.isdigit() for p in port.split(",")):
            shown = scrub(port, self._secrets)
            raise StoreError(f"the port in the history database URL must be a number, got {shown!r}", "open")
        self._secrets += tuple(p for p in [str(self._info.get("password") or "")] if p)
        self.where = self._describe()
        self._conn: Any = None
        with self._lock:
            self._connect()
            try:
                self._migrate()
            except BaseException:
                self.close()
                raise

    # ---------------------------------------------------------------- connecting
    @staticmethod
    def _passwords(url: str) -> tuple[str, ...]:
        try:
            raw = urlsplit(url).password
        except ValueError:
            raw = None
        if raw is None:
            found = re.search(r"://[^:/@\s]*:([^@\s]*)@", url)
            raw = found.group(1) if found else None
        return (raw,) if raw else ()

    def _describe(self) -> str:
        """The URL without its password (what messages name)."""
        info = self._info
        user = f"{info['user']}@" if info.get("user") else ""
        host = info.get("host") or info.get("hostaddr") or "localhost"
        port = f":{info['port']}" if info.get("port") else ""
        return scrub(f"postgresql://{user}{host}{port}/{info.get('dbname') or info.get('user') or ''}", self._secrets)

    def _connect(self) -> None:
        with _failed_lock:
            when, failure = _failed.get(self._url, (-math.inf, None))
        if failure is not None and time.monotonic() - when < RETRY_AFTER_S:
            err = StoreError(str(failure), failure.kind)  # the same answer at once, no new wait
            self.last_error = err
            raise err
        try:
            self._connect_now()
        except StoreError as err:
            if err.kind == "open":
                with _failed_lock:
                    _failed[self._url] = (time.monotonic(), err)
            raise
        with _failed_lock:
            _failed.pop(self._url, None)

    def _connect_now(self) -> None:
        psycopg = self._psycopg
        kwargs: dict[str, Any] = {"autocommit": True}
        if "connect_timeout" not in self._info:
            kwargs["connect_timeout"] = max(2, math.ceil(self.busy_timeout_s))
        if "application_name" not in self._info:
            kwargs["application_name"] = "moodmusic"
        kwargs.update({k: v for k, v in _NETWORK_DEFAULTS.items() if k not in self._info})  # the URL's own win
        try:
            conn = psycopg.connect(self._url, **kwargs)
        except psycopg.Error as exc:
            err = self._connect_error(exc)
            self.last_error = err
            raise err from None
        try:
            conn.execute(f"SET lock_timeout = '{max(1, int(self.busy_timeout_s * 1000))}ms'")
            if self.read_only:
                conn.execute("SET default_transaction_read_only = on")
        except psycopg.Error as exc:
            conn.close()
            raise self._classify(exc, "opening it") from None
        self._conn = conn

    def _connect_error(self, exc: Exception) -> StoreError:
        msg = str(exc)
        low = msg.lower()
        info = self._info
        host = info.get("host") or info.get("hostaddr") or "localhost"
        where = f"{host}:{info.get('port') or 5432}"
        user = info.get("user") or "(your login name)"
        db = info.get("dbname") or info.get("user") or "(your login name)"
        if "password authentication failed" in low:
            text = f"the PostgreSQL server at {where} refused the password for user {user}"
        elif "no password supplied" in low or "password is required" in low:
            text = (f"the PostgreSQL server at {where} wants a password for user {user}: put it in PGPASSWORD "
                    "or ~/.pgpass (or the URL)")
        elif "database" in low and "does not exist" in low:
            text = f"the database {db} does not exist on the PostgreSQL server at {where}; create it (createdb {db})"
        elif "role" in low and "does not exist" in low:
            text = f"the PostgreSQL server at {where} has no user {user}"
        elif "pg_hba.conf" in low:
            text = f"the PostgreSQL server at {where} does not let user {user} connect from here (pg_hba.conf)"
        elif "resolve host" in low or "translate host name" in low:
            text = f"cannot find the host {host} of the history database (check the URL)"
        elif "too many" in low or "starting up" in low or "shutting down" in low or "recovery" in low:
            text = f"the PostgreSQL server at {where} is not taking connections now ({_first_line(exc, self._secrets)})"
        elif any(w in low for w in ("refused", "timeout expired", "timed out", "no route", "unreachable",
                                    "could not connect", "closed the connection")):
            text = f"no PostgreSQL server answers at {where} (is it running?)"
        elif "invalid" in low or "missing" in low:
            text = f"the history database URL is not valid ({_first_line(exc, self._secrets)})"
        else:
            text = f"cannot connect to the history database {self.where} ({_first_line(exc, self._secrets)})"
        return StoreError(scrub(text, self._secrets), "open")

    def _ready(self) -> Any:
        """The connection, connecting again when the last one was lost."""
        if self._conn is None or self._conn.closed or self._conn.broken:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self._connect()
        return self._conn

    def _classify(self, exc: Exception, action: str) -> StoreError:
        state = getattr(exc, "sqlstate", None) or ""
        saved = f"{action} was not saved"
        if self._conn is not None and (self._conn.broken or self._conn.closed) or state[:2] == "08" \
                or state in ("57P01", "57P02", "57P03"):
            if self._conn is not None:
                self._conn.close()
            return StoreError(f"lost the connection to the history database {self.where}; {saved} "
                              "(the next write connects again)", "offline")
        if state in ("55P03", "40001", "40P01", "57014"):
            return StoreError(f"the history database is busy (another writer held a lock too long); {saved}", "busy")
        if state == "25006":
            return StoreError(f"the history database {self.where} is open read-only; {saved}", "read_only")
        if state == "42501":
            return StoreError(f"the PostgreSQL user may not write the history in {self.where}; {saved}", "read_only")
        if state == "53100":
            return StoreError(f"the disk of the PostgreSQL server holding {self.where} is full; {saved}", "full")
        if state in ("42P01", "42703", "42P07"):
            return StoreError(f"{self.where} holds tables that are not a moodmusic history or are damaged "
                              f"({_first_line(exc, self._secrets)}); use another database or schema", "corrupt")
        return StoreError(f"history database error ({_first_line(exc, self._secrets)}); {saved}")

    # ---------------------------------------------------------------- migrations
    def _version(self, conn: Any) -> int:
        if conn.execute("SELECT to_regclass('schema_version')").fetchone()[0] is None:
            return 0
        return conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]

    def _newer(self, version: int) -> StoreError:
        return StoreError(f"{self.where} was written by a newer moodmusic (schema {version}, this one knows "
                          f"{SCHEMA_VERSION}); upgrade moodmusic", "newer")

    def _migrate(self) -> None:
        psycopg = self._psycopg
        conn = self._conn
        try:
            version = self._version(conn)
            if version > SCHEMA_VERSION:
                raise self._newer(version)
            if version == SCHEMA_VERSION:
                return
            if self.read_only:
                if version == 0:
                    raise StoreError(f"{self.where} holds no moodmusic history yet; open it once for writing to "
                                     "create it", "read_only")
                raise StoreError(f"{self.where} has an older schema ({version}); open it once for writing to "
                                 "upgrade it", "read_only")
            with conn.transaction():
                conn.execute(f"SET LOCAL lock_timeout = '{_MIGRATION_LOCK_WAIT}'")
                conn.execute(_LOCK_SQL)  # replicas opening at once: one migrates, the others wait here
                conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                             "applied DOUBLE PRECISION NOT NULL)")
                version = self._version(conn)  # another replica may have migrated meanwhile
                if version > SCHEMA_VERSION:
                    raise self._newer(version)
                for number in range(version + 1, SCHEMA_VERSION + 1):
                    for statement in statements(MIGRATIONS[number - 1]):
                        conn.execute(postgres_ddl(statement))
                    conn.execute("INSERT INTO schema_version (version, applied) VALUES (%s, %s)",
                                 (number, time.time()))
        except psycopg.Error as exc:
            if getattr(exc, "sqlstate", None) == "3F000":
                raise StoreError(f"the schema named in the search path of {self.where} does not exist; create it "
                                 "or drop the search_path option", "open") from None
            raise self._classify(exc, "opening it") from None

    @property
    def schema_version(self) -> int:
        with self._lock:
            try:
                return self._version(self._ready())
            except self._psycopg.Error as exc:
                raise self._classify(exc, "the history") from None

    # ---------------------------------------------------------------- statements
    @contextmanager
    def _write(self, action: str) -> Iterator[_Tx]:
        psycopg = self._psycopg
        with self._lock:
            try:
                conn = self._ready()
                with conn.transaction():
                    yield _Tx(conn)
            except psycopg.Error as exc:
                err = self._classify(exc, action)
                self.last_error = err
                raise err from None
            except StoreError as err:
                self.last_error = err
                raise
            self.last_error = None

    def _read(self, sql: str, params: tuple = (), action: str = "the history") -> list[tuple]:
        with self._lock:
            try:
                return self._ready().execute(sql.replace("?", "%s"), params).fetchall()
            except self._psycopg.Error as exc:
                err = self._classify(exc, action)
                self.last_error = err
                raise err from None

    def _read_many(self, queries: dict[str, tuple[str, tuple]], action: str) -> dict[str, tuple[list[str], list]]:
        out = {}
        with self._lock:
            try:
                conn = self._ready()
                with conn.transaction():
                    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")  # one snapshot for all
                    for name, (sql, params) in queries.items():
                        cur = conn.execute(sql.replace("?", "%s"), params)
                        out[name] = ([c.name for c in cur.description], cur.fetchall())
            except self._psycopg.Error as exc:
                raise self._classify(exc, action) from None
        return out

    def _after_delete(self, tables: list[str]) -> None:
        """VACUUM what was deleted from: dead rows are removed from the tables and their indexes.

        A failed VACUUM is let be (the rows are deleted either way; autovacuum comes round later).
        """
        if not tables:
            return
        with self._lock:
            try:
                self._ready().execute(f"VACUUM {', '.join(tables)}")
            except self._psycopg.Error:
                pass

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.close()
                except self._psycopg.Error:
                    pass


class _Tx:
    """A transaction's connection taking SQLite's `?` marks (the shared queries are written with them)."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, sql: str, params: tuple = ()) -> Any:
        return self._conn.execute(sql.replace("?", "%s"), params)
