"""Build the committed catalog from the public CSV exports in `shared/data/music`.

Run once by a maintainer (`python -m moodmusic catalog build`); the app only
reads the result. The four exports disagree in columns, so each is read into
one schema, then merged per Spotify id:

* features come from the first source that has the id, in the order
  tracks_c (labelled) > tracks_d > tracks_b > tracks_a. tracks_a is last
  because its feature columns are shifted by one row from about row 1,170 on
  (row j holds the features of row j+1's track); `realign_shifted_features`
  finds the break against the other exports and repairs it, dropping the few
  rows at the break whose features cannot be placed.
* artist from tracks_c/a/b (tracks_d has none: those tracks are kept with
  artist "" because they carry most of the decade information; the page
  shows them as "unknown artist" and diversity treats each as its own artist),
  decade from tracks_d or tracks_c's release date, year from tracks_c's
  release date, mood label from tracks_c.
* genre: tracks_b's `genres` column is Spotify's genre list of the track's
  *artist* (Spotify has no per-track genre), alphabetically sorted. Each genre
  is mapped to a short family (GENRE_RULES, with GENRE_EXACT first), and the
  family most of the artist's genres map to wins ("adult standards; classic
  soul; disco; quiet storm; soul" is R&B / Soul, not the alphabetically first
  Pop). Being the artist's, the family is given to every catalog track by an
  artist that tracks_b knows, not only to tracks_b's own rows.
* the same recording under another id: a tracks_d row (no artist) whose title
  and audio features match a row of another export gets that row's artist,
  and the other row gets its decade; the duplicate is then dropped below.
* dropped: rows without features or name, non-music (white/colour noise,
  rain, sleep sounds: genre family "Noise") and spoken word
  (speechiness > 0.66, Spotify's own threshold for "entirely spoken").
* text is trimmed, control characters become spaces, and titles stored
  as mis-decoded UTF-8 ("CorazÃ³n", about 220 in tracks_d) are repaired.
* the same song under several ids (single vs album release) is kept once,
  per (name, artist).

Nothing is escaped here: text is stored as found and escaped when rendered.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from moodmusic.music.catalog import Track, decade_from_date, year_from_date

# Genre family rules: the first rule whose pattern matches a genre name wins;
# a track's genre list is tried genre by genre, its primary genre first.
GENRE_RULES: tuple[tuple[str, str], ...] = (
    ("Noise", r"\b(colou?r noise|white noise|brown noise|pink noise|rain|sleep|healing hz|binaural|asmr|nature sounds?|ocean)\b"),
    ("Children", r"\b(kinder\w*|children'?s?|kids|nursery|lullaby)\b"),
    ("Soundtrack", r"\b(soundtrack|score|movie tunes|show tunes|broadway|video game|musical|anime)\b"),
    ("Metal", r"(metal|\w*core\b|djent|grindcore)"),
    ("Hip Hop", r"(hip hop|\brap\b|\btrap\b|drill|grime|crunk|\bg funk)"),
    ("R&B / Soul", r"(r&b|\bsoul\b|funk|motown|quiet storm|new jack swing|doo-wop)"),
    ("Jazz", r"(jazz|bebop|\bbop\b|swing|big band|bossa nova|post-bop)"),
    ("Blues", r"blues"),
    ("Latin", r"(latin|reggaeton|salsa|bachata|cumbia|corrido|mariachi|tango|samba|\bmpb\b|sertanejo|flamenco|banda|norteñ)"),
    ("Reggae", r"(reggae|\bska\b|dancehall|\bdub\b)"),
    ("Classical", r"(classical|baroque|orchestra|opera|romantic era|early music|chamber music|choral|compositional)"),
    ("Ambient / Instrumental", r"(ambient|lo-fi|lofi|chill|new age|meditation|piano|guitar cover|instrumental|focus|study)"),
    ("Folk / Country", r"(folk|country|americana|bluegrass|singer-songwriter|mandolin)"),
    ("Electronic", r"(house|techno|edm|trance|electro|dubstep|drum and bass|big room|eurodance|idm|synthwave|disco|\bdance$)"),
    ("Rock", r"(rock|punk|\bemo\b|grunge|indie|britpop|shoegaze|new wave|new romantic|garage|psychedelic)"),
    ("Pop", r"(pop|idol|boy band|girl group|adult standards|schlager|mellow|alt z|teen|cabaret)"),
)
# Spotify genres the rules above would file in the wrong family: "soft rock" is Lionel Richie's and
# Phil Collins's ballads (adult contemporary), not rock; checked before the rules.
GENRE_EXACT: dict[str, str] = {
    "soft rock": "Pop", "yacht rock": "Pop", "mellow gold": "Pop", "adult standards": "Pop",
    "quiet storm": "R&B / Soul", "rhythm and blues": "R&B / Soul", "harlem renaissance": "Jazz",
}
_COMPILED = tuple((fam, re.compile(rx)) for fam, rx in GENRE_RULES)
_FAMILY_ORDER = {fam: i for i, (fam, _) in enumerate(GENRE_RULES)}
NON_MUSIC_FAMILIES = frozenset({"Noise"})
SPOKEN_WORD_SPEECHINESS = 0.66
REALIGN_TOLERANCE = 0.002
_REALIGN_COLUMNS = ("valence", "energy", "tempo", "danceability", "acousticness")


def _family_of(genre: str) -> str:
    if genre in GENRE_EXACT:
        return GENRE_EXACT[genre]
    for fam, rx in _COMPILED:
        if rx.search(genre):
            return fam
    return ""


def genre_family(genres: str) -> str:
    """Map an artist's Spotify genre list ("dance pop; pop") to one short family, or "" if none fits.

    The family most of the genres map to wins; a tie goes to the family listed first in GENRE_RULES.
    Any non-music genre (white noise, rain, sleep) makes the whole list non-music.
    """
    votes: Counter = Counter()
    for g in (x.strip().lower() for x in re.split(r"[;,]", genres or "")):
        if g and g != "unknown":
            fam = _family_of(g)
            if fam:
                votes[fam] += 1
    if not votes:
        return ""
    if any(f in NON_MUSIC_FAMILIES for f in votes):
        return next(f for f in votes if f in NON_MUSIC_FAMILIES)
    return min(votes, key=lambda f: (-votes[f], _FAMILY_ORDER[f]))


@dataclass
class Source:
    """Rows of one export in the common schema, with its speechiness where it has one."""

    name: str
    rows: list[Track]
    speechiness: dict[str, float] = field(default_factory=dict)

    def add(self, track: Track, row: dict[str, str]) -> None:
        """Keep the track, and the row's speechiness (used to drop spoken word) where it has one."""
        self.rows.append(track)
        if _f(row, "speechiness") is not None:
            self.speechiness[track.id] = _f(row, "speechiness")


@dataclass
class BuildReport:
    sources: dict[str, int]
    unique_ids: int
    kept: int
    dropped: Counter
    realigned: dict[str, int]
    labels: Counter
    with_genre: int
    with_decade: int
    with_artist: int
    with_year: int = 0
    genre_by_artist: int = 0  # of with_genre: given by the artist's genres in tracks_b, not the track's own row
    same_recording: int = 0  # tracks_d rows matched to another export's row of the same recording

    def lines(self) -> list[str]:
        out = [f"read {sum(self.sources.values())} rows: " + ", ".join(f"{k} {v}" for k, v in self.sources.items()),
               f"unique Spotify ids: {self.unique_ids}",
               f"kept {self.kept} tracks (artist known {self.with_artist}, genre {self.with_genre} "
               f"({self.genre_by_artist} of them by artist), decade {self.with_decade}, year {self.with_year})",
               f"same recording under a tracks_d id and another: {self.same_recording}",
               "dropped: " + (", ".join(f"{k} {v}" for k, v in sorted(self.dropped.items())) or "none"),
               "tracks_a realignment: " + ", ".join(f"{k} {v}" for k, v in self.realigned.items()),
               "mood labels: " + ", ".join(f"{k} {v}" for k, v in sorted(self.labels.items()))]
        return out


def _rows(path: Path) -> Iterator[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        yield from csv.DictReader(fh)


def _f(row: Mapping[str, str], key: str) -> float | None:
    """A number as stored in the catalog: thousandths (tempo: tenths of a BPM)."""
    raw = (row.get(key) or "").strip()
    try:
        x = float(raw) if raw else None
    except ValueError:
        return None
    if x is None or x != x:
        return None
    return round(x, 1 if key == "tempo" else 3)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


_MOJIBAKE = re.compile("[ÃÂ][\u0080-\u00bf]|â€")


def fix_mojibake(s: str) -> str:
    """Undo UTF-8 read as cp1252/latin-1 ("CorazÃ³n" → "Corazón"), as found in tracks_d; else unchanged."""
    if not _MOJIBAKE.search(s):
        return s
    for codec in ("cp1252", "latin-1"):
        try:
            fixed = s.encode(codec).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
        if not _MOJIBAKE.search(fixed):
            return fixed
    return s


def _clean(s: str | None) -> str:
    """Trim, repair mojibake, fold control characters into a space; nothing is escaped."""
    return _CONTROL.sub(" ", fix_mojibake(s or "")).strip()


def _track(tid: str, name: str, artist: str, row: Mapping[str, str], **extra: str) -> Track:
    return Track(
        id=tid.strip(), name=_clean(name), artist=_clean(artist),
        valence=_f(row, "valence"), energy=_f(row, "energy"), tempo=_f(row, "tempo"),
        danceability=_f(row, "danceability"), acousticness=_f(row, "acousticness"),
        instrumentalness=_f(row, "instrumentalness"), **extra,
    )


def read_sources(data_dir: Path) -> tuple[list[Source], list[float | None]]:
    """Read the four exports (c, d, b, a) and tracks_a's raw speechiness column, row by row."""
    data_dir = Path(data_dir)
    needed = ["tracks_a.csv", "tracks_b_genres.csv", "tracks_c_moods.csv", "tracks_d_decades.csv"]
    missing = [n for n in needed if not (data_dir / n).is_file()]
    if missing:
        raise FileNotFoundError(f"{data_dir} lacks {', '.join(missing)}")
    out = []
    c = Source("tracks_c", [])
    for r in _rows(data_dir / "tracks_c_moods.csv"):
        c.add(_track(r["id"], r["name"], r["artist"], r, decade=decade_from_date(r.get("release_date", "")),
                     year=year_from_date(r.get("release_date", "")), label=(r.get("mood") or "").strip()), r)
    out.append(c)
    d = Source("tracks_d", [])
    for r in _rows(data_dir / "tracks_d_decades.csv"):
        tid = r["track_uri"].rsplit(":", 1)[-1]
        d.add(_track(tid, r["track_name"], "", r, decade=decade_from_date(r.get("decade", ""))), r)
    out.append(d)
    b = Source("tracks_b", [])
    for r in _rows(data_dir / "tracks_b_genres.csv"):
        b.rows.append(_track(r["track_id"], r["title"], r["artist"], r, genre=genre_family(r.get("genres", ""))))
    out.append(b)
    a = Source("tracks_a", [])
    raw_speech = []
    for r in _rows(data_dir / "tracks_a.csv"):
        a.rows.append(_track(r["id"], r["name"], r["artist"], r))
        raw_speech.append(_f(r, "speechiness"))
    out.append(a)
    return out, raw_speech


def _vec(t: Track) -> np.ndarray:
    return np.array([np.nan if getattr(t, c) is None else getattr(t, c) for c in _REALIGN_COLUMNS])


def realign_shifted_features(
    ids: Sequence[str], features: np.ndarray, reference: Mapping[str, np.ndarray], tol: float = REALIGN_TOLERANCE,
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Repair a table whose feature columns slipped one row down the file from some row on.

    Rows whose id also appears in `reference` (the other exports) show where
    features sit on their own row and where on the row before; the change point
    that explains most of them is taken as the break. After it, row j gets the
    features stored on row j-1. Rows between the last verified-aligned and the
    first verified-shifted row cannot be placed and are dropped (keep False).
    Returns (features, keep, counts).
    """
    n = len(ids)
    feats = np.asarray(features, dtype=np.float64)

    def close(x: np.ndarray, y: np.ndarray) -> bool:
        return bool(np.all(np.abs(x - y) <= tol))

    same = np.zeros(n, bool)
    prev = np.zeros(n, bool)
    for j, tid in enumerate(ids):
        ref = reference.get(tid)
        if ref is None:
            continue
        same[j] = close(feats[j], ref)
        prev[j] = j > 0 and close(feats[j - 1], ref)
    # Best single change point k: rows < k aligned, rows >= k shifted.
    s_before = np.concatenate([[0], np.cumsum(same)])            # aligned rows before k
    p_after = np.concatenate([np.cumsum(prev[::-1])[::-1], [0]])  # shifted rows at/after k
    k = int(np.argmax(s_before + p_after))
    keep = np.ones(n, bool)
    fixed = feats.copy()
    counts = {"verified_aligned": int(same[:k].sum()), "verified_shifted": int(prev[k:].sum()),
              "unverifiable_at_break": 0, "break_row": k}
    if k >= n or not prev[k:].any():
        counts["break_row"] = -1
        return fixed, keep, counts
    first_shifted = k + int(np.argmax(prev[k:]))
    aligned_idx = np.flatnonzero(same[:first_shifted])
    last_aligned = int(aligned_idx[-1]) if aligned_idx.size else -1
    keep[last_aligned + 1:first_shifted] = False
    fixed[first_shifted:] = feats[first_shifted - 1:n - 1]
    counts["unverifiable_at_break"] = int((~keep).sum())
    counts["break_row"] = first_shifted
    agree = sum(close(fixed[j], reference[t]) for j, t in enumerate(ids) if keep[j] and t in reference)
    counts["agree_after"] = int(agree)
    counts["verifiable_after"] = int(sum(1 for j, t in enumerate(ids) if keep[j] and t in reference))
    return fixed, keep, counts


def _with_features(t: Track, v: np.ndarray) -> Track:
    vals = dict(zip(_REALIGN_COLUMNS, (None if np.isnan(x) else float(x) for x in v)))
    return replace(t, **vals)


SAME_RECORDING_TOLERANCE = 0.01  # valence, energy, danceability, acousticness within this: one recording


def same_recordings(unnamed: Sequence[Track], named: Sequence[Track]) -> dict[str, Track]:
    """Rows without an artist (tracks_d) that are a row of another export under another id.

    Same title (after `_norm_title`) and the same audio features within SAME_RECORDING_TOLERANCE: the
    same recording released twice (single and album). Returns {unnamed id: the named row}.
    """
    by_title: dict[str, list[Track]] = {}
    for t in named:
        if t.artist and t.has_features:
            by_title.setdefault(_norm_title(t.name), []).append(t)
    cols = ("valence", "energy", "danceability", "acousticness")
    out: dict[str, Track] = {}
    for t in unnamed:
        if t.artist or not t.has_features:
            continue
        for o in by_title.get(_norm_title(t.name), ()):
            if o.id != t.id and all(getattr(t, c) is not None and getattr(o, c) is not None
                                    and abs(getattr(t, c) - getattr(o, c)) <= SAME_RECORDING_TOLERANCE for c in cols):
                out[t.id] = o
                break
    return out


def artist_genres(rows: Sequence[Track]) -> dict[str, str]:
    """Each artist's genre family (artist casefolded → family), from the rows that have one (tracks_b)."""
    votes: dict[str, Counter] = {}
    for t in rows:
        if t.genre and t.artist:
            votes.setdefault(t.artist.strip().casefold(), Counter())[t.genre] += 1
    return {a: min(v, key=lambda f: (-v[f], _FAMILY_ORDER.get(f, 99))) for a, v in votes.items()}


def _norm_title(s: str) -> str:
    s = re.sub(r"\s*[-(\[].*(remaster|version|edit|mix|live|mono|stereo).*$", "", s.casefold())
    return re.sub(r"\W+", " ", s).strip()


def build_catalog(data_dir: Path) -> tuple[list[Track], BuildReport]:
    """Merge the exports into one deduplicated, normalised list of tracks (see module docstring)."""
    sources, a_speech = read_sources(data_dir)
    c, d, b, a = sources
    counts = {s.name: len(s.rows) for s in sources}
    all_ids = {t.id for s in sources for t in s.rows}
    dropped: Counter = Counter()

    # Reference features for tracks_a's realignment: the other three exports.
    reference: dict[str, np.ndarray] = {}
    for src in (c, d, b):
        for t in src.rows:
            reference.setdefault(t.id, _vec(t))
    a_ids = [t.id for t in a.rows]
    a_feats = np.stack([_vec(t) for t in a.rows])
    fixed, keep, realigned = realign_shifted_features(a_ids, a_feats, reference)
    a_rows: list[Track] = []
    brk = realigned["break_row"]
    for j, t in enumerate(a.rows):
        if not keep[j]:
            dropped["tracks_a row at feature break"] += 1
            continue
        a_rows.append(_with_features(t, fixed[j]))
        # speechiness moved with the other feature columns
        sp = a_speech[j - 1] if (brk >= 0 and j >= brk) else a_speech[j]
        if sp is not None:
            a.speechiness.setdefault(t.id, sp)
    a.rows = a_rows

    merged: dict[str, Track] = {}
    speech: dict[str, float] = {}
    extra_artist: dict[str, str] = {}
    extra_genre: dict[str, str] = {}
    extra_decade: dict[str, str] = {}
    extra_year: dict[str, str] = {}
    for src in (c, d, b, a):
        for t in src.rows:
            if t.artist:
                extra_artist.setdefault(t.id, t.artist)
            if t.genre:
                extra_genre.setdefault(t.id, t.genre)
            if t.decade:
                extra_decade.setdefault(t.id, t.decade)
            if t.year:
                extra_year.setdefault(t.id, t.year)
            if t.id in merged or not t.has_features:
                continue
            merged[t.id] = t
            if t.id in src.speechiness:
                speech[t.id] = src.speechiness[t.id]

    # The same recording under a tracks_d id and another export's id: each learns what the other knows.
    pairs = same_recordings(d.rows, [t for src in (c, b, a) for t in src.rows])
    for d_id, other in pairs.items():
        extra_artist.setdefault(d_id, other.artist)
        if d_id in extra_decade:
            extra_decade.setdefault(other.id, extra_decade[d_id])
    by_artist = artist_genres(b.rows)

    out: list[Track] = []
    for tid in sorted(merged):
        t = merged[tid]
        artist = t.artist or extra_artist.get(tid, "")
        t = replace(t, artist=artist,
                    genre=t.genre or extra_genre.get(tid, "") or by_artist.get(artist.strip().casefold(), ""),
                    decade=t.decade or extra_decade.get(tid, ""), year=t.year or extra_year.get(tid, ""))
        if not t.name or not tid:
            dropped["no name"] += 1
        elif t.genre in NON_MUSIC_FAMILIES:
            dropped["non-music (noise/rain/sleep)"] += 1
        elif speech.get(tid, 0.0) > SPOKEN_WORD_SPEECHINESS:
            dropped["spoken word"] += 1
        else:
            out.append(t)
    dropped["no features"] += len({t.id for s in sources for t in s.rows}) - len(merged)

    # One id per song: prefer the labelled one, then the one with more metadata.
    def richness(t: Track) -> tuple:
        return (bool(t.label), bool(t.genre), bool(t.decade), bool(t.year), t.id)

    best: dict[tuple[str, str], Track] = {}
    for t in out:
        if not t.artist:
            continue
        key = (_norm_title(t.name), t.artist.casefold())
        if key not in best or richness(t) > richness(best[key]):
            best[key] = t
    winners = {t.id for t in best.values()}
    final = [t for t in out if not t.artist or t.id in winners]
    dropped["same song, other id"] += len(out) - len(final)
    dropped = Counter({k: v for k, v in dropped.items() if v})

    report = BuildReport(
        sources=counts, unique_ids=len(all_ids), kept=len(final), dropped=dropped, realigned=realigned,
        labels=Counter(t.label for t in final if t.label),
        with_genre=sum(bool(t.genre) for t in final), with_decade=sum(bool(t.decade) for t in final),
        with_artist=sum(bool(t.artist) for t in final), with_year=sum(bool(t.year) for t in final),
        genre_by_artist=sum(1 for t in final if t.genre and not extra_genre.get(t.id)),
        same_recording=len(pairs),
    )
    return final, report
