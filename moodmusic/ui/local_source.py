"""Page widgets for the live page's "Source" choice: this computer's camera and microphone, or a file.

Both run their source on background threads kept in `st.session_state`, show
the overlay frames in a small preview that refreshes on its own, and release
the devices when STOP is pressed, when the other source is chosen
(`release()`), when the live session they feed is replaced, and when nobody
has looked at the page for `IDLE_STOP` seconds (a closed tab runs no more
reruns, so a watchdog thread ends capture).

Local capture reads the devices of the computer that runs the server. That
is the visitor's own camera only when the page is opened on that computer:
on a hosted deployment, or without PortAudio, the widget says so instead.

The lead wires them in app.py, e.g.::

    source = st.radio("Source", ["Browser", "This computer", "File"], horizontal=True)
    if source == "Browser":
        local_source.release(); playing = streamer.render(get_session)
    elif source == "This computer":
        playing = local_source.render_local(get_session)
    else:
        playing = local_source.render_file(get_session)
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import streamlit as st

from moodmusic.live import LiveSession

STATE_KEY = "_moodmusic_local_source"
IDLE_STOP = 30.0  # seconds without a page refresh before capture stops by itself
PREVIEW_EVERY = 0.25  # seconds between preview refreshes
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]", "::1", "0.0.0.0")


class _Running:
    """One running source with its preview frame, its temp files and a watchdog; `stop()` releases all."""

    def __init__(self, kind: str, source: object, session: LiveSession, cleanup: Path | None = None) -> None:
        self.kind, self.source, self.session, self.cleanup = kind, source, session, cleanup
        self.frame: np.ndarray | None = None
        self.seen = time.monotonic()
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        threading.Thread(target=self._watchdog, name=f"moodmusic-ui-{kind}-watchdog", daemon=True).start()

    def on_frame(self, frame: np.ndarray) -> None:
        self.frame = frame

    def touch(self) -> None:
        self.seen = time.monotonic()

    @property
    def running(self) -> bool:
        return bool(getattr(self.source, "running", False)) and not self._stopped.is_set()

    def stop(self) -> None:
        with self._lock:
            if self._stopped.is_set():
                return
            self._stopped.set()
        try:
            self.source.stop()  # type: ignore[attr-defined]
        finally:
            if self.cleanup is not None:
                shutil.rmtree(self.cleanup, ignore_errors=True)

    def _watchdog(self) -> None:
        while not self._stopped.wait(1.0):
            if time.monotonic() - self.seen > IDLE_STOP or self.session.closed:
                self.stop()


def _current() -> _Running | None:
    return st.session_state.get(STATE_KEY)


def release() -> None:
    """Stop whatever local or file source this browser session runs (call when another source is chosen)."""
    running = st.session_state.pop(STATE_KEY, None)
    if running is not None:
        running.stop()


def _adopt(kind: str, session: LiveSession | None) -> _Running | None:
    """The running source of this kind feeding this session; anything else is released."""
    running = _current()
    if running is None:
        return None
    if running.kind != kind or running.session is not session or not running.running:
        release()
        return None
    running.touch()
    return running


def hosted_reason() -> str | None:
    """Why this computer's devices are not the visitor's, or None when the page is opened locally."""
    if os.environ.get("MOODMUSIC_LOCAL_CAPTURE", "").strip() == "1":
        return None
    if os.environ.get("MOODMUSIC_LOCAL_CAPTURE", "").strip() == "0":
        return "local capture is switched off on this server (MOODMUSIC_LOCAL_CAPTURE=0)"
    if os.environ.get("HOME") == "/home/appuser" or os.environ.get("STREAMLIT_SHARING_MODE"):
        return ("this app runs on a hosted server: its camera and microphone are not yours. "
                "Use the browser source instead")
    try:
        host = (st.context.headers.get("Host") or "").rsplit(":", 1)[0].lower()
    except Exception:  # no request context (tests, bare mode): assume the local case
        host = ""
    if host and host not in _LOCAL_HOSTS:
        return (f"the page is opened through {host}, so the server's camera and microphone are probably not "
                "the ones in front of you. Use the browser source, or open the page on the server itself "
                "(set MOODMUSIC_LOCAL_CAPTURE=1 to allow it anyway)")
    return None


@st.cache_data(ttl=30, show_spinner="Looking for cameras…")
def _cameras() -> list[tuple[int, str]]:
    from moodmusic.live.sources.local import list_cameras

    return [(c.index, f"Camera {c.index} ({c.width}x{c.height})") for c in list_cameras()]


def _microphones() -> tuple[list[tuple[int, str]], str | None]:
    from moodmusic.live.sources.local import DeviceError, list_microphones

    try:
        mics = list_microphones()
    except DeviceError as exc:
        return [], str(exc)
    mics.sort(key=lambda m: not m.default)  # the system default first
    return [(m.index, m.name + (" (default)" if m.default else "")) for m in mics], None


def start_blocked_reason(camera: str, camera_path: str, microphone: str, any_camera: bool, any_mic: bool) -> str | None:
    """Why START cannot work with these choices (the button is disabled and says so), or None.

    `camera` and `microphone` are the pickers' values ("none", "file" or a device number).

    >>> start_blocked_reason("none", "", "none", False, False)
    "no camera or microphone was found on this computer. Choose 'A video file or stream URL…' as the camera, or use the browser source"
    >>> start_blocked_reason("file", " ", "none", False, False)
    'enter the path or URL of the video to use as a camera'
    >>> start_blocked_reason("0", "", "none", True, False) is None
    True
    """
    if camera == "file" and not camera_path.strip():
        return "enter the path or URL of the video to use as a camera"
    if camera == "none" and microphone == "none":
        if not any_camera and not any_mic:
            return ("no camera or microphone was found on this computer. Choose 'A video file or stream URL…' "
                    "as the camera, or use the browser source")
        return "choose a camera, a microphone or both"
    return None


@st.fragment(run_every=PREVIEW_EVERY)
def _preview(kind: str) -> None:
    running = _current()
    if running is None or running.kind != kind:
        return
    running.touch()
    frame = running.frame
    if frame is not None:
        st.image(frame, channels="BGR", width="stretch")
    source = running.source
    problems = getattr(source, "errors", None) or ([source.error] if getattr(source, "error", None) else [])
    for problem in problems:
        st.caption(f"⚠️ {problem}")
    if kind == "file" and getattr(source, "duration", 0):
        st.progress(min(1.0, source.position / source.duration), text=f"{source.position:.1f} / {source.duration:.1f} s")
    if not running.running:
        st.caption("Stopped.")


def render_local(get_session: Callable[[], LiveSession | None], key: str = "local") -> bool:
    """Camera and microphone pickers with START/STOP; True while this computer's devices are feeding the session."""
    from moodmusic.live.sources.local import (
        CameraSource,
        DeviceError,
        LocalCapture,
        MicrophoneSource,
    )

    session = get_session()
    running = _adopt("local", session)
    reason = hosted_reason()
    if reason:
        release()
        st.info(f"Local capture is unavailable: {reason}.")
        return False
    cameras = _cameras()
    mics, mic_problem = _microphones()
    camera_options = ["none"] + [str(i) for i, _ in cameras] + ["file"]
    camera_names = {"none": "No camera", "file": "A video file or stream URL…", **{str(i): n for i, n in cameras}}
    mic_options = ["none"] + [str(i) for i, _ in mics]
    mic_names = {"none": "No microphone", **{str(i): n for i, n in mics}}
    disabled = running is not None
    col1, col2 = st.columns(2)
    with col1:
        cam_choice = st.selectbox("Camera", camera_options, index=min(1, len(camera_options) - 1) if cameras else 0,
                                  format_func=camera_names.get, key=f"{key}-camera", disabled=disabled)
        cam_path = ""
        if cam_choice == "file":
            cam_path = st.text_input("Path or URL", key=f"{key}-camera-path", disabled=disabled)
    with col2:
        mic_choice = st.selectbox("Microphone", mic_options, index=1 if mics else 0,
                                  format_func=mic_names.get, key=f"{key}-mic", disabled=disabled)
    if not cameras:
        st.caption("No camera found on this computer (a video file or stream URL works too).")
    if mic_problem:
        st.caption(f"Microphone unavailable: {mic_problem}")
    if session is None:
        st.warning("The live engine is not ready.")
        return False

    if running is None:
        why_not = start_blocked_reason(cam_choice, cam_path, mic_choice, bool(cameras), bool(mics))
        if st.button("▶ START", key=f"{key}-start", type="primary", disabled=why_not is not None, help=why_not):
            camera = microphone = None
            if cam_choice != "none":
                target = cam_path.strip() if cam_choice == "file" else int(cam_choice)
                camera = CameraSource(session, target)
            if mic_choice != "none":
                microphone = MicrophoneSource(session, int(mic_choice))
            capture = LocalCapture(camera, microphone)
            try:
                capture.check()
            except DeviceError as exc:
                st.error(str(exc))
                return False
            running = _Running("local", capture, session)
            if camera is not None:
                camera.on_frame = running.on_frame
            st.session_state[STATE_KEY] = running
            capture.start()
            st.rerun()
        if why_not:
            st.caption(f"START is off: {why_not}.")
        return False
    if st.button("■ STOP", key=f"{key}-stop"):
        release()
        st.rerun()
    _preview("local")
    return running.running


def render_file(get_session: Callable[[], LiveSession | None], key: str = "file") -> bool:
    """A file uploader with PLAY/STOP: the clip plays through the engine in real time; True while playing."""
    from moodmusic import media
    from moodmusic.live.sources.file import FilePlayer

    session = get_session()
    running = _adopt("file", session)
    disabled = running is not None
    upload = st.file_uploader("A video or audio file", type=list(media.VIDEO_EXTS + media.AUDIO_EXTS),
                              key=f"{key}-upload", disabled=disabled)
    col1, col2, col3 = st.columns(3)
    use_video = col1.checkbox("Picture", value=True, key=f"{key}-video", disabled=disabled)
    use_audio = col2.checkbox("Sound", value=True, key=f"{key}-audio", disabled=disabled)
    loop = col3.checkbox("Loop", value=False, key=f"{key}-loop", disabled=disabled)
    if session is None:
        st.warning("The live engine is not ready.")
        return False
    if running is None:
        if st.button("▶ PLAY", key=f"{key}-play", type="primary", disabled=upload is None):
            folder = Path(tempfile.mkdtemp(prefix="moodmusic-play-"))
            path = folder / Path(upload.name).name
            path.write_bytes(upload.getvalue())
            running_ref: list[_Running] = []
            try:
                player = FilePlayer(session, path, video=use_video, audio=use_audio, loop=loop,
                                    on_frame=lambda f: running_ref[0].on_frame(f) if running_ref else None)
            except media.MediaError as exc:
                shutil.rmtree(folder, ignore_errors=True)
                st.error(str(exc))
                return False
            running = _Running("file", player, session, cleanup=folder)
            running_ref.append(running)
            st.session_state[STATE_KEY] = running
            player.start()
            st.rerun()
        return False
    if st.button("■ STOP", key=f"{key}-stop"):
        release()
        st.rerun()
    _preview("file")
    return running.running
