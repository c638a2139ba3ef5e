"""The voice pipeline's fixed timing: one rate and one window for training, files and the live stream."""

from __future__ import annotations

SAMPLE_RATE: int = 16000  # every voice feature is computed at this rate
WINDOW_SECONDS: float = 2.0  # one voice feature vector describes this much audio
HOP_SECONDS: float = 0.5  # a new window every hop, live and in files alike
