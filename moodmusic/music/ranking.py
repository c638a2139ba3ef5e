"""Rank catalog tracks for a target: closeness, feedback, novelty, diversity.

A pure function over arrays, so every rule can be tested on its own:

1. **closeness** — 1 minus the weighted distance to the target (targets.py);
2. **feedback** — tracks near something the listener liked move up, near
   something skipped move down (a Gaussian kernel in feature space, so the
   effect is local: one liked ballad does not reorder the whole catalog);
   a liked artist gets a small bonus, a skipped one a larger malus;
3. **novelty** — tracks this session already showed or played are left out
   while enough others remain;
4. **diversity** — a greedy pick (maximal marginal relevance) from the best
   few hundred: each next track trades closeness against similarity to the
   tracks already picked, and no artist (or song title) appears twice in a
   page. That spreads a page over the target's region instead of stacking
   eight near-identical tracks on its centre. Tracks whose artist is unknown
   (a fifth of the catalog's sources has no artist column) lose a little,
   since diversity cannot be checked for them.

A small seeded jitter breaks near-ties, so two sessions see different but
equally fitting pages, and one seed always gives the same page.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from moodmusic.music.targets import Target, distances

FEEDBACK_WEIGHT = 0.12      # how far a liked/skipped neighbour moves a track (in closeness units)
FEEDBACK_RADIUS = 0.10      # kernel width in feature space
LIKED_ARTIST_BONUS = 0.04
SKIPPED_ARTIST_MALUS = 0.08
DIVERSITY_WEIGHT = 0.06     # penalty for a near-duplicate of an already picked track
DIVERSITY_RADIUS = 0.02     # in weighted-distance units (same as targets.distances)
JITTER = 0.01
POOL_PER_RESULT = 40
MIN_POOL = 300
SEEN_MALUS = 1.0            # only when the unseen tracks run out
UNKNOWN_ARTIST_MALUS = 0.02  # a page needs known artists to be checkably diverse (and to read well)


@dataclass(frozen=True)
class Signals:
    """What the session has told the ranker so far (indices into the catalog)."""

    seen: frozenset[int] = frozenset()
    liked: tuple[np.ndarray, ...] = ()
    skipped: tuple[np.ndarray, ...] = ()
    liked_artists: frozenset[str] = frozenset()
    skipped_artists: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Ranked:
    index: int
    score: float
    closeness: float
    near_liked: bool = False
    liked_artist: bool = False


def title_key(name: str) -> str:
    """A song title without version suffixes, for "same song twice" checks."""
    s = re.sub(r"\s*[-(\[].*$", "", name.casefold())
    return re.sub(r"\W+", " ", s).strip() or name.casefold()


def _kernel(x: np.ndarray, points: Sequence[np.ndarray], radius: float) -> np.ndarray:
    """max over points of exp(-|x - p|^2 / 2r^2), NaN features ignored."""
    if not points:
        return np.zeros(len(x))
    best = np.zeros(len(x))
    for p in points:
        diff = np.where(np.isnan(x) | np.isnan(p), 0.0, x - np.nan_to_num(p))
        best = np.maximum(best, np.exp(-(diff ** 2).sum(axis=1) / (2 * radius ** 2)))
    return best


def rank(
    features: np.ndarray,
    artist_keys: Sequence[str],
    names: Sequence[str],
    target: Target,
    n: int,
    *,
    allowed: np.ndarray | None = None,
    signals: Signals = Signals(),
    rng: np.random.Generator | None = None,
    taken_artists: Collection[str] = (),
) -> list[Ranked]:
    """The n best tracks for `target` under the rules above (fewer if `allowed` leaves fewer)."""
    if n <= 0 or len(features) == 0:
        return []
    ok = np.ones(len(features), bool) if allowed is None else np.asarray(allowed, bool).copy()
    ok &= ~np.isnan(features[:, 0]) & ~np.isnan(features[:, 1])
    if not ok.any():
        return []
    cand = np.flatnonzero(ok)
    close = 1.0 - distances(features[cand], target)
    score = close.copy()
    pull_like = _kernel(features[cand], signals.liked, FEEDBACK_RADIUS)
    pull_skip = _kernel(features[cand], signals.skipped, FEEDBACK_RADIUS)
    score += FEEDBACK_WEIGHT * (pull_like - pull_skip)
    keys = np.asarray(artist_keys, dtype=object)[cand]
    known = keys != ""
    liked_artist = known & np.isin(keys, list(signals.liked_artists)) if signals.liked_artists else ~known & known
    skipped_artist = known & np.isin(keys, list(signals.skipped_artists)) if signals.skipped_artists else ~known & known
    score += LIKED_ARTIST_BONUS * liked_artist - SKIPPED_ARTIST_MALUS * skipped_artist
    score -= UNKNOWN_ARTIST_MALUS * ~known
    if signals.seen:
        seen = np.zeros(len(features), bool)
        seen[list(signals.seen)] = True
        score -= SEEN_MALUS * seen[cand]
    if rng is not None:
        score += rng.normal(0.0, JITTER, len(cand))

    pool_size = min(len(cand), max(MIN_POOL, POOL_PER_RESULT * n))
    top = np.argpartition(-score, pool_size - 1)[:pool_size] if pool_size < len(cand) else np.arange(len(cand))
    top = top[np.argsort(-score[top], kind="stable")]
    # Similarity between picks is measured on the target's own (weighted) features: the region to spread over.
    w = target.weights()
    on = w > 0
    feats = np.where(np.isnan(features[cand[top]]), np.nan_to_num(target.vector()), features[cand[top]])[:, on]
    feats = feats * np.sqrt(w[on] / w[on].sum())

    picked: list[Ranked] = []
    used_artists = {a for a in taken_artists if a}
    used_titles: set[tuple[str, str]] = set()
    redundancy = np.zeros(len(top))
    alive = np.ones(len(top), bool)
    while len(picked) < n and alive.any():
        value = np.where(alive, score[top] - DIVERSITY_WEIGHT * redundancy, -np.inf)
        j = int(np.argmax(value))
        alive[j] = False
        i = int(cand[top[j]])
        artist = artist_keys[i]
        title = (title_key(names[i]), artist)
        if (artist and artist in used_artists) or title in used_titles:
            continue
        if artist:
            used_artists.add(artist)
        used_titles.add(title)
        k = top[j]
        picked.append(Ranked(i, float(score[k]), float(close[k]), bool(pull_like[k] > 0.5), bool(liked_artist[k])))
        sim = np.exp(-((feats - feats[j]) ** 2).sum(axis=1) / (2 * DIVERSITY_RADIUS ** 2))
        redundancy = np.maximum(redundancy, sim)
    return picked
