"""Inference graphs frozen with TorchScript: the per-frame path without Python between the layers.

The face expert runs on every video frame, and called eagerly a large share
of its time goes to Python dispatch from one small layer to the next; the
same network traced and frozen gives identical outputs in less time
(docs/performance.md has the measurements). `torch.jit.trace` records the
layers once and `torch.jit.freeze` inlines the weights; the graph also runs
without holding the GIL, so the asyncio loop of a WebRTC session is not kept
waiting.

A graph is only used after it gave the eager module's answer on the example
input. Where tracing fails (a layer TorchScript cannot hold), the eager module
is used and the log says why: slower, never wrong.

torch 2.x marks TorchScript deprecated in favour of `torch.compile`, which
needs a C++ compiler on the server and seconds of compiling per process. The
pinned torch (requirements.txt) keeps TorchScript working; should a later one
drop it, the fallback above runs the models eagerly.

>>> import torch
>>> net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Softmax(1))
>>> graph = frozen(net, torch.ones(1, 4))
>>> bool(torch.allclose(graph(torch.zeros(2, 4)), net(torch.zeros(2, 4))))
True
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

log = logging.getLogger(__name__)

# TorchScript's profiling executor specialises a graph on its first calls; these happen at load.
WARM_UP_CALLS = 3


def frozen(module: nn.Module, example: torch.Tensor, atol: float = 1e-5) -> Callable[..., Any]:
    """`module` (in eval mode) as a frozen TorchScript graph traced on `example`, or `module` itself.

    The graph holds the shapes it was traced with except the batch size, so
    callers check their inputs' other dimensions first (as `predict` does).
    """
    module = module.eval()
    try:
        with warnings.catch_warnings():
            # input checks in forward() become constants in a trace: the callers check shapes first
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            warnings.simplefilter("ignore", DeprecationWarning)  # see the module's docstring
            with torch.no_grad():
                graph = torch.jit.freeze(torch.jit.trace(module, example, check_trace=False))  # checked below
        with torch.inference_mode():
            want = module(example)
            for _ in range(WARM_UP_CALLS):
                got = graph(example)
        wants, gots = _as_tuple(want), _as_tuple(got)
        if len(wants) != len(gots) or not all(torch.allclose(g, w, atol=atol) for g, w in zip(gots, wants)):
            raise RuntimeError("the frozen graph's outputs differ from the module's")
    except Exception as exc:  # noqa: BLE001 - any failure means: run eagerly
        log.warning("running %s eagerly: it could not be frozen (%s: %s)", type(module).__name__, type(exc).__name__, exc)
        return module
    return graph


def _as_tuple(x: Any) -> tuple[torch.Tensor, ...]:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)
