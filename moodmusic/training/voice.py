"""`train voice`: the voice expert on RAVDESS (actor-disjoint split) plus TESS, with live-path augmentation.

Split (fixed, documented in the model card): RAVDESS actors 1-16 train, 17-20
validation (early stopping), 21-24 test (2 male, 2 female), so the test figure
compares with the openSMILE + SVM reference measured on the same actors. TESS
(two speakers) is added to training only. Never a random, speaker-mixed split.

Every clip is cut into the live path's 2 s windows at 0.5 s hop by
`moodmusic.audio.clip_features`. RAVDESS training windows are computed once
clean and `--copies` more times through what the live path does to speech: a random
window offset, additive noise at 5-20 dB SNR, a gain change of +-20 dB (with
clipping) and, for half of them, an Opus round trip like WebRTC's. The
features are cached on disk (`--cache`) with a manifest, computed in parallel
with joblib, so a second run starts training at once.

Clip-level figures average the window probabilities over a clip's windows;
window-level figures are reported beside them.

Speaker adaptation (`moodmusic.audio.speaker`, `--speaker-weight`): the net
reads each window measured against its speaker's own statistics, shrunk
towards a prior fitted on the training speakers. Training windows use all of
their speaker's (and recording condition's) windows; validation and test
actors are heard as a live session hears them, clip after clip in a random
order, each clip measured against what was heard so far. `evaluate` also
reports the first words of a speaker (the prior alone) and a long stretch of
one mood (the worst case).

`--members K` trains K nets from seeds seed..seed+K-1 (each early-stopped on
the validation actors, each resumable in run-dir/memberI) and saves one
checkpoint that averages their probabilities: a single net's accuracy on
unseen actors swings by several points with its seed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from moodmusic.moods import MOOD_INDEX, MOODS, RAVDESS_CODES, map_label

log = logging.getLogger(__name__)

SPLIT_ACTORS: dict[str, tuple[int, ...]] = {
    "train": tuple(range(1, 17)),
    "val": tuple(range(17, 21)),
    "test": tuple(range(21, 25)),
}
TESS_ACTOR = {"OAF": 101, "YAF": 102}  # pseudo actor ids: TESS speakers are training-only
DEFAULT_OUT = Path("models") / "voice_expert.pt"


# ----------------------------------------------------------------------------- corpus listing

@dataclass(frozen=True)
class Clip:
    path: str
    mood: str
    actor: int
    corpus: str  # "ravdess" | "tess"


def split_of(actor: int) -> str:
    """'train', 'val' or 'test' for a RAVDESS actor; TESS speakers are always 'train'."""
    for name, actors in SPLIT_ACTORS.items():
        if actor in actors:
            return name
    if actor in TESS_ACTOR.values():
        return "train"
    raise ValueError(f"actor {actor} is in no split")


def ravdess_clip(path: Path) -> Clip | None:
    """A RAVDESS speech file (03-01-EE-II-SS-RR-AA) as a Clip; None for disgust."""
    parts = path.stem.split("-")
    if len(parts) != 7:
        raise ValueError(f"{path.name} is not a RAVDESS file name (03-01-EE-II-SS-RR-AA)")
    mood = map_label(RAVDESS_CODES[parts[2]], "ravdess")
    return None if mood is None else Clip(str(path), mood, int(parts[6]), "ravdess")


def list_clips(data_dir: str | Path) -> list[Clip]:
    """RAVDESS speech and TESS clips under `data_dir` (the shared data folder), with moods."""
    speech = Path(data_dir).resolve() / "speech"  # one spelling per file, so the cache keys match
    clips: list[Clip] = []
    for f in sorted((speech / "ravdess").glob("Actor_*/*.flac")):
        clip = ravdess_clip(f)
        if clip is not None:
            clips.append(clip)
    for f in sorted((speech / "tess").glob("*/*.flac")):
        speaker, label = f.parent.name.split("_", 1)
        mood = map_label(label, "tess")
        if mood is not None:
            clips.append(Clip(str(f), mood, TESS_ACTOR[speaker], "tess"))
    if not clips:
        from moodmusic.cli import UserError

        raise UserError(f"no RAVDESS/TESS clips under {speech} (expected speech/ravdess/Actor_NN/*.flac)")
    return clips


# ----------------------------------------------------------------------------- augmentation

@dataclass(frozen=True)
class Augment:
    """What the live path does to speech; each field drawn per clip from the clip's own seed."""

    snr_db: tuple[float, float] = (5.0, 20.0)
    gain_db: tuple[float, float] = (-20.0, 20.0)
    max_offset_s: float = 0.5
    opus_prob: float = 0.5


def _coloured_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """White, pink or brown noise (chosen at random), unit RMS."""
    white = rng.standard_normal(n)
    kind = rng.integers(3)
    if kind:
        spec = np.fft.rfft(white)
        f = np.maximum(np.fft.rfftfreq(n), 1.0 / n)
        spec /= f ** (0.5 * kind)  # 1/f power (pink) or 1/f^2 (brown)
        white = np.fft.irfft(spec, n)
    return white / (np.sqrt(np.mean(white**2)) + 1e-12)


_OPUS_PRESKIP = 312  # samples at 48 kHz (6.5 ms)


def opus_round_trip(x: np.ndarray, rate: int = 16000, bitrate: int = 32000) -> np.ndarray:
    """Encode to Opus at 48 kHz and decode back, as a WebRTC call would; same length as `x`."""
    import av

    from moodmusic.audio.resample import StreamResampler

    up = StreamResampler(rate, 48000)
    y = np.concatenate([up.process(x.astype(np.float32)), up.flush()])
    enc = av.CodecContext.create("libopus", "w")
    enc.sample_rate, enc.layout, enc.format, enc.bit_rate = 48000, "mono", "s16", bitrate
    dec = av.CodecContext.create("libopus", "r")
    dec.sample_rate, dec.layout = 48000, "mono"
    pcm = (np.clip(y, -1, 1) * 32767).astype(np.int16)
    out: list[np.ndarray] = []
    for start in range(0, len(pcm), 960):
        chunk = pcm[start:start + 960]
        if len(chunk) < 960:
            chunk = np.concatenate([chunk, np.zeros(960 - len(chunk), np.int16)])
        frame = av.AudioFrame.from_ndarray(chunk[None], format="s16", layout="mono")
        frame.sample_rate = 48000
        for packet in enc.encode(frame):
            for decoded in dec.decode(packet):
                out.append(decoded.to_ndarray().reshape(-1))
    for packet in enc.encode(None):
        for decoded in dec.decode(packet):
            out.append(decoded.to_ndarray().reshape(-1))
    z = np.concatenate(out).astype(np.float32)
    if z.dtype.kind != "f" or np.abs(z).max() > 2.0:
        z = z / 32768.0
    z = z[_OPUS_PRESKIP:]  # the encoder's look-ahead, which the raw decoder does not drop
    down = StreamResampler(48000, rate)
    z = np.concatenate([down.process(z), down.flush()])[:len(x)]
    return np.pad(z, (0, max(0, len(x) - len(z))))


def augment(x: np.ndarray, rng: np.random.Generator, spec: Augment, rate: int = 16000) -> np.ndarray:
    """One random live-path version of a clip: offset, noise at an SNR, gain with clipping, maybe Opus."""
    offset = int(rng.uniform(0, spec.max_offset_s) * rate)
    x = x[offset:] if len(x) - offset > rate else x
    frame_rms = np.sqrt(np.convolve(x.astype(np.float64) ** 2, np.ones(400) / 400, mode="valid"))
    speech_rms = float(np.percentile(frame_rms, 90)) if frame_rms.size else float(np.sqrt(np.mean(x**2)))
    snr = rng.uniform(*spec.snr_db)
    noise = _coloured_noise(len(x), rng) * speech_rms * 10 ** (-snr / 20)
    y = (x + noise) * 10 ** (rng.uniform(*spec.gain_db) / 20)
    y = np.clip(y, -1.0, 1.0).astype(np.float32)
    if rng.random() < spec.opus_prob:
        y = opus_round_trip(y, rate)
    return y


# ----------------------------------------------------------------------------- featurisation (cached)

def _read(path: str) -> np.ndarray:
    from moodmusic.audio.features import SAMPLE_RATE

    try:
        from moodmusic.media import read_audio

        return read_audio(path)
    except ImportError:  # pragma: no cover - media.py is written by another helper
        import soundfile as sf

        x, rate = sf.read(path, dtype="float32", always_2d=True)
        if rate != SAMPLE_RATE:
            raise ValueError(f"{path}: {rate} Hz, expected {SAMPLE_RATE}")
        return x.mean(axis=1)


def _clip_seed(seed: int, path: str, copy: int) -> int:
    digest = hashlib.sha1(f"{seed}:{Path(path).name}:{copy}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def _featurize_one(clip: Clip, copy: int, seed: int, spec: Augment | None, gain_db: float) -> np.ndarray:
    from moodmusic.audio.features import clip_features

    x = _read(clip.path)
    if gain_db:
        x = np.clip(x * 10 ** (gain_db / 20), -1.0, 1.0).astype(np.float32)
    if copy > 0 and spec is not None:
        x = augment(x, np.random.default_rng(_clip_seed(seed, clip.path, copy)), spec)
    return clip_features(x)


@dataclass
class Windows:
    """Window features with the clip each window came from."""

    x: np.ndarray  # (n, D) float32
    y: np.ndarray  # (n,) int64 mood index
    clip: np.ndarray  # (n,) int64 index into `clips`
    copy: np.ndarray  # (n,) int64: 0 clean, k > 0 the k-th augmented version
    clips: list[Clip]

    def subset(self, mask: np.ndarray) -> Windows:
        return Windows(self.x[mask], self.y[mask], self.clip[mask], self.copy[mask], self.clips)

    @property
    def actor(self) -> np.ndarray:
        return np.array([self.clips[i].actor for i in self.clip], dtype=np.int64)


def featurize(clips: list[Clip], cache_dir: str | Path, copies: int = 0, seed: int = 0,
              spec: Augment | None = None, gain_db: float = 0.0, n_jobs: int = 2,
              progress: bool = True) -> Windows:
    """Window features of every clip (clean, plus `copies` augmented versions), cached with a manifest.

    Each version (clean, augmented copy 1, 2, ...) is its own cache entry, so
    asking for more copies later computes only the new ones.
    """
    parts = [_featurize_version(clips, cache_dir, k, seed, spec or Augment(), gain_db, n_jobs, progress)
             for k in range(copies + 1)]
    return Windows(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                   np.concatenate([p[2] for p in parts]),
                   np.concatenate([np.full(len(p[1]), k, np.int64) for k, p in enumerate(parts)]), clips)


def _featurize_version(clips: list[Clip], cache_dir: str | Path, copy: int, seed: int, spec: Augment,
                       gain_db: float, n_jobs: int, progress: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from moodmusic.audio.features import FEATURE_VERSION

    key = {
        "feature_version": FEATURE_VERSION,
        "files": hashlib.sha1("\n".join(c.path for c in clips).encode()).hexdigest(),
        "n_files": len(clips), "copy": copy, "gain_db": gain_db,
        "seed": seed if copy else None, "augment": spec.__dict__ if copy else None,
    }
    digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    cache_dir = Path(cache_dir)
    data_path = cache_dir / f"voice-{digest}.npz"
    manifest_path = cache_dir / f"voice-{digest}.json"
    if data_path.is_file() and manifest_path.is_file():
        log.info("features from cache %s", data_path)
        blob = np.load(data_path)
        return blob["x"], blob["y"], blob["clip"]

    from joblib import Parallel, delayed

    t0 = time.perf_counter()
    it = Parallel(n_jobs=n_jobs, return_as="generator", batch_size=4)(
        delayed(_featurize_one)(c, copy, seed, spec, gain_db) for c in clips)
    if progress:
        from tqdm import tqdm

        what = "clean" if copy == 0 else f"augmented copy {copy}"
        it = tqdm(it, total=len(clips), desc=f"voice features, {len(clips)} clips, {what}", mininterval=10,
                  file=sys.stderr)
    feats = list(it)
    x = np.concatenate(feats).astype(np.float32)
    y = np.concatenate([np.full(len(f), MOOD_INDEX[c.mood]) for f, c in zip(feats, clips)]).astype(np.int64)
    clip = np.concatenate([np.full(len(f), i) for i, f in enumerate(feats)]).astype(np.int64)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = data_path.with_name(data_path.stem + ".tmp.npz")
    np.savez(tmp, x=x, y=y, clip=clip)
    tmp.replace(data_path)
    manifest = dict(key, windows=int(len(y)), seconds=round(time.perf_counter() - t0, 1),
                    paths=[c.path for c in clips])
    manifest_path.write_text(json.dumps(manifest, indent=1))
    return x, y, clip


def split_windows(clips: list[Clip], cache_dir: str | Path, copies: int, seed: int, n_jobs: int,
                  progress: bool = True) -> dict[str, Windows]:
    """{'train': RAVDESS actors 1-16 clean + `copies` augmented versions, and TESS clean;
    'val', 'test': clean RAVDESS windows}.

    TESS is two speakers in one quiet studio: its clean windows add words and
    voices, while augmenting it would mostly add CPU time (its clips are many).
    """
    train = [c for c in clips if split_of(c.actor) == "train"]
    out = {"train": featurize(train, cache_dir, n_jobs=n_jobs, progress=progress)}
    ravdess = [i for i, c in enumerate(train) if c.corpus == "ravdess"]
    for k in range(1, copies + 1):
        x, y, clip = _featurize_version([train[i] for i in ravdess], cache_dir, k, seed, Augment(), 0.0, n_jobs,
                                        progress)
        aug = Windows(x, y, np.asarray(ravdess, np.int64)[clip], np.full(len(y), k, np.int64), train)
        out["train"] = Windows(np.concatenate([out["train"].x, aug.x]), np.concatenate([out["train"].y, aug.y]),
                               np.concatenate([out["train"].clip, aug.clip]),
                               np.concatenate([out["train"].copy, aug.copy]), train)
    for name in ("val", "test"):
        out[name] = featurize([c for c in clips if split_of(c.actor) == name], cache_dir, n_jobs=n_jobs,
                              progress=progress)
    return out


# ----------------------------------------------------------------------------- speaker adaptation

def speaker_groups(w: Windows) -> np.ndarray:
    """One group per speaker and recording condition: the clean windows, or the k-th augmented copy."""
    return w.actor * 100 + w.copy


def fit_speaker_prior(train: Windows, weight: float, memory: float) -> Any:
    from moodmusic.audio.speaker import SpeakerPrior

    return SpeakerPrior.fit(train.x, speaker_groups(train), weight, memory)


def adapt(w: Windows, prior: Any, how: str = "stream", seed: int = 0) -> Windows:
    """Windows measured against their speaker: `groups` (all of a speaker's windows, for training),
    `stream` (clips in a random order, each against those heard so far), `first` (the prior alone),
    or `one-mood` (a speaker heard long enough in one mood to fill the adapter's memory)."""
    from moodmusic.audio.speaker import SpeakerAdapter, normalise_groups, normalise_stream

    if prior is None:
        return w
    if how == "groups":
        x = normalise_groups(w.x, speaker_groups(w), prior)
    elif how == "stream":
        x = normalise_stream(w.x, w.clip, w.actor, prior, seed)
    elif how == "first":
        x = SpeakerAdapter(prior).normalise(w.x, learn=False)
    elif how == "one-mood":
        x = np.empty(w.x.shape, np.float32)
        moods = np.array([MOOD_INDEX[w.clips[c].mood] for c in w.clip])
        for key in np.unique(w.actor * 10 + moods):
            m = w.actor * 10 + moods == key
            adapter = SpeakerAdapter(prior)
            fill = min(prior.memory, 10_000)
            while adapter.windows < fill - 1:  # the speaker's clips of this mood, again and again
                adapter.update(w.x[m])
            x[m] = adapter.normalise(w.x[m], learn=False)
    else:
        raise ValueError(f"unknown adaptation {how!r}")
    return Windows(x, w.y, w.clip, w.copy, w.clips)


def adapt_splits(windows: dict[str, Windows], prior: Any) -> dict[str, Windows]:
    """Training windows against their whole group; validation and test as a live stream (seed 0)."""
    return {k: adapt(w, prior, "groups" if k == "train" else "stream") for k, w in windows.items()}


def parse_speaker_setting(text: str) -> tuple[float, float]:
    """'W/M' (the prior's weight and the memory, in windows; M may be 'inf') or '0' (no adaptation)."""
    try:
        weight, _, memory = text.partition("/")
        w, m = float(weight), float(memory or "inf")
    except ValueError:
        raise ValueError(f"a speaker setting is WEIGHT/MEMORY in windows (e.g. 128/128 or 64/inf) or 0, "
                         f"got {text!r}") from None
    if w < 0 or m < 1:
        raise ValueError(f"a speaker setting needs a weight >= 0 and a memory >= 1, got {text!r}")
    return w, m


def actor_folds(actors: np.ndarray, folds: int) -> list[np.ndarray]:
    """The RAVDESS training actors cut into `folds` groups of neighbours (TESS speakers always train)."""
    ravdess = np.unique(actors[np.isin(actors, SPLIT_ACTORS["train"])])
    if len(ravdess) < folds or folds < 2:
        raise ValueError(f"{folds} folds need at least {max(2, folds)} RAVDESS training actors, found {len(ravdess)}")
    return [np.asarray(f) for f in np.array_split(ravdess, folds)]


def speaker_cv(train: Windows, settings: list[str], config: Any, dist_info: Any, folds: int = 4,
               hidden: int = 256, dropout: float = 0.3, log: Any = print) -> dict[str, Any]:
    """Choose the speaker adaptation on the training actors alone: for each setting, one net per fold
    of actors trained on the others (+ TESS), scored at clip level on the held-out actors' clean
    windows heard as a live stream. Each net is early-stopped on its held-out fold, the same for every
    setting: the comparison is fair, each figure slightly optimistic."""
    from dataclasses import replace

    import torch

    groups = actor_folds(train.actor, folds)
    rows: dict[str, Any] = {}
    for text in settings:
        weight, memory = parse_speaker_setting(text)
        accs, f1s = [], []
        for held_actors in groups:
            held = np.isin(train.actor, held_actors)
            fit_on, held_out = train.subset(~held), train.subset(held & (train.copy == 0))
            prior = fit_speaker_prior(fit_on, weight, memory) if weight > 0 else None
            data = {"train": adapt(fit_on, prior, "groups"), "val": adapt(held_out, prior, "stream")}
            net, _ = train_expert(data, replace(config, run_dir=None, resume=False, progress=False), dist_info,
                                  hidden=hidden, dropout=dropout)
            with torch.no_grad():
                probs = torch.softmax(net(torch.from_numpy(data["val"].x))[0], 1).numpy()
            clip = score(probs, held_out)["clip"]
            accs.append(clip["accuracy"])
            f1s.append(clip["macro_f1"])
        name = "none" if weight == 0 else f"{weight:g}/{memory:g}"
        rows[name] = {"weight": weight, "memory": memory, "fold_accuracy": accs, "accuracy": float(np.mean(accs)),
                      "macro_f1": float(np.mean(f1s))}
        log(f"speaker {name:>10s}: clip acc {np.mean(accs):.3f} (folds {', '.join(f'{a:.3f}' for a in accs)}) "
            f"macro-F1 {np.mean(f1s):.3f}")
    return {"folds": [g.tolist() for g in groups], "settings": rows}


def speaker_prior_of(meta: dict[str, Any]) -> Any:
    """The prior a voice checkpoint was trained with, or None (a model without speaker adaptation)."""
    from moodmusic.audio.speaker import prior_from_meta

    return prior_from_meta(meta.get("speaker_norm"))


def speaker_prior_in(checkpoint: Path) -> Any:
    """The prior of the voice expert at `checkpoint`, or None when there is no such file or no prior."""
    from moodmusic.recognition.checkpoint import load_checkpoint
    from moodmusic.recognition.voice_expert import KIND

    return speaker_prior_of(load_checkpoint(checkpoint, kind=KIND)[1]) if checkpoint.is_file() else None


# ----------------------------------------------------------------------------- evaluation

def clip_probs(probs: np.ndarray, clip: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Average window probabilities per clip: (clip ids, (n_clips, 6))."""
    ids, inverse = np.unique(clip, return_inverse=True)
    sums = np.zeros((len(ids), probs.shape[1]))
    np.add.at(sums, inverse, probs)
    counts = np.bincount(inverse, minlength=len(ids))[:, None]
    return ids, sums / counts


def score(probs: np.ndarray, windows: Windows) -> dict[str, Any]:
    """Window-level and clip-level accuracy, macro-F1, per-class recall and confusion matrix."""
    from moodmusic.recognition.metrics import classification_metrics

    ids, cp = clip_probs(probs, windows.clip)
    clip_y = np.array([MOOD_INDEX[windows.clips[i].mood] for i in ids])
    return {
        "clip": classification_metrics(clip_y, cp.argmax(1), MOODS),
        "window": classification_metrics(windows.y, probs.argmax(1), MOODS),
    }


def evaluate(checkpoint_path: str | Path, data_dir: str | Path, cache_dir: str | Path,
             n_jobs: int = 2, gains_db: tuple[float, ...] = (15.0, -10.0), progress: bool = False,
             streams: int = 5) -> dict[str, Any]:
    """Every voice figure from the committed weights: test actors clean, at other levels, and noisy.

    With speaker adaptation the headline (`test`) is the live-stream protocol
    with clip order seed 0, `stream` the clip-level figures of `streams` orders,
    and `first` / `one_mood` the start of a session and the worst case.
    """
    from moodmusic.audio.features import FEATURE_VERSION
    from moodmusic.recognition.voice_expert import VoiceExpert

    expert = VoiceExpert.load(checkpoint_path, feature_version=FEATURE_VERSION)
    prior = speaker_prior_of(expert.meta)
    test_clips = [c for c in list_clips(data_dir) if split_of(c.actor) == "test"]
    result: dict[str, Any] = {"split": {k: list(v) for k, v in SPLIT_ACTORS.items()}, "meta": expert.meta,
                              "speaker_adaptation": prior is not None}
    clean = featurize(test_clips, cache_dir, n_jobs=n_jobs, progress=progress)
    result["test"] = score(expert.predict(adapt(clean, prior).x)[0], clean)
    if prior is not None:
        runs = [score(expert.predict(adapt(clean, prior, "stream", s).x)[0], clean)["clip"] for s in range(streams)]
        result["stream"] = {"seeds": list(range(streams)),
                            "accuracy": [r["accuracy"] for r in runs], "macro_f1": [r["macro_f1"] for r in runs]}
        for how in ("first", "one-mood"):
            result[how.replace("-", "_")] = score(expert.predict(adapt(clean, prior, how).x)[0], clean)["clip"]
    t0 = time.perf_counter()
    expert.predict(clean.x)
    result["ms_per_window_mlp"] = 1000 * (time.perf_counter() - t0) / max(1, len(clean.x))
    result["gain"] = {}
    for g in gains_db:
        w = featurize(test_clips, cache_dir, gain_db=g, n_jobs=n_jobs, progress=progress)
        result["gain"][f"{g:+.0f} dB"] = score(expert.predict(adapt(w, prior).x)[0], w)["clip"]
    noisy = featurize(test_clips, cache_dir, copies=1, seed=12345, n_jobs=n_jobs, progress=progress)
    noisy = noisy.subset(noisy.copy == 1)
    result["augmented_test"] = score(expert.predict(adapt(noisy, prior).x)[0], noisy)["clip"]
    return result


# ----------------------------------------------------------------------------- training

def train_expert(windows: dict[str, Windows], config: Any, dist_info: Any, hidden: int = 256,
                 emb_dim: int = 128, dropout: float = 0.3, label_smoothing: float = 0.1,
                 feature_noise: float = 0.05, use: list[int] | None = None) -> tuple[Any, Any]:
    """Fit a VoiceNet through the shared loop; returns (net with the best val weights, FitResult)."""
    import torch
    from torch.utils.data import TensorDataset

    from moodmusic.recognition.voice_expert import VoiceNet
    from moodmusic.training.loop import fit, seed_everything

    seed_everything(config.seed)
    tr, va = windows["train"], windows["val"]
    net = VoiceNet(tr.x.shape[1], hidden=hidden, emb_dim=emb_dim, dropout=dropout, use=use)
    net.set_scaler(tr.x.mean(0), tr.x.std(0))
    counts = np.bincount(tr.y, minlength=len(MOODS)).astype(np.float64)
    weights = torch.tensor(counts.sum() / (len(MOODS) * np.maximum(counts, 1)), dtype=torch.float32)
    ce = torch.nn.CrossEntropyLoss(weight=weights, label_smoothing=label_smoothing)
    std = torch.from_numpy(np.maximum(tr.x.std(0), 1e-6))

    def jitter(xb: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """Small Gaussian noise in standardised units: features of a live window are never exact."""
        return xb + feature_noise * std * torch.randn(xb.shape, generator=gen)

    result = fit(net, TensorDataset(torch.from_numpy(tr.x), torch.from_numpy(tr.y)),
                 TensorDataset(torch.from_numpy(va.x), torch.from_numpy(va.y)),
                 lambda logits, y: ce(logits, y), list(MOODS), config, dist_info,
                 batch_transform=jitter if feature_noise > 0 else None)
    net.load_state_dict(result.best_state)
    return net.eval(), result


def command_line(args: argparse.Namespace, target: str, world_size: int, skip: tuple[str, ...] = ()) -> str:
    """The command that reproduces this run, rebuilt from the parsed options (for the model card).

    Paths inside the project are written relative to it; options in `skip` do not apply to this run.
    """
    root = Path(__file__).resolve().parents[2]
    launcher = f"torchrun --nproc_per_node={world_size} -m moodmusic" if world_size > 1 else "python -m moodmusic"
    parts = [launcher, "train", target]
    for name, value in sorted(vars(args).items()):
        if (name.startswith("_") or name in ("command", "target", "verbose", *skip) or value is None
                or value is False):
            continue
        if isinstance(value, Path) and value.is_absolute() and value.is_relative_to(root):
            value = value.relative_to(root)
        flag = "--" + name.replace("_", "-")
        if isinstance(value, (list, tuple)):
            value = " ".join(map(str, value))
        parts.append(flag if value is True else f"{flag} {value}")
    return " ".join(parts)


FEATURE_SETS = ("all", "no-mfcc-means")


def feature_subset(name: str) -> list[int] | None:
    """Indices of the features a VoiceNet reads: all, or all but the MFCC means (which carry speaker
    and channel identity as much as emotion)."""
    from moodmusic.audio.features import FEATURE_NAMES

    if name == "all":
        return None
    return [i for i, n in enumerate(FEATURE_NAMES) if not (n.startswith("mfcc") and n.endswith("_mean"))]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="the shared data folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the checkpoint")
    parser.add_argument("--cache", type=Path, default=Path("cache/features"), help="feature cache folder")
    parser.add_argument("--run-dir", type=Path, default=Path("runs/voice"), help="resumable state (last.pt)")
    parser.add_argument("--resume", action="store_true", help="continue from --run-dir/last.pt")
    parser.add_argument("--copies", type=int, default=1, help="augmented versions of each training clip")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--weight-decay", type=float, default=0.05)
    parser.add_argument("--patience", type=int, default=15)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--dropout", type=float, default=0.3)
    parser.add_argument("--features", choices=FEATURE_SETS, default="all", help="which features the net reads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--members", type=int, default=1,
                        help="nets trained from seeds seed, seed+1, ... whose probabilities the checkpoint averages")
    parser.add_argument("--speaker-weight", type=float, default=128.0,
                        help="speaker adaptation: how many windows the prior speaker counts for (0: no adaptation)")
    parser.add_argument("--speaker-memory", type=float, default=128.0,
                        help="speaker adaptation: the most windows a speaker's own statistics count")
    parser.add_argument("--speaker-cv", nargs="+", metavar="WEIGHT/MEMORY", default=None,
                        help="instead of training: compare speaker adaptation settings (e.g. 0 64/inf 128/128) by "
                             "cross-validation over folds of the training actors; writes RUN_DIR/speaker_cv.json")
    parser.add_argument("--cv-folds", type=int, default=4, help="--speaker-cv: folds of training actors")
    parser.add_argument("--jobs", type=int, default=2, help="parallel feature extraction processes")
    parser.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    import torch

    from moodmusic.audio.features import FEATURE_NAMES, FEATURE_VERSION
    from moodmusic.cli import UserError
    from moodmusic.recognition.voice_expert import KIND, VoiceEnsemble, VoiceExpert
    from moodmusic.training.distributed import distributed
    from moodmusic.training.loop import TrainConfig

    if not (args.data / "speech" / "ravdess").is_dir():
        raise UserError(f"no RAVDESS speech under {args.data}/speech/ravdess; pass --data DIR (the shared data folder)")
    if args.members < 1:
        raise UserError(f"--members must be at least 1, got {args.members}")
    try:
        for text in args.speaker_cv or []:
            parse_speaker_setting(text)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    with distributed() as dist_info:
        clips = list_clips(args.data)
        # rank 0 fills the cache; the others wait for it, then read it
        if dist_info.is_main:
            windows = split_windows(clips, args.cache, args.copies, args.seed, args.jobs, not args.no_progress)
        from moodmusic.training.distributed import barrier

        barrier()
        if not dist_info.is_main:
            windows = split_windows(clips, args.cache, args.copies, args.seed, args.jobs, False)
        config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                             weight_decay=args.weight_decay, patience=args.patience, seed=args.seed,
                             run_dir=str(args.run_dir), resume=args.resume, progress=not args.no_progress,
                             num_threads=max(1, (os.cpu_count() or 2) // dist_info.world_size))
        if args.speaker_cv:
            try:
                cv = speaker_cv(windows["train"], args.speaker_cv, config, dist_info, folds=args.cv_folds,
                                hidden=args.hidden, dropout=args.dropout,
                                log=print if dist_info.is_main else (lambda *a: None))
            except ValueError as exc:
                raise UserError(str(exc)) from None
            if dist_info.is_main:
                cv["command"] = command_line(args, "voice", dist_info.world_size,
                                             skip=("out", "members", "speaker_weight", "speaker_memory", "resume"))
                args.run_dir.mkdir(parents=True, exist_ok=True)
                (args.run_dir / "speaker_cv.json").write_text(json.dumps(cv, indent=1))
                print(f"wrote {args.run_dir / 'speaker_cv.json'}")
            return 0
        prior = fit_speaker_prior(windows["train"], args.speaker_weight, args.speaker_memory) \
            if args.speaker_weight > 0 else None
        windows = adapt_splits(windows, prior)
        if dist_info.is_main:
            print(f"voice windows: train {len(windows['train'].y)} (RAVDESS actors 1-16 + TESS, "
                  f"{args.copies} augmented copies), val {len(windows['val'].y)}, test {len(windows['test'].y)}",
                  flush=True)
        nets, results = [], []
        for i in range(args.members):  # each member: its own seed, early-stopped on val, resumable in its own dir
            member_config = config if args.members == 1 else replace(
                config, seed=args.seed + i, run_dir=str(args.run_dir / f"member{i}"))
            net, result = train_expert(windows, member_config, dist_info, hidden=args.hidden, dropout=args.dropout,
                                       use=feature_subset(args.features))
            nets.append(net)
            results.append(result)
        if args.members > 1:
            net = VoiceEnsemble(args.members, **nets[0].config)
            for member, trained in zip(net.members, nets):
                member.load_state_dict(trained.state_dict())
            net.eval()
        if dist_info.is_main:
            probs = {k: torch.softmax(net(torch.from_numpy(windows[k].x))[0], 1).detach().numpy()
                     for k in ("val", "test")}
            figures = {k: score(probs[k], windows[k]) for k in probs}
            meta = {
                "kind": KIND, "classes": list(MOODS), "feature_version": FEATURE_VERSION,
                "arch": net.config, "feature_names": list(FEATURE_NAMES),
                "split": {k: list(v) for k, v in SPLIT_ACTORS.items()}, "tess": "train only",
                "speaker_norm": prior.to_meta() if prior is not None else None,
                "augment": {"copies": args.copies, **Augment().__dict__},
                "command": command_line(args, "voice", dist_info.world_size),
                "world_size": dist_info.world_size, "seed": args.seed,
                "best_epoch": results[0].best_epoch if len(results) == 1 else [r.best_epoch for r in results],
                "epochs_run": sum(r.epochs_run for r in results),
                "wall_s": round(sum(r.wall_s for r in results), 1),
                "val_clip_accuracy": figures["val"]["clip"]["accuracy"],
                "test_clip_accuracy": figures["test"]["clip"]["accuracy"],
                "test_clip_macro_f1": figures["test"]["clip"]["macro_f1"],
                "torch": str(torch.__version__),
            }
            VoiceExpert(net, meta).save(args.out)
            for k in ("val", "test"):
                c, w = figures[k]["clip"], figures[k]["window"]
                print(f"{k}: clip acc {c['accuracy']:.3f} macro-F1 {c['macro_f1']:.3f} | "
                      f"window acc {w['accuracy']:.3f} macro-F1 {w['macro_f1']:.3f}", flush=True)
            print(f"wrote {args.out}", flush=True)
    return 0


# ----------------------------------------------------------------------------- openSMILE comparison

_SMILE: dict[str, Any] = {}


def egemaps_window(x: np.ndarray) -> np.ndarray:
    """openSMILE eGeMAPSv02 functionals (88 values) of one window (one extractor per process)."""
    import opensmile

    from moodmusic.audio.features import SAMPLE_RATE

    if "s" not in _SMILE:
        _SMILE["s"] = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                                      feature_level=opensmile.FeatureLevel.Functionals)
    return _SMILE["s"].process_signal(x, SAMPLE_RATE).to_numpy()[0].astype(np.float32)


def _egemaps_one(path: str) -> np.ndarray:
    from moodmusic.audio.features import window_bounds

    x = _read(path)
    bounds = window_bounds(len(x))
    x = np.pad(x, (0, max(0, bounds[-1][1] - len(x))))  # a short clip is padded like clip_features does
    return np.stack([egemaps_window(x[a:b]) for a, b in bounds])


def egemaps_windows(clips: list[Clip], cache_dir: str | Path, n_jobs: int = 2, progress: bool = False) -> Windows:
    """openSMILE eGeMAPSv02 functionals (88 values) over the same windows as ours; cached."""
    from joblib import Parallel, delayed

    digest = hashlib.sha1(("egemaps-v1\n" + "\n".join(c.path for c in clips)).encode()).hexdigest()[:16]
    path = Path(cache_dir) / f"egemaps-{digest}.npz"
    if path.is_file():
        blob = np.load(path)
        return Windows(blob["x"], blob["y"], blob["clip"], np.zeros(len(blob["y"]), np.int64), clips)
    it = Parallel(n_jobs=n_jobs, return_as="generator", batch_size=8)(delayed(_egemaps_one)(c.path) for c in clips)
    if progress:
        from tqdm import tqdm

        it = tqdm(it, total=len(clips), desc="eGeMAPS", mininterval=5, file=sys.stderr)
    feats = list(it)
    x = np.concatenate(feats)
    clip = np.concatenate([np.full(len(f), i) for i, f in enumerate(feats)]).astype(np.int64)
    y = np.array([MOOD_INDEX[clips[i].mood] for i in clip], np.int64)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, x=x, y=y, clip=clip)
    return Windows(x, y, clip, np.zeros(len(y), np.int64), clips)


def _svm_probs(train: Windows, test: Windows, seed: int) -> np.ndarray:
    """An RBF SVM (the reference's classifier family); a softmax of its decision values stands in for
    probabilities when averaging windows per clip."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    clf = make_pipeline(StandardScaler(), SVC(C=10.0, gamma="scale", class_weight="balanced", random_state=seed))
    clf.fit(np.nan_to_num(train.x), train.y)
    d = clf.decision_function(np.nan_to_num(test.x))
    e = np.exp(d - d.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def compare_features(data_dir: str | Path, cache_dir: str | Path, config: Any, dist_info: Any,
                     n_jobs: int = 2, progress: bool = False, log: Any = print) -> dict[str, Any]:
    """Our window features vs openSMILE eGeMAPS, same split, same windows, clean RAVDESS training data
    (actors 1-16; TESS left out to keep eGeMAPS extraction affordable), each with the same MLP
    (VoiceNet) and an RBF SVM; test actors 21-24, clip level."""
    from dataclasses import replace

    from moodmusic.audio.features import voice_features
    from moodmusic.recognition.voice_expert import VoiceExpert

    every = list_clips(data_dir)
    clips = [c for c in every if c.corpus == "ravdess"]
    by_split = {k: [c for c in clips if split_of(c.actor) == k] for k in ("train", "val", "test")}
    ours = {k: featurize(v, cache_dir, n_jobs=n_jobs, progress=progress) for k, v in by_split.items() if k != "train"}
    train_all = featurize([c for c in every if split_of(c.actor) == "train"], cache_dir, n_jobs=n_jobs,
                          progress=progress)  # the voice expert's cached clean windows, less TESS
    ours["train"] = train_all.subset(np.array([train_all.clips[i].corpus == "ravdess" for i in train_all.clip]))
    ege = {k: egemaps_windows(v, cache_dir, n_jobs=n_jobs, progress=progress) for k, v in by_split.items()}
    rows: dict[str, Any] = {}
    for name, sets in (("ours", ours), ("eGeMAPS", ege)):
        net, _ = train_expert(sets, replace(config, run_dir=None, resume=False, progress=False), dist_info)
        expert = VoiceExpert(net, {})
        rows[f"{name} + MLP"] = score(expert.predict(sets["test"].x)[0], sets["test"])["clip"]
        rows[f"{name} + RBF SVM"] = score(_svm_probs(sets["train"], sets["test"], config.seed), sets["test"])["clip"]
        log(f"{name}: MLP {rows[f'{name} + MLP']['accuracy']:.3f}, SVM {rows[f'{name} + RBF SVM']['accuracy']:.3f}")
    # speed of one 2 s window (feature extraction only), median of a few runs
    x = _read(by_split["test"][0].path)[:32000]
    timings = {}
    for name, fn in (("ours", lambda: voice_features(x)), ("eGeMAPS", lambda: egemaps_window(x))):
        fn()
        ts = []
        for _ in range(5):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
        timings[name] = 1000 * float(np.median(ts))
    return {"rows": rows, "ms_per_window": timings,
            "training": "clean windows of RAVDESS actors 1-16 (no TESS, no augmentation)",
            "n_features": {"ours": int(ours["test"].x.shape[1]), "eGeMAPS": int(ege["test"].x.shape[1])}}
