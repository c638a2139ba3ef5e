"""Fixtures for the music tests: the committed catalog, a loopback Spotify, settings that point at it."""

from __future__ import annotations

import pytest

from moodmusic.config import Settings
from moodmusic.music.catalog import load_catalog


@pytest.fixture(scope="session")
def catalog():
    return load_catalog()


@pytest.fixture
def offline_settings(tmp_path) -> Settings:
    """No Spotify credentials, everything under a temporary home."""
    return Settings(home=tmp_path / "home")


@pytest.fixture
def fake_spotify(catalog):
    from tests.music.fake_spotify import FakeSpotify, track_item

    # Search answers: eight happy catalog tracks (ids the catalog knows), then Spotify-only ids.
    happy = [catalog.get(i) for i in HAPPY_IDS]
    items = [track_item(t.id, t.name, t.artist) for t in happy]
    items.append(track_item(FAR_FROM_HAPPY, "far from happy", catalog.get(FAR_FROM_HAPPY).artist))
    items += [track_item(f"0SpotifyOnly{i:010d}", f"Sunny Song {i}", f"Band {i}", "1987-03-01") for i in range(12)]
    server = FakeSpotify(items)
    yield server
    server.close()


@pytest.fixture
def spotify_settings(tmp_path, fake_spotify) -> Settings:
    from tests.music.fake_spotify import CLIENT_ID, CLIENT_SECRET

    return Settings(home=tmp_path / "home", spotify_client_id=CLIENT_ID, spotify_client_secret=CLIENT_SECRET,
                    spotify_timeout_s=1.0)


# Real catalog tracks that sit near the happy target (valence ~0.8, energy ~0.7), from different artists.
HAPPY_IDS = (
    "7EQGXaVSyEDsCWKmUcfpLk",  # Die Young — Kesha
    "6zTl1HyJZfPGzc7jjgcpeq",  # IMMORTAL — Ricki Monique
    "7ENULVmcbEdqy7pBvOu436",  # Life for Me — Lily Allen
)
FAR_FROM_HAPPY = "3DIHHlerF1iuu5oJDcXG5h"  # Argenteus — Alfa Cognitive: valence 0.0, energy 0.0
