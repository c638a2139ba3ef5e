"""Real talking clips through the live engine on a simulated clock: is the shown mood steady and right?

Still photos pass every check while talking faces fail: mid-word the mouth
opens, and a face model trained on stills reads surprise. This plays real
talking clips (by default the MEAD speaker in the shared data folder, see
its README) through a `LiveSession` on a simulated clock at the clip's own
frame rate, looped for `seconds`, with its sound when it has one, and reads
the snapshot four times a second as the page does. It reports, per clip:

- switches a minute of the shown mood (target at most 8),
- the share of readings that show the clip's mood (target at least 75%),

and, for consecutive clips the engine reads right, how long a real change of
expression takes to show (clip A for `hold` seconds, then clip B).
The clock is simulated, so the figures say what the engine decides, not how
fast this machine is; `bench --glass` and `bench --live` time the real thing.
`python -m moodmusic bench --talking` prints it (`bench/talking.py`), and
`evaluate` puts it in the model card.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from moodmusic.moods import MOODS

READS_PER_SECOND = 4.0  # the page's mood fragment
MEAD_MOODS = {"angry": "angry", "fear": "fear", "happy": "happy", "neutral": "neutral", "sad": "sad",
              "surprised": "surprise"}


@dataclass(frozen=True)
class Clip:
    path: Path
    mood: str
    frames: list[np.ndarray]
    fps: float
    audio: np.ndarray | None  # 16 kHz mono float32


class SimulatedClock:
    """The engine's clock, moved by the replay: frames arrive exactly when the clip says."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def shared_talking_clips(data_dir: str | Path | None = None) -> list[tuple[Path, str]]:
    """The MEAD speaker's clips in our six moods, from the shared data folder (empty if it is absent)."""
    root = Path(data_dir or os.environ.get("MOODMUSIC_SHARED_DATA", Path(__file__).parents[3] / "shared" / "data"))
    found = []
    for path in sorted((root / "video" / "mead_m030").glob("*.mp4")):
        parts = path.stem.split("_")
        label = parts[2] if parts[1] == "front" else parts[1]
        if label in MEAD_MOODS:
            found.append((path, MEAD_MOODS[label]))
    return found


def mood_of(path: Path) -> str | None:
    """A clip's mood from its name: the first of our moods (or MEAD's spelling) found in it."""
    words = Path(path).stem.lower().replace("-", "_").split("_")
    for word in words:
        if word in MEAD_MOODS:
            return MEAD_MOODS[word]
        if word in MOODS:
            return word
    return None


def load_clip(path: Path, mood: str, fps: float = 25.0) -> Clip:
    from moodmusic import media

    info = media.probe(path)
    frames = [frame for _, frame in media.iter_video_frames(path, fps=fps)]
    audio = media.read_audio(path) if info.has_audio else None
    return Clip(Path(path), mood, frames, fps, audio)


def replay_session(experts: Any, clock: SimulatedClock, config: Any = None) -> Any:
    """A session as the page builds it, on the simulated clock (which also meters its work: no frame is skipped)."""
    from moodmusic.live import new_session
    from moodmusic.vision import FaceTracker

    session = new_session(experts, tracker=FaceTracker(), config=config, start_worker=False)
    session.clock = session.work_clock = clock
    return session


def play(session: Any, clock: SimulatedClock, clips: list[tuple[Clip, float]], start: float = 0.0) -> list[tuple[float, str | None]]:
    """Play each (clip, seconds) in turn (looped) into `session`; the shown mood 4 times a second."""
    shown: list[tuple[float, str | None]] = []
    t = start
    hop = session.config.hop_seconds
    next_hop, next_read = t + hop, t
    for clip, seconds in clips:
        step = 1.0 / clip.fps
        samples_per_frame = int(round(16000 * step))
        pos = 0
        for i in range(int(round(seconds * clip.fps))):
            clock.t = t
            session.on_video(clip.frames[i % len(clip.frames)])
            if clip.audio is not None and len(clip.audio):
                chunk = np.take(clip.audio, np.arange(pos, pos + samples_per_frame), mode="wrap")
                pos += samples_per_frame
                session.on_audio(np.round(chunk * 32767).astype(np.int16)[None], 16000, 1)
            if t >= next_hop:
                session.voice_step()
                next_hop += hop
            if t >= next_read:
                shown.append((t, session.snapshot().mood))
                next_read += 1.0 / READS_PER_SECOND
            t += step
    return shown


def steadiness(shown: list[tuple[float, str | None]], mood: str) -> dict[str, float]:
    """Switches a minute of the shown mood and the share of readings that show `mood`."""
    moods = [m for _, m in shown if m is not None]
    if len(shown) < 2:
        return {"switches_per_min": 0.0, "right_share": 0.0}
    minutes = (shown[-1][0] - shown[0][0]) / 60.0
    switches = sum(a != b for a, b in zip(moods, moods[1:]))
    return {"switches_per_min": round(switches / max(minutes, 1e-9), 2),
            "right_share": round(sum(m == mood for m in moods) / max(1, len(shown)), 3)}


def talking_report(paths: list[tuple[Path, str]], experts: Any = None, seconds: float = 40.0,
                   hold: float = 10.0, config: Any = None) -> dict[str, Any]:
    """Steadiness per clip and change delays between consecutive clips the engine reads right."""
    if experts is None:
        from moodmusic.pipeline import load_experts

        experts = load_experts()
    clips = [load_clip(p, m) for p, m in paths]
    rows = []
    for clip in clips:
        clock = SimulatedClock()
        session = replay_session(experts, clock, config)
        shown = play(session, clock, [(clip, seconds)])
        shown = [(t, m) for t, m in shown if t >= 2.0]  # after the first reading has settled
        counts = Counter(m for _, m in shown)
        rows.append({"clip": clip.path.name, "mood": clip.mood, "sound": clip.audio is not None,
                     **steadiness(shown, clip.mood), "shown": dict(counts.most_common(3))})
        session.close()
    right = [c for c, r in zip(clips, rows) if r["right_share"] >= 0.5]
    changes = []
    for a, b in zip(right, right[1:]):
        if a.mood == b.mood:
            continue
        clock = SimulatedClock()
        session = replay_session(experts, clock, config)
        shown = play(session, clock, [(a, hold), (b, hold)])
        session.close()
        after = [(t - hold, m) for t, m in shown if t >= hold]
        delay = next((t for t, m in after if m == b.mood), None)
        changes.append({"from": a.mood, "to": b.mood, "delay_s": None if delay is None else round(delay, 2)})
    return {"talking_clips": rows, "talking_changes": changes,
            "talking_switches_per_min_max": max((r["switches_per_min"] for r in rows), default=None),
            "talking_right_share_min": min((r["right_share"] for r in rows), default=None)}
