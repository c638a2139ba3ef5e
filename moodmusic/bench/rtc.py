"""A headless visitor for the live page: what a browser tab does, without the browser.

Load tests that open N Chromium tabs on the server's own 2 cores measure
Chromium as much as the server: the tabs take cores of their own
(docs/performance.md), and tabs starved of CPU stopped sending. This client
speaks the page's own protocol and streams real media with aiortc, at a
fraction of a tab's cost:

- Streamlit's websocket (`/_stcore/stream`, protobuf `BackMsg`/`ForwardMsg`)
  asks for script runs and reads what the page would show;
- the SDP offer goes to streamlit-webrtc as the component's value, as its
  frontend sets it (`{"playing": false, "sdpOffer": …}` while signalling, then
  `{"playing": true, "sdpOffer": ""}`), and the answer comes back in the
  component's arguments;
- the camera is the sample face, moving a little, at the size and rate the
  page's media constraints ask for (`camera_format`: a browser's camera
  scales its picture to them the same way), and the microphone the sample
  speech at 48 kHz; the preview video sent back is received but not decoded
  (`_light_media`);
- the page's self-refreshing fragments are rerun at the intervals the server
  asks for (`AutoRerun`), with the same widget states, as the page does.

`bench --live --sessions 1 2 4 --client aiortc` runs it; `run_sessions` gives
the same figures as `bench.browser.run_sessions`, plus the client's own CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import math
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Iterator
from typing import Any

import numpy as np

from moodmusic import samples
from moodmusic.bench.meters import CpuMeter, MachineCpuMeter, ThreadCpuMeter, process_tree, rss_mb
from moodmusic.bench.page import BENCH_SERVER_ENV, MOOD_TEXT, NO_RELAY, free_port, parse_status, start_app
from moodmusic.bench.report import EngineLog, run_summary, summarise_session

COMPONENT = "streamlit_webrtc"
STATUS_TEXT = re.compile(r"video \d+ fps processed")
VIDEO_FPS = 30
CAMERA_SIZE = (640, 480)  # the visitor's camera, scaled to what the page asks for
AUDIO_RATE = 48000
AUDIO_SAMPLES = 960  # 20 ms, what browsers send


def camera_format(constraints: dict[str, Any] | None) -> tuple[int, int, float]:
    """(width, height, fps) a browser's camera gives for the page's media constraints.

    The camera is a 640x480 one at 30 fps: an asked size is what Chrome scales
    it to, and an asked rate of at most 30 what it drops frames to.

    >>> camera_format({"video": {"width": {"ideal": 480}, "height": {"ideal": 360}, "frameRate": {"ideal": 30}}})
    (480, 360, 30.0)
    >>> camera_format({"video": {"frameRate": {"ideal": 15, "max": 15}}}), camera_format(None)
    ((640, 480, 15.0), (640, 480, 30.0))
    """
    video = (constraints or {}).get("video")
    video = video if isinstance(video, dict) else {}

    def asked(name: str, default: float) -> float:
        value = video.get(name, default)
        value = value.get("exact", value.get("ideal", default)) if isinstance(value, dict) else value
        return float(value) if isinstance(value, (int, float)) and value > 0 else default

    width, height = int(asked("width", CAMERA_SIZE[0])) // 2 * 2, int(asked("height", CAMERA_SIZE[1])) // 2 * 2
    rate = video.get("frameRate", {})
    fps = min(asked("frameRate", VIDEO_FPS), float(rate.get("max", VIDEO_FPS)) if isinstance(rate, dict) else VIDEO_FPS,
              VIDEO_FPS)
    return width, height, fps


def _tracks(width: int = 640, height: int = 480, fps: float = VIDEO_FPS) -> tuple[Any, Any]:
    """(camera, microphone): aiortc tracks playing the sample face (`width`x`height` at `fps`) and speech."""
    import av
    from aiortc import MediaStreamTrack

    import cv2

    face = samples.face_frame(*CAMERA_SIZE)
    # Three seconds of a head that moves a little, as the yuv420p a camera gives: converting each
    # frame from BGR in the encoder would cost this load generator 2-3 ms a frame.
    moved = [np.roll(face, (round(4 * math.sin(n / 9)), round(6 * math.sin(n / 7))), axis=(0, 1))
             for n in range(round(3 * fps))]
    if (width, height) != CAMERA_SIZE:
        moved = [cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA) for frame in moved]
    loop = [cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420) for frame in moved]
    speech = np.concatenate([samples.speech(n) for n in ("fox", "rainbow")])
    import soxr

    pcm = (np.clip(soxr.resample(speech, 16000, AUDIO_RATE), -1, 1) * 32767).astype(np.int16)

    class Camera(MediaStreamTrack):
        kind = "video"

        def __init__(self) -> None:
            super().__init__()
            self._n = 0
            self.sent = 0
            self._start: float | None = None

        async def recv(self) -> av.VideoFrame:
            now = time.monotonic()
            if self._start is None:
                self._start = now
            due = self._start + self._n / fps
            if due > now:
                await asyncio.sleep(due - now)
            else:
                # Behind (this process starved of CPU): skip to the frame of now, as a camera does, so every
                # frame's timestamp is its capture time. Sending the missed frames late with their old
                # timestamps made a busy load generator look like a late server.
                self._n = max(self._n, int((now - self._start) * fps))
            frame = av.VideoFrame.from_ndarray(loop[self._n % len(loop)], format="yuv420p")
            self.sent += 1
            frame.pts, frame.time_base = round(self._n * 90000 / fps), fractions.Fraction(1, 90000)
            self._n += 1
            return frame

    class Microphone(MediaStreamTrack):
        kind = "audio"

        def __init__(self) -> None:
            super().__init__()
            self._n = 0
            self._start: float | None = None

        async def recv(self) -> av.AudioFrame:
            if self._start is None:
                self._start = time.monotonic()
            due = self._start + self._n * AUDIO_SAMPLES / AUDIO_RATE
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            at = (self._n * AUDIO_SAMPLES) % (len(pcm) - AUDIO_SAMPLES)
            frame = av.AudioFrame.from_ndarray(pcm[None, at : at + AUDIO_SAMPLES], format="s16", layout="mono")
            frame.sample_rate = AUDIO_RATE
            frame.pts, frame.time_base = self._n * AUDIO_SAMPLES, fractions.Fraction(1, AUDIO_RATE)
            self._n += 1
            return frame

    return Camera(), Microphone()


class _Discard:
    """A decoder that drops what it is given: the visitor receives the preview, it does not look at it."""

    def decode(self, encoded_frame: Any) -> list:
        return []


@contextlib.contextmanager
def _light_media() -> Iterator[None]:
    """Make this process's aiortc cheap as a load generator while the visitors run; the server is untouched.

    The visitors' VP8 goes out through the preview encoder (no denoiser), and
    the video coming back is received (RTP, SRTP, RTCP, as a browser does)
    but not decoded. Each visitor then costs this machine less than a
    decoding one (docs/performance.md), which leaves the server the cores it
    is measured on.
    Their sockets are read as a browser's are, every waiting datagram at once
    (`datagram_drain`). aiortc's own encoder and decoder lookups and asyncio's
    reader are put back afterwards, so a test process that runs the visitors
    is left as it was.
    """
    import asyncio.selector_events

    from aiortc import rtcrtpreceiver, rtcrtpsender

    from moodmusic.live.transport.datagram_drain import install_datagram_drain
    from moodmusic.live.transport.preview_encoder import install_preview_encoder

    get_encoder, get_decoder = rtcrtpsender.get_encoder, rtcrtpreceiver.get_decoder
    transport = asyncio.selector_events._SelectorDatagramTransport
    read_ready = transport._read_ready

    def discarding_decoder(codec: Any) -> Any:
        return _Discard() if codec.mimeType.lower().startswith("video/") else get_decoder(codec)

    install_preview_encoder()
    install_datagram_drain()
    rtcrtpreceiver.get_decoder = discarding_decoder
    try:
        yield
    finally:
        rtcrtpsender.get_encoder, rtcrtpreceiver.get_decoder = get_encoder, get_decoder
        transport._read_ready = read_ready  # type: ignore[method-assign]


@dataclass
class Visitor:
    """One page session driven over Streamlit's websocket, streaming with aiortc."""

    url: str
    component_id: str | None = None
    component_value: dict[str, Any] | None = None
    answer: dict[str, str] | None = None
    constraints: dict[str, Any] | None = None  # the page's media_stream_constraints, as a browser gets them
    mood_at: float | None = None
    started: float | None = None
    statuses: list[dict[str, float]] = field(default_factory=list)
    status_text: str = ""
    error: str | None = None
    page_script_hash: str = ""  # the page's own (`navigation`): another hash reads as leaving the page
    camera: Any = None  # the visitor's camera track: `sent` counts the frames it gave the encoder
    sent_fps: float = 0.0  # over the measured window: whether this load generator kept up
    mood_updates: int = 0  # `Mood:` badges received from the server (each fragment run that reached us)
    status_updates: int = 0  # status lines received
    mood_updates_per_s: float = 0.0  # over the measured window: how often the page really changed
    status_updates_per_s: float = 0.0
    affinity: bool = False  # load the page over HTTP first and keep its cookies, as a browser does (a proxy's)
    cookie: str = ""  # the Cookie header sent with the websocket
    replica: str | None = None  # the replica a proxy's affinity cookie named, if any
    _timers: dict[str, asyncio.Task] = field(default_factory=dict)
    _ws: Any = None

    async def run(self, stop: asyncio.Event) -> None:
        import websockets
        from aiortc import RTCPeerConnection, RTCSessionDescription
        from aiortc.contrib.media import MediaBlackhole

        pc = RTCPeerConnection()
        sink = MediaBlackhole()
        try:
            if self.affinity:
                self.cookie = await asyncio.to_thread(page_cookies, self.url)
                self.replica = replica_of(self.cookie)
            headers = {"Cookie": self.cookie} if self.cookie else None
            async with websockets.connect(self.url, subprotocols=["streamlit"], max_size=None,
                                          additional_headers=headers) as ws:
                self._ws = ws
                reader = asyncio.create_task(self._read(ws))
                await self._rerun()
                while self.component_id is None:
                    await self._pause(reader)
                camera, microphone = _tracks(*camera_format(self.constraints))
                self.camera = camera
                pc.addTrack(camera)
                pc.addTrack(microphone)
                pc.on("track", lambda track: sink.addTrack(track))
                await pc.setLocalDescription(await pc.createOffer())  # gathers every candidate first
                # The values streamlit-webrtc's frontend sets: signalling (an offer, not yet playing),
                # then playing once the answer is in (the offer cleared).
                offer = {"type": pc.localDescription.type, "sdp": pc.localDescription.sdp}
                self.component_value = {"playing": False, "sdpOffer": offer, "iceCandidates": {}}
                self.started = time.monotonic()
                await self._rerun()
                while self.answer is None:
                    await self._pause(reader)
                await pc.setRemoteDescription(RTCSessionDescription(self.answer["sdp"], self.answer["type"]))
                self.component_value = {"playing": True, "sdpOffer": "", "iceCandidates": {}}
                await self._rerun()
                await sink.start()
                await stop.wait()
                reader.cancel()
        except Exception as exc:  # reported per visitor; the others go on
            self.error = f"{type(exc).__name__}: {exc}"[:160]
        finally:
            for timer in self._timers.values():
                timer.cancel()
            await sink.stop()
            await pc.close()

    async def _pause(self, reader: asyncio.Task) -> None:
        if reader.done():
            raise RuntimeError(f"the page's websocket closed ({reader.exception() or 'no reason'})")
        await asyncio.sleep(0.05)

    async def _rerun(self, fragment_id: str = "") -> None:
        from streamlit.proto.BackMsg_pb2 import BackMsg

        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = ""
        state.page_script_hash = self.page_script_hash
        if fragment_id:
            state.fragment_id = fragment_id
            state.is_auto_rerun = True
        if self.component_id is not None and self.component_value is not None:
            widget = state.widget_states.widgets.add()
            widget.id = self.component_id
            widget.json_value = json.dumps(self.component_value)
        await self._ws.send(msg.SerializeToString())

    async def _read(self, ws: Any) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        async for data in ws:
            msg = ForwardMsg()
            msg.ParseFromString(data)
            kind = msg.WhichOneof("type")
            if kind == "new_session":
                self.page_script_hash = msg.new_session.page_script_hash or self.page_script_hash
            elif kind == "navigation":  # the page the script really runs (what the frontend then asks for)
                self.page_script_hash = msg.navigation.page_script_hash or self.page_script_hash
            elif kind == "auto_rerun":
                self._repeat(msg.auto_rerun.fragment_id, msg.auto_rerun.interval)
            elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                self._see(msg.delta.new_element)

    def _repeat(self, fragment_id: str, interval: float) -> None:
        """Rerun a self-refreshing fragment every `interval` s, as the page's frontend does."""
        old = self._timers.pop(fragment_id, None)
        if old is not None:
            old.cancel()

        async def tick() -> None:
            while True:
                await asyncio.sleep(interval)
                await self._rerun(fragment_id)

        self._timers[fragment_id] = asyncio.create_task(tick())

    def _see(self, element: Any) -> None:
        kind = element.WhichOneof("type")
        if kind == "component_instance" and COMPONENT in element.component_instance.component_name:
            self.component_id = element.component_instance.id
            args = json.loads(element.component_instance.json_args or "{}")
            self.constraints = args.get("media_stream_constraints", self.constraints)
            if args.get("sdp_answer_json") and self.answer is None:
                self.answer = json.loads(args["sdp_answer_json"])
            return
        body = getattr(getattr(element, kind, None), "body", None) if kind else None
        if not isinstance(body, str):
            return
        if MOOD_TEXT.search(body):
            self.mood_updates += 1
            if self.mood_at is None and self.started is not None:
                self.mood_at = time.monotonic()
        if STATUS_TEXT.search(body):
            self.status_text = body
            self.status_updates += 1

    def read_status(self) -> None:
        """Take the status line the page shows now as one reading (the browser bench reads it once a second)."""
        reading = parse_status(self.status_text) if self.status_text else None
        if reading is not None:
            self.statuses.append(reading)


def page_cookies(ws_url: str, timeout: float = 10.0) -> str:
    """The cookies the page's first HTTP answer sets (a proxy's affinity cookie), as a Cookie header."""
    import urllib.request

    http = re.sub(r"^ws", "http", ws_url).replace("/_stcore/stream", "/")
    with urllib.request.urlopen(http, timeout=timeout) as answer:
        found = [c.split(";", 1)[0].strip() for c in answer.headers.get_all("Set-Cookie") or []]
    return "; ".join(c for c in found if "=" in c)


def replica_of(cookie: str) -> str | None:
    """The replica a deploy's affinity cookie names.

    >>> replica_of("MMREPLICA=r2; other=1"), replica_of("")
    ('r2', None)
    """
    from moodmusic.deploy.haproxy import COOKIE

    m = re.search(rf"(?:^|;\s*){COOKIE}=([^;]+)", cookie)
    return m.group(1) if m else None


def _cpu_of(pids: list[int]) -> set[int]:
    found: set[int] = set()
    for pid in pids:
        found |= process_tree(pid)
    return found


ARRIVE_EVERY_S = 0.5  # through a proxy, visitors arrive this far apart (see `_drive`)


async def _drive(url: str, server_pid: int | list[int] | None, n: int, seconds: float, start_timeout: float,
                 settle: float, server_log: Path | list[Path], affinity: bool = False,
                 probe: Any = None) -> dict:
    """Start `n` visitors, wait for their moods, then measure `seconds` of streaming.

    One server's visitors start together. Through a proxy (`affinity`) they
    arrive `ARRIVE_EVERY_S` apart, as people do: HAProxy's leastconn counts
    each replica's open page websockets, and visitors who all fetched the page
    within the same few milliseconds were placed before any of their
    websockets opened, 4 of 6 on one replica in one run of three.

    `server_pid`: the server's process(es), metered with their children (none: a server elsewhere);
    `server_log`: where each writes its engine lines. `probe`: an async callable run over the measured
    window (given an Event that ends it), whose result is returned as `probe`.
    """
    pids = [server_pid] if isinstance(server_pid, int) else list(server_pid or [])
    logs = [server_log] if isinstance(server_log, Path) else list(server_log)
    visitors = [Visitor(url, affinity=affinity) for _ in range(n)]
    stop = asyncio.Event()
    tasks = []
    for i, v in enumerate(visitors):
        if affinity and i:
            await asyncio.sleep(ARRIVE_EVERY_S)
        tasks.append(asyncio.create_task(v.run(stop)))
    deadline = time.monotonic() + start_timeout
    while time.monotonic() < deadline and not all(v.mood_at or v.error for v in visitors):
        await asyncio.sleep(0.2)
    await asyncio.sleep(settle)
    server = CpuMeter(lambda: _cpu_of(pids))
    threads = [ThreadCpuMeter(pid) for pid in pids]
    me = CpuMeter(lambda: {os.getpid()})
    machine = MachineCpuMeter()
    load0 = os.getloadavg()[0]
    rss0 = sum(rss_mb(pid) for pid in pids)
    engine_logs = [EngineLog(path) for path in logs]
    probe_done = asyncio.Event()
    probe_task = asyncio.create_task(probe(probe_done)) if probe is not None else None
    sent0 = [v.camera.sent if v.camera is not None else 0 for v in visitors]
    updates0 = [(v.mood_updates, v.status_updates) for v in visitors]
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        await asyncio.sleep(1.0)
        for v in visitors:
            v.read_status()
    elapsed = time.monotonic() - t0
    for v, before, (moods, statuses) in zip(visitors, sent0, updates0):
        v.sent_fps = round(((v.camera.sent if v.camera is not None else 0) - before) / elapsed, 1)
        v.mood_updates_per_s = round((v.mood_updates - moods) / elapsed, 2)
        v.status_updates_per_s = round((v.status_updates - statuses) / elapsed, 2)
    by_thread: dict[str, float] = {}
    for meter in threads:
        for name, cores in meter.cores_by_name().items():
            by_thread[name] = by_thread.get(name, 0.0) + cores
    measured = {"server_cores": server.cores(), "by_thread": by_thread,
                "rss_mb": (rss0, sum(rss_mb(pid) for pid in pids)), "client_cores": me.cores(), "visitors": visitors,
                "engines": [e for log in engine_logs for e in log.engines()],
                "machine_busy_cores": round(machine.cores(), 2), "load_avg_1m": (round(load0, 2),
                                                                                 round(os.getloadavg()[0], 2))}
    if probe_task is not None:
        probe_done.set()
        measured["probe"] = await probe_task
    stop.set()
    await asyncio.wait(tasks, timeout=15)
    return measured


def run_sessions(n: int, seconds: float = 20.0, start_timeout: float = 60.0, settle: float = 3.0,
                 env: dict[str, str] | None = None) -> dict:
    """One app server, `n` headless visitors starting together; the same figures as the browser bench."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        server = start_app(Path(tmp), port, extra_env={**BENCH_SERVER_ENV, **(env or {})},
                           drop=NO_RELAY)
        try:
            with _light_media():
                m = asyncio.run(_drive(f"ws://127.0.0.1:{port}/_stcore/stream", server.pid, n, seconds,
                                       start_timeout, settle, Path(tmp) / "server.log"))
        finally:
            server.terminate()
            server.wait(10)
    return summarise_visitors(m, seconds, start_timeout)


def summarise_visitors(m: dict, seconds: float, start_timeout: float) -> dict:
    """`_drive`'s measurements as one run's figures (the same as the browser bench's, plus the client's CPU)."""
    sessions = []
    for i, v in enumerate(m["visitors"]):
        s: dict[str, Any] = {"session": i + 1, "error": v.error,
                             "first_mood_s": round(v.mood_at - v.started, 2) if v.mood_at and v.started else None}
        if s["error"] is None and s["first_mood_s"] is None:
            s["error"] = f"no mood within {start_timeout:.0f} s"
        summarise_session(s, v.statuses)
        s["sent_fps"] = v.sent_fps
        s["mood_updates_per_s"], s["status_updates_per_s"] = v.mood_updates_per_s, v.status_updates_per_s
        if v.replica is not None:
            s["replica"] = v.replica
        sessions.append(s)
    out = run_summary(sessions, seconds, m["server_cores"], m["by_thread"], m["rss_mb"], m["engines"], client="aiortc",
                      client_cpu_cores=round(m["client_cores"], 2), browser_cpu_cores=0.0)
    # the whole machine over the window: what else ran beside the server and the visitors (other work's load)
    out["machine_busy_cores"], out["load_avg_1m"] = m.get("machine_busy_cores"), m.get("load_avg_1m")
    return out
