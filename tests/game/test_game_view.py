"""The game page's words: settings from the address, the score lines the page and the browser test read."""

from __future__ import annotations

from moodmusic.game import GameConfig, GameSnapshot
from moodmusic.game.engine import RoundResult
from moodmusic.ui import game_view


def test_settings_come_from_the_address_and_a_mistake_is_said_in_one_line():
    cfg, problem = game_view.config_from_query({"rounds": "1", "round_s": "4", "targets": "Happy, neutral", "sid": "x"})
    assert problem is None and (cfg.rounds, cfg.round_seconds, cfg.targets) == (1, 4.0, ("happy", "neutral"))
    cfg, problem = game_view.config_from_query({"targets": "joy"})
    assert cfg == GameConfig() and "unknown target mood 'joy'" in problem
    cfg, problem = game_view.config_from_query({"rounds": "many"})
    assert cfg == GameConfig() and problem.startswith("The game's settings in the address were not used")


def test_score_lines_name_each_player_and_the_result_names_the_winner():
    snap = GameSnapshot(phase="over", match=1, round=3, rounds=3, target="sad", players=2, faces=2,
                        totals=(210, 95), rounds_won=(2, 1), results=(RoundResult("happy", (100, 20), 0),),
                        winner=0)
    assert game_view.score_lines(snap) == ["Player 1: 210 · rounds won 2", "Player 2: 95 · rounds won 1"]
    assert game_view.result_line(snap) == "🏆 Player 1 wins!"
    solo = GameSnapshot(phase="over", rounds=2, players=1, faces=1, totals=(180,))
    assert game_view.score_lines(solo) == ["Player 1: 180"]
    assert game_view.result_line(solo) == "🏁 Solo: 180 points of a possible 300"
    waiting = GameSnapshot(faces=2)
    assert game_view.score_lines(waiting) == ["Player 1: 0", "Player 2: 0"]
    assert "two faces in view" in game_view.status_line(waiting)


def test_the_sidebar_sets_the_match_length_keeping_the_addresss_exact_round_length():
    cfg = GameConfig(rounds=1, round_seconds=4.4, targets=("happy",))
    assert game_view.with_rounds(cfg, 5, 4.0) == GameConfig(rounds=5, round_seconds=4.4, targets=("happy",))
    assert game_view.with_rounds(cfg, 3, 10.0).round_seconds == 10.0
