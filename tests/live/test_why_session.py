"""The live session keeps the face it read last, for the page's "Why?" (`LiveSession.latest_face`).

A real talking clip (MEAD speaker M030, shared data) through the real tracker
and face expert: the session exposes the crop the expert read on the latest
frame, by reference, with the expert's own probabilities and the frame's time;
None once there is no face, the camera stops, the reading is old, or the
session is closed. The explanation runs in the caller's thread while a video
thread keeps reading frames: the video thread never runs the heatmap's batch.
"""

from __future__ import annotations

import functools
import itertools
import threading
import time

import numpy as np
import pytest

from moodmusic.live import EngineConfig, new_session, pin_threads
from moodmusic.live.replay import SimulatedClock, replay_session
from moodmusic.live.session import VIDEO_THREAD
from moodmusic.ui.why_panel import explain_face, sentence
from moodmusic.vision import FaceTracker
from tests.live.conftest import wait_for

FPS = 25.0  # the clip's frame rate


@functools.cache
def loaded_experts():
    """The experts, loaded once for both "Why?" test modules (loading them takes seconds)."""
    from moodmusic.pipeline import load_experts

    return load_experts()


@pytest.fixture(scope="module")
def experts():
    experts = loaded_experts()
    if experts.face is None:
        pytest.skip("the face model is not loaded")
    return experts


@pytest.fixture(scope="module")
def talking(shared_data):
    path = shared_data / "video" / "mead_m030" / "M030_sad_level3_talking.mp4"
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    from moodmusic import media

    return [frame for _, frame in itertools.islice(media.iter_video_frames(path, fps=FPS), 50)]  # its first 2 s


def test_the_session_exposes_the_latest_crop_the_face_expert_read(experts, talking):
    clock = SimulatedClock()
    session = replay_session(experts, clock)
    step = 1.0 / FPS
    seen = []
    for i, frame in enumerate(talking):  # 2 s of a person talking
        clock.t = i * step
        session.on_video(frame)
        read = session.latest_face()
        assert read is not None, f"frame {i}: a face is in view, but no reading"
        assert read.crop.shape == (48, 48) and read.crop.dtype == np.uint8
        assert clock.t - read.at <= session.config.face_expert_every + step + 1e-9  # the latest reading
        if read.at == clock.t:  # the expert read this very frame: its crop, kept by reference, no copy
            assert read.crop is session._faces[0].crop
            seen.append(read)
    assert len(seen) >= 20, len(seen)  # the expert reads every second frame at 25 fps
    assert len({id(r.crop) for r in seen}) == len(seen)  # a new crop each time, the old ones left as they were
    assert any(not np.array_equal(a.crop, b.crop) for a, b in zip(seen, seen[1:]))  # the face moves as it talks
    last = seen[-1]
    np.testing.assert_allclose(np.asarray(experts.face(last.crop[None]))[0], last.probs, atol=1e-5)
    assert last.mood == "sad" and 0 < last.probability <= 1  # the face expert reads this clip as sad

    clock.t += 1.2  # no frame for 1.2 s: the reading is too old to stand for "now"
    assert session.latest_face() is None
    assert session.latest_face(max_age=2.0) is not None  # a caller may accept an older one...
    clock.t += 0.5
    assert session.latest_face(max_age=10.0) is None  # ...but not once the camera counts as off
    session.close()


def test_no_face_stopped_or_closed_gives_none(experts, face_frame, blank_frame):
    clock = SimulatedClock()
    session = replay_session(experts, clock)
    assert session.latest_face() is None  # nothing read yet
    session.on_video(face_frame)
    read = session.latest_face()
    assert read is not None and read.mood == "happy"  # the astronaut's smile
    clock.t = 0.04
    session.on_video(blank_frame)  # the face left the picture
    assert session.latest_face() is None
    clock.t = 0.08
    session.on_video(face_frame)
    assert session.latest_face() is not None
    session.close()
    assert session.latest_face() is None


def test_explaining_runs_in_the_callers_thread_while_the_video_goes_on(experts, talking):
    """The heatmap's 101-crop batch never runs on the video thread, and the video thread's own face reads
    go on while that batch runs: nothing serialises them (the graph runs without the GIL and takes no lock)."""
    calls: list[tuple[str, int, float, float]] = []  # thread, crops, start, end

    def face(crops: np.ndarray) -> np.ndarray:
        start = time.monotonic()
        out = experts.face(crops)
        calls.append((threading.current_thread().name, len(crops), start, time.monotonic()))
        return out

    def overlapping() -> int:
        """Video-thread reads that began and ended while a heatmap batch was running."""
        batches = [(a, b) for _, n, a, b in calls if n > 1]
        return sum(any(a < s0 and e0 < b for a, b in batches) for name, n, s0, e0 in calls if name == VIDEO_THREAD)

    pin_threads()  # as the page's server does (moodmusic.ui.resources): one torch thread per caller
    session = new_session(experts, tracker=FaceTracker(), config=EngineConfig(video_load=1.0), start_worker=False)
    session.face_model = face
    stop = threading.Event()

    def camera() -> None:  # a source's thread
        i = 0
        while not stop.is_set():
            session.on_video(talking[i % len(talking)])
            i += 1
            stop.wait(0.01)  # faster than a camera: frames are always waiting while it explains

    video = threading.Thread(target=camera, name=VIDEO_THREAD, daemon=True)
    video.start()
    try:
        assert wait_for(lambda: session.latest_face() is not None, 20), session.snapshot()
        read = session.latest_face()
        before, start, presses = session.snapshot().counters["video_processed"], time.monotonic(), 0
        # pressed again until the video thread has read faces during a heatmap batch (once is enough; a busy
        # box may need a few presses), for at most 10 s
        while presses == 0 or (overlapping() < 1 and time.monotonic() - start < 10):
            why = explain_face(face, read, session.clock())
            presses += 1
        during = session.snapshot().counters["video_processed"] - before
    finally:
        stop.set()
        video.join(5)
        session.close()
    assert why.picture.ndim == 3 and why.picture.shape[2] == 3 and why.mood == read.mood
    assert sentence(why).startswith("The face expert looked most at the ")
    video_batches = {n for name, n, _, _ in calls if name == VIDEO_THREAD}
    assert video_batches == {1}, video_batches  # the video thread reads one crop at a time, never a heatmap
    here = {n for name, n, _, _ in calls if name == threading.current_thread().name}
    assert here == {101}, here  # the explanation ran here, in the caller's thread
    print(f"explained {presses} times in {time.monotonic() - start:.2f} s (the last in {why.ms:.0f} ms); "
          f"{during} frames read meanwhile, {overlapping()} faces read during a heatmap batch")
    assert overlapping() >= 1  # the stream's face reads went on during the heatmap's batch
