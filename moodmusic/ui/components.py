"""Building blocks every page shares: mood badge, evidence bars, timeline, track list, status line.

Each takes plain data (moods, probabilities, recommendations) so pages stay
short and look alike. Text from outside is escaped (`moodmusic.ui.text`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

import pandas as pd
import streamlit as st

from moodmusic.moods import MOODS, STYLES
from moodmusic.ui.text import attr, plain

STATE_MESSAGES = {
    "waiting": "Waiting for the camera and microphone…",
    "connecting": "Still connecting to the server: your camera is on, but its video has not arrived. "
                  "A firewall may be in the way; try another network, or use Analyse a clip.",
    "relay failing": "Still connecting: the app's TURN relay does not answer or refuses its credentials, so "
                     "no video can arrive (for whoever runs this app: check that the relay is running and "
                     "that MOODMUSIC_ICE_SERVERS and MOODMUSIC_TURN_SECRET match it).",
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
        f'<div class="mm-badge" data-mood="{attr(mood)}" style="padding:.6rem 1.1rem;border-radius:14px;'
        f'background:{style.colour}33;border-left:8px solid {style.colour}">'
        f'<span style="font-size:2.6rem;vertical-align:middle">{style.emoji}</span> '
        f'<span style="font-size:2rem;font-weight:700;vertical-align:middle">Mood: {attr(mood)}</span> '
        f'<span style="opacity:.75;vertical-align:middle;white-space:nowrap">{sureness(confidence)}</span></div>'
    )


def sureness(confidence: float) -> str:
    """The confidence as a person says it.

    >>> sureness(0.74), sureness(0.45), sureness(0.2)
    ('fairly sure (74%)', 'not sure (45%)', 'a guess (20%)')
    """
    words = "quite sure" if confidence >= 0.85 else "fairly sure" if confidence >= 0.6 else (
        "not sure" if confidence >= 0.35 else "a guess")
    return f"{words} ({confidence:.0%})"


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
            note = f"counts {ev.weight:.0%}"  # quality and age: `engineer_figures`, in the status expander
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


def track_meta(track) -> str:
    """Genre and year of a track for its card ("Blues · 1983", "Rock · 1980s", "genre unknown · 1990s").

    >>> from moodmusic.music.catalog import Track
    >>> track_meta(Track("x", "n", "a", genre="Blues", decade="1980s", year="1983"))
    'Blues · 1983'
    >>> track_meta(Track("x", "n", "a"))
    'genre unknown · year unknown'
    """
    when = getattr(track, "year", "") or track.decade or "year unknown"
    return f"{track.genre or 'genre unknown'} · {when}"


def track_card_html(rec, liked: bool = False) -> str:
    """A track's title, artist, genre and year, and why it was picked, as HTML: each text escaped exactly once.

    Names come from outside (the catalog, Spotify) and may hold quotes, `&`, `<` or markdown
    characters; they go through `attr` once and are never passed through markdown.

    >>> from moodmusic.music.catalog import Track
    >>> from moodmusic.music.recommender import Recommendation
    >>> html = track_card_html(Recommendation(Track("x", "Don't Stop", "A & B"), 1.0, "fits"))
    >>> "Don&#x27;t Stop" in html and "A &amp; B" in html and "&amp;#x27;" not in html
    True
    """
    track = rec.track
    mark = ('<span class="mm-liked" style="margin-left:.5rem;padding:0 .45rem;border-radius:8px;'
            'background:#2e7d3233;font-size:.8rem;font-weight:600">♥ Liked</span>') if liked else ""
    outside = (' <span class="mm-outside" style="opacity:.8">· outside your filters</span>'
               if not getattr(rec, "in_filters", True) else "")
    return (
        f'<div class="mm-track" data-track-id="{attr(track.id)}" data-liked="{str(liked).lower()}">'
        f'<div class="mm-track-title" style="font-weight:600">{attr(track.name)}{mark}</div>'
        f'<div class="mm-track-artist" style="opacity:.85">{attr(track.artist or "unknown artist")}</div>'
        f'<div class="mm-track-meta" style="font-size:.85rem;opacity:.8">{attr(track_meta(track))}{outside}</div>'
        f'<div class="mm-track-reason" style="font-size:.8rem;opacity:.7">{attr(rec.reason)}</div></div>'
    )


def track_list(
    recs,
    on_feedback: Callable[[str, bool], None] | None = None,
    key: str = "tracks",
    embed_height: int = 80,
    player: Callable[[str, str], None] | None = None,
    liked: Collection[str] = (),
) -> None:
    """Each track's card (title, artist, genre, year, reason), Spotify's embed player, and Like/Skip buttons.

    `on_feedback(track_id, liked)` runs as the button's callback, before the page redraws, so a skipped
    track is already replaced and a liked one already marked in the list drawn next. Tracks in `liked`
    show "♥ Liked" and a pressed Like button. With `player` (a signed-in Spotify Premium account) each
    track also gets play-on-my-device and add-to-queue buttons.
    """
    if recs.note:
        st.caption(plain(recs.note))
    liked = set(liked)
    for i, rec in enumerate(recs.tracks):
        track = rec.track
        is_liked = track.id in liked
        with st.container(border=True):
            st.html(track_card_html(rec, is_liked))
            st.iframe(track.embed_url, height=embed_height)
            if on_feedback is None and player is None:
                continue
            cols = st.columns(4 if player else 2)
            if on_feedback is not None:
                cols[0].button("✓ Liked" if is_liked else "👍 Like", key=f"{key}-like-{track.id}-{i}",
                               help="You liked this: it stays, and lists lean towards it" if is_liked
                               else "Like: keep it, and lean later lists towards it",
                               type="primary" if is_liked else "secondary", disabled=is_liked,
                               on_click=on_feedback, args=(track.id, True), width="stretch")
                cols[1].button("👎 Skip", key=f"{key}-skip-{track.id}-{i}",
                               help="Skip: replace it with another, and show fewer like it",
                               on_click=on_feedback, args=(track.id, False), width="stretch")
            if player is not None:
                if cols[2].button("▶ Play", key=f"{key}-play-{track.id}-{i}", help="Play on my Spotify device"):
                    player(track.id, "play")
                if cols[3].button("➕ Queue", key=f"{key}-queue-{track.id}-{i}", help="Add to my Spotify queue"):
                    player(track.id, "queue")


NO_SOUND_DB = -90.0  # at or below this the microphone gives digital silence (the engine's floor is -120 dBFS)


def level_words(db: float) -> str:
    """The microphone level for the figures: "-35 dBFS", or "no sound" for digital silence.

    >>> level_words(-35.2), level_words(-120.0)
    ('-35 dBFS', 'no sound')
    """
    return "no sound" if db <= NO_SOUND_DB else f"{db:.0f} dBFS"


def status_words(snap) -> str:
    """What the camera and microphone are doing, as a person says it ("camera on · you're speaking").

    Reads `face_state`, `voice_state`, `audio_level_db` and `counters` of a live Snapshot.
    """
    camera = {"face": "📷 camera on", "no face": "📷 camera on, but no face in view", "off": "📷 camera off",
              "behind": "📷 camera on, but the server is behind (late frames are skipped)"}[snap.face_state]
    if snap.voice_state == "speech":
        voice = "🎙️ you're speaking"
    elif snap.voice_state == "silence":
        voice = "🎙️ no sound" if snap.audio_level_db <= NO_SOUND_DB else "🎙️ quiet"
    else:
        voice = "🎙️ microphone off"
    errors = snap.counters.get("errors", 0)
    return f"{camera} · {voice}" + (f" · ⚠️ {errors} problems, written to the server's log" if errors else "")


def engineer_figures(snap) -> str:
    """The engine's rates and costs, for whoever tunes it: `bench.page.parse_status` reads these words."""
    parts = [
        f"video {snap.video_fps:.0f} fps processed of {snap.video_in_fps:.0f}",
        f"audio {snap.audio_fps:.0f} frames/s", f"level {level_words(snap.audio_level_db)}",
        f"step {snap.video_ms:.0f} ms", f"latency {snap.latency_ms:.0f} ms",
    ]
    for name, ev in (("face", snap.face), ("voice", snap.voice)):
        if ev is not None:
            parts.append(f"{name}: weight {ev.weight:.0%}, quality {ev.quality:.0%}, {ev.age:.1f} s old")
    errors = snap.counters.get("errors", 0)
    return " · ".join(parts) + (f" · {errors} errors (logged)" if errors else "")


def status_line(snap) -> None:
    """Camera and microphone in plain words; the engineer's figures (fps, latency, level) in an expander below."""
    st.caption(status_words(snap))
    with st.expander("Figures for engineers"):
        st.caption(engineer_figures(snap))
