"""A small real HTTP server on loopback that speaks the Spotify endpoints moodmusic uses.

spotipy talks to it over real sockets exactly as it would to Spotify, so the
tests exercise spotipy's and requests' own code paths (timeouts, status
handling, headers). Behaviour per endpoint is set on `FakeSpotify` before a
call: an answer status, extra headers, a delay.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

CLIENT_ID = "test-client-id"
CLIENT_SECRET = "test-client-secret-do-not-log"
APP_TOKEN = "app-token-must-never-be-logged"
USER_TOKEN = "user-token-must-never-be-logged"
REFRESH_TOKEN = "refresh-token-must-never-be-logged"


@dataclass
class Answer:
    """How an endpoint answers next: status, JSON body, headers, and a delay before answering."""

    status: int = 200
    body: dict | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


class FakeSpotify:
    """Token, search, recommendations, authorize and player endpoints on 127.0.0.1:<free port>."""

    def __init__(self, search_tracks: list[dict] | None = None) -> None:
        self.search_tracks = search_tracks or []
        self.recommendations = Answer(404, {"error": {"status": 404, "message": "Not Found"}})
        self.search: Answer | None = None          # None: answer with search_tracks, paged
        self.token_ok = True
        self.player: Answer = Answer(204)
        self.seen: list[Seen] = []
        self._codes: dict[str, dict] = {}          # authorization code -> {challenge, redirect_uri}
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def _record(self) -> Seen:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                url = urlparse(self.path)
                seen = Seen(self.command, url.path, parse_qs(url.query), dict(self.headers.items()), body)
                with fake._lock:
                    fake.seen.append(seen)
                return seen

            def _send(self, answer: Answer) -> None:
                if answer.delay_s:
                    time.sleep(answer.delay_s)
                data = b"" if answer.body is None else json.dumps(answer.body).encode()
                try:
                    self.send_response(answer.status)
                    for k, v in answer.headers.items():
                        self.send_header(k, v)
                    if data:
                        self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout): that is the point of some tests

            def do_GET(self):
                seen = self._record()
                self._send(fake.route(seen))

            def do_POST(self):
                seen = self._record()
                self._send(fake.route(seen))

            def do_PUT(self):
                seen = self._record()
                self._send(fake.route(seen))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def api_requests(self, path_part: str = "") -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.path.startswith("/v1/") and path_part in s.path]

    # ------------------------------------------------------------ routing
    def route(self, seen: Seen) -> Answer:
        if seen.path == "/api/token":
            return self._token(seen)
        if seen.path == "/authorize":
            return self._authorize(seen)
        if not seen.headers.get("Authorization", "").startswith("Bearer "):
            return Answer(401, {"error": {"status": 401, "message": "No token provided"}})
        if seen.path == "/v1/recommendations":
            return self.recommendations
        if seen.path == "/v1/search":
            return self._search(seen)
        if seen.path.startswith("/v1/me/player"):
            if seen.headers["Authorization"] != f"Bearer {USER_TOKEN}":
                return Answer(401, {"error": {"status": 401, "message": "Invalid access token"}})
            if seen.path == "/v1/me/player/devices":
                return Answer(200, {"devices": [{"id": "dev1", "name": "Kitchen", "type": "Speaker",
                                                 "is_active": True, "volume_percent": 50}]})
            return self.player
        return Answer(404, {"error": {"status": 404, "message": "Service not found"}})

    def _token(self, seen: Seen) -> Answer:
        form = {k: v[0] for k, v in parse_qs(seen.body.decode()).items()}
        grant = form.get("grant_type")
        if grant == "client_credentials":
            expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            if not self.token_ok or seen.headers.get("Authorization") != expected:
                return Answer(400, {"error": "invalid_client", "error_description": "Invalid client"})
            return Answer(200, {"access_token": APP_TOKEN, "token_type": "Bearer", "expires_in": 3600})
        if grant == "authorization_code":
            issued = self._codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
            if (issued is None or issued["challenge"] != challenge or issued["redirect_uri"] != form.get("redirect_uri")
                    or form.get("client_id") != CLIENT_ID):
                return Answer(400, {"error": "invalid_grant", "error_description": "Invalid authorization code"})
            return Answer(200, {"access_token": USER_TOKEN, "token_type": "Bearer", "expires_in": 3600,
                                "refresh_token": REFRESH_TOKEN, "scope": issued["scope"]})
        return Answer(400, {"error": "unsupported_grant_type"})

    def _authorize(self, seen: Seen) -> Answer:
        """Stands in for the listener approving the app: redirect back with a code."""
        q = {k: v[0] for k, v in seen.query.items()}
        if q.get("client_id") != CLIENT_ID or q.get("code_challenge_method") != "S256":
            return Answer(400, {"error": "invalid_request"})
        code = secrets.token_urlsafe(12)
        self._codes[code] = {"challenge": q["code_challenge"], "redirect_uri": q["redirect_uri"],
                             "scope": q.get("scope", "")}
        location = q["redirect_uri"] + "?" + urlencode({"code": code, "state": q.get("state", "")})
        return Answer(302, None, {"Location": location})

    def _search(self, seen: Seen) -> Answer:
        limit = int(seen.query.get("limit", ["10"])[0])
        if limit > 10:  # Spotify's cap for development-mode apps since February 2026
            return Answer(400, {"error": {"status": 400, "message": "Invalid limit"}})
        if self.search is not None:
            return self.search
        offset = int(seen.query.get("offset", ["0"])[0])
        items = self.search_tracks[offset:offset + limit]
        return Answer(200, {"tracks": {"items": items, "limit": limit, "offset": offset,
                                       "total": len(self.search_tracks)}})


def track_item(track_id: str, name: str, artist: str, release_date: str = "2001-05-01") -> dict:
    """A search result item shaped like Spotify's."""
    return {"id": track_id, "type": "track", "name": name, "uri": f"spotify:track:{track_id}",
            "artists": [{"name": artist, "id": "a" + track_id[:10]}],
            "album": {"name": "Album", "release_date": release_date}}
