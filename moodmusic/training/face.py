"""The face expert: a compact residual CNN trained on FER2013 (six moods; disgust dropped).

Train on the `train` split, choose the epoch on `val`, and touch `test` once,
at the very end, for the figures in the model card. The images are loaded
once into a uint8 tensor and augmented batched in torch on each batch
(`moodmusic.training.augment.augment_faces`).

Larger trained FaceNets can teach the student (`teacher`): by function
matching (the teachers see every augmented batch; fast on a GPU) or, with
`teacher_views`, offline (their answers on N fixed views per image, computed
once and cached: `moodmusic.training.teacher_views`). `init` fine-tunes from
a trained model of the same architecture.

`labels="ferplus"` trains on FER2013's original pixels with the FER+ crowd's
vote distribution over the six moods as soft targets (Barsoum et al. 2016),
and chooses the epoch by the FER+ majority of the val split; `labels="mixed"`
trains on both label sets at once (`moodmusic.training.face_targets`) and
chooses the epoch on both val label sets together; the default, FER2013's
own labels, keeps the committed recipe reproducible. `augment="wild"` adds
what faces in the wild bring and FER2013 has little of (blur, low
resolution, side light, noise, glasses-like bands, shear:
`augment.FACE_AUGMENTS["wild"]`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from moodmusic.errors import UserError
from moodmusic.moods import MOODS
from moodmusic.training.augment import FACE_AUGMENTS, augment_faces
from moodmusic.training.datasets import LABEL_SETS, fixed_subset, load_fer
from moodmusic.training.face_targets import both_val_sets, load_mixed
from moodmusic.training.lineage import lineage_from_files, merge, step
from moodmusic.training.scoring import evaluate_face, format_report

DEFAULT_OUT = Path("models") / "face_expert.pt"
DEFAULT_RUN_DIR = Path("runs") / "face"


@dataclass
class FaceConfig:
    """How to train the face expert (`python -m moodmusic train face` spells each field as an option)."""

    data: Path
    out: Path = DEFAULT_OUT
    run_dir: Path = DEFAULT_RUN_DIR
    resume: bool = False
    epochs: int = 40
    batch_size: int = 128  # per process
    lr: float = 3e-3
    weight_decay: float = 0.05
    warmup_epochs: float = 1.0
    patience: int = 10  # epochs without a better val macro-F1
    label_smoothing: float = 0.1
    class_weight_power: float = 0.5  # loss weight = (1/class frequency)^power
    widths: tuple[int, ...] = (32, 64, 128)
    emb_dim: int = 128
    crop: int = 40
    dropout: float = 0.3
    blocks: int = 1
    stem_stride: int = 2
    teacher: list[Path] | None = None
    distill_weight: float = 0.7
    distill_temperature: float = 2.0
    teacher_views: int = 0
    init: Path | None = None
    labels: str = "fer2013"  # fer2013 (FER2013's own) | ferplus (FER+ vote distributions, original pixels only)
    # | mixed (mix_weight x FER2013 one-hot + (1 - mix_weight) x FER+ votes, original pixels only)
    mix_weight: float = 0.5
    augment: str = "standard"  # standard (the committed recipe) | wild (+ blur, low resolution, side light, ...)
    device: str = "auto"  # auto | cpu | cuda
    amp: bool = False
    test_time_flip: str = "auto"  # auto | never | always
    seed: int = 0
    threads: int = 2
    limit: int | None = None  # smoke tests: the first N train/val images
    max_minutes: float | None = None
    test: bool = True  # score the test split at the end
    progress: bool = True
    command: str | None = None  # the command line that reproduces this run, kept in the checkpoint

    @property
    def arch(self) -> dict[str, Any]:
        return {"widths": list(self.widths), "emb_dim": self.emb_dim, "crop": self.crop, "dropout": self.dropout,
                "blocks": self.blocks, "stem_stride": self.stem_stride}


def _feature_version() -> str:
    try:
        from moodmusic.vision import FEATURE_VERSION

        return FEATURE_VERSION
    except Exception:  # the vision package is optional for training
        return "face-v1"


def class_weights(labels: np.ndarray, n_classes: int, power: float = 0.5) -> np.ndarray:
    """Inverse class frequency to `power` (0: none, 1: fully balanced), scaled to mean 1 over examples."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    w = np.where(counts > 0, counts.clip(min=1) ** -power, 0.0)
    return (w / (w[labels].mean())).astype(np.float32)


def distillation_loss(hard_loss: Any, weight: float, temperature: float) -> Any:
    """(1 - weight) * hard-label loss + weight * T^2 * KL(teacher || student) at temperature T (Hinton et al.)."""
    import torch.nn.functional as F

    def loss(logits, labels, teacher_logits):
        t = temperature
        soft = F.kl_div(F.log_softmax(logits / t, 1), F.log_softmax(teacher_logits / t, 1),
                        reduction="batchmean", log_target=True) * t * t
        return (1 - weight) * hard_loss(logits, labels) + weight * soft

    return loss


def load_teachers(paths: list[Path], crop: int, fused: bool = False) -> tuple[Any, list[dict[str, Any]]]:
    """Frozen FaceNets whose averaged logits teach the student; each must look at the same crop size.

    `fused` folds each BatchNorm into its layer (inference only: offline views).
    """
    import torch
    from torch import nn

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
                     "best_epoch": expert.meta.get("best_epoch"), "command": expert.meta.get("command"),
                     "lineage": lineage_from_files(expert.meta) + [step(path, expert.meta)]})

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


def train_face(cfg: FaceConfig) -> int:
    """Train the face expert, save it to `cfg.out`, choose flip averaging on val and score test once."""
    import torch

    if cfg.crop > 48 or cfg.crop < 16:
        raise UserError(f"--crop must lie in 16..48, got {cfg.crop}")
    if cfg.labels not in (*LABEL_SETS, "mixed"):
        raise UserError(f"--labels must be one of {', '.join(LABEL_SETS)}, mixed, got {cfg.labels!r}")
    if not 0.0 <= cfg.mix_weight <= 1.0:
        raise UserError(f"--mix-weight must lie in 0..1, got {cfg.mix_weight}")
    if cfg.augment not in FACE_AUGMENTS:
        raise UserError(f"--augment must be one of {', '.join(FACE_AUGMENTS)}, got {cfg.augment!r}")
    data = _training_data(cfg)
    if cfg.limit:
        data = {k: fixed_subset(x, y, cfg.limit) for k, (x, y) in data.items()}
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: this machine has no usable GPU")
    if not 0 <= cfg.distill_weight <= 1 or cfg.distill_temperature <= 0:
        raise UserError("--distill-weight must lie in 0..1 and --distill-temperature be positive")
    if cfg.teacher_views < 0 or (cfg.teacher_views and not cfg.teacher):
        raise UserError("--teacher-views needs --teacher and a count of 0 or more")
    offline = bool(cfg.teacher and cfg.teacher_views)
    teacher, teacher_info = (load_teachers(cfg.teacher, cfg.crop, fused=offline) if cfg.teacher else (None, []))
    init_state, init_info = _initial_weights(cfg.init, cfg.arch) if cfg.init else (None, None)
    fitted = _fit(cfg, data, teacher, teacher_info, init_state)
    if fitted is None:  # not the main rank: it only helped train
        return 0
    result, device = fitted
    meta = _meta(cfg, result, len(data["train"][0]), teacher_info, init_info, device)
    _save_and_score(cfg, result, meta, device)
    return 0


def _training_data(cfg: FaceConfig) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Train and val: FER2013's labels as they were, or (ferplus) original pixels only, the train split's
    FER+ vote distributions (float (N, 6)) and the val split's FER+ majority (the epoch is chosen on it)."""
    if cfg.labels == "fer2013":
        return load_fer(cfg.data, ("train", "val"))
    if cfg.labels == "mixed":  # val: both label sets, each of its val faces counted once per label set
        return {"train": load_mixed(cfg.data, "train", cfg.mix_weight), "val": both_val_sets(cfg.data, "val")}
    return {"train": load_fer(cfg.data, ("train",), labels="ferplus-votes")["train"],
            "val": load_fer(cfg.data, ("val",), labels="ferplus")["val"]}


def _fit(cfg: FaceConfig, data: dict[str, tuple[np.ndarray, np.ndarray]], teacher: Any,
         teacher_info: list[dict[str, Any]], init_state: dict[str, Any] | None) -> tuple[Any, str] | None:
    """The training run (under torchrun, one rank of it); the main rank gets (FitResult, device type)."""
    import torch
    from torch.utils.data import TensorDataset

    from moodmusic.recognition.face_expert import FaceNet
    from moodmusic.training.distributed import distributed
    from moodmusic.training.loop import TrainConfig, fit, seed_everything

    (xtr, ytr), (xva, yva) = data["train"], data["val"]
    with distributed(use_cuda=cfg.device != "cpu") as dist_info:
        seed_everything(cfg.seed)
        model = FaceNet(**cfg.arch)
        if init_state is not None:
            model.load_state_dict(init_state)
        train_set = TensorDataset(torch.from_numpy(xtr), torch.from_numpy(ytr))
        extra = FACE_AUGMENTS[cfg.augment]
        transform = lambda xb, gen: augment_faces(xb, gen, crop=cfg.crop, device=dist_info.device,  # noqa: E731
                                                  **extra)
        if cfg.teacher and cfg.teacher_views:
            train_set = _offline_views(teacher, cfg, xtr, ytr, dist_info)
            transform, teacher = _mirror_some, None
        hard = ytr if ytr.ndim == 1 else ytr.argmax(1)  # soft labels: weights from each image's top mood
        per_class = torch.from_numpy(class_weights(hard, len(MOODS), cfg.class_weight_power))
        loss_fn = torch.nn.CrossEntropyLoss(weight=per_class.to(dist_info.device),
                                            label_smoothing=cfg.label_smoothing)
        if teacher_info:
            loss_fn = distillation_loss(loss_fn, cfg.distill_weight, cfg.distill_temperature)
        config = TrainConfig(
            epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, weight_decay=cfg.weight_decay,
            warmup_epochs=cfg.warmup_epochs, patience=cfg.patience, seed=cfg.seed, num_threads=cfg.threads,
            channels_last=True, max_minutes=cfg.max_minutes, run_dir=str(cfg.run_dir), resume=cfg.resume,
            progress=cfg.progress, amp=cfg.amp,
        )
        if dist_info.is_main:
            print(f"FER2013 six moods, {cfg.labels} labels: train {len(xtr)}, val {len(xva)}; "
                  f"world size {dist_info.world_size} "
                  f"on {dist_info.device.type}; {len(teacher_info)} teacher(s); "
                  f"class weights {dict(zip(MOODS, [round(float(w), 2) for w in per_class]))}", flush=True)
        result = fit(
            model, train_set, TensorDataset(torch.from_numpy(xva), torch.from_numpy(yva)), loss_fn, list(MOODS),
            config, dist_info, batch_transform=transform, teacher=teacher,
        )
        return (result, dist_info.device.type) if dist_info.is_main else None


def _meta(cfg: FaceConfig, result: Any, train_size: int, teacher_info: list[dict[str, Any]],
          init_info: dict[str, Any] | None, device: str) -> dict[str, Any]:
    """What the checkpoint says about itself: the data, the teachers, the run and how to repeat it."""
    return {
        "kind": "face",
        "classes": list(MOODS),
        "feature_version": _feature_version(),
        "arch": cfg.arch,
        "input": "48x48 greyscale uint8 face crop framed like FER2013; the net standardises per image",
        "flip_average": False,
        "data": ("FER2013 (Goodfellow et al. 2013), six moods (disgust dropped): train split for training, "
                 "val (PublicTest) for epoch selection, test (PrivateTest) reported once" if cfg.labels == "fer2013"
                 else "FER2013's original pixels (Goodfellow et al. 2013) with FER+ crowd votes (Barsoum et al. "
                 "2016) over six moods (disgust, contempt, unknown and not-a-face votes dropped): train split's "
                 "vote distributions as soft targets, val (PublicTest) FER+ majority for epoch selection, "
                 "test (PrivateTest) reported once with both label sets" if cfg.labels == "ferplus"
                 else f"FER2013's original pixels (Goodfellow et al. 2013), soft targets {cfg.mix_weight} x "
                 f"FER2013's one-hot label + {1 - cfg.mix_weight:g} x the FER+ crowd's vote distribution (Barsoum "
                 "et al. 2016; disgust, contempt, unknown and not-a-face dropped): train split for training, val "
                 "(PublicTest) with both label sets for epoch selection, test (PrivateTest) reported once with both"),
        "labels": cfg.labels,
        "mix_weight": cfg.mix_weight if cfg.labels == "mixed" else None,
        "augment": cfg.augment,
        "train_size": int(train_size),
        "teachers": [{k: v for k, v in t.items() if k != "lineage"} for t in teacher_info],
        "distill": ({"weight": cfg.distill_weight, "temperature": cfg.distill_temperature,
                     "views": cfg.teacher_views or "every batch"} if teacher_info else None),
        "init": {k: v for k, v in init_info.items() if k != "lineage"} if init_info else None,
        # every step before this command, oldest first: the teachers' and the starting point's own
        "lineage": merge(*[t["lineage"] for t in teacher_info], (init_info or {}).get("lineage", [])),
        "device": device,
        "seed": cfg.seed,
        "epochs": cfg.epochs,
        "epochs_run": result.epochs_run,
        "best_epoch": result.best_epoch,
        "stopped_early": result.stopped_early,
        "resumed": bool(cfg.resume),
        "wall_time_s": round(result.wall_s, 1),
        "command": cfg.command,
        "history": result.history,
        "metrics": {"val_single": _brief(result.best_metrics)},
    }


def _save_and_score(cfg: FaceConfig, result: Any, meta: dict[str, Any], eval_device: str) -> None:
    """Save the best weights; keep flip averaging only if it helps on val (never chosen on test); score test."""
    from moodmusic.recognition.checkpoint import save_checkpoint
    from moodmusic.recognition.face_expert import FaceNet

    model = FaceNet(**cfg.arch)  # the GPU, when training had one, scores a large teacher in seconds
    model.load_state_dict(result.best_state)
    save_checkpoint(cfg.out, model.state_dict(), meta)
    ferplus, mixed = cfg.labels == "ferplus", cfg.labels == "mixed"
    # what the epoch was chosen on (mixed: FER2013's labels here, the FER+ majority beside them)
    by: dict[str, Any] = {"labels": "ferplus", "originals_only": True} if ferplus else {}
    if mixed:
        by["originals_only"] = True
    by["label_sets"] = False
    if cfg.limit:
        meta["metrics"]["val"] = _brief(result.best_metrics)
    else:
        plain = evaluate_face(cfg.out, cfg.data, split="val", flip_average=False, device=eval_device, **by)
        flipped = evaluate_face(cfg.out, cfg.data, split="val", flip_average=True, device=eval_device, **by)
        plain_f1, flipped_f1 = plain["macro_f1"], flipped["macro_f1"]
        if mixed:  # chosen on both label sets, like the epoch
            other = {f: evaluate_face(cfg.out, cfg.data, split="val", flip_average=f, device=eval_device,
                                      labels="ferplus", label_sets=False) for f in (False, True)}
            plain_f1, flipped_f1 = plain_f1 + other[False]["macro_f1"], flipped_f1 + other[True]["macro_f1"]
        meta["flip_average"] = choose_flip_average(cfg.test_time_flip, plain_f1, flipped_f1)
        meta["metrics"]["val_no_flip"] = _brief(plain)
        meta["metrics"]["val"] = flipped if meta["flip_average"] else plain
        if ferplus:  # the other label set, for comparison with models trained on FER2013's labels
            meta["metrics"]["val_fer2013"] = evaluate_face(cfg.out, cfg.data, split="val", device=eval_device,
                                                           flip_average=meta["flip_average"], originals_only=True,
                                                           label_sets=False)
        if mixed:
            meta["metrics"]["val_ferplus"] = other[meta["flip_average"]]
    save_checkpoint(cfg.out, model.state_dict(), meta)
    if cfg.test:
        test = evaluate_face(cfg.out, cfg.data, split="test", device=eval_device, **dict(by, label_sets=True))
        meta["metrics"]["test"] = test  # with both label sets on the original pixels: test["label_sets"]
        if ferplus:
            meta["metrics"]["test_fer2013"] = test["label_sets"]["fer2013"]
        if mixed:
            meta["metrics"]["test_ferplus"] = test["label_sets"]["ferplus"]
        meta["metrics"]["test_slice500"] = _brief(
            evaluate_face(cfg.out, cfg.data, split="test", limit=500, device=eval_device))
        save_checkpoint(cfg.out, model.state_dict(), meta)
    print(f"saved {cfg.out} (best epoch {result.best_epoch}, {result.wall_s / 60:.1f} min)")
    for name in ("val", "val_fer2013", "val_ferplus", "test", "test_fer2013", "test_ferplus"):
        if name in meta["metrics"]:
            print(format_report(meta["metrics"][name], f"{name} split"))


def _initial_weights(path: Path, arch: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A trained face model's weights to fine-tune from, refused unless its architecture is the one asked for."""
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
            "command": expert.meta.get("command"),
            "lineage": lineage_from_files(expert.meta) + [step(path, expert.meta)]}
    return expert.net.state_dict(), info


def _offline_views(teacher: Any, cfg: FaceConfig, xtr: np.ndarray, ytr: np.ndarray, dist_info: Any) -> Any:
    """The training set of offline distillation: (views, labels, teacher logits), rank 0 computing the cache."""
    import torch
    from torch.utils.data import TensorDataset

    from moodmusic.training.distributed import main_rank_first
    from moodmusic.training.teacher_views import teacher_views

    cache = Path(cfg.run_dir) / "teacher_views"

    def compute(main: bool) -> tuple[np.ndarray, np.ndarray]:
        if main:  # the main rank fills the cache; the others only read it once it is complete
            torch.set_num_threads(cfg.threads)
        return teacher_views(teacher, cfg.teacher or [], xtr, len(MOODS), cfg.teacher_views, cfg.seed, cfg.crop,
                             cache, verbose=cfg.progress and main)

    views, logits = main_rank_first(dist_info, compute)
    labels = np.concatenate([ytr] * cfg.teacher_views)  # int labels or (N, 6) vote distributions
    return TensorDataset(torch.from_numpy(views), torch.from_numpy(labels), torch.from_numpy(logits))


def _mirror_some(xb: Any, gen: Any) -> Any:
    """Stored uint8 views -> float crops, half of them mirrored (the teacher's answer is mirror-invariant)."""
    import torch

    x = xb.float().unsqueeze(1)
    flip = (torch.rand(len(x), generator=gen) < 0.5).view(-1, 1, 1, 1)
    return torch.where(flip, x.flip(-1), x)


def _brief(m: dict[str, Any]) -> dict[str, Any]:
    return {k: m[k] for k in ("accuracy", "macro_f1", "per_class_recall", "n") if k in m}
