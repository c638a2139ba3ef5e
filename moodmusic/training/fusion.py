"""The AVFusion model: deployed on unpaired same-label pairs, measured on real pairs.

There is no paired face+voice pixel data here. So the deployed model
(`models/avfusion.pt`) is trained on *same-label pairs drawn independently*
from two corpora: the face branch reads the face expert's embedding of a
FER2013 training image, the voice branch reads the voice features of a
RAVDESS-train (actors 1-16) / TESS window, and the two share only the mood
label. That teaches each head and the joint head the label space, but not
how a real face and a real voice co-vary; the model card says so.

The only real paired data is `ravdess_av_features/ravdess_au35.csv`: OpenFace
action units of each RAVDESS audio-visual clip plus the speech file of the
same performance. `au_comparison` trains the same AVFusion class on it (face
input: 35 AU values; voice input: our window features), speaker-independently
on the voice expert's actor split, once per strategy, and writes the
comparison table: face(AU)-only, voice-only, late, concat, gated. Those
models are evaluation artefacts and are not committed.

Modality dropout (one modality masked at random per example) trains every
head to stand alone, so the model answers with either modality missing.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from moodmusic.errors import UserError
from moodmusic.moods import MOODS
from moodmusic.training.datasets import AU_CSV, SPLIT_ACTORS, list_clips, read_au_table, same_label_pairs
from moodmusic.training.features import Windows, adapt_splits, face_embeddings, speaker_prior_in, split_windows
from moodmusic.training.scoring import clip_probs, evaluate_deployed

DEFAULT_OUT = Path("models") / "avfusion.pt"


# ----------------------------------------------------------------------------- packing for the shared loop

def pack(face: np.ndarray, voice: np.ndarray, face_mask: np.ndarray, voice_mask: np.ndarray) -> np.ndarray:
    """One float32 row per example: [face | voice | face_mask | voice_mask] (the loop slices one tensor)."""
    return np.concatenate([face, voice, face_mask[:, None], voice_mask[:, None]], 1).astype(np.float32)


def _packed_module(net: Any) -> Any:
    import torch
    from torch import nn

    fd, vd = net.config["face_dim"], net.config["voice_dim"]

    class Packed(nn.Module):
        """Unpacks rows for AVFusion; in training returns every head's logits and the masks for the loss."""

        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            fm, vm = x[:, fd + vd] > 0.5, x[:, fd + vd + 1] > 0.5
            o = self.net(x[:, :fd], x[:, fd:fd + vd], fm, vm)
            if not self.training:
                return o["out"]
            return torch.cat([o["out"], o["face"], o["voice"], fm[:, None].float(), vm[:, None].float()], 1)

    return Packed()


def fusion_loss(head_weight: float = 0.5, label_smoothing: float = 0.1, class_weights: Any = None) -> Any:
    """CE on the answer, plus CE on each modality's own head where that modality is present."""
    import torch
    import torch.nn.functional as F

    k = len(MOODS)

    def loss(packed: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out, face, voice = packed[:, :k], packed[:, k:2 * k], packed[:, 2 * k:3 * k]
        fm, vm = packed[:, 3 * k], packed[:, 3 * k + 1]
        total = F.cross_entropy(out, y, weight=class_weights, label_smoothing=label_smoothing)
        for logits, m in ((face, fm), (voice, vm)):
            per = F.cross_entropy(logits, y, weight=class_weights, label_smoothing=label_smoothing, reduction="none")
            total = total + head_weight * (per * m).sum() / m.sum().clamp_min(1.0)
        return total

    return loss


def modality_dropout(face_dim: int, voice_dim: int, p: float = 0.3) -> Any:
    """Batch transform: with probability p an example loses one modality (face or voice, 50/50)."""
    import torch

    def transform(xb: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        xb = xb.clone()
        drop = torch.rand(len(xb), generator=gen) < p
        which = torch.rand(len(xb), generator=gen) < 0.5
        face_off, voice_off = drop & which, drop & ~which
        xb[face_off, :face_dim] = 0
        xb[face_off, face_dim + voice_dim] = 0
        xb[voice_off, face_dim:face_dim + voice_dim] = 0
        xb[voice_off, face_dim + voice_dim + 1] = 0
        return xb

    return transform


def train_avfusion(train: tuple[np.ndarray, np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray, np.ndarray],
                   strategy: str, config: Any, dist_info: Any, emb_dim: int = 64, dropout: float = 0.3,
                   p_drop: float = 0.3) -> tuple[Any, Any]:
    """Fit AVFusion on (face, voice, y) triples (both modalities present); returns (net, FitResult)."""
    import torch
    from torch.utils.data import TensorDataset

    from moodmusic.recognition.avfusion import AVFusion
    from moodmusic.training.loop import fit, seed_everything

    seed_everything(config.seed)
    (ftr, vtr, ytr), (fva, vva, yva) = train, val
    net = AVFusion(ftr.shape[1], vtr.shape[1], strategy=strategy, emb_dim=emb_dim, dropout=dropout)
    net.set_scalers((ftr.mean(0), ftr.std(0)), (vtr.mean(0), vtr.std(0)))
    ones_tr, ones_va = np.ones(len(ytr)), np.ones(len(yva))
    counts = np.bincount(ytr, minlength=len(MOODS)).astype(np.float64)
    weights = torch.tensor(counts.sum() / (len(MOODS) * np.maximum(counts, 1)), dtype=torch.float32)
    model = _packed_module(net)
    result = fit(model,
                 TensorDataset(torch.from_numpy(pack(ftr, vtr, ones_tr, ones_tr)), torch.from_numpy(ytr)),
                 TensorDataset(torch.from_numpy(pack(fva, vva, ones_va, ones_va)), torch.from_numpy(yva)),
                 fusion_loss(class_weights=weights), list(MOODS), config, dist_info,
                 batch_transform=modality_dropout(ftr.shape[1], vtr.shape[1], p_drop))
    model.load_state_dict(result.best_state)
    return net.eval(), result


# ----------------------------------------------------------------------------- the real pairs (AU + voice)

@dataclass
class AUSet:
    face: np.ndarray  # (n_windows, 35) the clip's AU row, repeated for each of its windows
    voice: np.ndarray  # (n_windows, D)
    y: np.ndarray
    clip: np.ndarray  # clip index (for clip-level averaging)
    copy: np.ndarray


def au_sets(data_dir: str | Path, windows: dict[str, Windows]) -> dict[str, AUSet]:
    """Pair each RAVDESS window with the AUs of the same performance; split by actor like the voice expert."""
    table, _ = read_au_table(data_dir)
    out = {}
    for name, w in windows.items():
        stems = np.array([Path(c.path).stem for c in w.clips])
        keep = np.array([c.corpus == "ravdess" and Path(c.path).stem in table for c in w.clips])[w.clip]
        sub = w.subset(keep)
        face = np.stack([table[s] for s in stems[sub.clip]]) if len(sub.y) else np.zeros((0, 35), np.float32)
        out[name] = AUSet(face, sub.x, sub.y, sub.clip, sub.copy)
    return out


def _clip_metrics(probs: np.ndarray, s: AUSet) -> dict[str, Any]:
    from moodmusic.recognition.metrics import classification_metrics

    ids, cp = clip_probs(probs, s.clip)
    first = {c: i for i, c in reversed(list(enumerate(s.clip)))}
    y = s.y[[first[c] for c in ids]]
    return classification_metrics(y, cp.argmax(1), MOODS)


def au_comparison(data_dir: str | Path, windows: dict[str, Windows], config: Any, dist_info: Any,
                  seeds: tuple[int, ...] = (0, 1, 2), strategies: tuple[str, ...] = ("late", "concat", "gated"),
                  log: Any = print) -> dict[str, Any]:
    """Face(AU)-only, voice-only and each fusion strategy on RAVDESS test actors 21-24, clip level."""
    from dataclasses import replace

    from moodmusic.recognition.avfusion import AVFusionModel

    sets = au_sets(data_dir, windows)
    tr, va, te = sets["train"], sets["val"], sets["test"]
    rows: dict[str, list[dict[str, Any]]] = {}
    for strategy in strategies:
        for seed in seeds:
            net, res = train_avfusion((tr.face, tr.voice, tr.y), (va.face, va.voice, va.y), strategy,
                                      replace(config, seed=seed, run_dir=None, resume=False), dist_info)
            model = AVFusionModel(net, {})
            results = {strategy: _clip_metrics(model.predict(te.face, te.voice), te)}
            if strategy == "late":  # the unimodal rows: the same model's heads, the other modality masked
                results["face (AU) only"] = _clip_metrics(model.predict(te.face, None), te)
                results["voice only"] = _clip_metrics(model.predict(None, te.voice), te)
            for k, m in results.items():
                rows.setdefault(k, []).append(m)
                log(f"AU fusion {k:15s} seed {seed}: clip acc {m['accuracy']:.3f} macro-F1 {m['macro_f1']:.3f}")
    table = {}
    for k, ms in rows.items():
        acc = np.array([m["accuracy"] for m in ms])
        f1 = np.array([m["macro_f1"] for m in ms])
        cm = np.sum([np.array(m["confusion_matrix"]) for m in ms], axis=0)
        table[k] = {"accuracy": float(acc.mean()), "accuracy_sd": float(acc.std()),
                    "macro_f1": float(f1.mean()), "macro_f1_sd": float(f1.std()),
                    "per_seed_accuracy": acc.tolist(), "confusion_matrix_summed": cm.tolist(),
                    "n_clips": int(ms[0]["n"])}
    order = ["face (AU) only", "voice only", *strategies]
    return {"table": {k: table[k] for k in order if k in table}, "seeds": list(seeds),
            "split": {k: list(v) for k, v in SPLIT_ACTORS.items()},
            "train_windows": int(len(tr.y)), "test_clips": int(len(np.unique(te.clip)))}


# ----------------------------------------------------------------------------- the deployed model (unpaired)

def deployed_data(face: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], windows: dict[str, Windows],
                  seed: int) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Same-label (face embedding, voice window) pairs for train/val/test."""
    rng = np.random.default_rng(seed)
    out = {}
    for s in ("train", "val", "test"):
        emb, _, yf = face[s]
        w = windows[s]
        i, j = same_label_pairs(yf, w.y, rng)
        out[s] = (emb[i], w.x[j], yf[i])
    return out




# ----------------------------------------------------------------------------- the run

@dataclass
class FusionConfig:
    """How to train the fusion model (`python -m moodmusic train fusion` spells each field as an option)."""

    data: Path
    models: Path = DEFAULT_OUT.parent  # face_expert.pt and voice_expert.pt (whose speaker prior the voice branch uses)
    out: Path = DEFAULT_OUT
    strategy: str = "gated"  # late | concat | gated: the deployed model's
    au: bool = False  # instead: compare face(AU)-only, voice-only and every strategy on the real RAVDESS pairs
    au_out: Path = Path("runs/fusion/au_comparison.json")
    seeds: int = 3  # au: seeds per strategy (mean and sd reported)
    cache: Path = Path("cache/features")
    run_dir: Path = Path("runs/fusion")
    resume: bool = False
    copies: int = 1  # augmented copies of the voice training windows
    epochs: int = 40
    batch_size: int = 256
    lr: float = 2e-3
    patience: int = 10
    seed: int = 0
    jobs: int = 2
    progress: bool = True
    command: str | None = None  # the command line that reproduces this run, kept with the result


def _check(cfg: FusionConfig) -> None:
    if not (cfg.data / "speech" / "ravdess").is_dir():
        raise UserError(f"no RAVDESS speech under {cfg.data}/speech/ravdess; pass --data DIR (the shared data folder)")
    if cfg.au and not (cfg.data / AU_CSV).is_file():
        raise UserError(f"--au needs {cfg.data / AU_CSV}")
    face_ckpt = cfg.models / "face_expert.pt"
    if not cfg.au and not face_ckpt.is_file():
        raise UserError(f"the deployed fusion model reads the face expert's embeddings: {face_ckpt} is missing "
                        f"(train it first: python -m moodmusic train face)")


def train_fusion(cfg: FusionConfig) -> int:
    """Train the deployed AVFusion, or (`cfg.au`) compare the strategies on the real pairs; the main rank writes."""
    from moodmusic.training.distributed import distributed, main_rank_first
    from moodmusic.training.loop import TrainConfig

    _check(cfg)
    with distributed() as dist_info:
        clips = list_clips(cfg.data)
        windows = main_rank_first(dist_info, lambda main: split_windows(
            clips, cfg.cache, cfg.copies, 0, cfg.jobs, cfg.progress and main))
        # the voice branch reads what the live session hands the voice models: windows measured
        # against the speaker with the voice expert's prior (when it was trained with one)
        prior = speaker_prior_in(cfg.models / "voice_expert.pt")
        windows = adapt_splits(windows, prior)
        config = TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, patience=cfg.patience,
                             seed=cfg.seed, run_dir=str(cfg.run_dir / cfg.strategy), resume=cfg.resume,
                             progress=cfg.progress, num_threads=1)  # small MLPs: one thread is as fast
        if cfg.au:
            config.progress = False
            _compare_au(cfg, windows, config, dist_info)
        else:
            _train_deployed(cfg, windows, prior, config, dist_info)
    return 0


def _compare_au(cfg: FusionConfig, windows: dict[str, Windows], config: Any, dist_info: Any) -> None:
    table = au_comparison(cfg.data, windows, config, dist_info, seeds=tuple(range(cfg.seed, cfg.seed + cfg.seeds)),
                          log=print if dist_info.is_main else (lambda *a: None))
    if not dist_info.is_main:
        return
    table["command"] = cfg.command
    cfg.au_out.parent.mkdir(parents=True, exist_ok=True)
    cfg.au_out.write_text(json.dumps(table, indent=1))
    for k, r in table["table"].items():
        print(f"{k:15s} clip acc {r['accuracy']:.3f} ± {r['accuracy_sd']:.3f}  "
              f"macro-F1 {r['macro_f1']:.3f} ± {r['macro_f1_sd']:.3f}")
    print(f"wrote {cfg.au_out}")


def _train_deployed(cfg: FusionConfig, windows: dict[str, Windows], prior: Any, config: Any, dist_info: Any) -> None:
    import torch

    from moodmusic.audio.features import FEATURE_VERSION as VOICE_VERSION
    from moodmusic.recognition.avfusion import KIND, AVFusionModel
    from moodmusic.training.distributed import main_rank_first

    face_ckpt = cfg.models / "face_expert.pt"
    face = main_rank_first(dist_info, lambda main: face_embeddings(face_ckpt, cfg.data, cfg.cache))
    data = deployed_data(face, windows, cfg.seed)
    if dist_info.is_main:
        print(f"same-label pairs: train {len(data['train'][2])}, val {len(data['val'][2])}", flush=True)
    t0 = time.perf_counter()
    net, result = train_avfusion(data["train"], data["val"], cfg.strategy, config, dist_info)
    if not dist_info.is_main:
        return
    face_meta = torch.load(face_ckpt, map_location="cpu", weights_only=True)["meta"]
    figures = evaluate_deployed(AVFusionModel(net, {}), face, windows, cfg.seed)
    meta = {
        "kind": KIND, "classes": list(MOODS), "arch": net.config,
        "feature_version": f"{face_meta.get('feature_version')}+{VOICE_VERSION}",
        "face_input": "face expert embedding",
        "voice_input": "voice window features" + (" against the speaker's statistics" if prior else ""),
        "speaker_norm": prior.to_meta() if prior is not None else None,
        "face_expert_sha1": hashlib.sha1(face_ckpt.read_bytes()).hexdigest(),
        "training_pairs": "unpaired same-label pairs: FER2013 train faces x RAVDESS actors 1-16 + TESS "
                          "windows (no real face+voice pairs)",
        "command": cfg.command,
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run, "wall_s": round(time.perf_counter() - t0, 1),
        "figures": {k: {"accuracy": v["accuracy"], "macro_f1": v["macro_f1"]} for k, v in figures.items()},
    }
    AVFusionModel(net, meta).save(cfg.out)
    for k, v in figures.items():
        print(f"{k}: acc {v['accuracy']:.3f} macro-F1 {v['macro_f1']:.3f}")
    print(f"wrote {cfg.out}")
