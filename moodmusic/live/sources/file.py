"""The file source: play a video or audio file through a LiveSession in real time.

For demos and for measuring the engine without a browser: frames and 20 ms
audio blocks reach the session at the moments their timestamps say, from one
thread, exactly as a camera and microphone would deliver them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from moodmusic import media
from moodmusic.audio import SAMPLE_RATE
from moodmusic.live.session import LiveSession

log = logging.getLogger(__name__)

AUDIO_BLOCK = 0.02  # seconds per audio block, like a WebRTC frame


class FilePlayer:
    """Plays one file into a session on a background thread; `stop()` or the end ends it."""

    def __init__(
        self,
        session: LiveSession,
        path: str | Path,
        video: bool = True,
        audio: bool = True,
        loop: bool = False,
        speed: float = 1.0,
        on_frame: Callable[[np.ndarray], None] | None = None,
    ) -> None:
        self.session = session
        self.path = Path(path)
        self.info = media.probe(self.path)  # a bad file fails here, with a clear MediaError
        self.video = video and self.info.has_video and self.info.kind == "video"
        self.audio = audio and self.info.kind in ("audio", "video") and self.info.has_audio
        if not (self.video or self.audio):
            raise media.MediaError(f"{self.path.name}: nothing to play (no usable video or audio)")
        self.loop = loop
        self.speed = speed
        self.on_frame = on_frame
        self.started_at: float | None = None  # monotonic time of the file's t = 0 (this pass)
        self.position = 0.0  # seconds into the file of the last frame or block delivered
        self.duration = self.info.duration
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"moodmusic-file-{self.path.name}", daemon=True)

    def start(self) -> "FilePlayer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=3.0)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _events(self) -> Iterator[tuple[float, str, np.ndarray]]:
        frames = media.iter_video_frames(self.path) if self.video else iter(())
        signal = media.read_audio(self.path) if self.audio else np.zeros(0, np.float32)
        block = int(SAMPLE_RATE * AUDIO_BLOCK)
        nxt_frame = next(frames, None)
        pos = 0
        while nxt_frame is not None or pos < len(signal):
            t_audio = pos / SAMPLE_RATE if pos < len(signal) else float("inf")
            if nxt_frame is not None and nxt_frame[0] <= t_audio:
                yield nxt_frame[0], "video", nxt_frame[1]
                nxt_frame = next(frames, None)
            else:
                yield t_audio, "audio", signal[pos : pos + block]
                pos += block

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                start = None
                for t, kind, data in self._events():
                    if start is None:  # the clock starts with the first event, after decoding began
                        self.started_at = start = time.monotonic() - t / self.speed
                    delay = start + t / self.speed - time.monotonic()
                    if delay > 0 and self._stop.wait(delay):
                        return
                    self.position = t
                    if kind == "video":
                        out = self.session.on_video(data)
                        if self.on_frame is not None:
                            try:
                                self.on_frame(out)
                            except Exception:  # a broken preview must not end playback
                                log.exception("on_frame failed; playback continues")
                    else:
                        self.session.on_audio(data, rate=SAMPLE_RATE, channels=1)
                if not self.loop:
                    return
        except Exception as exc:  # a file that breaks mid-way ends playback with a reason, not a dead thread
            self.error = str(exc)
            log.exception("file playback of %s failed", self.path)
