"""A face expert made by averaging the weights of face experts of one architecture (a "model soup").

Fine-tunes of one starting point stay in one basin of the loss, so their
weights (BatchNorm statistics included) can be averaged into one model that
costs what each of them costs (Wortsman et al. 2022). Issue 25 used it to
trade between the committed expert (FER2013's labels, its fear) and its
fine-tunes on mixed labels and in-the-wild augmentation (the crowd's
neutral, robustness to blur and low resolution): the weights are chosen on
validation, and test is scored once, for the chosen soup.

    python -m moodmusic train face-soup --data ../shared/data --out models/face_expert.pt \\
        --models runs/face_student.pt runs/face_mixed_a/student.pt runs/face_mixed_wild/student.pt \\
        --weights 0.5 0.25 0.25

>>> import torch
>>> average_states([{"w": torch.tensor([0.0, 2.0])}, {"w": torch.tensor([4.0, 2.0])}], [0.75, 0.25])["w"].tolist()
[1.0, 2.0]
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moodmusic.errors import UserError
from moodmusic.training.face import DEFAULT_OUT, _brief, _feature_version
from moodmusic.training.lineage import lineage_from_files, merge, step
from moodmusic.training.scoring import evaluate_face, format_report


@dataclass
class SoupConfig:
    """What to average (`python -m moodmusic train face-soup` spells each field as an option)."""

    data: Path
    models: list[Path] = field(default_factory=list)
    weights: list[float] | None = None  # default: equal
    out: Path = DEFAULT_OUT
    test: bool = True
    command: str | None = None


def average_states(states: list[dict[str, Any]], weights: list[float]) -> dict[str, Any]:
    """The weighted mean of each floating-point tensor; integer buffers (BatchNorm's counters) from the first."""
    out = {}
    for key, first in states[0].items():
        if first.is_floating_point():
            out[key] = sum(w * s[key].float() for w, s in zip(weights, states)).to(first.dtype)
        else:
            out[key] = first.clone()
    return out


def _weights(cfg: SoupConfig) -> list[float]:
    if len(cfg.models) < 2:
        raise UserError("--models needs two or more face checkpoints to average")
    weights = cfg.weights if cfg.weights is not None else [1.0] * len(cfg.models)
    if len(weights) != len(cfg.models) or any(w < 0 for w in weights) or sum(weights) <= 0:
        raise UserError(f"--weights needs one non-negative weight per model ({len(cfg.models)}), not all zero")
    total = sum(weights)
    return [w / total for w in weights]


def _sha1(path: Path) -> str:
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def soup_face(cfg: SoupConfig) -> int:
    """Average the checkpoints, save the result, score val with both label sets and (unless told not to) test."""
    from moodmusic.recognition.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

    weights = _weights(cfg)
    states, metas = [], []
    for path in cfg.models:
        try:
            state, meta = load_checkpoint(path, kind="face")
        except (CheckpointError, FileNotFoundError, OSError) as exc:
            raise UserError(f"cannot average {path}: {exc}") from None
        states.append(state)
        metas.append(meta)
    arch = metas[0].get("arch")
    for path, meta in zip(cfg.models, metas):
        if meta.get("arch") != arch or meta.get("classes") != metas[0].get("classes"):
            raise UserError(f"{path} has architecture {meta.get('arch')}, {cfg.models[0]} has {arch}: "
                            "only models of one architecture can be averaged")
    ingredients = [{"path": str(p), "sha1": _sha1(p), "weight": round(w, 6), "command": m.get("command"),
                    "labels": m.get("labels", "fer2013"), "augment": m.get("augment", "standard"),
                    "val": (m.get("metrics") or {}).get("val_single")}
                   for p, w, m in zip(cfg.models, weights, metas)]
    first = metas[0]
    meta = {
        "kind": "face", "classes": first["classes"], "feature_version": _feature_version(), "arch": arch,
        "input": first.get("input"), "flip_average": False,
        "data": ("a weighted average of face experts' weights (" + ", ".join(
            f"{i['weight']:g} x {i['path']} ({i['labels']} labels, {i['augment']} augmentation)"
            for i in ingredients) + "); weights chosen on val (PublicTest), test (PrivateTest) reported once"),
        "labels": "soup", "soup": {"ingredients": ingredients},
        "teachers": [],
        # the card names the first ingredient, the starting point of the others, and its own command
        "init": {"path": str(cfg.models[0]), "val": (first.get("metrics") or {}).get("val_single"),
                 "command": first.get("command")},
        "command": cfg.command,
        # every step before this command, oldest first: each averaged model's own, then the model
        "lineage": merge(*[lineage_from_files(m) + [step(p, m, sha1=i["sha1"])]
                           for p, m, i in zip(cfg.models, metas, ingredients)]),
        "metrics": {},
    }
    model = average_states(states, weights)
    save_checkpoint(cfg.out, model, meta)
    val = evaluate_face(cfg.out, cfg.data, split="val", flip_average=False, originals_only=True, label_sets=True)
    meta["metrics"]["val_single"] = _brief(val)
    meta["metrics"]["val"] = {k: v for k, v in val.items() if k != "label_sets"}
    meta["metrics"]["val_ferplus"] = val["label_sets"].get("ferplus")
    save_checkpoint(cfg.out, model, meta)
    if cfg.test:
        test = evaluate_face(cfg.out, cfg.data, split="test", originals_only=True, label_sets=True)
        meta["metrics"]["test"] = test
        meta["metrics"]["test_ferplus"] = test["label_sets"].get("ferplus")
        meta["metrics"]["test_slice500"] = _brief(evaluate_face(cfg.out, cfg.data, split="test", limit=500))
        save_checkpoint(cfg.out, model, meta)
    print(f"saved {cfg.out}: " + ", ".join(f"{i['weight']:g} x {i['path']}" for i in ingredients))
    for name in ("val", "val_ferplus", "test", "test_ferplus"):
        if meta["metrics"].get(name):
            print(format_report(meta["metrics"][name], f"{name} split"))
    return 0
