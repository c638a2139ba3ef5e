"""The local source: this computer's camera (OpenCV) and microphone (PortAudio) feeding a LiveSession.

Each device runs on its own thread and hands raw frames to the session as
they arrive: BGR frames to `on_video` (mirrored, like a mirror, for a
webcam), audio blocks at the device's native rate and channel count to
`on_audio`, whose streaming resampler does the conversion. A device that
stops delivering (unplugged, taken by another program, the end of a file
used as a camera) is closed; the session then sees no frames and reports
"no signal", and the source tries to open it again every `retry_every`
seconds until it returns or `stop()` is called. `stop()` joins the threads
and releases the devices.

`sounddevice` needs the PortAudio library, which hosted deployments often
lack; it is imported only when a microphone is used or listed, and its
absence is reported as `AudioUnavailable` with the reason, not a traceback.

>>> camera_target("0"), camera_target("clip.mp4"), camera_target("rtsp://cam/stream")
(0, 'clip.mp4', 'rtsp://cam/stream')
"""

from __future__ import annotations

import glob
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import cv2
import numpy as np

from moodmusic.live.session import LiveSession

log = logging.getLogger(__name__)

AUDIO_BLOCK = 0.02  # seconds per microphone block, like a WebRTC audio frame
MAX_CAMERA_INDEX = 8  # probe indices 0..7 when listing cameras
_PA_LOCK = threading.Lock()  # PortAudio (re)initialisation is process-wide
_open_streams = 0  # microphone streams open in this process; a rescan would cut them off


class DeviceError(Exception):
    """A camera or microphone cannot be opened; the message says which and what to try."""


class AudioUnavailable(DeviceError):
    """Microphone capture is impossible here (PortAudio missing); the message says why."""


# ------------------------------------------------------------------ devices
@dataclass(frozen=True)
class Camera:
    index: int
    name: str
    width: int
    height: int
    fps: float
    backend: str


@dataclass(frozen=True)
class Microphone:
    index: int
    name: str
    channels: int  # the most input channels the device offers
    rate: float  # its native (default) sample rate
    hostapi: str
    default: bool = False


def sounddevice() -> ModuleType:
    """`import sounddevice`, or AudioUnavailable saying why (PortAudio missing on this computer)."""
    try:
        import sounddevice as sd
    except OSError as exc:  # sounddevice raises OSError when libportaudio cannot be loaded
        raise AudioUnavailable(
            f"microphone capture needs the PortAudio library, which is not installed here ({exc}); "
            "on Debian/Ubuntu: sudo apt-get install libportaudio2"
        ) from None
    except ImportError as exc:
        raise AudioUnavailable(f"microphone capture needs the sounddevice package ({exc}): pip install sounddevice") from None
    return sd


def audio_unavailable_reason() -> str | None:
    """None when microphones can be used; otherwise one line saying why not."""
    try:
        sounddevice()
    except AudioUnavailable as exc:
        return str(exc)
    return None


def refresh_audio_devices() -> bool:
    """Make PortAudio scan the devices again (it lists them once, at start-up), e.g. after a USB mic returns.

    Rescanning restarts PortAudio, which would cut off open streams, so it is
    skipped (False) while this process records from any microphone.
    """
    sd = sounddevice()
    with _PA_LOCK:
        if _open_streams:
            return False
        try:
            sd._terminate()
            sd._initialize()
        except Exception as exc:  # a failed rescan leaves the old list; the caller retries later
            log.debug("PortAudio rescan failed: %s", exc)
            return False
    return True


def list_microphones(refresh: bool = False) -> list[Microphone]:
    """Input devices PortAudio knows (raises AudioUnavailable without PortAudio)."""
    sd = sounddevice()
    if refresh:
        refresh_audio_devices()
    with _PA_LOCK:
        devices = sd.query_devices()
        apis = sd.query_hostapis()
        try:
            default_in = int(sd.default.device[0])
        except Exception:
            default_in = -1
    return [
        Microphone(
            index=int(d["index"]), name=str(d["name"]), channels=int(d["max_input_channels"]),
            rate=float(d["default_samplerate"]), hostapi=str(apis[d["hostapi"]]["name"]),
            default=int(d["index"]) == default_in,
        )
        for d in devices
        if d["max_input_channels"] > 0
    ]


def find_microphone(spec: int | str | None = None, refresh: bool = False) -> Microphone:
    """The microphone named by index, exact name or part of a name; None means the system default."""
    mics = list_microphones(refresh=refresh)
    if not mics:
        raise DeviceError("no microphone found on this computer (see `python -m moodmusic devices`)")
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        for m in mics:
            if m.default:
                return m
        return mics[0]
    text = str(spec).strip()
    if text.isdigit():
        for m in mics:
            if m.index == int(text):
                return m
    exact = [m for m in mics if m.name == text]
    if exact:
        return exact[0]
    partial = [m for m in mics if text.casefold() in m.name.casefold()]
    if len(partial) == 1:
        return partial[0]
    names = ", ".join(f"{m.index}: {m.name}" for m in mics)
    if partial:
        raise DeviceError(f"microphone {text!r} matches several devices ({names}); give its number")
    raise DeviceError(f"no microphone {text!r}; available: {names}")


def file_microphone_asoundrc(raw_pcm: str | Path, name: str = "filemic") -> str:
    """ALSA config (for `~/.asoundrc`) that makes a raw 16 kHz mono s16 file a capture device called `name`.

    For demos and tests on computers without a sound card: PortAudio records the
    file's samples exactly (at 16 kHz, 16-bit mono), then silence. Such a
    device does not pace itself; `MicrophoneSource` holds it to real time.
    """
    raw = Path(raw_pcm).resolve()
    return (
        f'pcm.{name}_raw {{ type file; slave.pcm "null"; file "/dev/null"; infile "{raw}"; format "raw" }}\n'
        f'pcm.{name} {{ type plug; slave {{ pcm "{name}_raw"; format S16_LE; rate 16000; channels 1 }}\n'
        f'  hint {{ show on description "File microphone ({raw.name})" }} }}\n'
    )


def camera_target(spec: int | str) -> int | str:
    """What `cv2.VideoCapture` opens: a device number ("0"), a file path or a stream URL."""
    if isinstance(spec, int):
        return spec
    text = str(spec).strip()
    return int(text) if text.isdigit() else text


def _quiet_opencv() -> None:
    """OpenCV warns on stderr for every camera index that is not there; listing probes several."""
    try:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    except Exception:  # older builds: the warnings stay, nothing breaks
        pass


def _candidate_indices(max_index: int) -> list[int]:
    if sys.platform.startswith("linux"):  # only nodes that exist: probing absent ones is slow and noisy
        found = sorted(int(m.group(1)) for p in glob.glob("/dev/video*") if (m := re.fullmatch(r"/dev/video(\d+)", p)))
        return [i for i in found if i < max_index]
    return list(range(max_index))


def list_cameras(max_index: int = MAX_CAMERA_INDEX) -> list[Camera]:
    """Cameras OpenCV can open and read a frame from, probing device numbers below `max_index`."""
    _quiet_opencv()
    out = []
    for i in _candidate_indices(max_index):
        cap = cv2.VideoCapture(i)
        try:
            if not cap.isOpened():
                continue
            ok, frame = cap.read()
            if not ok or frame is None:
                continue
            out.append(Camera(
                index=i, name=f"camera {i}", width=int(frame.shape[1]), height=int(frame.shape[0]),
                fps=float(cap.get(cv2.CAP_PROP_FPS) or 0.0), backend=_backend(cap),
            ))
        finally:
            cap.release()
    return out


def _backend(cap: Any) -> str:
    try:
        return str(cap.getBackendName())
    except Exception:
        return ""


# ------------------------------------------------------------------ threads
class _ThreadedSource:
    """Start once, stop idempotently: the lifecycle both device sources share."""

    _stop: threading.Event
    _thread: threading.Thread | None

    def _thread_name(self) -> str:
        raise NotImplementedError

    def _run(self) -> None:
        raise NotImplementedError

    def _before_start(self) -> None:
        """Fail here, clearly, rather than later in the thread."""

    def start(self):
        if self._thread is not None:
            raise RuntimeError(f"a {type(self).__name__} starts once; make a new one")
        self._before_start()
        self._thread = threading.Thread(target=self._run, name=self._thread_name(), daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 3.0) -> None:
        self._stop.set()
        if self._thread is not None and self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return bool(self._thread and self._thread.is_alive())


# ------------------------------------------------------------------ camera
class CameraSource(_ThreadedSource):
    """Reads a camera (or a file/URL through the same API) on a thread and feeds `session.on_video`.

    Frames are mirrored when `mirror` (default: for device numbers only, so the
    preview moves like a mirror), shrunk to fit the requested size, and paced
    to the device's frame rate (cameras pace themselves; files would not).
    """

    def __init__(
        self,
        session: LiveSession,
        device: int | str = 0,
        width: int = 640,
        height: int = 480,
        fps: float | None = None,
        mirror: bool | None = None,
        on_frame: Callable[[np.ndarray], None] | None = None,
        retry_every: float = 1.0,
        open_capture: Callable[[int | str], Any] = cv2.VideoCapture,
    ) -> None:
        self.session = session
        self.target = camera_target(device)
        self.width, self.height, self.fps = int(width), int(height), fps
        self.mirror = isinstance(self.target, int) if mirror is None else mirror
        self.on_frame = on_frame
        self.retry_every = retry_every
        self._open_capture = open_capture
        self.frames = 0
        self.opens = 0  # successful opens; more than one means it recovered
        self.error: str | None = None  # the last problem, cleared when frames flow again
        self.size: tuple[int, int] | None = None  # (width, height) delivered
        self._cap: Any = None
        self._first: np.ndarray | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def name(self) -> str:
        return f"camera {self.target}" if isinstance(self.target, int) else str(self.target)

    def check(self) -> None:
        """Open the device once and read a frame, or raise DeviceError saying why (call before `start`)."""
        cap = self._open()
        if cap is None:
            raise DeviceError(f"{self.name} cannot be opened: {self.error} (see `python -m moodmusic devices`)")
        cap.release()

    def _thread_name(self) -> str:
        return f"moodmusic-camera-{self.target}"

    @property
    def streaming(self) -> bool:
        """True while the device is open and delivering."""
        return self._cap is not None

    def _open(self) -> Any:
        _quiet_opencv()
        try:
            cap = self._open_capture(self.target)
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            return None
        if not cap.isOpened():
            cap.release()
            what = "no such device" if isinstance(self.target, int) else (
                "file not found" if not _is_url(self.target) and not os.path.exists(self.target) else "cannot be read")
            self.error = what
            return None
        if isinstance(self.target, int):
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
            if self.fps:
                cap.set(cv2.CAP_PROP_FPS, self.fps)
        ok, frame = cap.read()
        if not ok or frame is None:
            cap.release()
            self.error = "opened but delivers no frames"
            return None
        self._first = frame
        return cap

    def _frame_interval(self, cap: Any) -> float:
        rate = self.fps or float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        return 1.0 / rate if 1.0 <= rate <= 240.0 else 0.0

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                cap = self._open()
                if cap is None:
                    log.info("%s unavailable (%s); retrying in %.1f s", self.name, self.error, self.retry_every)
                    self._stop.wait(self.retry_every)
                    continue
                self._cap, self.opens = cap, self.opens + 1
                try:
                    self._stream(cap)
                finally:
                    self._cap = None
                    cap.release()
                if not self._stop.is_set():
                    self.error = "stopped delivering frames"
                    log.info("%s stopped delivering; retrying in %.1f s", self.name, self.retry_every)
                    self._stop.wait(self.retry_every)
        except Exception as exc:  # never a silently dead thread: keep the reason for the UI/CLI
            self.error = f"{type(exc).__name__}: {exc}"
            log.exception("%s failed", self.name)

    def _stream(self, cap: Any) -> None:
        interval = self._frame_interval(cap)
        frame: np.ndarray | None = self._first
        self._first = None
        due = time.monotonic()
        while not self._stop.is_set():
            if frame is None:
                ok, frame = cap.read()
                if not ok or frame is None:
                    return
            delay = due - time.monotonic()  # a file reads as fast as we ask; a camera already waited
            if delay > 0 and self._stop.wait(delay):
                return
            self._deliver(frame)
            frame = None
            due = max(due + interval, time.monotonic() - interval)

    def _deliver(self, frame: np.ndarray) -> None:
        frame = self._fit(frame)
        if self.mirror:
            frame = cv2.flip(frame, 1)
        self.size = (int(frame.shape[1]), int(frame.shape[0]))
        self.frames += 1
        self.error = None
        out = self.session.on_video(frame, pixel_format="bgr")
        if self.on_frame is not None:
            try:
                self.on_frame(out)
            except Exception:
                log.exception("on_frame failed; the camera continues")

    def _fit(self, frame: np.ndarray) -> np.ndarray:
        if frame.ndim == 2:
            frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
        elif frame.shape[2] == 4:
            frame = cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
        h, w = frame.shape[:2]
        scale = min(self.width / w, self.height / h)
        if scale < 0.95:  # bigger than asked (files, cameras that ignore the request): the engine pays per pixel
            frame = cv2.resize(frame, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        return frame


def _is_url(target: int | str) -> bool:
    return isinstance(target, str) and "://" in target


# ------------------------------------------------------------------ microphone
class MicrophoneSource(_ThreadedSource):
    """Records a microphone with a PortAudio callback stream and feeds `session.on_audio`.

    The stream runs at the device's native rate, 16-bit, mono where offered
    (else two channels); the session downmixes and resamples. A device that does not pace itself (a
    file-backed ALSA device, some virtual devices) is held to real time. A
    watchdog reopens the stream when it stops or goes quiet for `stall_after`
    seconds, rescanning the devices so a re-plugged microphone is found.
    """

    def __init__(
        self,
        session: LiveSession,
        device: int | str | None = None,
        rate: float | None = None,
        channels: int | None = None,
        block: float = AUDIO_BLOCK,
        retry_every: float = 1.0,
        stall_after: float = 1.0,
    ) -> None:
        self.session = session
        self.spec = device
        self.rate, self.channels, self.block = rate, channels, block
        self.retry_every, self.stall_after = retry_every, stall_after
        self.device: Microphone | None = None
        self.blocks = 0
        self.opens = 0
        self.error: str | None = None
        self.overflows = 0
        self.format: tuple[float, int] | None = None  # (rate, channels) of the open stream
        self._stream: Any = None
        self._last_block = 0.0
        self._t0 = 0.0
        self._received = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def name(self) -> str:
        return self.device.name if self.device else f"microphone {self.spec if self.spec is not None else '(default)'}"

    def check(self) -> Microphone:
        """Find the device now, or raise DeviceError/AudioUnavailable saying why (call before `start`)."""
        self.device = find_microphone(self.spec)
        return self.device

    def _thread_name(self) -> str:
        return "moodmusic-microphone"

    def _before_start(self) -> None:
        sounddevice()  # no PortAudio: fail now, clearly, rather than in the thread

    @property
    def streaming(self) -> bool:
        return self._stream is not None

    def _open(self, rescan: bool) -> Any:
        global _open_streams
        sd = sounddevice()
        try:
            mic = find_microphone(self.spec if self.device is None else self.device.name, refresh=rescan)
        except DeviceError as exc:
            self.error = str(exc)
            return None
        rate = float(self.rate or mic.rate)
        # Mono where the device offers it (the engine downmixes anyway), else its first two channels;
        # 16-bit is what every capture device speaks natively, so no driver-side conversion is involved.
        choices = [self.channels] if self.channels else sorted({1, max(1, min(2, mic.channels))})
        self._t0, self._received, self._last_block = 0.0, 0, time.monotonic()
        problem: Exception | None = None
        for channels in choices:
            def callback(indata: np.ndarray, frames: int, _time: Any, status: Any, channels: int = channels) -> None:
                self._on_block(indata, frames, rate, channels, status)

            try:
                with _PA_LOCK:
                    stream = sd.InputStream(
                        device=mic.index, samplerate=rate, channels=channels, dtype="int16",
                        blocksize=max(1, int(round(rate * self.block))), callback=callback,
                    )
                    _open_streams += 1
                    try:
                        stream.start()
                    except Exception:
                        _open_streams -= 1
                        stream.close(ignore_errors=True)
                        raise
                break
            except Exception as exc:  # sd.PortAudioError and friends: busy, gone, unsupported format
                problem = exc
        else:
            self.error = f"{mic.name} cannot be opened ({problem})"
            return None
        self.format = (rate, channels)
        self.device = mic
        return stream

    def _on_block(self, indata: np.ndarray, frames: int, rate: float, channels: int, status: Any) -> None:
        if self._stop.is_set():  # stopping: the stream is being closed, deliver nothing more
            return
        now = time.monotonic()
        if self._t0 == 0.0:
            self._t0 = now
        self._received += frames
        self._last_block = now
        self.blocks += 1
        if status and getattr(status, "input_overflow", False):
            self.overflows += 1
        try:
            self.session.on_audio(indata.copy(), rate=int(round(rate)), channels=channels)
        except Exception:  # the session counts its own errors; this guards the PortAudio thread
            log.exception("audio block rejected")
        # A real microphone delivers in real time; one that runs ahead (a file-backed device) waits here.
        ahead = self._received / rate - (now - self._t0)
        if ahead > 0.25:
            self._stop.wait(ahead - 0.1)

    def _run(self) -> None:
        rescan = False
        try:
            while not self._stop.is_set():
                stream = self._open(rescan)
                if stream is None:
                    log.info("%s unavailable (%s); retrying in %.1f s", self.name, self.error, self.retry_every)
                    rescan = True
                    self._stop.wait(self.retry_every)
                    continue
                self._stream, self.opens, self.error = stream, self.opens + 1, None
                try:
                    while not self._stop.wait(0.1):
                        if not stream.active or time.monotonic() - self._last_block > self.stall_after:
                            self.error = f"{self.name} stopped delivering audio"
                            log.info("%s; reopening", self.error)
                            break
                finally:
                    self._stream = None
                    self._close(stream)
                rescan = True
                if not self._stop.is_set():
                    self._stop.wait(self.retry_every)
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            log.exception("%s failed", self.name)

    @staticmethod
    def _close(stream: Any) -> None:
        global _open_streams
        try:
            stream.abort(ignore_errors=True)
        except Exception:
            pass
        try:
            stream.close(ignore_errors=True)
        except Exception:
            log.debug("closing the microphone stream failed", exc_info=True)
        with _PA_LOCK:
            _open_streams = max(0, _open_streams - 1)


# ------------------------------------------------------------------ both
class LocalCapture:
    """Camera and/or microphone together: one object to start, stop and ask about."""

    def __init__(self, camera: CameraSource | None = None, microphone: MicrophoneSource | None = None) -> None:
        if camera is None and microphone is None:
            raise ValueError("LocalCapture needs a camera, a microphone or both")
        self.camera, self.microphone = camera, microphone

    @property
    def sources(self) -> list[CameraSource | MicrophoneSource]:
        return [s for s in (self.camera, self.microphone) if s is not None]

    def check(self) -> None:
        for s in self.sources:
            s.check()

    def start(self) -> "LocalCapture":
        for s in self.sources:
            s.start()
        return self

    def stop(self) -> None:
        for s in self.sources:
            s.stop()

    @property
    def running(self) -> bool:
        return any(s.running for s in self.sources)

    @property
    def errors(self) -> list[str]:
        return [f"{s.name}: {s.error}" for s in self.sources if s.error]


@dataclass
class OpenedDevices:
    """What `open_devices` could open, and why a default device it tried could not be."""

    camera: CameraSource | None = None
    microphone: MicrophoneSource | None = None
    camera_problem: DeviceError | None = None
    microphone_problem: DeviceError | None = None

    def capture(self) -> LocalCapture | None:
        """Both as one `LocalCapture`, or None when neither opened."""
        if self.camera is None and self.microphone is None:
            return None
        return LocalCapture(self.camera, self.microphone)


def open_devices(
    session: LiveSession,
    camera: int | str | None = None,
    microphone: int | str | None = None,
    *,
    video: bool = True,
    audio: bool = True,
    width: int = 640,
    height: int = 480,
) -> OpenedDevices:
    """The camera and microphone that can be opened now, feeding `session`.

    A device asked for by name or number that cannot be opened raises its
    `DeviceError`; the default device (None) that cannot is left out, with
    the reason in `camera_problem` / `microphone_problem`, so the other
    input still runs.
    """
    opened = OpenedDevices()
    if video:
        source = CameraSource(session, camera if camera is not None else 0, width, height)
        try:
            source.check()
            opened.camera = source
        except DeviceError as exc:
            if camera is not None:
                raise
            opened.camera_problem = exc
    if audio:
        mic = MicrophoneSource(session, microphone)
        try:
            mic.check()
            opened.microphone = mic
        except DeviceError as exc:  # AudioUnavailable (no PortAudio) is a DeviceError too
            if microphone is not None:
                raise
            opened.microphone_problem = exc
    return opened
