"""A live-sessions run's figures: what each page showed, what the server's engines did, and the table.

`per_session` comes from the pages' status lines; `engines` from the server's
log over the same window. Both are kept: they differ when the server is too
busy to get the pages their updates.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from moodmusic.live.session import VIDEO_THREAD, VOICE_THREAD


def rounded_median(values: list[float]) -> float:
    """The median to one decimal, 0 for no values (a page or engine that gave no readings).

    >>> rounded_median([5.0, 6.0, 6.04]), rounded_median([])
    (6.0, 0.0)
    """
    return round(float(np.median(values)), 1) if values else 0.0


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
            out.append({k: rounded_median([row[k] for row in rows]) for k in keys} | {"lines": len(rows)})
        return sorted(out, key=lambda e: -e["video_fps"])


def summarise_session(session: dict, readings: list[dict[str, float]]) -> None:
    """Fill in a session's figures from its status-line readings: medians, the worst latency, how many."""
    for key in ("video_fps", "video_in_fps", "audio_fps", "latency_ms"):
        session[key] = rounded_median([r[key] for r in readings])
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


def _session_status(s: dict, aiortc: bool) -> str:
    if s["error"]:
        return s["error"]
    if aiortc and s.get("status_updates_per_s", 1.0) == 0:
        return "the page got no status updates (see the engines below)"
    if s["video_fps"] == 0:
        return "ran, but no video processed"
    return "ok" if s["audio_fps"] > 0 else "ran, but no audio"


def _run(r: dict) -> str:
    """A run's first columns: its session count and the camera size its page asked for."""
    return f"{r['sessions']:>2} {r.get('capture_size', '-'):>8}"


def sessions_table(result: dict) -> str:
    """`measure_sessions`' result as the plain-text table `bench --live --sessions` prints."""
    runs = result["live_sessions"]
    aiortc = result.get("live_client") == "aiortc"
    lines = [
        ("live sessions: one app server, N headless aiortc visitors (the sample face at the camera size the page asks for + speech), all on this machine"
         if aiortc else "live sessions: one app server, N Chromium contexts with fake camera+mic, all on this machine")
        + (f"; cameras at most {result['live_capture_fps']:g} fps" if result.get("live_capture_fps") else ""),
        f"{'N':>2} {'camera':>8} {'#':>2} {'first mood':>10} {'video fps':>10} {'of in':>6} {'audio/s':>8} "
        f"{'latency ms':>11} {'max':>5}" + (f" {'page updates/s':>18}" if aiortc else "") + "  status",
    ]
    for r in runs:
        for s in r["per_session"]:
            first = f"{s['first_mood_s']:.1f} s" if s["first_mood_s"] is not None else "-"
            lines.append(
                f"{_run(r)} {s['session']:>2} {first:>10} {s['video_fps']:>10.0f} {s['video_in_fps']:>6.0f} "
                f"{s['audio_fps']:>8.0f} {s['latency_ms']:>11.0f} {s['latency_max_ms']:>5.0f}"
                + (f" {s.get('mood_updates_per_s', 0.0):>6.1f} mood {s.get('status_updates_per_s', 0.0):>3.1f} st"
                   if aiortc else "")
                + "  " + _session_status(s, aiortc)
            )
    lines.append("")
    lines.append("the same windows as the server's engines saw them (its log), busiest first:")
    lines.append(f"{'N':>2} {'camera':>8} {'video in/s':>11} {'read/s':>7} {'late/s':>7} {'audio/s':>8} {'voice hops/s':>13}")
    for r in runs:
        for e in r.get("engines", []):
            lines.append(
                f"{_run(r)} {e['video_in_fps']:>11.1f} {e['video_fps']:>7.1f} {e['video_late_fps']:>7.1f} "
                f"{e['audio_fps']:>8.1f} {e['voice_hops_per_s']:>13.1f}"
            )
        if not r.get("engines"):
            lines.append(f"{_run(r)} (no engine lines in the server's log)")
    lines.append("")
    lines.append(
        f"{'N':>2} {'camera':>8} {'server CPU':>11} {'per session':>12} {'video steps':>12} {'voice workers':>14} "
        f"{'visitors CPU' if aiortc else 'browser CPU':>12} {'server RSS MB':>14} {'failed':>7}"
    )
    for r in runs:
        rss = f"{r['server_rss_mb'][0]}→{r['server_rss_mb'][1]}"
        lines.append(
            f"{_run(r)} {r['server_cpu_cores']:>11.2f} {r['server_cpu_per_session']:>12.2f} "
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
