"""Training, by stage: datasets → augment → features (cached) → loop.fit (DDP) → scoring → evaluate → card.

The trainers (`face`, `voice`, `fusion`, `fusion_rule`) and `evaluate` orchestrate the stages
and take a typed config; `python -m moodmusic train ...` and `evaluate` fill
it from the command line. Nothing here parses arguments. Every module imports
torch inside the functions that train (only `loop` and `distributed` import it
at the top, and nothing here imports them at the top), so importing this
package, as the Model page does for the card, stays light.
"""

from moodmusic.training.card import render_markdown, write_card
from moodmusic.training.evaluate import EvaluateConfig, evaluate_models
from moodmusic.training.face import FaceConfig, train_face
from moodmusic.training.fusion import FusionConfig, train_fusion
from moodmusic.training.fusion_rule import FusionRuleConfig, train_fusion_rule
from moodmusic.training.voice import VoiceConfig, train_voice

__all__ = [
    "EvaluateConfig",
    "FaceConfig",
    "FusionConfig",
    "FusionRuleConfig",
    "VoiceConfig",
    "evaluate_models",
    "render_markdown",
    "train_face",
    "train_fusion",
    "train_fusion_rule",
    "train_voice",
    "write_card",
]
