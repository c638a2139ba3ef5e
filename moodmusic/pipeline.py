"""The models loaded together with the feature code they were trained on.

`recognition` never imports `vision` or `audio`, so this is where the two
meet: the experts are loaded with today's feature versions (and speaker
normalisation), and a model trained on other features is refused with a clear message instead of giving
quietly wrong answers.
"""

from __future__ import annotations

from pathlib import Path

from moodmusic import audio, vision
from moodmusic.audio import speaker
from moodmusic.config import load_settings
from moodmusic.recognition import Experts
from moodmusic.recognition import load_experts as _load_experts


def load_experts(models_dir: str | Path | None = None) -> Experts:
    """The face and voice experts (and AVFusion) from `models_dir` (default: the configured models/)."""
    return _load_experts(
        models_dir if models_dir is not None else load_settings().models_dir,
        face_feature_version=vision.FEATURE_VERSION,
        voice_feature_version=audio.FEATURE_VERSION,
        speaker_version=speaker.VERSION,
    )
