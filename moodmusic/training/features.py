"""What the nets read, computed once and cached: voice window features, measured against the speaker; face embeddings.

Every clip is cut into the live path's 2 s windows at 0.5 s hop by
`moodmusic.audio.clip_features`: the same code a live session runs. RAVDESS
training windows are computed once clean and `copies` more times through the
live path's augmentation (`moodmusic.training.augment`). Each version is
cached on disk with a manifest (keyed by the feature version, the files, the
copy and the augmentation), computed in parallel with joblib, so a second run
starts training at once.

Speaker adaptation (`moodmusic.audio.speaker`): a net reads each window
measured against its speaker's own statistics, shrunk towards a prior fitted
on the training speakers. Training windows use all of their speaker's (and
recording condition's) windows; validation and test actors are heard as a
live session hears them, clip after clip in a random order, each clip
measured against what was heard so far.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from moodmusic.moods import MOOD_INDEX, map_label
from moodmusic.training.augment import SpeechAugment, augment_speech
from moodmusic.training.datasets import FER_FILE, Clip, read_audio, split_of

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- voice window features (cached)

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


def _clip_seed(seed: int, path: str, copy: int) -> int:
    digest = hashlib.sha1(f"{seed}:{Path(path).name}:{copy}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def _featurize_one(clip: Clip, copy: int, seed: int, spec: SpeechAugment | None, gain_db: float) -> np.ndarray:
    from moodmusic.audio.features import clip_features

    x = read_audio(clip.path)
    if gain_db:
        x = np.clip(x * 10 ** (gain_db / 20), -1.0, 1.0).astype(np.float32)
    if copy > 0 and spec is not None:
        x = augment_speech(x, np.random.default_rng(_clip_seed(seed, clip.path, copy)), spec)
    return clip_features(x)


def featurize(clips: list[Clip], cache_dir: str | Path, copies: int = 0, seed: int = 0,
              spec: SpeechAugment | None = None, gain_db: float = 0.0, n_jobs: int = 2,
              progress: bool = True) -> Windows:
    """Window features of every clip (clean, plus `copies` augmented versions), cached with a manifest.

    Each version (clean, augmented copy 1, 2, ...) is its own cache entry, so
    asking for more copies later computes only the new ones.
    """
    parts = [_featurize_version(clips, cache_dir, k, seed, spec or SpeechAugment(), gain_db, n_jobs, progress)
             for k in range(copies + 1)]
    return Windows(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                   np.concatenate([p[2] for p in parts]),
                   np.concatenate([np.full(len(p[1]), k, np.int64) for k, p in enumerate(parts)]), clips)


def _featurize_version(clips: list[Clip], cache_dir: str | Path, copy: int, seed: int, spec: SpeechAugment,
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
        x, y, clip = _featurize_version([train[i] for i in ravdess], cache_dir, k, seed, SpeechAugment(), 0.0,
                                        n_jobs, progress)
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


def speaker_prior_of(meta: dict[str, Any]) -> Any:
    """The prior a voice checkpoint was trained with, or None (a model without speaker adaptation)."""
    from moodmusic.audio.speaker import prior_from_meta

    return prior_from_meta(meta.get("speaker_norm"))


def speaker_prior_in(checkpoint: Path) -> Any:
    """The prior of the voice expert at `checkpoint`, or None when there is no such file or no prior."""
    from moodmusic.recognition.checkpoint import load_checkpoint
    from moodmusic.recognition.voice_expert import KIND

    return speaker_prior_of(load_checkpoint(checkpoint, kind=KIND)[1]) if checkpoint.is_file() else None


# ----------------------------------------------------------------------------- face-expert embeddings (cached)

def face_embeddings(face_checkpoint: str | Path, data_dir: str | Path, cache_dir: str | Path,
                    splits: tuple[str, ...] = ("train", "val", "test"),
                    ) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """{split: (embeddings, face-expert probabilities, mood labels)} of FER2013, cached per face checkpoint."""
    import torch

    from moodmusic.recognition.face_expert import FaceExpert

    sha = hashlib.sha1(Path(face_checkpoint).read_bytes()).hexdigest()
    cache = Path(cache_dir) / f"fer-emb-{sha[:16]}.npz"
    if cache.is_file():
        blob = np.load(cache)
        return {s: (blob[f"{s}_emb"], blob[f"{s}_probs"], blob[f"{s}_y"]) for s in splits}
    expert = FaceExpert.load(face_checkpoint)
    fer = np.load(Path(data_dir) / FER_FILE, allow_pickle=False)
    labels = [map_label(str(lab), "fer2013") for lab in fer["labels"]]
    keep = np.array([lab is not None for lab in labels])
    y_all = np.array([MOOD_INDEX[lab] if lab else -1 for lab in labels])
    torch.set_num_threads(2)
    out, arrays = {}, {}
    for s in splits:
        m = keep & (fer["split"] == s)
        imgs = fer["images"][m]
        probs, embs = [], []
        for i in range(0, len(imgs), 512):
            p, e = expert.predict(imgs[i:i + 512])
            probs.append(p)
            embs.append(e)
        out[s] = (np.concatenate(embs), np.concatenate(probs), y_all[m])
        arrays.update({f"{s}_emb": out[s][0], f"{s}_probs": out[s][1], f"{s}_y": out[s][2]})
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, **arrays)
    return out
