"""Mood recognition on arrays: the experts, AVFusion, late fusion, checkpoints and metrics.

Arrays in, arrays out: a face crop or a voice feature vector goes in, six
mood probabilities come out. Features are computed elsewhere (`vision`,
`audio`) and never imported here; `moodmusic.pipeline` is where the two meet.

Fusion and metrics are plain numpy and are imported with the package, so the
live engine's fusion path loads no torch. The names that need torch (the
experts loader, the models, checkpoints) are imported on first use:
`from moodmusic.recognition import load_experts` loads torch, `import
moodmusic.recognition` does not.

>>> import numpy as np
>>> from moodmusic.recognition import Opinion, fuse
>>> fuse(Opinion(np.array([.0, .0, .9, .1, .0, .0])), None).mood
'happy'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from moodmusic.recognition.fusion import Fused, Opinion, fuse
from moodmusic.recognition.metrics import classification_metrics, confusion_matrix, metrics_from_confusion

if TYPE_CHECKING:  # what type checkers see; at run time `__getattr__` below imports these on first use
    from moodmusic.recognition.avfusion import AVFusionModel
    from moodmusic.recognition.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
    from moodmusic.recognition.experts import Experts, load_experts
    from moodmusic.recognition.face_expert import FaceExpert
    from moodmusic.recognition.voice_expert import VoiceExpert

# name -> the module of this package that defines it; imported on first use (these modules import torch)
_NEEDS_TORCH = {
    "Experts": "experts",
    "load_experts": "experts",
    "CheckpointError": "checkpoint",
    "load_checkpoint": "checkpoint",
    "save_checkpoint": "checkpoint",
    "FaceExpert": "face_expert",
    "VoiceExpert": "voice_expert",
    "AVFusionModel": "avfusion",
}


def __getattr__(name: str) -> Any:
    if name not in _NEEDS_TORCH:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_NEEDS_TORCH[name]}"), name)
    globals()[name] = value  # found directly from now on
    return value


__all__ = [
    "AVFusionModel", "CheckpointError", "Experts", "FaceExpert", "Fused", "Opinion", "VoiceExpert",
    "classification_metrics", "confusion_matrix", "fuse", "load_checkpoint", "load_experts",
    "metrics_from_confusion", "save_checkpoint",
]
