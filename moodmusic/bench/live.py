"""Glass-to-mood latency: how long after a face appears or changes the live engine says so.

A clip is built from real face images held for a few seconds each: a blank
wall, face A, face B, the blank wall again. It plays in real time through
`FilePlayer` into a real `LiveSession` with the real experts, exactly as a
camera would deliver it, while the snapshot is polled every few milliseconds.
Reported (seconds, measured from the frame where the picture changed):

- `first_mood_s`: blank → A, until the engine shows a mood at all;
- `switch_s`: A → B, until the engine shows the mood it settles on for B
  (None when both faces read as the same mood: then there is no change to time);
- `clear_s`: B → blank, until the engine stops showing a mood.

The faces default to two public-domain portraits in `tests/fixtures/faces/`:
the astronaut framed as in `samples.face_frame` (A, read as happy) and Grace
Hopper (B, read as neutral), so the default run times a real expression
change. Other photos can be passed (`faces=(a, b)`, paths or BGR arrays); when
both read as the same mood, `switch_s` is None with a note saying so. The last
blank lasts long enough for the engine to forget the face (`forget_after`).

Run: `python -m moodmusic.bench.live [A.jpg B.jpg]`.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from moodmusic.samples import make_clip

FPS = 15


def place(image: np.ndarray, width: int = 640, height: int = 480, face_height: int = 300) -> np.ndarray:
    """A BGR image scaled to `face_height` rows and centred on a grey, webcam-sized wall."""
    import cv2

    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    scale = min(face_height / image.shape[0], (width - 20) / image.shape[1])
    image = cv2.resize(image, (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))),
                       interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    frame = np.full((height, width, 3), 90, np.uint8)
    h, w = image.shape[:2]
    y, x = (height - h) // 2, (width - w) // 2
    frame[y : y + h, x : x + w] = image
    return frame


def _read(image: str | Path | np.ndarray) -> np.ndarray:
    if isinstance(image, np.ndarray):
        return image
    from moodmusic.media import read_image

    return read_image(image)


def default_faces() -> tuple[np.ndarray, np.ndarray]:
    """The astronaut's head (as in `samples.face_frame`) and Grace Hopper's."""
    from moodmusic.samples import face_photo, second_face

    return face_photo()[0:300, 100:330], second_face()


def glass_to_mood(
    faces: tuple[str | Path | np.ndarray, str | Path | np.ndarray] | None = None,
    hold: float = 6.0,
    models_dir: str | Path | None = None,
    experts: object | None = None,
    poll: float = 0.01,
    config: object | None = None,
) -> dict:
    """Play blank → A → B → blank (each `hold` s) through the engine; report the delays in seconds.

    `experts` defaults to `load_experts(models_dir)`; `config` to the engine's defaults.
    """
    from moodmusic.config import load_settings
    from moodmusic.live import EngineConfig, new_session, pin_threads
    from moodmusic.live.sources.file import FilePlayer
    from moodmusic.moods import MOODS
    from moodmusic.pipeline import load_experts
    from moodmusic.vision import FaceTracker

    pin_threads()
    if experts is None:
        experts = load_experts(models_dir or load_settings().models_dir)
    if experts.face is None:  # type: ignore[attr-defined]
        raise RuntimeError("glass_to_mood needs the face model: " + "; ".join(experts.problems))  # type: ignore[attr-defined]
    a, b = (_read(x) for x in (faces or default_faces()))
    frame_a, frame_b = place(a), place(b)
    blank = np.full_like(frame_a, 90)

    def steady_mood(frame: np.ndarray) -> str | None:
        tracker = FaceTracker()
        found = []
        for _ in range(3):
            found = tracker.process(frame)
        if not found:
            return None
        return MOODS[int(np.argmax(experts.face(found[0].crop[None])[0]))]  # type: ignore[attr-defined]

    mood_a, mood_b = steady_mood(frame_a), steady_mood(frame_b)
    if mood_a is None or mood_b is None:
        raise RuntimeError("no face found in " + ("A" if mood_a is None else "B"))
    changes = {"A": hold, "B": 2 * hold, "blank": 3 * hold}
    config = config or EngineConfig()
    tail = max(hold, config.forget_after + 2.0)  # type: ignore[attr-defined]
    result: dict = {"hold_s": hold, "fps": FPS, "mood_a": mood_a, "mood_b": mood_b}
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_clip(
            Path(tmp) / "glass.mp4", [(blank, hold), (frame_a, hold), (frame_b, hold), (blank, tail)], fps=FPS
        )
        session = new_session(experts, config=config, audio=False)  # type: ignore[arg-type]
        player = FilePlayer(session, clip, audio=False)
        seen: list[tuple[float, str | None, str]] = []
        player.start()
        try:
            while player.started_at is None and player.running:
                time.sleep(0.001)
            start = player.started_at or time.monotonic()
            while player.running:
                snap = session.snapshot()
                t = time.monotonic() - start
                if not seen or (snap.mood, snap.state) != seen[-1][1:]:
                    seen.append((t, snap.mood, snap.state))
                time.sleep(poll)
        finally:
            player.stop()
            session.close()
        if player.error:
            raise RuntimeError(f"playback failed: {player.error}")
    result["first_mood_s"] = _delay(seen, changes["A"], lambda m, s: m is not None)
    if mood_a == mood_b:
        result["switch_s"] = None
        result["switch_note"] = f"both faces read as {mood_a}: no mood change to time; pass faces with different expressions"
    else:
        result["switch_s"] = _delay(seen, changes["B"], lambda m, s: m == mood_b)
    result["clear_s"] = _delay(seen, changes["blank"], lambda m, s: m is None)
    result["events"] = [(round(t, 3), m, s) for t, m, s in seen]
    return result


def _delay(seen: list[tuple[float, str | None, str]], at: float, hit) -> float | None:
    for t, mood, state in seen:
        if t >= at and hit(mood, state):
            return round(t - at, 3)
    return None


def summary(result: dict) -> dict:
    """The figures `bench` prints (no event list)."""
    keys = ("first_mood_s", "switch_s", "clear_s", "mood_a", "mood_b", "hold_s")
    return {f"glass_{k}": result.get(k) for k in keys}


if __name__ == "__main__":  # python -m moodmusic.bench.live [A.jpg B.jpg]
    import json
    import sys

    args = sys.argv[1:]
    out = glass_to_mood(tuple(args[:2]) if len(args) >= 2 else None)  # type: ignore[arg-type]
    print(json.dumps(out))
