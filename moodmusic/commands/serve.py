"""`serve`: the REST API (moodmusic/serve/) under uvicorn."""

from __future__ import annotations

import argparse

from moodmusic.errors import UserError

NAME = "serve"
HELP = "Serve the REST API: POST /predict, GET /recommend, GET /health (docs at /docs; see docs/serve.md)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    parser.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes, each loading the models once (default 1)")


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from moodmusic.config import load_settings
    from moodmusic.serve.logs import log_config

    if not 0 < args.port < 65536:
        raise UserError(f"--port must be between 1 and 65535, got {args.port}")
    if args.workers < 1:
        raise UserError(f"--workers must be at least 1, got {args.workers}")
    try:
        settings = load_settings()  # a bad setting is one line here, not a crash in every worker
    except ValueError as exc:
        raise UserError(str(exc)) from None
    uvicorn.run(
        "moodmusic.serve.app:create_app", factory=True, host=args.host, port=args.port, workers=args.workers,
        log_config=log_config(settings.log_level.upper(), settings.api_token), access_log=False,
        timeout_graceful_shutdown=30,  # on SIGTERM: stop accepting, let analyses in flight finish
    )
    return 0
