"""The live page's "Why?": freeze the face the expert read last and show what in it drove the reading.

Pressing the button takes the session's latest face reading
(`LiveSession.latest_face`: the aligned crop and the face expert's
probabilities, which the video thread already made and keeps by reference)
and explains it here, in the page's script run: the occlusion heatmap of
`recognition.explain`, 101 crops through the face model, about 0.1 s of one
core, once per press. The video thread never computes it, so the stream and
the mood go on while it runs, and nothing is computed per frame. The picture
is the Analyse page's (`analysis.explanation_picture`): the crop, the crop
with red where hiding it lowered the mood's probability, and the reading.

>>> face_region(np.pad(np.ones((12, 12)), ((30, 6), (18, 18))))  # heat on the lower middle of the crop
'the mouth'
>>> sentence(Why(np.zeros((1, 1, 3), np.uint8), "sad", 0.72, "the mouth", 0.1, 80.0))
'The face expert looked most at the mouth; it read sad (72%).'
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import streamlit as st

from moodmusic.analysis import explanation_picture
from moodmusic.live.session import FaceRead, FaceModel, LiveSession
from moodmusic.moods import MOODS
from moodmusic.recognition.explain import PATCH, hottest_square, occlusion

log = logging.getLogger(__name__)

STATE_KEY = "mm-why-shown"  # session_state: the frozen explanation (or why there is none) until closed

# Where the parts of a face sit in the 48x48 FER-framed crop, (x, y) pixels: the eyes and the mouth are
# `vision.align.TEMPLATE` (15, 18), (32, 18), (24, 36); the rest follow a face's usual proportions.
REGIONS: tuple[tuple[str, tuple[float, float]], ...] = (
    ("the forehead", (24.0, 4.0)),
    ("the brows", (15.0, 11.0)), ("the brows", (32.0, 11.0)),
    ("the eyes", (15.0, 18.3)), ("the eyes", (32.0, 18.0)),
    ("the bridge of the nose", (23.5, 17.0)),
    ("the nose", (24.0, 27.0)),
    ("the cheeks", (8.0, 30.0)), ("the cheeks", (40.0, 30.0)),
    ("the mouth", (23.8, 36.4)),
    ("the chin", (24.0, 45.0)),
)

NO_FACE = {
    "off": "No face to explain: the camera is off. Press START, face the camera, then ask again.",
    "behind": "No face to explain right now: the server is behind and skipping frames. Ask again in a moment.",
}
NOT_READ_LATELY = "Your face was not read in the last second (the server is busy). Ask again in a moment."
NO_FACE_DEFAULT = "No face in view right now, so there is nothing to explain. Look at the camera and ask again."


@dataclass(frozen=True)
class Why:
    """One frozen face, explained: what the page shows until it is closed."""

    picture: np.ndarray  # RGB uint8: the crop, the crop with its heatmap, the reading
    mood: str  # what the face expert read in this one frame
    probability: float
    region: str  # where the heat is hottest, in words ("the mouth")
    age_s: float  # how old the frame was when "Why?" was pressed
    ms: float  # what the explanation cost, in the page's script run


def face_region(heat: np.ndarray) -> str:
    """The part of the face under the heatmap's hottest `PATCH`-wide square, in words."""
    y, x = hottest_square(heat, PATCH)
    cx, cy = x + PATCH / 2, y + PATCH / 2
    return min(REGIONS, key=lambda r: (r[1][0] - cx) ** 2 + (r[1][1] - cy) ** 2)[0]


def explain_face(face_model: FaceModel, read: FaceRead, now: float) -> Why:
    """Explain a frozen face reading with the model that made it (call it off the video thread: ~0.1 s)."""
    start = time.perf_counter()
    mood = int(np.argmax(read.probs))
    heat, _ = occlusion(face_model, read.crop, mood=mood)
    picture = explanation_picture(read.crop, heat, MOODS[mood], read.probability)
    return Why(picture, MOODS[mood], read.probability, face_region(heat), max(0.0, now - read.at),
               (time.perf_counter() - start) * 1000)


def sentence(why: Why) -> str:
    """The plain answer to "why?" for one frozen face."""
    return f"The face expert looked most at {why.region}; it read {why.mood} ({why.probability:.0%})."


def _close() -> None:
    st.session_state[STATE_KEY] = None


def _ask(live: LiveSession) -> Why | str:
    """Freeze the latest face and explain it, or say plainly why there is none."""
    read = live.latest_face()
    if read is None:
        state = live.snapshot().face_state
        if state in NO_FACE:
            return NO_FACE[state]
        return NOT_READ_LATELY if live.latest_face(max_age=float("inf")) is not None else NO_FACE_DEFAULT
    try:
        with st.spinner("Hiding parts of your face in turn to see what changes the answer…"):
            return explain_face(live.face_model, read, live.clock())
    except Exception as exc:  # the live page goes on; say what failed in one line, the details to the log
        log.exception("explaining the live face failed")
        return f"The face could not be explained ({type(exc).__name__}: {exc}); the live reading goes on."


@st.fragment
def render(live: LiveSession) -> None:
    """The "Why?" button and, once pressed, the frozen face explained, until closed.

    A fragment: pressing a button reruns this part alone, not the page, and the
    self-refreshing parts (the mood, the evidence) keep their own pace.
    """
    if live.face_model is None:  # no face model: nothing to explain (the page already says why)
        return
    with st.container(key="mm-why"):
        if st.button("🔍 Why? Freeze this moment and show what the face model looked at", key="mm-why-ask"):
            st.session_state[STATE_KEY] = _ask(live)
        shown = st.session_state.get(STATE_KEY)
        if shown is None:
            return
        if isinstance(shown, str):
            st.info(shown)
        else:
            st.image(shown.picture, width=min(400, shown.picture.shape[1]),
                     caption=f"The frozen face, from {shown.age_s:.1f} s before you asked")
            st.markdown(f"**{sentence(shown)}**")
            st.caption("Each part of the face was hidden in turn; red marks where hiding it lowered the face "
                       "model's probability for that mood. It explains this one frame, read by the face model "
                       "alone: the mood above also counts the last half second of faces and your voice. "
                       f"Worked out in {shown.ms:.0f} ms while the video went on.")
        st.button("Close", key="mm-why-close", on_click=_close)
