"""Optional Spotify sign-in on the page, for Premium listeners to play on their own device.

Shown only when SPOTIFY_CLIENT_ID/SECRET are set. The redirect comes back to
the app (http://127.0.0.1:8501) with `code` and `state` in the query string;
they are exchanged once and removed from the address bar.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from moodmusic.config import Settings
from moodmusic.ui.text import plain


def account(settings: Settings) -> Callable[[str, str], None] | None:
    """Sidebar sign-in box; returns a player callback (track_id, action) when signed in."""
    if not settings.spotify_enabled:
        return None
    from moodmusic.music.spotify import SpotifyError, SpotifyUser, complete_sign_in

    params = st.query_params
    if "code" in params and "state" in params:
        try:
            complete_sign_in(settings, params["code"], params["state"])
            st.toast("Signed in to Spotify.")
        except SpotifyError as exc:
            st.sidebar.error(str(exc))
        st.query_params.clear()
    try:
        user = SpotifyUser(settings)
    except SpotifyError as exc:
        st.sidebar.caption(plain(str(exc)))
        return None
    with st.sidebar:
        st.subheader("Spotify")
        if not user.signed_in:
            st.link_button("Sign in with Spotify", user.authorize_url())
            st.caption("Premium listeners can then play tracks on their own Spotify device.")
            return None
        st.caption("Signed in: ▶ plays on your active Spotify device, ➕ queues there.")
        if st.button("Sign out of Spotify"):
            user.sign_out()
            st.rerun()

    def player(track_id: str, action: str) -> None:
        try:
            (user.play if action == "play" else user.add_to_queue)(track_id)
            st.toast("Playing on your Spotify." if action == "play" else "Added to your Spotify queue.")
        except SpotifyError as exc:
            st.toast(str(exc))

    return player
