"""The VP8 encoder for the preview video sent back to the page: aiortc's, without its denoiser.

aiortc encodes the returned video with libvpx's temporal denoiser on
(`noise-sensitivity` 4). For a self-view preview that only carries the
face box and the mood label, the denoiser is not worth its cost: it is a
good part of each frame's encoding time, and a whole session costs the
server less without it (docs/live.md has the measurements). Everything else
— realtime deadline, CBR at aiortc's bandwidth estimate, one token
partition, `cpu-used` -6 — stays as aiortc sets it, so the browser sees the
same stream apart from a little more noise.

`install_preview_encoder()` makes aiortc's RTP senders use it for VP8; other
codecs are untouched.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

# aiortc 1.x's Vp8Encoder options (aiortc/codecs/vpx.py), minus the temporal denoiser.
VP8_OPTIONS: dict[str, str] = {
    "cpu-used": "-6",
    "deadline": "realtime",
    "lag-in-frames": "0",
    "noise-sensitivity": "0",
    "overshoot-pct": "15",
    "partitions": "0",
    "static-thresh": "1",
    "undershoot-pct": "100",
}


def _encoder_class() -> type:
    import av
    from aiortc.codecs.vpx import Vp8Encoder, number_of_threads

    class PreviewVp8Encoder(Vp8Encoder):
        """aiortc's Vp8Encoder, opening its libvpx context with `VP8_OPTIONS`."""

        def encode(self, frame: Any, force_keyframe: bool = False) -> tuple[list[bytes], int]:
            if frame.format.name != "yuv420p":
                frame = frame.reformat(format="yuv420p")
            codec = self.codec
            if codec is None or (frame.width, frame.height) != (codec.width, codec.height) or (
                    abs(self.target_bitrate - codec.bit_rate) / codec.bit_rate > 0.1):
                self.codec = self._open(frame.width, frame.height)  # the parent then finds it current
            return super().encode(frame, force_keyframe)

        def _open(self, width: int, height: int) -> Any:
            import multiprocessing

            codec = av.CodecContext.create("libvpx", "w")
            codec.width, codec.height = width, height
            codec.bit_rate = self.target_bitrate
            codec.pix_fmt = "yuv420p"
            codec.gop_size = 3000
            codec.qmin, codec.qmax = 2, 56
            rate = str(self.target_bitrate)
            codec.options = {**VP8_OPTIONS, "bufsize": rate, "minrate": rate, "maxrate": rate}
            codec.thread_count = number_of_threads(width * height, multiprocessing.cpu_count())
            return codec

    return PreviewVp8Encoder


_installed: list[type] = []


def preview_encoder_class() -> type:
    """The encoder class (built once: aiortc is imported only when the live page needs it)."""
    if not _installed:
        _installed.append(_encoder_class())
    return _installed[0]


def install_preview_encoder() -> bool:
    """Have aiortc's RTP senders encode VP8 with the preview encoder; idempotent.

    Returns False (and logs) if this aiortc no longer looks up encoders where
    we expect, in which case its own encoder runs and only CPU is lost.
    """
    try:
        from aiortc import rtcrtpsender

        original = getattr(rtcrtpsender, "get_encoder")
    except (ImportError, AttributeError):
        log.warning("aiortc's encoder lookup moved: the preview video keeps aiortc's own VP8 settings")
        return False
    if getattr(original, "moodmusic_preview", False):
        return True
    cls = preview_encoder_class()

    def get_encoder(codec: Any) -> Any:
        if codec.mimeType.lower() == "video/vp8":
            return cls()
        return original(codec)

    get_encoder.moodmusic_preview = True  # type: ignore[attr-defined]
    rtcrtpsender.get_encoder = get_encoder
    return True
