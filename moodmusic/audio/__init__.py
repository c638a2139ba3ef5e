"""The voice pipeline: raw PCM frames → mono 16 kHz → voice activity → level-invariant features.

Live audio (`AudioStream`), files (`moodmusic.media.read_audio`) and training
(`clip_features`) share this code, so a model sees the same features
everywhere. Nothing here imports torch.
"""

from moodmusic.audio.constants import HOP_SECONDS, SAMPLE_RATE, WINDOW_SECONDS
from moodmusic.audio.features import (
    FEATURE_NAMES,
    FEATURE_VERSION,
    clip_features,
    voice_features,
    warm_up,
    window_bounds,
)
from moodmusic.audio.pcm import to_mono_float
from moodmusic.audio.resample import StreamResampler
from moodmusic.audio.ring import RingBuffer
from moodmusic.audio.speaker import SpeakerAdapter, SpeakerPrior
from moodmusic.audio.stream import AudioStream
from moodmusic.audio.vad import VoiceActivity

__all__ = [
    "FEATURE_NAMES",
    "FEATURE_VERSION",
    "HOP_SECONDS",
    "SAMPLE_RATE",
    "WINDOW_SECONDS",
    "AudioStream",
    "RingBuffer",
    "SpeakerAdapter",
    "SpeakerPrior",
    "StreamResampler",
    "VoiceActivity",
    "clip_features",
    "to_mono_float",
    "voice_features",
    "warm_up",
    "window_bounds",
]
