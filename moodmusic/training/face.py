"""Train and evaluate the face expert on FER2013 (six moods; disgust dropped).

Train on the `train` split, choose the epoch on `val`, and touch `test` once,
at the very end, for the figures in the model card. The images are loaded
once into a uint8 tensor; augmentation runs batched in torch on each batch
(one affine warp for rotation, scale, shift, crop and flip; gamma, contrast
and brightness jitter; random erasing), which costs far less than per-image
PIL on two cores. Brightness and contrast jitter only matter through
clipping, since the network standardises each image itself: gamma is the
jitter that really changes the input.

    python -m moodmusic train face --data ../shared/data --out models/face_expert.pt
"""

from __future__ import annotations

import argparse
import math
import shlex
import time
from pathlib import Path
from typing import Any

import numpy as np

FER_FILE = Path("faces") / "fer2013.npz"
DEFAULT_RUN_DIR = Path("runs") / "face"


def _feature_version() -> str:
    try:
        from moodmusic.vision import FEATURE_VERSION

        return FEATURE_VERSION
    except Exception:  # the vision package is optional for training
        return "face-v1"


def load_fer(data_dir: str | Path, splits: tuple[str, ...] = ("train", "val", "test")) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{split: (images uint8 (N, 48, 48), labels int64 mood indices)}, disgust dropped."""
    from moodmusic.cli import UserError
    from moodmusic.moods import MOOD_INDEX, map_label

    path = Path(data_dir) / FER_FILE
    if not path.is_file():
        raise UserError(f"FER2013 not found at {path}; pass --data pointing at the shared data folder")
    with np.load(path) as blob:
        images, labels, split = blob["images"], blob["labels"], blob["split"]
    moods = np.array([map_label(str(lbl), "fer2013") or "" for lbl in labels])
    keep = moods != ""
    out = {}
    for name in splits:
        sel = keep & (split == name)
        out[name] = (np.ascontiguousarray(images[sel]),
                     np.array([MOOD_INDEX[m] for m in moods[sel]], dtype=np.int64))
    return out


def augment(x, gen, crop: int = 40, max_rotate: float = 12.0, scale: tuple[float, float] = (0.88, 1.12),
            max_shift: float = 8.0, flip: bool = True, contrast: tuple[float, float] = (0.7, 1.3),
            brightness: float = 30.0, gamma: tuple[float, float] = (0.7, 1.4), erase_p: float = 0.5,
            device=None):
    """A batch of (N, 48, 48) uint8 faces -> (N, 1, crop, crop) float pixel values, randomly varied.

    The random draws come from `gen` (on the CPU, so a seed gives the same
    draws whatever the device); the image work runs on `device` (default:
    where `x` is), which keeps a GPU fed without a CPU bottleneck.

    One affine warp per image does rotation, scale, a random `crop` window
    whose centre moves up to `max_shift` px from the image centre, and a
    horizontal flip. With every range at its neutral value it returns the
    centre crop the network looks at during inference.
    """
    import torch
    import torch.nn.functional as F

    n, h, w = x.shape
    dev = torch.device(device) if device is not None else x.device
    x = x.to(dev).float().unsqueeze(1)

    def uniform(lo: float, hi: float):
        return lo + (hi - lo) * torch.rand(n, generator=gen)

    def there(t):
        return t.to(dev, non_blocking=True)

    angle = uniform(-max_rotate, max_rotate) * math.pi / 180
    s = uniform(*scale)
    sign = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0) if flip else torch.ones(n)
    # output normalised coords (over `crop` px) -> input normalised coords (over 48 px), 1 px : 1 px / s
    k = crop / w / s
    cos, sin = torch.cos(angle) * k, torch.sin(angle) * k
    reach = max_shift / (w / 2)
    tx, ty = uniform(-reach, reach), uniform(-reach, reach)
    theta = torch.stack([torch.stack([cos * sign, -sin, tx], 1), torch.stack([sin * sign, cos, ty], 1)], 1)
    grid = F.affine_grid(there(theta), (n, 1, crop, crop), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)

    # photometric: contrast and brightness (effective through clipping), then gamma
    c = there(uniform(*contrast).view(n, 1, 1, 1))
    b = there(uniform(-brightness, brightness).view(n, 1, 1, 1))
    out = ((out - 128) * c + 128 + b).clamp(0, 255)
    g = there(torch.exp(uniform(math.log(gamma[0]), math.log(gamma[1]))).view(n, 1, 1, 1))
    out = 255 * (out / 255).pow(g)

    if erase_p > 0:  # random erasing: one rectangle of 4-20 % of the crop, filled with noise
        area = uniform(0.04, 0.20) * crop * crop
        aspect = torch.exp(uniform(math.log(0.5), math.log(2.0)))
        eh = (area * aspect).sqrt().clamp(1, crop)
        ew = (area / aspect).sqrt().clamp(1, crop)
        y0 = uniform(0, 1) * (crop - eh)
        x0 = uniform(0, 1) * (crop - ew)
        ys = torch.arange(crop).view(1, crop, 1)
        xs = torch.arange(crop).view(1, 1, crop)
        inside = ((ys >= y0.view(n, 1, 1)) & (ys < (y0 + eh).view(n, 1, 1))
                  & (xs >= x0.view(n, 1, 1)) & (xs < (x0 + ew).view(n, 1, 1)))
        inside &= (torch.rand(n, generator=gen) < erase_p).view(n, 1, 1)
        noise = torch.rand(n, 1, crop, crop, generator=gen) * 255
        out = torch.where(there(inside.unsqueeze(1)), there(noise), out)
    return out


def class_weights(labels: np.ndarray, n_classes: int, power: float = 0.5) -> np.ndarray:
    """Inverse class frequency to `power` (0: none, 1: fully balanced), scaled to mean 1 over examples."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    w = np.where(counts > 0, counts.clip(min=1) ** -power, 0.0)
    return (w / (w[labels].mean())).astype(np.float32)


def distillation_loss(hard_loss, weight: float, temperature: float):
    """(1 - weight) * hard-label loss + weight * T^2 * KL(teacher || student) at temperature T (Hinton et al.)."""
    import torch.nn.functional as F

    def loss(logits, labels, teacher_logits):
        t = temperature
        soft = F.kl_div(F.log_softmax(logits / t, 1), F.log_softmax(teacher_logits / t, 1),
                        reduction="batchmean", log_target=True) * t * t
        return (1 - weight) * hard_loss(logits, labels) + weight * soft

    return loss


def load_teachers(paths: list[Path], crop: int, fused: bool = False):
    """Frozen FaceNets whose averaged logits teach the student; each must look at the same crop size.

    `fused` folds each BatchNorm into its layer (inference only: offline views).
    """
    import torch
    from torch import nn

    from moodmusic.cli import UserError
    from moodmusic.recognition.checkpoint import CheckpointError
    from moodmusic.recognition.face_expert import FaceExpert

    nets, info = [], []
    for path in paths:
        try:
            expert = FaceExpert.load(path)
        except (CheckpointError, FileNotFoundError, OSError) as exc:
            raise UserError(f"cannot use teacher {path}: {exc}") from None
        if expert.net.crop != crop:
            raise UserError(f"teacher {path} looks at {expert.net.crop}px crops, the student at {crop}px")
        nets.append(expert.net.fused_for_inference() if fused else expert.net)
        info.append({"path": str(path), "arch": expert.meta.get("arch"),
                     "val": expert.meta.get("metrics", {}).get("val_single"),
                     "best_epoch": expert.meta.get("best_epoch"), "command": expert.meta.get("command")})

    class TeacherEnsemble(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.members = nn.ModuleList(nets)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.stack([m(x) for m in self.members]).mean(0)

    return TeacherEnsemble(), info


def choose_flip_average(mode: str, plain_val_f1: float, flipped_val_f1: float) -> bool:
    """Whether predictions average each crop with its mirror: `auto` keeps it only if it helps on val."""
    if mode not in ("auto", "never", "always"):
        raise ValueError(f"test-time flip mode must be auto, never or always, got {mode!r}")
    return {"auto": flipped_val_f1 > plain_val_f1, "never": False, "always": True}[mode]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=Path("../shared/data"),
                        help="folder holding faces/fer2013.npz (default ../shared/data)")
    parser.add_argument("--out", type=Path, default=Path("models/face_expert.pt"), help="weights to write")
    parser.add_argument("--run-dir", type=Path, default=DEFAULT_RUN_DIR, help="resumable state (last.pt)")
    parser.add_argument("--resume", action="store_true", help="continue from RUN_DIR/last.pt")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=128, help="per process")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--weight-decay", type=float, default=0.05)
    parser.add_argument("--warmup-epochs", type=float, default=1.0)
    parser.add_argument("--patience", type=int, default=10, help="epochs without a better val macro-F1")
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--class-weight-power", type=float, default=0.5,
                        help="loss weight = (1/class frequency)^POWER; 0 = unweighted, 1 = balanced")
    parser.add_argument("--widths", type=int, nargs=3, default=[32, 64, 128])
    parser.add_argument("--emb-dim", type=int, default=128)
    parser.add_argument("--crop", type=int, default=40, help="training crop (the model looks at the centre crop)")
    parser.add_argument("--dropout", type=float, default=0.3)
    parser.add_argument("--blocks", type=int, default=1, help="residual blocks per stage (teachers use more)")
    parser.add_argument("--stem-stride", type=int, default=2, choices=(1, 2),
                        help="1 keeps full resolution in the first stage (teachers)")
    parser.add_argument("--teacher", type=Path, nargs="+", default=None,
                        help="distil from these trained face models (their logits averaged)")
    parser.add_argument("--distill-weight", type=float, default=0.7,
                        help="share of the teacher-matching loss (the rest is the hard-label loss)")
    parser.add_argument("--distill-temperature", type=float, default=2.0)
    parser.add_argument("--teacher-views", type=int, default=0,
                        help="0: the teachers see every augmented batch (function matching; fast on a GPU); "
                             "N: they answer N fixed augmented views per image once, mirror-averaged, cached in "
                             "RUN_DIR/teacher_views (makes distillation affordable on a CPU)")
    parser.add_argument("--init", type=Path, default=None,
                        help="start from this trained face model's weights (same architecture): fine-tuning")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="auto: the GPU when there is one")
    parser.add_argument("--amp", action="store_true", help="bfloat16 autocast on the GPU")
    parser.add_argument("--test-time-flip", choices=("auto", "never", "always"), default="auto",
                        help="average each prediction with its mirror image: auto keeps it if it helps val "
                             "macro-F1; never halves inference time")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch threads per process")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N train/val images (smoke test)")
    parser.add_argument("--max-minutes", type=float, default=None, help="stop after this long, keeping the best epoch")
    parser.add_argument("--no-test", action="store_true", help="do not score the test split at the end")
    parser.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    import torch
    from torch.utils.data import TensorDataset

    from moodmusic.cli import UserError
    from moodmusic.moods import MOODS
    from moodmusic.recognition.checkpoint import save_checkpoint
    from moodmusic.recognition.face_expert import FaceNet
    from moodmusic.training.distributed import distributed
    from moodmusic.training.loop import TrainConfig, fit, seed_everything

    if args.crop > 48 or args.crop < 16:
        raise UserError(f"--crop must lie in 16..48, got {args.crop}")
    data = load_fer(args.data, ("train", "val"))
    if args.limit:
        data = {k: _subset(x, y, args.limit) for k, (x, y) in data.items()}
    (xtr, ytr), (xva, yva) = data["train"], data["val"]

    if args.device == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: this machine has no usable GPU")
    if not 0 <= args.distill_weight <= 1 or args.distill_temperature <= 0:
        raise UserError("--distill-weight must lie in 0..1 and --distill-temperature be positive")
    if args.teacher_views < 0 or (args.teacher_views and not args.teacher):
        raise UserError("--teacher-views needs --teacher and a count of 0 or more")
    offline = bool(args.teacher and args.teacher_views)
    teacher, teacher_info = (load_teachers(args.teacher, args.crop, fused=offline) if args.teacher else (None, []))
    arch = {"widths": list(args.widths), "emb_dim": args.emb_dim, "crop": args.crop, "dropout": args.dropout,
            "blocks": args.blocks, "stem_stride": args.stem_stride}
    init_state, init_info = _initial_weights(args.init, arch) if args.init else (None, None)
    with distributed(use_cuda=args.device != "cpu") as dist_info:
        seed_everything(args.seed)
        model = FaceNet(**arch)
        if init_state is not None:
            model.load_state_dict(init_state)
        train_set = TensorDataset(torch.from_numpy(xtr), torch.from_numpy(ytr))
        transform = lambda xb, gen: augment(xb, gen, crop=args.crop, device=dist_info.device)  # noqa: E731
        if offline:
            train_set = _offline_views(teacher, args, xtr, ytr, dist_info)
            transform, teacher = _mirror_some, None
        per_class = torch.from_numpy(class_weights(ytr, len(MOODS), args.class_weight_power))
        loss_fn = torch.nn.CrossEntropyLoss(weight=per_class.to(dist_info.device),
                                            label_smoothing=args.label_smoothing)
        if teacher_info:
            loss_fn = distillation_loss(loss_fn, args.distill_weight, args.distill_temperature)
        config = TrainConfig(
            epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
            warmup_epochs=args.warmup_epochs, patience=args.patience, seed=args.seed, num_threads=args.threads,
            channels_last=True, max_minutes=args.max_minutes, run_dir=str(args.run_dir), resume=args.resume,
            progress=not args.no_progress, amp=args.amp,
        )
        if dist_info.is_main:
            print(f"FER2013 six moods: train {len(xtr)}, val {len(xva)}; world size {dist_info.world_size} "
                  f"on {dist_info.device.type}; {len(teacher_info)} teacher(s); "
                  f"class weights {dict(zip(MOODS, [round(float(w), 2) for w in per_class]))}", flush=True)
        result = fit(
            model, train_set, TensorDataset(torch.from_numpy(xva), torch.from_numpy(yva)), loss_fn, list(MOODS),
            config, dist_info, batch_transform=transform, teacher=teacher,
        )
        if not dist_info.is_main:
            return 0
        command = command_line(args, dist_info.world_size)

    meta: dict[str, Any] = {
        "kind": "face",
        "classes": list(MOODS),
        "feature_version": _feature_version(),
        "arch": arch,
        "input": "48x48 greyscale uint8 face crop framed like FER2013; the net standardises per image",
        "flip_average": False,
        "data": "FER2013 (Goodfellow et al. 2013), six moods (disgust dropped): train split for training, "
                "val (PublicTest) for epoch selection, test (PrivateTest) reported once",
        "train_size": int(len(xtr)),
        "teachers": teacher_info,
        "distill": ({"weight": args.distill_weight, "temperature": args.distill_temperature,
                     "views": args.teacher_views or "every batch"} if teacher_info else None),
        "init": init_info,
        "device": dist_info.device.type,
        "seed": args.seed,
        "epochs": args.epochs,
        "epochs_run": result.epochs_run,
        "best_epoch": result.best_epoch,
        "stopped_early": result.stopped_early,
        "resumed": bool(args.resume),
        "wall_time_s": round(result.wall_s, 1),
        "command": command,
        "history": result.history,
        "metrics": {"val_single": _brief(result.best_metrics)},
    }
    eval_device = dist_info.device.type  # the GPU scores a large teacher in seconds
    model = FaceNet(**arch)
    model.load_state_dict(result.best_state)
    save_checkpoint(args.out, model.state_dict(), meta)
    if args.limit:
        meta["metrics"]["val"] = _brief(result.best_metrics)
    else:  # flip averaging at test time is kept only if it helps on val (selection on val, never test)
        plain = evaluate(args.out, args.data, split="val", flip_average=False, device=eval_device)
        flipped = evaluate(args.out, args.data, split="val", flip_average=True, device=eval_device)
        meta["flip_average"] = choose_flip_average(args.test_time_flip, plain["macro_f1"], flipped["macro_f1"])
        meta["metrics"]["val_no_flip"] = _brief(plain)
        meta["metrics"]["val"] = flipped if meta["flip_average"] else plain
    save_checkpoint(args.out, model.state_dict(), meta)
    if not args.no_test:
        meta["metrics"]["test"] = evaluate(args.out, args.data, split="test", device=eval_device)
        meta["metrics"]["test_slice500"] = _brief(
            evaluate(args.out, args.data, split="test", limit=500, device=eval_device))
        save_checkpoint(args.out, model.state_dict(), meta)
    print(f"saved {args.out} (best epoch {result.best_epoch}, {result.wall_s / 60:.1f} min)")
    for name in ("val", "test"):
        if name in meta["metrics"]:
            print(format_report(meta["metrics"][name], f"{name} split"))
    return 0


def _initial_weights(path: Path, arch: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A trained face model's weights to fine-tune from, refused unless its architecture is the one asked for."""
    from moodmusic.cli import UserError
    from moodmusic.recognition.checkpoint import CheckpointError
    from moodmusic.recognition.face_expert import FaceExpert

    try:
        expert = FaceExpert.load(path)
    except (CheckpointError, FileNotFoundError, OSError) as exc:
        raise UserError(f"cannot start from {path}: {exc}") from None
    theirs = {k: expert.net.config[k] for k in arch}
    if theirs != arch:
        raise UserError(f"--init {path} has architecture {theirs}, this run asks for {arch}")
    info = {"path": str(path), "val": expert.meta.get("metrics", {}).get("val_single"),
            "command": expert.meta.get("command")}
    return expert.net.state_dict(), info


def _offline_views(teacher, args: argparse.Namespace, xtr: np.ndarray, ytr: np.ndarray, dist_info):
    """The training set of offline distillation: (views, labels, teacher logits), rank 0 computing the cache."""
    import torch
    from torch.utils.data import TensorDataset

    from moodmusic.moods import MOODS
    from moodmusic.training.distributed import barrier
    from moodmusic.training.teacher_views import teacher_views

    cache = Path(args.run_dir) / "teacher_views"

    def compute(verbose: bool):
        return teacher_views(teacher, args.teacher, xtr, len(MOODS), args.teacher_views, args.seed, args.crop,
                             cache, verbose=verbose)

    if dist_info.is_main:
        torch.set_num_threads(args.threads)
        views, logits = compute(not args.no_progress)
    barrier()
    if not dist_info.is_main:  # the cache is complete now: this only reads it
        views, logits = compute(False)
    labels = np.tile(ytr, args.teacher_views)
    return TensorDataset(torch.from_numpy(views), torch.from_numpy(labels), torch.from_numpy(logits))


def _mirror_some(xb, gen):
    """Stored uint8 views -> float crops, half of them mirrored (the teacher's answer is mirror-invariant)."""
    import torch

    x = xb.float().unsqueeze(1)
    flip = (torch.rand(len(x), generator=gen) < 0.5).view(-1, 1, 1, 1)
    return torch.where(flip, x.flip(-1), x)


def _subset(x: np.ndarray, y: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """A fixed random subset (the file is sorted by label, so a prefix would hold one or two moods)."""
    idx = np.sort(np.random.default_rng(0).permutation(len(x))[:limit])
    return x[idx], y[idx]


def _brief(m: dict[str, Any]) -> dict[str, Any]:
    return {k: m[k] for k in ("accuracy", "macro_f1", "per_class_recall", "n") if k in m}


def command_line(args: argparse.Namespace, world_size: int = 1) -> str:
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


def evaluate(checkpoint_path: str | Path, data_dir: str | Path, split: str = "test",
             limit: int | None = None, flip_average: bool | None = None, device: str | None = None) -> dict[str, Any]:
    """Score a saved face expert on a FER2013 split: accuracy, macro-F1, per-class recall, confusion matrix.

    Goes through `FaceExpert.predict`, the same path the app uses (with the
    checkpoint's flip-averaging setting unless `flip_average` overrides it).
    `limit` scores a fixed random subset of N images of the split (deterministic).
    """
    from moodmusic.moods import MOODS
    from moodmusic.recognition.face_expert import FaceExpert
    from moodmusic.recognition.metrics import classification_metrics

    x, y = load_fer(data_dir, (split,))[split]
    if limit:
        x, y = _subset(x, y, limit)
    expert = FaceExpert.load(checkpoint_path)
    if device is not None:
        expert.to(device)
    if flip_average is not None:
        expert.flip_average = flip_average
    t = time.perf_counter()
    probs = np.concatenate([expert.predict(x[i:i + 512])[0] for i in range(0, len(x), 512)])
    result = classification_metrics(y, probs.argmax(1), list(MOODS))
    result.update(split=split, flip_average=expert.flip_average, seconds=round(time.perf_counter() - t, 2))
    return result


def format_report(m: dict[str, Any], title: str) -> str:
    """A small text table: accuracy, macro-F1, per-class recall and the confusion matrix."""
    from moodmusic.moods import MOODS

    lines = [f"{title}: accuracy {m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f} (n={m['n']})",
             "recall: " + ", ".join(f"{k} {v:.3f}" for k, v in m["per_class_recall"].items())]
    if "confusion_matrix" in m:
        lines.append("confusion (rows true, cols predicted): " + " ".join(f"{c[:5]:>6}" for c in MOODS))
        for name, row in zip(MOODS, m["confusion_matrix"]):
            lines.append(f"  {name:>8} " + " ".join(f"{v:6d}" for v in row))
    return "\n".join(lines)
