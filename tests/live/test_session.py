"""The live engine fed real frames and real speech, with a hand-driven clock."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from moodmusic.audio.speaker import prior_from_meta
from moodmusic.live.session import EngineConfig, LiveSession
from moodmusic.moods import MOODS
from moodmusic.pipeline import load_experts
from tests.live.conftest import Clock, wait_for


@pytest.fixture(scope="module")
def experts():
    e = load_experts()
    assert e.face is not None and e.voice is not None, e.problems
    return e


def feed_video(session, frame, clock, seconds, fps=15):
    for _ in range(int(seconds * fps)):
        session.on_video(frame)
        clock.advance(1 / fps)


def feed_audio(session, frames, clock, hop=0.5):
    """Push 20 ms frames in real order, running a voice step every hop like the worker."""
    since = 0.0
    for f in frames:
        session.on_audio(f, rate=48000, channels=2)
        clock.advance(0.02)
        since += 0.02
        if since >= hop:
            session.voice_step()
            since = 0.0


def feed_both(session, face_frame, speech_frames, clock):
    """Speech in 20 ms frames with the camera at about 17 fps beside it, a voice step every 0.5 s."""
    for i, f in enumerate(speech_frames):
        session.on_audio(f, rate=48000, channels=2)
        if i % 3 == 0:
            session.on_video(face_frame)
        clock.advance(0.02)
        if i % 25 == 24:
            session.voice_step()


def make(experts, clock, face=True, voice=True, learn_speaker=True, **cfg):
    """A session as the app builds it: the voice models read features measured against the speaker."""
    return LiveSession(
        experts.face if face else None, experts.voice if voice else None,
        config=EngineConfig(**cfg), clock=clock, start_worker=False,
        speaker=prior_from_meta(experts.voice_norm), learn_speaker=learn_speaker,
    )


def test_the_session_learns_the_speaker_from_voiced_windows_only(experts, clock, speech_frames, silence_frames):
    seen: dict[str, list[np.ndarray]] = {"learning": [], "fixed": []}

    def recording(name):
        def voice(feats):
            seen[name].append(np.array(feats))
            return experts.voice(feats)
        return voice

    prior = prior_from_meta(experts.voice_norm)
    learning, fixed = (LiveSession(None, recording(name), clock=clock, start_worker=False, speaker=prior,
                                   learn_speaker=(name == "learning")) for name in ("learning", "fixed"))
    for s in (learning, fixed):
        feed_audio(s, silence_frames + silence_frames, clock)  # 6 s of silence teach it nothing
        assert s._speaker.windows == 0 and s.snapshot().voice_state == "silence"
        silent_hops = s.snapshot().counters["voice_hops"]
        feed_audio(s, speech_frames + speech_frames, clock)
    voiced = len(seen["learning"])
    assert silent_hops > 0 and voiced >= 3 and learning._speaker.windows == voiced and fixed._speaker.windows == 0
    assert learning.snapshot().voice_learnt_s == pytest.approx(voiced * 0.5)  # what the page says it has learnt
    assert fixed.snapshot().voice_learnt_s is None
    a, b = np.concatenate(seen["learning"]), np.concatenate(seen["fixed"])
    first, last = np.abs(a[0] - b[0]).mean(), np.abs(a[-1] - b[-1]).mean()
    print(f"learning vs prior alone: first window {first:.3f}, last {last:.3f} (mean |difference|)")
    assert first < 0.2  # one window heard: still mostly the prior's view
    assert last > 3 * first  # later ones are measured against this speaker more and more


def test_waiting_then_no_face_then_face_then_mood(experts, clock, face_frame, blank_frame):
    s = make(experts, clock)
    assert s.snapshot().state == "waiting"
    feed_video(s, blank_frame, clock, 1.0)
    snap = s.snapshot()
    assert (snap.state, snap.face_state, snap.mood) == ("no face", "no face", None)
    feed_video(s, face_frame, clock, 1.0)
    snap = s.snapshot()
    assert snap.face_state == "face" and snap.state == "mood"
    assert snap.mood in MOODS and 0 < snap.confidence <= 1
    assert snap.face is not None and snap.face.weight == pytest.approx(1.0)
    assert snap.voice is None and snap.voice_state == "off"
    assert snap.counters["video_processed"] > 0 and snap.counters["errors"] == 0
    assert snap.timeline and snap.timeline[-1][1] == snap.mood


def test_silence_then_speech(experts, clock, silence_frames, speech_frames):
    s = make(experts, clock, face=False)
    feed_audio(s, silence_frames, clock)
    snap = s.snapshot()
    assert (snap.voice_state, snap.state, snap.mood) == ("silence", "silence", None)
    assert snap.audio_level_db < -80
    feed_audio(s, speech_frames, clock)
    snap = s.snapshot()
    assert snap.voice_state == "speech" and snap.state == "mood" and snap.mood in MOODS
    assert snap.voice is not None and snap.voice.quality > 0
    assert snap.audio_level_db > -60
    assert snap.counters["audio_frames"] == len(silence_frames) + len(speech_frames)


def test_both_modalities_share_the_weight(experts, clock, face_frame, speech_frames):
    s = make(experts, clock)
    feed_both(s, face_frame, speech_frames, clock)
    snap = s.snapshot()
    assert snap.face is not None and snap.voice is not None
    assert snap.face.weight + snap.voice.weight == pytest.approx(1.0)
    assert 0 < snap.face.weight < 1


def test_old_evidence_fades_then_is_forgotten(experts, clock, face_frame, blank_frame):
    """The face leaves while the camera stays on: its last opinion fades, and goes after `forget_after`.
    (A camera that stops is another matter: see `test_when_the_camera_stops_its_opinion_goes_at_once`.)"""
    s = make(experts, clock, forget_after=4.0)
    feed_video(s, face_frame, clock, 1.0)
    assert s.snapshot().mood is not None
    feed_video(s, blank_frame, clock, 2.0)  # the face left: its evidence is 2 s old, the camera is on
    snap = s.snapshot()
    assert snap.face_state == "no face" and snap.face.age == pytest.approx(2.0, abs=0.15)
    feed_video(s, blank_frame, clock, 3.0)
    snap = s.snapshot()
    assert snap.mood is None and snap.state == "no face" and snap.face is None


def counting_voice(experts, calls: list):
    def voice(feats):
        calls.append(1)
        return experts.voice(feats)
    return voice


def test_when_the_microphone_stops_no_voice_opinion_is_formed_and_the_mood_goes(experts, clock, speech_frames):
    """The worker keeps stepping every hop until `idle_timeout`, and the ring still holds the last window:
    that window must not be read again as fresh speech (the phantom "Mood: surprise, 0.3 s ago" after STOP)."""
    calls: list = []
    s = LiveSession(None, counting_voice(experts, calls), config=EngineConfig(forget_after=10.0), clock=clock,
                    start_worker=False, speaker=prior_from_meta(experts.voice_norm))
    feed_audio(s, speech_frames, clock)
    s.voice_step()  # the worker's next hop reads the audio that came since its last one
    snap = s.snapshot()
    assert snap.mood is not None and snap.voice is not None and snap.voice_state == "speech"
    shown, read, hops, stopped = snap.mood, len(calls), snap.counters["voice_hops"], clock()
    timeout = s.config.signal_timeout
    for _ in range(6):  # 3 s of the worker's hops with no audio arriving
        clock.advance(0.5)
        s.voice_step()
        snap = s.snapshot()
        assert len(calls) == read and snap.counters["voice_hops"] == hops  # no window read, no opinion formed
        if clock() - stopped < timeout:  # what arrived still counts, ageing, for at most signal_timeout
            assert snap.voice is not None and snap.voice.age >= clock() - stopped - 0.5
        else:  # the microphone is off: no evidence, no current mood, only the last one
            assert (snap.mood, snap.voice, snap.voice_state, snap.state) == (None, None, "off", "no signal")
            assert snap.last_mood == shown and stopped - 0.5 <= snap.last_mood_at < stopped + timeout
    feed_audio(s, speech_frames[:50], clock)  # speech again: read at once
    assert len(calls) > read and s.snapshot().voice is not None


def test_when_the_camera_stops_its_opinion_goes_at_once(experts, clock, face_frame):
    """Not `forget_after` (here 10 s) later: a camera sending nothing contributes nothing once it is off."""
    s = make(experts, clock, voice=False, forget_after=10.0)
    feed_video(s, face_frame, clock, 1.0)
    shown, stopped = s.snapshot().mood, clock()
    assert shown is not None
    clock.advance(s.config.signal_timeout - 0.2)  # frames may be late: the last reading stands a moment
    snap = s.snapshot()
    assert snap.mood == shown and snap.face_state == "face"
    clock.advance(0.2)
    snap = s.snapshot()
    assert (snap.mood, snap.face, snap.face_state, snap.state) == (None, None, "off", "no signal")
    assert snap.last_mood == shown and stopped - 0.1 <= snap.last_mood_at < clock()
    clock.advance(20.0)  # it stays so, however long the page watches
    snap = s.snapshot()
    assert snap.mood is None and snap.last_mood == shown and snap.updated - snap.last_mood_at > 20.0


def test_stop_with_face_and_voice_leaves_no_mood_and_a_stopped_microphone_no_voice(
        experts, clock, face_frame, speech_frames):
    s = make(experts, clock, forget_after=10.0)
    feed_both(s, face_frame, speech_frames, clock)
    snap = s.snapshot()
    assert snap.face is not None and snap.voice is not None and snap.mood is not None
    feed_video(s, face_frame, clock, 2.0)  # the microphone stopped, the camera goes on
    snap = s.snapshot()
    assert snap.voice is None and snap.voice_state == "off" and snap.face.weight == pytest.approx(1.0)
    assert snap.mood is not None
    shown = snap.mood
    for _ in range(4):  # then the camera too (STOP): the worker's hops find no new audio
        clock.advance(0.5)
        s.voice_step()
    snap = s.snapshot()
    assert (snap.mood, snap.face, snap.voice, snap.state) == (None, None, None, "no signal")
    assert snap.last_mood == shown


def test_an_audio_file_that_ends_leaves_no_mood_and_the_worker_reads_nothing_more(experts):
    """A sound file played without Loop, through the real voice worker on the real clock, to its end."""
    from moodmusic import samples
    from moodmusic.live.sources.file import FilePlayer

    calls: list = []
    config = EngineConfig(signal_timeout=0.5)
    with LiveSession(None, counting_voice(experts, calls), config=config,
                     speaker=prior_from_meta(experts.voice_norm)) as s:
        player = FilePlayer(s, samples.SPEECH_DIR / "fox.flac").start()
        assert wait_for(lambda: s.snapshot().mood is not None, 8), s.snapshot()
        shown = s.snapshot().mood
        assert player.wait(timeout=8) and player.error is None
        time.sleep(config.hop_seconds + 0.1)  # the worker's last hop over the file's last audio
        read = len(calls)
        time.sleep(config.signal_timeout + 2 * config.hop_seconds)
        snap = s.snapshot()
        assert s.worker_alive  # still stepping every hop (until idle_timeout) ...
        assert len(calls) == read  # ... but reading nothing: no audio arrived
        assert (snap.mood, snap.voice, snap.state) == (None, None, "no signal")
        assert snap.last_mood is not None and snap.updated - snap.last_mood_at >= config.signal_timeout
        assert shown is not None


def test_a_raising_step_does_not_stop_the_stream(experts, clock, face_frame):
    calls = {"n": 0}

    def flaky(crops):
        calls["n"] += 1
        if calls["n"] % 2:
            raise RuntimeError("boom")
        return experts.face(crops)

    s = LiveSession(flaky, None, clock=clock, start_worker=False)
    out = []
    for _ in range(6):
        out.append(s.on_video(face_frame))
        clock.advance(0.1)
    assert all(o.shape == face_frame.shape for o in out)
    snap = s.snapshot()
    assert snap.counters["video_errors"] == 3 and snap.counters["errors"] == 3
    assert snap.mood is not None  # the good frames still got through


def test_garbage_audio_is_counted_not_fatal(experts, clock, speech_frames):
    s = make(experts, clock, face=False)
    s.on_audio(np.zeros((1, 7), np.int16), rate=48000, channels=2)  # odd samples for stereo
    s.on_audio(np.zeros((1, 1920), np.int16), rate=-5, channels=2)  # impossible rate
    feed_audio(s, speech_frames, clock)
    snap = s.snapshot()
    assert snap.counters["audio_errors"] == 2 and snap.mood is not None


def test_over_budget_frames_are_skipped_not_queued(experts, face_frame):
    def slow(crops):  # 30 ms of work: the budget counts CPU time, so a sleep would be free
        end = time.thread_time() + 0.03
        while time.thread_time() < end:
            pass
        return experts.face(crops)

    # Frames arrive at 30 fps on a hand-made clock, and each step's cost is its real CPU time: how many
    # frames the budget lets through then depends on the code, not on how busy the machine is.
    clock = Clock()
    s = LiveSession(slow, None, config=EngineConfig(video_load=0.5), start_worker=False, clock=clock,
                    work_clock=time.thread_time)
    started = time.thread_time()
    for _ in range(40):  # 1.3 s of camera at 30 fps: half a core holds about 20 frames of 30 ms
        s.on_video(face_frame)
        clock.advance(1 / 30)
    spent = time.thread_time() - started
    c = s.snapshot().counters
    assert c["video_skipped"] > 0 and c["video_processed"] + c["video_skipped"] == 40
    # Each processed frame costs >= 30 ms; skipped ones return at once, so the burst
    # costs about processed x cost, not 40 x cost.
    assert spent < 40 * 0.03
    assert c["video_processed"] < 40


def test_waiting_is_not_charged_as_work(experts, face_frame):
    """A step that waits (for the GIL, for a core the browser holds) costs wall time, not CPU: no frame is skipped for it."""
    from moodmusic.live import pin_threads

    pin_threads()  # as the page does: with a second torch thread, the caller spins (CPU) while it waits for it

    def waiting(crops):
        time.sleep(0.03)
        return experts.face(crops)

    s = LiveSession(waiting, None, config=EngineConfig(video_load=1.0), start_worker=False)
    for _ in range(20):
        s.on_video(face_frame)
    snap = s.snapshot()
    assert snap.counters["video_processed"] == 20 and snap.counters["video_skipped"] == 0
    assert snap.video_ms < 30  # the status line's step cost is the CPU the step used


def test_camera_only_and_microphone_only_sessions(experts, clock, face_frame, speech_frames):
    cam = make(experts, clock, voice=False)
    feed_video(cam, face_frame, clock, 0.5)
    assert cam.snapshot().mood is not None
    mic = make(experts, clock, face=False)
    feed_audio(mic, speech_frames, clock)
    assert mic.snapshot().mood is not None


@pytest.mark.parametrize("feed", ["on_audio", "post_audio"])  # buffered at once, or queued for the worker
def test_worker_starts_with_audio_reads_every_hop_and_stops_on_close(experts, speech_frames, feed):
    before = threading.active_count()
    s = LiveSession(None, experts.voice, config=EngineConfig(hop_seconds=0.05))
    assert not s.worker_alive
    for f in speech_frames[:150]:
        getattr(s, feed)(f, rate=48000, channels=2)
    assert s.worker_alive
    assert wait_for(lambda: s.snapshot().counters["voice_hops"] > 0, 5)
    snap = s.snapshot()
    assert snap.counters["audio_frames"] == 150 and snap.voice is not None
    s.close()
    getattr(s, feed)(speech_frames[0], rate=48000, channels=2)  # after close: no thread comes back
    assert not s.worker_alive and threading.active_count() == before


def test_worker_exits_by_itself_when_audio_stops(experts, speech_frames):
    s = LiveSession(None, experts.voice, config=EngineConfig(hop_seconds=0.02, idle_timeout=0.2))
    for f in speech_frames[:120]:
        s.on_audio(f, rate=48000, channels=2)
    assert s.worker_alive
    deadline = time.monotonic() + 5
    while s.worker_alive and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not s.worker_alive
    s.on_audio(speech_frames[0], rate=48000, channels=2)  # audio returns: the worker comes back
    assert s.worker_alive
    s.close()


def test_posted_audio_is_buffered_by_the_worker_and_gives_the_same_evidence(experts, speech_frames):
    """post_audio only queues (what the event loop's callback does); the worker's hop buffers it in order."""
    direct = LiveSession(None, experts.voice, start_worker=False)
    posted = LiveSession(None, experts.voice, start_worker=False)
    for hop in range(6):  # 3 s of speech, a voice step every 25 frames (0.5 s) as the worker does
        for f in speech_frames[hop * 25:(hop + 1) * 25]:
            direct.on_audio(f, rate=48000, channels=2)
            posted.post_audio(f, rate=48000, channels=2)
        if hop == 0:  # counted on arrival, but only queued: nothing in the voice window yet
            assert posted.snapshot().counters["audio_frames"] == 25 and len(posted._inbox) == 25
        posted._take_inbox()  # what the worker does first on every hop
        direct.voice_step()
        posted.voice_step()
    a, b = direct.snapshot(), posted.snapshot()
    assert b.counters["audio_frames"] == a.counters["audio_frames"] == 150
    assert a.voice is not None and b.voice is not None
    assert np.allclose(b.voice.probs, a.voice.probs, atol=1e-6) and b.voice_state == a.voice_state


def test_posted_frames_that_arrive_late_or_overflow_the_queue_are_shed(experts, speech_frames, clock):
    s = LiveSession(None, experts.voice, config=EngineConfig(max_audio_queued=50), clock=clock, start_worker=False)
    for i, f in enumerate(speech_frames[:60]):  # the first 10 s late: 0 behind, then 1.5 s behind
        s.post_audio(f, rate=48000, channels=2, media_time=i * 0.02 - (1.5 if i >= 10 else 0.0))
        clock.advance(0.02)
    s._take_inbox()
    counters = s.snapshot().counters
    assert counters["audio_frames"] == 60
    assert counters["audio_stale"] == 10 + 40  # 10 over the queue's bound, 40 more than a second late


def test_face_without_a_face_model_reads_as_reading_not_no_face(clock, face_frame):
    s = LiveSession(None, None, clock=clock, start_worker=False)
    feed_video(s, face_frame, clock, 0.5)
    snap = s.snapshot()
    assert (snap.face_state, snap.state, snap.mood) == ("face", "reading", None)


def test_video_budget_keeps_load_over_cost_frames_per_second(experts, clock, face_frame):
    """30 fps arriving, each read costs 20 ms, half a core allowed: 25 fps fit, not every 2nd frame (15)."""
    def costly(crops):
        clock.advance(0.020)  # the engine's clock sees the step take 20 ms
        return experts.face(crops)

    s = LiveSession(costly, None, config=EngineConfig(video_load=0.5, face_expert_every=0.0), clock=clock,
                    start_worker=False)
    seconds, fps = 4.0, 30
    for _ in range(int(seconds * fps)):
        before = clock()
        s.on_video(face_frame)
        clock.advance(max(0.0, 1 / fps - (clock() - before)))  # the next frame arrives on schedule
    processed = s.snapshot().counters["video_processed"]
    assert 0.9 * 25 * seconds <= processed <= 25 * seconds + 3  # the budget's rate, and never more


def test_the_face_expert_reads_every_second_frame_at_30_fps_and_a_new_face_at_once(
        experts, clock, face_frame, blank_frame):
    reads = []

    def counting(crops):
        reads.append(clock())
        return experts.face(crops)

    s = LiveSession(counting, None, clock=clock, start_worker=False)
    feed_video(s, face_frame, clock, 2.0, fps=30)
    assert s.snapshot().counters["video_processed"] == 60 and 28 <= len(reads) <= 32  # ~20 reads/s at most
    assert s.snapshot().face is not None
    feed_video(s, blank_frame, clock, 0.2, fps=30)  # the face leaves ...
    before = len(reads)
    s.on_video(face_frame)  # ... and comes back: read on its first frame, not up to 50 ms later
    assert len(reads) == before + 1
    every = LiveSession(counting, None, config=EngineConfig(face_expert_every=0.0), clock=clock, start_worker=False)
    before = len(reads)
    feed_video(every, face_frame, clock, 1.0, fps=30)
    assert len(reads) - before == 30


def test_rejected_posted_audio_keeps_one_worker_rather_than_starting_one_per_hop(experts):
    """Frames the ring rejects still arrived: the worker stays, instead of exiting and being restarted each hop."""
    s = LiveSession(None, experts.voice, config=EngineConfig(hop_seconds=0.02))
    workers = set()
    for _ in range(40):
        s.post_audio(np.zeros((1, 7), np.int16), rate=48000, channels=2)  # odd samples for stereo: rejected
        workers.add(id(s._worker))
        time.sleep(0.01)
    wait_for(lambda: s.snapshot().counters["audio_errors"] >= 40, 5)  # the worker takes the rest
    counters = s.snapshot().counters
    s.close()
    assert counters["audio_errors"] == 40 and len(workers) == 1


def test_a_neutral_face_captured_for_3_s_becomes_the_baseline_and_corrects_every_face_reading(
        experts, clock, face_frame, blank_frame):
    """capture_baseline collects the face expert's raw readings on the session's clock, then reads the face
    relative to them: the face held during the capture then reads as a typical neutral face does."""
    from moodmusic.recognition.baseline import NeutralBaseline, load_reference

    raw = []

    def reading(crops):
        raw.append(np.asarray(experts.face(crops))[0])
        return experts.face(crops)

    s = LiveSession(reading, None, clock=clock, start_worker=False)
    feed_video(s, face_frame, clock, 1.0)
    assert s.snapshot().baseline == "off" and s.baseline is None
    before = len(raw)
    s.capture_baseline(3.0)
    feed_video(s, face_frame, clock, 1.5)
    assert s.snapshot().baseline == "capturing" and s.baseline is None
    feed_video(s, face_frame, clock, 1.8)  # past 3 s: the next frame builds it
    snap = s.snapshot()
    assert snap.baseline == "on" and s.baseline_problem is None
    n = s.baseline.frames
    assert 44 <= n <= 46 and len(raw) - before > n  # 15 fps for 3 s, every frame read; later ones are not in it
    reference = load_reference()
    expected = NeutralBaseline.from_probs(np.array(raw[before:before + n]), reference)
    np.testing.assert_allclose(s.baseline.shift, expected.shift)  # exactly the readings made during the capture
    feed_video(s, face_frame, clock, 2.0)
    # the same face, read against itself, reads as the expert reads a typical neutral face
    face = np.array(s.snapshot().face.probs)
    assert MOODS[int(face.argmax())] == MOODS[int(reference.argmax())] == "neutral"
    np.testing.assert_allclose(face, reference / reference.sum(), atol=0.05)
    assert MOODS[int(np.argmax(raw[-1]))] == "happy"  # while the expert alone reads the astronaut's smile
    s.set_baseline(None)  # "Forget my neutral face"
    feed_video(s, face_frame, clock, 2.0)
    assert s.snapshot().baseline == "off" and MOODS[int(np.argmax(s.snapshot().face.probs))] == "happy"


def test_a_capture_without_a_face_leaves_the_baseline_as_it_was_and_says_why(experts, clock, face_frame, blank_frame):
    s = LiveSession(experts.face, None, clock=clock, start_worker=False)
    s.capture_baseline(3.0)
    feed_video(s, blank_frame, clock, 3.5)  # nobody in front of the camera
    assert s.snapshot().baseline == "off" and s.baseline is None
    assert "read 0 times in 3 s" in s.baseline_problem
    s.capture_baseline(3.0)
    clock.advance(4.0)  # the camera is off: no frame ends the capture, the page's snapshot does
    assert s.snapshot().baseline == "off" and "too few" in s.baseline_problem
    s.capture_baseline(1.0)
    feed_video(s, face_frame, clock, 1.2)
    assert s.snapshot().baseline == "on" and s.baseline_problem is None
    kept = s.baseline
    s.capture_baseline(3.0)  # a second try that fails keeps the first baseline
    feed_video(s, blank_frame, clock, 3.5)
    assert s.snapshot().baseline == "on" and s.baseline is kept and s.baseline_problem


def test_the_terminal_runner_reports_no_signal_not_a_phantom_mood_once_the_camera_stops(experts, clock, face_frame):
    """`python -m moodmusic live` prints each change: after the last frame, "(no signal)" within signal_timeout."""
    from moodmusic.live.runner import event_text, watch

    s = make(experts, clock, voice=False, forget_after=10.0)
    feed_video(s, face_frame, clock, 1.0)
    shown, stopped = s.snapshot().mood, clock()
    lines: list[tuple[float, str]] = []
    summary = watch(s, lambda change: lines.append((clock() - stopped, event_text(change.to_dict()))),
                    seconds=30.0, clock=clock, sleep=clock.advance, poll=0.1)
    assert shown is not None and [line for _, line in lines][0].split()[1] == shown.upper()
    assert len(lines) == 2 and lines[1][1].endswith("(no signal)"), lines
    assert lines[1][0] <= s.config.signal_timeout + 0.1
    assert summary.moods == {shown: pytest.approx(s.config.signal_timeout, abs=0.15)}  # not the 30 s watched


def test_a_local_microphone_that_is_stopped_leaves_no_mood(experts, tmp_path, monkeypatch):
    """The local source: real speech through PortAudio (an ALSA file microphone), then STOP."""
    from moodmusic import samples
    from moodmusic.live.sources.local import MicrophoneSource
    from tests.live.conftest import install_file_microphone

    install_file_microphone(tmp_path, monkeypatch, np.concatenate([samples.speech("fox")] * 3))
    calls: list = []
    config = EngineConfig(signal_timeout=0.5)
    with LiveSession(None, counting_voice(experts, calls), config=config,
                     speaker=prior_from_meta(experts.voice_norm)) as s:
        mic = MicrophoneSource(s, "filemic").start()
        try:
            assert wait_for(lambda: s.snapshot().mood is not None, 8), s.snapshot()
            shown = s.snapshot().mood
        finally:
            mic.stop()
        time.sleep(config.hop_seconds + 0.1)  # the worker's last hop over the last block that came
        read = len(calls)
        time.sleep(config.signal_timeout + 2 * config.hop_seconds)
        snap = s.snapshot()
        assert s.worker_alive and len(calls) == read
        assert (snap.mood, snap.voice, snap.voice_state, snap.state) == (None, None, "off", "no signal")
        assert snap.last_mood is not None and shown is not None
