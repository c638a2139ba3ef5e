"""`train fusion`: the AVFusion model, deployed on unpaired same-label pairs, measured on real pairs.

There is no paired face+voice pixel data here. So the deployed model
(`models/avfusion.pt`) is trained on *same-label pairs drawn independently*
from two corpora: the face branch reads the face expert's embedding of a
FER2013 training image, the voice branch reads the voice features of a
RAVDESS-train (actors 1-16) / TESS window, and the two share only the mood
label. That teaches each head and the joint head the label space, but not
how a real face and a real voice co-vary; the model card says so.

The only real paired data is `ravdess_av_features/ravdess_au35.csv`: OpenFace
action units of each RAVDESS audio-visual clip plus the speech file of the
same performance. `--au` trains the same AVFusion class on it (face input:
35 AU values; voice input: our window features), speaker-independently on the
voice expert's actor split, once per strategy, and writes the comparison
table: face(AU)-only, voice-only, late, concat, gated. Those models are
evaluation artefacts and are not committed.

Modality dropout (one modality masked at random per example) trains every
head to stand alone, so the model answers with either modality missing.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from moodmusic.moods import MOOD_INDEX, MOODS, map_label
from moodmusic.training.voice import (
    SPLIT_ACTORS,
    Windows,
    adapt_splits,
    clip_probs,
    list_clips,
    speaker_prior_in,
    split_windows,
)

DEFAULT_OUT = Path("models") / "avfusion.pt"
AU_CSV = Path("ravdess_av_features") / "ravdess_au35.csv"


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


def read_au_table(data_dir: str | Path) -> tuple[dict[str, np.ndarray], list[str]]:
    """{matching speech file stem: AU vector} for the six moods, and the AU column names."""
    path = Path(data_dir) / AU_CSV
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    cols = [c for c in rows[0] if c.startswith("AU")]
    table = {}
    for r in rows:
        if map_label(r["emotion"], "ravdess") is not None:
            table[r["matching_audio_id"]] = np.array([float(r[c]) for c in cols], np.float32)
    return table, cols


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

def face_embeddings(face_checkpoint: str | Path, data_dir: str | Path, cache_dir: str | Path,
                    splits: tuple[str, ...] = ("train", "val", "test"),
                    ) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """{split: (embeddings, face-expert probabilities, mood labels)} of FER2013, cached per face checkpoint."""
    import torch

    from moodmusic.recognition.face_expert import FaceExpert

    sha = hashlib.sha1(Path(face_checkpoint).read_bytes()).hexdigest()
    cache = Path(cache_dir) / f"fer-emb-{sha[:16]}.npz"
    if cache.is_file():
        blob = np.load(cache)
        return {s: (blob[f"{s}_emb"], blob[f"{s}_probs"], blob[f"{s}_y"]) for s in splits}
    expert = FaceExpert.load(face_checkpoint)
    fer = np.load(Path(data_dir) / "faces" / "fer2013.npz", allow_pickle=False)
    labels = [map_label(str(lab), "fer2013") for lab in fer["labels"]]
    keep = np.array([lab is not None for lab in labels])
    y_all = np.array([MOOD_INDEX[lab] if lab else -1 for lab in labels])
    torch.set_num_threads(2)
    out, arrays = {}, {}
    for s in splits:
        m = keep & (fer["split"] == s)
        imgs = fer["images"][m]
        probs, embs = [], []
        for i in range(0, len(imgs), 512):
            p, e = expert.predict(imgs[i:i + 512])
            probs.append(p)
            embs.append(e)
        out[s] = (np.concatenate(embs), np.concatenate(probs), y_all[m])
        arrays.update({f"{s}_emb": out[s][0], f"{s}_probs": out[s][1], f"{s}_y": out[s][2]})
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, **arrays)
    return out


def same_label_pairs(y_face: np.ndarray, y_voice: np.ndarray,
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (face i, voice j) with equal labels: every example of the larger side once,
    partners drawn at random (with replacement) from the other side's examples of that label."""
    fi, vi = [], []
    for c in range(len(MOODS)):
        f, v = np.flatnonzero(y_face == c), np.flatnonzero(y_voice == c)
        if len(f) == 0 or len(v) == 0:
            continue
        n = max(len(f), len(v))
        fi.append(f if len(f) == n else rng.choice(f, n))
        vi.append(v if len(v) == n else rng.choice(v, n))
    return np.concatenate(fi), np.concatenate(vi)


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


def evaluate_deployed(model: Any, face: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
                      windows: dict[str, Windows], seed: int = 0) -> dict[str, Any]:
    """The deployed model on FER test (face only), RAVDESS test actors (voice only, clip level),
    and same-label test pairs (both; NOT real pairs: an optimistic, synthetic figure)."""
    from moodmusic.recognition.metrics import classification_metrics

    emb, _, yf = face["test"]
    w = windows["test"]
    ids, cp = clip_probs(model.predict(None, w.x), w.clip)
    clip_y = np.array([MOOD_INDEX[w.clips[i].mood] for i in ids])
    fi, vi = same_label_pairs(yf, w.y, np.random.default_rng(seed + 777))
    return {
        "face_only_fer_test": classification_metrics(yf, model.predict(emb, None).argmax(1), MOODS),
        "voice_only_ravdess_test_clip": classification_metrics(clip_y, cp.argmax(1), MOODS),
        "same_label_pairs_test": classification_metrics(yf[fi], model.predict(emb[fi], w.x[vi]).argmax(1), MOODS),
    }


# ----------------------------------------------------------------------------- command

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="the shared data folder")
    parser.add_argument("--models", type=Path, default=DEFAULT_OUT.parent,
                        help="folder with face_expert.pt and voice_expert.pt (whose speaker prior the voice branch uses)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the deployed AVFusion")
    parser.add_argument("--strategy", choices=("late", "concat", "gated"), default="gated",
                        help="fusion strategy of the deployed model")
    parser.add_argument("--au", action="store_true",
                        help="instead: compare face(AU)-only, voice-only and every strategy on the real RAVDESS pairs")
    parser.add_argument("--au-out", type=Path, default=Path("runs/fusion/au_comparison.json"))
    parser.add_argument("--seeds", type=int, default=3, help="--au: seeds per strategy (mean and sd reported)")
    parser.add_argument("--cache", type=Path, default=Path("cache/features"))
    parser.add_argument("--run-dir", type=Path, default=Path("runs/fusion"))
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--copies", type=int, default=1, help="augmented copies of the voice training windows")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--patience", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    import torch

    from moodmusic.audio.features import FEATURE_VERSION as VOICE_VERSION
    from moodmusic.cli import UserError
    from moodmusic.recognition.avfusion import KIND, AVFusionModel
    from moodmusic.training.distributed import barrier, distributed
    from moodmusic.training.loop import TrainConfig
    from moodmusic.training.voice import command_line

    if not (args.data / "speech" / "ravdess").is_dir():
        raise UserError(f"no RAVDESS speech under {args.data}/speech/ravdess; pass --data DIR (the shared data folder)")
    if args.au and not (args.data / AU_CSV).is_file():
        raise UserError(f"--au needs {args.data / AU_CSV}")
    face_ckpt = args.models / "face_expert.pt"
    if not args.au and not face_ckpt.is_file():
        raise UserError(f"the deployed fusion model reads the face expert's embeddings: {face_ckpt} is missing "
                        f"(train it first: python -m moodmusic train face)")
    with distributed() as dist_info:
        clips = list_clips(args.data)
        if dist_info.is_main:
            windows = split_windows(clips, args.cache, args.copies, 0, args.jobs, not args.no_progress)
        barrier()
        if not dist_info.is_main:
            windows = split_windows(clips, args.cache, args.copies, 0, args.jobs, False)
        # the voice branch reads what the live session hands the voice models: windows measured
        # against the speaker with the voice expert's prior (when it was trained with one)
        prior = speaker_prior_in(args.models / "voice_expert.pt")
        windows = adapt_splits(windows, prior)
        config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, patience=args.patience,
                             seed=args.seed, run_dir=str(args.run_dir / args.strategy), resume=args.resume,
                             progress=not args.no_progress, num_threads=1)  # small MLPs: one thread is as fast
        if args.au:
            config.progress = False
            table = au_comparison(args.data, windows, config, dist_info,
                                  seeds=tuple(range(args.seed, args.seed + args.seeds)),
                                  log=print if dist_info.is_main else (lambda *a: None))
            if dist_info.is_main:
                table["command"] = command_line(args, "fusion", dist_info.world_size,
                                                skip=("out", "strategy", "run_dir", "resume"))
                args.au_out.parent.mkdir(parents=True, exist_ok=True)
                args.au_out.write_text(json.dumps(table, indent=1))
                for k, r in table["table"].items():
                    print(f"{k:15s} clip acc {r['accuracy']:.3f} ± {r['accuracy_sd']:.3f}  "
                          f"macro-F1 {r['macro_f1']:.3f} ± {r['macro_f1_sd']:.3f}")
                print(f"wrote {args.au_out}")
            return 0

        if dist_info.is_main:
            face = face_embeddings(face_ckpt, args.data, args.cache)
        barrier()
        if not dist_info.is_main:
            face = face_embeddings(face_ckpt, args.data, args.cache)
        data = deployed_data(face, windows, args.seed)
        if dist_info.is_main:
            print(f"same-label pairs: train {len(data['train'][2])}, val {len(data['val'][2])}", flush=True)
        t0 = time.perf_counter()
        net, result = train_avfusion(data["train"], data["val"], args.strategy, config, dist_info)
        if dist_info.is_main:
            face_meta = torch.load(face_ckpt, map_location="cpu", weights_only=True)["meta"]
            model = AVFusionModel(net, {})
            figures = evaluate_deployed(model, face, windows, args.seed)
            meta = {
                "kind": KIND, "classes": list(MOODS), "arch": net.config,
                "feature_version": f"{face_meta.get('feature_version')}+{VOICE_VERSION}",
                "face_input": "face expert embedding",
                "voice_input": "voice window features" + (" against the speaker's statistics" if prior else ""),
                "speaker_norm": prior.to_meta() if prior is not None else None,
                "face_expert_sha1": hashlib.sha1(face_ckpt.read_bytes()).hexdigest(),
                "training_pairs": "unpaired same-label pairs: FER2013 train faces x RAVDESS actors 1-16 + TESS "
                                  "windows (no real face+voice pairs)",
                "command": command_line(args, "fusion", dist_info.world_size, skip=("au_out", "seeds")),
                "best_epoch": result.best_epoch,
                "epochs_run": result.epochs_run, "wall_s": round(time.perf_counter() - t0, 1),
                "figures": {k: {"accuracy": v["accuracy"], "macro_f1": v["macro_f1"]} for k, v in figures.items()},
            }
            AVFusionModel(net, meta).save(args.out)
            for k, v in figures.items():
                print(f"{k}: acc {v['accuracy']:.3f} macro-F1 {v['macro_f1']:.3f}")
            print(f"wrote {args.out}")
    return 0

