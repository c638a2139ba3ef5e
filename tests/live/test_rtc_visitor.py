"""The live page over real WebRTC on loopback, without a browser: `bench_rtc`'s headless visitor.

It starts the app (`streamlit run app.py`), opens a session over Streamlit's
websocket, offers a real aiortc stream of the sample face and speech through
streamlit-webrtc's component, and reads the page's own status line: the
server must show a mood and process video and audio from it. This is what
`bench --live --sessions N --client aiortc` runs N times at once.
"""

from __future__ import annotations

from moodmusic.bench_rtc import run_sessions


def test_a_headless_visitor_gets_a_mood_and_the_server_processes_its_media():
    from aiortc import rtcrtpreceiver, rtcrtpsender

    codecs = rtcrtpsender.get_encoder, rtcrtpreceiver.get_decoder
    result = run_sessions(1, seconds=4.0, settle=1.0)
    assert (rtcrtpsender.get_encoder, rtcrtpreceiver.get_decoder) == codecs  # this process's aiortc is put back
    (session,) = result["per_session"]
    assert result["failed"] == 0 and session["error"] is None, result
    assert session["first_mood_s"] is not None and session["first_mood_s"] < 30, result
    assert session["readings"] >= 3, result
    assert session["video_fps"] >= 5 and session["video_in_fps"] >= session["video_fps"], result
    assert session["audio_fps"] >= 30, result  # 50 frames/s are sent
    assert session["sent_fps"] >= 20, result  # the visitor kept sending its camera
    assert result["server_cpu_video_cores"] > 0 and result["client_cpu_cores"] > 0, result
