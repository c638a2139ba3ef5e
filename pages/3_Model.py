"""Model: the model card — figures, confusion matrices, data and splits, known limits, latency.

Every figure comes from `models/MODEL_CARD.md` / `model_card.json`, written
by `python -m moodmusic evaluate`; latency is measured on this server on request.
"""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="Model · moodmusic", page_icon="🧠", layout="wide")

from moodmusic.ui import model_card, resources  # noqa: E402
from moodmusic.ui.text import plain  # noqa: E402

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

for block in model_card.split_blocks(view.markdown, models_dir):
    if block.kind == "image":
        if block.path is not None and block.path.is_file():
            st.image(str(block.path), caption=block.text, width=420)
        else:
            st.caption(f"(figure missing: {plain(block.text)} — regenerate it with `{model_card.EVALUATE}`)")
    else:
        st.markdown(block.text)

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
