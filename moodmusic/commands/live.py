"""`live`: read the mood from this computer's camera and microphone (or a file) in the terminal."""

from __future__ import annotations

import argparse
import json
import sys

NAME = "live"
HELP = ("Read the mood live from the camera and microphone (or play a file) and print each change "
        "with music for it; Ctrl-C stops.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--camera", default=None, metavar="INDEX|PATH|URL",
                        help="camera number, video file or stream URL (default: camera 0)")
    parser.add_argument("--mic", default=None, metavar="DEVICE",
                        help="microphone number or (part of its) name (default: the system default)")
    parser.add_argument("--file", default=None, metavar="PATH",
                        help="play a video or audio file in real time instead of the camera and microphone")
    parser.add_argument("--no-video", action="store_true", help="do not use the camera / the file's video")
    parser.add_argument("--no-audio", action="store_true", help="do not use the microphone / the file's sound")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--window", action="store_true", help="show the camera with the overlay in a window")
    parser.add_argument("--seconds", type=float, default=None, metavar="N", help="stop after N seconds")
    parser.add_argument("--loop", action="store_true", help="with --file: play it again and again")
    parser.add_argument("--strategy", default="match", help="music strategy: match, lift or calm (default match)")
    parser.add_argument("--tracks", type=int, default=3, metavar="N",
                        help="tracks to show with each new mood (0 for none; default 3)")
    parser.add_argument("--width", type=int, default=640, help="camera width to ask for (default 640)")
    parser.add_argument("--height", type=int, default=480, help="camera height to ask for (default 480)")
    parser.add_argument("--models", default=None, help="folder with the model files (default: models/)")


def _check_args(args: argparse.Namespace) -> None:
    from moodmusic.errors import UserError
    from moodmusic.music import STRATEGIES

    if args.no_video and args.no_audio:
        raise UserError("--no-video and --no-audio together leave nothing to read")
    if args.file and (args.camera is not None or args.mic is not None):
        raise UserError("--file plays a file instead of the camera and microphone; leave out --camera/--mic")
    if args.camera is not None and args.no_video:
        raise UserError("--camera and --no-video contradict each other")
    if args.mic is not None and args.no_audio:
        raise UserError("--mic and --no-audio contradict each other")
    if args.loop and not args.file:
        raise UserError("--loop only applies to --file")
    if args.seconds is not None and args.seconds <= 0:
        raise UserError("--seconds must be positive")
    if not 0 <= args.tracks <= 20:
        raise UserError("--tracks must be between 0 and 20")
    if args.strategy not in STRATEGIES:
        raise UserError(f"unknown strategy {args.strategy!r}; choose one of: {', '.join(STRATEGIES)}")
    if args.window:
        from moodmusic.live.window import window_problem

        problem = window_problem()
        if problem:
            raise UserError(problem)


def _warn(text: str) -> None:
    print(f"warning: {text}", file=sys.stderr, flush=True)


def _local_sources(args: argparse.Namespace, session):
    """Camera and microphone that can be opened now; an explicitly named device that cannot is an error."""
    from moodmusic.errors import UserError
    from moodmusic.live.sources.local import DeviceError, open_devices

    try:
        opened = open_devices(session, args.camera, args.mic, video=not args.no_video, audio=not args.no_audio,
                              width=args.width, height=args.height)
    except DeviceError as exc:
        raise UserError(str(exc)) from None
    if opened.camera_problem:
        _warn(f"{opened.camera_problem}; going on without video (--no-video silences this)")
    if opened.microphone_problem:
        _warn(f"{opened.microphone_problem}; going on without sound (--no-audio silences this)")
    capture = opened.capture()
    if capture is None:
        raise UserError("no camera or microphone can be used here (see `python -m moodmusic devices`); "
                        "try --file PATH to play a recording")
    return capture


def _session(args: argparse.Namespace, settings):
    """The live session for the chosen inputs, with the process prepared for it."""
    from moodmusic.errors import UserError
    from moodmusic.live import new_session, pin_threads, warm_up
    from moodmusic.pipeline import load_experts

    pin_threads()
    experts = load_experts(args.models or settings.models_dir)
    for problem in experts.problems:
        _warn(problem)
    session = new_session(experts, video=not args.no_video, audio=not args.no_audio,
                          learn_speaker=settings.voice_adaptation)
    if session.face_model is None and session.voice_model is None:
        session.close()
        raise UserError("no emotion model for the chosen inputs could be loaded, so there is no mood to read "
                        "(see the warnings above)")
    if session.voice_model is not None:
        warm_up()  # librosa's first call compiles; do it before the clock starts
    return session


def _recommender(args: argparse.Namespace, settings):
    if not args.tracks:
        return None
    try:
        from moodmusic.music import Recommender

        return Recommender(settings=settings)
    except Exception as exc:  # music is a bonus here: the mood lines still print
        _warn(f"no music suggestions: {exc}")
        return None


def run(args: argparse.Namespace) -> int:
    _check_args(args)
    from moodmusic import media
    from moodmusic.errors import UserError
    from moodmusic.config import load_settings
    from moodmusic.live import watch
    from moodmusic.live.runner import event_text, tracks_for
    from moodmusic.live.window import PreviewWindow

    if args.file:
        try:
            media.probe(args.file)  # a wrong path is reported before the models load
        except media.MediaError as exc:
            raise UserError(str(exc)) from None
    settings = load_settings()
    session = _session(args, settings)
    window = PreviewWindow() if args.window else None
    if args.file:
        from moodmusic.live.sources.file import FilePlayer

        try:
            source = FilePlayer(session, args.file, video=not args.no_video, audio=not args.no_audio,
                                loop=args.loop, on_frame=window.offer if window else None)
        except media.MediaError as exc:
            raise UserError(str(exc)) from None
        ended = lambda: not source.running  # noqa: E731
    else:
        source = _local_sources(args, session)
        if window is not None and source.camera is not None:
            source.camera.on_frame = window.offer
        ended = None
    recommender = _recommender(args, settings)

    def report(change) -> None:
        event = change.to_dict()
        if change.mood is not None:
            try:
                event["tracks"] = tracks_for(recommender, change.mood, args.strategy, args.tracks)
            except Exception as exc:
                _warn(f"no music suggestions: {exc}")
                event["tracks"] = []
        print(json.dumps(event, ensure_ascii=False) if args.json else event_text(event), flush=True)

    source.start()
    try:
        summary = watch(session, report, seconds=args.seconds, until=ended,
                        on_tick=window.show if window else None, poll=0.05 if window else 0.1)
    finally:
        source.stop()
        session.close()
        if window is not None:
            window.close()
    error = getattr(source, "error", None) if args.file else None
    if args.json:
        out = summary.to_dict()
        if error:
            out["error"] = error
        print(json.dumps(out), flush=True)
    else:
        print(summary.text(), flush=True)
    if error:
        print(f"error: playback stopped: {error}", file=sys.stderr)
        return 1
    return 0
