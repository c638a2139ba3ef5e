"""The live page's script without a browser: AppTest with the WebRTC widget behind its seam."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from moodmusic.ui import streamer

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture
def page(monkeypatch, tmp_path):
    monkeypatch.setenv("MOODMUSIC_HOME", str(tmp_path))
    for name in ("SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    calls = []

    monkeypatch.setattr(streamer, "render", lambda get_session, key="moodmusic-live", **kw: calls.append(get_session()) or False)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at, calls


def test_page_renders_controls_and_waits_for_media(page):
    at, calls = page
    assert at.title[0].value.startswith("🎵 moodmusic")
    assert [r.value for r in at.sidebar.radio] == ["match"]
    assert at.sidebar.selectbox(key="genre").value == "any"
    assert "Waiting for the camera and microphone" in "".join(str(h.proto) for h in at.get("html"))
    live = at.session_state["live"]
    assert calls and calls[0] is live  # the streamer is handed this session's engine
    assert not live.closed


def test_engine_survives_reruns(page):
    at, _ = page
    first = at.session_state["live"]
    at.sidebar.radio(key="strategy").set_value("calm").run()
    assert not at.exception
    assert at.session_state["live"] is first


def test_source_choice_swaps_the_widget(page):
    at, calls = page
    before = len(calls)
    at.radio(key="source").set_value("file").run()
    assert not at.exception
    assert len(calls) == before  # the WebRTC widget is not rendered for the file source
    at.radio(key="source").set_value("browser").run()
    assert not at.exception and len(calls) == before + 1


def _face_read_session(face_frame) -> tuple["LiveSession", list[float]]:
    """A live engine that has read the astronaut's face for 3 s on a hand-driven clock (`t[0]`)."""
    from moodmusic.live.session import LiveSession
    from moodmusic.pipeline import load_experts

    experts = load_experts()
    t = [100.0]
    session = LiveSession(experts.face, None, clock=lambda: t[0], start_worker=False)
    for _ in range(45):
        session.on_video(face_frame)
        t[0] += 1 / 15
    return session, t


def _held_mood_session(face_frame) -> "LiveSession":
    """A live engine that has read the astronaut's face for 3 s, long ago: its mood has held for far
    longer than the page waits before picking music (time stands still for it: its evidence stays fresh)."""
    return _face_read_session(face_frame)[0]


def test_once_the_camera_stops_the_page_shows_the_last_mood_only_and_stores_nothing(monkeypatch, tmp_path):
    """No input, no mood: "Last mood: … (N s ago)" at most, never a current `Mood: …`, and no reading stored."""
    import time

    from moodmusic import samples
    from moodmusic.bench.page import MOOD_TEXT
    from moodmusic.store import Store
    from moodmusic.ui import resources

    monkeypatch.setenv("MOODMUSIC_HOME", str(tmp_path))
    monkeypatch.setattr(streamer, "render", lambda get_session, key="moodmusic-live", **kw: False)
    resources.store.clear()  # the store is cached per process: this test's home, not an earlier one's
    session, t = _face_read_session(samples.face_frame())
    mood = session.snapshot().mood
    assert mood is not None
    store = Store(tmp_path / "moodmusic.sqlite3")
    try:
        at = AppTest.from_file(APP, default_timeout=120)
        at.session_state["live"] = session
        at.run()  # the camera is on: the current mood, stored
        assert not at.exception, at.exception
        page = "".join(str(h.proto) for h in at.get("html"))
        assert MOOD_TEXT.search(page) and "Last mood" not in page
        stored = len(store.readings())  # one, or two when the music's rerun fell in the next second
        assert stored >= 1 and {r.mood for r in store.readings()} == {mood}

        t[0] += 3.0  # the camera stopped sending 3 s ago (STOP): past signal_timeout, within forget_after
        time.sleep(1.1)  # past the store's one-reading-a-second slot, so a reading would be kept
        at.run()
        assert not at.exception, at.exception
        page = "".join(str(h.proto) for h in at.get("html"))
        assert not MOOD_TEXT.search(page), page
        assert f"Last mood: {mood} (3 s ago)" in page and "No signal" in page
        assert len(store.readings()) == stored
    finally:
        store.close()
        resources.store.clear()


def test_music_appears_once_the_mood_holds_and_a_like_is_stored(monkeypatch, tmp_path):
    from moodmusic import samples
    from moodmusic.store import Store

    monkeypatch.setenv("MOODMUSIC_HOME", str(tmp_path))
    for name in ("SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(streamer, "render", lambda get_session, key="moodmusic-live", **kw: False)
    session = _held_mood_session(samples.face_frame())
    mood = session.snapshot().mood
    assert mood is not None
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["live"] = session
    at.run()  # the watcher picks music and reruns the page, which draws the list
    assert not at.exception, at.exception
    assert at.session_state["recs"].mood == mood
    embeds = [e for e in at.get("iframe") if "open.spotify.com/embed/track/" in str(e.proto)]
    assert len(embeds) == 8
    assert any(f"Music for {mood}" in m.value for m in at.markdown)
    first = at.session_state["recs"].tracks[0].track.id
    at.button(key=f"live-like-{first}-0").click().run()
    assert not at.exception, at.exception
    liked = Store(tmp_path / "moodmusic.sqlite3").liked_by_mood()
    assert first in [t.track_id for t in liked.get(mood, [])]


@pytest.mark.parametrize("fps, size, asked_for", [
    (None, None, (30.0, (480, 360))),
    ("15", "640x480", (15.0, (640, 480))),
])
def test_the_camera_rate_and_size_come_from_the_settings(monkeypatch, tmp_path, fps, size, asked_for):
    monkeypatch.setenv("MOODMUSIC_HOME", str(tmp_path))
    for name, value in (("MOODMUSIC_CAPTURE_FPS", fps), ("MOODMUSIC_CAPTURE_SIZE", size)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    asked = []
    monkeypatch.setattr(streamer, "render", lambda get_session, key="moodmusic-live", capture_fps=30.0,
                        capture_size=(0, 0), **kw: asked.append((capture_fps, capture_size)) or False)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    assert asked == [asked_for]


@pytest.mark.parametrize("name, value, message", [
    ("MOODMUSIC_CAPTURE_FPS", "500", "MOODMUSIC_CAPTURE_FPS must be between 1 and 60"),
    ("MOODMUSIC_CAPTURE_SIZE", "640", "MOODMUSIC_CAPTURE_SIZE must be WIDTHxHEIGHT"),
    ("MOODMUSIC_MAX_LIVE_SESSIONS", "2.5", "MOODMUSIC_MAX_LIVE_SESSIONS must be a whole number"),
    ("MOODMUSIC_VOICE_ADAPTATION", "maybe", "MOODMUSIC_VOICE_ADAPTATION must be 1 or 0"),
])
def test_a_wrong_setting_is_named_not_a_traceback(monkeypatch, tmp_path, name, value, message):
    monkeypatch.setenv("MOODMUSIC_HOME", str(tmp_path))
    monkeypatch.setenv(name, value)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception
    assert message in at.error[0].value


@pytest.mark.parametrize("setting, learns", [(None, True), ("0", False)])
def test_the_live_session_reads_voice_against_the_speaker_as_configured(monkeypatch, tmp_path, setting, learns):
    """The committed voice models were trained on speaker-adapted features: every session gets their prior."""
    monkeypatch.setenv("MOODMUSIC_HOME", str(tmp_path))
    if setting is not None:
        monkeypatch.setenv("MOODMUSIC_VOICE_ADAPTATION", setting)
    monkeypatch.setattr(streamer, "render", lambda get_session, key="moodmusic-live", capture_fps=30.0,
                        capture_size=(0, 0), **kw: False)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    live = at.session_state.live
    assert live._speaker is not None and live._speaker.prior.weight == 128 and live._learn_speaker is learns


def test_the_neutral_face_control_captures_is_remembered_for_the_browser_session_and_forgets(monkeypatch, tmp_path):
    """"Hold a neutral face for 3 s" on a real engine reading a real face (hand-driven clock); the baseline
    survives a new engine built after a rerun; "Forget my neutral face" drops it everywhere."""
    from moodmusic import samples
    from moodmusic.live.session import LiveSession
    from moodmusic.pipeline import load_experts
    from moodmusic.ui import baseline_control

    monkeypatch.setenv("MOODMUSIC_HOME", str(tmp_path))
    for name in ("SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(streamer, "render", lambda get_session, key="moodmusic-live", **kw: False)
    t = [100.0]
    session = LiveSession(load_experts().face, None, clock=lambda: t[0], start_worker=False)
    frame = samples.face_frame()

    def look(seconds: float) -> None:
        for _ in range(int(seconds * 15)):
            session.on_video(frame)
            t[0] += 1 / 15

    look(1.0)
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["live"] = session
    at.run()
    assert not at.exception, at.exception
    hold = at.button(key="baseline-hold")
    assert hold.label == baseline_control.HOLD and not hold.disabled
    hold.click().run()
    assert not at.exception, at.exception
    assert session.snapshot().baseline == "capturing"
    assert any("s left" in str(p.proto) for p in at.get("progress"))
    look(3.3)
    at.run()  # the panel's timer, as the browser would run it
    assert not at.exception, at.exception
    kept = at.session_state[baseline_control.KEY]
    assert session.snapshot().baseline == "on" and kept is session.baseline and kept.frames >= 40
    assert any("Done" in c.value for c in at.sidebar.caption)

    session.close()  # the engine goes (e.g. the page built a new one): the next one gets the same baseline
    at.run()
    assert not at.exception, at.exception
    fresh = at.session_state["live"]
    assert fresh is not session and fresh.baseline is kept and fresh.snapshot().baseline == "on"
    at.button(key="baseline-forget").click().run()
    assert not at.exception, at.exception
    assert fresh.baseline is None and baseline_control.KEY not in at.session_state
    assert at.button(key="baseline-hold").disabled  # and the new engine sees no face yet: look first
    fresh.close()


def test_the_status_is_in_plain_words_and_the_figures_in_an_expander(monkeypatch, tmp_path):
    """A real engine that sees the astronaut's face and hears digital silence: the page says "camera on ·
    no sound", not "-120 dBFS"; the engine's rates are under "Figures for engineers", in the words the
    benchmarks read (`bench.page.parse_status`)."""
    import numpy as np

    from moodmusic import samples
    from moodmusic.bench.page import parse_status
    from moodmusic.live.session import LiveSession
    from moodmusic.pipeline import load_experts

    monkeypatch.setenv("MOODMUSIC_HOME", str(tmp_path))
    monkeypatch.setattr(streamer, "render", lambda get_session, key="moodmusic-live", **kw: False)
    t = [100.0]
    session = LiveSession(load_experts().face, None, clock=lambda: t[0], start_worker=False)
    frame, silence = samples.face_frame(), np.zeros(320, dtype=np.int16)  # 20 ms of 16 kHz mono
    for i in range(45):
        session.on_video(frame)
        for _ in range(3):
            session.on_audio(silence, 16000, 1)
        t[0] += 1 / 15
        if i % 8 == 7:
            session.voice_step()
    snap = session.snapshot()
    assert (snap.face_state, snap.voice_state, round(snap.audio_level_db)) == ("face", "silence", -120)
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["live"] = session
    at.run()
    assert not at.exception, at.exception
    captions = [c.value for c in at.caption]
    assert "📷 camera on · 🎙️ no sound" in captions, captions
    assert not any("dBFS" in c or "fps" in c for c in captions if "camera" in c)
    figures = [e for e in at.expander if e.label == "Figures for engineers"]
    assert len(figures) == 1
    inside = " ".join(c.value for c in figures[0].caption)
    reading = parse_status(inside)
    assert reading is not None and reading["video_in_fps"] > 0, inside
    assert "level no sound" in inside and "-120" not in inside
    assert re.search(r"face: weight 100%, quality \d+%, [\d.]+ s old", inside), inside
    session.close()


def test_local_start_without_devices_is_off_and_says_why(page):
    """This machine has no camera and no microphone: START is disabled, with the reason beside it, rather
    than clickable and answered by a red error; a video file as the camera turns it on."""
    from moodmusic.live.sources.local import list_cameras, list_microphones

    try:
        devices = list_cameras() or list_microphones()
    except Exception:  # no PortAudio counts as no microphone
        devices = list_cameras()
    if devices:
        pytest.skip("this computer has a camera or a microphone")
    at, _ = page
    at.radio(key="source").set_value("local").run()
    assert not at.exception, at.exception
    start = at.button(key="local-start")
    assert start.disabled
    assert any("START is off: no camera or microphone was found" in c.value for c in at.caption), \
        [c.value for c in at.caption]
    assert not at.error
    at.selectbox(key="local-camera").set_value("file").run()
    assert at.button(key="local-start").disabled  # no path yet
    at.text_input(key="local-camera-path").input("clip.mp4").run()
    assert not at.button(key="local-start").disabled


@pytest.mark.parametrize("limit, busy", [("1", True), ("2", False), ("0", False)])
def test_a_server_streaming_its_most_sessions_asks_a_new_visitor_to_try_again(monkeypatch, tmp_path, limit, busy):
    """MOODMUSIC_MAX_LIVE_SESSIONS: past it, a new page gets a note and "Try again" instead of START."""
    import weakref

    import numpy as np

    from moodmusic import samples
    from moodmusic.live import LiveSession, load

    monkeypatch.setenv("MOODMUSIC_HOME", str(tmp_path))
    monkeypatch.setenv("MOODMUSIC_MAX_LIVE_SESSIONS", limit)
    monkeypatch.setattr(load, "_sessions", weakref.WeakSet())
    other = LiveSession(None, None, start_worker=False)  # another visitor's session, streaming speech now
    load.register(other)
    other.on_audio((samples.speech("fox")[:1600] * 32767).astype(np.int16)[None], 16000, 1)
    started = []
    # AppTest cannot run the WebRTC widget itself: note whether the page offers it (START)
    import streamlit_webrtc
    from types import SimpleNamespace

    monkeypatch.setattr(streamlit_webrtc, "create_audio_sink_track", lambda *a, **kw: None)
    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", lambda **kw: started.append(kw) or SimpleNamespace(
        state=SimpleNamespace(signalling=False, playing=False)))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    warnings = " ".join(w.value for w in at.warning)
    assert ("already streaming 1 live sessions" in warnings) is busy, warnings
    assert any(b.label == "Try again" for b in at.button) is busy
    assert bool(started) is not busy
    other.close()
