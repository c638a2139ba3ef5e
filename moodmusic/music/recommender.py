"""A listening session's recommender: remembers what it showed, what was played, liked or skipped.

One `Recommender` per browser session. It ranks the offline catalog
(ranking.py) and, when Spotify is configured, asks Spotify first and falls
back to the catalog at once when Spotify cannot answer; either way the
result says where it came from (`source`) and why if something went wrong
(`note`).

>>> r = Recommender(seed=1)
>>> recs = r.recommend("happy", n=3)
>>> recs.source, len(recs.tracks)
('catalog', 3)
>>> len({x.track.artist for x in recs.tracks})
3
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from moodmusic.config import Settings, load_settings
from moodmusic.music.catalog import Catalog, Track, load_catalog
from moodmusic.music.ranking import Signals, rank, title_key
from moodmusic.music.targets import STRATEGIES, Target, check_mood, check_strategy, distances, reason_for, target_for

log = logging.getLogger(__name__)

MAX_N = 50
# A Spotify result whose catalog features put it this far from the target is dropped.
SPOTIFY_MAX_DISTANCE = 0.35


@dataclass
class Recommendation:
    track: Track
    score: float
    reason: str
    in_filters: bool = True  # False: shown because too few tracks match the genre/decade chosen


@dataclass
class Recommendations:
    mood: str
    strategy: str
    source: str  # "catalog" or "spotify"
    tracks: list[Recommendation]
    note: str = ""
    target: Target | None = field(default=None, repr=False)
    genre: str | None = None
    decade: str | None = None

    def to_dict(self) -> dict:
        """The `recommend --json` shape: mood, strategy, source, note, tracks[...]."""
        return {
            "mood": self.mood, "strategy": self.strategy, "source": self.source, "note": self.note,
            "tracks": [{
                "id": r.track.id, "name": r.track.name, "artist": r.track.artist,
                "valence": r.track.valence, "energy": r.track.energy, "tempo": r.track.tempo,
                "danceability": r.track.danceability, "acousticness": r.track.acousticness,
                "genre": r.track.genre, "decade": r.track.decade,
                "embed_url": r.track.embed_url, "score": round(r.score, 4), "reason": r.reason,
                "in_filters": r.in_filters,
            } for r in self.tracks],
        }


class Recommender:
    """Per-session recommendations with novelty and feedback; deterministic for a seed."""

    def __init__(
        self,
        catalog: Catalog | None = None,
        settings: Settings | None = None,
        seed: int = 0,
        *,
        spotify: object | None = None,
        use_spotify: bool | None = None,
    ) -> None:
        self.catalog = catalog if catalog is not None else load_catalog()
        self.settings = settings if settings is not None else load_settings()
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self._shown: dict[str, None] = {}      # ordered set of ids shown this session
        self._played: set[str] = set()
        self._liked: dict[str, Track] = {}
        self._skipped: dict[str, Track] = {}
        self._known: dict[str, Track] = {}     # every track this session handed out
        if use_spotify is None:
            use_spotify = spotify is not None or self.settings.spotify_enabled
        self._spotify = spotify
        if use_spotify and spotify is None:
            try:
                from moodmusic.music.spotify import shared_source
                self._spotify = shared_source(self.settings)
            except Exception as exc:  # noqa: BLE001 - Spotify is optional; the catalog always works
                log.warning("Spotify unavailable (%s); using the offline catalog", exc)
                self._spotify = None
        elif not use_spotify:
            self._spotify = None

    # ---------------------------------------------------------------- session signals
    def feedback(self, track_id: str, liked: bool) -> None:
        """A like pulls the track's neighbourhood (and artist) up; a skip pushes it down."""
        track = self._known.get(track_id) or self.catalog.get(track_id)
        if track is None:
            raise KeyError(f"unknown track id {track_id!r}")
        self._played.add(track_id)
        (self._liked if liked else self._skipped)[track_id] = track
        (self._skipped if liked else self._liked).pop(track_id, None)

    def remember(self, feedback: Mapping[str, bool]) -> int:
        """Likes and skips from earlier sessions (track id → liked), e.g. `Store.track_feedback()`.

        They steer this session's lists like its own: a like pulls its neighbourhood and artist up (and the
        track may come back), a skip pushes them down and the track is not offered again while others remain.
        Ids the catalog does not know (Spotify-only tracks) are ignored. Returns how many were taken.
        """
        taken = 0
        for track_id, liked in feedback.items():
            if self.catalog.get(track_id) is None:
                continue
            self.feedback(track_id, bool(liked))
            if liked:
                self._played.discard(track_id)
            taken += 1
        return taken

    @property
    def liked(self) -> frozenset[str]:
        """Ids of the tracks liked (this session, and earlier ones passed to `remember`)."""
        return frozenset(self._liked)

    @property
    def skipped(self) -> frozenset[str]:
        return frozenset(self._skipped)

    def mark_played(self, track_id: str) -> None:
        """The listener played this track: do not offer it again this session."""
        self._played.add(track_id)

    @property
    def shown(self) -> list[str]:
        return list(self._shown)

    def genres(self) -> list[str]:
        return self.catalog.genres()

    def decades(self) -> list[str]:
        return self.catalog.decades()

    def _signals(self) -> Signals:
        seen = {self.catalog.index_of(t) for t in (*self._shown, *self._played)}
        seen.discard(None)
        feats = lambda ts: tuple(t.feature_vector() for t in ts.values() if t.has_features)  # noqa: E731
        artists = lambda ts: frozenset(t.artist.strip().casefold() for t in ts.values() if t.artist.strip())  # noqa: E731
        return Signals(seen=frozenset(seen), liked=feats(self._liked), skipped=feats(self._skipped),
                       liked_artists=artists(self._liked), skipped_artists=artists(self._skipped))

    # ---------------------------------------------------------------- recommend
    def _check_filters(self, genre: str | None, decade: str | None) -> None:
        if genre and genre not in self.genres():
            raise ValueError(f"unknown genre {genre!r}; choose one of: {', '.join(self.genres())}")
        if decade and decade not in self.decades():
            raise ValueError(f"unknown decade {decade!r}; choose one of: {', '.join(self.decades())}")

    def recommend(
        self, mood: str, strategy: str = "match", n: int = 8, genre: str | None = None, decade: str | None = None,
    ) -> Recommendations:
        """Up to n tracks for the mood: close to its target, new to this session, one per artist."""
        check_mood(mood)
        check_strategy(strategy)
        if not 1 <= int(n) <= MAX_N:
            raise ValueError(f"n must be between 1 and {MAX_N}, got {n}")
        n = int(n)
        self._check_filters(genre, decade)
        target = target_for(mood, strategy)
        picks: list[Recommendation] = []
        source, note = "catalog", ""
        if self._spotify is not None:
            res = self._spotify.fetch(mood, strategy, target)
            if res.ok:
                picks = self._from_spotify(res.tracks, target, n, genre, decade)
                if picks:
                    source = "spotify"
                    note = res.note
                    if len(picks) < n:
                        note = "; ".join(x for x in (note, "topped up from the offline catalog") if x)
                else:
                    note = "Spotify had nothing new for this mood — using the offline catalog"
            else:
                note = res.note
        if len(picks) < n:
            picks += self._from_catalog(target, n - len(picks), genre, decade, taken=picks)
        if len(picks) < n and (genre or decade):
            matched = len(picks)
            for g, d in _relaxed(genre, decade):
                if len(picks) < n:
                    picks += [replace(r, in_filters=False)
                              for r in self._from_catalog(target, n - len(picks), g, d, taken=picks)]
            note = "; ".join(x for x in (note, self.shortfall_note(genre, decade, matched)) if x)
        self._note_shown(picks)
        return Recommendations(mood, strategy, source, picks, note, target, genre, decade)

    def shortfall_note(self, genre: str | None, decade: str | None, shown: int) -> str:
        """What a page says when the genre/decade filters leave too few tracks: how many match, what follows."""
        allowed = self._allowed(genre, decade)
        total = int((allowed & ~np.isnan(self.catalog.features[:, 0])).sum()) if allowed is not None else 0
        what = " · ".join(x for x in (genre, decade) if x)
        if total == 0:
            return f"No track in the catalog matches {what}: showing the closest others"
        return (f"Only {total} track{'s' if total != 1 else ''} in the catalog match{'es' if total == 1 else ''} "
                f"{what}: {shown} shown first, then the closest others")

    def replace(self, recs: Recommendations, track_id: str) -> Recommendations:
        """The same page with one track swapped for the next best new one (a skip), the others in place."""
        pos = next((i for i, r in enumerate(recs.tracks) if r.track.id == track_id), None)
        if pos is None:
            return recs
        others = [r for r in recs.tracks if r.track.id != track_id]
        target = recs.target or target_for(recs.mood, recs.strategy)
        new = self._from_catalog(target, 1, recs.genre, recs.decade, taken=others)
        for g, d in _relaxed(recs.genre, recs.decade):
            if not new:
                new = [replace(r, in_filters=False) for r in self._from_catalog(target, 1, g, d, taken=others)]
        tracks = list(recs.tracks)
        if new:
            tracks[pos] = new[0]
            self._note_shown(new)
        else:
            del tracks[pos]
        return replace(recs, tracks=tracks)

    def _note_shown(self, picks: list[Recommendation]) -> None:
        for p in picks:
            self._shown[p.track.id] = None
            self._known[p.track.id] = p.track

    def _allowed(self, genre: str | None, decade: str | None) -> np.ndarray | None:
        if not genre and not decade:
            return None
        ok = np.ones(len(self.catalog), bool)
        if genre:
            ok &= self.catalog.genre_of == genre
        if decade:
            ok &= self.catalog.decade_of == decade
        return ok

    def _explain(self, track: Track, target: Target, near_liked: bool = False, liked_artist: bool = False) -> str:
        d = float(distances(track.feature_vector()[None, :], target)[0])
        text = reason_for(track.valence, track.energy, target.mood, target.strategy, d)
        if near_liked:
            text += "; close to a track you liked"
        elif liked_artist:
            text += "; an artist you liked"
        return text

    def _from_catalog(self, target: Target, n: int, genre: str | None, decade: str | None,
                      taken: list[Recommendation]) -> list[Recommendation]:
        cat = self.catalog
        taken_artists = {r.track.artist.strip().casefold() for r in taken}
        allowed = self._allowed(genre, decade)
        if taken:
            ids = {r.track.id for r in taken}
            if allowed is None:
                allowed = np.ones(len(cat), bool)
            for tid in ids:
                i = cat.index_of(tid)
                if i is not None:
                    allowed[i] = False
        ranked = rank(cat.features, cat.artist_keys, cat.names, target, n, allowed=allowed,
                      signals=self._signals(), rng=self._rng, taken_artists=taken_artists)
        return [Recommendation(cat.track(r.index), r.score, self._explain(cat.track(r.index), target, r.near_liked,
                                                                         r.liked_artist)) for r in ranked]

    def _from_spotify(self, tracks: list[Track], target: Target, n: int, genre: str | None,
                      decade: str | None) -> list[Recommendation]:
        """Place Spotify's tracks: catalog features where known (drop poor fits), else relevance order."""
        seen = set(self._shown) | self._played
        out: list[Recommendation] = []
        artists: set[str] = set()
        titles: set[tuple[str, str]] = set()
        skipped_artists = {t.artist.strip().casefold() for t in self._skipped.values()}
        for rank_pos, found in enumerate(tracks):
            known = self.catalog.get(found.id)
            track = known or found
            if track.id in seen:
                continue
            if genre and track.genre != genre:
                continue
            if decade and track.decade != decade:
                continue
            artist = track.artist.strip().casefold()
            title = (title_key(track.name), artist)
            if (artist and artist in artists) or title in titles or (artist and artist in skipped_artists):
                continue
            relevance = 1.0 - rank_pos / max(1, len(tracks))
            if track.has_features:
                d = float(distances(track.feature_vector()[None, :], target)[0])
                if d > SPOTIFY_MAX_DISTANCE:
                    continue
                reason = self._explain(track, target) + " (found on Spotify)"
                score = 1.0 - d
            else:
                reason = (f"Spotify search match #{rank_pos + 1} for {target.mood} ({target.strategy}); "
                          "no audio features known, ranked by relevance")
                score = relevance
            out.append(Recommendation(track, score, reason))
            artists.add(artist)
            titles.add(title)
            if len(out) >= n:
                break
        return out


def _relaxed(genre: str | None, decade: str | None) -> list[tuple[str | None, str | None]]:
    """The filters to fall back on, closest first, when too few tracks match both."""
    if genre and decade:
        return [(genre, None), (None, decade), (None, None)]
    return [(None, None)] if genre or decade else []


__all__ = ["STRATEGIES", "Recommendation", "Recommendations", "Recommender"]
