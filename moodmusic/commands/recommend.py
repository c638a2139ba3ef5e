"""`recommend`: music for a mood from the offline catalog (or Spotify when configured)."""

from __future__ import annotations

import argparse
import json

from moodmusic.errors import UserError

NAME = "recommend"
HELP = "Recommend tracks for a mood (angry, fear, happy, neutral, sad, surprise)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mood", required=True, help="angry, fear, happy, neutral, sad or surprise")
    parser.add_argument("--strategy", default="match",
                        help="match (mirror the mood), lift (toward positive), calm (toward low energy)")
    parser.add_argument("--n", type=int, default=8, help="how many tracks (1-50, default 8)")
    parser.add_argument("--genre", default=None, help="only this genre (see `catalog info`)")
    parser.add_argument("--decade", default=None, help="only this decade, e.g. 1980s")
    parser.add_argument("--seed", type=int, default=0, help="seed for tie-breaking (same seed, same list)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--offline", action="store_true", help="never ask Spotify, even with credentials")
    parser.add_argument("--catalog", default=None, help="catalog file (default: data/catalog.npz)")


def _text(recs) -> str:
    lines = [f"{recs.mood} · {recs.strategy} · from the {'offline catalog' if recs.source == 'catalog' else 'Spotify'}"]
    if recs.note:
        lines.append(f"note: {recs.note}")
    for i, r in enumerate(recs.tracks, 1):
        t = r.track
        extra = ", ".join(x for x in (t.genre, t.decade) if x)
        lines.append(f"{i:2d}. {t.name} — {t.artist or 'unknown artist'}" + (f"  ({extra})" if extra else ""))
        lines.append(f"    {r.reason}")
        lines.append(f"    {t.embed_url}")
    if not recs.tracks:
        lines.append("no tracks found")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from moodmusic.config import load_settings
    from moodmusic.moods import MOODS
    from moodmusic.music import STRATEGIES, CatalogError, Recommender, load_catalog

    mood = args.mood.strip().lower()
    if mood not in MOODS:
        raise UserError(f"unknown mood {args.mood!r}; choose one of: {', '.join(MOODS)}")
    strategy = args.strategy.strip().lower()
    if strategy not in STRATEGIES:
        raise UserError(f"unknown strategy {args.strategy!r}; choose one of: {', '.join(STRATEGIES)}")
    try:
        catalog = load_catalog(args.catalog)
        recommender = Recommender(catalog, load_settings(), seed=args.seed, use_spotify=False if args.offline else None)
        recs = recommender.recommend(mood, strategy, n=args.n, genre=args.genre, decade=args.decade)
    except (CatalogError, ValueError) as exc:
        raise UserError(str(exc)) from None
    print(json.dumps(recs.to_dict(), ensure_ascii=False) if args.json else _text(recs))
    return 0
