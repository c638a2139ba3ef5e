"""`devices`: the cameras and microphones `live` can use, with the numbers to pass to it."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

NAME = "devices"
HELP = "List the cameras and microphones on this computer (numbers for `live --camera/--mic`)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--max-camera", type=int, default=8, metavar="N",
                        help="probe camera numbers below N (default 8)")


def run(args: argparse.Namespace) -> int:
    from moodmusic.live.sources.local import DeviceError, list_cameras, list_microphones

    cameras = list_cameras(max(1, args.max_camera))
    try:
        mics, mic_problem = list_microphones(), None
    except DeviceError as exc:  # PortAudio missing: say so instead of failing the whole listing
        mics, mic_problem = [], str(exc)
    if args.json:
        print(json.dumps({
            "cameras": [asdict(c) for c in cameras],
            "microphones": [asdict(m) for m in mics],
            "microphone_problem": mic_problem,
        }, ensure_ascii=False))
        return 0
    print("Cameras:")
    for c in cameras:
        fps = f", {c.fps:.0f} fps" if c.fps else ""
        print(f"  {c.index}: {c.width}x{c.height}{fps} ({c.backend or 'OpenCV'})")
    if not cameras:
        print("  none found (a video file or stream URL also works: live --camera PATH)")
    print("Microphones:")
    for m in mics:
        mark = "  [default]" if m.default else ""
        print(f"  {m.index}: {m.name} — {m.channels} ch, {m.rate:.0f} Hz, {m.hostapi}{mark}")
    if mic_problem:
        print(f"  unavailable: {mic_problem}")
    elif not mics:
        print("  none found")
    return 0
