"""The live engine: frames and audio in, a mood out, for one person at a time.

>>> from moodmusic.live import EngineConfig, new_session
>>> from types import SimpleNamespace
>>> with new_session(SimpleNamespace(face=None, voice=None, voice_norm=None), config=EngineConfig()) as session:
...     session.snapshot().mood is None
True

`new_session(experts, ...)` builds a `LiveSession` the way the page and the
CLI do; `pin_threads()` and `warm_up()` prepare the process for it. A source
feeds the session from its own threads (`moodmusic.live.sources.webrtc`,
`.local`, `.file`: imported by path, since they need streamlit-webrtc,
aiortc, PyAV or PortAudio); the page reads `snapshot()`, the CLI `watch()`es
it. `moodmusic.live.transport` holds the patches the live page makes to
other libraries. Importing this package imports neither Streamlit nor aiortc.
"""

from moodmusic.live.assemble import new_session, pin_threads, warm_up
from moodmusic.live.runner import MoodChange, Summary, watch
from moodmusic.live.session import EngineConfig, Evidence, LiveSession, Overlay, Snapshot

__all__ = [
    "EngineConfig",
    "Evidence",
    "LiveSession",
    "MoodChange",
    "Overlay",
    "Snapshot",
    "Summary",
    "new_session",
    "pin_threads",
    "warm_up",
    "watch",
]
