"""AVFusion: one small network that reads a face vector, a voice vector, or both.

Each modality has a branch (standardise -> MLP -> embedding) and its own
head, so the model still answers when a modality is missing. The joint
answer comes from one of three strategies, chosen at construction so they
can be trained and compared on the same data:

- ``late``: confidence-weighted late fusion of the two heads' probabilities
  (weight = one minus normalised entropy, plus a floor), no joint parameters;
- ``concat``: an MLP on the concatenated embeddings and the modality mask;
- ``gated``: a learned gate weighs the two embeddings per example (a missing
  modality gets weight 0), then a joint head.

A missing modality is given as a False mask (its input values are ignored).
Where only one modality is present, the output is that modality's head;
where both are, it is the fused head. Training uses modality dropout (see
`moodmusic.training.fusion`) so every head learns to stand alone.

>>> import numpy as np
>>> net = AVFusion(face_dim=4, voice_dim=5, strategy="gated")
>>> fusion = AVFusionModel(net, meta={})
>>> p = fusion.predict(np.zeros((2, 4), np.float32), None)
>>> p.shape, bool(np.allclose(p.sum(1), 1))
((2, 6), True)
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from moodmusic.moods import MOODS
from moodmusic.recognition.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

KIND = "avfusion"
STRATEGIES: tuple[str, ...] = ("late", "concat", "gated")
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "models" / "avfusion.pt"


class _Branch(nn.Module):
    def __init__(self, in_dim: int, emb_dim: int, dropout: float) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(in_dim))
        self.register_buffer("std", torch.ones(in_dim))
        self.net = nn.Sequential(
            nn.Dropout(dropout / 2), nn.Linear(in_dim, 2 * emb_dim), nn.LayerNorm(2 * emb_dim), nn.GELU(),
            nn.Dropout(dropout), nn.Linear(2 * emb_dim, emb_dim), nn.LayerNorm(emb_dim), nn.GELU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = torch.nan_to_num((x - self.mean) / self.std).clamp(-10, 10)
        return self.net(z)


def certainty(probs: torch.Tensor) -> torch.Tensor:
    """Per row: 1 for a one-hot distribution, 0 for a uniform one."""
    p = probs.clamp_min(1e-9)
    return (1.0 + (p * p.log()).sum(-1) / math.log(p.shape[-1])).clamp(0.0, 1.0)


class AVFusion(nn.Module):
    """Face branch, voice branch, a head per modality and a fusion head."""

    def __init__(self, face_dim: int, voice_dim: int, strategy: str = "gated", emb_dim: int = 64,
                 dropout: float = 0.3, n_classes: int = len(MOODS)) -> None:
        super().__init__()
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown fusion strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
        self.config = {"face_dim": face_dim, "voice_dim": voice_dim, "strategy": strategy,
                       "emb_dim": emb_dim, "dropout": dropout, "n_classes": n_classes}
        self.strategy = strategy
        self.face = _Branch(face_dim, emb_dim, dropout)
        self.voice = _Branch(voice_dim, emb_dim, dropout)
        self.face_head = nn.Linear(emb_dim, n_classes)
        self.voice_head = nn.Linear(emb_dim, n_classes)
        if strategy == "concat":
            self.joint = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * emb_dim + 2, emb_dim), nn.GELU(),
                                       nn.Linear(emb_dim, n_classes))
        elif strategy == "gated":
            self.gate = nn.Linear(2 * emb_dim, 2)
            self.joint = nn.Sequential(nn.Dropout(dropout), nn.Linear(emb_dim, n_classes))

    def set_scalers(self, face: tuple[np.ndarray, np.ndarray], voice: tuple[np.ndarray, np.ndarray]) -> None:
        """Store each branch's training-set (mean, std)."""
        for branch, (mean, std) in ((self.face, face), (self.voice, voice)):
            branch.mean.copy_(torch.as_tensor(np.asarray(mean, np.float32)))
            branch.std.copy_(torch.as_tensor(np.maximum(np.asarray(std, np.float32), 1e-6)))

    def forward(self, face: torch.Tensor, voice: torch.Tensor, face_mask: torch.Tensor,
                voice_mask: torch.Tensor) -> dict[str, torch.Tensor]:
        """Logits: 'face', 'voice' (each head alone), 'fused' (joint) and 'out' (what to answer)."""
        fm = face_mask.float().unsqueeze(1)
        vm = voice_mask.float().unsqueeze(1)
        ef = self.face(face) * fm
        ev = self.voice(voice) * vm
        lf, lv = self.face_head(ef), self.voice_head(ev)
        if self.strategy == "late":
            pf, pv = lf.softmax(1), lv.softmax(1)
            wf = (0.25 + 0.75 * certainty(pf)).unsqueeze(1) * fm
            wv = (0.25 + 0.75 * certainty(pv)).unsqueeze(1) * vm
            fused_p = (wf * pf + wv * pv) / (wf + wv).clamp_min(1e-6)
            fused = fused_p.clamp_min(1e-9).log()
        elif self.strategy == "concat":
            fused = self.joint(torch.cat([ef, ev, fm, vm], 1))
        else:
            g = self.gate(torch.cat([ef, ev], 1))
            g = g.masked_fill(torch.cat([fm, vm], 1) == 0, -1e4).softmax(1)
            fused = self.joint(g[:, :1] * ef + g[:, 1:] * ev)
        both = (fm * vm).bool()
        only_face = (fm.bool() & ~vm.bool())
        out = torch.where(both, fused, torch.where(only_face, lf, lv))
        return {"face": lf, "voice": lv, "fused": fused, "out": out}


class AVFusionModel:
    """A trained AVFusion for inference on numpy arrays; None for a missing modality."""

    def __init__(self, net: AVFusion, meta: dict[str, Any]) -> None:
        self.net = net.eval()
        self.meta = meta

    @classmethod
    def load(cls, path: str | Path | None = None, feature_version: str | None = None) -> AVFusionModel:
        """Load `models/avfusion.pt`; `feature_version` is e.g. "face-v1+voice-v1" (None skips the check)."""
        path = Path(path or DEFAULT_PATH)
        state, meta = load_checkpoint(path, kind=KIND, feature_version=feature_version)
        if tuple(meta["classes"]) != MOODS:
            raise CheckpointError(f"model file {path} predicts {meta['classes']}, not {MOODS}")
        net = AVFusion(**meta["arch"])
        net.load_state_dict(state)
        return cls(net, meta)

    def save(self, path: str | Path) -> None:
        save_checkpoint(path, self.net.state_dict(), self.meta)

    @torch.inference_mode()
    def predict_one(self, modality: str, x: np.ndarray) -> np.ndarray:
        """`predict` with only `modality` ("face" or "voice") given, running only that branch and head.

        The same probabilities as `predict(face=x, voice=None)` (or the voice
        mirror): with one modality the answer is that modality's head. The live
        engine asks this for every frame, and the other branch and the joint
        head on zeros were half the cost.
        """
        head = self.head(modality)  # refuses a modality it does not have
        dim = self.net.config[f"{modality}_dim"]
        a = np.ascontiguousarray(np.asarray(x, np.float32).reshape(len(x), -1))
        if a.shape[1] != dim:
            raise ValueError(f"AVFusion expects {modality} of shape ({len(a)}, {dim}), got {a.shape}")
        return head(torch.from_numpy(a)).numpy()

    def head(self, modality: str) -> nn.Module:
        """`modality`'s branch, head and softmax: (N, dim) features -> (N, 6) probabilities, eval mode.

        Shares the weights; what `predict_one` runs, and what the face expert
        freezes behind its own layers for the live page (`FaceExpert.through`).
        """
        if modality not in ("face", "voice"):
            raise ValueError(f"AVFusion modality must be 'face' or 'voice', not {modality!r}")
        branch, head = (self.net.face, self.net.face_head) if modality == "face" else (self.net.voice, self.net.voice_head)
        return nn.Sequential(branch, head, nn.Softmax(dim=1)).eval()

    @torch.inference_mode()
    def predict(self, face: np.ndarray | None, voice: np.ndarray | None) -> np.ndarray:
        """(N, face_dim) and/or (N, voice_dim) -> (N, 6) probabilities; at least one must be given."""
        cfg = self.net.config
        if face is None and voice is None:
            raise ValueError("AVFusion needs at least one modality")
        n = len(face) if face is not None else len(voice)  # type: ignore[arg-type]

        def tensor(x: np.ndarray | None, dim: int, name: str) -> tuple[torch.Tensor, torch.Tensor]:
            if x is None:
                return torch.zeros(n, dim), torch.zeros(n, dtype=torch.bool)
            a = np.ascontiguousarray(np.asarray(x, np.float32).reshape(len(x), -1))
            if a.shape != (n, dim):
                raise ValueError(f"AVFusion expects {name} of shape ({n}, {dim}), got {a.shape}")
            return torch.from_numpy(a), torch.ones(n, dtype=torch.bool)

        f, fm = tensor(face, cfg["face_dim"], "face")
        v, vm = tensor(voice, cfg["voice_dim"], "voice")
        return self.net(f, v, fm, vm)["out"].softmax(1).numpy()
