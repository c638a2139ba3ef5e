"""Process-group set-up for training under `torchrun` (or alone): rank, world size, device.

`torchrun --nproc_per_node=N` sets RANK / WORLD_SIZE / LOCAL_RANK (and the
rendezvous address); a plain `python -m moodmusic train ...` sets none of
them and runs as a world of one, with no process group at all. gloo on CPU,
nccl when each rank has a GPU.

>>> with distributed() as dist_info:
...     dist_info.world_size, dist_info.is_main
(1, True)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")


@dataclass(frozen=True)
class DistInfo:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Only the main rank logs, shows progress and writes files."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def env_rank() -> tuple[int, int, int]:
    """(rank, world_size, local_rank) as torchrun set them; (0, 1, 0) outside torchrun."""
    return (int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
            int(os.environ.get("LOCAL_RANK", 0)))


def _device(local_rank: int, use_cuda: bool) -> torch.device:
    if use_cuda and torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


@contextmanager
def distributed(backend: str | None = None, use_cuda: bool = True) -> Iterator[DistInfo]:
    """Join the process group for the duration of the block (no-op for a world of one); always leave it."""
    rank, world, local = env_rank()
    device = _device(local, use_cuda)
    started = False
    if world > 1 and not dist.is_initialized():
        backend = backend or ("nccl" if device.type == "cuda" else "gloo")
        dist.init_process_group(backend=backend, rank=rank, world_size=world)
        started = True
    try:
        yield DistInfo(rank, world, local, device)
    finally:
        if started and dist.is_initialized():
            dist.destroy_process_group()


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """Sum a tensor over all ranks in place (identity for a world of one)."""
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def main_rank_first(dist_info: DistInfo, compute: Callable[[bool], T]) -> T:
    """`compute(True)` on the main rank, then `compute(False)` on the others once it is done.

    For work that fills a cache: the main rank computes it (the flag: show
    progress), the other ranks wait at a barrier and then only read it.
    """
    if dist_info.is_main:
        out = compute(True)
    barrier()
    if not dist_info.is_main:
        out = compute(False)
    return out
