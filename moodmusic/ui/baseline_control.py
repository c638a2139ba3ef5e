"""The live page's personal neutral baseline: "Hold a neutral face for 3 s", and "Forget my neutral face".

Why: a resting face often reads as sad or angry to a face model trained on
other people. After a 3 s capture the engine reads this person's face
relative to their own neutral one (`LiveSession.capture_baseline`). The
baseline is kept in `st.session_state` for the browser session, so a session
built anew after a rerun (a closed engine, a new source) gets it again.

While a capture runs, the panel reruns itself twice a second to show the
progress; otherwise it does not rerun on a timer at all (every rerun costs
the cores the video needs).
"""

from __future__ import annotations

import streamlit as st

from moodmusic.live import LiveSession

SECONDS = 3.0
KEY = "neutral_baseline"  # st.session_state: the NeutralBaseline of this browser session, or absent
HOLD = f"Hold a neutral face for {SECONDS:g} s"
FORGET = "Forget my neutral face"


def render(live: LiveSession) -> None:
    """The panel, in a container of its own (it ends in a fragment: see `alone` in app.py)."""
    _remember(live)
    capturing = live.snapshot().baseline == "capturing"
    with st.container():
        st.fragment(run_every=0.5 if capturing else None)(_panel)(live, capturing)


def _remember(live: LiveSession) -> None:
    """Keep the session's baseline for the browser session, and give it to a session built anew."""
    now = live.snapshot().baseline  # also ends a capture whose time is up
    kept = st.session_state.get(KEY)
    if live.baseline is not None:
        st.session_state[KEY] = live.baseline
    elif kept is not None and now == "off":
        live.set_baseline(kept)


def _panel(live: LiveSession, capturing_at_start: bool) -> None:
    st.markdown("**Your neutral face**")
    snap = live.snapshot()
    if snap.baseline == "capturing":
        progress = live.baseline_progress() or (SECONDS, SECONDS)
        done, total = progress
        st.progress(min(1.0, done / total), text=f"Hold a neutral face… {max(0.0, total - done):.0f} s left")
        return
    if capturing_at_start:  # it just ended: keep it (or say why not) and stop the timer with a full run
        st.rerun()
    if live.baseline_problem:
        st.warning(live.baseline_problem)
    if snap.baseline == "on":
        base = live.baseline
        st.caption(f"✓ Done: moods are read relative to your neutral face ({base.frames if base else 0} frames).")
        if st.button(FORGET, key="baseline-forget"):
            live.set_baseline(None)
            st.session_state.pop(KEY, None)
            st.rerun()
        return
    st.caption("Optional: if your resting face reads as sad or angry, calibrate on it.")
    looking = snap.face_state == "face"
    if st.button(HOLD, key="baseline-hold", disabled=not looking,
                 help=None if looking else "Start the camera and look at it first"):
        try:
            live.capture_baseline(SECONDS)
        except ValueError as exc:  # the reference a baseline is read against is missing or stale
            st.error(f"The neutral baseline is not available: {exc}")
            return
        st.rerun()
