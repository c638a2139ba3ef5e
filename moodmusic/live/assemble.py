"""The one place a live session is put together: threads pinned, code warmed up, the session built.

The live page, `python -m moodmusic live` and the benchmarks all run the
same engine, and each used to assemble it by hand. A session is only as
good as its setup: torch and OpenCV each default to a pool of threads per
call, which on a small server fight the media threads (and each other's
sessions) for the same cores; librosa compiles on its first call, which
would stall the first voice window; and the voice models read features
measured against the speaker only when the session gets the prior they
were trained with. `new_session` takes that prior from the experts itself,
so no caller can forget it.

>>> from types import SimpleNamespace
>>> no_models = SimpleNamespace(face=None, voice=None, voice_norm=None)  # what load_experts gives without files
>>> session = new_session(no_models, start_worker=False)
>>> session.snapshot().state
'waiting'
>>> session.close()
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from moodmusic.live.session import EngineConfig, LiveSession

_pinned = threading.Event()
_pin_lock = threading.Lock()


def pin_threads() -> None:
    """One thread each for torch and OpenCV in this process; once per process, thread-safe.

    A live session runs one small model step per frame: a pool of threads
    per step costs more in hand-overs than it saves, and takes cores from
    the media threads and the other sessions.
    """
    with _pin_lock:
        if _pinned.is_set():
            return
        import cv2
        import torch

        torch.set_num_threads(1)
        cv2.setNumThreads(1)
        _pinned.set()


def switch_threads_often() -> None:
    """Let Python hand the GIL over every millisecond rather than every 5 (the live page's server only).

    The media threads (aiortc's decoder, encoder and event loop, the engine's
    callbacks) trade the GIL constantly; at Python's default 5 ms switch
    interval each hand-over can stall a frame step that long. 1 ms took the
    live page from 14 to 22 processed fps of 28 (`bench --live`).
    """
    sys.setswitchinterval(0.001)


def warm_up() -> None:
    """Run the voice features once, so the first live window does not pay for librosa's compilation."""
    from moodmusic.audio import warm_up as warm_up_voice_features

    warm_up_voice_features()


def new_session(
    experts: Any,
    *,
    tracker: Any | None = None,
    config: EngineConfig | None = None,
    video: bool = True,
    audio: bool = True,
    learn_speaker: bool = True,
    start_worker: bool = True,
) -> LiveSession:
    """A `LiveSession` reading `experts` (`moodmusic.pipeline.load_experts`), with their speaker prior.

    `video`/`audio` False leave that expert out (the session then reads the
    other input only). `learn_speaker` False reads every voice window
    against the prior alone (`Settings.voice_adaptation`). A session
    without a voice expert gets no prior: there is no voice to learn.
    """
    from moodmusic.audio.speaker import prior_from_meta

    face = experts.face if video else None
    voice = experts.voice if audio else None
    speaker = prior_from_meta(experts.voice_norm) if voice is not None else None
    return LiveSession(face, voice, tracker=tracker, config=config, speaker=speaker,
                       learn_speaker=learn_speaker, start_worker=start_worker, rule=getattr(experts, "rule", None))


__all__ = ["new_session", "pin_threads", "switch_threads_often", "warm_up"]
