"""`catalog`: build the offline music catalog, check its mood map, show what it holds."""

from __future__ import annotations

import argparse

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
    from pathlib import Path

    from moodmusic.cli import UserError
    from moodmusic.music.catalog import CatalogError, load_catalog, read_catalog, write_catalog

    if args.action == "build":
        from moodmusic.music.build import build_catalog

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
    try:
        catalog = load_catalog(args.catalog)
    except CatalogError as exc:
        raise UserError(str(exc)) from None
    if args.action == "check":
        from moodmusic.music.evaluation import label_agreement

        try:
            rows = label_agreement(catalog, k=args.k)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        print(f"labelled tracks: {int((catalog.label_of != '').sum())}; share of the label among the "
              f"top-{rows[0].k} closest to each target, against its base rate")
        for r in rows:
            print(r.line())
        return 0
    labels = {}
    for lab in catalog.label_of.tolist():
        if lab:
            labels[lab] = labels.get(lab, 0) + 1
    print(f"{len(catalog)} tracks; artist known for {sum(1 for a in catalog.artists if a)}")
    print("genres: " + ", ".join(f"{g} ({int((catalog.genre_of == g).sum())})" for g in catalog.genres()))
    print("decades: " + ", ".join(f"{d} ({int((catalog.decade_of == d).sum())})" for d in catalog.decades()))
    print("labels: " + ", ".join(f"{k} {v}" for k, v in sorted(labels.items())))
    return 0
