"""DistributedDataParallel on CPU: two gloo processes train on real images and must agree exactly."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp


def tiny_faces(n: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n real 48x48 greyscale patches (cut from scikit-image photographs), labels 0..5 in turn."""
    import cv2
    from skimage import color, data

    photos = [data.camera(), color.rgb2gray(data.astronaut()), color.rgb2gray(data.coffee()),
              color.rgb2gray(data.chelsea()), data.moon(), data.page()]
    photos = [(p * 255 if p.dtype != np.uint8 else p).astype(np.uint8) for p in photos]
    rng = np.random.default_rng(seed)
    out = np.empty((n, 48, 48), np.uint8)
    for i in range(n):
        p = photos[i % len(photos)]
        side = int(rng.integers(60, min(p.shape) // 2))
        y, x = rng.integers(0, p.shape[0] - side), rng.integers(0, p.shape[1] - side)
        out[i] = cv2.resize(p[y:y + side, x:x + side], (48, 48), interpolation=cv2.INTER_AREA)
    return out, (np.arange(n) % 6).astype(np.int64)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, out_dir: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    from torch.utils.data import TensorDataset

    from moodmusic.moods import MOODS
    from moodmusic.recognition.face_expert import FaceNet
    from moodmusic.training.distributed import distributed
    from moodmusic.training.augment import augment_faces
    from moodmusic.training.loop import TrainConfig, fit, seed_everything

    x, y = tiny_faces(64)
    xv, yv = tiny_faces(30, seed=1)
    with distributed() as info:
        assert info.world_size == world and info.rank == rank
        seed_everything(0)
        model = FaceNet(widths=(8, 16, 16), emb_dim=16)
        config = TrainConfig(epochs=1, batch_size=8, lr=1e-2, warmup_epochs=0, seed=0, num_threads=1,
                             max_steps_per_epoch=2, progress=False)
        result = fit(model, TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
                     TensorDataset(torch.from_numpy(xv), torch.from_numpy(yv)),
                     torch.nn.CrossEntropyLoss(), list(MOODS), config, info,
                     batch_transform=lambda xb, g: augment_faces(xb, g, crop=40))
        torch.save({"params": {k: v.clone() for k, v in model.state_dict().items()},
                    "metrics": result.best_metrics, "loss": result.history[-1]["train_loss"]},
                   Path(out_dir) / f"rank{rank}.pt")


@pytest.mark.timeout(120)
def test_two_cpu_ranks_end_with_identical_parameters_and_metrics(tmp_path):
    mp.start_processes(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True, start_method="spawn")
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=False)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=False)
    initial = {k: v for k, v in _initial_params().items()}
    for name, p0 in r0["params"].items():
        assert torch.equal(p0, r1["params"][name]), f"ranks disagree on {name}"
    assert any(not torch.equal(r0["params"][k], initial[k]) for k in initial if k.endswith("weight")), \
        "training did not change the weights"
    # validation counts were summed over both ranks' halves: every val image counted once
    assert r0["metrics"] == r1["metrics"]
    assert r0["metrics"]["n"] == 30
    assert r0["loss"] == pytest.approx(r1["loss"])


def _initial_params() -> dict[str, torch.Tensor]:
    from moodmusic.recognition.face_expert import FaceNet
    from moodmusic.training.loop import seed_everything

    seed_everything(0)
    return FaceNet(widths=(8, 16, 16), emb_dim=16).state_dict()
