"""`bench --live`: the live page in a real Chromium with fake camera/microphone, measured from outside.

Starts `streamlit run app.py` on a free loopback port, opens it in Debian's
Chromium (through Playwright) whose fake devices play the sample face and
speech, presses START, and reads what a person would see: the time to the
first `Mood: …`, and the status line's processed video fps and audio
frames/s; the server's CPU comes from /proc. Needs the test requirements
and Chromium (`scripts/setup.sh --dev`).

`bench --live --sessions 1 2 4` does the same with N browser contexts (N
Streamlit sessions) against one server, to see what a core carries and that
the engine sheds frames rather than falling behind when the box is overloaded.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from moodmusic import samples
from moodmusic.bench.meters import CpuMeter, ThreadCpuMeter, process_tree, rss_mb
from moodmusic.bench.page import BENCH_SERVER_ENV, MOOD_TEXT, NO_RELAY, camera_envs, free_port, parse_status, start_app
from moodmusic.bench.report import EngineLog, run_summary, sessions_per_core, summarise_session

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def write_y4m(path: Path, frame_bgr: np.ndarray, seconds: float = 4.0, fps: int = 30) -> Path:
    """A raw YUV4MPEG2 clip, the format Chromium's fake camera plays (looped)."""
    h, w = frame_bgr.shape[:2]
    yuv = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2YUV_I420).tobytes()
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(int(seconds * fps)):
            f.write(b"FRAME\n" + yuv)
    return path


def write_speech_wav(path: Path) -> Path:
    """The sample speech joined into one 48 kHz wav for the fake microphone (looped)."""
    import soundfile as sf
    import soxr

    speech = np.concatenate([samples.speech(n) for n in ("fox", "rainbow")])
    sf.write(path, soxr.resample(speech, 16000, 48000), 48000, subtype="PCM_16")
    return path


def chromium_args(video: Path, audio: Path) -> list[str]:
    """Headless Chromium whose fake camera and microphone play `video` (y4m) and `audio` (wav), looped."""
    return [
        "--headless=new", "--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={video}",
        f"--use-file-for-fake-audio-capture={audio}", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync", "--autoplay-policy=no-user-gesture-required",
    ]


def run_sessions(
    n: int, video: Path, audio: Path, seconds: float = 20.0, start_timeout: float = 60.0, settle: float = 3.0,
    env: dict[str, str] | None = None,
) -> dict:
    """One app server, `n` browser contexts (separate Streamlit sessions) pressing START together.

    After every session has shown a mood (or `start_timeout`), waits `settle`
    seconds for the page's 2 s rates, then reads each status line once a second
    for `seconds` while metering the server's and the browser's CPU from /proc.
    A session that never shows START or a mood is reported as failed, with why.
    """
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        port = free_port()
        server = start_app(home, port, extra_env={**BENCH_SERVER_ENV, **(env or {})},
                           drop=NO_RELAY)
        sessions = [{"session": i + 1, "error": None, "first_mood_s": None} for i in range(n)]
        readings: list[list[dict]] = [[] for _ in range(n)]
        crashed: dict[int, str] = {}  # a script error in a page: it goes blank and stops
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=chromium_args(video, audio))
                pages = [browser.new_context(viewport={"width": 1400, "height": 1000}).new_page() for _ in range(n)]
                for i, page in enumerate(pages):
                    page.on("pageerror", lambda exc, i=i: crashed.setdefault(i, str(exc)[:120]))
                    try:
                        page.goto(f"http://127.0.0.1:{port}", wait_until="domcontentloaded")
                    except Exception as exc:  # reported per session, the others go on
                        sessions[i]["error"] = f"page did not load: {type(exc).__name__}"
                buttons = [
                    page.frame_locator("iframe[title*='streamlit_webrtc']").get_by_role("button", name="START")
                    for page in pages
                ]
                clicked: dict[int, float] = {}
                for i, button in enumerate(buttons):
                    if sessions[i]["error"] is not None:
                        continue
                    try:
                        button.wait_for(timeout=90_000)
                    except Exception as exc:  # the page never offered START
                        sessions[i]["error"] = f"no START button: {type(exc).__name__}"
                for i, button in enumerate(buttons):  # pressed together, once all pages are ready
                    if sessions[i]["error"] is None:
                        try:
                            button.click()
                        except Exception as exc:  # the button went away (e.g. the page crashed)
                            sessions[i]["error"] = f"START not pressed: {type(exc).__name__}"
                            continue
                        clicked[i] = time.monotonic()
                pending = set(clicked)
                deadline = time.monotonic() + start_timeout
                while pending and time.monotonic() < deadline:
                    for i in sorted(pending):
                        if pages[i].get_by_text(MOOD_TEXT).count():
                            sessions[i]["first_mood_s"] = round(time.monotonic() - clicked[i], 2)
                            pending.discard(i)
                    time.sleep(0.2)
                for i in pending:
                    sessions[i]["error"] = f"no mood within {start_timeout:.0f} s"
                time.sleep(settle)
                server_cpu = CpuMeter(lambda: process_tree(server.pid))
                server_threads = ThreadCpuMeter(server.pid)
                me = os.getpid()
                browser_cpu = CpuMeter(lambda: process_tree(me) - process_tree(server.pid) - {me})
                rss0 = rss_mb(server.pid)
                engine_log = EngineLog(home / "server.log")
                t0 = time.monotonic()
                while time.monotonic() - t0 < seconds:
                    tick = time.monotonic()
                    for i, page in enumerate(pages):
                        status = page.get_by_text(re.compile(r"video \d+ fps processed"))
                        try:
                            # The figures sit in a closed expander: its text is there, but not rendered.
                            text = status.first.text_content(timeout=5_000) if status.count() else None
                            reading = parse_status(text) if text else None
                        except Exception:  # a page too busy to answer counts as no reading
                            reading = None
                        if reading is not None:
                            readings[i].append(reading)
                    time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
                server_cores, browser_cores = server_cpu.cores(), browser_cpu.cores()
                by_thread = server_threads.cores_by_name()
                rss1 = rss_mb(server.pid)
                engines = engine_log.engines()
                browser.close()
        finally:
            server.terminate()
            server.wait(10)
    for s, rs in zip(sessions, readings):
        summarise_session(s, rs)
        if s["error"] is not None and s["session"] - 1 in crashed:
            s["error"] += f" (the page crashed: {crashed[s['session'] - 1]})"
    return run_summary(sessions, seconds, server_cores, by_thread, (rss0, rss1), engines,
                       browser_cpu_cores=round(browser_cores, 2))


def measure_sessions(
    counts: list[int], seconds: float = 20.0, min_fps: float = 10.0, capture_fps: float | None = None,
    client: str = "chromium", capture_sizes: list[str] | None = None,
) -> dict:
    """`run_sessions` for each count (and camera size) in turn, a fresh server each, plus the sessions a core can carry.

    `capture_fps`: run the app with MOODMUSIC_CAPTURE_FPS, so each browser sends at most that many frames.
    `capture_sizes`: run the app with each MOODMUSIC_CAPTURE_SIZE in turn (sizes alternate within a count).
    `client`: "chromium" (browser contexts) or "aiortc" (headless visitors, `bench.rtc`: they cost
    this machine a fraction of a browser tab, so more of it is left to the server).
    """
    cameras = camera_envs(capture_fps, capture_sizes)
    if client == "aiortc":
        from moodmusic.bench import rtc

        runs = [rtc.run_sessions(n, seconds=seconds, env=env) | {"capture_size": size}
                for n in counts for size, env in cameras]
        out = {"live_sessions": runs, "live_carry": sessions_per_core(runs, min_fps), "live_client": "aiortc"}
    else:
        if not Path(CHROMIUM).exists():
            raise RuntimeError("Chromium is needed (scripts/setup.sh --dev installs it)")
        with tempfile.TemporaryDirectory() as tmp:
            video = write_y4m(Path(tmp) / "face.y4m", samples.face_frame())
            audio = write_speech_wav(Path(tmp) / "speech.wav")
            runs = [run_sessions(n, video, audio, seconds=seconds, env=env or None) | {"capture_size": size}
                    for n in counts for size, env in cameras]
        out = {"live_sessions": runs, "live_carry": sessions_per_core(runs, min_fps)}
    if capture_fps is not None:
        out["live_capture_fps"] = capture_fps
    return out


def measure(seconds: float = 20.0) -> dict:
    """One real-browser session: startup, then `seconds` of steady streaming (the `bench --live` figures)."""
    result = measure_sessions([1], seconds=seconds)
    run = result["live_sessions"][0]
    s = run["per_session"][0]
    if s["error"]:
        raise RuntimeError(f"the live session did not run: {s['error']}")
    return {
        "live_first_mood_s": s["first_mood_s"],
        "live_video_fps": s["video_fps"],
        "live_video_in_fps": s["video_in_fps"],
        "live_audio_fps": s["audio_fps"],
        "live_latency_ms": s["latency_ms"],
        "live_server_cpu_cores": run["server_cpu_cores"],
        "live_server_cpu_video_cores": run["server_cpu_video_cores"],
        "live_server_cpu_voice_cores": run["server_cpu_voice_cores"],
        "live_seconds": seconds,
    }


def write_y4m_sequence(path: Path, frames: list[tuple[np.ndarray, float]], fps: int = 15) -> Path:
    """A YUV4MPEG2 clip of (BGR frame, seconds) parts in order, for a fake camera that changes face."""
    h, w = frames[0][0].shape[:2]
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame, seconds in frames:
            yuv = cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes()
            for _ in range(round(seconds * fps)):
                f.write(b"FRAME\n" + yuv)
    return path


# Runs in every frame of the page before its own scripts. In the component's frame, where the camera
# is opened: the time each camera frame that differs from the one before (a face swap) was read from
# the camera track. In the top frame: the time the page's `Mood:` text changed. Both on the wall
# clock (Date.now()), which the page's frames share.
GLASS_PROBE_JS = """
(() => {
  const md = navigator.mediaDevices;
  if (md && md.getUserMedia) {
    const open = md.getUserMedia.bind(md);
    window.__moodmusicSwaps = [];
    md.getUserMedia = async (constraints) => {
      const stream = await open(constraints);
      const track = stream.getVideoTracks()[0];
      if (!track || typeof MediaStreamTrackProcessor === "undefined") return stream;
      window.__moodmusicProbe = true;
      const reader = new MediaStreamTrackProcessor({ track: track.clone() }).readable.getReader();
      const tiny = new OffscreenCanvas(8, 6).getContext("2d", { willReadFrequently: true });
      let last = null;
      (async () => {
        for (;;) {
          const { value: frame, done } = await reader.read();
          if (done) return;
          const at = Date.now();
          tiny.drawImage(frame, 0, 0, 8, 6);
          frame.close();
          const px = tiny.getImageData(0, 0, 8, 6).data;
          let level = 0;
          for (let i = 0; i < px.length; i += 4) level += (px[i] + 2 * px[i + 1] + px[i + 2]) / 4;
          level /= px.length / 4;
          if (last !== null && Math.abs(level - last) > 3) window.__moodmusicSwaps.push(at);
          last = level;
        }
      })();
      return stream;
    };
  }
  if (window === window.top) {
    window.__moodmusicMoods = [];
    let shown = null;
    const look = () => {
      const found = /Mood: (\\w+)/.exec(document.body ? document.body.innerText : "");
      const mood = found ? found[1] : null;
      if (mood !== shown) { shown = mood; window.__moodmusicMoods.push([Date.now(), mood]); }
    };
    new MutationObserver(look).observe(document, { subtree: true, childList: true, characterData: true });
  }
})();
"""


def glass_in_browser(hold: float = 4.0, seconds: float = 26.0) -> dict:
    """Glass-to-mood through the whole live page: the fake camera swaps face A and face B every `hold` s.

    The camera plays A then B in a loop (the two public-domain sample faces,
    which read as different moods; the microphone is silent so only the face
    decides). Each delay runs from the moment the page read the first camera
    frame of the new face to the moment its `Mood:` text changed, both
    stamped inside the browser (`GLASS_PROBE_JS`). Counting from START plus
    k * `hold` instead was 0.3-0.4 s too early: the camera starts about 0.3 s
    after the click, and Chromium's file camera runs about 1 % slower than
    its file says. Where the browser cannot read camera frames
    (no MediaStreamTrackProcessor), that reference is used, marked as an upper bound.
    """
    import soundfile as sf
    from playwright.sync_api import sync_playwright

    from moodmusic.bench.live import default_faces, place

    if not Path(CHROMIUM).exists():
        raise RuntimeError("Chromium is needed (scripts/setup.sh --dev installs it)")
    a, b = (place(face) for face in default_faces())
    with tempfile.TemporaryDirectory() as tmp:
        video = write_y4m_sequence(Path(tmp) / "swap.y4m", [(a, hold), (b, hold)])
        audio = Path(tmp) / "silence.wav"
        sf.write(audio, np.zeros(48000 * 2, np.int16), 48000, subtype="PCM_16")
        home = Path(tmp) / "home"
        home.mkdir()
        port = free_port()
        server = start_app(home, port, drop=NO_RELAY)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=chromium_args(video, audio))
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                context.add_init_script(GLASS_PROBE_JS)
                page = context.new_page()
                page.goto(f"http://127.0.0.1:{port}", wait_until="domcontentloaded")
                component = page.frame_locator("iframe[title*='streamlit_webrtc']")
                button = component.get_by_role("button", name="START")
                button.wait_for(timeout=90_000)
                button.click()
                clicked = time.time()
                time.sleep(seconds)
                moods = [(t / 1000 - clicked, m) for t, m in page.evaluate("window.__moodmusicMoods || []") if m]
                swaps: list[float] | None = None
                for frame in page.frames:
                    try:
                        if frame.evaluate("window.__moodmusicProbe === true"):
                            swaps = [t / 1000 - clicked for t in frame.evaluate("window.__moodmusicSwaps")]
                    except Exception:  # a frame that went away or is not ours
                        continue
                browser.close()
        finally:
            server.terminate()
            server.wait(10)
    if swaps is None:  # no camera probe in this browser: START + k * hold, an upper bound
        k_max = int(seconds // hold)
        out = glass_delays(moods, [k * hold for k in range(1, k_max + 1)])
        out["browser_glass_reference"] = "START + 4 s per swap (an upper bound)"
        return out
    out = glass_delays(moods, debounce(swaps, hold / 2))
    out["browser_glass_reference"] = "the camera frame that changed"
    return out


def debounce(times: list[float], gap: float) -> list[float]:
    """The first of each burst of times closer than `gap` to the one before.

    >>> debounce([4.2, 4.25, 8.3, 12.3, 12.31], 2.0)
    [4.2, 8.3, 12.3]
    """
    out: list[float] = []
    for t in sorted(times):
        if not out or t - out[-1] >= gap:
            out.append(t)
    return out


def glass_delays(seen: list[tuple[float, str]], swaps: list[float]) -> dict:
    """For each swap of the camera: the delay until the page shows another mood.

    `seen`: (seconds, mood) at each change of the page's mood; `swaps`: when
    the camera's picture changed (same clock). A swap is timed within the
    window up to the next swap, so the last one, whose window the end of the
    watch cuts short, is not; with no change in its window a swap counts as missed.

    >>> glass_delays([(1.1, "happy"), (5.6, "neutral"), (9.5, "happy"), (10.0, "angry")], [4.2, 8.3, 12.4])
    {'browser_glass_s': [1.4, 1.2], 'browser_glass_s_median': 1.3, 'browser_glass_s_max': 1.4, 'browser_glass_missed': 0}
    """
    delays: list[float] = []
    missed = 0
    for swap, following in zip(swaps, swaps[1:]):
        before = [m for t, m in seen if t <= swap]
        if not before:
            continue
        change = next((t for t, m in seen if swap < t < following and m != before[-1]), None)
        if change is None:
            missed += 1
        else:
            delays.append(round(change - swap, 2))
    return {
        "browser_glass_s": delays,
        "browser_glass_s_median": round(float(np.median(delays)), 2) if delays else None,
        "browser_glass_s_max": max(delays) if delays else None,
        "browser_glass_missed": missed,
    }
