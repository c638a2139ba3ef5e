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
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from moodmusic import samples
from moodmusic.config import ROOT
from moodmusic.live.session import VIDEO_THREAD, VOICE_THREAD
from moodmusic.moods import MOODS

MOOD_TEXT = re.compile(r"Mood: (" + "|".join(MOODS) + r")\b")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    return [
        "--headless=new", "--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={video}",
        f"--use-file-for-fake-audio-capture={audio}", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync", "--autoplay-policy=no-user-gesture-required",
    ]


def start_app(
    home: Path, port: int, extra_env: dict[str, str] | None = None, drop: tuple[str, ...] = ()
) -> subprocess.Popen:
    """`streamlit run app.py` on loopback with its own home; returns once it answers its health check.

    It runs in `home`, so the repository's .streamlit/config.toml is not read:
    the settings that matter for speed are passed on the command line.
    """
    env = dict(os.environ, MOODMUSIC_HOME=str(home), HOME=str(home), **(extra_env or {}))
    for name in drop:
        env.pop(name, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none", "--runner.postScriptGC", "false"],
        cwd=home, env=env, stdout=open(home / "server.log", "wb"), stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).status == 200:
                return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("the app did not start: " + (home / "server.log").read_text()[-1500:])


def _stat_cpu_seconds(stat: Path) -> float:
    """User + system CPU time from a /proc `stat` file, of a process or one of its threads (0 once gone)."""
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


ENGINE_LOG_ENV = {"MOODMUSIC_ENGINE_LOG_SECONDS": "2"}  # the app server logs each engine's rates (live/engine_log)


class EngineLog:
    """The engine-rate lines the app server writes to its log from now on (what the server did, page or not)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0

    def engines(self) -> list[dict[str, float]]:
        """Each engine's median rates over the lines since this was made, busiest first."""
        from moodmusic.live.engine_log import parse_line

        try:
            text = self.path.read_bytes()[self.offset:].decode("utf-8", "replace")
        except OSError:
            return []
        by_engine: dict[str, list[dict]] = {}
        for line in text.splitlines():
            r = parse_line(line)
            if r is not None:
                by_engine.setdefault(r["engine"], []).append(r)
        out = []
        for rows in by_engine.values():
            keys = ("video_in_fps", "video_fps", "video_late_fps", "audio_fps", "audio_late_fps", "voice_hops_per_s")
            out.append({k: _median([row[k] for row in rows]) for k in keys} | {"lines": len(rows)})
        return sorted(out, key=lambda e: -e["video_fps"])


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its threads (0 once it is gone)."""
    return _stat_cpu_seconds(Path(f"/proc/{pid}/stat"))


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _tree(root: int) -> set[int]:
    """`root` and every process below it, from /proc (Chromium runs as a tree of processes)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, ()))
    return found


class _CpuMeter:
    """CPU cores used by a set of processes over a window; processes born inside it count in full."""

    def __init__(self, pids: Callable[[], set[int]]) -> None:
        self.pids = pids
        self.t0 = time.monotonic()
        self.start = {pid: _cpu_seconds(pid) for pid in pids()}

    def cores(self) -> float:
        end = {pid: _cpu_seconds(pid) for pid in self.pids()}
        used = sum(max(0.0, t - self.start.get(pid, 0.0)) for pid, t in end.items())
        return used / max(1e-6, time.monotonic() - self.t0)


class _ThreadCpuMeter:
    """CPU cores used by one process's threads over a window, by OS thread name (`comm`).

    The engine names its own threads (moodmusic-video, moodmusic-voice), so
    this splits a session's server CPU into the engine's work and the rest
    (aiortc's loop, codecs and Streamlit). Threads born inside the window count in full.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.t0 = time.monotonic()
        self.start = self._threads()

    def _threads(self) -> dict[int, tuple[str, float]]:
        out = {}
        task = Path(f"/proc/{self.pid}/task")
        try:
            tids = [int(t.name) for t in task.iterdir()]
        except OSError:
            return out
        for tid in tids:
            try:
                name = (task / str(tid) / "comm").read_text().strip()
            except OSError:  # the thread ended meanwhile
                continue
            out[tid] = (name, _stat_cpu_seconds(task / str(tid) / "stat"))
        return out

    def cores_by_name(self) -> dict[str, float]:
        seconds = max(1e-6, time.monotonic() - self.t0)
        used: dict[str, float] = {}
        for tid, (name, t) in self._threads().items():
            before = self.start.get(tid, (name, 0.0))[1]
            used[name] = used.get(name, 0.0) + max(0.0, t - before) / seconds
        return used


def parse_status(text: str) -> dict[str, float] | None:
    """The live page's status line as numbers, or None when it is not showing."""
    fields = {
        "video_fps": r"video (\d+) fps processed", "video_in_fps": r"fps processed of (\d+)",
        "audio_fps": r"audio (\d+) frames/s", "latency_ms": r"latency (\d+) ms",
    }
    out = {}
    for key, pattern in fields.items():
        m = re.search(pattern, text)
        if m is None:
            return None
        out[key] = float(m.group(1))
    return out


def _median(values: list[float]) -> float:
    return round(float(np.median(values)), 1) if values else 0.0


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
        server = start_app(home, port, extra_env={**ENGINE_LOG_ENV, **(env or {})},
                           drop=("CLOUDFLARE_TURN_KEY_ID", "TWILIO_ACCOUNT_SID", "HF_TOKEN"))
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
                server_cpu = _CpuMeter(lambda: _tree(server.pid))
                server_threads = _ThreadCpuMeter(server.pid)
                me = os.getpid()
                browser_cpu = _CpuMeter(lambda: _tree(me) - _tree(server.pid) - {me})
                rss0 = _rss_mb(server.pid)
                engine_log = EngineLog(home / "server.log")
                t0 = time.monotonic()
                while time.monotonic() - t0 < seconds:
                    tick = time.monotonic()
                    for i, page in enumerate(pages):
                        status = page.get_by_text(re.compile(r"video \d+ fps processed"))
                        try:
                            reading = parse_status(status.first.inner_text(timeout=5_000)) if status.count() else None
                        except Exception:  # a page too busy to answer counts as no reading
                            reading = None
                        if reading is not None:
                            readings[i].append(reading)
                    time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
                server_cores, browser_cores = server_cpu.cores(), browser_cpu.cores()
                by_thread = server_threads.cores_by_name()
                rss1 = _rss_mb(server.pid)
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


def summarise_session(session: dict, readings: list[dict[str, float]]) -> None:
    """Fill in a session's figures from its status-line readings: medians, the worst latency, how many."""
    for key in ("video_fps", "video_in_fps", "audio_fps", "latency_ms"):
        session[key] = _median([r[key] for r in readings])
    session["latency_max_ms"] = max((r["latency_ms"] for r in readings), default=0.0)
    session["readings"] = len(readings)
    if session["error"] is None and not readings:
        session["error"] = "no status line"


def run_summary(
    sessions: list[dict], seconds: float, server_cores: float, by_thread: dict[str, float],
    rss_mb: tuple[float, float], engines: list[dict[str, float]], **load: float,
) -> dict:
    """One run's figures, as `bench --live --sessions` reports them; `load`: what the load generator used.

    `per_session` is what each page showed (its status line); `engines` is
    what the server's engines did in the same window, from its log. They
    differ when the server is too busy to get the pages their updates.
    """
    n = len(sessions)
    return {
        "sessions": n,
        "failed": sum(s["error"] is not None for s in sessions),
        "server_cpu_cores": round(server_cores, 2),
        "server_cpu_per_session": round(server_cores / n, 2),
        # all sessions' engine threads (named by the engine); the rest is aiortc's loop and codecs and Streamlit
        "server_cpu_video_cores": round(by_thread.get(VIDEO_THREAD[:15], 0.0), 2),
        "server_cpu_voice_cores": round(by_thread.get(VOICE_THREAD[:15], 0.0), 2),
        **load,
        "server_rss_mb": [round(rss_mb[0]), round(rss_mb[1])],
        "seconds": seconds,
        "per_session": sessions,
        "engines": engines,
    }


def sessions_per_core(runs: list[dict], min_fps: float) -> dict | None:
    """How many sessions one server core carries at >= `min_fps` processed, from measured runs only.

    Takes the heaviest run in which every session started and every session's
    median processed fps met the bar, and divides its sessions by the server
    cores it used. None when no run met the bar.
    """
    good = [
        r for r in runs
        if r["failed"] == 0 and r["server_cpu_cores"] > 0
        and min(s["video_fps"] for s in r["per_session"]) >= min_fps
    ]
    if not good:
        return None
    best = max(good, key=lambda r: r["sessions"])
    return {
        "min_fps": min_fps,
        "sessions_per_core": round(best["sessions"] / best["server_cpu_cores"], 2),
        "measured_with": best["sessions"],
        "server_cpu_cores": best["server_cpu_cores"],
    }


def measure_sessions(
    counts: list[int], seconds: float = 20.0, min_fps: float = 10.0, capture_fps: float | None = None,
    client: str = "chromium",
) -> dict:
    """`run_sessions` for each count in turn (a fresh server each), plus the sessions a core can carry.

    `capture_fps`: run the app with MOODMUSIC_CAPTURE_FPS, so each browser sends at most that many frames.
    `client`: "chromium" (browser contexts) or "aiortc" (headless visitors, `bench.rtc`: they cost
    this machine a fraction of a browser tab, so more of it is left to the server).
    """
    if client == "aiortc":
        from moodmusic.bench import rtc

        runs = [rtc.run_sessions(n, seconds=seconds) for n in counts]
        return {"live_sessions": runs, "live_carry": sessions_per_core(runs, min_fps), "live_client": "aiortc"}
    if not Path(CHROMIUM).exists():
        raise RuntimeError("Chromium is needed (scripts/setup.sh --dev installs it)")
    with tempfile.TemporaryDirectory() as tmp:
        video = write_y4m(Path(tmp) / "face.y4m", samples.face_frame())
        audio = write_speech_wav(Path(tmp) / "speech.wav")
        env = {"MOODMUSIC_CAPTURE_FPS": f"{capture_fps:g}"} if capture_fps is not None else None
        runs = [run_sessions(n, video, audio, seconds=seconds, env=env) for n in counts]
    out = {"live_sessions": runs, "live_carry": sessions_per_core(runs, min_fps)}
    if capture_fps is not None:
        out["live_capture_fps"] = capture_fps
    return out


def _session_status(s: dict, aiortc: bool) -> str:
    if s["error"]:
        return s["error"]
    if aiortc and s.get("status_updates_per_s", 1.0) == 0:
        return "the page got no status updates (see the engines below)"
    if s["video_fps"] == 0:
        return "ran, but no video processed"
    return "ok" if s["audio_fps"] > 0 else "ran, but no audio"


def sessions_table(result: dict) -> str:
    """`measure_sessions`' result as the plain-text table `bench --live --sessions` prints."""
    runs = result["live_sessions"]
    aiortc = result.get("live_client") == "aiortc"
    lines = [
        ("live sessions: one app server, N headless aiortc visitors (sample face 30 fps + speech), all on this machine"
         if aiortc else "live sessions: one app server, N Chromium contexts with fake camera+mic, all on this machine")
        + (f"; cameras at most {result['live_capture_fps']:g} fps" if result.get("live_capture_fps") else ""),
        f"{'N':>2} {'#':>2} {'first mood':>10} {'video fps':>10} {'of in':>6} {'audio/s':>8} "
        f"{'latency ms':>11} {'max':>5}" + (f" {'page updates/s':>18}" if aiortc else "") + "  status",
    ]
    for r in runs:
        for s in r["per_session"]:
            first = f"{s['first_mood_s']:.1f} s" if s["first_mood_s"] is not None else "-"
            lines.append(
                f"{r['sessions']:>2} {s['session']:>2} {first:>10} {s['video_fps']:>10.0f} {s['video_in_fps']:>6.0f} "
                f"{s['audio_fps']:>8.0f} {s['latency_ms']:>11.0f} {s['latency_max_ms']:>5.0f}"
                + (f" {s.get('mood_updates_per_s', 0.0):>6.1f} mood {s.get('status_updates_per_s', 0.0):>3.1f} st"
                   if aiortc else "")
                + "  " + _session_status(s, aiortc)
            )
    lines.append("")
    lines.append("the same windows as the server's engines saw them (its log), busiest first:")
    lines.append(f"{'N':>2} {'video in/s':>11} {'read/s':>7} {'late/s':>7} {'audio/s':>8} {'voice hops/s':>13}")
    for r in runs:
        for e in r.get("engines", []):
            lines.append(
                f"{r['sessions']:>2} {e['video_in_fps']:>11.1f} {e['video_fps']:>7.1f} {e['video_late_fps']:>7.1f} "
                f"{e['audio_fps']:>8.1f} {e['voice_hops_per_s']:>13.1f}"
            )
        if not r.get("engines"):
            lines.append(f"{r['sessions']:>2} (no engine lines in the server's log)")
    lines.append("")
    lines.append(
        f"{'N':>2} {'server CPU':>11} {'per session':>12} {'video steps':>12} {'voice workers':>14} "
        f"{'visitors CPU' if aiortc else 'browser CPU':>12} {'server RSS MB':>14} {'failed':>7}"
    )
    for r in runs:
        rss = f"{r['server_rss_mb'][0]}→{r['server_rss_mb'][1]}"
        lines.append(
            f"{r['sessions']:>2} {r['server_cpu_cores']:>11.2f} {r['server_cpu_per_session']:>12.2f} "
            f"{r.get('server_cpu_video_cores', 0.0):>12.2f} {r.get('server_cpu_voice_cores', 0.0):>14.2f} "
            f"{r.get('client_cpu_cores', 0.0) if aiortc else r['browser_cpu_cores']:>12.2f} {rss:>14} {r['failed']:>7}"
        )
    carry = result.get("live_carry")
    if carry:
        lines.append(
            f"sessions one server core carries at >= {carry['min_fps']:g} fps processed: "
            f"{carry['sessions_per_core']:.2f} (measured with {carry['measured_with']} sessions using {carry['server_cpu_cores']:.2f} cores)"
        )
    else:
        lines.append("sessions one server core carries: no run had every session at the fps bar")
    return "\n".join(lines)


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
        server = start_app(home, port, drop=("CLOUDFLARE_TURN_KEY_ID", "TWILIO_ACCOUNT_SID", "HF_TOKEN"))
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
