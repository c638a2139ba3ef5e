"""`catalog`: build the offline music catalog, check its mood map, show what it holds."""

from __future__ import annotations

import argparse
from pathlib import Path

from moodmusic.errors import UserError

NAME = "catalog"
HELP = "Build the offline music catalog from the shared CSVs, check the mood map, or describe it."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    b = sub.add_parser("build", help="merge the CSV exports into one catalog file")
    b.add_argument("--data", default="../shared/data/music", help="folder with tracks_a/b/c/d CSVs")
    b.add_argument("--out", default="data/catalog.npz",
                   help="output: .npz (what the app loads) or .csv/.csv.gz (readable copy)")
    c = sub.add_parser("check", help="agreement of the mood map with the labelled tracks")
    c.add_argument("--k", type=int, default=50, help="top-k labelled tracks per target (default 50)")
    c.add_argument("--catalog", default=None, help="catalog file (default: data/catalog.npz)")
    i = sub.add_parser("info", help="size, genres, decades and labels of the catalog")
    i.add_argument("--catalog", default=None, help="catalog file (default: data/catalog.npz)")


def run(args: argparse.Namespace) -> int:
    if args.action == "build":
        return _build(args)
    catalog = _load(args.catalog)
    if args.action == "check":
        return _check(catalog, args.k)
    for line in catalog.describe():
        print(line)
    return 0


def _load(path: str | None):
    from moodmusic.music.catalog import CatalogError, load_catalog

    try:
        return load_catalog(path)
    except CatalogError as exc:
        raise UserError(str(exc)) from None


def _build(args: argparse.Namespace) -> int:
    from moodmusic.music.build import build_catalog
    from moodmusic.music.catalog import read_catalog, write_catalog

    data = Path(args.data)
    if not data.is_dir():
        raise UserError(f"no folder {data}: pass --data with the tracks_*.csv exports")
    try:
        tracks, report = build_catalog(data)
    except FileNotFoundError as exc:
        raise UserError(str(exc)) from None
    out = Path(args.out)
    write_catalog(tracks, out)
    for line in report.lines():
        print(line)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB); check: {len(read_catalog(out))} tracks read back")
    return 0


def _check(catalog, k: int) -> int:
    from moodmusic.music.evaluation import label_agreement

    try:
        rows = label_agreement(catalog, k=k)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    print(f"labelled tracks: {int((catalog.label_of != '').sum())}; share of the label among the "
          f"top-{rows[0].k} closest to each target, against its base rate")
    for r in rows:
        print(r.line())
    return 0
