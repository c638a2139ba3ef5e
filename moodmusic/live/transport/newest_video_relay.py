"""Video that waits in front of the engine is dropped, not queued: streamlit-webrtc's relay, swapped.

streamlit-webrtc passes every track through one server-wide `MediaRelay`,
which it keeps on Streamlit's `Runtime` and creates on first use.
`install_newest_video_relay()` puts a `NewestVideoRelay` there first.
"""

from __future__ import annotations

import logging

import av
from aiortc import MediaStreamTrack
from aiortc.contrib.media import MediaRelay

log = logging.getLogger(__name__)


class NewestVideoRelay(MediaRelay):
    """A MediaRelay whose video consumers get the newest frame only; audio stays queued and in order.

    streamlit-webrtc passes every track through one server-wide relay with an
    unbounded queue per consumer. When the server cannot keep up (more
    sessions than it carries), decoded video frames pile up there: measured
    with two sessions on a starved box, the server's memory grew by 14 MB/s
    and the engine saw frames seconds late. Keeping only the newest video
    frame sheds them at the door instead. Audio frames are small and must
    stay contiguous for the voice window; the engine drops late ones itself.

    A video consumer also never gets the same frame twice in a row. While the
    engine is slower than the camera, streamlit-webrtc's processed track
    answers each camera frame with its last result again, and the preview's
    sender re-encoded and re-sent every repeat: 30 encodes a second per
    session whatever the engine managed. The sender now waits for the next
    new picture, so the preview costs what the engine delivers.
    """

    def subscribe(self, track: MediaStreamTrack, buffered: bool = True) -> MediaStreamTrack:
        if track.kind != "video":
            return super().subscribe(track, buffered=buffered)
        return FreshFrames(super().subscribe(track, buffered=False))


class FreshFrames(MediaStreamTrack):
    """A video track that passes on its source's frames but skips a frame object it just passed on.

    It ends when its source ends: streamlit-webrtc's processing track stops its
    worker thread on its input's "ended" event, so that event must come through.
    """

    kind = "video"

    def __init__(self, source: MediaStreamTrack) -> None:
        super().__init__()
        self.source = source
        self._last: object | None = None
        self.repeats = 0  # frames skipped because the source handed the previous one again
        source.on("ended", self.stop)

    async def recv(self) -> av.VideoFrame:
        while True:
            frame = await self.source.recv()  # raises MediaStreamError when the source ends
            if frame is not self._last:
                self._last = frame
                return frame
            self.repeats += 1

    def stop(self) -> None:
        super().stop()
        self.source.stop()


def install_newest_video_relay() -> bool:
    """Make streamlit-webrtc's server-wide relay a `NewestVideoRelay`; call before `webrtc_streamer`.

    streamlit-webrtc keeps the relay on the Streamlit runtime under a name its
    `relay` module defines and creates it on first use; setting it first is
    enough. Returns False (and logs) if this version no longer keeps it there.
    """
    from streamlit.runtime.runtime import Runtime
    from streamlit_webrtc import relay as webrtc_relay

    name = getattr(webrtc_relay, "_SERVER_GLOBAL_RELAY_ATTR_NAME_", None)
    if name is not None and not Runtime.exists():
        return False
    if name is not None and getattr(Runtime.instance(), name, None) is None:
        setattr(Runtime.instance(), name, NewestVideoRelay())
    ok = name is not None and isinstance(webrtc_relay.get_global_relay(), NewestVideoRelay)
    if not ok:
        log.warning("streamlit-webrtc's relay could not be replaced: under overload, video may queue")
    return ok
