"""Live sessions through HAProxy against 1, 2, … replicas, and what the proxy itself adds.

`bench --live --sessions 4 6 --client aiortc --replicas 1 2` runs, for each
replica count and each session count, a fresh `deploy.LocalDeploy` (the same
one `deploy local` starts) and N headless aiortc visitors that go through the
proxy as a browser does: they load the page over HTTP first and keep its
affinity cookie, so their websocket reaches the replica the cookie names.
Reported per run, beside the usual per-session figures:

- `server_cpu_cores`: every replica and HAProxy together; `proxy_cpu_cores`
  HAProxy alone; `by_replica`: how many sessions each replica got;
- `proxy_ping_ms`: websocket ping round trips to replica r1, directly and
  through the proxy (pinned to r1 by its cookie), alternating every 100 ms
  over the measured window, under the run's load: the proxy's added latency
  on the page's path is the difference; `proxy_ping_idle_ms` the same, 100
  pairs before any visitor connects (the proxy's cost without the load's noise). The media does not cross the proxy
  (UDP straight to the replica), so the engine's latency can only feel the
  proxy through the CPU it takes;
- `machine_busy_cores` and `load_avg_1m`: the whole machine over the window,
  so figures taken beside other work say so.

`bench --live --sessions 4 --client aiortc --url http://host:8501` runs the
visitors against a server elsewhere (no server CPU: it is not ours to meter).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from moodmusic.bench import rtc
from moodmusic.bench.meters import CpuMeter
from moodmusic.bench.page import BENCH_SERVER_ENV, NO_KEYS, camera_envs, free_port
from moodmusic.bench.report import sessions_per_core, sessions_table
from moodmusic.deploy.haproxy import COOKIE
from moodmusic.deploy.local import LocalDeploy

PING_EVERY = 0.1


def _ws(url: str) -> str:
    return url.replace("http://", "ws://", 1).replace("https://", "wss://", 1).rstrip("/") + "/_stcore/stream"


async def ping_pair(direct: str, proxied: str, cookie: str, done: asyncio.Event, least: int = 20,
                    every: float = PING_EVERY) -> dict:
    """Websocket ping round trips (ms) to one replica, directly and through the proxy, alternating.

    Runs until `done` is set (and at least `least` pings each). Each side is an
    open page websocket, as a visitor's is; the replica answers the ping in its
    own event loop, so both sides include the replica's load equally and the
    difference is the proxy's.
    """
    import websockets

    times: dict[str, list[float]] = {"direct": [], "proxy": []}
    async with websockets.connect(direct, subprotocols=["streamlit"], ping_interval=None) as a, \
            websockets.connect(proxied, subprotocols=["streamlit"], ping_interval=None,
                               additional_headers={"Cookie": cookie}) as b:
        while not done.is_set() or min(len(v) for v in times.values()) < least:
            for name, ws in (("direct", a), ("proxy", b)):
                t = time.perf_counter()
                await (await ws.ping())
                times[name].append((time.perf_counter() - t) * 1000)
                await asyncio.sleep(every / 2)
    out: dict[str, Any] = {"pings": min(len(v) for v in times.values())}
    for name, values in times.items():
        out[f"{name}_p50_ms"] = round(float(np.percentile(values, 50)), 2)
        out[f"{name}_p95_ms"] = round(float(np.percentile(values, 95)), 2)
    out["added_p50_ms"] = round(out["proxy_p50_ms"] - out["direct_p50_ms"], 2)
    out["added_p95_ms"] = round(out["proxy_p95_ms"] - out["direct_p95_ms"], 2)
    return out


def run_deploy(replicas: int, n: int, seconds: float = 20.0, start_timeout: float = 90.0,
               settle: float = 3.0, app_env: dict[str, str] | None = None) -> dict:
    """A fresh deploy of `replicas` behind HAProxy and `n` visitors through it; one run's figures."""
    with tempfile.TemporaryDirectory(prefix="bench-deploy-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        env = {**BENCH_SERVER_ENV, "MOODMUSIC_HOME": str(home), **{k: "" for k in NO_KEYS}, **(app_env or {})}
        deploy = LocalDeploy(replicas, free_port(), env=env, run_dir=Path(tmp) / "run", restart=False, echo=False)
        with deploy:
            first = deploy.members[0]
            assert deploy.proxy is not None and deploy.run_dir is not None
            pids = [r.child.pid for r in deploy.members if r.child is not None]
            proxy_pid = deploy.proxy.pid

            async def probe(done: asyncio.Event) -> dict:
                meter = CpuMeter(lambda: {proxy_pid})
                out = await ping_pair(_ws(first.url), _ws(deploy.url), f"{COOKIE}={first.name}", done)
                return out | {"proxy_cpu_cores": round(meter.cores(), 3)}

            async def idle_probe() -> dict:  # before any visitor: the proxy's own cost, without the load's noise
                done = asyncio.Event()
                done.set()
                return await ping_pair(_ws(first.url), _ws(deploy.url), f"{COOKIE}={first.name}", done, least=100,
                                       every=0.02)

            idle = asyncio.run(idle_probe())
            with rtc._light_media():
                m = asyncio.run(rtc._drive(_ws(deploy.url), [*pids, proxy_pid], n, seconds, start_timeout, settle,
                                           [deploy.run_dir / f"{r.name}.log" for r in deploy.members],
                                           affinity=True, probe=probe))
    run = rtc.summarise_visitors(m, seconds, start_timeout)
    probe_out = m.get("probe") or {}
    run["replicas"] = replicas
    run["proxy_cpu_cores"] = probe_out.pop("proxy_cpu_cores", None)
    run["proxy_ping_ms"] = probe_out
    run["proxy_ping_idle_ms"] = idle
    run["by_replica"] = {}
    for s in run["per_session"]:
        name = s.get("replica") or "?"
        run["by_replica"][name] = run["by_replica"].get(name, 0) + 1
    return run


def run_url(url: str, n: int, seconds: float = 20.0, start_timeout: float = 90.0, settle: float = 3.0) -> dict:
    """`n` visitors against a server at `url` (a deploy's proxy or one app); no server CPU is metered."""
    with rtc._light_media():
        m = asyncio.run(rtc._drive(_ws(url), None, n, seconds, start_timeout, settle, [], affinity=True))
    run = rtc.summarise_visitors(m, seconds, start_timeout)
    run["url"] = url
    run["by_replica"] = {}
    for s in run["per_session"]:
        if s.get("replica"):
            run["by_replica"][s["replica"]] = run["by_replica"].get(s["replica"], 0) + 1
    return run


def measure_replicas(counts: list[int], replicas: list[int], seconds: float = 20.0, min_fps: float = 10.0,
                     capture_fps: float | None = None, capture_sizes: list[str] | None = None) -> dict:
    """Every (replicas, sessions, camera size) in turn, each on a fresh deploy (sizes alternate innermost)."""
    runs = [run_deploy(r, n, seconds=seconds, app_env=env) | {"capture_size": size}
            for r in replicas for n in counts for size, env in camera_envs(capture_fps, capture_sizes)]
    return {"live_sessions": runs, "live_client": "aiortc", "live_replicas": replicas,
            "live_carry": sessions_per_core(runs, min_fps), "live_min_fps": min_fps}


def measure_url(url: str, counts: list[int], seconds: float = 20.0) -> dict:
    runs = [run_url(url, n, seconds=seconds) for n in counts]
    return {"live_sessions": runs, "live_client": "aiortc", "live_url": url}


def _fps(run: dict) -> tuple[float, float]:
    fps = [s["video_fps"] for s in run["per_session"]] or [0.0]
    return min(fps), float(np.median(fps))


def replicas_table(result: dict) -> str:
    """The summary a person compares: per replica count and session count, fps, latency, CPU, proxy cost."""
    lines = [
        ("live sessions through HAProxy (" + (f"at {result['live_url']}" if result.get("live_url") else
                                               "a fresh `deploy local` per run") +
         "): N headless aiortc visitors (the sample face at the page's camera size + speech), all on this machine"),
        f"{'R':>2} {'N':>2} {'camera':>8} {'fps min':>8} {'median':>7} {'latency ms':>11} {'max':>5} {'server CPU':>11} "
        f"{'proxy CPU':>10} {'per replica':>14} {'ping direct':>12} {'via proxy':>10} {'added':>6} {'idle added':>11} "
        f"{'machine busy':>13} {'load 1m':>11} {'failed':>7}",
    ]
    for r in result["live_sessions"]:
        lo, med = _fps(r)
        lat = [s["latency_ms"] for s in r["per_session"]] or [0.0]
        lat_max = max((s["latency_max_ms"] for s in r["per_session"]), default=0.0)
        ping = r.get("proxy_ping_ms") or {}
        spread = "/".join(f"{v}" for _, v in sorted(r.get("by_replica", {}).items())) or "-"
        load = r.get("load_avg_1m") or ("-", "-")
        lines.append(
            f"{r.get('replicas', '-'):>2} {r['sessions']:>2} {r.get('capture_size', '-'):>8} {lo:>8.0f} {med:>7.0f} {float(np.median(lat)):>11.0f} "
            f"{lat_max:>5.0f} {r['server_cpu_cores'] if r['server_cpu_cores'] else '-':>11} "
            f"{r.get('proxy_cpu_cores') if r.get('proxy_cpu_cores') is not None else '-':>10} {spread:>14} "
            f"{ping.get('direct_p50_ms', '-'):>12} {ping.get('proxy_p50_ms', '-'):>10} "
            f"{ping.get('added_p50_ms', '-'):>6} {(r.get('proxy_ping_idle_ms') or {}).get('added_p50_ms', '-'):>11} "
            f"{r.get('machine_busy_cores', '-'):>13} "
            f"{f'{load[0]}→{load[1]}':>11} {r['failed']:>7}"
        )
    lines.append("ping: websocket round trip to replica r1 in ms (p50), directly and through HAProxy, during the run "
                 "(idle added: the same before the visitors came); server CPU: every replica + HAProxy")
    for count in result.get("live_replicas") or [None]:
        runs = [r for r in result["live_sessions"] if r.get("replicas") == count]
        lines.append("")
        lines.append(f"{count} replica(s), per session:" if count else "per session:")
        carry = sessions_per_core(runs, result.get("live_min_fps", 10.0))
        lines += sessions_table({**result, "live_sessions": runs, "live_carry": carry}).splitlines()[1:]
    return "\n".join(lines)
