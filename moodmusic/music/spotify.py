"""Spotify as optional enrichment: mood-aware search, and playback for signed-in Premium users.

The only module that imports spotipy. Two rules shape it:

* **Never block the page.** spotipy's default session retries 429s through
  urllib3, which sleeps for the whole `Retry-After` (Spotify sends up to
  hours; urllib3 caps it at 6 h) — the known "spotipy hangs" reports
  (spotipy-dev/spotipy#766, #1224). Here the session is built by hand: 429 is
  never retried, `Retry-After` is never slept on, 5xx gets one quick retry,
  GET only, and every request has a short timeout. A failure opens a
  cool-down (the full `Retry-After` for a 429) during which no request is
  sent at all, and the caller gets catalog results at once with a note.
* **Ask little.** Results are cached per (mood, strategy, market) with a TTL
  in memory and on disk, so the live page costs at most one API round per
  mood change. Recommendations (closed to new API clients since 2024-11-27:
  404) are tried once; the 404 is remembered for a week.

Search answers carry no audio features (that endpoint is closed too): the
recommender places a result with the catalog's features when its id is in
the catalog and otherwise keeps Spotify's relevance order.

Tokens never reach a log: the client-credentials token lives in memory only,
a signed-in user's token in a 0600 file under `Settings.home`, and a filter
scrubs bearer/basic credentials from spotipy's own debug lines (it logs
request headers at DEBUG).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import logging
import re
import secrets
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import spotipy
from requests.adapters import HTTPAdapter
from spotipy.cache_handler import CacheHandler, MemoryCacheHandler
from spotipy.exceptions import SpotifyException, SpotifyOauthError
from urllib3.util.retry import Retry

from moodmusic.config import Settings
from moodmusic.music.cache import TTLCache, read_json, write_private_json
from moodmusic.music.catalog import Track, decade_from_date, year_from_date
from moodmusic.music.targets import Target, check_mood, check_strategy, target_for

log = logging.getLogger(__name__)

API_BASE = "https://api.spotify.com"
AUTH_BASE = "https://accounts.spotify.com"
REDIRECT_URI = "http://127.0.0.1:8501"
USER_SCOPES = ("user-read-playback-state", "user-modify-playback-state")

SEARCH_LIMIT = 10              # Spotify answers 400 above 10 for development-mode apps (Feb 2026)
SEARCH_PAGES = 2
CACHE_TTL_S = 6 * 3600
PARTIAL_CACHE_TTL_S = 120      # a round cut short is cached briefly, then asked again
ENDPOINT_CLOSED_TTL_S = 7 * 86400
DEFAULT_RETRY_AFTER_S = 30.0
MAX_COOLDOWN_S = 24 * 3600.0
SERVER_ERROR_COOLDOWN_S = 30.0
NETWORK_COOLDOWN_S = 60.0
AUTH_COOLDOWN_S = 3600.0
PENDING_SIGN_IN_TTL_S = 15 * 60

# Search words per (mood, strategy): short, common tags that Spotify's search matches
# against titles, albums and playlists-derived metadata.
SEARCH_QUERIES: dict[tuple[str, str], str] = {
    ("happy", "match"): "happy upbeat",
    ("surprise", "match"): "euphoric",
    ("angry", "match"): "angry intense",
    ("fear", "match"): "dark tense",
    ("sad", "match"): "sad songs",
    ("neutral", "match"): "chill",
    ("happy", "lift"): "feel good",
    ("surprise", "lift"): "feel good",
    ("angry", "lift"): "uplifting rock",
    ("fear", "lift"): "hopeful",
    ("sad", "lift"): "uplifting acoustic",
    ("neutral", "lift"): "good vibes",
    ("happy", "calm"): "calm acoustic",
    ("surprise", "calm"): "calm",
    ("angry", "calm"): "calm down",
    ("fear", "calm"): "soothing",
    ("sad", "calm"): "calm piano",
    ("neutral", "calm"): "relaxing",
}
SEED_GENRES: dict[str, list[str]] = {
    "happy": ["happy", "pop"], "surprise": ["dance", "party"], "angry": ["metal", "rock"],
    "fear": ["ambient", "soundtracks"], "sad": ["sad", "acoustic"], "neutral": ["chill", "indie"],
}


class SpotifyError(Exception):
    """A Spotify problem told in words a listener can act on."""


# ------------------------------------------------------------------ log hygiene

class _RedactSecrets(logging.Filter):
    _rx = re.compile(
        r"((?:Bearer|Basic)\s+)[A-Za-z0-9._~+/=-]+"
        r"|((?:access_token|refresh_token|code_verifier|client_secret|code)['\"]?\s*[:=]\s*['\"]?)[^'\",}&\s]+"
    )

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is not ours to fix
            return True
        red = self._rx.sub(lambda m: (m.group(1) or m.group(2)) + "***", msg)
        if red != msg:
            record.msg, record.args = red, ()
        return True


for _name in ("spotipy.client", "spotipy.oauth2", "spotipy.util"):
    _lg = logging.getLogger(_name)
    if not any(isinstance(f, _RedactSecrets) for f in _lg.filters):
        _lg.addFilter(_RedactSecrets())


# ------------------------------------------------------------------ HTTP plumbing

def _session() -> requests.Session:
    """A session that never sleeps on Retry-After and retries only 5xx GETs, once, quickly."""
    retry = Retry(
        total=2, connect=1, read=False, redirect=2, status=1, other=0,
        backoff_factor=0.2, status_forcelist=(500, 502, 503, 504),
        allowed_methods=frozenset({"GET"}), respect_retry_after_header=False, raise_on_status=False,
    )
    s = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    return s


def _timeout(settings: Settings, timeout_s: float | None) -> tuple[float, float]:
    t = float(timeout_s if timeout_s is not None else settings.spotify_timeout_s)
    t = max(0.1, t)
    return (min(t, 3.0), t)  # (connect, read)


def retry_after_seconds(headers: Any, default: float = DEFAULT_RETRY_AFTER_S) -> float:
    """Seconds from a Retry-After header (delta seconds or HTTP date), within [1 s, 24 h]."""
    raw = None
    if headers is not None:
        try:
            raw = headers.get("Retry-After") or headers.get("retry-after")
        except AttributeError:
            raw = None
    if raw is None:
        return default
    raw = str(raw).strip()
    if re.fullmatch(r"\d+(\.\d+)?", raw):
        secs = float(raw)
    else:
        from email.utils import parsedate_to_datetime
        try:
            secs = parsedate_to_datetime(raw).timestamp() - time.time()
        except (TypeError, ValueError, IndexError):
            return default
    return min(MAX_COOLDOWN_S, max(1.0, secs))


def _track_from_item(item: Any) -> Track | None:
    if not isinstance(item, dict) or not item.get("id") or item.get("type", "track") != "track":
        return None
    artists = [a.get("name", "") for a in item.get("artists") or [] if isinstance(a, dict)]
    album = item.get("album") if isinstance(item.get("album"), dict) else {}
    return Track(
        id=str(item["id"]), name=str(item.get("name") or ""), artist=", ".join(a for a in artists if a),
        decade=decade_from_date(str(album.get("release_date") or "")),
        year=year_from_date(str(album.get("release_date") or "")),
    )


@dataclass
class SpotifyResult:
    """What one ask produced: tracks in Spotify's order, or nothing and a note saying why."""

    tracks: list[Track]
    ok: bool
    note: str = ""
    from_cache: bool = False
    endpoint: str = ""  # "search" or "recommendations"


# ------------------------------------------------------------------ catalog-side source

class SpotifySource:
    """Mood-aware Spotify lookups with caching and a cool-down; one per process is enough.

    `fetch` never raises and never waits longer than about two request
    timeouts; when Spotify cannot answer it returns `ok=False` and a note.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        api_base: str = API_BASE,
        auth_base: str = AUTH_BASE,
        cache: TTLCache | None = None,
        timeout_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not settings.spotify_enabled:
            raise SpotifyError("Spotify is not configured: set SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET")
        self.settings = settings
        self.market = settings.spotify_market or "US"
        self.api_base = api_base.rstrip("/")
        self.auth_base = auth_base.rstrip("/")
        self.timeout = _timeout(settings, timeout_s)
        self.cache = cache if cache is not None else TTLCache(settings.cache_dir / "spotify", CACHE_TTL_S)
        self._clock = clock
        self._client: spotipy.Spotify | None = None
        self._blocked_until = 0.0
        self._block_note = ""
        self._state_lock = threading.Lock()
        self._fetch_lock = threading.Lock()
        self.requests_sent = 0  # API requests (not token requests) actually sent; for tests and the bench

    # -- state
    def _client_or_build(self) -> spotipy.Spotify:
        if self._client is None:
            session = _session()
            auth = spotipy.SpotifyClientCredentials(
                client_id=self.settings.spotify_client_id, client_secret=self.settings.spotify_client_secret,
                requests_session=session, requests_timeout=self.timeout, cache_handler=MemoryCacheHandler(),
            )
            auth.OAUTH_TOKEN_URL = self.auth_base + "/api/token"
            client = spotipy.Spotify(auth_manager=auth, requests_session=session, requests_timeout=self.timeout,
                                     retries=0, status_retries=0)
            client.prefix = self.api_base + "/v1/"
            self._client = client
        return self._client

    def blocked_for(self) -> float:
        """Seconds left in the current cool-down (0 when Spotify may be asked)."""
        with self._state_lock:
            return max(0.0, self._blocked_until - self._clock())

    def _block(self, seconds: float, note: str) -> None:
        with self._state_lock:
            self._blocked_until = max(self._blocked_until, self._clock() + min(seconds, MAX_COOLDOWN_S))
            self._block_note = note
        log.warning("Spotify paused for %.0f s: %s", seconds, note)

    def _key(self, mood: str, strategy: str) -> str:
        return f"tracks|{mood}|{strategy}|{self.market}"

    def _recs_key(self) -> str:
        return f"endpoint|recommendations|{self.api_base}"

    # -- the one public call
    def fetch(self, mood: str, strategy: str = "match", target: Target | None = None) -> SpotifyResult:
        """Tracks for (mood, strategy) from cache or one API round; Spotify failures become a note, never an exception."""
        check_mood(mood)
        check_strategy(strategy)
        key = self._key(mood, strategy)
        cached = self.cache.get(key)
        if isinstance(cached, dict) and isinstance(cached.get("tracks"), list):
            try:
                tracks = [Track(**t) for t in cached["tracks"]]
                return SpotifyResult(tracks, True, from_cache=True, endpoint=str(cached.get("endpoint", "")))
            except TypeError:
                pass  # an older cache layout: ask again
        left = self.blocked_for()
        if left > 0:
            return SpotifyResult([], False, f"{self._block_note} — using the offline catalog (next try in {left:.0f} s)")
        if not self._fetch_lock.acquire(timeout=self.timeout[1]):
            return SpotifyResult([], False, "Spotify is busy with another request — using the offline catalog")
        try:
            again = self.cache.get(key)  # another thread may have fetched it while we waited
            if isinstance(again, dict) and isinstance(again.get("tracks"), list):
                return SpotifyResult([Track(**t) for t in again["tracks"]], True, from_cache=True,
                                     endpoint=str(again.get("endpoint", "")))
            return self._round(mood, strategy, target or target_for(mood, strategy), key)
        finally:
            self._fetch_lock.release()

    def _round(self, mood: str, strategy: str, target: Target, key: str) -> SpotifyResult:
        tracks: list[Track] = []
        endpoint = ""
        complete = True
        deadline = self._clock() + 2.5 * self.timeout[1]
        try:
            client = self._client_or_build()
            if self.cache.get(self._recs_key()) != "closed":
                try:
                    self.requests_sent += 1
                    with warnings.catch_warnings():  # spotipy warns that Spotify deprecated it: that is why we ask once
                        warnings.simplefilter("ignore", DeprecationWarning)
                        res = client.recommendations(
                            seed_genres=SEED_GENRES[mood], limit=SEARCH_LIMIT, country=self.market,
                            target_valence=target.valence, target_energy=target.energy,
                        )
                    tracks = [t for t in map(_track_from_item, (res or {}).get("tracks") or []) if t]
                    endpoint = "recommendations"
                except SpotifyException as exc:
                    if exc.http_status != 404:
                        raise
                    self.cache.set(self._recs_key(), "closed", ttl_s=ENDPOINT_CLOSED_TTL_S)
                    log.info("Spotify recommendations answered 404 (closed to this app); using search from now on")
            if not tracks:
                endpoint = "search"
                query = SEARCH_QUERIES[(mood, strategy)]
                seen: set[str] = set()
                for page in range(SEARCH_PAGES):
                    if self._clock() > deadline:
                        complete = False
                        break
                    self.requests_sent += 1
                    res = client.search(q=query, limit=SEARCH_LIMIT, offset=page * SEARCH_LIMIT,
                                        type="track", market=self.market)
                    items = ((res or {}).get("tracks") or {}).get("items") or []
                    for t in map(_track_from_item, items):
                        if t and t.id not in seen:
                            seen.add(t.id)
                            tracks.append(t)
                    if len(items) < SEARCH_LIMIT:
                        break
        except Exception as exc:  # noqa: BLE001 - every failure becomes a note, never a traceback
            note = self._classify(exc)
            if not tracks:
                return SpotifyResult([], False, note + " — using the offline catalog")
            complete = False
        self.cache.set(key, {"endpoint": endpoint, "tracks": [dataclasses.asdict(t) for t in tracks]},
                       ttl_s=None if complete else PARTIAL_CACHE_TTL_S)
        return SpotifyResult(tracks, True, "" if complete else "Spotify answered only in part", endpoint=endpoint)

    def _classify(self, exc: Exception) -> str:
        """Turn an exception into a note and the matching cool-down."""
        if isinstance(exc, SpotifyOauthError):
            why = getattr(exc, "error", None) or "rejected"
            note = f"Spotify rejected the app credentials ({why}); check SPOTIFY_CLIENT_ID/SECRET"
            self._block(AUTH_COOLDOWN_S, note)
            return note
        if isinstance(exc, SpotifyException):
            status = exc.http_status
            if status == 429:
                wait = retry_after_seconds(exc.headers)
                note = f"Spotify rate limit reached (retry after {wait:.0f} s)"
                self._block(wait, note)
            elif status in (401, 403):
                note = f"Spotify refused the request ({status})"
                self._block(AUTH_COOLDOWN_S if status == 403 else SERVER_ERROR_COOLDOWN_S, note)
                self._client = None  # a fresh token next time
            elif status is not None and status >= 500:
                note = f"Spotify is having trouble ({status})"
                self._block(SERVER_ERROR_COOLDOWN_S, note)
            else:
                note = f"Spotify answered {status}"
                self._block(SERVER_ERROR_COOLDOWN_S, note)
            return note
        if isinstance(exc, requests.exceptions.Timeout):
            note = "Spotify did not answer in time"
        elif isinstance(exc, requests.exceptions.RequestException):
            note = "Spotify is unreachable"
        else:
            log.exception("unexpected error talking to Spotify")
            note = f"Spotify lookup failed ({type(exc).__name__})"
        self._block(NETWORK_COOLDOWN_S, note)
        return note


_sources: dict[tuple, SpotifySource] = {}
_sources_lock = threading.Lock()


def shared_source(settings: Settings) -> SpotifySource:
    """One SpotifySource per process and credentials, so cool-downs and caches are shared by sessions."""
    key = (settings.spotify_client_id, settings.spotify_client_secret, settings.spotify_market,
           str(settings.cache_dir), settings.spotify_timeout_s)
    with _sources_lock:
        src = _sources.get(key)
        if src is None:
            src = _sources[key] = SpotifySource(settings)
        return src


# ------------------------------------------------------------------ a listener's account (PKCE)

class _PrivateTokenCache(CacheHandler):
    """spotipy token cache in a 0600 JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def get_cached_token(self) -> dict | None:
        data = read_json(self.path)
        return data if isinstance(data, dict) else None

    def save_token_to_cache(self, token_info: dict) -> None:
        write_private_json(self.path, token_info)


class _NoPromptPKCE(spotipy.SpotifyPKCE):
    """spotipy's PKCE manager falls back to an interactive prompt when it has no token; a server must not."""

    def _get_auth_response(self, open_browser: bool | None = None) -> str:
        raise SpotifyError("not signed in to Spotify: sign in first")


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def _user_file(settings: Settings, user_key: str) -> Path:
    digest = hashlib.sha256(user_key.encode()).hexdigest()[:16]
    return settings.home / "spotify" / f"user-{digest}.json"


def _pending_file(settings: Settings) -> Path:
    return settings.home / "spotify" / "pending-sign-ins.json"


class SpotifyUser:
    """One listener's Spotify account: sign in (Authorization Code + PKCE), play, queue.

    Playback control needs Spotify Premium and an open Spotify app on some
    device. `user_key` separates listeners sharing a server (use a stable
    per-user id; the default suits a single local user). Errors are
    `SpotifyError` with a message fit for the page.
    """

    def __init__(
        self,
        settings: Settings,
        user_key: str = "local",
        *,
        redirect_uri: str = REDIRECT_URI,
        api_base: str = API_BASE,
        auth_base: str = AUTH_BASE,
        timeout_s: float | None = None,
    ) -> None:
        if not settings.spotify_client_id:
            raise SpotifyError("Spotify sign-in needs SPOTIFY_CLIENT_ID (see .env.example)")
        self.settings = settings
        self.user_key = user_key
        self.redirect_uri = redirect_uri
        self.api_base = api_base.rstrip("/")
        self.auth_base = auth_base.rstrip("/")
        self.timeout = _timeout(settings, timeout_s)
        self.token_path = _user_file(settings, user_key)
        self._session = _session()

    def _auth(self) -> _NoPromptPKCE:
        auth = _NoPromptPKCE(
            client_id=self.settings.spotify_client_id, redirect_uri=self.redirect_uri, scope=list(USER_SCOPES),
            cache_handler=_PrivateTokenCache(self.token_path), requests_session=self._session,
            requests_timeout=self.timeout, open_browser=False,
        )
        auth.OAUTH_AUTHORIZE_URL = self.auth_base + "/authorize"
        auth.OAUTH_TOKEN_URL = self.auth_base + "/api/token"
        return auth

    # -- sign-in
    def authorize_url(self) -> str:
        """The Spotify page to send the listener to; remembers the PKCE verifier under a fresh state."""
        verifier = secrets.token_urlsafe(64)
        state = secrets.token_urlsafe(16)
        pending = _load_pending(self.settings)
        pending[state] = {"verifier": verifier, "user_key": self.user_key, "redirect_uri": self.redirect_uri,
                          "created": time.time()}
        write_private_json(_pending_file(self.settings), pending)
        auth = self._auth()
        auth.code_verifier = verifier
        auth.code_challenge = _challenge(verifier)
        return auth.get_authorize_url(state=state)

    def _exchange(self, code: str, verifier: str) -> None:
        auth = self._auth()
        auth.code_verifier = verifier
        auth.code_challenge = _challenge(verifier)
        try:
            auth.get_access_token(code=code, check_cache=False)
        except SpotifyOauthError as exc:
            raise SpotifyError(f"Spotify refused the sign-in ({getattr(exc, 'error', None) or 'error'}); "
                               "please sign in again") from None
        except requests.exceptions.RequestException:
            raise SpotifyError("Spotify is unreachable; sign-in did not complete") from None

    @property
    def signed_in(self) -> bool:
        token = read_json(self.token_path)
        return isinstance(token, dict) and bool(token.get("access_token") or token.get("refresh_token"))

    def sign_out(self) -> None:
        """Forget this listener's tokens on this machine."""
        try:
            self.token_path.unlink()
        except FileNotFoundError:
            pass

    # -- player
    def _client(self) -> spotipy.Spotify:
        if not self.signed_in:
            raise SpotifyError("not signed in to Spotify: sign in first")
        client = spotipy.Spotify(auth_manager=self._auth(), requests_session=self._session,
                                 requests_timeout=self.timeout, retries=0, status_retries=0)
        client.prefix = self.api_base + "/v1/"
        return client

    def _call(self, fn: Callable[[spotipy.Spotify], Any]) -> Any:
        try:
            return fn(self._client())
        except SpotifyError:
            raise
        except SpotifyOauthError:
            self.sign_out()
            raise SpotifyError("your Spotify sign-in expired or was revoked; please sign in again") from None
        except SpotifyException as exc:
            raise SpotifyError(_player_message(exc)) from None
        except requests.exceptions.Timeout:
            raise SpotifyError("Spotify did not answer in time; try again") from None
        except requests.exceptions.RequestException:
            raise SpotifyError("Spotify is unreachable right now") from None

    def devices(self) -> list[dict[str, Any]]:
        """The listener's Spotify devices: [{"id", "name", "type", "is_active"}, …]."""
        res = self._call(lambda sp: sp.devices()) or {}
        return [{k: d.get(k) for k in ("id", "name", "type", "is_active")} for d in res.get("devices") or []]

    def play(self, track_id: str, device_id: str | None = None) -> None:
        """Play the track now on the listener's active (or given) device."""
        self._call(lambda sp: sp.start_playback(device_id=device_id, uris=[f"spotify:track:{track_id}"]))

    def add_to_queue(self, track_id: str, device_id: str | None = None) -> None:
        """Add the track to the listener's queue."""
        self._call(lambda sp: sp.add_to_queue(f"spotify:track:{track_id}", device_id=device_id))


def _player_message(exc: SpotifyException) -> str:
    reason = (getattr(exc, "reason", None) or "").upper()
    status = exc.http_status
    if reason == "PREMIUM_REQUIRED" or (status == 403 and "PREMIUM" in str(exc.msg).upper()):
        return "playing on your device needs Spotify Premium"
    if reason == "NO_ACTIVE_DEVICE" or status == 404:
        return "no active Spotify device: open Spotify on a phone or computer, then try again"
    if status == 429:
        return f"Spotify rate limit reached; try again in {retry_after_seconds(exc.headers):.0f} s"
    if status == 401:
        return "your Spotify sign-in expired; please sign in again"
    if status == 403:
        return "Spotify refused this request for your account (development-mode apps allow listed users only)"
    if status is not None and status >= 500:
        return f"Spotify is having trouble ({status}); try again later"
    return f"Spotify answered {status}"


def _load_pending(settings: Settings) -> dict[str, dict]:
    data = read_json(_pending_file(settings))
    if not isinstance(data, dict):
        return {}
    now = time.time()
    return {s: v for s, v in data.items()
            if isinstance(v, dict) and now - float(v.get("created", 0)) < PENDING_SIGN_IN_TTL_S}


def complete_sign_in(settings: Settings, code: str, state: str, **kwargs: Any) -> SpotifyUser:
    """Finish a sign-in from the redirect's `code` and `state`; returns the signed-in user.

    The redirect lands in a fresh page session, so the verifier is looked up
    by `state` from the pending file written by `authorize_url`.
    """
    pending = _load_pending(settings)
    entry = pending.pop(state, None)
    write_private_json(_pending_file(settings), pending)
    if entry is None:
        raise SpotifyError("this Spotify sign-in link expired or was already used; please sign in again")
    user = SpotifyUser(settings, entry["user_key"], redirect_uri=entry.get("redirect_uri", REDIRECT_URI), **kwargs)
    user._exchange(code, entry["verifier"])
    return user
