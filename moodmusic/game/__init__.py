"""The two-player mood game: scoring (pure), player seats (pure) and the engine the page feeds frames to."""

from moodmusic.game.engine import GameConfig, GameEngine, GameSnapshot
from moodmusic.game.players import PlayerSeats
from moodmusic.game.scoring import RoundScorer, fair_margin, match_winner

__all__ = ["GameConfig", "GameEngine", "GameSnapshot", "PlayerSeats", "RoundScorer", "fair_margin", "match_winner"]
