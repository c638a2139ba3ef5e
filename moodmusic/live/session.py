"""The per-session live engine: frames and audio in, an immutable snapshot out.

Sources (WebRTC, local devices, a file) call `on_video` and `on_audio` from
their own threads. Video is processed in the caller's thread (the WebRTC
callback must hand back a frame with the overlay), but only as often as the
measured cost (CPU time) allows: when a step runs over budget, frames are
skipped, never queued. Frames that carry their capture time are also checked
for how late they reach the engine: when the transport in front of it falls
behind (an overloaded server), stale frames are shed instead of read, so what
the page shows is never seconds old. Audio goes into a ring buffer, at once
(`on_audio`) or, for callbacks on a shared event loop, through a queue the
worker empties (`post_audio`); the worker turns the latest window into voice
evidence every hop, measured against this speaker's own voice when the
voice models were trained that way (`speaker`, see `moodmusic.audio.speaker`).
Both update the fused, smoothed mood under one lock; the page's `snapshot()`
turns the latest reading into an immutable `Snapshot` (built only when asked
for, not on every frame). Every exception in a step is caught, logged and
counted; the stream goes on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np

from moodmusic.audio import (
    HOP_SECONDS,
    SAMPLE_RATE,
    WINDOW_SECONDS,
    AudioStream,
    SpeakerAdapter,
    SpeakerPrior,
    VoiceActivity,
    voice_features,
)
from moodmusic.moods import MOODS
from moodmusic.recognition.baseline import MIN_FRAMES, BaselineError, NeutralBaseline, load_reference
from moodmusic.recognition.fusion import FusionRule, Opinion, fuse
from moodmusic.vision import Face, FaceTracker, draw_overlay

from moodmusic.live.face_history import FaceHistory
from moodmusic.live.smoothing import MoodSmoother

log = logging.getLogger(__name__)

VOICE_THREAD = "moodmusic-voice"  # the worker's name, in Python and (cut to 15 characters) in the OS
VIDEO_THREAD = "moodmusic-video"  # the OS name a source gives the thread that calls on_video (see name_os_thread)
VIDEO_BURST = 0.05  # seconds of video processing the budget may save up while frames are skipped or absent

# crops (N,48,48) uint8 -> probs (N,6); features (N,D) float32 -> probs (N,6)
FaceModel = Callable[[np.ndarray], np.ndarray]
VoiceModel = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class EngineConfig:
    video_load: float = 0.5  # at most this share of a core on video; more frames are skipped
    hop_seconds: float = HOP_SECONDS
    window_seconds: float = WINDOW_SECONDS
    face_half_life: float = 1.0  # seconds for face evidence to count half
    voice_half_life: float = 2.0
    forget_after: float = 4.0  # evidence older than this is dropped
    signal_timeout: float = 1.5  # no frames for this long: that input is "off"
    min_voiced: float = 0.2  # share of voiced frames in a window to call it speech
    timeline_seconds: float = 60.0
    timeline_step: float = 0.5
    idle_timeout: float = 20.0  # the voice worker exits after this long without audio; audio restarts it
    max_video_behind: float = 0.5  # video frames reaching the engine later than this are shed, not read
    max_audio_behind: float = 1.0  # likewise audio frames (kept out of the voice window)
    max_audio_queued: int = 250  # post_audio frames waiting for the worker (5 s of 20 ms frames); more are shed
    # the face expert reads the tracked face at most this often (seconds; 0: every frame read). At 30 fps
    # it runs on every second frame: the smoother's 0.6 s time constant hides the difference, and a
    # face that has just appeared is always read at once
    face_expert_every: float = 0.05
    # the face's opinion is the geometric mean of the expert's answers over this many seconds (see
    # face_history: a mouth open mid-word must not read as surprise); 0: the latest answer alone
    face_history: float = 0.5
    # the shown mood: an exponential average of the fused probabilities with this time constant, changing
    # once another mood has led by `smooth_margin` for `smooth_hold` seconds (live/smoothing.py). With the
    # face already pooled over `face_history`, these keep a real change of expression within about 1.3 s on
    # talking clips (`bench --talking`), as the 0.6 s / 0.5 s average did before the pooling
    smooth_seconds: float = 0.3
    smooth_hold: float = 0.4
    smooth_margin: float = 0.08
    # after a change the next needs up to this much more lead, fading over `smooth_settle` seconds, so a
    # face between two readings does not trade the lead every few seconds (live/smoothing.py). On the MEAD
    # speaker's angry clip, which the face expert reads as happy or angry by turns, this took the page from
    # 32 to 9.5 switches a minute, while faces swapped every 4 s still show within 1.3 s (`bench --talking`)
    smooth_recoil: float = 0.5
    smooth_settle: float = 10.0


@dataclass(frozen=True)
class Evidence:
    """What one modality says now, for the page's "because"."""

    probs: tuple[float, ...]
    quality: float
    age: float
    weight: float = 0.0
    novelty: float | None = None  # 0..1: how unlike the expert's training recordings the input is
    gate: float = 1.0  # what the novelty left of the expert's weight (1: nothing taken)

    @property
    def mood(self) -> str:
        return MOODS[int(np.argmax(self.probs))]

    @property
    def unfamiliar(self) -> bool:
        """The input is so unlike the training recordings that it counts clearly less (the page says so)."""
        return self.gate < 0.75


@dataclass(frozen=True)
class Snapshot:
    state: str = "waiting"  # waiting | no signal | no face | silence | no face, silence | reading | mood
    mood: str | None = None
    confidence: float = 0.0
    probs: tuple[float, ...] | None = None
    mood_since: float | None = None  # monotonic time the shown mood began
    face: Evidence | None = None
    voice: Evidence | None = None
    face_state: str = "off"  # off | behind (frames arrive too late and are shed) | no face | face
    voice_state: str = "off"  # off | silence | speech
    baseline: str = "off"  # the personal neutral baseline: off | capturing | on (see LiveSession.capture_baseline)
    video_fps: float = 0.0  # frames processed per second
    video_in_fps: float = 0.0  # frames arriving per second
    audio_fps: float = 0.0  # audio frames arriving per second
    audio_level_db: float = -120.0
    video_ms: float = 0.0  # median cost of a processed frame (the engine's work_clock: CPU time by default)
    voice_ms: float = 0.0
    latency_ms: float = 0.0  # frame arrival (its capture, where the source says) to mood update, median
    timeline: tuple[tuple[float, str, float], ...] = ()
    counters: dict[str, int] = field(default_factory=dict)
    updated: float = 0.0
    voice_learnt_s: float | None = None  # seconds of this speaker's voice the adapter counts; None: not learning
    # The last mood shown and when (the engine's clock), current or not: once the input stops, `mood` is
    # None and the page says "Last mood: … (N s ago)" from these, never a current mood
    last_mood: str | None = None
    last_mood_at: float | None = None


class Overlay(NamedTuple):
    """What to draw on a video frame: the faces found (none: draw nothing) and the mood label."""

    faces: tuple[Face, ...] = ()
    label: str | None = None


class FaceRead(NamedTuple):
    """The face the face expert read last, for the page's "Why?" (`LiveSession.latest_face`).

    The video thread keeps it by reference as it reads (the crop is a fresh
    array per frame, the probabilities the expert's own output row): no copy,
    no extra compute per frame. Whatever explains it runs in the caller's thread.
    """

    crop: np.ndarray  # (48, 48) uint8: the aligned crop the face expert read
    probs: np.ndarray  # (6,): the face expert's reading of it, before any neutral baseline
    at: float  # the session's clock when the frame arrived

    @property
    def mood(self) -> str:
        return MOODS[int(np.argmax(self.probs))]

    @property
    def probability(self) -> float:
        return float(np.max(self.probs))


class _Reading(NamedTuple):
    """What the engine's last update read; `snapshot()` turns it into a `Snapshot`."""

    state: str = "waiting"
    mood: str | None = None
    confidence: float = 0.0
    probs: tuple[float, ...] | None = None
    face: Opinion | None = None
    voice: Opinion | None = None
    weights: dict[str, float] = {}
    face_state: str = "off"
    voice_state: str = "off"


class _Rate:
    """Events per second over a sliding window."""

    def __init__(self, seconds: float = 2.0) -> None:
        self.seconds = seconds
        self.times: deque[float] = deque()

    def tick(self, now: float, n: int = 1) -> None:
        for _ in range(n):
            self.times.append(now)
        self._trim(now)

    def rate(self, now: float) -> float:
        self._trim(now)
        if len(self.times) < 2:
            return 0.0
        return len(self.times) / self.seconds

    def _trim(self, now: float) -> None:
        while self.times and now - self.times[0] > self.seconds:
            self.times.popleft()


class _Behind:
    """How late frames reach the engine, from the capture times they carry (e.g. RTP timestamps).

    A frame's arrival minus its media time is a constant while nothing queues
    (the two clocks differ by a fixed offset); any growth over the smallest
    offset seen is time the frame waited in front of the engine. The engine's
    own latency starts when it gets the frame, so it cannot see that wait.
    A gap of `gap` seconds in arrivals or a jump of more than `jump` seconds
    (a new stream, a timestamp wrap) starts a new baseline.
    """

    def __init__(self, gap: float = 5.0, jump: float = 30.0) -> None:
        self.gap, self.jump = gap, jump
        self._best: float | None = None
        self._last: float | None = None
        self.value = 0.0

    def update(self, now: float, media_time: float | None) -> float:
        if media_time is None:
            return 0.0
        offset = now - float(media_time)
        new_stream = self._last is None or now - self._last > self.gap
        if new_stream or self._best is None or offset < self._best or offset - self._best > self.jump:
            self._best = offset
        self._last = now
        self.value = offset - self._best
        return self.value


class _VideoBudget:
    """A leaky bucket of processing time, so video never takes more than `load` of a core.

    It fills at `load` seconds per second of wall time (up to `burst`) and
    each processed frame drains what it cost. A frame is read only while the
    bucket is not in debt, so any frame rate up to load / cost is kept (no
    rounding down to every 2nd frame).
    """

    def __init__(self, burst: float = VIDEO_BURST) -> None:
        self.burst = burst
        self.credit = 0.0
        self._at: float | None = None

    def earn(self, now: float, load: float) -> None:
        if self._at is not None:
            self.credit = min(self.burst, self.credit + (now - self._at) * load)
        self._at = now

    @property
    def in_debt(self) -> bool:
        return self.credit < 0.0

    def spend(self, cost: float) -> None:
        self.credit -= cost  # repaid at `load` per second before the next frame is read


class _Meters:
    """What the page's status line shows: arrival and processing rates, and recent costs in ms."""

    def __init__(self) -> None:
        self.video_in = _Rate()
        self.video_done = _Rate()
        self.audio_in = _Rate()
        self.video_ms: deque[float] = deque(maxlen=100)
        self.voice_ms: deque[float] = deque(maxlen=40)
        self.latency_ms: deque[float] = deque(maxlen=100)


@dataclass
class _Capture:
    """A neutral-face capture in progress: the face expert's raw readings until `until` (the session's clock)."""

    until: float
    seconds: float
    reference: np.ndarray
    min_frames: int
    rows: list[np.ndarray] = field(default_factory=list)


COUNTERS = (
    "video_frames", "video_processed", "video_skipped", "audio_frames",
    "voice_hops", "errors", "video_errors", "audio_errors",
    "video_stale", "audio_stale",
)


class LiveSession:
    """One person's live session; thread-safe; create once per browser session."""

    def __init__(
        self,
        face_model: FaceModel | None,
        voice_model: VoiceModel | None,
        tracker: FaceTracker | None = None,
        config: EngineConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
        start_worker: bool = True,
        work_clock: Callable[[], float] | None = None,
        speaker: SpeakerPrior | None = None,
        learn_speaker: bool = True,
        rule: FusionRule | None = None,
    ) -> None:
        """`work_clock` measures what a video step costs against the `video_load` budget: by
        default the calling thread's CPU time, so time spent waiting for the GIL or a core
        (other sessions, the browser on the same box) is not charged as work. A session
        driven by a hand-made `clock` measures cost on that clock, so tests say what a step costs.
        `speaker`: the prior the voice model was trained with (`Experts.voice_norm`); the session
        then learns this speaker's voice from its voiced windows, unless `learn_speaker` is False
        (every window is then read against the prior alone). None hands raw features over.
        `rule`: how to fuse (calibration, weights, the voice's novelty gate: `Experts.rule`); None: plain
        confidence-weighted averaging."""
        self.config = config or EngineConfig()
        self.work_clock = work_clock or (time.thread_time if clock is time.monotonic else clock)
        self.face_model = face_model
        self.voice_model = voice_model
        self.tracker = tracker if tracker is not None else FaceTracker()
        self.clock = clock
        self.rule = rule
        self.counters = dict.fromkeys(COUNTERS, 0)
        self._lock = threading.Lock()
        self._init_voice(speaker, learn_speaker)
        self._init_evidence()
        self._budget = _VideoBudget()  # video may use `config.video_load` of a core
        self._meters = _Meters()  # rates and costs for the snapshot
        self._video_behind = _Behind()
        self._audio_behind = _Behind()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._auto_worker = start_worker
        self._init_baseline()

    def _init_voice(self, speaker: SpeakerPrior | None, learn_speaker: bool) -> None:
        """The audio path's state: the ring, voice activity, the speaker adapter and `post_audio`'s queue."""
        self._audio = AudioStream(seconds=max(4.0, 2 * self.config.window_seconds))
        self._vad = VoiceActivity()
        self._speaker = SpeakerAdapter(speaker) if speaker is not None else None  # the voice worker's alone
        self._learn_speaker = learn_speaker
        self._speaker_windows = 0.0  # the adapter's count, copied under the lock for snapshots
        self._inbox: deque[tuple] = deque()  # (arrived, samples, rate, channels, planar, media_time) from post_audio

    def _init_evidence(self) -> None:
        """What the engine knows so far: each modality's opinion, when each input was last seen, the mood."""
        cfg = self.config
        self._smoother = MoodSmoother(cfg.smooth_seconds, cfg.smooth_hold, cfg.smooth_margin, cfg.smooth_recoil,
                                      cfg.smooth_settle)
        self._face_history = FaceHistory(self.config.face_history)  # the face expert's last second (video thread)
        self._face: Opinion | None = None
        self._face_t = 0.0
        self._expert_at: float | None = None  # when the face expert last ran (the video thread's alone)
        self._voice: Opinion | None = None
        self._voice_t = 0.0
        self._faces: list[Face] = []
        self._face_read: FaceRead | None = None  # the last crop the expert read, for "Why?" (latest_face)
        self._last_video_in: float | None = None
        self._last_video_fresh: float | None = None  # last frame that was not shed as stale
        self._last_audio_in: float | None = None  # the last audio frame buffered (not shed as late)
        self._last_audio_arrival: float | None = None  # the last audio frame that arrived, late or not
        self._last_face_seen: float | None = None
        self._voice_active = False
        self._audio_db = -120.0
        self._timeline: deque[tuple[float, str, float]] = deque()
        self._mood: str | None = None
        self._mood_since: float | None = None
        self._last_mood: str | None = None  # the last mood shown, kept after the input stops (Snapshot.last_mood)
        self._last_mood_at: float | None = None
        self._voice_total = 0  # AudioStream.total at the last voice step: no new samples, no new voice opinion
        self._reading = _Reading()

    # ------------------------------------------------------------------ inputs
    def on_video(self, frame: np.ndarray, pixel_format: str = "bgr", media_time: float | None = None) -> np.ndarray:
        """Process a frame if the budget allows and it is fresh; return it with the overlay (same shape/dtype).

        `media_time`: the frame's capture time in seconds on the source's own
        clock (e.g. a WebRTC frame's `time`), if it has one.
        """
        overlay = self.read_video(frame, pixel_format, media_time)
        return self._draw(frame, overlay, pixel_format)

    def read_video(self, frame: np.ndarray, pixel_format: str = "bgr", media_time: float | None = None) -> Overlay:
        """`on_video` without the drawing: what to draw on this frame, for a source that draws itself.

        The WebRTC source draws into the yuv420p picture it sends back rather
        than into a BGR copy (see `draw_overlay_i420`). A step that raises is
        counted and logged and gives an empty overlay: the stream goes on.
        """
        arrived = self.clock()
        with self._lock:
            self.counters["video_frames"] += 1
            self._meters.video_in.tick(arrived)
            behind = self._video_behind.update(arrived, media_time)
            stale = behind > self.config.max_video_behind
            self._last_video_in = arrived  # the camera is live even when the server is behind
            if stale:
                self.counters["video_stale"] += 1
            else:
                self._last_video_fresh = arrived
            self._budget.earn(arrived, self.config.video_load)
            skip = stale or self._budget.in_debt
            if skip:
                self.counters["video_skipped"] += 1
            faces_before = list(self._faces)
        if skip:
            return self._overlay(faces_before)
        try:
            work = self.work_clock()
            faces = self.tracker.process(frame, pixel_format=pixel_format)
            probs, read = None, None
            if faces and self.face_model is not None and self._expert_due(arrived, bool(faces_before)):
                raw = np.asarray(self.face_model(faces[0].crop[None]))[0]
                read = FaceRead(faces[0].crop, raw, arrived)  # references only: "Why?" explains it elsewhere
                probs = self._relative_to_neutral(raw, arrived)
                self._expert_at = arrived
            done = self.clock()
            self._after_video(arrived, done, faces, probs, behind, self.work_clock() - work, read)
            return self._overlay(faces)
        except Exception:
            self._count_error("video_errors")
            log.exception("video step failed; the stream continues")
            return Overlay()

    def on_audio(
        self, samples: np.ndarray, rate: int, channels: int, planar: bool = False, media_time: float | None = None
    ) -> None:
        """Buffer an audio frame; never blocks on feature extraction. Frames that come too late are dropped."""
        now = self.clock()
        with self._lock:
            self._count_audio_locked(now)
        self._buffer_audio(now, samples, rate, channels, planar, media_time)

    def post_audio(
        self, samples: np.ndarray, rate: int, channels: int, planar: bool = False, media_time: float | None = None
    ) -> None:
        """`on_audio` for a caller that must return at once: the frame is queued and the voice worker buffers it.

        streamlit-webrtc calls audio callbacks on the one event loop that also
        carries every session's RTP and Streamlit's page messages. Buffering
        there (resampling, the ring) cost that loop about 9 ms per callback
        with four sessions, a fifth of its time. Here the loop only counts the
        frame and appends it to a queue; the worker takes the queue every hop,
        just before it reads the window, so voice evidence is as fresh as
        before. The arrival time is taken now, so frames that waited are still
        seen as late.
        """
        if self._stop.is_set():
            return
        now = self.clock()
        with self._lock:
            self._count_audio_locked(now)  # on arrival, so the page's audio rate is not a hop behind
            if len(self._inbox) >= self.config.max_audio_queued:  # the worker is far behind: it would be stale
                self.counters["audio_stale"] += 1
                return
            self._inbox.append((now, samples, rate, channels, planar, media_time))
            if self._auto_worker:
                self._start_worker_locked()

    def _take_inbox(self) -> None:
        """Buffer the frames `post_audio` queued, in order (the worker's thread)."""
        while True:
            try:
                arrived, samples, rate, channels, planar, media_time = self._inbox.popleft()
            except IndexError:
                return
            self._buffer_audio(arrived, samples, rate, channels, planar, media_time)

    def _count_audio_locked(self, now: float) -> None:
        self.counters["audio_frames"] += 1
        self._meters.audio_in.tick(now)
        self._last_audio_arrival = now

    def _buffer_audio(
        self, now: float, samples: np.ndarray, rate: int, channels: int, planar: bool, media_time: float | None
    ) -> None:
        """Into the ring, unless it arrived too late; `now`: when it arrived (already counted)."""
        with self._lock:
            if self._audio_behind.update(now, media_time) > self.config.max_audio_behind:
                self.counters["audio_stale"] += 1
                return
        try:
            self._audio.push(samples, rate=rate, channels=channels, planar=planar)
            with self._lock:
                self._last_audio_in = now
                if self._auto_worker:
                    self._start_worker_locked()
        except Exception:
            self._count_error("audio_errors")
            log.exception("audio frame rejected; the stream continues")

    def _start_worker_locked(self) -> None:
        # Started by audio and ending when audio stops, so a closed tab leaves no thread behind.
        if not self._stop.is_set() and not (self._worker and self._worker.is_alive()):
            self._worker = threading.Thread(target=self._voice_loop, name=VOICE_THREAD, daemon=True)
            self._worker.start()

    # --------------------------------------------------------------- the work
    def _expert_due(self, now: float, had_face: bool) -> bool:
        """Whether this frame's face goes through the face expert (see `EngineConfig.face_expert_every`)."""
        last = self._expert_at
        return not had_face or last is None or now - last >= self.config.face_expert_every

    def _after_video(
        self, arrived: float, done: float, faces: list[Face], probs: np.ndarray | None, behind: float, cost: float,
        read: FaceRead | None = None,
    ) -> None:
        with self._lock:
            self.counters["video_processed"] += 1
            self._meters.video_done.tick(done)
            self._budget.spend(cost)
            self._meters.video_ms.append(cost * 1000)
            self._faces = faces
            if faces:
                self._last_face_seen = done
                if probs is not None:
                    self._face = Opinion(self._face_history.add(done, probs), quality=float(faces[0].score))
                    self._face_t = done
                if read is not None:
                    self._face_read = read
            self._update_locked(done)
            self._meters.latency_ms.append((self.clock() - arrived + behind) * 1000)  # incl. the wait before us

    def voice_step(self) -> None:
        """Turn the latest audio window into voice evidence (the worker calls this every hop).

        Only when audio was buffered since the last step: the ring keeps its
        last window after the microphone stops (STOP, a file's end), and
        reading it again would form a fresh opinion from sound that no longer
        arrives. The worker keeps running until `idle_timeout`, so this check,
        not the worker's exit, is what stops the voice speaking for a silent input.
        """
        t0 = self.clock()
        total = self._audio.total
        if total == self._voice_total:  # nothing new since the last step (the voice worker's state alone)
            return
        window = self._audio.window(self.config.window_seconds)
        if window is None:
            return
        self._voice_total = total
        activity = float(self._vad.activity(window))
        rms = float(np.sqrt(np.mean(np.square(window[-int(SAMPLE_RATE * self.config.hop_seconds):])) + 1e-12))
        opinion = None
        if activity >= self.config.min_voiced and self.voice_model is not None:
            feats = voice_features(window)[None]
            novelty = self._voice_novelty(feats)
            if self._speaker is not None:
                feats = self._speaker.normalise(feats, learn=self._learn_speaker)
            probs = np.asarray(self.voice_model(feats))[0]
            opinion = Opinion(probs, quality=min(1.0, activity / 0.6), novelty=novelty)
        done = self.clock()
        with self._lock:
            self.counters["voice_hops"] += 1
            if self._speaker is not None:
                self._speaker_windows = self._speaker.windows
            self._voice_active = activity >= self.config.min_voiced
            self._audio_db = 20 * np.log10(rms)
            if opinion is not None:
                self._voice, self._voice_t = opinion, done
            self._meters.voice_ms.append((done - t0) * 1000)
            self._update_locked(done)

    def _voice_loop(self) -> None:
        name_os_thread(VOICE_THREAD)
        while not self._stop.wait(self.config.hop_seconds):
            self._take_inbox()
            with self._lock:
                last = self._last_audio_arrival  # late audio keeps the worker too: no thread per posted frame
            if last is None or self.clock() - last > self.config.idle_timeout:
                return
            try:
                self.voice_step()
            except Exception:
                self._count_error("audio_errors")
                log.exception("voice step failed; the stream continues")

    def _update_locked(self, now: float) -> None:
        cfg = self.config
        video_on = self._last_video_in is not None and now - self._last_video_in < cfg.signal_timeout
        audio_on = self._last_audio_in is not None and now - self._last_audio_in < cfg.signal_timeout
        # An input that is off says nothing: its opinion goes at once, not `forget_after` later, so
        # after STOP or a file's end there is no current mood (the snapshot keeps only `last_mood`).
        if not video_on:
            self._face = None
        if not audio_on:
            self._voice = None
        # Ages in units of each modality's half-life, so fuse() fades both correctly.
        face_op = self._aged(self._face, self._face_t, now, cfg.face_half_life)
        voice_op = self._aged(self._voice, self._voice_t, now, cfg.voice_half_life)
        fused = fuse(face_op, voice_op, half_life=1.0, rule=self.rule)
        face_now = self._last_face_seen is not None and now - self._last_face_seen < cfg.signal_timeout
        video_fresh = self._last_video_fresh is not None and now - self._last_video_fresh < cfg.signal_timeout
        if not video_on:
            face_state = "off"
        elif not video_fresh:  # frames arrive, but too late to read: say so rather than "camera off"
            face_state = "behind"
        else:
            face_state = "face" if face_now else "no face"
        voice_state = "off" if not audio_on else ("speech" if self._voice_active else "silence")
        if fused.probs is not None:
            sm = self._smoother.update(fused.probs, now)
            if sm.mood != self._mood:
                self._mood, self._mood_since = sm.mood, now
            state, mood, conf, probs = "mood", sm.mood, sm.confidence, tuple(float(x) for x in sm.probs)
            self._last_mood, self._last_mood_at = sm.mood, now
            last = self._timeline[-1][0] if self._timeline else -1e9
            if now - last >= cfg.timeline_step:
                self._timeline.append((now, sm.mood, sm.confidence))
        else:
            self._smoother.reset()
            self._mood = self._mood_since = None
            mood, conf, probs = None, 0.0, None
            if not video_on and not audio_on:
                state = "no signal" if (self._last_video_in or self._last_audio_in) else "waiting"
            else:
                parts = [p for p, on in (("no face", face_state == "no face"), ("silence", voice_state == "silence")) if on]
                state = ", ".join(parts) or "reading"  # a face or speech is there, no evidence yet
        while self._timeline and now - self._timeline[0][0] > cfg.timeline_seconds:
            self._timeline.popleft()
        self._reading = _Reading(state, mood, conf, probs, face_op, voice_op, fused.weights, face_state, voice_state)

    def _publish_locked(self, now: float) -> Snapshot:
        """Build the page's snapshot from the latest reading: only when the page asks, not on every frame."""
        r, cfg = self._reading, self.config
        return Snapshot(
            state=r.state, mood=r.mood, confidence=r.confidence, probs=r.probs, mood_since=self._mood_since,
            face=self._evidence(r.face, r.weights.get("face", 0.0), cfg.face_half_life, "face"),
            voice=self._evidence(r.voice, r.weights.get("voice", 0.0), cfg.voice_half_life, "voice"),
            face_state=r.face_state, voice_state=r.voice_state,
            video_fps=self._meters.video_done.rate(now), video_in_fps=self._meters.video_in.rate(now),
            audio_fps=self._meters.audio_in.rate(now), audio_level_db=float(self._audio_db),
            video_ms=_median(self._meters.video_ms), voice_ms=_median(self._meters.voice_ms),
            latency_ms=_median(self._meters.latency_ms), timeline=tuple(self._timeline),
            counters=dict(self.counters), updated=now, baseline=self._baseline_state_locked(now),
            voice_learnt_s=self._speaker_windows * cfg.hop_seconds
            if self._speaker is not None and self._learn_speaker else None,
            last_mood=self._last_mood, last_mood_at=self._last_mood_at,
        )

    def _aged(self, op: Opinion | None, t: float, now: float, half_life: float) -> Opinion | None:
        if op is None or now - t > self.config.forget_after:
            return None
        return replace(op, age=(now - t) / half_life)

    def _evidence(self, op: Opinion | None, weight: float, half_life: float, modality: str) -> Evidence | None:
        if op is None:
            return None
        gate = self.rule.of(modality).gate(op.novelty) if self.rule is not None else 1.0
        return Evidence(tuple(float(x) for x in op.probs), op.quality, op.age * half_life, weight, op.novelty, gate)

    def _voice_novelty(self, features: np.ndarray) -> float | None:
        """How unlike the voice model's training recordings this window sounds (raw features, before the
        speaker's own statistics take out who speaks and through which microphone); None without a model."""
        model = self.rule.voice.novelty if self.rule is not None else None
        return float(model.percentile(features)[0]) if model is not None else None

    def _count_error(self, kind: str) -> None:
        with self._lock:
            self.counters[kind] += 1
            self.counters["errors"] += 1

    def _overlay(self, faces: list[Face]) -> Overlay:
        if not faces:
            return Overlay()
        reading = self._reading  # one read: the media threads replace it whole
        return Overlay(tuple(faces), f"{reading.mood} {reading.confidence:.0%}" if reading.mood else None)

    def _draw(self, frame: np.ndarray, overlay: Overlay, pixel_format: str) -> np.ndarray:
        if not overlay.faces or pixel_format not in ("bgr", "rgb"):
            return frame
        try:
            return draw_overlay(frame, overlay.faces, label=overlay.label)
        except Exception:
            self._count_error("video_errors")
            log.exception("overlay failed")
            return frame

    # ------------------------------------------------------- the personal neutral baseline
    def _init_baseline(self) -> None:
        """No baseline and no capture yet (`capture_baseline`, `set_baseline`)."""
        self._baseline: NeutralBaseline | None = None
        self._capture: _Capture | None = None
        self.baseline_problem: str | None = None  # why the last capture gave no baseline, for the page

    @property
    def baseline(self) -> NeutralBaseline | None:
        """The person's neutral face the face is read against; None: read as the expert reads it."""
        with self._lock:
            return self._baseline

    def set_baseline(self, baseline: NeutralBaseline | None) -> None:
        """Read the face relative to this neutral face from the next frame on (None: forget it); ends a capture."""
        with self._lock:
            self._baseline, self._capture, self.baseline_problem = baseline, None, None

    def capture_baseline(
        self, seconds: float = 3.0, reference: np.ndarray | None = None, min_frames: int = MIN_FRAMES
    ) -> None:
        """Collect the face expert's readings for `seconds`, then make them this person's neutral baseline.

        Returns at once: the video thread collects each reading as it is made,
        and the first frame or snapshot after `seconds` builds the baseline
        (`Snapshot.baseline` goes "capturing", then "on"). With fewer than
        `min_frames` readings (no face, the camera off) the baseline stays as
        it was and `baseline_problem` says why. `reference`: the expert's
        reading of a typical neutral face (default: the configured models
        folder's; a missing one raises `BaselineError` before anything changes).
        """
        ref = np.asarray(load_reference() if reference is None else reference, dtype=np.float64)
        with self._lock:
            self._capture = _Capture(self.clock() + seconds, seconds, ref, min_frames)
            self.baseline_problem = None

    def baseline_progress(self) -> tuple[float, float] | None:
        """(seconds done, seconds in all) of the capture in progress, for the page; None when none runs."""
        with self._lock:
            if self._capture is None:
                return None
            left = max(0.0, self._capture.until - self.clock())
            return min(self._capture.seconds, self._capture.seconds - left), self._capture.seconds

    def _relative_to_neutral(self, probs: np.ndarray, now: float) -> np.ndarray:
        """The video thread, right after the face expert: keep the raw reading while capturing; return it
        relative to the baseline (as it is, without one)."""
        with self._lock:
            if self._capture is not None:
                if now < self._capture.until:
                    self._capture.rows.append(probs)
                else:
                    self._finish_capture_locked()
            baseline = self._baseline
        return baseline.apply(probs) if baseline is not None else probs

    def _baseline_state_locked(self, now: float) -> str:
        if self._capture is not None and now >= self._capture.until:  # no frame came to end it
            self._finish_capture_locked()
        return "capturing" if self._capture is not None else "on" if self._baseline is not None else "off"

    def _finish_capture_locked(self) -> None:
        capture, self._capture = self._capture, None
        if capture is None:
            return
        try:
            self._baseline = NeutralBaseline.from_probs(
                np.array(capture.rows).reshape(-1, len(MOODS)), capture.reference,
                min_frames=capture.min_frames, source="camera")
        except BaselineError:
            self.baseline_problem = (
                f"your face was read {len(capture.rows)} time{'s' * (len(capture.rows) != 1)} in "
                f"{capture.seconds:g} s, too few for a neutral baseline: face the camera in good light and try again")

    # ----------------------------------------------------------------- output
    def snapshot(self) -> Snapshot:
        """The latest state; refreshes time-dependent parts (staleness, rates) first."""
        with self._lock:
            now = self.clock()
            self._update_locked(now)
            return self._publish_locked(now)

    def receiving(self, within: float = 10.0) -> bool:
        """Whether a camera or microphone frame arrived in the last `within` seconds (a streaming session)."""
        with self._lock:
            now, arrivals = self.clock(), [t for t in (self._last_video_in, self._last_audio_arrival) if t is not None]
        return not self.closed and bool(arrivals) and now - max(arrivals) < within

    def latest_face(self, max_age: float = 1.0) -> FaceRead | None:
        """The face the expert read last, to explain on request ("Why?"); None when there is none now.

        None when the session is closed, the camera is off (no frame for
        `signal_timeout`), the last frame read shows no face, or the reading is
        more than `max_age` seconds old (frames shed while the server is
        behind). Only a reference is taken under the lock: explaining it (an
        occlusion heatmap, about 0.1 s) is the caller's work, in the caller's
        thread, never the video thread's.
        """
        with self._lock:
            now, read, faces, last_in = self.clock(), self._face_read, self._faces, self._last_video_in
        camera_on = last_in is not None and now - last_in < self.config.signal_timeout
        if self.closed or read is None or not faces or not camera_on or now - read.at > max_age:
            return None
        return read

    def close(self) -> None:
        """Stop the worker; idempotent."""
        self._stop.set()
        self._inbox.clear()
        worker = self._worker
        if worker is not None and worker.is_alive() and worker is not threading.current_thread():
            worker.join(timeout=2.0)

    @property
    def worker_alive(self) -> bool:
        return bool(self._worker and self._worker.is_alive())

    @property
    def closed(self) -> bool:
        return self._stop.is_set()

    def __enter__(self) -> "LiveSession":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def name_os_thread(name: str) -> None:
    """Show this thread's name to the OS (Linux, 15 characters), so `top -H`, `ps -T` and
    /proc/<pid>/task/*/comm tell the engine's threads apart; Python 3.11 does not do it itself."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(15, name.encode()[:15], 0, 0, 0)  # 15 = PR_SET_NAME
    except (OSError, AttributeError):  # not Linux: the name is only cosmetic
        pass


def _median(values: deque[float]) -> float:
    return float(np.median(values)) if values else 0.0
