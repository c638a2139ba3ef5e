"""Logs as JSON lines (one object per line, for any log collector), and the access log.

Uvicorn's own access log is switched off; `AccessLog` writes one line per
request instead: method, path, status, milliseconds, client, request id. It
never writes headers, so a bearer token cannot reach the log, and
`RedactToken` removes the configured token from any other line that quotes it.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import datetime, timezone
from typing import Any

access_log = logging.getLogger("moodmusic.serve.access")

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName", "color_message"}


class JsonFormatter(logging.Formatter):
    """A record → {"ts", "level", "logger", "message", ...extra fields}, one line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        out.update({k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")})
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


class RedactToken(logging.Filter):
    """Replace the API token wherever a log line would quote it."""

    def __init__(self, token: str = "") -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        if self.token and self.token in record.getMessage():
            record.msg, record.args = record.getMessage().replace(self.token, "[redacted]"), ()
        return True


def log_config(level: str = "INFO", token: str = "") -> dict:
    """`logging.config.dictConfig` for uvicorn (applied in every worker process): JSON lines on stderr."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": "moodmusic.serve.logs.RedactToken", "token": token}},
        "formatters": {"json": {"()": "moodmusic.serve.logs.JsonFormatter"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["redact"],
                                "stream": "ext://sys.stderr"}},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
        "root": {"handlers": ["stderr"], "level": level},
    }


class AccessLog:
    """ASGI middleware: one JSON line per HTTP request, and an `X-Request-ID` on every answer."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = uuid.uuid4().hex[:16]
        answer = {"status": 500, "bytes": 0}

        async def sending(message: dict) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", request_id.encode())]}
            elif message["type"] == "http.response.body":
                answer["bytes"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            client = scope.get("client")
            access_log.info("%s %s %s", scope["method"], scope["path"], answer["status"], extra={
                "event": "request", "request_id": request_id, "method": scope["method"], "path": scope["path"],
                "query": scope.get("query_string", b"").decode("latin-1"), "status": answer["status"],
                "ms": round((time.perf_counter() - start) * 1000, 1), "bytes": answer["bytes"],
                "client": f"{client[0]}:{client[1]}" if client else None,
            })
