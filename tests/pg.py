"""A real, throwaway PostgreSQL server for the store tests, from the system's packages.

`start()` runs initdb and the server (as the `postgres` user when the tests
run as root: PostgreSQL refuses to run as root) in a fresh temporary folder,
listening on a free loopback port only, with password authentication for TCP
and durability off (fsync, synchronous_commit: it is thrown away). `stop()`
stops it and deletes the folder. Where no server can be started, `start()`
raises `Unavailable` with the reason, and the tests skip with it.

One server serves a whole test session (about 1 s to start); each test gets
its own schema (`schema_url`), so tests never see each other's rows.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

USER = "moodmusic"


class Unavailable(Exception):
    """No PostgreSQL server could be started here; the message says why (the tests skip with it)."""


def bin_dir() -> Path | None:
    """The PostgreSQL server binaries: $PG_BINDIR (only it, when set), else the newest of Debian's
    /usr/lib/postgresql/N/bin, else PATH."""
    if os.environ.get("PG_BINDIR"):
        chosen = Path(os.environ["PG_BINDIR"])
        return chosen if (chosen / "initdb").is_file() and (chosen / "pg_ctl").is_file() else None
    candidates: list[Path] = []
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                      key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True)
    candidates += versions
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    return next((c for c in candidates if (c / "initdb").is_file() and (c / "pg_ctl").is_file()), None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    bindir: Path
    folder: Path
    port: int
    password: str
    run_as: str | None  # the system user running the server (root cannot)

    @property
    def url(self) -> str:
        """The `moodmusic` superuser's URL for the `moodmusic` database."""
        return f"postgresql://{USER}:{quote(self.password, safe='')}@127.0.0.1:{self.port}/{USER}"

    def schema_url(self, schema: str) -> str:
        """The same database with `schema` first on the search path: the store's tables go there."""
        return f"{self.url}?options=-csearch_path%3D{schema}"

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        as_user = {"user": self.run_as, "group": self.run_as, "extra_groups": []} if self.run_as else {}
        return subprocess.run([str(self.bindir / args[0]), *args[1:]], capture_output=True, text=True,
                              timeout=timeout, cwd=self.folder, **as_user)

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=30)
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def start() -> Server:
    """Start a fresh server on a free loopback port; raises Unavailable saying why it cannot."""
    bindir = bin_dir()
    if bindir is None:
        raise Unavailable("no PostgreSQL server binaries (initdb, pg_ctl) found: install the `postgresql` "
                          "package (scripts/setup.sh --dev does) or set PG_BINDIR to their folder")
    run_as = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise Unavailable("running as root and there is no `postgres` system user to run the server as "
                              "(PostgreSQL refuses to run as root)") from None
        run_as = "postgres"
    folder = Path(tempfile.mkdtemp(prefix="moodmusic-pg-"))
    if run_as:
        shutil.chown(folder, run_as, run_as)
    server = Server(bindir, folder, 0, secrets.token_urlsafe(12), run_as)
    try:
        (folder / "pw").write_text(server.password)
        if run_as:
            shutil.chown(folder / "pw", run_as, run_as)
        init = server._run("initdb", "-D", str(server.data), "-U", USER, f"--pwfile={folder / 'pw'}",
                           "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C",
                           "--no-sync", "--no-instructions")
        (folder / "pw").unlink()
        if init.returncode != 0:
            raise Unavailable(f"initdb failed: {(init.stderr.strip().splitlines() or ['no message'])[-1]}")
        last = ""
        for _ in range(3):  # a free port can be taken between the probe and the bind: try another
            server.port = _free_port()
            opts = (f"-c listen_addresses=127.0.0.1 -p {server.port} -c unix_socket_directories='' -c fsync=off "
                    "-c synchronous_commit=off -c full_page_writes=off -c shared_buffers=16MB -c max_connections=60")
            started = server._run("pg_ctl", "-D", str(server.data), "-l", str(folder / "log"), "-w", "-t", "30",
                                  "-o", opts, "start", timeout=60)
            if started.returncode == 0:
                break
            log = folder / "log"
            last = (log.read_text(errors="replace").strip().splitlines() or [started.stderr.strip()])[-1]
        else:
            raise Unavailable(f"the PostgreSQL server did not start: {last}")
        _create_database(server)
        return server
    except Unavailable:
        server.stop()
        raise
    except Exception as exc:  # noqa: BLE001 - whatever stops it, the tests skip saying what it was
        server.stop()
        raise Unavailable(f"cannot run PostgreSQL here ({type(exc).__name__}: {exc})") from None


def _create_database(server: Server) -> None:
    import psycopg

    deadline = time.monotonic() + 10
    while True:
        try:
            with psycopg.connect(server.url.rsplit("/", 1)[0] + "/postgres", autocommit=True,
                                 connect_timeout=5) as conn:
                conn.execute(f"CREATE DATABASE {USER}")
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


# --- pytest fixtures: import them into a test module (`from tests.pg import store_backend, postgres_server`) ---


@pytest.fixture(scope="session")
def postgres_server():
    """One real server for the test session, or the reason there is none (a str: the tests skip with it)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        yield "psycopg is not installed (pip install -r requirements.txt)"
        return
    try:
        server = start()
    except Unavailable as exc:
        yield str(exc)
        return
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Backend:
    """One history backend under test: what to open a Store on, and a raw connection beside the store."""

    name: str  # "sqlite" | "postgres"
    target: Path | str  # the SQLite file, or a PostgreSQL URL whose search path is this test's own schema
    server: Server | None = None
    schema: str = ""

    def raw(self):
        """A plain DB-API connection in autocommit (sqlite3 or psycopg), SQL with the backend's own marks."""
        if self.name == "sqlite":
            Path(self.target).parent.mkdir(parents=True, exist_ok=True)
            return sqlite3.connect(self.target, isolation_level=None)
        import psycopg

        return psycopg.connect(str(self.target), autocommit=True)


@pytest.fixture(params=["sqlite", "postgres"])
def store_backend(request, tmp_path):
    """Each store test once on a SQLite file and once on PostgreSQL (its own schema in the session's server)."""
    if request.param == "sqlite":
        yield Backend("sqlite", tmp_path / "history" / "moodmusic.sqlite3")
        return
    yield from _postgres_backend(request)


@pytest.fixture
def pg_backend(request):
    """A PostgreSQL-only test's own schema in the session's server (skipped, saying why, without one)."""
    yield from _postgres_backend(request)


def _postgres_backend(request):
    server = request.getfixturevalue("postgres_server")
    if isinstance(server, str):
        pytest.skip(f"no PostgreSQL server for the store tests: {server}")
    import psycopg

    schema = f"test_{secrets.token_hex(5)}"
    with psycopg.connect(server.url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield Backend("postgres", server.schema_url(schema), server, schema)
    finally:
        with psycopg.connect(server.url, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
