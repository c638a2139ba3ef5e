"""The live session keeps the face it read last, for the page's "Why?" (`LiveSession.latest_face`).

A real talking clip (MEAD speaker M030, shared data) through the real tracker
and face expert: the session exposes the crop the expert read on the latest
frame, by reference, with the expert's own probabilities and the frame's time;
None once there is no face, the camera stops, the reading is old, or the
session is closed. The explanation runs in the caller's thread while a video
thread keeps reading frames: the video thread never runs the heatmap's batch.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from moodmusic.live import EngineConfig, new_session, pin_threads
from moodmusic.live.replay import SimulatedClock, load_clip, replay_session
from moodmusic.live.session import VIDEO_THREAD
from moodmusic.ui.why_panel import explain_face, sentence
from moodmusic.vision import FaceTracker
from tests.live.conftest import wait_for


@pytest.fixture(scope="module")
def experts():
    from moodmusic.pipeline import load_experts

    experts = load_experts()
    if experts.face is None:
        pytest.skip("the face model is not loaded")
    return experts


@pytest.fixture(scope="module")
def talking(shared_data):
    path = shared_data / "video" / "mead_m030" / "M030_sad_level3_talking.mp4"
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    return load_clip(path, "sad")


def test_the_session_exposes_the_latest_crop_the_face_expert_read(experts, talking):
    clock = SimulatedClock()
    session = replay_session(experts, clock)
    step = 1.0 / talking.fps
    seen = []
    for i, frame in enumerate(talking.frames[:50]):  # 2 s of a person talking
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
    """The heatmap's 101-crop batch never runs on the video thread, and frames keep being read meanwhile."""
    calls: list[tuple[str, int]] = []

    def face(crops: np.ndarray) -> np.ndarray:
        calls.append((threading.current_thread().name, len(crops)))
        return experts.face(crops)

    pin_threads()  # as the page's server does (moodmusic.ui.resources): one torch thread per caller
    session = new_session(experts, tracker=FaceTracker(), config=EngineConfig(video_load=1.0), start_worker=False)
    session.face_model = face
    stop = threading.Event()

    def camera() -> None:  # a source's thread
        i = 0
        while not stop.is_set():
            session.on_video(talking.frames[i % len(talking.frames)])
            i += 1
            stop.wait(0.01)  # faster than a camera: frames are always waiting while it explains

    video = threading.Thread(target=camera, name=VIDEO_THREAD, daemon=True)
    video.start()
    try:
        assert wait_for(lambda: session.latest_face() is not None, 20), session.snapshot()
        read = session.latest_face()
        before, start, presses = session.snapshot().counters["video_processed"], time.monotonic(), 0
        while presses == 0 or time.monotonic() - start < 0.5:  # pressed again until half a second has passed
            why = explain_face(face, read, session.clock())
            presses += 1
        during = session.snapshot().counters["video_processed"] - before
    finally:
        stop.set()
        video.join(5)
        session.close()
    assert why.picture.ndim == 3 and why.picture.shape[2] == 3 and why.mood == read.mood
    assert sentence(why).startswith("The face expert looked most at the ")
    video_batches = {n for name, n in calls if name == VIDEO_THREAD}
    assert video_batches == {1}, video_batches  # the video thread reads one crop at a time, never a heatmap
    assert (threading.current_thread().name, 101) in calls  # the explanation ran here, in the caller's thread
    print(f"explained {presses} times in {time.monotonic() - start:.2f} s (the last in {why.ms:.0f} ms); "
          f"{during} frames read meanwhile")
    assert during >= 3  # the stream went on while it was computed (about 10 fps here, on a busy box)
