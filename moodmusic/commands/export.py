"""`export onnx`: the face expert, the voice expert and AVFusion as ONNX files with their metadata."""

from __future__ import annotations

import argparse
import sys

from moodmusic.errors import UserError

NAME = "export"
HELP = "Export the models to run elsewhere: `export onnx --out DIR` (see docs/export.md)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="format", metavar="FORMAT", required=True)
    o = sub.add_parser("onnx", help="face.onnx, voice.onnx, avfusion.onnx and moodmusic_onnx.json")
    o.add_argument("--out", required=True, help="folder to write the files to (created if missing)")
    o.add_argument("--models", default=None, help="folder with the model files (default: models/)")


def run(args: argparse.Namespace) -> int:
    try:
        import onnx  # noqa: F401  torch's exporter needs it
    except ImportError:
        raise UserError("exporting to ONNX needs the onnx package: pip install -r requirements.txt") from None
    from moodmusic import audio, vision
    from moodmusic.audio import speaker
    from moodmusic.config import load_settings
    from moodmusic.pipeline import load_experts
    from moodmusic.recognition.export_onnx import export_onnx

    experts = load_experts(args.models or load_settings().models_dir)
    for problem in experts.problems:
        print(f"warning: {problem}", file=sys.stderr)
    about = {
        "face_feature_version": vision.FEATURE_VERSION,
        "voice_feature_version": audio.FEATURE_VERSION,
        "speaker_norm_version": speaker.VERSION,
        "speaker_norm_rule": (
            "features against the speaker = (x - mean) / sqrt(max(var, %g)), mean and var per feature: for one "
            "recording, the prior's mean and var (speaker_norm); live, the prior shrunk towards the speaker's "
            "running statistics as moodmusic.audio.speaker.SpeakerAdapter does (prior worth `weight` windows)"
            % speaker.MIN_VAR),
    }
    try:
        written = export_onnx(experts, args.out, about)
    except ValueError as exc:
        raise UserError(f"export onnx: {exc}") from None
    except OSError as exc:
        raise UserError(f"export onnx: cannot write to {args.out} ({exc.strerror or exc})") from None
    for path in written:
        print(path)
    return 0
