"""`deploy local`: N app replicas behind HAProxy with sticky sessions (moodmusic/deploy/, docs/deploy.md)."""

from __future__ import annotations

import argparse

from moodmusic.errors import UserError

NAME = "deploy"
HELP = "Run several app processes behind HAProxy with sticky sessions (deploy local; see docs/deploy.md)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="target", metavar="TARGET")
    local = sub.add_parser("local", help="N `streamlit run app.py` replicas on loopback and HAProxy in front, "
                                         "on this machine, until Ctrl-C/SIGTERM",
                           description="N `streamlit run app.py` replicas on loopback and HAProxy in front with "
                                       "cookie affinity and health checks. Logs are JSON lines on stderr. The "
                                       "environment reaches every replica: set MOODMUSIC_DB for one shared history.")
    local.add_argument("--replicas", type=int, default=2, help="app processes (default 2; about one per core)")
    local.add_argument("--port", type=int, default=8501, help="the proxy's port, where visitors go (default 8501)")
    local.add_argument("--host", default="127.0.0.1",
                       help="the proxy's address (default 127.0.0.1; 0.0.0.0 for all interfaces)")
    local.add_argument("--no-restart", action="store_true", help="leave a replica that exits down (default: "
                       "start it again after a backoff)")
    local.add_argument("--run-dir", default=None,
                       help="keep the proxy's configuration and each process's log here (default: a temporary "
                            "folder, removed on exit)")
    local.add_argument("--quiet", action="store_true", help="log only the deploy's own events, not every "
                                                            "request and replica output line")


def run(args: argparse.Namespace) -> int:
    import logging
    import signal
    import sys
    from pathlib import Path

    from moodmusic.deploy.local import LocalDeploy
    from moodmusic.serve.logs import JsonFormatter

    if args.target != "local":
        raise UserError("say where to deploy: `python -m moodmusic deploy local --replicas N --port P`")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("moodmusic.deploy")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    deploy = LocalDeploy(args.replicas, args.port, host=args.host, restart=not args.no_restart,
                         run_dir=Path(args.run_dir) if args.run_dir else None, echo=not args.quiet)
    # SIGTERM while starting stops what has started, as Ctrl-C does (start() cleans up on any interruption).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        deploy.start()  # stops what it started if interrupted while starting, and re-raises
        print(f"moodmusic: {args.replicas} replica(s) behind HAProxy at {deploy.url} (Ctrl-C stops them all)",
              file=sys.stderr, flush=True)
        return deploy.serve_forever()
    except KeyboardInterrupt:
        # A signal after "ready" is logged but before serve_forever's own handlers are in (or during its
        # stop): stop as serve_forever would. It once came in that gap in CI, and the deploy exited 130
        # without stopping its children gracefully. Interrupted while starting: 130, as before.
        if not deploy.ready:
            raise
        deploy.stop()
        return 0
