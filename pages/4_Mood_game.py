"""Mood game: two players in front of one camera, left and right, show the target mood to score.

The page reads the camera through the live page's WebRTC seam (`ui/streamer.py`) into a
`moodmusic.game.GameEngine`, which runs the live page's face expert on each player's face, only
while this page streams. A finished match goes into the history store (the leaderboard).
"""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="Mood game · moodmusic", page_icon="🎭", layout="wide")

from moodmusic.game import GameEngine  # noqa: E402
from moodmusic.live import load  # noqa: E402
from moodmusic.ui import game_view, music_panel, resources, streamer  # noqa: E402

state = st.session_state
session_id = music_panel.session_id()  # the browser session's id stays in the address (the leaderboard is per session)
st.title("🎭 Mood game")
st.markdown(game_view.RULES)

try:
    settings = resources.settings()
    experts = resources.experts()
except Exception as exc:  # a wrong setting or a missing model file: say which, not a traceback
    st.error(f"The game cannot start: {exc}")
    st.stop()
if experts.face is None:
    st.error("The face model is missing from the models folder, so the game cannot read faces.")
    st.stop()

config, problem = game_view.config_from_query(st.query_params)  # the address may set the defaults (tests do)
if problem:
    st.warning(problem)
with st.sidebar:
    st.header("Match")
    rounds = st.slider("Rounds", 1, 9, config.rounds, key="game-rounds",
                       help="Whoever wins more rounds wins the match; points break a tie.")
    seconds = st.slider("Seconds per round", 1, 20, max(1, min(20, round(config.round_seconds))), key="game-seconds")
config = game_view.with_rounds(config, rounds, float(seconds))
if "game" not in state or state.game.closed:
    tracker, state.game_face_problem = resources.face_tracker()
    state.game = GameEngine(experts.face, tracker, config)
    load.register(state.game)  # a streaming game counts toward MOODMUSIC_MAX_LIVE_SESSIONS too
if state.get("game_face_problem"):
    st.error(state.game_face_problem)
game: GameEngine = state.game

left, right = st.columns([5, 7], gap="large")
with left:
    streamer.render(lambda: game, key="moodmusic-game", capture_fps=settings.capture_fps,
                    capture_size=settings.capture_size, max_sessions=settings.max_live_sessions)
    st.caption("Sit so both faces are in the picture, side by side, about the same distance from the camera.")


def start() -> None:
    game.start(config)


@st.fragment(run_every=0.25)
def scoreboard() -> None:
    snap = game.snapshot()
    game_view.render_scoreboard(snap)
    if snap.phase == "over" and state.get("game_stored") != snap.match:
        state.game_stored = snap.match
        winner = None if snap.winner is None or snap.players == 1 else snap.winner + 1
        try:
            resources.store().add_game(session_id, snap.rounds, snap.totals, winner)
        except Exception as exc:  # the game goes on; the leaderboard says why it did not keep this one
            state.game_store_problem = str(exc)
    if state.get("game_store_problem"):
        st.caption(f"⚠️ This result was not kept: {state.game_store_problem}")
    if snap.phase in ("idle", "over"):
        st.button("Start the match" if snap.phase == "idle" else "Play again", on_click=start, type="primary",
                  key=f"game-start-{snap.match}")


@st.fragment(run_every=2.0)
def leaderboard() -> None:
    try:
        games = resources.store().games(session_id=session_id)
    except Exception as exc:
        st.caption(f"⚠️ The leaderboard cannot be read: {exc}")
        return
    game_view.render_leaderboard(games)


with right:
    with st.container():
        scoreboard()
    with st.container():
        leaderboard()
