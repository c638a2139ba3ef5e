"""`bench`: speed and memory of the pipelines on real inputs (speed goals live here, not in tests)."""

from __future__ import annotations

import argparse
import json
import time

NAME = "bench"
HELP = "Measure face pipeline, voice features and model latency (p50/p95) and memory on real inputs."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--iterations", type=int, default=300, help="timed iterations per step (default 300)")
    parser.add_argument(
        "--live", action="store_true",
        help="also run the live page in a real Chromium with fake camera/microphone and measure it, including "
        "glass-to-mood with a camera that swaps faces (about 90 s; "
        "needs the test requirements and Chromium)",
    )
    parser.add_argument(
        "--sessions", type=int, nargs="+", metavar="N", default=None,
        help="with --live (implied): for each N, one app server and N concurrent browser sessions, measured "
        "for 20 s each after all show a mood: per-session fps, audio rate, latency, server and browser CPU",
    )
    parser.add_argument(
        "--min-fps", type=float, default=10.0,
        help="the processed fps a session must keep for the 'sessions per core' figure (default 10)",
    )
    parser.add_argument(
        "--capture-fps", type=float, default=None, metavar="FPS",
        help="with --sessions: run the app with MOODMUSIC_CAPTURE_FPS=FPS, so each browser sends at most FPS "
        "frames a second (default: the app's 30)",
    )
    parser.add_argument(
        "--capture-size", nargs="+", metavar="WxH", default=None,
        help="with --sessions: run the app with MOODMUSIC_CAPTURE_SIZE=WxH, so each camera sends that picture; "
        "several sizes are measured in turn on fresh servers, alternating within each session count "
        "(default: the app's 480x360)",
    )
    parser.add_argument(
        "--client", choices=("chromium", "aiortc"), default="chromium",
        help="with --sessions: who opens the sessions; chromium (browser contexts, default) or aiortc "
        "(headless visitors that speak the page's protocol and stream the sample face and speech: "
        "a fraction of a browser's CPU, so the server gets the machine)",
    )
    parser.add_argument(
        "--replicas", type=int, nargs="+", metavar="R", default=None,
        help="with --sessions and --client aiortc: for each R, a fresh `deploy local` of R app processes behind "
        "HAProxy per session count, the visitors going through the proxy with its affinity cookie; adds server "
        "CPU over every replica, the proxy's CPU, the sessions per replica and the proxy's added websocket latency "
        "(needs HAProxy; docs/deploy.md)",
    )
    parser.add_argument(
        "--url", default=None,
        help="with --sessions and --client aiortc: send the visitors to a server already running at this URL (a "
        "deploy's proxy or one app) instead of starting one; no server CPU is measured",
    )
    parser.add_argument(
        "--glass", nargs="*", metavar="FACE", default=None,
        help="also play blank → face A → face B → blank through the live engine in real time (about 20 s) "
        "and report glass-to-mood delays; give two photos with different expressions for the switch figure",
    )


    parser.add_argument(
        "--talking", nargs="*", metavar="CLIP", default=None,
        help="also play real talking clips through the live engine on a simulated clock (default: the MEAD "
        "speaker in the shared data folder) and report switches a minute, the share of the clip's mood and "
        "how fast a change of expression shows; a clip's mood is read from its file name",
    )


def _stats(samples: list[float]) -> tuple[float, float]:
    import numpy as np

    a = np.asarray(samples) * 1000.0
    return round(float(np.percentile(a, 50)), 3), round(float(np.percentile(a, 95)), 3)


def _timed(fn, iterations: int, warmup: int = 10) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(iterations):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def speech_window():
    """Two seconds of real (espeak-ng) speech from the sample fixtures."""
    import numpy as np

    from moodmusic.audio import SAMPLE_RATE, WINDOW_SECONDS
    from moodmusic.samples import speech

    signal = np.concatenate([speech("fox"), speech("rainbow")])
    return signal[: int(SAMPLE_RATE * WINDOW_SECONDS)]


def _rss_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run(args: argparse.Namespace) -> int:
    if args.sessions:  # checked before the minute of measuring, not after
        from moodmusic.errors import UserError

        if any(not 1 <= n <= 8 for n in args.sessions):
            raise UserError("--sessions takes counts from 1 to 8")
    if args.capture_fps is not None and (not args.sessions or not 1 <= args.capture_fps <= 60):
        from moodmusic.errors import UserError

        raise UserError("--capture-fps goes with --sessions and takes 1 to 60 frames a second")
    if args.capture_size is not None:
        from moodmusic.config import parse_capture_size
        from moodmusic.errors import UserError

        if not args.sessions:
            raise UserError("--capture-size goes with --sessions")
        try:
            args.capture_size = ["x".join(map(str, parse_capture_size(size, "--capture-size")))
                                 for size in args.capture_size]
        except ValueError as exc:
            raise UserError(str(exc)) from None
    if args.client == "aiortc" and not args.sessions:
        from moodmusic.errors import UserError

        raise UserError("--client aiortc goes with --sessions")
    if (args.replicas or args.url) and (args.client != "aiortc" or not args.sessions):
        from moodmusic.errors import UserError

        raise UserError("--replicas and --url go with --sessions and --client aiortc")
    if args.replicas and args.url:
        from moodmusic.errors import UserError

        raise UserError("--replicas starts its own deploys; --url uses one already running: give one of them")
    if args.replicas and any(not 1 <= r <= 8 for r in args.replicas):
        from moodmusic.errors import UserError

        raise UserError("--replicas takes counts from 1 to 8")
    if args.url and not args.url.startswith(("http://", "https://")):
        from moodmusic.errors import UserError

        raise UserError(f"--url takes an http:// or https:// address, got {args.url!r}")
    if args.replicas:
        from moodmusic.deploy.haproxy import find_haproxy

        find_haproxy()  # a missing HAProxy is one line now, not after the first minute of measuring
    import cv2

    cv2.setNumThreads(1)
    from moodmusic.audio import voice_features, warm_up
    from moodmusic.samples import face_frame
    from moodmusic.vision import FaceTracker

    n = max(20, args.iterations)
    frame = face_frame()
    out: dict[str, float | int | str] = {"iterations": n, "threads": 1}

    from moodmusic.errors import UserError
    from moodmusic.vision import ModelFileError, VisionRuntimeError

    try:
        tracker = FaceTracker()
    except (ModelFileError, VisionRuntimeError) as exc:
        raise UserError(str(exc)) from None
    out["face_runtime"] = tracker.runtime  # litert or opencv: the face figures depend on it
    if not tracker.process(frame):
        raise SystemExit("bench: no face found in the benchmark frame — the face models are not working")
    out["face_ms_p50"], out["face_ms_p95"] = _stats(_timed(lambda: tracker.process(frame), n))
    detector = FaceTracker(redetect_every=1)
    out["face_detect_ms_p50"], out["face_detect_ms_p95"] = _stats(_timed(lambda: detector.process(frame), n))

    warm_up()
    window = speech_window()
    out["audio_ms_p50"], out["audio_ms_p95"] = _stats(_timed(lambda: voice_features(window), n))

    # The perception pipelines' memory, before torch and the models are loaded.
    out["rss_mb"] = _rss_mb()

    import torch

    torch.set_num_threads(1)
    from moodmusic.pipeline import load_experts
    from moodmusic.recognition.fusion import Opinion, fuse

    experts = load_experts()
    crop = tracker.process(frame)[0].crop[None]
    feats = voice_features(window)[None]
    from moodmusic.audio.speaker import SpeakerAdapter, prior_from_meta

    prior = prior_from_meta(experts.voice_norm)
    speaker = SpeakerAdapter(prior) if prior is not None else None
    if experts.face is not None and experts.voice is not None:
        rule = experts.rule
        novelty = rule.voice.novelty if rule is not None else None

        def model_step() -> None:
            fp = experts.face(crop)[0]
            vp = experts.voice(speaker.normalise(feats) if speaker is not None else feats)[0]
            gate = float(novelty.percentile(feats)[0]) if novelty is not None else None
            fuse(Opinion(fp), Opinion(vp, novelty=gate), rule=rule)

        out["model_ms_p50"], out["model_ms_p95"] = _stats(_timed(model_step, n))
    out["rss_total_mb"] = _rss_mb()  # the whole process: pipelines + torch + models

    if args.glass is not None:
        from moodmusic.bench.live import glass_to_mood, summary

        if len(args.glass) not in (0, 2):
            raise UserError("--glass takes no photos (the built-in faces) or exactly two")
        faces = tuple(args.glass) if args.glass else None
        out.update(summary(glass_to_mood(faces=faces, experts=experts, hold=4.0)))

    if args.talking is not None:
        from pathlib import Path

        from moodmusic.live.replay import mood_of, shared_talking_clips, talking_report

        clips = [(Path(p), mood_of(Path(p))) for p in args.talking] if args.talking else shared_talking_clips()
        unnamed = [str(p) for p, mood in clips if mood is None]
        if unnamed or not clips:
            raise UserError(f"--talking: no mood in the file name of {', '.join(unnamed)}" if unnamed else
                            "--talking: no clips given and no shared data folder (set MOODMUSIC_SHARED_DATA)")
        out.update(talking_report(clips, experts=experts))

    if args.replicas or args.url:
        from moodmusic.bench.replicas import measure_replicas, measure_url

        out.update(measure_replicas(args.sessions, args.replicas, min_fps=args.min_fps, capture_fps=args.capture_fps,
                                    capture_sizes=args.capture_size) if args.replicas
                   else measure_url(args.url, args.sessions))
    elif args.sessions:
        from moodmusic.bench.browser import measure_sessions

        out.update(measure_sessions(args.sessions, min_fps=args.min_fps, capture_fps=args.capture_fps,
                                    client=args.client, capture_sizes=args.capture_size))
    elif args.live:
        from moodmusic.bench.browser import glass_in_browser, measure

        out.update(measure())
        out.update(glass_in_browser())  # the fake camera swaps faces every 4 s; delays to the page's mood

    if args.json:
        print(json.dumps(out))
    else:
        print(f"{'measure':<24}{'value':>10}")
        for key, value in out.items():
            if not key.startswith(("live_sessions", "talking_")) and key != "live_carry":
                print(f"{key:<24}{value!s:>10}")
        print("targets: face_ms_p50 <= 5 (tracking), face_detect_ms_p50 <= 8, audio_ms_p50 <= 5, rss_mb <= 400 (pipelines)")
        if "talking_clips" in out:
            from moodmusic.bench.talking import talking_table

            print()
            print(talking_table(out))
        if "live_replicas" in out or "live_url" in out:
            from moodmusic.bench.replicas import replicas_table

            print()
            print(replicas_table(out))
        elif "live_sessions" in out:
            from moodmusic.bench.report import sessions_table

            print()
            print(sessions_table(out))
    return 0
