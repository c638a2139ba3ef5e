"""The offline music catalog: tracks with pre-computed Spotify audio features.

Spotify closed its audio-features endpoint to new API clients, so the
features that ranking needs come from a file committed with the project
(`data/catalog.npz`, built by `python -m moodmusic catalog build`). It is read
once per process into columns plus a feature matrix, which is what ranking
works on; `Track` objects are made only for the tracks a caller looks at.

Why .npz and not .csv.gz: on this 2-core box parsing 23k CSV rows and their
floats took 0.3–1 s; the same data as a few numpy arrays (text joined into
one UTF-8 blob, features as integer thousandths) loads in a few tens of ms.
`catalog build --out x.csv.gz` still writes a readable CSV for inspection,
and `load_catalog` reads either.

>>> cat = load_catalog()
>>> len(cat) > 10_000
True
>>> cat.get(cat.ids[0]).embed_url.startswith("https://open.spotify.com/embed/track/")
True
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import re
import threading
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from moodmusic.config import ROOT

DEFAULT_PATH = ROOT / "data" / "catalog.npz"
EMBED_BASE = "https://open.spotify.com/embed/track/"
FORMAT_VERSION = 2  # 2: a year column (the release year, where a source gives one)

# Text and number columns of the file, in order (CSV header and npz layout).
TEXT_COLUMNS: tuple[str, ...] = ("id", "name", "artist", "genre", "decade", "label", "year")
NUMBER_COLUMNS: tuple[str, ...] = ("valence", "energy", "tempo", "danceability", "acousticness", "instrumentalness")
COLUMNS: tuple[str, ...] = TEXT_COLUMNS[:5] + NUMBER_COLUMNS + ("label", "year")
# Stored as integers: value * scale, MISSING where unknown (exact decimals, 2 bytes each).
_SCALE = {"tempo": 10.0}
_MISSING = np.iinfo(np.uint16).max
_SEP = "\x1f"  # ASCII unit separator between strings in a text blob

# Audio features used for ranking, in the order of `Catalog.features` columns.
FEATURES: tuple[str, ...] = ("valence", "energy", "danceability", "acousticness", "tempo")
# Tempo is put on the same 0..1 scale as the other features for distances.
TEMPO_RANGE: tuple[float, float] = (60.0, 180.0)


RESTORE_HINT = (
    "restore the committed file with `git checkout -- data/catalog.npz`, or rebuild it with "
    "`python -m moodmusic catalog build --data ../shared/data/music --out data/catalog.npz`"
)


class CatalogError(Exception):
    """The catalog file is missing or unreadable; the message says how to rebuild it."""


@dataclass(frozen=True)
class Track:
    """One playable track. Features are None for tracks known only from Spotify search."""

    id: str
    name: str
    artist: str
    valence: float | None = None
    energy: float | None = None
    tempo: float | None = None
    danceability: float | None = None
    acousticness: float | None = None
    genre: str = ""
    decade: str = ""
    instrumentalness: float | None = None
    label: str = ""  # mood label of the labelled export (Happy/Sad/Calm/Energetic), else ""
    year: str = ""  # release year ("1983") where a source gives a date; `decade` is known more often

    @property
    def embed_url(self) -> str:
        """Spotify's embed player: no key needed (30 s preview logged out, full track logged in)."""
        return EMBED_BASE + self.id

    @property
    def has_features(self) -> bool:
        return self.valence is not None and self.energy is not None

    def feature_vector(self) -> np.ndarray:
        """The ranking features (see FEATURES) on a 0..1 scale; NaN where unknown."""
        return np.array([
            _nan(self.valence), _nan(self.energy), _nan(self.danceability),
            _nan(self.acousticness), tempo_scaled(self.tempo),
        ], dtype=np.float64)


def _nan(x: float | None) -> float:
    return math.nan if x is None else float(x)


def tempo_scaled(bpm):  # float | None | ndarray -> same shape
    """Map beats per minute onto 0..1 (60 → 0, 180 → 1, clipped) so it weighs like the others."""
    if bpm is None:
        return math.nan
    lo, hi = TEMPO_RANGE
    out = np.clip((np.asarray(bpm, dtype=np.float64) - lo) / (hi - lo), 0.0, 1.0)
    return float(out) if out.ndim == 0 else out


def year_from_date(raw: str) -> str:
    """The year of "27-10-1982", "1982-10-27" or "1982" ("1982"); "" for decades ("90s") or nothing."""
    m = re.search(r"\b(1[89]\d\d|20\d\d)\b", (raw or "").strip())
    return m.group(1) if m else ""


def decade_from_date(raw: str) -> str:
    """Normalise "90s", "00s", "1982", "27-10-1982" or "1982-10-27" to "1990s"-style decades."""
    raw = (raw or "").strip()
    m = re.fullmatch(r"(\d0)s", raw)
    if m:
        two = int(m.group(1))
        return f"{(2000 if two < 30 else 1900) + two}s"
    m = re.search(r"\b(1[89]\d\d|20\d\d)\b", raw)
    if m:
        year = int(m.group(1))
        return f"{year - year % 10}s"
    return ""


class Catalog:
    """An immutable, column-oriented set of tracks with a feature matrix for ranking."""

    def __init__(self, tracks: Iterable[Track]) -> None:
        tracks = list(tracks)
        text = {c: [getattr(t, c) if c != "id" else t.id for t in tracks] for c in TEXT_COLUMNS}
        nums = np.array([[_nan(getattr(t, c)) for c in NUMBER_COLUMNS] for t in tracks],
                        dtype=np.float64).reshape(len(tracks), len(NUMBER_COLUMNS))
        self._init(text, nums)
        self._tracks = list(tracks)

    @classmethod
    def _from_columns(cls, text: dict[str, list[str]], numbers: np.ndarray) -> Catalog:
        self = cls.__new__(cls)
        self._init(text, numbers)
        return self

    def _init(self, text: dict[str, list[str]], numbers: np.ndarray) -> None:
        self.ids: list[str] = text["id"]
        self.names, self.artists = text["name"], text["artist"]
        self._index = {tid: i for i, tid in enumerate(self.ids)}
        if len(self._index) != len(self.ids):
            raise CatalogError("catalog has duplicate track ids")
        self._numbers = numbers
        self._numbers.setflags(write=False)
        col = {c: numbers[:, i] for i, c in enumerate(NUMBER_COLUMNS)}
        feats = np.stack([col["valence"], col["energy"], col["danceability"], col["acousticness"],
                          tempo_scaled(col["tempo"])], axis=1) if len(self.ids) else np.empty((0, len(FEATURES)))
        feats.setflags(write=False)
        self.features: np.ndarray = feats
        self.artist_keys = np.array([a.strip().casefold() for a in self.artists], dtype=object)
        self.genre_of = np.array(text["genre"], dtype=object)
        self.decade_of = np.array(text["decade"], dtype=object)
        self.label_of = np.array(text["label"], dtype=object)
        self.year_of = np.array(text["year"], dtype=object)
        self._tracks: list[Track | None] = [None] * len(self.ids)

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Iterator[Track]:
        return (self.track(i) for i in range(len(self)))

    def __contains__(self, track_id: object) -> bool:
        return track_id in self._index

    def track(self, i: int) -> Track:
        """The i-th track (made on first access)."""
        t = self._tracks[i]
        if t is None:
            v = [None if math.isnan(x) else float(x) for x in self._numbers[i].tolist()]
            t = Track(self.ids[i], self.names[i], self.artists[i], valence=v[0], energy=v[1], tempo=v[2],
                      danceability=v[3], acousticness=v[4], genre=self.genre_of[i], decade=self.decade_of[i],
                      instrumentalness=v[5], label=self.label_of[i], year=self.year_of[i])
            self._tracks[i] = t
        return t

    def get(self, track_id: str) -> Track | None:
        i = self._index.get(track_id)
        return None if i is None else self.track(i)

    def index_of(self, track_id: str) -> int | None:
        return self._index.get(track_id)

    def genres(self) -> list[str]:
        """Genres with at least one track, sorted; only part of the catalog has a genre."""
        return sorted({g for g in self.genre_of.tolist() if g})

    def decades(self) -> list[str]:
        """Decades with at least one track, oldest first ("1960s", …)."""
        return sorted({d for d in self.decade_of.tolist() if d})

    def describe(self) -> list[str]:
        """What the catalog holds, in lines: size, known artists, and tracks per genre, decade and label."""
        labels: dict[str, int] = {}
        for lab in self.label_of.tolist():
            if lab:
                labels[lab] = labels.get(lab, 0) + 1
        return [
            f"{len(self)} tracks; artist known for {sum(1 for a in self.artists if a)}",
            "genres: " + ", ".join(f"{g} ({int((self.genre_of == g).sum())})" for g in self.genres()),
            "decades: " + ", ".join(f"{d} ({int((self.decade_of == d).sum())})" for d in self.decades()),
            "labels: " + ", ".join(f"{k} {v}" for k, v in sorted(labels.items())),
        ]


# ---------------------------------------------------------------- file formats

def _blob(strings: Sequence[str]) -> np.ndarray:
    for s in strings:
        if _SEP in s:
            raise ValueError(f"text contains the separator character: {s!r}")
    return np.frombuffer(_SEP.join(strings).encode("utf-8"), dtype=np.uint8)


def _unblob(arr: np.ndarray, n: int) -> list[str]:
    out = arr.tobytes().decode("utf-8").split(_SEP) if n else []
    if len(out) != n:
        raise CatalogError(f"catalog text column has {len(out)} entries, expected {n}")
    return out


def _to_fixed(numbers: np.ndarray) -> np.ndarray:
    scale = np.array([_SCALE.get(c, 1000.0) for c in NUMBER_COLUMNS])
    fixed = np.rint(np.nan_to_num(numbers, nan=-1.0) * scale)
    fixed[np.isnan(numbers)] = _MISSING
    if (fixed < 0).any() or (fixed > _MISSING).any():
        raise ValueError("a feature is out of the storable range")
    return fixed.astype(np.uint16)


def _from_fixed(fixed: np.ndarray) -> np.ndarray:
    scale = np.array([_SCALE.get(c, 1000.0) for c in NUMBER_COLUMNS])
    out = fixed.astype(np.float64) / scale
    out[fixed == _MISSING] = np.nan
    return np.round(out, 3)


def write_catalog(tracks: Sequence[Track], path: Path) -> None:
    """Write tracks as .npz (the committed format) or .csv/.csv.gz (readable); byte-identical on rebuild."""
    cat = tracks if isinstance(tracks, Catalog) else Catalog(tracks)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    text = {"id": cat.ids, "name": cat.names, "artist": cat.artists, "genre": cat.genre_of.tolist(),
            "decade": cat.decade_of.tolist(), "label": cat.label_of.tolist(), "year": cat.year_of.tolist()}
    if path.suffix == ".npz":
        meta = {"format": FORMAT_VERSION, "text": list(TEXT_COLUMNS), "numbers": list(NUMBER_COLUMNS),
                "n": len(cat)}
        arrays = {f"text_{c}": _blob(text[c]) for c in TEXT_COLUMNS}
        arrays["numbers"] = _to_fixed(cat._numbers)
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
    else:
        buf = io.StringIO(newline="")
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(COLUMNS)
        for i in range(len(cat)):
            nums = ["" if math.isnan(x) else f"{x:.3f}".rstrip("0").rstrip(".") or "0"
                    for x in cat._numbers[i].tolist()]
            w.writerow([text["id"][i], text["name"][i], text["artist"][i], text["genre"][i], text["decade"][i],
                        *nums, text["label"][i], text["year"][i]])
        data = buf.getvalue().encode("utf-8")
        if path.suffix == ".gz":
            with open(tmp, "wb") as fh, gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0) as gz:
                gz.write(data)
        else:
            tmp.write_bytes(data)
    tmp.replace(path)


def _read_npz(path: Path) -> Catalog:
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(z["meta"].tobytes())
        if meta.get("format") != FORMAT_VERSION or tuple(meta.get("numbers", ())) != NUMBER_COLUMNS:
            raise CatalogError(f"music catalog at {path} is format {meta.get('format')}, expected {FORMAT_VERSION}; {RESTORE_HINT}")
        n = int(meta["n"])
        text = {c: _unblob(z[f"text_{c}"], n) for c in TEXT_COLUMNS}
        numbers = _from_fixed(z["numbers"])
    if numbers.shape != (n, len(NUMBER_COLUMNS)):
        raise CatalogError(f"music catalog at {path} has a feature table of shape {numbers.shape}; {RESTORE_HINT}")
    return Catalog._from_columns(text, numbers)


def _read_csv(path: Path) -> Catalog:
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))
    if not rows or tuple(rows[0]) != COLUMNS:
        raise CatalogError(f"music catalog at {path} has columns {rows[0] if rows else []}, expected {list(COLUMNS)}")
    body = rows[1:]
    cols = list(zip(*body)) if body else [[] for _ in COLUMNS]
    pos = {c: i for i, c in enumerate(COLUMNS)}
    text = {c: list(cols[pos[c]]) for c in TEXT_COLUMNS}
    numbers = np.array([[float(x) if x else math.nan for x in cols[pos[c]]] for c in NUMBER_COLUMNS],
                       dtype=np.float64).T.reshape(len(body), len(NUMBER_COLUMNS))
    return Catalog._from_columns(text, numbers)


def read_catalog(path: Path) -> Catalog:
    """Parse a catalog file (.npz, .csv or .csv.gz)."""
    path = Path(path)
    if not path.is_file():
        raise CatalogError(f"music catalog not found at {path}; {RESTORE_HINT}")
    try:
        return _read_npz(path) if path.suffix == ".npz" else _read_csv(path)
    except CatalogError:
        raise
    except (OSError, EOFError, ValueError, KeyError, UnicodeDecodeError, gzip.BadGzipFile, zipfile.BadZipFile) as exc:
        raise CatalogError(f"music catalog at {path} is unreadable ({exc}); {RESTORE_HINT}") from exc


_cache: dict[tuple[str, int, int], Catalog] = {}
_lock = threading.Lock()


def load_catalog(path: Path | str | None = None) -> Catalog:
    """The catalog, parsed once per process (keyed by path, size and mtime)."""
    p = Path(path) if path is not None else DEFAULT_PATH
    try:
        st = p.stat()
        key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    except OSError:
        return read_catalog(p)  # raises CatalogError with the rebuild hint
    with _lock:
        cat = _cache.get(key)
        if cat is None:
            cat = read_catalog(p)
            _cache[key] = cat
        return cat
