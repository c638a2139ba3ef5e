"""Small persistent JSON state: a TTL cache (memory + disk) and private files for tokens.

The live page asks for music on every mood change; a TTL cache keyed by
(mood, strategy, market) keeps that to at most one Spotify round per key
and lets a restarted server reuse what it fetched. The disk side is best
effort: an unwritable cache directory degrades to memory only, never to an
error on the page.

>>> import tempfile; c = TTLCache(Path(tempfile.mkdtemp()), ttl_s=60)
>>> c.set("happy|match|US", [1, 2]); c.get("happy|match|US")
[1, 2]
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def write_private_json(path: Path, value: Any) -> None:
    """Write JSON readable by this user only (mode 0600), atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.chmod(path.parent, 0o700)
    except OSError:
        pass
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)  # mkstemp creates files 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(value, fh)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def read_json(path: Path) -> Any | None:
    """The JSON in `path`, or None if it is missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


class TTLCache:
    """Values that expire after `ttl_s` seconds, kept in memory and (if possible) on disk."""

    def __init__(self, directory: Path | None, ttl_s: float, clock: Callable[[], float] = time.time) -> None:
        self.directory = Path(directory) if directory is not None else None
        self.ttl_s = float(ttl_s)
        self._clock = clock
        self._mem: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def _file(self, key: str) -> Path | None:
        if self.directory is None:
            return None
        return self.directory / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".json")

    def get(self, key: str) -> Any | None:
        now = self._clock()
        with self._lock:
            hit = self._mem.get(key)
            if hit is not None:
                if hit[0] > now:
                    return hit[1]
                del self._mem[key]
        path = self._file(key)
        if path is None:
            return None
        data = read_json(path)
        if not isinstance(data, dict) or data.get("key") != key or not isinstance(data.get("expires"), (int, float)):
            return None
        if data["expires"] <= now:
            return None
        with self._lock:
            self._mem[key] = (float(data["expires"]), data.get("value"))
        return data.get("value")

    def set(self, key: str, value: Any, ttl_s: float | None = None) -> None:
        expires = self._clock() + (self.ttl_s if ttl_s is None else float(ttl_s))
        with self._lock:
            self._mem[key] = (expires, value)
        path = self._file(key)
        if path is None:
            return
        try:
            write_private_json(path, {"key": key, "expires": expires, "value": value})
        except (OSError, TypeError, ValueError) as exc:
            log.warning("music cache: cannot write %s (%s); keeping it in memory only", path, exc)

    def clear(self) -> None:
        with self._lock:
            self._mem.clear()
        if self.directory is not None and self.directory.is_dir():
            for p in self.directory.glob("*.json"):
                try:
                    p.unlink()
                except OSError:
                    pass
