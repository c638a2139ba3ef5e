"""Building blocks every page shares: mood badge, evidence bars, timeline, track list, status line.

Each takes plain data (moods, probabilities, recommendations) so pages stay
short and look alike. Text from outside is escaped (`moodmusic.ui.text`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd
import streamlit as st

from moodmusic.moods import MOODS, STYLES
from moodmusic.ui.text import attr, plain

STATE_MESSAGES = {
    "waiting": "Waiting for the camera and microphone…",
    "no signal": "No signal: the camera and microphone stopped sending.",
    "no face": "No face in view — look at the camera.",
    "silence": "Listening… say something.",
    "no face, silence": "No face in view, and no speech yet.",
    "reading": "Reading your expression…",
}


def last_mood_text(mood: str | None, seconds_ago: float | None) -> str | None:
    """"Last mood: happy (12 s ago)": what is left once the input stops; never the current `Mood: …`."""
    if mood is None or seconds_ago is None:
        return None
    return f"Last mood: {mood} ({max(0.0, seconds_ago):.0f} s ago)"


def mood_badge(mood: str | None, confidence: float = 0.0, state: str = "mood",
               last_mood: str | None = None, last_seen_s: float | None = None) -> None:
    """The large current mood; the text `Mood: <mood>` is what tools read.

    Without a current mood (no input, no face, silence) it says why, and, when
    `last_mood` is given, the last mood shown and how many seconds ago
    (`last_seen_s`) in small print: a mood the input no longer supports is never shown as current.
    """
    if mood is None:
        message = STATE_MESSAGES.get(state, state)
        last = last_mood_text(last_mood, last_seen_s)
        last_html = f'<div class="mm-last-mood" style="opacity:.7;font-size:.95rem">{attr(last)}</div>' if last else ""
        st.html(
            f'<div class="mm-badge mm-badge-empty" style="padding:1rem 1.2rem;border-radius:14px;'
            f'background:#7f8c8d22;font-size:1.3rem">⏳ {attr(message)}{last_html}</div>'
        )
        return
    style = STYLES[mood]
    st.html(
        f'<div class="mm-badge" data-mood="{attr(mood)}" style="padding:1rem 1.2rem;border-radius:14px;'
        f'background:{style.colour}33;border-left:8px solid {style.colour}">'
        f'<span style="font-size:3.2rem;vertical-align:middle">{style.emoji}</span> '
        f'<span style="font-size:2.2rem;font-weight:700;vertical-align:middle">Mood: {attr(mood)}</span>'
        f'<div style="opacity:.75">confidence {confidence:.0%}</div></div>'
    )


def bars_html(title: str, probs: Sequence[float] | None, note: str) -> str:
    """One modality's bars as HTML (for pages that describe the evidence their own way)."""
    rows = []
    for mood, p in zip(MOODS, probs or [0.0] * len(MOODS)):
        colour = STYLES[mood].colour
        rows.append(
            f'<div style="display:flex;align-items:center;gap:.4rem;font-size:.85rem">'
            f'<span style="width:4.8rem">{STYLES[mood].emoji} {mood}</span>'
            f'<span style="flex:1;background:#8883;border-radius:4px;height:.7rem">'
            f'<span style="display:block;width:{100 * float(p):.0f}%;height:100%;background:{colour};'
            f'border-radius:4px"></span></span><span style="width:2.6rem;text-align:right">{float(p):.0%}</span></div>'
        )
    return (
        f'<div class="mm-evidence" data-modality="{attr(title.lower())}"><b>{attr(title)}</b> '
        f'<span style="opacity:.7;font-size:.8rem">{attr(note)}</span>{"".join(rows)}</div>'
    )


def unfamiliar_text(modality: str) -> str:
    """What the page says when the novelty gate takes weight away, in plain words.

    >>> unfamiliar_text("Voice")
    'Your voice sounds unlike the recordings the voice model learned from, so it counts less.'
    """
    what = "voice sounds" if modality.lower() == "voice" else "face looks"
    return f"Your {what} unlike the recordings the {modality.lower()} model learned from, so it counts less."


def evidence_bars(face, voice, face_state: str = "", voice_state: str = "",
                  voice_learnt_s: float | None = None) -> None:
    """Why: each modality's probabilities and how much it counted (its fusion weight).

    `voice_learnt_s`: how much of this speaker's voice the session has learnt
    (speaker adaptation), said under the voice bars; None when it is not learning.
    """
    left, right = st.columns(2)
    for col, title, ev, state in ((left, "Face", face, face_state), (right, "Voice", voice, voice_state)):
        if ev is None:
            note = {"off": "no input", "no face": "no face in view", "silence": "no speech",
                    "behind": "the server is behind; late frames are dropped"}.get(state, "no evidence yet")
            col.html(bars_html(title, None, note))
        else:
            note = f"weight {ev.weight:.0%} · quality {ev.quality:.0%} · {ev.age:.1f}s ago"
            if title == "Voice" and voice_learnt_s is not None:
                note += f" · tuned to your voice from {voice_learnt_s:.0f} s of speech"
            col.html(bars_html(title, ev.probs, note))
            if getattr(ev, "unfamiliar", False):
                col.caption(unfamiliar_text(title))


def timeline_chart(points: Sequence[tuple[float, str, float]], now: float, seconds: float = 60.0) -> None:
    """Moods over the last minute, one dot per reading, coloured by mood.

    A plain Vega-Lite spec, not an Altair chart: the live page redraws this
    twice a second per session, and Altair's schema validation cost about
    23 ms of GIL-held CPU per draw against 1.4 ms for the same spec as a dict;
    with several sessions that starved the media threads (issue 7, "Load").
    """
    if not points:
        st.caption("The timeline fills in as moods are read.")
        return
    df = pd.DataFrame(
        [{"seconds ago": round(now - t, 1), "mood": m, "confidence": c} for t, m, c in points if now - t <= seconds]
    )
    moods = list(MOODS)
    spec = {
        "mark": {"type": "circle", "size": 70},
        "height": 190,
        "encoding": {
            "x": {"field": "seconds ago", "type": "quantitative", "scale": {"domain": [seconds, 0]},
                  "title": "seconds ago"},
            "y": {"field": "mood", "type": "nominal", "sort": moods, "scale": {"domain": moods}, "title": None},
            "color": {"field": "mood", "type": "nominal", "legend": None,
                      "scale": {"domain": moods, "range": [STYLES[m].colour for m in MOODS]}},
            "opacity": {"field": "confidence", "type": "quantitative", "legend": None, "scale": {"domain": [0.2, 1]}},
            "tooltip": [
                {"field": "mood", "type": "nominal"},
                {"field": "confidence", "type": "quantitative", "format": ".0%"},
                {"field": "seconds ago", "type": "quantitative"},
            ],
        },
    }
    st.vega_lite_chart(df, spec, width="stretch")


def track_list(
    recs,
    on_feedback: Callable[[str, bool], None] | None = None,
    key: str = "tracks",
    embed_height: int = 80,
    player: Callable[[str, str], None] | None = None,
) -> None:
    """Each track in Spotify's embed player with a one-line reason and like/skip buttons.

    With `player` (a signed-in Spotify Premium account) each track also gets
    play-on-my-device and add-to-queue buttons.
    """
    if recs.note:
        st.caption(plain(recs.note))
    for i, rec in enumerate(recs.tracks):
        track = rec.track
        with st.container(border=True):
            st.iframe(track.embed_url, height=embed_height)
            cols = st.columns([6, 1, 1, 1, 1] if player else [6, 1, 1])
            cols[0].caption(plain(f"{track.name} — {track.artist}: {rec.reason}" if track.artist else f"{track.name}: {rec.reason}"))
            if on_feedback is not None:
                if cols[1].button("👍", key=f"{key}-like-{track.id}-{i}", help="More like this"):
                    on_feedback(track.id, True)
                if cols[2].button("👎", key=f"{key}-skip-{track.id}-{i}", help="Less like this"):
                    on_feedback(track.id, False)
            if player is not None:
                if cols[3].button("▶", key=f"{key}-play-{track.id}-{i}", help="Play on my Spotify device"):
                    player(track.id, "play")
                if cols[4].button("➕", key=f"{key}-queue-{track.id}-{i}", help="Add to my Spotify queue"):
                    player(track.id, "queue")


def status_line(snap) -> None:
    """Processed video fps, audio activity and latency, small and out of the way."""
    voice = {"speech": "🎙️ speech", "silence": "🎙️ quiet", "off": "🎙️ off"}[snap.voice_state]
    face = {"face": "🙂 face", "no face": "🙂 no face", "off": "📷 off",
            "behind": "📷 server behind: late frames dropped"}[snap.face_state]
    errors = snap.counters.get("errors", 0)
    st.caption(
        f"{face} · {voice} ({snap.audio_level_db:.0f} dBFS) · video {snap.video_fps:.0f} fps processed "
        f"of {snap.video_in_fps:.0f} · audio {snap.audio_fps:.0f} frames/s · "
        f"step {snap.video_ms:.0f} ms · latency {snap.latency_ms:.0f} ms"
        + (f" · {errors} errors (logged)" if errors else "")
    )
