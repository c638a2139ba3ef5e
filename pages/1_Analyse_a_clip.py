"""Analyse a clip: upload a video, a recording or a photo → mood, evidence, timeline, music.

Uses the same `moodmusic.analysis.Analyzer` as `python -m moodmusic predict`.
The upload is written to a temporary folder only while it is analysed and
deleted afterwards; only the mood figures are kept, in this browser session.
"""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="Analyse a clip · moodmusic", page_icon="🎞️", layout="wide")

from moodmusic.analysis import Analyzer  # noqa: E402
from moodmusic.media import MediaError  # noqa: E402
from moodmusic.ui import clip_report, music_panel, resources  # noqa: E402
from moodmusic.ui.text import plain  # noqa: E402

state = st.session_state
music_panel.session_id()  # the browser session's id stays in the address on every page (History reads it)

st.title("🎞️ Analyse a clip")
st.caption("Upload a video, an audio recording or a photo. Faces and speech are read in windows of about 2.5 s; "
           "the file is deleted as soon as it has been analysed and nothing of it is stored.")

try:
    experts = resources.experts()
except Exception as exc:  # a damaged model file: say which, keep the page up
    st.error(f"The emotion models could not be loaded: {exc}")
    st.stop()
for problem in experts.problems + [p for p in [resources.face_models_problem()] if p]:
    st.warning(problem)

upload = st.file_uploader(
    "Video, audio or photo",
    # No `type=`: Streamlit would reject other files with its own traceback; check_upload explains instead.
    max_upload_size=clip_report.MAX_UPLOAD_MB,
    key="clip-upload",
    help=f"Up to {clip_report.MAX_UPLOAD_MB} MB. Video: {', '.join(clip_report.VIDEO_EXTS)}; audio: "
         f"{', '.join(clip_report.AUDIO_EXTS)}; photo: {', '.join(clip_report.IMAGE_EXTS)}.",
)

if upload is None:
    state.pop("clip-result", None)
    st.info("Choose a file to begin.")
    st.stop()

ident = (upload.file_id, upload.name, upload.size)
done = state.get("clip-result")
if done is None or done[0] != ident:
    problem = clip_report.check_upload(upload.name, upload.size)
    if problem:
        state.pop("clip-result", None)
        st.error(plain(problem))
        st.stop()
    bar = st.progress(0.0, text="Starting…")

    def progress(fraction: float, message: str) -> None:
        bar.progress(min(1.0, max(0.0, fraction)), text=f"{message.capitalize()}…")

    try:
        analysis = clip_report.analyse_upload(Analyzer(experts), upload.name, upload, progress=progress)
    except MediaError as exc:
        bar.empty()
        state.pop("clip-result", None)
        st.error(plain(str(exc)))
        st.stop()
    except Exception as exc:  # never a traceback for a user's file
        bar.empty()
        state.pop("clip-result", None)
        st.error(plain(f"{upload.name} could not be analysed ({type(exc).__name__}: {exc})"))
        st.stop()
    bar.empty()
    state["clip-result"] = (ident, analysis)

analysis = state["clip-result"][1]
clip_report.render_report(analysis, explain=Analyzer(experts).explain)  # the face heatmaps, on request

words = analysis.words  # what was said: a third opinion, counted by the weight measured for it
if words is not None:
    said = f"“{plain(words.transcript)}”" if words.transcript else "nothing recognised"
    lean = ("" if not words.mood else f" → leaning **{words.mood}** ({words.confidence:.0%})"
            if words.confidence >= 0.22 else f" → no leaning (every mood about equal, {words.confidence:.0%} at most)")
    why = (": on held-out speakers the words measured no better than chance, so they do not move the mood"
           if words.weight == 0 else ", measured on held-out speakers"
           + (f"; the voice's is {experts.rule.voice.weight:g}" if experts.rule is not None else ""))
    st.markdown(f"**Words:** {said}{lean} (weight {words.weight:g}{why})")

if analysis.mood is not None:
    st.divider()
    music_panel.music_for(analysis.mood, key="clip")
