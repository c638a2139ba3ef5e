"""`evaluate`: recompute every reported figure from the committed weights and the data; write the model card.

What is measured, and how, is `moodmusic.training.evaluate`. With
`--compare-opensmile`, our features vs eGeMAPS too (slow: eGeMAPS is
computed for every clip once, then cached). Figures from a previous card are
kept for parts skipped by a flag.
"""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "evaluate"
HELP = "Recompute the reported figures from models/ and the data; write models/model_card.json and MODEL_CARD.md."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from moodmusic.training.datasets import DEFAULT_DATA
    from moodmusic.training.evaluate import PARTS
    from moodmusic.training.evaluate import EvaluateConfig as d

    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    parser.add_argument("--models", type=Path, default=None, help="folder with the weights (default: models/)")
    parser.add_argument("--out", type=Path, default=None, help="where the card goes (default: the models folder)")
    parser.add_argument("--cache", type=Path, default=d.cache, help="feature cache folder")
    parser.add_argument("--compare-opensmile", action="store_true", help="also compare with openSMILE eGeMAPS (slow)")
    parser.add_argument("--no-au", action="store_true", help="skip the AU fusion comparison (keep the old figures)")
    parser.add_argument("--au-from", type=Path, default=None,
                        help="take the AU fusion table from this JSON (written by `train fusion --au`) "
                             "instead of retraining the nine small models here")
    parser.add_argument("--only", choices=PARTS, action="append",
                        help="evaluate only these parts (repeatable); the others keep the previous card's figures")
    parser.add_argument("--seeds", type=int, default=d.seeds, help="seeds per fusion strategy in the AU comparison")
    parser.add_argument("--jobs", type=int, default=d.jobs)


def _command(args: argparse.Namespace) -> str:
    """The command line that reproduces this card (from the parsed arguments, not sys.argv)."""
    parts = ["python -m moodmusic evaluate", f"--data {args.data}"]
    if args.models:
        parts.append(f"--models {args.models}")
    if args.compare_opensmile:
        parts.append("--compare-opensmile")
    if args.no_au:
        parts.append("--no-au")
    if args.au_from:
        parts.append(f"--au-from {args.au_from}")
    parts += [f"--only {o}" for o in args.only or ()]
    return " ".join(parts)


def run(args: argparse.Namespace) -> int:
    from moodmusic.training.evaluate import EvaluateConfig, evaluate_models

    json_path, md_path = evaluate_models(EvaluateConfig(
        data=args.data, models=args.models, out=args.out, cache=args.cache, compare_opensmile=args.compare_opensmile,
        au=not args.no_au, au_from=args.au_from, only=tuple(args.only) if args.only else None, seeds=args.seeds,
        jobs=args.jobs, command=_command(args),
    ))
    print(f"wrote {json_path} and {md_path}")
    return 0
