"""Music for a mood: an offline catalog, mood → feature targets, ranking, optional Spotify.

>>> from moodmusic.music import Recommender
>>> recs = Recommender(seed=0).recommend("sad", "lift", n=4)
>>> recs.source, len(recs.tracks), recs.tracks[0].reason.endswith("lifts sad")
('catalog', 4, True)

`moodmusic.music.spotify` (the only module that imports spotipy) is imported
lazily, only when Spotify credentials are set.
"""

from moodmusic.music.catalog import Catalog, CatalogError, Track, load_catalog
from moodmusic.music.recommender import Recommendation, Recommendations, Recommender
from moodmusic.music.targets import STRATEGIES, Target, reason_for, target_for

__all__ = [
    "STRATEGIES", "Catalog", "CatalogError", "Recommendation", "Recommendations", "Recommender",
    "Target", "Track", "load_catalog", "reason_for", "target_for",
]
