"""The face expert: a compact residual CNN from a 48x48 greyscale face crop to the six moods.

Callers hand over raw uint8 crops (framed like FER2013 images); the network
standardises each image itself (so brightness and contrast offsets cannot
matter and nobody can forget a scaling step) and, at inference, looks at the
centre `crop` x `crop` window it was trained on with random crops. Besides
the logits it yields an embedding (the penultimate layer) for the fusion
model.

>>> import numpy as np
>>> expert = FaceExpert(FaceNet(), meta={"feature_version": "test"})
>>> probs, emb = expert.predict(np.zeros((2, 48, 48), np.uint8))
>>> probs.shape, emb.shape, bool(np.allclose(probs.sum(1), 1))
((2, 6), (2, 128), True)
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval

from moodmusic.moods import MOODS
from moodmusic.recognition.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from moodmusic.recognition.frozen import frozen

KIND = "face"
INPUT_SIZE = 48
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "models" / "face_expert.pt"


def _conv_bn(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class _Residual(nn.Module):
    """Two 3x3 convolutions with an identity shortcut (the ResNet basic block)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.a = _conv_bn(c, c)
        self.b = nn.Sequential(nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.b(self.a(x)))


def standardise(x: torch.Tensor) -> torch.Tensor:
    """(N, H, W) or (N, 1, H, W), any dtype -> (N, 1, H, W) float, zero mean and unit std per image."""
    if x.ndim == 3:
        x = x.unsqueeze(1)
    if x.ndim != 4 or x.shape[1] != 1:
        raise ValueError(f"face crops must be (N, 48, 48) or (N, 1, 48, 48), got shape {tuple(x.shape)}")
    x = x.float()
    mean = x.mean(dim=(2, 3), keepdim=True)
    std = x.std(dim=(2, 3), keepdim=True).clamp_min(1.0)  # in pixel units: a flat crop stays finite
    return (x - mean) / std


def centre_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    if h == size and w == size:
        return x
    if h < size or w < size:
        raise ValueError(f"face crops must be at least {size}x{size}, got {h}x{w}")
    top, left = (h - size) // 2, (w - size) // 2
    return x[..., top:top + size, left:left + size]


class FaceNet(nn.Module):
    """A stride-2 stem, three residual stages (x1/2 between them), global pooling, embedding, classifier.

    `blocks` (residual blocks per stage) and `stem_stride` 1 make the larger
    teacher networks that the deployed student is distilled from; the
    defaults are the deployed student, and checkpoints without these keys
    load as it.

    About 26 M multiply-adds per 40x40 crop with the default widths: small
    enough to train on two shared CPU cores and to run in about a millisecond.
    (A full-resolution stem + max-pool measured about 30 % slower to train.)
    """

    def __init__(self, widths: tuple[int, int, int] | list[int] = (32, 64, 128), emb_dim: int = 128,
                 crop: int = 40, dropout: float = 0.3, n_classes: int = len(MOODS), blocks: int = 1,
                 stem_stride: int = 2) -> None:
        super().__init__()
        w0, w1, w2 = (int(w) for w in widths)
        if blocks < 1 or stem_stride not in (1, 2):
            raise ValueError(f"FaceNet needs blocks >= 1 and stem_stride 1 or 2, got {blocks}, {stem_stride}")
        self.config = {"widths": [w0, w1, w2], "emb_dim": emb_dim, "crop": crop, "dropout": dropout,
                       "n_classes": n_classes, "blocks": blocks, "stem_stride": stem_stride}
        self.crop = crop
        layers: list[nn.Module] = []
        for cin, cout, stride in ((1, w0, stem_stride), (w0, w1, 2), (w1, w2, 2)):
            layers += [_conv_bn(cin, cout, stride), *(_Residual(cout) for _ in range(blocks))]
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.embedding = nn.Sequential(nn.Linear(w2, emb_dim), nn.BatchNorm1d(emb_dim), nn.ReLU(inplace=True))
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(emb_dim, n_classes)

    @property
    def embedding_dim(self) -> int:
        return int(self.config["emb_dim"])

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Raw crops (uint8 or float pixel values) -> (N, emb_dim) embeddings."""
        z = centre_crop(standardise(x), self.crop)
        return self.embedding(self.features(z))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw crops -> (N, 6) logits."""
        return self.head(self.drop(self.embed(x)))

    def logits_and_embedding(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        emb = self.embed(x)
        return self.head(self.drop(emb)), emb

    def fused_for_inference(self) -> FaceNet:
        """An eval-mode copy with each BatchNorm folded into the layer before it: same outputs, fewer ops."""
        net = copy.deepcopy(self).eval()
        for mod in net.modules():
            if not isinstance(mod, nn.Sequential):
                continue
            for i in range(len(mod) - 1):
                a, b = mod[i], mod[i + 1]
                if isinstance(a, nn.Conv2d) and isinstance(b, nn.BatchNorm2d):
                    mod[i], mod[i + 1] = fuse_conv_bn_eval(a, b), nn.Identity()
                elif isinstance(a, nn.Linear) and isinstance(b, nn.BatchNorm1d):
                    mod[i], mod[i + 1] = fuse_linear_bn_eval(a, b), nn.Identity()
        return net.to(memory_format=torch.channels_last)


class _Inference(nn.Module):
    """What predict runs: crops -> (logits, embedding), or crops -> tail(embedding) when a tail is given."""

    def __init__(self, net: FaceNet, tail: nn.Module | None = None) -> None:
        super().__init__()
        self.net, self.tail = net, tail

    def forward(self, x: torch.Tensor) -> Any:
        if self.tail is None:
            return self.net.logits_and_embedding(x)
        return self.tail(self.net.embed(x))


def _example_crops() -> torch.Tensor:
    """A fixed, textured crop to trace and check the frozen graphs on (a flat one would check little)."""
    return torch.from_numpy(np.random.default_rng(0).integers(0, 256, (1, INPUT_SIZE, INPUT_SIZE), dtype=np.uint8))


class FaceExpert:
    """A trained FaceNet ready for inference on (N, 48, 48) uint8 crops; load once per process."""

    def __init__(self, net: FaceNet, meta: dict[str, Any], flip_average: bool | None = None) -> None:
        self.net = net.eval()
        self._fast = net.fused_for_inference()  # BatchNorm folded; self.net stays the trained module
        self._device = next(self._fast.parameters()).device  # kept, not looked up on every frame
        self._graph = self._inference()  # what predict runs
        self.meta = meta
        self.flip_average = bool(meta.get("flip_average", False)) if flip_average is None else flip_average
        self.classes: tuple[str, ...] = tuple(meta.get("classes", MOODS))

    def _inference(self, tail: nn.Module | None = None) -> Any:
        """The crops -> outputs module: a frozen graph on the CPU (see `frozen`), eager elsewhere."""
        module = _Inference(self._fast, tail).eval()
        return frozen(module, _example_crops()) if self._device.type == "cpu" else module

    @property
    def embedding_dim(self) -> int:
        return self.net.embedding_dim

    @property
    def device(self) -> torch.device:
        return self._device

    def to(self, device: str | torch.device) -> FaceExpert:
        """Run predictions on `device` (evaluation on a GPU; the app stays on the CPU)."""
        self._fast.to(device)
        self._device = torch.device(device)
        self._graph = self._inference()
        return self

    @classmethod
    def load(cls, path: str | Path | None = None, feature_version: str | None = None) -> FaceExpert:
        """Load `models/face_expert.pt` (or `path`); refuse a crop framing of another version.

        `recognition` does not import `vision`, so the caller passes
        `moodmusic.vision.FEATURE_VERSION`; None skips that check (tests, tools).
        """
        path = Path(path) if path is not None else DEFAULT_PATH
        state, meta = load_checkpoint(path, kind=KIND, feature_version=feature_version)
        if tuple(meta["classes"]) != MOODS:
            raise CheckpointError(f"model file {path} predicts {meta['classes']}, not {MOODS}")
        net = FaceNet(**meta["arch"])
        try:
            net.load_state_dict({k: v.float() for k, v in state.items()})
        except RuntimeError as exc:
            raise CheckpointError(f"model file {path} does not fit this code's FaceNet ({exc}); retrain it") from None
        return cls(net, meta)

    def save(self, path: str | Path) -> None:
        save_checkpoint(path, self.net.state_dict(), self.meta)

    @staticmethod
    def _crops(crops: np.ndarray) -> np.ndarray:
        x = np.asarray(crops)
        if x.ndim == 2:
            x = x[None]
        if x.ndim != 3 or x.shape[1:] != (INPUT_SIZE, INPUT_SIZE):
            raise ValueError(f"face expert expects (N, {INPUT_SIZE}, {INPUT_SIZE}) crops, got shape {x.shape}")
        return np.ascontiguousarray(x)

    @torch.inference_mode()
    def predict(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, 48, 48) uint8 crops -> ((N, 6) float32 probabilities, (N, D) float32 embeddings)."""
        x = self._crops(crops)
        n = len(x)
        if n == 0:
            return np.zeros((0, len(self.classes)), np.float32), np.zeros((0, self.embedding_dim), np.float32)
        t = torch.from_numpy(x).to(self.device)
        if self.flip_average:
            t = torch.cat([t, t.flip(-1)])
        logits, emb = self._graph(t)
        probs = torch.softmax(logits.float(), 1)
        if self.flip_average:
            probs = (probs[:n] + probs[n:]) / 2
            emb = (emb[:n] + emb[n:]) / 2
        return probs.cpu().numpy().astype(np.float32), emb.float().cpu().numpy().astype(np.float32)

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        """Probabilities only: the callable the live engine expects."""
        return self.predict(crops)[0]

    def through(self, tail: nn.Module) -> Callable[[np.ndarray], np.ndarray]:
        """crops -> `tail`(embedding) as one frozen graph: how AVFusion's face head reads every frame.

        The same numbers as feeding `predict`'s embeddings to `tail`, without
        the probabilities nobody reads and two trips through numpy.
        With flip averaging the embeddings are averaged first, as `predict` does.
        """
        if self.flip_average:
            def averaged(crops: np.ndarray) -> np.ndarray:
                with torch.inference_mode():
                    return tail(torch.from_numpy(self.predict(crops)[1]).to(self.device)).float().cpu().numpy()

            return averaged
        graph = self._inference(tail.eval())

        def call(crops: np.ndarray) -> np.ndarray:
            x = self._crops(crops)
            with torch.inference_mode():
                if len(x) == 0:  # no faces: the tail's answer for no rows, without tracing for them
                    return tail(torch.zeros(0, self.embedding_dim, device=self.device)).float().cpu().numpy()
                return graph(torch.from_numpy(x).to(self.device)).float().cpu().numpy()

        return call
