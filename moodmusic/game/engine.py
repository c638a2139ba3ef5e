"""The game engine: video frames in (from the WebRTC callback), a match's state and scores out.

Like `LiveSession`, it is fed by a media thread and read by the page under a
lock, and it answers the same calls the WebRTC source makes (`read_video`,
`post_audio`, `closed`, `counters`), so the page reuses the live page's
streamer seam unchanged. It tracks up to two faces (`FaceTracker`), seats
them left/right (`PlayerSeats`), and, only while a round runs, reads each
player's crop with the same face expert as the live page, in one batch.
The clock drives the match: a short "get ready" with the target shown, the
round, the next round, the result. The voice is not used: one microphone
cannot tell two players apart.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from moodmusic.game.players import PlayerSeats
from moodmusic.game.scoring import RoundScorer, match_winner, round_winner
from moodmusic.live.session import Overlay
from moodmusic.moods import MOODS

log = logging.getLogger(__name__)

FaceModel = Callable[[np.ndarray], np.ndarray]  # crops (N,48,48) uint8 -> probabilities (N,6)


@dataclass(frozen=True)
class GameConfig:
    rounds: int = 3
    round_seconds: float = 8.0
    ready_seconds: float = 3.0  # before each round: the target is shown while this counts down
    targets: tuple[str, ...] = ()  # the targets in order (repeated as needed); empty: random, never twice in a row
    read_every: float = 0.1  # seconds between face reads (tracking and the expert); frames between pass through
    seed: int | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.rounds <= 15:
            raise ValueError(f"rounds must be between 1 and 15, got {self.rounds}")
        if not 1.0 <= self.round_seconds <= 60.0:
            raise ValueError(f"a round lasts 1 to 60 s, got {self.round_seconds}")
        if self.ready_seconds < 0:
            raise ValueError(f"ready_seconds must be 0 or more, got {self.ready_seconds}")
        bad = [t for t in self.targets if t not in MOODS]
        if bad:
            raise ValueError(f"unknown target mood {bad[0]!r}; choose from: {', '.join(MOODS)}")


@dataclass(frozen=True)
class RoundResult:
    target: str
    points: tuple[int, ...]  # per player
    winner: int | None  # 0-based; None for a tie or a solo round


@dataclass(frozen=True)
class GameSnapshot:
    phase: str = "idle"  # idle | ready | round | over
    match: int = 0  # how many matches started: the page stores each finished one once
    round: int = 0  # 1-based; 0 before the first
    rounds: int = 0
    target: str | None = None
    seconds_left: float = 0.0  # of the get-ready or of the round
    players: int = 0  # 1 (solo) or 2, decided as the first round starts; 0 before
    faces: int = 0  # faces in view now
    totals: tuple[int, ...] = ()  # per player, this round's points so far included
    round_points: tuple[int, ...] = ()
    rounds_won: tuple[int, ...] = ()
    results: tuple[RoundResult, ...] = ()
    winner: int | None = None  # once over: 0-based; None for a draw or solo
    readings: int = 0  # face reads scored this match


@dataclass
class _Match:
    config: GameConfig
    number: int
    targets: list[str]
    phase: str = "ready"
    round: int = 1
    phase_end: float = 0.0
    players: int = 0
    scorers: list[RoundScorer] = field(default_factory=list)
    results: list[RoundResult] = field(default_factory=list)
    readings: int = 0


class GameEngine:
    """One browser session's game; thread-safe: the video thread feeds it, the page reads `snapshot()`."""

    def __init__(self, face_model: FaceModel | None, tracker, config: GameConfig | None = None,  # noqa: ANN001
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.face_model = face_model
        self.tracker = tracker  # FaceTracker (max_faces >= 2 for two players), or anything with .process
        self.config = config or GameConfig()
        self.clock = clock
        self.seats = PlayerSeats(2)
        self.counters = {"video_frames": 0, "video_read": 0, "errors": 0}
        self._lock = threading.Lock()
        self._closed = False
        self._match: _Match | None = None
        self._matches = 0
        self._faces: tuple = ()
        self._seen: deque[tuple[float, int]] = deque()  # (time, faces) of recent reads
        self._read_at: float | None = None
        self._frame_at: float | None = None  # the last camera frame, read or not
        self._rng = random.Random(self.config.seed)

    # ------------------------------------------------------------ the match
    def start(self, config: GameConfig | None = None) -> None:
        """A new match (also a replay), starting with the first round's get-ready."""
        with self._lock:
            if config is not None:
                self.config = config
            cfg = self.config
            self._matches += 1
            m = _Match(cfg, self._matches, self._targets(cfg))
            m.phase_end = self.clock() + cfg.ready_seconds
            self._match = m
            self._advance_locked(self.clock())

    def _targets(self, cfg: GameConfig) -> list[str]:
        if cfg.targets:
            return [cfg.targets[i % len(cfg.targets)] for i in range(cfg.rounds)]
        out: list[str] = []
        for _ in range(cfg.rounds):
            out.append(self._rng.choice([m for m in MOODS if not out or m != out[-1]]))
        return out

    def _faces_lately(self, now: float, seconds: float = 1.0) -> int:
        return max((n for t, n in self._seen if now - t <= seconds), default=len(self._faces))

    def _advance_locked(self, now: float) -> None:
        """Move the match on by the clock: get-ready -> round -> next get-ready ... -> over."""
        m = self._match
        while m is not None and m.phase in ("ready", "round") and now >= m.phase_end:
            if m.phase == "ready":
                if m.players == 0:  # decided once, as the first round starts: who is in view
                    m.players = 2 if self._faces_lately(now) >= 2 else 1
                target = m.targets[m.round - 1]
                m.scorers = [RoundScorer(target, m.phase_end, m.config.round_seconds) for _ in range(m.players)]
                m.phase, m.phase_end = "round", m.phase_end + m.config.round_seconds
            else:
                points = tuple(s.points() for s in m.scorers)
                winner = round_winner(points) if m.players == 2 else None
                m.results.append(RoundResult(m.scorers[0].target, points, winner))
                if m.round < m.config.rounds:
                    m.round += 1
                    m.phase, m.phase_end = "ready", m.phase_end + m.config.ready_seconds
                else:
                    m.phase = "over"

    # ------------------------------------------------------------ inputs (the media threads)
    def read_video(self, frame: np.ndarray, pixel_format: str = "bgr", media_time: float | None = None) -> Overlay:
        """Read the players' faces on this frame if one is due; what to draw on it (the seated faces)."""
        now = self.clock()
        with self._lock:
            self.counters["video_frames"] += 1
            self._frame_at = now
            self._advance_locked(now)
            due = self._read_at is None or now - self._read_at >= self.config.read_every
            if not due or self._closed:
                return Overlay(self._faces)
            self._read_at = now
            m = self._match
            scoring = m is not None and m.phase == "round"
            players = m.players if scoring else 0
        try:
            faces = list(self.tracker.process(frame, pixel_format=pixel_format))
            width = float(frame.shape[1])
            seated = self._seat(faces, width, players)
            probs = None
            if seated and self.face_model is not None:
                probs = np.asarray(self.face_model(np.stack([faces[i].crop for i, _ in seated])))
        except Exception:
            with self._lock:
                self.counters["errors"] += 1
            log.exception("game video step failed; the stream continues")
            return Overlay()
        with self._lock:
            self.counters["video_read"] += 1
            self._faces = tuple(faces)
            self._seen.append((now, len(faces)))
            while self._seen and now - self._seen[0][0] > 2.0:
                self._seen.popleft()
            m = self._match
            if probs is not None and m is not None and m.phase == "round" and len(m.scorers) == players:
                for (_, player), p in zip(seated, probs):
                    m.scorers[player].add(now, p)
                m.readings += 1
        return Overlay(tuple(faces))

    def _seat(self, faces: list, width: float, players: int) -> list[tuple[int, int]]:
        """(face index, player) for the faces that score now: none outside a round."""
        centres = [f.box[0] + f.box[2] / 2 for f in faces]
        sizes = [float(f.box[2]) for f in faces]
        if players == 1:
            return [(0, 0)] if faces else []  # solo: the largest face (the tracker lists it first)
        seats = self.seats.assign(centres, width, sizes)
        return [(i, s) for i, s in enumerate(seats) if 0 <= s < players]

    def receiving(self, within: float = 10.0) -> bool:
        """Whether a camera frame arrived in the last `within` seconds: the game streams (`live.load.full`)."""
        with self._lock:
            last = self._frame_at
        return not self._closed and last is not None and self.clock() - last < within

    def post_audio(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 - the WebRTC source's call
        """The game reads faces only: audio is dropped (one microphone cannot tell two players apart)."""

    # ------------------------------------------------------------ output (the page)
    def snapshot(self) -> GameSnapshot:
        now = self.clock()
        with self._lock:
            self._advance_locked(now)
            m = self._match
            faces = len(self._faces) if self._read_at is not None and now - self._read_at < 2.0 else 0
            if m is None:
                return GameSnapshot(faces=faces)
            n = m.players or 1
            done = [r.points for r in m.results]
            live = tuple(s.points(now) for s in m.scorers) if m.phase == "round" else (0,) * n
            totals = tuple(sum(p[i] for p in done) + (live[i] if m.phase == "round" else 0) for i in range(n))
            won = tuple(sum(1 for r in m.results if r.winner == i) for i in range(n))
            winner = match_winner(totals, won) if m.phase == "over" and n == 2 else None
            return GameSnapshot(
                phase=m.phase, match=m.number, round=m.round, rounds=m.config.rounds,
                target=m.targets[m.round - 1], seconds_left=max(0.0, m.phase_end - now) if m.phase != "over" else 0.0,
                players=m.players, faces=faces, totals=totals, round_points=live, rounds_won=won,
                results=tuple(m.results), winner=winner, readings=m.readings,
            )

    def close(self) -> None:
        with self._lock:
            self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed
