"""The voice expert: a small MLP from one window's voice feature vector to the six moods.

The feature vector (computed by `moodmusic.audio`, never here) is
standardised inside the network with the training set's statistics, which
travel in the checkpoint as buffers, so a caller hands over raw features and
cannot forget the scaling. The network returns logits and the embedding in
front of its classifier; the AVFusion model and the evaluation use both.

>>> import numpy as np
>>> net = VoiceNet(in_dim=8)
>>> expert = VoiceExpert(net, meta={"feature_version": "test"})
>>> probs, emb = expert.predict(np.zeros((3, 8), np.float32))
>>> probs.shape, emb.shape, bool(np.allclose(probs.sum(1), 1))
((3, 6), (3, 128), True)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from moodmusic.moods import MOODS
from moodmusic.recognition.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

KIND = "voice"
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "models" / "voice_expert.pt"


class VoiceNet(nn.Module):
    """Standardise, two hidden layers, embedding, linear classifier."""

    def __init__(self, in_dim: int, hidden: int = 256, emb_dim: int = 128, dropout: float = 0.3,
                 n_classes: int = len(MOODS), use: list[int] | None = None) -> None:
        super().__init__()
        self.config = {"in_dim": in_dim, "hidden": hidden, "emb_dim": emb_dim, "dropout": dropout,
                       "n_classes": n_classes, "use": None if use is None else [int(i) for i in use]}
        # which of the input features the network reads (None: all); callers always pass all of them
        self.register_buffer("use", torch.arange(in_dim) if use is None else torch.as_tensor(use, dtype=torch.long))
        n_used = len(self.use)
        self.register_buffer("mean", torch.zeros(n_used))
        self.register_buffer("std", torch.ones(n_used))
        self.body = nn.Sequential(
            nn.Linear(n_used, hidden), nn.LayerNorm(hidden), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(hidden, emb_dim), nn.LayerNorm(emb_dim), nn.GELU(),
        )
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(emb_dim, n_classes)

    def set_scaler(self, mean: np.ndarray, std: np.ndarray) -> None:
        """Store the training set's statistics of all input features (std floored so constant ones stay finite)."""
        use = self.use.numpy()
        self.mean.copy_(torch.as_tensor(np.asarray(mean, np.float32)[use]))
        self.std.copy_(torch.as_tensor(np.maximum(np.asarray(std, np.float32)[use], 1e-6)))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        z = (x[:, self.use] - self.mean) / self.std
        return self.body(torch.nan_to_num(z).clamp(-10, 10))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        emb = self.embed(x)
        return self.head(self.drop(emb)), emb


class VoiceEnsemble(nn.Module):
    """Several VoiceNets trained from different seeds, their probabilities averaged.

    On unseen speakers one tiny net's accuracy swings by several points with
    its seed (measured on the validation actors); the mean of a few swings far
    less and costs microseconds. The logits returned are the log of the mean
    probability, so a softmax of them gives that mean back; the embedding is
    the members' mean.
    """

    def __init__(self, members: int, **arch: Any) -> None:
        super().__init__()
        if members < 1:
            raise ValueError(f"an ensemble needs at least one member, got {members}")
        self.members = nn.ModuleList(VoiceNet(**arch) for _ in range(members))
        self.config = {**self.members[0].config, "members": members}

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        outs = [m(x) for m in self.members]
        probs = torch.stack([torch.softmax(logits, 1) for logits, _ in outs]).mean(0)
        return torch.log(probs.clamp_min(1e-12)), torch.stack([emb for _, emb in outs]).mean(0)


def build_net(arch: dict[str, Any]) -> nn.Module:
    """The network a checkpoint's `arch` describes: one VoiceNet, or an ensemble when it names `members`."""
    arch = dict(arch)
    members = arch.pop("members", None)
    return VoiceNet(**arch) if members is None else VoiceEnsemble(int(members), **arch)


class VoiceExpert:
    """A trained VoiceNet (or VoiceEnsemble) ready for inference on (N, D) float32 feature arrays."""

    def __init__(self, net: nn.Module, meta: dict[str, Any]) -> None:
        self.net = net.eval()
        self.meta = meta

    @property
    def in_dim(self) -> int:
        return int(self.net.config["in_dim"])

    @classmethod
    def load(cls, path: str | Path | None = None, feature_version: str | None = None) -> VoiceExpert:
        """Load `models/voice_expert.pt` (or `path`); refuse features of another version.

        `recognition` does not import `audio`, so the caller passes
        `moodmusic.audio.FEATURE_VERSION`; None skips that check (tests, tools).
        """
        state, meta = load_checkpoint(path or DEFAULT_PATH, kind=KIND, feature_version=feature_version)
        if tuple(meta["classes"]) != MOODS:
            raise CheckpointError(f"model file {path or DEFAULT_PATH} predicts {meta['classes']}, not {MOODS}")
        net = build_net(meta["arch"])
        net.load_state_dict(state)
        return cls(net, meta)

    def save(self, path: str | Path) -> None:
        save_checkpoint(path, self.net.state_dict(), self.meta)

    @torch.inference_mode()
    def predict(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, D) features -> ((N, 6) probabilities, (N, emb_dim) embeddings)."""
        x = np.asarray(features, dtype=np.float32)
        if x.ndim == 1:
            x = x[None]
        if x.ndim != 2 or x.shape[1] != self.in_dim:
            raise ValueError(f"voice expert expects (N, {self.in_dim}) features, got shape {x.shape}")
        if len(x) == 0:
            return np.zeros((0, len(MOODS)), np.float32), np.zeros((0, self.net.config["emb_dim"]), np.float32)
        logits, emb = self.net(torch.from_numpy(x))
        return torch.softmax(logits, 1).numpy(), emb.numpy()

    def __call__(self, features: np.ndarray) -> np.ndarray:
        """Probabilities only: the callable the live engine expects."""
        return self.predict(features)[0]
