"""An uploaded clip → an `Analysis` and its report: checks, private analysis, tables, downloads.

The pure half (no streamlit) checks an upload, analyses it from a temporary
file that is always deleted, and turns the result into a table, CSV and
JSON; the page and the tests share it. `render_report` draws the result with
the shared components so it looks like the live page.

>>> check_upload("holiday.txt", 10).split(";")[0]
'holiday.txt is not a file type moodmusic reads'
>>> check_upload("me.mp4", 0)
'me.mp4 is empty'
>>> check_upload("me.MP4", 1_000) is None
True
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from moodmusic.analysis import SEGMENT_SECONDS, Analysis, Analyzer
from moodmusic.media import AUDIO_EXTS, IMAGE_EXTS, VIDEO_EXTS
from moodmusic.moods import MOODS

MAX_UPLOAD_MB = 200  # the same as Streamlit's default server.maxUploadSize
ACCEPTED_EXTS: tuple[str, ...] = VIDEO_EXTS + AUDIO_EXTS + IMAGE_EXTS
_SAFE_CHARS = "-_.() "


def _kinds() -> str:
    return (f"a video ({', '.join(VIDEO_EXTS)}), audio ({', '.join(AUDIO_EXTS)}) "
            f"or a photo ({', '.join(IMAGE_EXTS)})")


def check_upload(name: str, size: int, max_mb: int = MAX_UPLOAD_MB) -> str | None:
    """Why this upload cannot be analysed (type, emptiness, size), or None when it may be tried."""
    ext = Path(name).suffix.lower().lstrip(".")
    if ext not in ACCEPTED_EXTS:
        return f"{name} is not a file type moodmusic reads; upload {_kinds()}"
    if size <= 0:
        return f"{name} is empty"
    if size > max_mb * 1024 * 1024:
        return f"{name} is {size / 2**20:.0f} MB; the limit is {max_mb} MB (trim the clip or lower its resolution)"
    return None


def _safe_name(name: str) -> str:
    """A local file name that keeps the extension (the reader needs it) but nothing risky from outside."""
    p = Path(name)
    stem = "".join(c if c.isalnum() or c in _SAFE_CHARS else "_" for c in p.stem)[:60].strip() or "clip"
    return stem + p.suffix.lower()


def analyse_upload(
    analyzer: Analyzer,
    name: str,
    data: bytes | IO[bytes],
    progress: Callable[[float, str], None] | None = None,
) -> Analysis:
    """Analyse uploaded bytes privately: written to a fresh temporary folder that is deleted afterwards.

    Raises `moodmusic.media.MediaError` (one line, names the file) for a file
    that cannot be read; the temporary copy is gone whatever happens. The
    result names the upload, not the temporary path.
    """
    folder = Path(tempfile.mkdtemp(prefix="moodmusic-upload-"))
    try:
        path = folder / _safe_name(name)
        with open(path, "wb") as f:
            if isinstance(data, (bytes, bytearray, memoryview)):
                f.write(data)
            else:
                data.seek(0)
                shutil.copyfileobj(data, f, 1 << 20)
        analysis = analyzer.analyse(path, progress=progress)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return dataclasses.replace(analysis, path=name)


def _probs_cols(prefix: str, probs: np.ndarray | None) -> dict[str, float | None]:
    return {f"{prefix}{m}": (None if probs is None else round(float(p), 4))
            for m, p in zip(MOODS, probs if probs is not None else [None] * len(MOODS))}


def timeline_table(analysis: Analysis) -> pd.DataFrame:
    """One row per ≈2.5 s window: start, end, mood, confidence, fused/face/voice probabilities."""
    rows = []
    for s in analysis.segments:
        row = {"start": round(s.start, 2), "end": round(s.end, 2), "mood": s.mood or "",
               "confidence": round(s.confidence, 4)}
        row |= _probs_cols("p_", s.probs) | _probs_cols("face_", s.face_probs) | _probs_cols("voice_", s.voice_probs)
        rows.append(row)
    columns = ["start", "end", "mood", "confidence"] + [f"{p}{m}" for p in ("p_", "face_", "voice_") for m in MOODS]
    return pd.DataFrame(rows, columns=columns)


def to_csv(analysis: Analysis) -> str:
    """The timeline as CSV (one row per window; a photo gives one row)."""
    return timeline_table(analysis).to_csv(index=False)


def to_json_text(analysis: Analysis) -> str:
    """The `predict --json` document for this clip, with every window's probabilities added."""
    doc = analysis.to_json()
    doc["windows"] = json.loads(timeline_table(analysis).to_json(orient="records"))
    return json.dumps(doc, indent=1)


def outcome(analysis: Analysis) -> tuple[str, str] | None:
    """("info" | "warning", message) when the clip gave no or partial evidence; None when both spoke."""
    face, voice = analysis.face_detected, analysis.voice_active
    if analysis.mood is None:
        if face is False and voice is False:
            return "info", "No face and no speech were found, so no mood could be read."
        if face is False and voice is None:
            return "info", "No face was found in this picture: try a photo where the face is clear and lit."
        if face is None and voice is False:
            return "info", "No speech was heard in this recording, so no mood could be read."
        return "info", "No mood could be read: the emotion models for what this clip holds are not available."
    if face is False:
        return "info", "No face was found: the mood comes from the voice alone."
    if voice is False:
        return "info", "No speech was heard: the mood comes from the face alone."
    return None


def windows_with(analysis: Analysis, modality: str) -> int:
    """How many windows had evidence from `modality` ("face" or "voice")."""
    attr = f"{modality}_probs"
    return sum(getattr(s, attr) is not None for s in analysis.segments)


def absent_note(analysis: Analysis) -> str | None:
    """What this kind of file cannot show (a photo has no voice, a recording no face), or None."""
    if analysis.face_detected is None and analysis.voice_active is not None:
        return "This file has no picture: only the voice was read."
    if analysis.voice_active is None and analysis.face_detected is not None:
        return ("A photo has no sound: only the face was read." if analysis.kind == "image"
                else "This video has no sound: only the face was read.")
    return None


def pictures(analysis: Analysis) -> list[tuple[np.ndarray, str]]:
    """(RGB picture, caption) per window that kept one: what was looked at, the face read boxed."""
    out = []
    for s in analysis.segments:
        if s.picture is None:
            continue
        if analysis.kind == "image":
            caption = "The face that was read" if s.face_box is not None else "No face was found in this photo"
        else:
            caption = f"{s.start:.1f}–{s.end:.1f} s · " + (s.mood or "no mood") + (
                "" if s.face_box is not None else " · no face found")
        out.append((s.picture, caption))
    return out


def explanations(analysis: Analysis) -> list[tuple[np.ndarray, str]]:
    """(RGB explanation picture, caption) per window whose face was explained (`Analyzer.explain`)."""
    out = []
    for s in analysis.segments:
        if s.explanation is None:
            continue
        where = "The face that was read" if analysis.kind == "image" else f"{s.start:.1f}–{s.end:.1f} s"
        out.append((s.explanation, f"{where} · red: the parts of the face that made the face model say so"))
    return out


def voice_table(analysis: Analysis) -> pd.DataFrame | None:
    """Per window: its share of the clip's voice probability for the clip's voice mood (None without speech).

    The shares add up to that probability: they say which seconds drove what the voice said.
    """
    shares = analysis.voice_contributions()
    if shares is None or analysis.voice_probs is None:
        return None
    mood = MOODS[int(np.argmax(analysis.voice_probs))]
    return pd.DataFrame({"start": [round(s.start, 2) for s in analysis.segments],
                         "end": [round(s.end, 2) for s in analysis.segments],
                         "share": [round(float(x), 4) for x in shares], "voice_mood": mood})


# --------------------------------------------------------------------------- streamlit
PICTURES_SHOWN = 8  # windows shown at once; the rest behind an expander


def render_why(analysis: Analysis, explain: Callable[[Analysis], Analysis] | None, key: str, per_row: int = 4) -> None:
    """On request, each face read with a heatmap of what drove the face model (occlusion: see
    `recognition.explain`); computed once per clip when asked (about 0.1 s a face), never by default."""
    import streamlit as st

    if explain is None or not any(s.face_crop is not None for s in analysis.segments):
        return
    if not st.toggle("🔍 Why? Show what the face model looked at", key=f"{key}-why"):
        return
    cache = st.session_state.get(f"{key}-why-done")
    if cache is None or cache[0] is not analysis:
        with st.spinner("Hiding parts of each face to see what changes the answer…"):
            cache = (analysis, explanations(explain(analysis)))
        st.session_state[f"{key}-why-done"] = cache
    shown = cache[1]
    for i in range(0, len(shown), per_row):
        for col, (picture, caption) in zip(st.columns(min(per_row, len(shown))), shown[i:i + per_row]):
            col.image(picture, caption=caption, width=min(400, picture.shape[1]))
    st.caption("Each part of the face was hidden in turn; red marks where hiding it lowered the face model's "
               "probability for the mood it read most. It explains the face model alone, before the voice "
               "and any neutral baseline are counted.")


def render_pictures(analysis: Analysis, per_row: int = 4,
                    explain: Callable[[Analysis], Analysis] | None = None, key: str = "clip") -> None:
    """The photo, or a frame per window, with the box of the face that was read; and, on request, why."""
    import streamlit as st

    shots = pictures(analysis)
    if not shots:
        return
    if analysis.kind == "image":
        st.image(shots[0][0], caption=shots[0][1], width=min(480, shots[0][0].shape[1]))
        render_why(analysis, explain, key, per_row)
        return
    st.markdown("##### What the camera saw")

    def grid(items: list[tuple[np.ndarray, str]]) -> None:
        for i in range(0, len(items), per_row):
            for col, (picture, caption) in zip(st.columns(per_row), items[i:i + per_row]):
                col.image(picture, caption=caption, width="stretch")

    grid(shots[:PICTURES_SHOWN])
    if len(shots) > PICTURES_SHOWN:
        with st.expander(f"All {len(shots)} frames"):
            grid(shots[PICTURES_SHOWN:])
    if len(shots) < len(analysis.segments):
        st.caption(f"A frame from {len(shots)} of the {len(analysis.segments)} windows, evenly spread.")
    render_why(analysis, explain, key, per_row)


def render_report(analysis: Analysis, key: str = "clip", explain: Callable[[Analysis], Analysis] | None = None) -> None:
    """Mood, face/voice evidence, the timeline chart and table, and CSV/JSON downloads.

    `explain` (`Analyzer.explain`): offers the face heatmaps on request."""
    import altair as alt
    import streamlit as st

    from moodmusic.moods import STYLES
    from moodmusic.ui import components as ui
    from moodmusic.ui.text import plain

    st.markdown(f"#### {plain(analysis.path)} · {analysis.kind}"
                + (f" · {analysis.duration:.1f} s" if analysis.duration else ""))
    if analysis.mood is None:
        ui.mood_badge(None, 0.0, "No mood could be read from this file.")
    else:
        ui.mood_badge(analysis.mood, analysis.confidence)
    note = outcome(analysis)
    if note is not None:
        getattr(st, note[0])(note[1])

    n = max(1, len(analysis.segments))
    panels = [(title, probs, present, modality) for title, probs, present, modality in (
        ("Face", analysis.face_probs, analysis.face_detected, "face"),
        ("Voice", analysis.voice_probs, analysis.voice_active, "voice"),
    ) if present is not None]  # a photo has no voice to show, a recording no face
    if absent := absent_note(analysis):
        st.caption(absent)
    for col, (title, probs, present, modality) in zip(st.columns(2), panels):
        if probs is None:
            text = "no face found" if modality == "face" else "no speech heard"
        elif analysis.kind == "image":
            text = "from the photo"
        else:
            text = f"in {windows_with(analysis, modality)} of {n} windows"
        col.html(ui.bars_html(title, None if probs is None else list(map(float, probs)), text))

    render_pictures(analysis, explain=explain, key=key)

    table = timeline_table(analysis)
    if analysis.kind != "image" and len(table):
        st.markdown("##### Timeline")
        shown = table[table["mood"] != ""]
        if len(shown):
            colours = alt.Scale(domain=list(MOODS), range=[STYLES[m].colour for m in MOODS])
            chart = (
                alt.Chart(shown)
                .mark_bar(height=18)
                .encode(
                    x=alt.X("start:Q", title="seconds"),
                    x2="end:Q",
                    y=alt.Y("mood:N", sort=list(MOODS), scale=alt.Scale(domain=list(MOODS)), title=None),
                    color=alt.Color("mood:N", scale=colours, legend=None),
                    opacity=alt.Opacity("confidence:Q", legend=None, scale=alt.Scale(domain=[0.15, 1])),
                    tooltip=["start", "end", "mood", alt.Tooltip("confidence:Q", format=".0%")],
                )
                .properties(height=200)
            )
            heard = voice_table(analysis)
            if heard is not None and heard["share"].sum() > 0:  # one chart: the moods, and under them the voice
                mood = heard["voice_mood"][0]
                voice_chart = (
                    alt.Chart(heard)
                    .mark_bar(color=STYLES[mood].colour)
                    .encode(
                        x=alt.X("start:Q", title="seconds"), x2="end:Q",
                        y=alt.Y("share:Q", title="share", axis=alt.Axis(format=".0%")),
                        tooltip=["start", "end", alt.Tooltip("share:Q", format=".1%", title=f"share of '{mood}'")],
                    )
                    .properties(height=90, title=f"What the voice heard: which seconds made it say {mood}")
                )
                chart = alt.vconcat(chart, voice_chart).resolve_scale(x="shared")
            st.altair_chart(chart, width="stretch")
        else:
            st.caption("No window gave a mood.")
        with st.expander(f"Windows ({len(table)} × {SEGMENT_SECONDS:g} s)"):
            st.dataframe(table[["start", "end", "mood", "confidence"]], hide_index=True, width="stretch")

    stem = Path(analysis.path).stem or "clip"
    a, b = st.columns(2)
    a.download_button("⬇️ Timeline (CSV)", to_csv(analysis), file_name=f"{stem}-moods.csv", mime="text/csv",
                      key=f"{key}-csv")
    b.download_button("⬇️ Result (JSON)", to_json_text(analysis), file_name=f"{stem}-moods.json",
                      mime="application/json", key=f"{key}-json")
