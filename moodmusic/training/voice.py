"""The voice expert: a small MLP on our window features of RAVDESS (actor-disjoint split) plus TESS.

The stages: `datasets` lists the clips and fixes the split (RAVDESS actors
1-16 train, 17-20 validation, 21-24 test; TESS training only), `features`
computes the live path's window features (clean, plus `copies` versions
through the live path's augmentation) and measures them against the speaker,
`loop.fit` trains, `scoring` reports clip- and window-level figures. Clip
figures average the window probabilities over a clip's windows.

`members` > 1 trains nets from seeds seed..seed+K-1 (each early-stopped on
the validation actors, each resumable in run_dir/memberI) and saves one
checkpoint that averages their probabilities: a single net's accuracy on
unseen actors swings by several points with its seed. `speaker_cv` instead
chooses the speaker adaptation by cross-validation over the training actors
(`moodmusic.training.crossval`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from moodmusic.errors import UserError
from moodmusic.moods import MOODS
from moodmusic.training.augment import SpeechAugment
from moodmusic.training.crossval import parse_speaker_setting, speaker_cv
from moodmusic.training.datasets import SPLIT_ACTORS, list_clips
from moodmusic.training.features import Windows, adapt_splits, fit_speaker_prior, split_windows
from moodmusic.training.scoring import score

DEFAULT_OUT = Path("models") / "voice_expert.pt"
FEATURE_SETS = ("all", "no-mfcc-means")


@dataclass
class VoiceConfig:
    """How to train the voice expert (`python -m moodmusic train voice` spells each field as an option)."""

    data: Path
    out: Path = DEFAULT_OUT
    cache: Path = Path("cache/features")
    run_dir: Path = Path("runs/voice")
    resume: bool = False
    copies: int = 1  # augmented versions of each RAVDESS training clip
    epochs: int = 60
    batch_size: int = 256
    lr: float = 2e-3
    weight_decay: float = 0.05
    patience: int = 15
    hidden: int = 256
    dropout: float = 0.3
    features: str = "all"  # one of FEATURE_SETS
    seed: int = 0
    members: int = 1
    speaker_weight: float = 128.0  # windows the prior speaker counts for (0: no adaptation)
    speaker_memory: float = 128.0  # the most windows a speaker's own statistics count
    speaker_cv: list[str] | None = None  # instead of training: compare these WEIGHT/MEMORY settings
    cv_folds: int = 4
    jobs: int = 2  # parallel feature extraction processes
    progress: bool = True
    command: str | None = None  # the command line that reproduces this run, kept in the checkpoint


def feature_subset(name: str) -> list[int] | None:
    """Indices of the features a VoiceNet reads: all, or all but the MFCC means (which carry speaker
    and channel identity as much as emotion)."""
    from moodmusic.audio.features import FEATURE_NAMES

    if name == "all":
        return None
    return [i for i, n in enumerate(FEATURE_NAMES) if not (n.startswith("mfcc") and n.endswith("_mean"))]


def train_expert(windows: dict[str, Windows], config: Any, dist_info: Any, hidden: int = 256,
                 emb_dim: int = 128, dropout: float = 0.3, label_smoothing: float = 0.1,
                 feature_noise: float = 0.05, use: list[int] | None = None) -> tuple[Any, Any]:
    """Fit a VoiceNet through the shared loop; returns (net with the best val weights, FitResult)."""
    import torch
    from torch.utils.data import TensorDataset

    from moodmusic.recognition.voice_expert import VoiceNet
    from moodmusic.training.loop import fit, seed_everything

    seed_everything(config.seed)
    tr, va = windows["train"], windows["val"]
    net = VoiceNet(tr.x.shape[1], hidden=hidden, emb_dim=emb_dim, dropout=dropout, use=use)
    net.set_scaler(tr.x.mean(0), tr.x.std(0))
    counts = np.bincount(tr.y, minlength=len(MOODS)).astype(np.float64)
    weights = torch.tensor(counts.sum() / (len(MOODS) * np.maximum(counts, 1)), dtype=torch.float32)
    ce = torch.nn.CrossEntropyLoss(weight=weights, label_smoothing=label_smoothing)
    std = torch.from_numpy(np.maximum(tr.x.std(0), 1e-6))

    def jitter(xb: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """Small Gaussian noise in standardised units: features of a live window are never exact."""
        return xb + feature_noise * std * torch.randn(xb.shape, generator=gen)

    result = fit(net, TensorDataset(torch.from_numpy(tr.x), torch.from_numpy(tr.y)),
                 TensorDataset(torch.from_numpy(va.x), torch.from_numpy(va.y)),
                 lambda logits, y: ce(logits, y), list(MOODS), config, dist_info,
                 batch_transform=jitter if feature_noise > 0 else None)
    net.load_state_dict(result.best_state)
    return net.eval(), result


def _check(cfg: VoiceConfig) -> None:
    """Refuse what cannot run, before any work, with one line that says what to change."""
    if not (cfg.data / "speech" / "ravdess").is_dir():
        raise UserError(f"no RAVDESS speech under {cfg.data}/speech/ravdess; pass --data DIR (the shared data folder)")
    if cfg.members < 1:
        raise UserError(f"--members must be at least 1, got {cfg.members}")
    try:
        for text in cfg.speaker_cv or []:
            parse_speaker_setting(text)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def train_voice(cfg: VoiceConfig) -> int:
    """Train (or, with `speaker_cv`, cross-validate) the voice expert; the main rank writes the result."""
    from moodmusic.training.distributed import distributed, main_rank_first
    from moodmusic.training.loop import TrainConfig

    _check(cfg)
    with distributed() as dist_info:
        clips = list_clips(cfg.data)
        windows = main_rank_first(dist_info, lambda main: split_windows(
            clips, cfg.cache, cfg.copies, cfg.seed, cfg.jobs, cfg.progress and main))
        config = TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                             weight_decay=cfg.weight_decay, patience=cfg.patience, seed=cfg.seed,
                             run_dir=str(cfg.run_dir), resume=cfg.resume, progress=cfg.progress,
                             num_threads=max(1, (os.cpu_count() or 2) // dist_info.world_size))
        if cfg.speaker_cv:
            _cross_validate(cfg, windows["train"], config, dist_info)
        else:
            _train(cfg, windows, config, dist_info)
    return 0


def _cross_validate(cfg: VoiceConfig, train: Windows, config: Any, dist_info: Any) -> None:
    def fit_net(data: dict[str, Windows]) -> Any:
        return train_expert(data, replace(config, run_dir=None, resume=False, progress=False), dist_info,
                            hidden=cfg.hidden, dropout=cfg.dropout)[0]

    try:
        cv = speaker_cv(train, cfg.speaker_cv or [], fit_net, folds=cfg.cv_folds,
                        log=print if dist_info.is_main else (lambda *a: None))
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if dist_info.is_main:
        cv["command"] = cfg.command
        cfg.run_dir.mkdir(parents=True, exist_ok=True)
        (cfg.run_dir / "speaker_cv.json").write_text(json.dumps(cv, indent=1))
        print(f"wrote {cfg.run_dir / 'speaker_cv.json'}")


def _train(cfg: VoiceConfig, windows: dict[str, Windows], config: Any, dist_info: Any) -> None:
    import torch

    from moodmusic.recognition.voice_expert import VoiceEnsemble, VoiceExpert

    prior = fit_speaker_prior(windows["train"], cfg.speaker_weight, cfg.speaker_memory) \
        if cfg.speaker_weight > 0 else None
    windows = adapt_splits(windows, prior)
    if dist_info.is_main:
        print(f"voice windows: train {len(windows['train'].y)} (RAVDESS actors 1-16 + TESS, "
              f"{cfg.copies} augmented copies), val {len(windows['val'].y)}, test {len(windows['test'].y)}",
              flush=True)
    nets, results = [], []
    for i in range(cfg.members):  # each member: its own seed, early-stopped on val, resumable in its own dir
        member_config = config if cfg.members == 1 else replace(
            config, seed=cfg.seed + i, run_dir=str(cfg.run_dir / f"member{i}"))
        net, result = train_expert(windows, member_config, dist_info, hidden=cfg.hidden, dropout=cfg.dropout,
                                   use=feature_subset(cfg.features))
        nets.append(net)
        results.append(result)
    if cfg.members > 1:
        net = VoiceEnsemble(cfg.members, **nets[0].config)
        for member, trained in zip(net.members, nets):
            member.load_state_dict(trained.state_dict())
        net.eval()
    if not dist_info.is_main:
        return
    probs = {k: torch.softmax(net(torch.from_numpy(windows[k].x))[0], 1).detach().numpy() for k in ("val", "test")}
    figures = {k: score(probs[k], windows[k]) for k in probs}
    VoiceExpert(net, _meta(cfg, net, prior, results, figures, dist_info.world_size)).save(cfg.out)
    for k in ("val", "test"):
        c, w = figures[k]["clip"], figures[k]["window"]
        print(f"{k}: clip acc {c['accuracy']:.3f} macro-F1 {c['macro_f1']:.3f} | "
              f"window acc {w['accuracy']:.3f} macro-F1 {w['macro_f1']:.3f}", flush=True)
    print(f"wrote {cfg.out}", flush=True)


def _meta(cfg: VoiceConfig, net: Any, prior: Any, results: list[Any], figures: dict[str, Any],
          world_size: int) -> dict[str, Any]:
    """What the checkpoint says about itself: the split, the features, the adaptation, how it was made."""
    import torch

    from moodmusic.audio.features import FEATURE_NAMES, FEATURE_VERSION
    from moodmusic.recognition.voice_expert import KIND

    return {
        "kind": KIND, "classes": list(MOODS), "feature_version": FEATURE_VERSION,
        "arch": net.config, "feature_names": list(FEATURE_NAMES),
        "split": {k: list(v) for k, v in SPLIT_ACTORS.items()}, "tess": "train only",
        "speaker_norm": prior.to_meta() if prior is not None else None,
        "augment": {"copies": cfg.copies, **SpeechAugment().__dict__},
        "command": cfg.command,
        "world_size": world_size, "seed": cfg.seed,
        "best_epoch": results[0].best_epoch if len(results) == 1 else [r.best_epoch for r in results],
        "epochs_run": sum(r.epochs_run for r in results),
        "wall_s": round(sum(r.wall_s for r in results), 1),
        "val_clip_accuracy": figures["val"]["clip"]["accuracy"],
        "test_clip_accuracy": figures["test"]["clip"]["accuracy"],
        "test_clip_macro_f1": figures["test"]["clip"]["macro_f1"],
        "torch": str(torch.__version__),
    }
