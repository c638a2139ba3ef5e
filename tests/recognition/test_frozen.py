"""Frozen TorchScript graphs: the same answers as the eager module, or the eager module itself."""

from __future__ import annotations

import logging

import torch
from torch import nn

from moodmusic.recognition.frozen import frozen


class _Small(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.head = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = torch.relu(self.conv(x.float().unsqueeze(1))).mean(dim=(2, 3))
        return self.head(z).softmax(1), z


class _ToPython(nn.Module):
    def forward(self, x: torch.Tensor) -> float:
        return float(x.sum())  # not a tensor: TorchScript's trace cannot return it


def test_a_frozen_graph_answers_as_the_module_for_other_inputs_and_batch_sizes():
    module = _Small().eval()
    graph = frozen(module, torch.randint(0, 256, (1, 12, 12), dtype=torch.uint8))
    assert isinstance(graph, torch.jit.ScriptModule)
    for n in (1, 3):
        x = torch.randint(0, 256, (n, 12, 12), dtype=torch.uint8, generator=torch.Generator().manual_seed(n))
        with torch.inference_mode():
            for got, want in zip(graph(x), module(x)):
                assert got.shape == want.shape
                torch.testing.assert_close(got, want)


def test_a_module_that_cannot_be_traced_runs_eagerly_and_the_log_says_why(caplog):
    module = _ToPython()
    with caplog.at_level(logging.WARNING, logger="moodmusic.recognition.frozen"):
        graph = frozen(module, torch.ones(2, 2))
    assert graph is module and graph(torch.ones(2, 2)) == 4.0
    assert "_ToPython" in caplog.text and "eagerly" in caplog.text
