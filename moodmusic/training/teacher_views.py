"""Offline distillation: teachers' answers on fixed augmented views, computed once and cached.

Distilling by function matching (the teacher sees each augmented batch the
student sees) costs a teacher forward pass per image per epoch. The face
teachers take about 17 ms an image on two CPU cores, so on a laptop that is
16 minutes an epoch. Here each training image gets `views` fixed augmented
views instead (view v of chunk c is drawn from a generator seeded by
(seed, v, c), so any chunk can be recomputed alone), the teachers answer each
view once, mirror-averaged, and the answers are stored beside the views in
the run folder. The student then trains on the stored views, and on their
mirror images too: a mirror-averaged teacher gives a view and its mirror the
same answer, so the pair costs one teacher pass.

A cache file holds one view of every image and a key (the teachers' file
hashes, the images' hash, seed, view, crop, this format's version): a file
whose key differs is recomputed, never reused. Work is saved every minute,
so an interrupted run continues where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

VERSION = "teacher-views-v1"
CHUNK = 256  # images per generator seed and per teacher batch


def file_digest(path: str | Path) -> str:
    """sha256 of a file's bytes: a teacher retrained in place gets a new key."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cache_key(teacher_digests: list[str], images: np.ndarray, seed: int, view: int, crop: int) -> str:
    """What a cached view depends on, as a stable JSON string."""
    return json.dumps({"version": VERSION, "teachers": list(teacher_digests), "seed": int(seed), "view": int(view),
                       "crop": int(crop), "n": int(len(images)),
                       "images": hashlib.sha256(np.ascontiguousarray(images).tobytes()).hexdigest()},
                      sort_keys=True)


def mirror_averaged(teacher: Any) -> Callable[[Any], Any]:
    """x -> mean of the teacher's logits on x and on its mirror image (so a view and its mirror agree)."""
    import torch

    def answer(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return (teacher(x).float() + teacher(x.flip(-1)).float()) / 2

    return answer


def compute_view(images: np.ndarray, labels_dim: int, answer: Callable[[Any], Any], seed: int, view: int,
                 crop: int, path: Path | None, key: str, save_every_s: float = 60.0,
                 progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One augmented view of every image (uint8, (N, crop, crop)) and the teachers' logits on it ((N, labels_dim)).

    Resumes from `path` when it holds part of the same key's work; writes it
    there (atomically) every `save_every_s` seconds and when done.
    """
    import torch

    from moodmusic.training.augment import augment_faces

    n = len(images)
    views = np.zeros((n, crop, crop), dtype=np.uint8)
    logits = np.zeros((n, labels_dim), dtype=np.float32)
    done = 0
    if path is not None and path.is_file():
        blob = torch.load(path, map_location="cpu", weights_only=True)
        if blob.get("key") == key:
            done = int(blob["done"])
            views[:done] = blob["views"][:done].numpy()
            logits[:done] = blob["logits"][:done].numpy()

    def save() -> None:
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        torch.save({"key": key, "done": done, "views": torch.from_numpy(views),
                    "logits": torch.from_numpy(logits)}, tmp)
        tmp.replace(path)

    if done == n:  # the whole view was cached
        return views, logits
    last_save = time.monotonic()
    x_all = torch.from_numpy(np.ascontiguousarray(images))
    while done < n:
        chunk = done // CHUNK
        gen = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(view) * 10_007 + chunk)
        lo, hi = chunk * CHUNK, min(n, (chunk + 1) * CHUNK)
        v = augment_faces(x_all[lo:hi], gen, crop=crop, device="cpu").round().clamp(0, 255).to(torch.uint8)
        views[lo:hi] = v[:, 0].numpy()
        logits[lo:hi] = answer(v.float()).numpy()
        done = hi
        if progress is not None:
            progress(done, n)
        if time.monotonic() - last_save > save_every_s:
            save()
            last_save = time.monotonic()
    save()
    return views, logits


def teacher_views(teacher: Any, teacher_paths: list[Path], images: np.ndarray, labels_dim: int, views: int,
                  seed: int, crop: int, cache_dir: Path | None, verbose: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """`views` cached views of every image, stacked view after view: (views*N, crop, crop) uint8 and logits."""
    import torch

    teacher = teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    answer = mirror_averaged(teacher)
    digests = [file_digest(p) for p in teacher_paths]
    out_views, out_logits = [], []
    for v in range(views):
        key = cache_key(digests, images, seed, v, crop)
        path = cache_dir / f"view{v}.pt" if cache_dir is not None else None
        t0 = time.monotonic()
        last = [t0]

        def progress(done: int, n: int, v: int = v, t0: float = t0, last: list[float] = last) -> None:
            now = time.monotonic()
            if verbose and (now - last[0] > 30 or done == n):
                last[0] = now
                print(f"teacher view {v + 1}/{views}: {done}/{n} images ({now - t0:.0f}s)", flush=True)

        with torch.inference_mode():
            x, z = compute_view(images, labels_dim, answer, seed, v, crop, path, key, progress=progress)
        out_views.append(x)
        out_logits.append(z)
    return np.concatenate(out_views), np.concatenate(out_logits)
