"""Checkpoints: a `state_dict` plus the metadata needed to use it correctly.

A model is only valid with the exact features it was trained on, so every
checkpoint records the feature version of its inputs, its classes, the
constructor arguments of its network and its normalisation statistics, and
loading refuses a checkpoint whose feature version differs from the code's.
Files are read with `weights_only=True`: metadata is plain data, never pickled
objects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

FORMAT = 1


class CheckpointError(Exception):
    """A checkpoint is missing, corrupt or does not fit this code; the message says how to fix it."""


def save_checkpoint(path: str | Path, state_dict: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Write atomically (temp file + rename) so an interrupted save never leaves half a model."""
    for key in ("kind", "classes", "feature_version", "arch"):
        if key not in meta:
            raise ValueError(f"checkpoint metadata needs {key!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    cpu_state = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    torch.save({"format": FORMAT, "state_dict": cpu_state, "meta": dict(meta)}, tmp)
    tmp.replace(path)


def load_checkpoint(
    path: str | Path, *, kind: str, feature_version: str | None = None
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Return (state_dict, meta), or raise CheckpointError naming the file and the remedy."""
    path = Path(path)
    restore = (
        f"restore it with `git checkout -- {path.name}` in models/ or retrain it "
        f"(see models/MODEL_CARD.md for the exact command)"
    )
    if not path.is_file():
        raise CheckpointError(f"model file {path} is missing; {restore}")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged file
        raise CheckpointError(f"model file {path} cannot be read ({type(exc).__name__}); {restore}") from None
    if not isinstance(blob, dict) or "state_dict" not in blob or "meta" not in blob:
        raise CheckpointError(f"model file {path} is not a moodmusic checkpoint; {restore}")
    meta = blob["meta"]
    if meta.get("kind") != kind:
        raise CheckpointError(f"model file {path} holds a {meta.get('kind')!r} model, expected {kind!r}")
    if feature_version is not None and meta.get("feature_version") != feature_version:
        raise CheckpointError(
            f"model file {path} was trained on features version {meta.get('feature_version')!r} "
            f"but this code computes version {feature_version!r}; retrain it "
            f"(see models/MODEL_CARD.md) or check out the matching code"
        )
    return blob["state_dict"], meta
