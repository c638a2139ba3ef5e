"""What the live engine, `predict` and the pages load: the experts in `models/`, or why not.

Every model is optional. A missing or broken file gives a None callable and
one clear line in `problems` (what is wrong, how to fix it), never a crash,
so the app still runs on whatever modality it has.

`recognition` does not import `audio` or `vision`, so the caller passes the
feature versions its feature code computes (e.g. `moodmusic.audio.FEATURE_VERSION`)
and the version of speaker normalisation it can apply (`moodmusic.audio.speaker.VERSION`);
a model trained on other features or another normalisation is refused; None skips that check.

>>> import tempfile
>>> e = load_experts(tempfile.mkdtemp())
>>> e.face is None and e.voice is None and e.fusion is None, len(e.problems)
(True, 2)
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from moodmusic.recognition.checkpoint import CheckpointError
from moodmusic.recognition.fusion import FusionRule

log = logging.getLogger(__name__)

FACE_FILE = "face_expert.pt"
VOICE_FILE = "voice_expert.pt"
FUSION_FILE = "avfusion.pt"
RULE_FILE = "fusion_rule.json"  # calibration, weights and novelty gate for late fusion (`fusion.FusionRule`)


@dataclass
class Experts:
    """Callables returning (N, 6) probabilities; None where that model could not be loaded."""

    face: Callable[[np.ndarray], np.ndarray] | None = None  # crops (N, 48, 48) uint8
    voice: Callable[[np.ndarray], np.ndarray] | None = None  # features (N, D) float32
    fusion: object | None = None  # AVFusionModel, when models/avfusion.pt is present
    face_expert: object | None = None  # the full objects, for embeddings
    voice_expert: object | None = None
    # the voice models read features measured against the speaker (`moodmusic.audio.speaker`):
    # the prior they were trained with, as stored in the checkpoint; None reads raw features
    voice_norm: dict | None = None
    rule: FusionRule | None = None  # how the live engine and file analysis fuse; None: plain confidence weighting
    problems: list[str] = field(default_factory=list)


def _float32(fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    def call(x: np.ndarray) -> np.ndarray:
        return np.asarray(fn(x), dtype=np.float32)

    return call


def _probs_only(predict: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]) -> Callable[[np.ndarray], np.ndarray]:
    return _float32(lambda x: predict(x)[0])


def _through_fusion(modality: str, inputs: Callable[[np.ndarray], np.ndarray], fusion: object) -> Callable[[np.ndarray], np.ndarray]:
    """One modality's (N, 6) probabilities from AVFusion, the other modality absent."""

    def call(x: np.ndarray) -> np.ndarray:
        return np.asarray(fusion.predict_one(modality, inputs(x)), dtype=np.float32)  # type: ignore[attr-defined]

    return call


def _load(what: str, path: Path, loader: Callable[[], object], problems: list[str], required: bool) -> object | None:
    if not path.is_file():
        if required:
            problems.append(f"the {what} model {path} is missing; without it the app works without {what} "
                            f"evidence (restore it with `git checkout -- models/{path.name}` or retrain it, "
                            f"see models/MODEL_CARD.md)")
        return None
    try:
        return loader()
    except CheckpointError as exc:
        problems.append(f"the {what} model cannot be used: {exc}")
    except Exception as exc:  # a model that does not fit its code must not take the app down
        log.exception("loading %s", path)
        problems.append(f"the {what} model {path} cannot be loaded ({type(exc).__name__}: {exc})")
    return None


def load_experts(
    models_dir: str | Path,
    face_feature_version: str | None = None,
    voice_feature_version: str | None = None,
    speaker_version: str | None = None,
) -> Experts:
    """Load the face expert, the voice expert and (if present) the AVFusion model from `models_dir`."""
    models_dir = Path(models_dir)
    problems: list[str] = []

    def face_loader() -> object:
        from moodmusic.recognition.face_expert import FaceExpert

        return FaceExpert.load(models_dir / FACE_FILE, feature_version=face_feature_version)

    def voice_loader() -> object:
        from moodmusic.recognition.voice_expert import VoiceExpert

        expert = VoiceExpert.load(models_dir / VOICE_FILE, feature_version=voice_feature_version)
        norm = expert.meta.get("speaker_norm")
        if speaker_version and norm and norm.get("version") != speaker_version:
            raise CheckpointError(f"{models_dir / VOICE_FILE} reads voice features with speaker normalisation "
                                  f"{norm.get('version')!r}, this code applies {speaker_version!r}; retrain it "
                                  f"(python -m moodmusic train voice)")
        return expert

    def fusion_loader() -> object:
        from moodmusic.recognition.avfusion import AVFusionModel

        version = None
        if face_feature_version and voice_feature_version:
            version = f"{face_feature_version}+{voice_feature_version}"
        model = AVFusionModel.load(models_dir / FUSION_FILE, feature_version=version)
        expected = model.meta.get("face_expert_sha1")
        face_path = models_dir / FACE_FILE
        if expected and face_path.is_file() and hashlib.sha1(face_path.read_bytes()).hexdigest() != expected:
            raise CheckpointError(f"{models_dir / FUSION_FILE} reads embeddings of another face expert than "
                                  f"{face_path}; retrain it (python -m moodmusic train fusion)")
        speaker_norm = voice.meta.get("speaker_norm") if voice is not None else None  # type: ignore[attr-defined]
        if voice is not None and model.meta.get("speaker_norm") != speaker_norm:
            raise CheckpointError(f"{models_dir / FUSION_FILE} reads voice features normalised otherwise than "
                                  f"{models_dir / VOICE_FILE}; retrain it (python -m moodmusic train fusion)")
        return model

    face = _load("face", models_dir / FACE_FILE, face_loader, problems, required=True)
    voice = _load("voice", models_dir / VOICE_FILE, voice_loader, problems, required=True)
    fusion = _load("fusion", models_dir / FUSION_FILE, fusion_loader, problems, required=False)
    rule = _load_rule(models_dir / RULE_FILE, problems)
    face_fn = _probs_only(face.predict) if face is not None else None  # type: ignore[attr-defined]
    voice_fn = _probs_only(voice.predict) if voice is not None else None  # type: ignore[attr-defined]
    if fusion is not None:
        # AVFusion's per-modality path scores higher than the experts alone on both
        # test sets (model card), so each modality's opinion comes through it; the
        # live engine then weighs the two by confidence as they arrive at their own pace.
        if face is not None:  # the expert's layers and AVFusion's face head as one graph, run every frame
            face_fn = _float32(face.through(fusion.head("face")))  # type: ignore[attr-defined]
        if voice is not None:
            voice_fn = _through_fusion("voice", lambda feats: feats, fusion)
    return Experts(
        face=face_fn,
        voice=voice_fn,
        fusion=fusion,
        face_expert=face,
        voice_expert=voice,
        voice_norm=voice.meta.get("speaker_norm") if voice is not None else None,  # type: ignore[attr-defined]
        rule=rule,
        problems=problems,
    )


def _load_rule(path: Path, problems: list[str]) -> FusionRule | None:
    """The fitted fusion rule, if there is one; a broken file is a problem line, and fusion falls back."""
    if not path.is_file():
        return None
    try:
        return FusionRule.load(path)
    except (ValueError, KeyError, TypeError) as exc:
        problems.append(f"the fusion rule cannot be used ({exc}); moods are fused by confidence alone "
                        f"(restore it with `git checkout -- models/{path.name}` or refit it: "
                        f"python -m moodmusic train fusion-rule)")
        return None
