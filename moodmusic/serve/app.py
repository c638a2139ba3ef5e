"""The FastAPI app: health, predict and recommend over HTTP, as the commands answer them.

A thin adapter: `POST /predict` answers exactly what `predict --json` prints
for the file (`Analyzer.analyse_json`), `GET /recommend` exactly what
`recommend --json` prints (`Recommender.recommend(...).to_dict()`). The models
and the catalog are loaded once per worker process, at start-up, before the
server accepts requests. Every answer that is not a result is
`{"error": "..."}` with a 4xx or 503 status; a traceback goes to the log,
never to the client.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from fastapi import Depends, FastAPI, File, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from moodmusic import __version__, media
from moodmusic.config import Settings, load_settings
from moodmusic.moods import MOODS
from moodmusic.serve.limits import BodyLimit, Busy, Gate
from moodmusic.serve.logs import AccessLog

log = logging.getLogger(__name__)

LIVE, READY = "/health/live", "/health/ready"
_ERROR = {"content": {"application/json": {"example": {"error": "a one-line reason"}}}}


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """JSON written as the commands print it (`json.dumps`), so an answer equals their output byte for byte."""
    return Response(json.dumps(obj, ensure_ascii=False), status_code=status, media_type="application/json",
                    headers=headers)


def error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response({"error": message}, status, headers)


def upload_name(filename: str | None) -> str:
    """The uploaded file's own name, made safe for a file system: no folders, no odd characters.

    The name is kept (not a random one) because the media reader goes by its
    extension and the answer's `path` and error messages name the file.
    """
    base = Path((filename or "").replace("\\", "/")).name
    base = re.sub(r"[^\w.\- ]", "_", base).lstrip(". ")
    if len(base) > 120:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: 110] + dot + ext[:9]) if dot else base[:120]
    return base or "upload"


@dataclass
class Models:
    """What one worker process loaded at start-up, and what failed to load."""

    analyzer: Any = None
    experts: Any = None
    catalog: Any = None
    problems: list[str] = field(default_factory=list)

    def load(self, settings: Settings) -> None:
        """Load the experts and the catalog; a failure is recorded as a problem, never raised."""
        try:
            import cv2
            import torch

            torch.set_num_threads(1)  # one analysis per thread; a pool per call fights the other requests
            cv2.setNumThreads(1)
            from moodmusic.analysis import Analyzer
            from moodmusic.audio import warm_up
            from moodmusic.pipeline import load_experts

            self.experts = load_experts(settings.models_dir)
            self.problems += list(self.experts.problems)
            self.analyzer = Analyzer(self.experts, settings.models_dir)
            warm_up()  # librosa's first call compiles; pay it here, not in the first request
        except Exception as exc:  # noqa: BLE001 - reported by /health, the server still answers
            log.exception("the models could not be loaded")
            self.problems.append(f"the models could not be loaded ({type(exc).__name__}: {exc})")
        try:
            from moodmusic.music import load_catalog

            self.catalog = load_catalog(settings.catalog_path)
        except Exception as exc:  # noqa: BLE001 - CatalogError says how to rebuild it
            self.problems.append(f"the music catalog could not be loaded: {exc}")
        for problem in self.problems:
            log.warning("%s", problem, extra={"event": "load_problem"})

    def health(self) -> dict:
        e = self.experts
        loaded = {
            "face": bool(e and e.face is not None), "voice": bool(e and e.voice is not None),
            "fusion": bool(e and e.fusion is not None), "catalog": self.catalog is not None,
        }
        return {"models": loaded, "catalog_tracks": len(self.catalog) if self.catalog is not None else 0}

    @property
    def can_analyse(self) -> bool:
        """At least one expert (face or voice) loaded: predict has something to read with."""
        return self.analyzer is not None and (self.experts.face is not None or self.experts.voice is not None)

    @property
    def ready(self) -> bool:
        """Predict can read something and recommend has a catalog."""
        return self.can_analyse and self.catalog is not None


def _analyse_upload(models: Models, settings: Settings, src: BinaryIO, name: str) -> tuple[int, dict]:
    """Copy the upload into its own temporary folder, check its duration, analyse it; the folder always goes."""
    if settings.api_upload_dir is not None:
        settings.api_upload_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="moodmusic-upload-", dir=settings.api_upload_dir) as folder:
        path = Path(folder) / name
        with open(path, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
        try:
            duration = media.probe(path).duration
        except media.MediaError:
            duration = 0.0  # unreadable: analyse_json gives the reason, as predict does
        if duration > settings.api_max_seconds:
            return 413, {"error": f"{name} lasts {duration:.1f} s; this server analyses at most "
                                  f"{settings.api_max_seconds:g} s (MOODMUSIC_API_MAX_SECONDS): send a shorter clip"}
        result = models.analyzer.analyse_json(path)
    result["path"] = name  # the client's name for the file, not where it sat here
    if "error" in result:
        result["error"] = str(result["error"]).replace(f"{folder}/", "").replace(folder, "")
        return 422, result
    return 200, result


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app for `settings` (default: read from the environment, as each uvicorn worker does)."""
    settings = settings if settings is not None else load_settings()
    models = Models()
    gate = Gate(settings.api_max_concurrent, settings.api_queue_seconds)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(models.load, settings)  # once per worker, before the first request
        log.info("ready" if models.ready else "not ready", extra={"event": "startup", "ready": models.ready})
        yield
        log.info("stopped", extra={"event": "shutdown"})

    app = FastAPI(
        title="moodmusic", version=__version__, lifespan=lifespan,
        description="Moods from a face photo, speech or a video, and music for a mood. "
                    "Errors are `{\"error\": \"...\"}`. See docs/serve.md.",
    )
    app.state.models, app.state.gate, app.state.settings = models, gate, settings
    bearer = HTTPBearer(auto_error=False, description="MOODMUSIC_API_TOKEN, when the server sets one")

    def authorised(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        if not settings.api_token:
            return
        given = credentials.credentials if credentials is not None else ""
        if not hmac.compare_digest(given.encode(), settings.api_token.encode()):
            raise HTTPException(401, "missing or wrong bearer token: send `Authorization: Bearer <token>`",
                                headers={"WWW-Authenticate": "Bearer"})

    guarded = [Depends(authorised)]

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such endpoint: {request.url.path} (see /docs)"
        return error(exc.status_code, message, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        reasons = [f"{'.'.join(str(p) for p in e.get('loc', ()) if p not in ('query', 'body'))}: {e.get('msg')}"
                   for e in exc.errors()]
        return error(422, "; ".join(reasons) or "bad request")

    @app.exception_handler(Busy)
    async def busy(request: Request, exc: Busy) -> Response:
        return error(503, str(exc), {"Retry-After": str(exc.retry_after)})

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> Response:
        log.error("unexpected error on %s", request.url.path, exc_info=exc)
        return error(500, "internal error; the server log has the details")

    @app.get(LIVE, summary="Liveness: the process answers (never needs the token)")
    async def live() -> dict:
        return {"status": "ok"}

    @app.get("/health", dependencies=guarded, summary="Readiness: the models and catalog loaded, and what failed",
             responses={503: {"description": "nothing to analyse with, or no catalog"}})
    @app.get(READY, dependencies=guarded, include_in_schema=False)
    async def health() -> Response:
        body = {"status": ("ok" if not models.problems else "degraded") if models.ready else "unavailable",
                **models.health(), "problems": models.problems, "version": __version__,
                "analyses": {"running": gate.running, "waiting": gate.waiting, "slots": gate.slots}}
        return json_response(body, 200 if models.ready else 503)

    @app.post("/predict", dependencies=guarded, summary="The moods in an image, audio or video file",
              description="Answers exactly what `python -m moodmusic predict --json FILE` prints, with `path` "
                          "the uploaded file's name.",
              responses={422: {"description": "the file cannot be read", **_ERROR},
                         413: {"description": "the file is too large or too long", **_ERROR},
                         503: {"description": "busy (Retry-After) or no models loaded", **_ERROR}})
    async def predict(file: UploadFile = File(..., description="an image (jpg, png), audio (wav, flac, mp3, ogg) "
                                                                 "or video (mp4, webm, mov, avi, flv, mkv)")) -> Response:
        if not models.can_analyse:
            return error(503, "no model is loaded: " + "; ".join(models.problems))
        name = upload_name(file.filename)
        try:
            async with gate.slot():
                status, result = await run_in_threadpool(_analyse_upload, models, settings, file.file, name)
        finally:
            await file.close()
        return json_response(result, status)

    @app.get("/recommend", dependencies=guarded, summary="Music for a mood",
             description="Answers exactly what `python -m moodmusic recommend --json` prints for the same options.",
             responses={422: {"description": "an unknown mood or strategy, or n out of range", **_ERROR}})
    def recommend(
        mood: str = Query(..., description=", ".join(MOODS)),
        strategy: str = Query("match", description="match (mirror the mood), lift (toward positive), "
                                                   "calm (toward low energy)"),
        n: int = Query(8, description="how many tracks (1-50)"),
        genre: str | None = Query(None, description="only this genre (see `catalog info`)"),
        decade: str | None = Query(None, description="only this decade, e.g. 1980s"),
        seed: int = Query(0, description="seed for tie-breaking (same seed, same list)"),
    ) -> Response:
        from moodmusic.music import STRATEGIES, CatalogError, Recommender

        if mood.strip().lower() not in MOODS:
            return error(422, f"unknown mood {mood!r}; choose one of: {', '.join(MOODS)}")
        if strategy.strip().lower() not in STRATEGIES:
            return error(422, f"unknown strategy {strategy!r}; choose one of: {', '.join(STRATEGIES)}")
        if models.catalog is None:
            return error(503, "; ".join(p for p in models.problems if "catalog" in p) or "no music catalog")
        try:
            recs = Recommender(models.catalog, settings, seed=seed).recommend(
                mood.strip().lower(), strategy.strip().lower(), n=n, genre=genre, decade=decade)
        except (CatalogError, ValueError) as exc:
            return error(422, str(exc))
        return json_response(recs.to_dict())

    # Outermost last: the access log sees every answer, the 413s of the body limit included.
    app.add_middleware(BodyLimit, max_bytes=int(settings.api_max_mb * 1e6), paths=("/predict",))
    app.add_middleware(AccessLog)
    return app
