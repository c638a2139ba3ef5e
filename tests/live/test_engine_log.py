"""The engine log: a real session's rates, written by the log's own thread, read back by the bench's parser."""

from __future__ import annotations

import logging
import time

import numpy as np
import pytest

from moodmusic.bench.report import EngineLog
from moodmusic.live import engine_log, load
from moodmusic.live.session import LiveSession


def test_rates_are_per_second_and_the_line_round_trips():
    before = {"video_frames": 10, "video_processed": 8, "audio_frames": 50, "voice_hops": 1, "errors": 1}
    after = {"video_frames": 40, "video_processed": 26, "video_stale": 3, "audio_frames": 150, "audio_stale": 1,
             "voice_hops": 5, "errors": 3}
    r = engine_log.rates(before, after, 2.0)
    assert r == {"video_in_fps": 15.0, "video_fps": 9.0, "video_late_fps": 1.5, "audio_fps": 50.0,
                 "audio_late_fps": 0.5, "voice_hops_per_s": 2.0, "errors": 2}
    parsed = engine_log.parse_line("2026-11-29 01:00:00,000 " + engine_log.format_line("beef", r))
    assert parsed == {**{k: float(v) for k, v in r.items() if k != "errors"}, "engine": "beef", "errors": 2}
    assert engine_log.parse_line("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.") is None


def test_off_unless_a_period_is_set():
    assert engine_log.start(0) is False


def test_a_watched_session_is_logged_and_the_bench_reads_it(speech_frames, tmp_path, monkeypatch):
    log_file = tmp_path / "server.log"
    handler = logging.FileHandler(log_file)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logger = logging.getLogger("moodmusic.live.engine_log")
    monkeypatch.setattr(logger, "handlers", [handler])  # the log's own stderr handler stays out of the way
    monkeypatch.setattr(logger, "level", logging.INFO)
    log_file.write_text("lines from before the window\n")
    reader = EngineLog(log_file)
    session = LiveSession(None, None, start_worker=False)
    load.register(session)
    assert engine_log.start(0.2)
    t0 = time.monotonic()
    i = 0
    while time.monotonic() - t0 < 1.5:  # 50 audio frames a second, in real time
        session.on_audio(speech_frames[i % len(speech_frames)], rate=48000, channels=2)
        i += 1
        time.sleep(max(0.0, t0 + i * 0.02 - time.monotonic()))
    session.close()
    time.sleep(0.3)  # a closed session is no longer logged
    handler.flush()
    engines = reader.engines()
    assert len(engines) >= 1
    ours = max(engines, key=lambda e: e["audio_fps"])  # other tests' open sessions are logged too, at 0/s
    assert ours["lines"] >= 3 and ours["audio_fps"] == pytest.approx(50, abs=8) and ours["video_fps"] == 0.0
    lines_now = len(log_file.read_text().splitlines())
    time.sleep(0.5)
    assert len(log_file.read_text().splitlines()) == lines_now and np.isfinite(ours["audio_fps"])


def test_the_sessions_table_shows_what_the_pages_and_the_engines_saw(tmp_path):
    from moodmusic.bench.report import run_summary, sessions_table, summarise_session

    log_file = tmp_path / "server.log"
    log_file.write_text("")
    reader = EngineLog(log_file)
    rows = [engine_log.format_line(name, engine_log.rates({}, {"video_frames": 2 * v, "video_processed": 2 * p,
                                                               "audio_frames": 100, "voice_hops": 4}, 2.0))
            for name, v, p in (("aaaa", 6, 4), ("bbbb", 6, 5), ("aaaa", 6, 6), ("aaaa", 6, 5))]
    log_file.write_text("\n".join(rows) + "\n")
    engines = reader.engines()
    assert [(e["video_fps"], e["lines"]) for e in engines] == [(5.0, 3), (5.0, 1)]  # medians per engine
    page = {"session": 1, "error": None, "first_mood_s": 2.0}
    summarise_session(page, [])  # a page that never showed its status line
    run = run_summary([page], 20.0, 1.0, {}, (600.0, 610.0), engines, client="aiortc", client_cpu_cores=0.3)
    table = sessions_table({"live_sessions": [run], "live_client": "aiortc", "live_carry": None})
    assert "no status line" in table and "the same windows as the server's engines saw them" in table
    assert table.count("        6.0     5.0") == 2  # both engines' rows, though the page showed nothing
