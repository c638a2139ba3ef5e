"""A generic supervised trainer: AdamW, warm-up + cosine, early stopping on val macro-F1, DDP, resume.

The face, voice and fusion trainers all call `fit`. It takes in-memory
`TensorDataset`s (the corpora here are small: batches are sliced straight
from tensors, and augmentation runs batched on the slice through
`batch_transform`), and it is deterministic for a given seed: each epoch's
shuffle and augmentation draw from generators seeded by (seed, epoch, rank),
and the global torch seed (dropout) is reset from the same triple, so a run
resumed from `last.pt` continues exactly as it would have.

Under `torchrun` the model is wrapped in DistributedDataParallel, each rank
draws its own shard through a `DistributedSampler`, and validation counts
(a confusion matrix) are summed over ranks before any metric is computed,
so every rank sees the same numbers and takes the same early-stopping
decision. Only rank 0 writes files or shows progress.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DistributedSampler, TensorDataset

from moodmusic.recognition.metrics import metrics_from_confusion
from moodmusic.training.distributed import DistInfo, all_reduce_sum, barrier

log = logging.getLogger(__name__)

LossFn = Callable[..., torch.Tensor]  # (logits, labels) -> loss, or (logits, labels, teacher logits) with a teacher
BatchTransform = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


@dataclass
class TrainConfig:
    epochs: int = 30
    batch_size: int = 128  # per rank
    lr: float = 2e-3
    weight_decay: float = 0.05
    warmup_epochs: float = 1.0
    min_lr_ratio: float = 0.0
    patience: int = 10  # epochs without a better val macro-F1 before stopping
    seed: int = 0
    num_threads: int | None = 2
    channels_last: bool = False
    grad_clip: float | None = 5.0
    eval_batch_size: int = 1024
    max_steps_per_epoch: int | None = None  # smoke tests
    max_minutes: float | None = None  # a safety net: stop (keeping the best epoch) after this long
    run_dir: str | None = None  # last.pt (resumable state) is written here every epoch
    resume: bool = False
    progress: bool = True
    amp: bool = False  # bfloat16 autocast on CUDA (ignored on CPU)


@dataclass
class FitResult:
    best_state: dict[str, torch.Tensor]
    best_epoch: int
    best_metrics: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    epochs_run: int = 0
    wall_s: float = 0.0
    stopped_early: bool = False


def seed_everything(seed: int) -> None:
    """Fixed seeds for python, numpy and torch (model initialisation depends on the torch one)."""
    import random

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def lr_factor(step: int, total_steps: int, warmup_steps: int, min_ratio: float = 0.0) -> float:
    """Linear warm-up to 1, then cosine decay to `min_ratio` at `total_steps`."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def _logits(out: torch.Tensor | tuple[torch.Tensor, ...]) -> torch.Tensor:
    return out[0] if isinstance(out, tuple) else out


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


@torch.no_grad()
def confusion_on(model: nn.Module, x: torch.Tensor, y: torch.Tensor, n_classes: int, batch_size: int,
                 device: torch.device) -> torch.Tensor:
    """Confusion-matrix counts of `model` on (x, y), as an int64 tensor on `device`."""
    was_training = model.training
    model.eval()
    cm = torch.zeros(n_classes * n_classes, dtype=torch.int64, device=device)
    for i in range(0, len(x), batch_size):
        xb, yb = x[i:i + batch_size].to(device), y[i:i + batch_size].to(device)
        pred = _logits(model(xb)).argmax(1)
        cm += torch.bincount(yb * n_classes + pred, minlength=n_classes * n_classes)
    model.train(was_training)
    return cm.view(n_classes, n_classes)


@torch.no_grad()
def sync_buffers(model: nn.Module, dist_info: DistInfo) -> None:
    """Average float buffers (BatchNorm running statistics) over ranks.

    DDP copies rank 0's buffers at each forward, but the last batch of an epoch
    leaves each rank with its own running statistics; averaging them makes all
    ranks evaluate and save the same model (and uses every rank's batches).
    """
    if not dist_info.enabled:
        return
    for buf in model.buffers():
        if buf.is_floating_point():
            all_reduce_sum(buf)
            buf /= dist_info.world_size


def evaluate_distributed(model: nn.Module, data: TensorDataset, classes: list[str], dist_info: DistInfo,
                         batch_size: int = 1024) -> dict[str, Any]:
    """Each rank scores its own interleaved slice (no padding, no duplicates); counts are summed."""
    x, y = data.tensors[0], data.tensors[1]
    idx = torch.arange(dist_info.rank, len(x), dist_info.world_size)
    cm = confusion_on(_unwrap(model), x[idx], y[idx], len(classes), batch_size, dist_info.device)
    all_reduce_sum(cm)
    return metrics_from_confusion(cm.cpu().numpy(), classes)


def _epoch_generator(seed: int, epoch: int, rank: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch * 1_009 + rank)


def _state_for_resume(model: nn.Module, opt: torch.optim.Optimizer, epoch: int, best: dict[str, Any],
                      history: list[dict[str, Any]], config: TrainConfig, wall_s: float) -> dict[str, Any]:
    return {
        "epoch": epoch,
        "model": _unwrap(model).state_dict(),
        "optimizer": opt.state_dict(),
        "best_state": best["state"],
        "best_epoch": best["epoch"],
        "best_score": best["score"],
        "best_metrics_json": _json(best["metrics"]),
        "history_json": _json(history),
        "config_json": _json(asdict(config)),
        "wall_s": wall_s,
    }


def _json(obj: Any) -> str:
    import json

    return json.dumps(obj)


def _unjson(s: str) -> Any:
    import json

    return json.loads(s)


@dataclass
class _Schedule:
    """The epoch plan: each rank's shard of the training set, and the learning-rate steps."""

    sampler: DistributedSampler
    steps_per_epoch: int
    total_steps: int
    warmup_steps: int


def _schedule(train: TensorDataset, config: TrainConfig, dist_info: DistInfo) -> _Schedule:
    sampler = DistributedSampler(train, num_replicas=dist_info.world_size, rank=dist_info.rank,
                                 shuffle=True, seed=config.seed, drop_last=True)
    steps_per_epoch = len(sampler) // config.batch_size
    if config.max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, config.max_steps_per_epoch)
    if steps_per_epoch < 1:
        raise ValueError(f"{len(train)} training examples make no full batch of {config.batch_size} per rank")
    return _Schedule(sampler, steps_per_epoch, steps_per_epoch * config.epochs,
                     int(round(config.warmup_epochs * steps_per_epoch)))


def _on_device(model: nn.Module, teacher: nn.Module | None, config: TrainConfig, dist_info: DistInfo) -> nn.Module:
    """Model (and teacher) on the rank's device; the model wrapped in DDP when there are several ranks."""
    device = dist_info.device
    model.to(device)
    if config.channels_last:
        model.to(memory_format=torch.channels_last)
    if teacher is not None:
        teacher.to(device).eval().requires_grad_(False)
        if config.channels_last:
            teacher.to(memory_format=torch.channels_last)
    if device.type == "cuda":  # fixed input sizes: let cuDNN pick its fastest kernels; TF32 for fp32 maths
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    if dist_info.enabled:
        return nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    return model


def _optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)  # no weight decay on norms and biases
    return torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=config.lr)


def _resume(net: nn.Module, opt: torch.optim.Optimizer, last_path: Path,
            dist_info: DistInfo) -> tuple[int, dict[str, Any], list[dict[str, Any]], float]:
    """Model and optimiser state from `last.pt`; (next epoch, best so far, history, wall seconds before)."""
    blob = torch.load(last_path, map_location="cpu", weights_only=True)
    _unwrap(net).load_state_dict(blob["model"])
    opt.load_state_dict(blob["optimizer"])
    start_epoch = int(blob["epoch"]) + 1
    best = {"state": blob["best_state"], "epoch": int(blob["best_epoch"]),
            "score": float(blob["best_score"]), "metrics": _unjson(blob["best_metrics_json"])}
    if dist_info.is_main:
        print(f"resumed from {last_path} after epoch {start_epoch}", flush=True)
    return start_epoch, best, _unjson(blob["history_json"]), float(blob["wall_s"])


def _train_epoch(net: nn.Module, opt: torch.optim.Optimizer, train: TensorDataset, loss_fn: LossFn, epoch: int,
                 plan: _Schedule, config: TrainConfig, dist_info: DistInfo, batch_transform: BatchTransform | None,
                 teacher: nn.Module | None) -> torch.Tensor:
    """One epoch over this rank's shard; returns (sum of batch losses, number of batches) summed over ranks."""
    device = dist_info.device
    use_amp = config.amp and device.type == "cuda"
    x_train, y_train = train.tensors[0], train.tensors[1]
    stored_targets = train.tensors[2] if len(train.tensors) > 2 else None
    net.train()
    plan.sampler.set_epoch(epoch)
    order = torch.as_tensor(list(iter(plan.sampler)), dtype=torch.long)
    gen = _epoch_generator(config.seed, epoch, dist_info.rank)
    torch.manual_seed(gen.initial_seed() + 1)  # dropout draws: also a function of (seed, epoch, rank) only
    steps = range(plan.steps_per_epoch)
    bar = None
    if config.progress and dist_info.is_main:
        from tqdm import tqdm

        bar = tqdm(steps, desc=f"epoch {epoch + 1}/{config.epochs}", leave=False, mininterval=5)
        steps = bar
    loss_sum = torch.zeros(2, dtype=torch.float64, device=device)
    for i in steps:
        step = epoch * plan.steps_per_epoch + i
        for g in opt.param_groups:
            g["lr"] = config.lr * lr_factor(step, plan.total_steps, plan.warmup_steps, config.min_lr_ratio)
        idx = order[i * config.batch_size:(i + 1) * config.batch_size]
        xb, yb = x_train[idx], y_train[idx]
        if batch_transform is not None:
            xb = batch_transform(xb, gen)
        xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
        if config.channels_last and xb.ndim == 4:
            xb = xb.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            logits = _logits(net(xb))
            if teacher is not None:
                with torch.no_grad():
                    target = _logits(teacher(xb)).float()
                loss = loss_fn(logits.float(), yb, target)
            elif stored_targets is not None:
                loss = loss_fn(logits.float(), yb, stored_targets[idx].to(device).float())
            else:
                loss = loss_fn(logits.float(), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip:
            nn.utils.clip_grad_norm_(net.parameters(), config.grad_clip)
        opt.step()
        loss_sum[0] += loss.detach().double()
        loss_sum[1] += 1
        if bar is not None:
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    if bar is not None:
        bar.close()
    all_reduce_sum(loss_sum)
    return loss_sum


def _save_last(last_path: Path, net: nn.Module, opt: torch.optim.Optimizer, epoch: int, best: dict[str, Any],
               history: list[dict[str, Any]], config: TrainConfig, wall: float) -> None:
    last_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = last_path.with_name("last.pt.tmp")
    torch.save(_state_for_resume(net, opt, epoch, best, history, config, wall), tmp)
    tmp.replace(last_path)


def _cpu_state(net: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in _unwrap(net).state_dict().items()}


def fit(
    model: nn.Module,
    train: TensorDataset,
    val: TensorDataset,
    loss_fn: LossFn,
    classes: list[str],
    config: TrainConfig,
    dist_info: DistInfo,
    batch_transform: BatchTransform | None = None,
    teacher: nn.Module | None = None,
) -> FitResult:
    """Train `model` (in place) and return the state with the best val macro-F1, plus the history.

    With a `teacher` (a frozen model that sees the very same augmented batch:
    distillation by function matching), `loss_fn` also receives the
    teacher's logits. A `train` set with a third tensor carries stored
    teacher logits per example instead (offline distillation).
    """
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    net = _on_device(model, teacher, config, dist_info)
    opt = _optimizer(model, config)
    plan = _schedule(train, config, dist_info)

    last_path = Path(config.run_dir) / "last.pt" if config.run_dir else None
    start_epoch, history, wall_before = 0, [], 0.0
    best: dict[str, Any] = {"state": None, "epoch": -1, "score": -1.0, "metrics": {}}
    if config.resume and last_path is not None and last_path.is_file():
        start_epoch, best, history, wall_before = _resume(net, opt, last_path, dist_info)

    t0 = time.perf_counter()
    stopped_early = False
    for epoch in range(start_epoch, config.epochs):
        if best["epoch"] >= 0 and epoch - best["epoch"] > config.patience:
            stopped_early = True
            break
        if config.max_minutes and (wall_before + time.perf_counter() - t0) / 60 > config.max_minutes:
            stopped_early = True
            if dist_info.is_main:
                print(f"stopping: time budget of {config.max_minutes} min reached", flush=True)
            break
        te = time.perf_counter()
        loss_sum = _train_epoch(net, opt, train, loss_fn, epoch, plan, config, dist_info, batch_transform, teacher)
        sync_buffers(_unwrap(net), dist_info)
        metrics = evaluate_distributed(net, val, classes, dist_info, config.eval_batch_size)
        score = metrics["macro_f1"]
        record = {"epoch": epoch + 1, "train_loss": float(loss_sum[0] / loss_sum[1]),
                  "val_accuracy": metrics["accuracy"], "val_macro_f1": score,
                  "lr": opt.param_groups[0]["lr"], "epoch_s": time.perf_counter() - te}
        history.append(record)
        if score > best["score"]:
            best = {"state": _cpu_state(net), "epoch": epoch, "score": score, "metrics": metrics}
        wall = wall_before + time.perf_counter() - t0
        if dist_info.is_main:
            print(f"epoch {epoch + 1}/{config.epochs} loss {record['train_loss']:.4f} "
                  f"val acc {metrics['accuracy']:.4f} macro-F1 {score:.4f} "
                  f"{'*' if best['epoch'] == epoch else ' '} lr {record['lr']:.2e} "
                  f"{record['epoch_s']:.0f}s (total {wall / 60:.1f} min)", flush=True)
            if last_path is not None:
                _save_last(last_path, net, opt, epoch, best, history, config, wall)
        barrier()
    wall_s = wall_before + time.perf_counter() - t0
    if best["state"] is None:  # resumed after the last epoch: nothing new to train
        best["state"] = _cpu_state(net)
    return FitResult(best_state=best["state"], best_epoch=best["epoch"] + 1, best_metrics=best["metrics"],
                     history=history, epochs_run=len(history), wall_s=wall_s, stopped_early=stopped_early)
