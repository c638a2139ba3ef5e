"""`train {face,voice,fusion,...}`: train one model; the trainer of each target is `moodmusic.training.<target>`
(a dash in the target is an underscore in the module: `fusion-rule` is `training.fusion_rule`).

This module holds each target's options; the trainer takes them as a typed
config. A target whose trainer module is missing or broken still shows up,
with a one-line explanation instead of a traceback. Launch under `torchrun`
for DistributedDataParallel:

    python -m moodmusic train face --data ../shared/data --out models/face_expert.pt
    torchrun --nproc_per_node=2 -m moodmusic train face --threads 1 ...
"""

from __future__ import annotations

import argparse
import importlib
import shlex
from collections.abc import Callable
from pathlib import Path

from moodmusic.errors import UserError
from moodmusic.training.datasets import DEFAULT_DATA

NAME = "train"
HELP = "Train a model (face, voice or fusion) from the shared data; writes models/*.pt."

TARGETS: dict[str, str] = {
    "face": "the face expert on FER2013",
    "face-soup": "a face expert averaged from face experts' weights (chosen on val, test scored once)",
    "voice": "the voice expert on RAVDESS + TESS",
    "fusion": "the audio-visual fusion model",
    "fusion-rule": "the fusion rule (calibration, out-of-corpus reliability, novelty gate) on held-out data",
    "neutral": "the face model's reading of a typical neutral face (models/neutral_reference.json)",
    "words": "the words opinion: what was said (pocketsphinx) → VADER valence → moods, and its fusion weight",
}


def _target_module(target: str):
    """The trainer module, or an explanation of why it cannot be used."""
    module = target.replace("-", "_")
    try:
        return importlib.import_module(f"moodmusic.training.{module}"), None
    except ModuleNotFoundError as exc:
        if exc.name == f"moodmusic.training.{module}":
            return None, (f"training the {target} model is not available in this version "
                          f"(moodmusic/training/{module}.py is missing)")
        return None, f"training the {target} model needs {exc.name!r}, which is not installed"
    except Exception as exc:  # a broken module must not take the other targets down
        return None, f"the {target} trainer cannot be loaded ({type(exc).__name__}: {exc})"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="target", metavar="TARGET", required=True)
    for target, what in TARGETS.items():
        module, problem = _target_module(target)
        if module is not None:
            p = sub.add_parser(target, help=f"train {what}", description=f"Train {what}.")
            options, run_target = _TARGET_CLI[target]
            options(p, module)
            p.set_defaults(_target_run=run_target)
        else:  # accept any arguments, so that the user reads why rather than an argparse complaint
            p = sub.add_parser(target, help=f"train {what} (not available)", prefix_chars="\x00", add_help=False)
            p.add_argument("rest", nargs="*")
            p.set_defaults(_target_problem=problem)


def run(args: argparse.Namespace) -> int:
    problem = getattr(args, "_target_problem", None)
    if problem:
        raise UserError(problem)
    return int(args._target_run(args) or 0)


# ----------------------------------------------------------------------------- face

def _face_options(parser: argparse.ArgumentParser, trainer) -> None:
    d = trainer.FaceConfig
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="folder holding faces/fer2013.npz (default ../shared/data)")
    parser.add_argument("--out", type=Path, default=d.out, help="weights to write")
    parser.add_argument("--run-dir", type=Path, default=d.run_dir, help="resumable state (last.pt)")
    parser.add_argument("--resume", action="store_true", help="continue from RUN_DIR/last.pt")
    parser.add_argument("--epochs", type=int, default=d.epochs)
    parser.add_argument("--batch-size", type=int, default=d.batch_size, help="per process")
    parser.add_argument("--lr", type=float, default=d.lr)
    parser.add_argument("--weight-decay", type=float, default=d.weight_decay)
    parser.add_argument("--warmup-epochs", type=float, default=d.warmup_epochs)
    parser.add_argument("--patience", type=int, default=d.patience, help="epochs without a better val macro-F1")
    parser.add_argument("--label-smoothing", type=float, default=d.label_smoothing)
    parser.add_argument("--class-weight-power", type=float, default=d.class_weight_power,
                        help="loss weight = (1/class frequency)^POWER; 0 = unweighted, 1 = balanced")
    parser.add_argument("--widths", type=int, nargs=3, default=list(d.widths))
    parser.add_argument("--emb-dim", type=int, default=d.emb_dim)
    parser.add_argument("--crop", type=int, default=d.crop,
                        help="training crop (the model looks at the centre crop)")
    parser.add_argument("--dropout", type=float, default=d.dropout)
    parser.add_argument("--blocks", type=int, default=d.blocks, help="residual blocks per stage (teachers use more)")
    parser.add_argument("--stem-stride", type=int, default=d.stem_stride, choices=(1, 2),
                        help="1 keeps full resolution in the first stage (teachers)")
    parser.add_argument("--teacher", type=Path, nargs="+", default=None,
                        help="distil from these trained face models (their logits averaged)")
    parser.add_argument("--distill-weight", type=float, default=d.distill_weight,
                        help="share of the teacher-matching loss (the rest is the hard-label loss)")
    parser.add_argument("--distill-temperature", type=float, default=d.distill_temperature)
    parser.add_argument("--teacher-views", type=int, default=d.teacher_views,
                        help="0: the teachers see every augmented batch (function matching; fast on a GPU); "
                             "N: they answer N fixed augmented views per image once, mirror-averaged, cached in "
                             "RUN_DIR/teacher_views (makes distillation affordable on a CPU)")
    parser.add_argument("--init", type=Path, default=None,
                        help="start from this trained face model's weights (same architecture): fine-tuning")
    parser.add_argument("--labels", choices=("fer2013", "ferplus", "mixed"), default=d.labels,
                        help="fer2013: FER2013's own labels; ferplus: original pixels only, the FER+ crowd's "
                             "vote distribution over six moods as soft targets, epochs chosen on the val FER+ "
                             "majority; mixed: original pixels only, MIX_WEIGHT x FER2013's label + the rest x "
                             "the crowd's votes, epochs chosen on both val label sets")
    parser.add_argument("--mix-weight", type=float, default=d.mix_weight,
                        help="with --labels mixed: the share of FER2013's own label in each target (0..1)")
    parser.add_argument("--augment", choices=("standard", "wild"), default=d.augment,
                        help="standard: the committed recipe; wild: + blur, low resolution, side light, noise, "
                             "glasses-like bands and shear (faces in the wild)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default=d.device,
                        help="auto: the GPU when there is one")
    parser.add_argument("--amp", action="store_true", help="bfloat16 autocast on the GPU")
    parser.add_argument("--test-time-flip", choices=("auto", "never", "always"), default=d.test_time_flip,
                        help="average each prediction with its mirror image: auto keeps it if it helps val "
                             "macro-F1; never halves inference time")
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--threads", type=int, default=d.threads, help="torch threads per process")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N train/val images (smoke test)")
    parser.add_argument("--max-minutes", type=float, default=None, help="stop after this long, keeping the best epoch")
    parser.add_argument("--no-test", action="store_true", help="do not score the test split at the end")
    parser.add_argument("--no-progress", action="store_true")


def _run_face(args: argparse.Namespace) -> int:
    from moodmusic.training.face import FaceConfig, train_face

    return train_face(FaceConfig(
        data=args.data, out=args.out, run_dir=args.run_dir, resume=args.resume, epochs=args.epochs,
        batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay, warmup_epochs=args.warmup_epochs,
        patience=args.patience, label_smoothing=args.label_smoothing, class_weight_power=args.class_weight_power,
        widths=tuple(args.widths), emb_dim=args.emb_dim, crop=args.crop, dropout=args.dropout, blocks=args.blocks,
        stem_stride=args.stem_stride, teacher=args.teacher, distill_weight=args.distill_weight,
        distill_temperature=args.distill_temperature, teacher_views=args.teacher_views, init=args.init,
        labels=args.labels, mix_weight=args.mix_weight, augment=args.augment,
        device=args.device, amp=args.amp, test_time_flip=args.test_time_flip, seed=args.seed,
        threads=args.threads,
        limit=args.limit, max_minutes=args.max_minutes, test=not args.no_test, progress=not args.no_progress,
        command=_face_command_line(args, _world_size()),
    ))


def _face_command_line(args: argparse.Namespace, world_size: int = 1) -> str:
    """Every option spelled out (defaults included), so the line reproduces the run whatever the defaults become.

    `--resume` is left out: a resumed run continues the same deterministic schedule.
    """
    parts = [f"torchrun --nproc_per_node={world_size} -m moodmusic" if world_size > 1 else "python -m moodmusic",
             "train", "face"]
    for key, value in vars(args).items():
        if key.startswith("_") or key in {"command", "target", "verbose", "resume"} or value is None:
            continue
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            parts += [flag] if value else []
        elif isinstance(value, (list, tuple)):
            parts += [flag, *(str(v) for v in value)]
        else:
            parts += [flag, shlex.quote(str(value))]
    return " ".join(parts)


# ----------------------------------------------------------------------------- face soup

def _face_soup_options(parser: argparse.ArgumentParser, trainer) -> None:
    d = trainer.SoupConfig
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="folder holding faces/fer2013.npz (default ../shared/data)")
    parser.add_argument("--models", type=Path, nargs="+", required=True,
                        help="face checkpoints of one architecture (fine-tunes of one starting point)")
    parser.add_argument("--weights", type=float, nargs="+", default=None,
                        help="one weight per model (normalised to sum 1; default: equal)")
    parser.add_argument("--out", type=Path, default=d.out, help="weights to write")
    parser.add_argument("--no-test", action="store_true", help="do not score the test split")


def _run_face_soup(args: argparse.Namespace) -> int:
    from moodmusic.training.face_soup import SoupConfig, soup_face

    return soup_face(SoupConfig(data=args.data, models=list(args.models), weights=args.weights, out=args.out,
                                test=not args.no_test, command=_command_line(args, "face-soup", 1)))


# ----------------------------------------------------------------------------- voice

def _voice_options(parser: argparse.ArgumentParser, trainer) -> None:
    d = trainer.VoiceConfig
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    parser.add_argument("--out", type=Path, default=d.out, help="where to write the checkpoint")
    parser.add_argument("--cache", type=Path, default=d.cache, help="feature cache folder")
    parser.add_argument("--run-dir", type=Path, default=d.run_dir, help="resumable state (last.pt)")
    parser.add_argument("--resume", action="store_true", help="continue from --run-dir/last.pt")
    parser.add_argument("--copies", type=int, default=d.copies, help="augmented versions of each training clip")
    parser.add_argument("--epochs", type=int, default=d.epochs)
    parser.add_argument("--batch-size", type=int, default=d.batch_size)
    parser.add_argument("--lr", type=float, default=d.lr)
    parser.add_argument("--weight-decay", type=float, default=d.weight_decay)
    parser.add_argument("--patience", type=int, default=d.patience)
    parser.add_argument("--hidden", type=int, default=d.hidden)
    parser.add_argument("--dropout", type=float, default=d.dropout)
    parser.add_argument("--features", choices=trainer.FEATURE_SETS, default=d.features,
                        help="which features the net reads")
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--members", type=int, default=d.members,
                        help="nets trained from seeds seed, seed+1, ... whose probabilities the checkpoint averages")
    parser.add_argument("--speaker-weight", type=float, default=d.speaker_weight,
                        help="speaker adaptation: how many windows the prior speaker counts for (0: no adaptation)")
    parser.add_argument("--speaker-memory", type=float, default=d.speaker_memory,
                        help="speaker adaptation: the most windows a speaker's own statistics count")
    parser.add_argument("--speaker-cv", nargs="+", metavar="WEIGHT/MEMORY", default=None,
                        help="instead of training: compare speaker adaptation settings (e.g. 0 64/inf 128/128) by "
                             "cross-validation over folds of the training actors; writes RUN_DIR/speaker_cv.json")
    parser.add_argument("--cv-folds", type=int, default=d.cv_folds, help="--speaker-cv: folds of training actors")
    parser.add_argument("--jobs", type=int, default=d.jobs, help="parallel feature extraction processes")
    parser.add_argument("--no-progress", action="store_true")


def _run_voice(args: argparse.Namespace) -> int:
    from moodmusic.training.voice import VoiceConfig, train_voice

    skip = ("out", "members", "speaker_weight", "speaker_memory", "resume") if args.speaker_cv else ()
    return train_voice(VoiceConfig(
        data=args.data, out=args.out, cache=args.cache, run_dir=args.run_dir, resume=args.resume,
        copies=args.copies, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        weight_decay=args.weight_decay, patience=args.patience, hidden=args.hidden, dropout=args.dropout,
        features=args.features, seed=args.seed, members=args.members, speaker_weight=args.speaker_weight,
        speaker_memory=args.speaker_memory, speaker_cv=args.speaker_cv, cv_folds=args.cv_folds, jobs=args.jobs,
        progress=not args.no_progress, command=_command_line(args, "voice", _world_size(), skip=skip),
    ))


# ----------------------------------------------------------------------------- fusion

def _fusion_options(parser: argparse.ArgumentParser, trainer) -> None:
    d = trainer.FusionConfig
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    parser.add_argument("--models", type=Path, default=d.models,
                        help="folder with face_expert.pt and voice_expert.pt (whose speaker prior the voice branch uses)")
    parser.add_argument("--out", type=Path, default=d.out, help="where to write the deployed AVFusion")
    parser.add_argument("--strategy", choices=("late", "concat", "gated"), default=d.strategy,
                        help="fusion strategy of the deployed model")
    parser.add_argument("--au", action="store_true",
                        help="instead: compare face(AU)-only, voice-only and every strategy on the real RAVDESS pairs")
    parser.add_argument("--au-out", type=Path, default=d.au_out)
    parser.add_argument("--seeds", type=int, default=d.seeds, help="--au: seeds per strategy (mean and sd reported)")
    parser.add_argument("--cache", type=Path, default=d.cache)
    parser.add_argument("--run-dir", type=Path, default=d.run_dir)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--copies", type=int, default=d.copies, help="augmented copies of the voice training windows")
    parser.add_argument("--epochs", type=int, default=d.epochs)
    parser.add_argument("--batch-size", type=int, default=d.batch_size)
    parser.add_argument("--lr", type=float, default=d.lr)
    parser.add_argument("--patience", type=int, default=d.patience)
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--jobs", type=int, default=d.jobs)
    parser.add_argument("--no-progress", action="store_true")


def _run_fusion(args: argparse.Namespace) -> int:
    from moodmusic.training.fusion import FusionConfig, train_fusion

    skip = ("out", "strategy", "run_dir", "resume") if args.au else ("au_out", "seeds")
    return train_fusion(FusionConfig(
        data=args.data, models=args.models, out=args.out, strategy=args.strategy, au=args.au, au_out=args.au_out,
        seeds=args.seeds, cache=args.cache, run_dir=args.run_dir, resume=args.resume, copies=args.copies,
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, patience=args.patience, seed=args.seed,
        jobs=args.jobs, progress=not args.no_progress,
        command=_command_line(args, "fusion", _world_size(), skip=skip),
    ))


# ----------------------------------------------------------------------------- neutral reference

def _neutral_options(parser: argparse.ArgumentParser, trainer) -> None:
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="folder holding faces/fer2013.npz (default ../shared/data)")
    parser.add_argument("--models", type=Path, default=None, help="folder with the face weights (default: models/)")
    parser.add_argument("--out", type=Path, default=None, help="default: MODELS/neutral_reference.json")


def _run_neutral(args: argparse.Namespace) -> int:
    from moodmusic.training.neutral import NeutralConfig, fit_reference

    path, record = fit_reference(NeutralConfig(data=args.data, models=args.models, out=args.out,
                                               command=_command_line(args, "neutral", 1)))
    print(f"wrote {path}: a typical neutral face ({record['faces']} FER2013 validation faces) reads "
          + ", ".join(f"{m} {p:.2f}" for m, p in zip(record["moods"], record["reference"])))
    return 0


# ----------------------------------------------------------------------------- fusion rule

def _fusion_rule_options(parser: argparse.ArgumentParser, trainer) -> None:
    d = trainer.FusionRuleConfig
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    parser.add_argument("--models", type=Path, default=d.models, help="folder with the deployed experts")
    parser.add_argument("--out", type=Path, default=d.out, help="where to write the rule (JSON)")
    parser.add_argument("--cache", type=Path, default=d.cache, help="voice feature cache (shared with train voice)")
    parser.add_argument("--members", type=int, default=d.members, help="nets per leave-one-corpus-out ensemble")
    parser.add_argument("--epochs", type=int, default=d.epochs)
    parser.add_argument("--batch-size", type=int, default=d.batch_size)
    parser.add_argument("--patience", type=int, default=d.patience)
    parser.add_argument("--components", type=int, default=d.components, help="novelty model: principal directions")
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--face-limit", type=int, default=None, help="a fixed subset of N FER images per split")
    parser.add_argument("--no-proof", action="store_true", help="skip the AU pairs and MEAD clips")
    parser.add_argument("--jobs", type=int, default=d.jobs)
    parser.add_argument("--no-progress", action="store_true")


def _run_fusion_rule(args: argparse.Namespace) -> int:
    from moodmusic.training.fusion_rule import FusionRuleConfig, train_fusion_rule

    if args.members < 1 or args.components < 1:
        raise UserError("--members and --components must be at least 1")
    return train_fusion_rule(FusionRuleConfig(
        data=args.data, models=args.models, out=args.out, cache=args.cache, members=args.members,
        epochs=args.epochs, batch_size=args.batch_size, patience=args.patience, components=args.components,
        seed=args.seed,
        face_limit=args.face_limit, proof=not args.no_proof, jobs=args.jobs, progress=not args.no_progress,
        command=_command_line(args, "fusion-rule", 1),
    ))


# ----------------------------------------------------------------------------- words

def _words_options(parser: argparse.ArgumentParser, trainer) -> None:
    d = trainer.WordsConfig
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    parser.add_argument("--models", type=Path, default=d.models, help="folder with the voice expert and fusion rule")
    parser.add_argument("--out", type=Path, default=d.out, help="where to write the words map (JSON)")
    parser.add_argument("--cache", type=Path, default=d.cache, help="transcripts are cached in CACHE/words/")
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--no-progress", action="store_true")


def _run_words(args: argparse.Namespace) -> int:
    from moodmusic.audio.transcribe import MISSING, available
    from moodmusic.training.words import WordsConfig, train_words

    if not available():
        raise UserError(MISSING)
    if not args.data.is_dir():
        raise UserError(f"data folder {args.data} not found; pass --data DIR (the shared data folder)")
    return train_words(WordsConfig(data=args.data, models=args.models, out=args.out, cache=args.cache, seed=args.seed,
                                   progress=not args.no_progress, command=_command_line(args, "words", 1)))


# ----------------------------------------------------------------------------- the command that reproduces a run

def _world_size() -> int:
    """How many processes train together: torchrun's WORLD_SIZE, 1 outside it."""
    from moodmusic.training.distributed import env_rank

    return env_rank()[1]


def _command_line(args: argparse.Namespace, target: str, world_size: int, skip: tuple[str, ...] = ()) -> str:
    """The command that reproduces this run, rebuilt from the parsed options (for the model card).

    Paths inside the project are written relative to it; options in `skip` do not apply to this run.
    """
    root = Path(__file__).resolve().parents[2]
    launcher = f"torchrun --nproc_per_node={world_size} -m moodmusic" if world_size > 1 else "python -m moodmusic"
    parts = [launcher, "train", target]
    for name, value in sorted(vars(args).items()):
        if (name.startswith("_") or name in ("command", "target", "verbose", *skip) or value is None
                or value is False):
            continue
        if isinstance(value, Path) and value.is_absolute() and value.is_relative_to(root):
            value = value.relative_to(root)
        flag = "--" + name.replace("_", "-")
        if isinstance(value, (list, tuple)):
            value = " ".join(map(str, value))
        parts.append(flag if value is True else f"{flag} {value}")
    return " ".join(parts)


_TARGET_CLI: dict[str, tuple[Callable, Callable[[argparse.Namespace], int]]] = {
    "face": (_face_options, _run_face),
    "face-soup": (_face_soup_options, _run_face_soup),
    "voice": (_voice_options, _run_voice),
    "fusion": (_fusion_options, _run_fusion),
    "fusion-rule": (_fusion_rule_options, _run_fusion_rule),
    "neutral": (_neutral_options, _run_neutral),
    "words": (_words_options, _run_words),
}
