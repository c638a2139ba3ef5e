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


def window_problem() -> str | None:
    """None when OpenCV can open a window here; otherwise why not, in one line."""
    import os

    import cv2

    info = cv2.getBuildInformation()
    gui = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.strip().startswith("GUI:")), "")
    if not gui or gui.upper() == "NONE":
        return ("--window is unavailable: this OpenCV build has no GUI support (the project installs "
                "opencv-python-headless). Watch the overlay in the web page instead (streamlit run app.py)")
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "--window is unavailable: there is no display (DISPLAY is not set)"
    return None


def _check_args(args: argparse.Namespace) -> None:
    from moodmusic.cli import UserError
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
        problem = window_problem()
        if problem:
            raise UserError(problem)


def _warn(text: str) -> None:
    print(f"warning: {text}", file=sys.stderr, flush=True)


def _local_sources(args: argparse.Namespace, session):
    """Camera and microphone that can be opened now; an explicitly named device that cannot is an error."""
    from moodmusic.cli import UserError
    from moodmusic.live.sources.local import CameraSource, DeviceError, LocalCapture, MicrophoneSource

    camera = microphone = None
    if not args.no_video:
        camera = CameraSource(session, args.camera if args.camera is not None else 0, args.width, args.height)
        try:
            camera.check()
        except DeviceError as exc:
            if args.camera is not None:
                raise UserError(str(exc)) from None
            _warn(f"{exc}; going on without video (--no-video silences this)")
            camera = None
    if not args.no_audio:
        microphone = MicrophoneSource(session, args.mic)
        try:
            microphone.check()
        except DeviceError as exc:  # AudioUnavailable (no PortAudio) is a DeviceError too
            if args.mic is not None:
                raise UserError(str(exc)) from None
            _warn(f"{exc}; going on without sound (--no-audio silences this)")
            microphone = None
    if camera is None and microphone is None:
        raise UserError("no camera or microphone can be used here (see `python -m moodmusic devices`); "
                        "try --file PATH to play a recording")
    return LocalCapture(camera, microphone)


def _tracks(recommender, mood: str, strategy: str, n: int) -> list[dict]:
    if recommender is None or n == 0:
        return []
    recs = recommender.recommend(mood, strategy, n=n)
    return [{"name": r.track.name, "artist": r.track.artist, "id": r.track.id,
             "embed_url": r.track.embed_url, "reason": r.reason} for r in recs.tracks]


def _evidence_text(name: str, e: dict | None) -> str:
    if e is None:
        return f"{name} -"
    return f"{name} {e['mood']} {e['probs'][e['mood']]:.0%} (weight {e['weight']:.2f})"


def _text_line(event: dict) -> str:
    head = f"{event['t']:7.1f}s  "
    if event["mood"] is None:
        return head + f"({event['state']})"
    parts = [f"{event['mood'].upper()} {event['confidence']:.0%}",
             _evidence_text("face", event["face"]), _evidence_text("voice", event["voice"])]
    line = head + "  ".join(parts)
    if event.get("tracks"):
        line += "  ♪ " + " | ".join(f"{t['name']} — {t['artist'] or 'unknown'}" for t in event["tracks"])
    return line


def run(args: argparse.Namespace) -> int:
    _check_args(args)
    import cv2
    import torch

    from moodmusic.cli import UserError
    from moodmusic.config import load_settings
    from moodmusic.live.runner import watch
    from moodmusic.live.session import LiveSession
    from moodmusic import media
    from moodmusic.pipeline import load_experts

    if args.file:
        try:
            media.probe(args.file)  # a wrong path is reported before the models load
        except media.MediaError as exc:
            raise UserError(str(exc)) from None
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    settings = load_settings()
    experts = load_experts(args.models or settings.models_dir)
    for problem in experts.problems:
        _warn(problem)
    use_video, use_audio = not args.no_video, not args.no_audio
    if not ((use_video and experts.face is not None) or (use_audio and experts.voice is not None)):
        raise UserError("no emotion model for the chosen inputs could be loaded, so there is no mood to read "
                        "(see the warnings above)")
    if use_audio and experts.voice is not None:
        from moodmusic.audio import warm_up

        warm_up()  # librosa's first call compiles; do it before the clock starts
    from moodmusic.audio.speaker import prior_from_meta

    session = LiveSession(experts.face if use_video else None, experts.voice if use_audio else None,
                          speaker=prior_from_meta(experts.voice_norm), learn_speaker=settings.voice_adaptation)

    latest: dict = {}
    on_frame = (lambda frame: latest.__setitem__("frame", frame)) if args.window else None
    if args.file:
        from moodmusic.live.sources.file import FilePlayer

        try:
            source = FilePlayer(session, args.file, video=use_video, audio=use_audio, loop=args.loop, on_frame=on_frame)
        except media.MediaError as exc:
            raise UserError(str(exc)) from None
        ended = lambda: not source.running  # noqa: E731
    else:
        source = _local_sources(args, session)
        if on_frame is not None and source.camera is not None:
            source.camera.on_frame = on_frame
        ended = None

    recommender = None
    if args.tracks:
        try:
            from moodmusic.music import Recommender

            recommender = Recommender(settings=settings)
        except Exception as exc:  # music is a bonus here: the mood lines still print
            _warn(f"no music suggestions: {exc}")

    def report(change) -> None:
        event = change.to_dict()
        if change.mood is not None:
            try:
                event["tracks"] = _tracks(recommender, change.mood, args.strategy, args.tracks)
            except Exception as exc:
                _warn(f"no music suggestions: {exc}")
                event["tracks"] = []
        print(json.dumps(event, ensure_ascii=False) if args.json else _text_line(event), flush=True)

    def show() -> bool:
        frame = latest.pop("frame", None)
        if frame is not None:
            cv2.imshow("moodmusic", frame)
        return (cv2.waitKey(1) & 0xFF) in (ord("q"), 27)

    source.start()
    try:
        summary = watch(session, report, seconds=args.seconds, until=ended,
                        on_tick=show if args.window else None, poll=0.05 if args.window else 0.1)
    finally:
        source.stop()
        session.close()
        if args.window:
            cv2.destroyAllWindows()
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
