"""moodmusic — the live page: webcam + microphone → mood → music that fits.

Run: `streamlit run app.py` (or `scripts/app`, which installs first).
The page only reads the live engine's snapshot; the engine runs in the media
threads, and music is asked for only when a new mood has held for a while.
"""

from __future__ import annotations

import time

import streamlit as st

st.set_page_config(page_title="moodmusic", page_icon="🎵", layout="wide")

from moodmusic.live import LiveSession, engine_log, load, new_session  # noqa: E402
from moodmusic.live.sources.webrtc import turn_configured  # noqa: E402
from moodmusic.moods import MOODS  # noqa: E402
from moodmusic.ui import components as ui  # noqa: E402
from moodmusic.ui import local_source, music_panel, resources, spotify_account, streamer  # noqa: E402
from moodmusic.ui import baseline_control  # noqa: E402
from moodmusic.ui.music_panel import STRATEGY_LABELS  # noqa: E402

try:
    settings = resources.settings()
except ValueError as exc:  # a setting with a wrong value: say which, not a traceback
    st.error(f"moodmusic cannot start: {exc}. Fix it in the environment or .env (see .env.example).")
    st.stop()
state = st.session_state

st.title("🎵 moodmusic")
st.caption("Press START and allow camera and microphone: the page reads how you seem to feel from your face and voice, and picks music that fits.")

try:
    experts = resources.experts()
except Exception as exc:  # a missing or damaged model file: say which and how to restore it
    st.error(f"The emotion models could not be loaded: {exc}")
    st.stop()

session_id = music_panel.session_id()
if "live" not in state or state.live.closed:
    tracker, state.face_problem = resources.face_tracker()  # damaged face models: voice only, and say why
    state.live = new_session(experts, tracker=tracker, learn_speaker=settings.voice_adaptation)
    load.register(state.live)
engine_log.start(settings.engine_log_seconds)  # off unless MOODMUSIC_ENGINE_LOG_SECONDS is set; once per process
live: LiveSession = state.live
for problem in experts.problems + ([state.face_problem] if state.get("face_problem") else []):
    st.warning(problem)

with st.sidebar:
    st.header("Music")
    strategy = st.radio("Strategy", list(STRATEGY_LABELS), format_func=STRATEGY_LABELS.get, key="strategy")
    recommender = music_panel.recommender()
    genre = st.selectbox("Genre", ["any"] + (recommender.genres() if recommender else []), key="genre")
    decade = st.selectbox("Decade", ["any"] + (recommender.decades() if recommender else []), key="decade")
    paused = st.toggle("Pause recommendations", key="paused")
    stable = st.slider("Recommend after the mood holds for (s)", 1.0, 15.0, float(settings.stable_seconds), 0.5)
    baseline_control.render(live)  # "Hold a neutral face for 3 s": moods relative to this person's neutral face
player = spotify_account.account(settings)

left, right = st.columns([5, 7], gap="large")
SOURCES = {
    "browser": "In the browser (WebRTC)",
    "local": "This computer's camera and microphone",
    "file": "A file",
}

with left:
    source = st.radio("Source", list(SOURCES), format_func=SOURCES.get, horizontal=True, key="source")
    get_session = lambda: live  # noqa: E731 - media threads call this; no session_state there
    with st.container():  # ends in the local preview fragment: see `alone` below
        if source == "browser":
            local_source.release()
            streamer.render(get_session, capture_fps=settings.capture_fps)
        elif source == "local":
            local_source.render_local(get_session)
        else:
            local_source.render_file(get_session)
    if source == "browser" and not turn_configured():
        st.caption(
            "No TURN relay is configured, so live video works on this computer and its network only. "
            "If START keeps spinning on a hosted app, use **Analyse a clip** in the sidebar instead."
        )


def alone(fragment) -> None:  # noqa: ANN001 - a Streamlit fragment
    """Run a self-refreshing fragment as the only thing in a container of its own.

    When a fragment reruns, Streamlit drops that fragment's deltas still
    waiting in the session's outgoing queue (ForwardMsgQueue.clear with
    fragment_ids_this_run). On a saturated server the queue is flushed late,
    so the full run's deltas and the next fragment run's start often meet in
    it. A fragment's sibling after it keeps its index, and the browser then
    gets "add at index 1" into a block that holds nothing: "Bad delta path
    index 1 (should be between [0, 0])", the page goes blank and never shows
    a mood (the session that "never started" in `bench --live --sessions 4`).
    Alone in its container, a fragment leaves no later sibling to strand.
    """
    with st.container():
        fragment()


# Each self-refreshing part reruns only as often as what it shows changes: every
# rerun costs the server a script run and the browser a re-render, and both
# share two cores with the video. The mood reruns 4 times a second (a change
# shows within a quarter second), evidence and status once a second, the
# timeline chart every 2 s, and the track list only when the music changes.
# With more than two pages open on this server, each refreshes more slowly
# (`pace`, see moodmusic/live/load.py), so the engines keep the time. It is set
# at full runs (opening the page, START, STOP, new music, any control), not
# mid-stream: a full run on a loaded server costs more than it saves.
pace = load.refresh_pace(len(load.sessions()))


@st.fragment(run_every=0.25 * pace)
def mood_now() -> None:
    """The current mood, or, once the input stops, why there is none and the last one ("Last mood: … (N s ago)")."""
    snap = live.snapshot()
    ago = snap.updated - snap.last_mood_at if snap.last_mood_at is not None else None
    ui.mood_badge(snap.mood, snap.confidence, snap.state, last_mood=snap.last_mood, last_seen_s=ago)


@st.fragment(run_every=1.0 * pace)
def evidence_now() -> None:
    snap = live.snapshot()
    ui.evidence_bars(snap.face, snap.voice, snap.face_state, snap.voice_state, snap.voice_learnt_s)
    ui.status_line(snap)


@st.fragment(run_every=2.0 * pace)
def timeline_now() -> None:
    snap = live.snapshot()
    ui.timeline_chart(snap.timeline, now=snap.updated)


@st.fragment(run_every=1.0 * pace)
def music_watch() -> None:
    """Store the reading; once a new mood has held for `stable` s, pick music and rerun the page to show it.

    Only a current mood is stored: once the camera and microphone stop (STOP, a file's end) the engine
    has none (`snap.mood` is None, only `last_mood`), so nothing is written.
    """
    snap = live.snapshot()
    now = time.monotonic()
    if snap.mood is not None:
        try:
            resources.store().add_reading(
                session_id, snap.mood, snap.confidence,
                snap.face.weight if snap.face else 0.0, snap.voice.weight if snap.voice else 0.0,
            )
        except Exception as exc:  # the live page keeps running; the problem is shown once
            state.store_problem = str(exc)
    if state.get("store_problem"):
        st.caption(f"⚠️ History is not being saved: {state.store_problem}")
    wanted = (snap.mood, strategy, genre, decade)
    stable_for = now - snap.mood_since if snap.mood_since is not None else 0.0
    if (
        recommender is not None and not paused and snap.mood is not None
        and stable_for >= stable and wanted != state.get("recs_key")
    ):
        recs = recommender.recommend(
            snap.mood, strategy, n=8,
            genre=None if genre == "any" else genre, decade=None if decade == "any" else decade,
        )
        state.recs, state.recs_key = recs, wanted
        music_panel.note_shown(recs)
        st.rerun()  # the whole page, so the track list below (not a fragment) shows the new music
    if state.get("recs") is None:
        if snap.mood is None:
            st.info("Music appears once a mood has been read.")
        else:
            st.info(f"Music for **{snap.mood}** in {max(0.0, stable - stable_for):.0f} s, once the mood holds.")


def music_list() -> None:
    """The recommended tracks, drawn by full page runs only: 8 players and their buttons are not redrawn every second."""
    recs = state.get("recs")
    if recs is None:
        return
    head = f"#### Music for {recs.mood} · {STRATEGY_LABELS[recs.strategy].lower()}"
    if paused:
        head += " (paused)"
    st.markdown(head)
    ui.track_list(
        recs, key="live", player=player,
        on_feedback=lambda track_id, liked: music_panel.record_feedback(track_id, liked, recs.mood),
    )


with right:
    alone(mood_now)
    alone(evidence_now)
    alone(timeline_now)
with left:
    alone(music_watch)
    music_list()

with st.expander("What is this, and what is stored?"):
    st.markdown(
        "moodmusic reads facial expression (a CNN on an aligned face crop) and tone of voice "
        "(MFCC and prosody features) and fuses them, weighting each by how clear its signal is. "
        f"It knows six moods: {', '.join(MOODS)}. No video or audio is stored: only the mood readings, "
        "the tracks shown and your likes/skips, in a local SQLite file you can delete on the History page."
    )
