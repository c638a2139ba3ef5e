"""One typed settings object, read from the environment, `.env` and Streamlit secrets.

Precedence: real environment variables, then `.env` in the working directory
(never overriding the environment), then defaults. Streamlit secrets are
folded into the environment by the page before settings are read, so the
library itself never imports streamlit. Secrets are kept out of `repr`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = ROOT / "models"
CATALOG_PATH = ROOT / "data" / "catalog.npz"


def _load_dotenv() -> None:
    try:
        from dotenv import load_dotenv
    except ImportError:  # pragma: no cover - python-dotenv is a dependency
        return
    load_dotenv(Path.cwd() / ".env", override=False)


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def _float(name: str, default: float) -> float:
    raw = _env(name)
    try:
        return float(raw) if raw else default
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None


def _capture_fps() -> float:
    fps = _float("MOODMUSIC_CAPTURE_FPS", 30.0)
    if not 1.0 <= fps <= 60.0:
        raise ValueError(f"MOODMUSIC_CAPTURE_FPS must be between 1 and 60, got {fps:g}")
    return fps


MAX_LIVE_SESSIONS = 6  # one process: 6 sessions at 13-14 fps each on 2 cores; past it every session falls lower
CAPTURE_SIZE = (480, 360)  # 360p: docs/performance.md#the-cameras-picture-size has why


def parse_capture_size(raw: str, name: str = "MOODMUSIC_CAPTURE_SIZE") -> tuple[int, int]:
    """(width, height) from "WIDTHxHEIGHT"; a clear ValueError naming `name` otherwise.

    >>> parse_capture_size(" 640X480 ")
    (640, 480)
    """
    match = re.fullmatch(r"(\d+)x(\d+)", raw.strip().lower())
    width, height = (int(match[1]), int(match[2])) if match else (0, 0)
    if not (160 <= width <= 1920 and 120 <= height <= 1080 and width % 2 == 0 and height % 2 == 0):
        raise ValueError(f"{name} must be WIDTHxHEIGHT in even pixels, from 160x120 to 1920x1080 "
                         f"(e.g. 480x360), got {raw.strip()!r}")
    return width, height


def _capture_size() -> tuple[int, int]:
    """MOODMUSIC_CAPTURE_SIZE: the picture the live page asks the camera for."""
    raw = _env("MOODMUSIC_CAPTURE_SIZE")
    return parse_capture_size(raw) if raw else CAPTURE_SIZE


def _bool(name: str, default: bool) -> bool:
    raw = _env(name).lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be 1 or 0 (on or off), got {raw!r}")


def _music_window_seconds() -> float:
    """The span of readings the live page's music follows (music/dominant.py); 4 to 60 s."""
    window = _float("MOODMUSIC_MUSIC_WINDOW_SECONDS", 10.0)
    if not 4.0 <= window <= 60.0:
        raise ValueError(f"MOODMUSIC_MUSIC_WINDOW_SECONDS must be between 4 and 60, got {window:g}")
    return window


def _engine_log_seconds() -> float:
    every = _float("MOODMUSIC_ENGINE_LOG_SECONDS", 0.0)
    if every < 0:
        raise ValueError(f"MOODMUSIC_ENGINE_LOG_SECONDS must be 0 (off) or a number of seconds, got {every:g}")
    return every


def _api_limit(name: str, default: float) -> float:
    """A positive number for the REST API's limits (`moodmusic/serve/`)."""
    value = _float(name, default)
    if value <= 0:
        raise ValueError(f"{name} must be a positive number, got {value:g}")
    return value


def _api_max_concurrent() -> int:
    value = _api_limit("MOODMUSIC_API_MAX_CONCURRENT", 2)
    if value != int(value):
        raise ValueError(f"MOODMUSIC_API_MAX_CONCURRENT must be a whole number, got {value:g}")
    return int(value)


def _max_live_sessions() -> int:
    """MOODMUSIC_MAX_LIVE_SESSIONS: streaming sessions one app process takes; 0 for no limit."""
    value = _float("MOODMUSIC_MAX_LIVE_SESSIONS", MAX_LIVE_SESSIONS)
    if value < 0 or value != int(value):
        raise ValueError(f"MOODMUSIC_MAX_LIVE_SESSIONS must be a whole number, 0 for no limit, got {value:g}")
    return int(value)


def _api_queue_seconds() -> float:
    value = _float("MOODMUSIC_API_QUEUE_SECONDS", 30.0)
    if value < 0:
        raise ValueError(f"MOODMUSIC_API_QUEUE_SECONDS must be 0 (never wait) or more, got {value:g}")
    return value


@dataclass(frozen=True)
class Settings:
    """What the app can be configured with; see `.env.example` for each name."""

    models_dir: Path = MODELS_DIR
    catalog_path: Path = CATALOG_PATH
    home: Path = field(default_factory=lambda: Path.home() / ".moodmusic")
    store_path: Path | str | None = field(default=None, repr=False)  # a file, or a postgresql:// URL (kept as text)
    spotify_client_id: str = field(default="", repr=False)
    spotify_client_secret: str = field(default="", repr=False)
    spotify_market: str = "US"
    spotify_timeout_s: float = 4.0
    music_window_seconds: float = 10.0  # the music follows the main mood of this many seconds (music/dominant.py)
    capture_fps: float = 30.0  # what the live page asks the browser's camera for
    capture_size: tuple[int, int] = CAPTURE_SIZE  # the camera's picture (width, height) the live page asks for
    max_live_sessions: int = MAX_LIVE_SESSIONS  # streaming sessions this process takes; a page past it waits (0: any)
    engine_log_seconds: float = 0.0  # > 0: log each live session's engine rates this often (live/engine_log.py)
    voice_adaptation: bool = True  # live sessions measure voice features against the speaker (audio/speaker.py)
    log_level: str = "INFO"
    # The REST API (`python -m moodmusic serve`, moodmusic/serve/):
    api_token: str = field(default="", repr=False)  # set: every endpoint but /health/live needs this bearer token
    api_max_mb: float = 50.0  # a larger upload gets 413
    api_max_seconds: float = 120.0  # a longer audio or video gets 413
    api_max_concurrent: int = 2  # analyses at once per worker process
    api_queue_seconds: float = 30.0  # how long a request waits for a free analysis slot before 503
    api_upload_dir: Path | None = None  # where uploads are written (each in its own temporary folder); None: the system's

    @property
    def database(self) -> Path | str:
        """What `Store()` opens: the SQLite file, or the PostgreSQL URL as written (a Path would fold its `//`)."""
        return self.store_path or (self.home / "moodmusic.sqlite3")

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def spotify_enabled(self) -> bool:
        return bool(self.spotify_client_id and self.spotify_client_secret)

    def __repr__(self) -> str:  # secrets never appear in logs or tracebacks
        shown = [f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.repr]
        shown.insert(3, f"database={_without_password(str(self.database))!r}")
        return f"Settings({', '.join(shown)})"


def _without_password(target: str) -> str:
    """A database URL as it may be shown: `postgresql://ann:***@host/db` (a file path unchanged)."""
    return re.sub(r"^([a-z][a-z0-9+.-]*://[^:/@]*):[^@/]*@", r"\1:***@", target, flags=re.I)


def load_settings() -> Settings:
    """Read settings afresh (cheap); call once per process or page run."""
    _load_dotenv()
    home = Path(_env("MOODMUSIC_HOME") or (Path.home() / ".moodmusic")).expanduser()
    store = _env("MOODMUSIC_DB")
    return Settings(
        models_dir=Path(_env("MOODMUSIC_MODELS_DIR") or MODELS_DIR).expanduser(),
        catalog_path=Path(_env("MOODMUSIC_CATALOG") or CATALOG_PATH).expanduser(),
        home=home,
        store_path=(store if "://" in store else Path(store).expanduser()) if store else None,
        spotify_client_id=_env("SPOTIFY_CLIENT_ID"),
        spotify_client_secret=_env("SPOTIFY_CLIENT_SECRET"),
        spotify_market=_env("SPOTIFY_MARKET", "US") or "US",
        spotify_timeout_s=_float("SPOTIFY_TIMEOUT_S", 4.0),
        music_window_seconds=_music_window_seconds(),
        capture_fps=_capture_fps(),
        capture_size=_capture_size(),
        max_live_sessions=_max_live_sessions(),
        engine_log_seconds=_engine_log_seconds(),
        voice_adaptation=_bool("MOODMUSIC_VOICE_ADAPTATION", True),
        log_level=_env("MOODMUSIC_LOG_LEVEL", "INFO") or "INFO",
        api_token=_env("MOODMUSIC_API_TOKEN"),
        api_max_mb=_api_limit("MOODMUSIC_API_MAX_MB", 50.0),
        api_max_seconds=_api_limit("MOODMUSIC_API_MAX_SECONDS", 120.0),
        api_max_concurrent=_api_max_concurrent(),
        api_queue_seconds=_api_queue_seconds(),
        api_upload_dir=Path(_env("MOODMUSIC_API_UPLOAD_DIR")).expanduser() if _env("MOODMUSIC_API_UPLOAD_DIR") else None,
    )
