"""`train {face,voice,fusion}`: train one model; each target is a module `moodmusic.training.<target>`.

A target module defines `add_arguments(parser)` and `run(args) -> int`. The
modules are imported when the parser is built (they keep heavy imports inside
`run`), and a target whose module is missing or broken still shows up, with
a one-line explanation instead of a traceback. Launch under `torchrun` for
DistributedDataParallel:

    python -m moodmusic train face --data ../shared/data --out models/face_expert.pt
    torchrun --nproc_per_node=2 -m moodmusic train face --threads 1 ...
"""

from __future__ import annotations

import argparse
import importlib

NAME = "train"
HELP = "Train a model (face, voice or fusion) from the shared data; writes models/*.pt."

TARGETS: dict[str, str] = {
    "face": "the face expert on FER2013",
    "voice": "the voice expert on RAVDESS + TESS",
    "fusion": "the audio-visual fusion model",
}


def _target_module(target: str):
    """The module, or an explanation of why it cannot be used."""
    try:
        return importlib.import_module(f"moodmusic.training.{target}"), None
    except ModuleNotFoundError as exc:
        if exc.name == f"moodmusic.training.{target}":
            return None, (f"training the {target} model is not available in this version "
                          f"(moodmusic/training/{target}.py is missing)")
        return None, f"training the {target} model needs {exc.name!r}, which is not installed"
    except Exception as exc:  # a broken module must not take the other targets down
        return None, f"the {target} trainer cannot be loaded ({type(exc).__name__}: {exc})"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="target", metavar="TARGET", required=True)
    for target, what in TARGETS.items():
        module, problem = _target_module(target)
        if module is not None:
            p = sub.add_parser(target, help=f"train {what}", description=f"Train {what}.")
            module.add_arguments(p)
            p.set_defaults(_target_run=module.run)
        else:  # accept any arguments, so that the user reads why rather than an argparse complaint
            p = sub.add_parser(target, help=f"train {what} (not available)", prefix_chars="\x00", add_help=False)
            p.add_argument("rest", nargs="*")
            p.set_defaults(_target_problem=problem)


def run(args: argparse.Namespace) -> int:
    from moodmusic.cli import UserError

    problem = getattr(args, "_target_problem", None)
    if problem:
        raise UserError(problem)
    return int(args._target_run(args) or 0)
