"""`predict`: the models on image, audio and video files."""

from __future__ import annotations

import argparse
import json
import sys

NAME = "predict"
HELP = "Read the mood in images (jpg, png), audio (wav, flac, mp3, ogg) and video (mp4, webm, mov, avi, flv, mkv)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files to analyse")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--models", default=None, help="folder with the model files (default: models/)")
    parser.add_argument("--baseline", default=None, metavar="NEUTRAL_MEDIA",
                        help="a photo or video of the same person's neutral face: moods are read relative to it")
    parser.add_argument("--explain", default=None, metavar="DIR",
                        help="write a heatmap PNG per face read into DIR (what in the face drove the face "
                             "model; for a video one per window) and add \"explanation\" to the JSON")
    parser.add_argument("--no-words", action="store_true",
                        help="skip recognising what was said (the \"words\" opinion: about 0.2 s of CPU per "
                             "second of speech, and its measured weight is 0; docs/explain.md)")


def _line(result: dict) -> str:
    if "error" in result:
        return f"{result['path']}: error: {result['error']}"
    parts = [f"{result['path']}: {result['mood'] or 'no mood'}"]
    if result["mood"]:
        parts.append(f"({result['confidence']:.0%})")
    face, voice = result.get("face"), result.get("voice")
    if face is not None:
        parts.append("face " + (max(face["probs"], key=face["probs"].get) if face["probs"] else "not found"))
    if voice is not None:
        parts.append("voice " + (max(voice["probs"], key=voice["probs"].get) if voice["probs"] else "no speech"))
    if result.get("timeline"):
        parts.append(" · ".join(f"{s['start']:.1f}s {s['mood'] or '-'}" for s in result["timeline"]))
    if result.get("baseline"):
        parts.append(f"(relative to the neutral face in {result['baseline']})")
    if result.get("explanation"):
        parts.append(f"(why: {result['explanation']})")
    return "  ".join(parts)


def run(args: argparse.Namespace) -> int:
    import torch

    from moodmusic.analysis import Analyzer
    from moodmusic.config import load_settings
    from moodmusic.pipeline import load_experts

    torch.set_num_threads(1)
    settings = load_settings()
    experts = load_experts(args.models or settings.models_dir)
    for problem in experts.problems:
        print(f"warning: {problem}", file=sys.stderr)
    analyzer = Analyzer(experts, words=not args.no_words)
    if args.baseline:
        analyzer.baseline = analyzer.baseline_from(args.baseline, reference_dir=args.models or settings.models_dir)
    if args.explain:
        from pathlib import Path

        from moodmusic.errors import UserError

        try:
            Path(args.explain).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"--explain {args.explain}: cannot make that folder ({exc.strerror or exc})") from None
    failed = 0
    for path in args.paths:
        result = analyzer.analyse_json(path, explain_dir=args.explain)
        failed += "error" in result
        print(json.dumps(result) if args.json else _line(result), flush=True)
    return 1 if failed else 0
