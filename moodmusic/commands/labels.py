"""`labels`: how far FER2013's labels and the FER+ crowd's majority agree, and what both face targets ask.

The counting and the bound are `moodmusic.training.label_agreement`; this only reads the options.
"""

from __future__ import annotations

import argparse

NAME = "labels"
HELP = ("How far FER2013's labels and the FER+ majority agree on a split, the least accuracy on the agreed faces "
        "that both face targets together need, and checkpoints scored on each part.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from moodmusic.training.datasets import DEFAULT_DATA

    parser.add_argument("checkpoints", nargs="*", help="face experts to score on each part (one pass, no flip)")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="the shared data folder")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument("--fer-target", type=float, default=0.72, help="accuracy target with FER2013's labels")
    parser.add_argument("--plus-target", type=float, default=0.85, help="accuracy target with the FER+ majority")


def run(args: argparse.Namespace) -> int:
    from moodmusic.training.label_agreement import report

    print(report(args.data, args.split, args.checkpoints, args.fer_target, args.plus_target))
    return 0
