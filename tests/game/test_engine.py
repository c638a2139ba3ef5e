"""The game engine on real faces through the real tracker and the live page's face expert, on a hand-made clock."""

from __future__ import annotations

import pytest

from moodmusic.game import GameConfig, GameEngine
from moodmusic.vision import FaceTracker
from tests.game.faces import one_face, two_faces


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture(scope="module")
def face_model():
    from moodmusic.pipeline import load_experts

    experts = load_experts()
    if experts.face is None:
        pytest.skip("the face expert is not in models/")
    return experts.face


def _play(engine: GameEngine, clock: Clock, frame, seconds: float, fps: float = 10.0):
    for _ in range(int(seconds * fps)):
        engine.read_video(frame)
        clock.t += 1.0 / fps
    return engine.snapshot()


def test_two_players_happy_round_the_happy_face_wins(face_model):
    clock = Clock()
    cfg = GameConfig(rounds=2, round_seconds=2.0, ready_seconds=1.0, targets=("happy", "neutral"))
    engine = GameEngine(face_model, FaceTracker(max_faces=2), cfg, clock=clock)
    frame = two_faces(happy_left=True)
    assert engine.snapshot().phase == "idle"
    _play(engine, clock, frame, 0.5)  # the faces are in view before the match starts
    engine.start()
    snap = _play(engine, clock, frame, 0.5)
    assert (snap.phase, snap.target, snap.round) == ("ready", "happy", 1)
    snap = _play(engine, clock, frame, 1.5)
    assert snap.phase == "round" and snap.players == 2 and snap.faces == 2
    snap = _play(engine, clock, frame, 1.5)  # round 1 over: now getting ready for neutral
    happy_round = snap.results[0]
    assert happy_round.target == "happy"
    p1, p2 = happy_round.points
    assert p1 > 60 and p1 > 3 * max(p2, 1), happy_round  # the astronaut (left) shows happy, Grace Hopper does not
    assert happy_round.winner == 0
    snap = _play(engine, clock, frame, 3.0)
    assert snap.phase == "over"
    neutral_round = snap.results[1]
    assert neutral_round.target == "neutral" and neutral_round.points[1] > neutral_round.points[0], neutral_round
    assert snap.totals == tuple(a + b for a, b in zip(*[r.points for r in snap.results]))
    assert snap.rounds_won == (1, 1)
    assert snap.winner == (0 if snap.totals[0] > snap.totals[1] else 1)


def test_players_keep_their_seats_when_the_faces_swap_order_in_the_tracker(face_model):
    """Swapped frame: the happy face is now on the right, so Player 2 scores the happy round."""
    clock = Clock()
    engine = GameEngine(face_model, FaceTracker(max_faces=2),
                        GameConfig(rounds=1, round_seconds=2.0, ready_seconds=0.5, targets=("happy",)), clock=clock)
    frame = two_faces(happy_left=False)
    _play(engine, clock, frame, 0.3)
    engine.start()
    snap = _play(engine, clock, frame, 3.0)
    assert snap.phase == "over" and snap.players == 2
    assert snap.results[0].points[1] > snap.results[0].points[0]
    assert snap.winner == 1


def test_one_face_plays_solo_against_the_clock(face_model):
    clock = Clock()
    engine = GameEngine(face_model, FaceTracker(max_faces=2),
                        GameConfig(rounds=1, round_seconds=2.0, ready_seconds=0.5, targets=("happy",)), clock=clock)
    _play(engine, clock, one_face(), 0.3)
    engine.start()
    snap = _play(engine, clock, one_face(), 3.0)
    assert snap.phase == "over" and snap.players == 1 and len(snap.totals) == 1
    assert snap.totals[0] > 60 and snap.winner is None


def test_a_replay_starts_a_new_match_and_nothing_scores_outside_a_round(face_model):
    clock = Clock()
    engine = GameEngine(face_model, FaceTracker(max_faces=2),
                        GameConfig(rounds=1, round_seconds=1.0, ready_seconds=0.5, targets=("happy",)), clock=clock)
    _play(engine, clock, two_faces(), 0.3)
    engine.start()
    first = _play(engine, clock, two_faces(), 2.0)
    later = _play(engine, clock, two_faces(), 2.0)  # over: more frames change nothing
    assert later.totals == first.totals and later.readings == first.readings
    engine.start()
    again = engine.snapshot()
    assert again.match == first.match + 1 and again.phase == "ready" and again.results == ()


def test_a_bad_setting_is_refused_in_words():
    with pytest.raises(ValueError, match="unknown target mood 'joy'"):
        GameConfig(targets=("joy",))
    with pytest.raises(ValueError, match="a round lasts 1 to 60 s"):
        GameConfig(round_seconds=0.2)


def test_a_streaming_game_counts_toward_the_live_session_limit_and_keeps_its_place(face_model, monkeypatch):
    import weakref

    from moodmusic.live import load

    monkeypatch.setattr(load, "_sessions", weakref.WeakSet())
    clock = Clock()
    game = GameEngine(face_model, FaceTracker(max_faces=2), GameConfig(), clock=clock)
    load.register(game)
    assert not game.receiving() and load.streaming() == 0
    game.read_video(one_face())
    assert game.receiving() and load.streaming() == 1
    assert not load.full(1, game)  # its own place
    clock.t += 5.0
    assert load.streaming() == 0 and game.receiving()  # no frame for 5 s: stopped for the count, kept for itself
    game.close()
    assert not game.receiving()
