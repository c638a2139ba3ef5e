"""The seam around `webrtc_streamer`: the one call AppTest cannot run.

Tests of the page replace `render` (AppTest runs the script in-process), and
the real browser test exercises the real thing.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from moodmusic.live import LiveSession
from moodmusic.live.sources.webrtc import make_callbacks, media_constraints, rtc_configuration
from moodmusic.live.transport import install_all


def render(get_session: Callable[[], LiveSession | None], key: str = "moodmusic-live", capture_fps: float = 30.0) -> bool:
    """Show the START/STOP widget with the overlay video; return True while streaming."""
    from streamlit_webrtc import WebRtcMode, create_audio_sink_track, webrtc_streamer

    try:
        rtc = rtc_configuration()
    except ValueError as exc:
        st.error(str(exc))
        return False
    # Once per process: stale video is skipped, not queued; the preview is encoded without libvpx's
    # denoiser; every waiting media datagram is read per loop turn; page messages leave in batches.
    install_all()
    video_cb, audio_cb = make_callbacks(get_session)
    # Audio is consumed by a sink, not echoed back: with sendback_audio=False and an
    # audio_frame_callback, nothing pulls the processed track and the callback never runs.
    audio_sink = create_audio_sink_track(audio_cb, key=f"{key}-audio-sink")
    ctx = webrtc_streamer(
        key=key,
        mode=WebRtcMode.SENDRECV,
        rtc_configuration=rtc,
        media_stream_constraints=media_constraints(capture_fps),
        video_frame_callback=video_cb,
        sink_audio_track=audio_sink,
        sendback_audio=False,
        async_processing=True,
        video_html_attrs={"autoPlay": True, "controls": False, "muted": True, "style": {"width": "100%"}},
    )
    return bool(ctx.state.playing)
