"""The mood game's page parts: its settings from the address, the scoreboard, the leaderboard.

The game itself (rounds, scoring, seats) is `moodmusic.game`; this module
only says it on the page. Round settings can come from the address
(`?rounds=3&round_s=8&ready_s=3&targets=happy,neutral`), which the real-browser
test uses for short rounds and a known target.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

import streamlit as st

from moodmusic.game import GameConfig, GameSnapshot
from moodmusic.moods import STYLES

RULES = (
    "**How to play.** Sit side by side in front of the camera: the left face is Player 1, the right face "
    "Player 2 (one face plays solo, against the clock). Each round names a target mood and counts down; "
    "show it with your face, as strongly and as quickly as you can. Points come from how far the target "
    "leads every other mood on your face, second by second, plus a bonus for getting there fast, so a face "
    "pulling every mood at once earns nothing. Whoever wins more rounds wins the match (points break a tie). "
    "Only faces count: one microphone cannot tell two voices apart."
)


def config_from_query(params: Mapping[str, str]) -> tuple[GameConfig, str | None]:
    """The game's settings from the address, and what was wrong with them (the defaults are then used)."""
    try:
        targets = tuple(t.strip().lower() for t in params.get("targets", "").split(",") if t.strip())
        return GameConfig(
            rounds=int(params.get("rounds", 3)),
            round_seconds=float(params.get("round_s", 8.0)),
            ready_seconds=float(params.get("ready_s", 3.0)),
            targets=targets,
        ), None
    except ValueError as exc:
        return GameConfig(), f"The game's settings in the address were not used: {exc}"


def with_rounds(config: GameConfig, rounds: int, round_seconds: float) -> GameConfig:
    """`config` with the sidebar's match length; the address's exact round length wins when the slider shows it."""
    if round(config.round_seconds) == round_seconds:
        round_seconds = config.round_seconds
    return replace(config, rounds=int(rounds), round_seconds=float(round_seconds))


def _mood(mood: str) -> str:
    return f"{mood} {STYLES[mood].emoji}" if mood in STYLES else mood


def status_line(snap: GameSnapshot) -> str:
    """Where the match is, in one line of Markdown."""
    if snap.phase == "idle":
        who = {0: "no face in view yet", 1: "one face in view: solo"}.get(snap.faces, "two faces in view: two players")
        return f"Press **START** for the camera, then **Start the match** ({who})."
    head = f"Round {snap.round} of {snap.rounds}"
    if snap.phase == "ready":
        return f"{head} · get ready: starts in {snap.seconds_left:.0f} s"
    if snap.phase == "round":
        return f"{head} · {snap.seconds_left:.1f} s left"
    return f"Match over after {snap.rounds} round{'s' * (snap.rounds > 1)}"


def score_lines(snap: GameSnapshot) -> list[str]:
    """`Player 1: <points>` (and `Player 2: <points>`), with rounds won in a two-player match."""
    players = snap.players or (2 if snap.faces >= 2 else 1)
    totals = snap.totals or (0,) * players
    lines = []
    for i in range(players):
        points = totals[i] if i < len(totals) else 0
        won = f" · rounds won {snap.rounds_won[i]}" if players == 2 and i < len(snap.rounds_won) else ""
        lines.append(f"Player {i + 1}: {points}{won}")
    return lines


def result_line(snap: GameSnapshot) -> str:
    """The winner, once the match is over."""
    if snap.players == 1:
        best = 150 * snap.rounds
        return f"🏁 Solo: {snap.totals[0]} points of a possible {best}"
    if snap.winner is None:
        return "🤝 A draw!"
    return f"🏆 Player {snap.winner + 1} wins!"


def render_scoreboard(snap: GameSnapshot) -> None:
    """The live scoreboard: target, countdown, each player's points, then the winner."""
    if snap.target is not None and snap.phase != "over":
        st.markdown(f"## Target: {_mood(snap.target)}")
    st.markdown(status_line(snap))
    for line in score_lines(snap):
        st.markdown(f"### {line}")
    if snap.phase == "over":
        st.success(result_line(snap))
    if snap.results:
        rows = [{"round": i + 1, "target": r.target,
                 **{f"Player {p + 1}": pts for p, pts in enumerate(r.points)}}
                for i, r in enumerate(snap.results)]
        st.dataframe(rows, hide_index=True)


def render_leaderboard(games: list) -> None:  # list[store.GameResult]
    """This browser session's best matches."""
    st.markdown("#### Leaderboard · this browser session")
    if not games:
        st.caption("No finished matches yet. Results are kept with your history and deleted with it on the History page.")
        return
    rows = []
    for g in games:
        who = "solo" if len(g.points) == 1 else ("draw" if g.winner is None else f"Player {g.winner}")
        rows.append({"when": datetime.fromtimestamp(g.ts).strftime("%H:%M:%S"), "rounds": g.rounds,
                     "Player 1": g.points[0], "Player 2": g.points[1] if len(g.points) == 2 else None,
                     "winner": who})
    st.dataframe(rows, hide_index=True)
    st.caption("Kept with your history; the History page's delete removes them too.")
