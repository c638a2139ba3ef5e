"""moodmusic — the live page: webcam + microphone → mood → music that fits.

Run: `streamlit run app.py` (or `scripts/app`, which installs first).
The page only reads the live engine's snapshot; the engine runs in the media
threads; the music follows the dominant mood of the last several seconds
(moodmusic/music/dominant.py) and is picked again at once when a music control changes.
"""

from __future__ import annotations

import math

import streamlit as st

st.set_page_config(page_title="moodmusic", page_icon="🎵", layout="wide")


def _live_page() -> None:
    """The live page is the rest of this script: this entry only gives it its name in the sidebar."""


# Declared pages, so the sidebar says "Live", not the script's file name ("app"). The other pages keep
# their files and their URL paths (/Analyse_a_clip, /History, /Model, /Mood_game); `streamlit run app.py` still starts it all.
LIVE = st.Page(_live_page, title="Live", icon="🎵", default=True)
_shown = st.navigation([
    LIVE, st.Page("pages/1_Analyse_a_clip.py"), st.Page("pages/2_History.py"), st.Page("pages/3_Model.py"),
    st.Page("pages/4_Mood_game.py"),
])
_shown.run()
if _shown.url_path != LIVE.url_path:
    st.stop()  # another page ran: nothing of the live page below belongs on it

from moodmusic.live import LiveSession, engine_log, load, new_session  # noqa: E402
from moodmusic.live.sources.webrtc import turn_configured  # noqa: E402
from moodmusic.moods import MOODS  # noqa: E402
from moodmusic.music.dominant import MIN_EVIDENCE_S, dominant_mood, music_heading, music_mood  # noqa: E402
from moodmusic.ui import components as ui  # noqa: E402
from moodmusic.ui import local_source, music_panel, resources, spotify_account, streamer  # noqa: E402
from moodmusic.ui import baseline_control  # noqa: E402
from moodmusic.ui import why_panel  # noqa: E402
from moodmusic.ui.music_panel import STRATEGY_LABELS  # noqa: E402

try:
    settings = resources.settings()
except ValueError as exc:  # a setting with a wrong value: say which, not a traceback
    st.error(f"moodmusic cannot start: {exc}. Fix it in the environment or .env (see .env.example).")
    st.stop()
state = st.session_state

# One screen at 1400x1000: less blank space above the title, and the mood (right) and the video with its
# timeline (left) stay in view while the music below the mood scrolls past (sticky; on a phone, where the
# columns stack, only the mood sticks). The mood needs the page's own background, or music shows through.
_background = "#0e1117" if st.context.theme.type == "dark" else "#ffffff"
st.html(
    "<style>"
    "[data-testid=stMainBlockContainer]{padding-top:2.5rem}"
    # The keyed block sits in a wrapper of its own height: the wrapper is what sticks within the column.
    "[data-testid=stLayoutWrapper]:has(> .st-key-mm-mood)"
    f"{{position:sticky;top:3.75rem;z-index:5;background:{_background}}}"
    "@media (min-width:640px){[data-testid=stLayoutWrapper]:has(> .st-key-mm-watch){position:sticky;top:3.75rem}}"
    "</style>"
)
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
    paused = st.toggle("Keep this music", key="paused",
                       help="The music stays for the mood it is for, whatever your mood does; the choices above still change it.")
    window_s = st.slider(
        "Music follows your main mood over the last (s)", 4.0, 60.0, float(settings.music_window_seconds), 1.0,
        key="music-window",
        help="The music is for the mood that held most of these seconds: it comes after 2 s of readings, and "
             "changes only when another mood holds more than half of them, never on a blink.",
    )
    # Picked here, in the run that a control change causes: a new list within a second, not on the watcher's tick.
    music_panel.pick_live(live.snapshot(), recommender, strategy, None if genre == "any" else genre,
                          None if decade == "any" else decade, window_s, paused, live.config.timeline_step)
    baseline_control.render(live)  # "Hold a neutral face for 3 s": moods relative to this person's neutral face
player = spotify_account.account(settings)

left, right = st.columns([5, 7], gap="large")
SOURCES = {
    "browser": "In the browser (WebRTC)",
    "local": "This computer's camera and microphone",
    "file": "A file",
}

with left:
    watch = st.container(key="mm-watch")  # the source, its video and the timeline: sticky beside the music
with watch:
    source = st.radio("Source", list(SOURCES), format_func=SOURCES.get, horizontal=True, key="source")
    get_session = lambda: live  # noqa: E731 - media threads call this; no session_state there
    with st.container():  # ends in the local preview fragment: see `alone` below
        if source == "browser":
            local_source.release()
            streamer.render(get_session, capture_fps=settings.capture_fps, capture_size=settings.capture_size,
                            max_sessions=settings.max_live_sessions)
        else:
            state.pop(streamer.CONNECTING_KEY, None)  # only the browser's WebRTC connects
        if source == "local":
            local_source.render_local(get_session)
        elif source == "file":
            local_source.render_file(get_session)
    if source == "browser" and not turn_configured():
        st.caption(
            "Live video works on this computer's network only (no TURN relay is set up). "
            "If START keeps spinning on a hosted app, use **Analyse a clip** instead."
        )


def alone(fragment, key: str | None = None) -> None:  # noqa: ANN001 - a Streamlit fragment
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
    `key` names the container for the page's style (e.g. the sticky mood).
    """
    with st.container(key=key):
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
    ui.mood_badge(snap.mood, snap.confidence, streamer.connection_state(snap.state, state.get(streamer.CONNECTING_KEY)),
                  last_mood=snap.last_mood, last_seen_s=ago)


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
    """Store the reading; say what the music is for; rerun the page when the music's mood changes.

    The music follows the dominant mood of the last `window_s` s (`music/dominant.py`), not the badge's
    mood of this instant: first music after 2 s of readings, a change only when another mood holds
    most of the window. The heading says so, and names the badge's mood when it differs, so the two
    never contradict each other. Only a current mood is stored: once the camera and microphone stop
    (STOP, a file's end) the engine has none (`snap.mood` is None, only `last_mood`), so nothing is written.
    """
    snap = live.snapshot()
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
    step = live.config.timeline_step
    if recommender is not None and not paused:
        mood = music_mood(state.get("music_mood"), snap.timeline, snap.updated, window_s, step)
        if mood != state.get("music_mood"):
            st.rerun()  # the whole page: its first lines pick the list for the new mood (music_panel.pick_live)
    lately = dominant_mood(snap.timeline, snap.updated, window_s, step)
    recs = state.get("recs")
    if recs is None:
        if lately is None:
            st.info("Music appears once a mood has been read.")
        else:
            st.info(f"Music in about {max(1, math.ceil(MIN_EVIDENCE_S - lately.seconds))} s, for your main mood so far.")
        return
    head, caption = music_heading(recs.mood, STRATEGY_LABELS[recs.strategy], window_s, lately, snap.mood)
    st.markdown(f"#### {head}" + (" · kept" if paused else ""))
    st.caption(caption)


def music_list() -> None:
    """The recommended tracks, drawn by full page runs only: 8 players and their buttons are not redrawn every second.

    Like and Skip act in their callbacks, before the page redraws: a skipped track is already replaced,
    a liked one already marked.
    """
    recs = state.get("recs")
    if recs is None:
        return
    ui.track_list(recs, key="live", player=player, on_feedback=music_panel.feedback_handler("recs"),
                  liked=recommender.liked if recommender is not None else ())


# Where each part goes (one screen at 1400x1000): the mood, its evidence and the music in the wide right
# column, the mood staying on top as the music scrolls; the video and the timeline on the left. On a phone
# the columns stack: source, video, timeline, then mood, evidence and music.
with right:
    alone(mood_now, key="mm-mood")
    alone(evidence_now)
    alone(lambda: why_panel.render(live))  # "Why?": on request, computed in this fragment's run, never per frame
    alone(music_watch)
    music_list()
with watch:
    alone(timeline_now)

with st.expander("What is this, and what is stored?"):
    st.markdown(
        "moodmusic reads facial expression (a CNN on an aligned face crop) and tone of voice "
        "(MFCC and prosody features) and fuses them, weighting each by how clear its signal is. "
        f"It knows six moods: {', '.join(MOODS)}. No video or audio is stored: only the mood readings, "
        "the tracks shown and your likes/skips, in a local SQLite file you can delete on the History page."
    )
