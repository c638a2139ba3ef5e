"""Model: the model card — figures, confusion matrices, data and splits, known limits, latency.

Every figure comes from `models/MODEL_CARD.md` / `model_card.json`, written
by `python -m moodmusic evaluate`; latency is measured on this server on request.
"""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="Model · moodmusic", page_icon="🧠", layout="wide")

from moodmusic.ui import model_card, music_panel, resources  # noqa: E402
from moodmusic.ui.text import plain  # noqa: E402

music_panel.session_id()  # the browser session's id stays in the address on every page (History reads it)
models_dir = resources.settings().models_dir
view = model_card.load(models_dir)

st.title("🧠 The model")
for problem in view.problems:
    st.info(problem)
for problem in model_card.stale(view.card, models_dir):
    st.warning(problem)

with st.sidebar:
    st.markdown("**Model files**")
    for part, name in model_card.MODEL_FILES.items():
        st.caption(f"{'✅' if (models_dir / name).is_file() else '❌'} {part}: models/{plain(name)}")

# In plain words first: how often it is right, what it gets wrong, what it cannot do. The figures come
# from model_card.json; the full card follows, its commands printed once, at the end.
short = model_card.summary(view.card)
if short:
    st.markdown(short)
st.markdown(model_card.limits_markdown(view.card))
st.divider()
st.markdown("## The details")

for block in model_card.split_blocks(model_card.details(view.markdown, view.card), models_dir):
    if block.kind == "image":
        if block.path is not None and block.path.is_file():
            st.image(str(block.path), caption=block.text, width=520)
            note = model_card.figure_note(block.text, view.card)
            if note:
                st.caption(note)
        else:
            st.caption(f"(figure missing: {plain(block.text)} — regenerate it with `{model_card.EVALUATE}`)")
    else:
        st.markdown(model_card.section_note(block.text))

trained_by = model_card.commands(view.card)
if trained_by:
    with st.expander("Commands that produced the committed models"):
        st.caption("Run from the repository's root, with the shared data in `../shared/data`.")
        for name, cmd in trained_by.items():
            st.markdown(f"**{plain(name)}**")
            st.code(cmd, language="bash", wrap_lines=True)

st.markdown("## Latency on this server")
recorded = (view.card or {}).get("latency") or (view.card or {}).get("bench")
if recorded:
    st.caption("Recorded with the card:")
    st.dataframe(model_card.latency_rows(recorded), hide_index=True, width="stretch")
st.caption("Per-step latency of the live pipeline (p50/p95 over repeated runs on real sample inputs), "
           "measured by `python -m moodmusic bench` in a separate process on this machine.")
if st.button("⏱️ Measure now", key="model-bench"):
    with st.spinner("Measuring… (about half a minute)"):
        try:
            st.session_state["model-bench-result"] = model_card.measure_latency()
        except Exception as exc:  # a failing benchmark is reported, the page stays up
            st.session_state.pop("model-bench-result", None)
            st.error(plain(f"Latency could not be measured: {exc}"))
measured = st.session_state.get("model-bench-result")
if measured:
    st.dataframe(model_card.latency_rows(measured), hide_index=True, width="stretch")
    st.caption(f"{measured.get('iterations')} iterations, {measured.get('threads')} thread, "
               f"peak memory {measured.get('rss_mb')} MB.")
