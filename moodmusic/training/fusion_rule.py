"""The fusion rule, fitted on data: calibrated experts, out-of-corpus reliability, a novelty gate, proven.

`fuse(face, voice, rule=...)` weighs each expert by numbers this module fits
(`moodmusic.recognition.fusion.FusionRule`, written to `models/fusion_rule.json`):

1. **Calibration.** One temperature per expert, fitted by held-out NLL
   (`recognition.calibration`). Face: the deployed face path (the face expert
   through AVFusion's face head) on FER2013 validation; reported on test.
   Voice: the deployed voice path on speaker-adapted windows of the
   validation actors, heard as a live stream (in-corpus T, reported), and a
   second T fitted on *out-of-corpus* predictions (live users are out of
   corpus): leave-one-corpus-out ensembles trained with the voice recipe,
   RAVDESS 1-16 -> TESS and TESS -> RAVDESS. The out-of-corpus T is the one
   fusion uses. Out-of-corpus data are split in two: the T is fitted on
   RAVDESS validation actors (TESS-trained model) and TESS speaker OAF
   (RAVDESS-trained model), and reported on RAVDESS test actors and TESS YAF.
2. **Novelty.** A `NoveltyModel` on the voice expert's RAW window features
   (the classifier's own embedding calls synthetic speech typical), fitted on
   the training windows and read as a percentile of the validation actors.
3. **Weights and gate.** weight_face, weight_voice, gate_start, gate_floor
   minimise the NLL of `fuse(..., rule=candidate)` on validation pairs only:
   FER validation faces paired by label with voice windows, half in-corpus
   (validation actors, deployed model) and half out-of-corpus (the LOCO
   models on their calibration halves, novelty from a NoveltyModel fitted on
   that model's own training corpus); the two halves count equally.
4. **Proof** (never used for fitting): the RAVDESS action-unit pairs (the
   same rule form fitted on validation actors, scored on 21-24), the MEAD
   M030 clips, and FER test x RAVDESS test / out-of-corpus synthetic pairs;
   face-only, voice-only and fused side by side.

Everything measured lands in `rule.fitted`, which the model card reads.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from moodmusic.errors import UserError
from moodmusic.moods import MOOD_INDEX, MOODS, map_label
from moodmusic.recognition.calibration import (
    apply_temperature,
    expected_calibration_error,
    fit_temperature,
    nll,
    reliability_bins,
)
from moodmusic.recognition.fusion import FusionRule, ModalityRule, Opinion, fuse
from moodmusic.recognition.novelty import NoveltyModel
from moodmusic.training.datasets import FER_FILE, TESS_ACTOR, list_clips, same_label_pairs
from moodmusic.training.features import Windows, adapt, featurize, fit_speaker_prior, speaker_prior_of, split_windows
from moodmusic.training.scoring import clip_probs, score

DEFAULT_OUT = Path("models") / "fusion_rule.json"
GRID = {
    "weight_face": (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0),
    "weight_voice": (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.25, 1.5),
    "gate_start": (0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 1.0),
    "gate_floor": (0.0, 0.1, 0.25, 0.5),
}
MEAD_MOODS = {"angry": "angry", "fear": "fear", "happy": "happy", "neutral": "neutral", "sad": "sad",
              "surprised": "surprise"}  # MEAD's contempt and disgusted are not among the six moods


@dataclass
class FusionRuleConfig:
    """How to fit the fusion rule (`python -m moodmusic train fusion-rule` spells each field as an option)."""

    data: Path
    models: Path = DEFAULT_OUT.parent  # the deployed experts (face_expert.pt, voice_expert.pt, avfusion.pt)
    out: Path = DEFAULT_OUT
    cache: Path = Path("cache/features")  # the voice feature cache, shared with `train voice`
    members: int = 3  # nets per leave-one-corpus-out ensemble
    epochs: int = 60
    batch_size: int = 256
    patience: int = 15
    components: int = 40  # principal directions kept by the novelty model
    seed: int = 0
    face_limit: int | None = None  # score a fixed subset of N FER images per split (smoke tests)
    proof: bool = True  # also the AU pairs and MEAD clips
    jobs: int = 2
    progress: bool = True
    command: str | None = None


# ----------------------------------------------------------------------------- small helpers

def _r(x: float, digits: int = 4) -> float:
    return float(round(float(x), digits))


def _sig(x: Any, digits: int = 4) -> Any:
    """Round every float in nested lists to `digits` significant digits (keeps the JSON small)."""
    if isinstance(x, list):
        return [_sig(v, digits) for v in x]
    if isinstance(x, float) and math.isfinite(x) and x != 0.0:
        return float(f"{x:.{digits}g}")
    return x


def compact_novelty(model: NoveltyModel) -> NoveltyModel:
    """The model as it reads back from a rounded JSON file (so what is measured is what is saved)."""
    return NoveltyModel.from_dict({k: _sig(v) for k, v in model.to_dict().items()})


def bins_dict(probs: np.ndarray, y: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """A reliability diagram's data as plain JSON (empty bins as None)."""
    b = reliability_bins(probs, y, bins)
    clean = lambda a: [None if not np.isfinite(v) else _r(v) for v in a]  # noqa: E731
    return {"edges": [_r(e) for e in b.edges], "confidence": clean(b.confidence), "accuracy": clean(b.accuracy),
            "count": [int(c) for c in b.count], "ece": _r(b.ece)}


def _metrics(y: np.ndarray, probs: np.ndarray) -> dict[str, Any]:
    from moodmusic.recognition.metrics import classification_metrics

    m = classification_metrics(y, probs.argmax(1), MOODS)
    return {"accuracy": _r(m["accuracy"]), "macro_f1": _r(m["macro_f1"]), "n": int(m["n"])}


def calibration(fit_p: np.ndarray, fit_y: np.ndarray, eval_p: np.ndarray, eval_y: np.ndarray) -> dict[str, Any]:
    """A temperature fitted on one set, and what it does on another: ECE, NLL, mean confidence, accuracy."""
    t = fit_temperature(fit_p, fit_y)
    after = apply_temperature(eval_p, t)
    return {
        "temperature": _r(t), "n_fit": int(len(fit_y)), "n_eval": int(len(eval_y)),
        "accuracy": _r(float((eval_p.argmax(1) == eval_y).mean())),
        "ece_before": _r(expected_calibration_error(eval_p, eval_y)),
        "ece_after": _r(expected_calibration_error(after, eval_y)),
        "nll_before": _r(nll(eval_p, eval_y)), "nll_after": _r(nll(after, eval_y)),
        "confidence_before": _r(eval_p.max(1).mean()), "confidence_after": _r(after.max(1).mean()),
        "bins_before": bins_dict(eval_p, eval_y), "bins_after": bins_dict(after, eval_y),
    }


def _say(cfg: FusionRuleConfig, text: str) -> None:
    if cfg.progress:
        print(text, flush=True)


# ----------------------------------------------------------------------------- the face

def load_fer_original(data_dir: Path, splits: tuple[str, ...], limit: int | None = None
                      ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{split: (images, mood indices)} of FER2013's original images (FER+ relabelled extras left out), six moods."""
    path = Path(data_dir) / FER_FILE
    if not path.is_file():
        raise UserError(f"FER2013 not found at {path}; pass --data pointing at the shared data folder")
    with np.load(path) as blob:
        images, labels, split = blob["images"], blob["labels"], blob["split"]
        original = blob["original"] if "original" in blob.files else np.ones(len(labels), bool)
    moods = np.array([map_label(str(lbl), "fer2013") or "" for lbl in labels])
    out = {}
    for name in splits:
        idx = np.flatnonzero((moods != "") & original & (split == name))
        if limit:
            idx = np.sort(np.random.default_rng(0).permutation(idx)[:limit])
        out[name] = (images[idx], np.array([MOOD_INDEX[m] for m in moods[idx]], np.int64))
    return out


def batched(fn: Any, x: np.ndarray, size: int = 512) -> np.ndarray:
    return np.concatenate([np.asarray(fn(x[i:i + size]), np.float64) for i in range(0, len(x), size)])


# ----------------------------------------------------------------------------- the voice, in and out of corpus

def _probs(net: Any, x: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return torch.softmax(net(torch.from_numpy(np.ascontiguousarray(x, np.float32)))[0], 1).double().numpy()


def train_ensemble(windows: dict[str, Windows], cfg: FusionRuleConfig) -> Any:
    """`cfg.members` VoiceNets from seeds seed.., the voice recipe (early-stopped on windows['val']), averaged."""
    from moodmusic.recognition.voice_expert import VoiceEnsemble
    from moodmusic.training.distributed import distributed
    from moodmusic.training.loop import TrainConfig
    from moodmusic.training.voice import train_expert

    config = TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, lr=2e-3, weight_decay=0.05, patience=cfg.patience,
                         progress=False, num_threads=2)
    nets = []
    with distributed() as dist_info:
        for i in range(cfg.members):
            net, _ = train_expert(windows, replace(config, seed=cfg.seed + i), dist_info)
            nets.append(net)
    if len(nets) == 1:
        return nets[0]
    ens = VoiceEnsemble(len(nets), **nets[0].config)
    for member, trained in zip(ens.members, nets):
        member.load_state_dict(trained.state_dict())
    return ens.eval()


@dataclass
class VoiceSet:
    """Voice opinions on one set of windows: probabilities, labels, novelty percentiles, clip ids."""

    name: str
    probs: np.ndarray
    windows: Windows
    novelty: np.ndarray

    @property
    def y(self) -> np.ndarray:
        return self.windows.y

    def subset(self, mask: np.ndarray, name: str) -> VoiceSet:
        return VoiceSet(name, self.probs[mask], self.windows.subset(mask), self.novelty[mask])

    def figures(self) -> dict[str, Any]:
        s = score(self.probs, self.windows)
        return {"clip_accuracy": _r(s["clip"]["accuracy"]), "clip_macro_f1": _r(s["clip"]["macro_f1"]),
                "window_accuracy": _r(s["window"]["accuracy"]), "window_macro_f1": _r(s["window"]["macro_f1"]),
                "window_ece": _r(expected_calibration_error(self.probs, self.y)),
                "novelty_median": _r(np.median(self.novelty)) if len(self.novelty) else None,
                "n_clips": int(len(np.unique(self.windows.clip))), "n_windows": int(len(self.y))}


def _corpus_mask(w: Windows, corpus: str) -> np.ndarray:
    return np.array([w.clips[c].corpus == corpus for c in w.clip], bool)


def leave_one_corpus_out(windows: dict[str, Windows], tess: Windows, cfg: FusionRuleConfig
                         ) -> dict[str, VoiceSet]:
    """Two ensembles, each trained on one corpus and heard on the other; their predictions with novelty.

    RAVDESS -> TESS: trained on RAVDESS actors 1-16 (clean + augmented), early-stopped on actors 17-20.
    TESS -> RAVDESS: trained on TESS, early-stopped on a fixed seventh of its clips. Each refits the
    speaker prior on its own training corpus and hears the other corpus as a live stream.
    """
    tr = windows["train"]
    rav = tr.subset(_corpus_mask(tr, "ravdess"))
    prior_a = fit_speaker_prior(rav, 128.0, 128.0)
    _say(cfg, f"leave-one-corpus-out: RAVDESS 1-16 -> TESS ({cfg.members} nets) ...")
    net_a = train_ensemble({"train": adapt(rav, prior_a, "groups"), "val": adapt(windows["val"], prior_a)}, cfg)
    nov_a = NoveltyModel.fit(rav.x, windows["val"].x, cfg.components)
    out = {
        "ravdess->tess": VoiceSet("ravdess->tess", _probs(net_a, adapt(tess, prior_a).x), tess,
                                  nov_a.percentile(tess.x)),
        "ravdess->ravdess test": VoiceSet("ravdess->ravdess test", _probs(net_a, adapt(windows["test"], prior_a).x),
                                          windows["test"], nov_a.percentile(windows["test"].x)),
    }
    ts = tr.subset(_corpus_mask(tr, "tess"))
    clips = np.unique(ts.clip)
    held = np.random.default_rng(cfg.seed).choice(clips, max(1, len(clips) // 7), replace=False)
    m = np.isin(ts.clip, held)
    if m.all():  # a single clip: it trains and stops itself (smoke tests only)
        m = np.zeros(len(m), bool)
        m[: max(2, len(m) // 7)] = True
    prior_b = fit_speaker_prior(ts.subset(~m), 128.0, 128.0)
    _say(cfg, f"leave-one-corpus-out: TESS -> RAVDESS ({cfg.members} nets) ...")
    net_b = train_ensemble({"train": adapt(ts.subset(~m), prior_b, "groups"),
                            "val": adapt(ts.subset(m), prior_b, "groups")}, cfg)
    nov_b = NoveltyModel.fit(ts.subset(~m).x, ts.subset(m).x, cfg.components)
    for split in ("val", "test"):
        w = windows[split]
        out[f"tess->ravdess {split}"] = VoiceSet(f"tess->ravdess {split}", _probs(net_b, adapt(w, prior_b).x), w,
                                                 nov_b.percentile(w.x))
    return out


# ----------------------------------------------------------------------------- fitting the weights and the gate

@dataclass
class PairSet:
    """Face and voice opinions of the same label (calibrated log-probabilities) and the voice's novelty."""

    log_face: np.ndarray
    log_voice: np.ndarray
    novelty: np.ndarray
    y: np.ndarray


def make_pairs(face_p: np.ndarray, face_y: np.ndarray, voice: VoiceSet, t_face: float, t_voice: float,
               seed: int) -> PairSet:
    fi, vi = same_label_pairs(face_y, voice.y, np.random.default_rng(seed))
    return PairSet(np.log(np.clip(apply_temperature(face_p[fi], t_face), 1e-12, 1)),
                   np.log(np.clip(apply_temperature(voice.probs[vi], t_voice), 1e-12, 1)),
                   voice.novelty[vi], face_y[fi])


def _gate(novelty: np.ndarray, start: float, floor: float) -> np.ndarray:
    """`ModalityRule.gate`, vectorised (checked against it in the tests)."""
    if start >= 1.0:
        return np.ones_like(novelty)
    over = np.clip((novelty - start) / (1.0 - start), 0.0, 1.0)
    return 1.0 - (1.0 - floor) * over


def pair_nll(ps: PairSet, wf: float, wv: float, start: float, floor: float) -> float:
    """Mean NLL of the rule's product of experts on these pairs (quality 1, age 0)."""
    z = wf * ps.log_face + (wv * _gate(ps.novelty, start, floor))[:, None] * ps.log_voice
    z = z - z.max(1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    return float(-logp[np.arange(len(ps.y)), ps.y].mean())


def fit_weights(sets: list[PairSet], grid: dict[str, tuple[float, ...]] = GRID) -> tuple[dict[str, float], float]:
    """The grid point minimising the mean of each set's NLL (each set counts equally)."""
    best, best_loss = {}, np.inf
    for wf in grid["weight_face"]:
        for wv in grid["weight_voice"]:
            for start in grid["gate_start"]:
                floors = grid["gate_floor"] if start < 1.0 and wv > 0 else (1.0,)
                for floor in floors:
                    loss = float(np.mean([pair_nll(s, wf, wv, start, floor) for s in sets]))
                    if loss < best_loss - 1e-9:
                        best_loss = loss
                        best = {"weight_face": wf, "weight_voice": wv, "gate_start": start, "gate_floor": floor}
    return best, best_loss


# ----------------------------------------------------------------------------- the proof: face-only, voice-only, fused

def compare(y: np.ndarray, face_p: np.ndarray | None, voice_p: np.ndarray | None, novelty: np.ndarray | None,
            rule: FusionRule, clip: np.ndarray | None = None) -> dict[str, Any]:
    """Face-only, voice-only and fused figures on the same examples; at clip level when `clip` is given."""
    n = len(y)
    rows: dict[str, np.ndarray] = {}
    if face_p is not None:
        rows["face only"] = np.array([fuse(Opinion(face_p[i]), None, rule=rule).probs for i in range(n)])
    if voice_p is not None:
        rows["voice only"] = np.array([fuse(None, Opinion(voice_p[i], novelty=None if novelty is None
                                                           else float(novelty[i])), rule=rule).probs
                                       for i in range(n)])
    if face_p is not None and voice_p is not None:
        rows["fused"] = np.array([fuse(Opinion(face_p[i]), Opinion(voice_p[i], novelty=None if novelty is None
                                                                  else float(novelty[i])), rule=rule).probs
                                  for i in range(n)])
    out: dict[str, Any] = {}
    for k, p in rows.items():
        if clip is not None:
            ids, cp = clip_probs(p, clip)
            first = {c: i for i, c in reversed(list(enumerate(clip)))}
            out[k] = _metrics(y[[first[c] for c in ids]], cp)
        else:
            out[k] = _metrics(y, p)
            out[k]["nll"] = _r(nll(p, y))
    singles = [out[k]["accuracy"] for k in ("face only", "voice only") if k in out]
    if "fused" in out and singles:
        out["fused_at_least_best_single"] = bool(out["fused"]["accuracy"] >= max(singles) - 1e-9)
    return out


def synthetic_pairs(face_p: np.ndarray, face_y: np.ndarray, voice: VoiceSet, rule: FusionRule,
                    seed: int) -> dict[str, Any]:
    fi, vi = same_label_pairs(face_y, voice.y, np.random.default_rng(seed))
    res = compare(face_y[fi], face_p[fi], voice.probs[vi], voice.novelty[vi], rule)
    res["pairs"] = int(len(fi))
    return res


def au_pairs(cfg: FusionRuleConfig, windows: dict[str, Windows], prior: Any, rule: FusionRule) -> dict[str, Any]:
    """The real RAVDESS pairs: the AU late model's face and voice heads, the rule's form fitted on actors 17-20.

    As `training.fusion.au_comparison` builds its face(AU)-only and voice-only rows: one `late` AVFusion
    trained on AU + voice windows of actors 1-16 (seed `cfg.seed`), each head with the other modality masked.
    Temperatures and weights are fitted on the validation actors' real pairs (no novelty: both are in
    corpus); test actors 21-24 are scored at clip level.
    """
    from moodmusic.recognition.avfusion import AVFusionModel
    from moodmusic.training.distributed import distributed
    from moodmusic.training.fusion import au_sets, train_avfusion
    from moodmusic.training.loop import TrainConfig

    adapted = {k: adapt(w, prior, "groups" if k == "train" else "stream") for k, w in windows.items()}
    sets = au_sets(cfg.data, adapted)
    tr, va, te = sets["train"], sets["val"], sets["test"]
    config = TrainConfig(epochs=min(25, cfg.epochs), batch_size=cfg.batch_size, lr=2e-3, patience=6, seed=cfg.seed,
                         progress=False, num_threads=1)
    with distributed() as dist_info:
        net, _ = train_avfusion((tr.face, tr.voice, tr.y), (va.face, va.voice, va.y), "late", config, dist_info)
    model = AVFusionModel(net, {})
    heads = {k: (np.asarray(model.predict(s.face, None), np.float64), np.asarray(model.predict(None, s.voice),
                                                                                np.float64)) for k, s in
             (("val", va), ("test", te))}
    tf, tv = fit_temperature(heads["val"][0], va.y), fit_temperature(heads["val"][1], va.y)
    lf = np.log(np.clip(apply_temperature(heads["val"][0], tf), 1e-12, 1))
    lv = np.log(np.clip(apply_temperature(heads["val"][1], tv), 1e-12, 1))
    params, _ = fit_weights([PairSet(lf, lv, np.zeros(len(va.y)), va.y)],
                            {**GRID, "gate_start": (1.0,), "gate_floor": (1.0,)})
    au_rule = FusionRule(ModalityRule(tf, params["weight_face"]), ModalityRule(tv, params["weight_voice"]))
    res = compare(te.y, heads["test"][0], heads["test"][1], None, au_rule, clip=te.clip)
    res["rule"] = {"temperature_face": _r(tf), "temperature_voice": _r(tv), **params}
    res["what"] = ("RAVDESS actors 21-24, clip level, real pairs: OpenFace AUs + our voice features; the AU late "
                   "model's heads, calibrated and weighted on actors 17-20")
    return res


def mead(cfg: FusionRuleConfig, experts: Any, prior: Any, rule: FusionRule) -> dict[str, Any] | None:
    """MEAD M030: the six-mood clips, frame by frame; the talking clip with its voice as the stream hears it."""
    from moodmusic import media
    from moodmusic.audio import VoiceActivity, clip_features, window_bounds
    from moodmusic.audio.constants import HOP_SECONDS, WINDOW_SECONDS
    from moodmusic.audio.speaker import SpeakerAdapter
    from moodmusic.vision import FaceTracker

    folder = cfg.data / "video" / "mead_m030"
    files = sorted(folder.glob("M030_*.mp4")) if folder.is_dir() else []
    if not files or experts.face is None:
        return None
    ys, face_rows, voice_rows, novelty, clips = [], [], [], [], []
    per_clip = {}
    for ci, f in enumerate(files):
        parts = f.stem.split("_")
        mood = MEAD_MOODS.get(parts[2] if parts[1] == "front" else parts[1])
        if mood is None:
            continue
        tracker = FaceTracker(cfg.models)
        times, crops = [], []
        for t, frame in media.iter_video_frames(f, fps=25):
            faces = tracker.process(frame)
            if faces:
                times.append(t)
                crops.append(faces[0].crop)
        if not crops:
            continue
        fp = batched(experts.face, np.stack(crops))
        vp = vn = None
        if media.probe(f).has_audio and experts.voice is not None:
            sig = media.read_audio(f)
            bounds = window_bounds(len(sig))
            feats = clip_features(sig)
            vad = VoiceActivity()
            voiced = np.array([vad.activity(sig[a:b]) >= 0.2 for a, b in bounds[:len(feats)]])
            if voiced.any():
                x = feats[voiced]
                if prior is not None:  # a live stream: each window against what was heard so far, itself included
                    adapter = SpeakerAdapter(prior)
                    x = np.concatenate([adapter.normalise(row[None]) for row in x])
                wp = batched(experts.voice, x.astype(np.float32))
                wn = (rule.voice.novelty.percentile(feats[voiced]) if rule.voice.novelty is not None
                      else np.full(int(voiced.sum()), np.nan))
                ends = np.array([WINDOW_SECONDS + HOP_SECONDS * i for i in np.flatnonzero(voiced)])
                # each frame hears the newest window that had ended by then (the first one before that)
                k = np.clip(np.searchsorted(ends, np.asarray(times), side="right") - 1, 0, len(ends) - 1)
                vp, vn = wp[k], wn[k]
        ys += [MOOD_INDEX[mood]] * len(fp)
        face_rows.append(fp)
        voice_rows.append(vp if vp is not None else np.full(fp.shape, np.nan))
        novelty.append(vn if vn is not None else np.full(len(fp), np.nan))
        clips += [ci] * len(fp)
        per_clip[f.name] = {"mood": mood, "frames": len(fp), "voice": vp is not None,
                            "face_mean": MOODS[int(fp.mean(0).argmax())]}
    if not ys:
        return None
    y, fp, vp, vn = np.array(ys), np.concatenate(face_rows), np.concatenate(voice_rows), np.concatenate(novelty)
    has_voice = np.isfinite(vp).all(1)
    res = {"all clips (frames; fused = face where no voice)": _mead_rows(y, fp, vp, vn, has_voice, rule)}
    if has_voice.any():
        m = has_voice
        res["talking clip (frames with voice)"] = compare(y[m], fp[m], vp[m], vn[m], rule)
        res["voice_novelty_median"] = _r(np.median(vn[m]))
    res["clips"] = per_clip
    res["what"] = ("MEAD M030 (one speaker), the six-mood clips at 25 fps; the talking clip's voice heard as a "
                   "live stream (speaker adaptation learning as it goes, novelty from the rule)")
    return res


def _mead_rows(y: np.ndarray, fp: np.ndarray, vp: np.ndarray, vn: np.ndarray, has_voice: np.ndarray,
               rule: FusionRule) -> dict[str, Any]:
    fused = np.array([fuse(Opinion(fp[i]), Opinion(vp[i], novelty=float(vn[i])) if has_voice[i] else None,
                           rule=rule).probs for i in range(len(y))])
    out = {"face only": _metrics(y, fp), "fused": _metrics(y, fused)}
    if has_voice.any():
        out["voice only (frames with voice)"] = _metrics(y[has_voice], vp[has_voice])
    out["fused_at_least_best_single"] = bool(out["fused"]["accuracy"] >= out["face only"]["accuracy"] - 1e-9)
    return out


# ----------------------------------------------------------------------------- the run

def _check(cfg: FusionRuleConfig) -> None:
    if not (cfg.data / "speech" / "ravdess").is_dir():
        raise UserError(f"no RAVDESS speech under {cfg.data}/speech/ravdess; pass --data DIR (the shared data folder)")
    if not (cfg.data / FER_FILE).is_file():
        raise UserError(f"no FER2013 at {cfg.data / FER_FILE}; pass --data DIR (the shared data folder)")
    if cfg.members < 1:
        raise UserError(f"--members must be at least 1, got {cfg.members}")


def train_fusion_rule(cfg: FusionRuleConfig) -> int:
    """Fit the rule and measure it; write `cfg.out` (JSON). Returns 0."""
    rule = fit_rule(cfg)
    cfg.out.parent.mkdir(parents=True, exist_ok=True)
    rule.save(cfg.out)
    f = rule.fitted
    print(f"face: T {rule.face.temperature:.3f}, ECE {f['face']['ece_before']:.3f} -> {f['face']['ece_after']:.3f}; "
          f"voice: T in-corpus {f['voice']['in_corpus']['temperature']:.3f}, out-of-corpus "
          f"{rule.voice.temperature:.3f}; weights face {rule.face.weight:g}, voice {rule.voice.weight:g}, gate "
          f"from {rule.voice.gate_start:g} to {rule.voice.gate_floor:g}")
    for name, row in _rows(f.get("proof") or {}):
            print(f"{name}: " + ", ".join(f"{k} {row[k]['accuracy']:.3f}" for k in ("face only", "voice only", "fused")
                                          if k in row))
    print(f"wrote {cfg.out}")
    return 0


def _rows(proof: dict[str, Any], prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every face-only / voice-only / fused row of the proof, nested ones (MEAD) included."""
    out = []
    for name, row in proof.items():
        if isinstance(row, dict) and "fused" in row:
            out.append((prefix + name, row))
        elif isinstance(row, dict):
            out += _rows(row, f"{prefix}{name}: ")
    return out


def fit_rule(cfg: FusionRuleConfig) -> FusionRule:
    """Every step of the module docstring; the rule with its record in `fitted`."""
    from moodmusic.pipeline import load_experts

    _check(cfg)
    t0 = time.perf_counter()
    experts = load_experts(cfg.models)
    if experts.face is None or experts.voice is None:
        raise UserError("fitting the fusion rule needs both experts: " + "; ".join(experts.problems))
    prior = speaker_prior_of(experts.voice_expert.meta)

    _say(cfg, "face: FER2013 validation and test through the deployed face path ...")
    fer = load_fer_original(cfg.data, ("val", "test"), cfg.face_limit)
    face_p = {k: batched(experts.face, x) for k, (x, _) in fer.items()}
    face_y = {k: y for k, (_, y) in fer.items()}
    face_cal = calibration(face_p["val"], face_y["val"], face_p["test"], face_y["test"])
    face_cal["val_accuracy"] = _r(float((face_p["val"].argmax(1) == face_y["val"]).mean()))

    _say(cfg, "voice: windows (cached), the deployed voice path on actors 17-20 and 21-24 ...")
    clips = list_clips(cfg.data)
    windows = split_windows(clips, cfg.cache, copies=1, seed=0, n_jobs=cfg.jobs, progress=cfg.progress)
    tess = featurize([c for c in clips if c.corpus == "tess"], cfg.cache, n_jobs=cfg.jobs, progress=cfg.progress)
    novelty = compact_novelty(NoveltyModel.fit(windows["train"].x, windows["val"].x, cfg.components))
    deployed = {k: VoiceSet(f"deployed, RAVDESS {k}", batched(experts.voice, adapt(windows[k], prior).x),
                            windows[k], novelty.percentile(windows[k].x)) for k in ("val", "test")}
    voice_in = calibration(deployed["val"].probs, deployed["val"].y, deployed["test"].probs, deployed["test"].y)

    loco = leave_one_corpus_out(windows, tess, cfg)
    oaf = np.array([loco["ravdess->tess"].windows.clips[c].actor == TESS_ACTOR["OAF"]
                    for c in loco["ravdess->tess"].windows.clip])
    fit_sets = [loco["tess->ravdess val"], loco["ravdess->tess"].subset(oaf, "ravdess->tess OAF")]
    eval_sets = [loco["tess->ravdess test"], loco["ravdess->tess"].subset(~oaf, "ravdess->tess YAF")]
    cat = lambda sets, attr: np.concatenate([getattr(s, attr) for s in sets])  # noqa: E731
    voice_out = calibration(cat(fit_sets, "probs"), cat(fit_sets, "y"), cat(eval_sets, "probs"), cat(eval_sets, "y"))
    voice_out["fit_on"] = [s.name for s in fit_sets]
    voice_out["reported_on"] = [s.name for s in eval_sets]

    _say(cfg, "fusion: weights and gate on validation pairs ...")
    t_face, t_voice = face_cal["temperature"], voice_out["temperature"]
    ooc_val = VoiceSet("out of corpus, calibration halves", cat(fit_sets, "probs"),
                       _join([s.windows for s in fit_sets]), cat(fit_sets, "novelty"))
    pair_sets = [make_pairs(face_p["val"], face_y["val"], deployed["val"], t_face, t_voice, cfg.seed + 1),
                 make_pairs(face_p["val"], face_y["val"], ooc_val, t_face, t_voice, cfg.seed + 2)]
    params, loss = fit_weights(pair_sets)
    rule = FusionRule(
        ModalityRule(t_face, params["weight_face"]),
        ModalityRule(t_voice, params["weight_voice"], params["gate_start"], params["gate_floor"], novelty))

    _say(cfg, "proof: synthetic test pairs, the AU pairs, MEAD ...")
    proof: dict[str, Any] = {
        "FER test x RAVDESS test actors (deployed voice, in corpus)":
            synthetic_pairs(face_p["test"], face_y["test"], deployed["test"], rule, cfg.seed + 3),
        "FER test x out-of-corpus voice (LOCO, reported halves)":
            synthetic_pairs(face_p["test"], face_y["test"], VoiceSet(
                "ooc", cat(eval_sets, "probs"), _join([s.windows for s in eval_sets]), cat(eval_sets, "novelty")),
                rule, cfg.seed + 4),
    }
    if cfg.proof:
        from moodmusic.training.datasets import AU_CSV

        if (cfg.data / AU_CSV).is_file():
            proof["RAVDESS action-unit pairs (actors 21-24)"] = au_pairs(cfg, windows, prior, rule)
        m = mead(cfg, experts, prior, rule)
        if m is not None:
            proof["MEAD M030"] = m

    rule = replace(rule, fitted={
        "command": cfg.command, "data": str(cfg.data), "seconds": round(time.perf_counter() - t0, 1),
        "face": {**face_cal, "what": "deployed face path (face expert through AVFusion's face head); T fitted on "
                 "FER2013 validation (original images), reported on test"},
        "voice": {
            "in_corpus": {**voice_in, "what": "deployed voice path on speaker-adapted windows heard as a live "
                          "stream; T fitted on RAVDESS actors 17-20, reported on 21-24 (windows)"},
            "out_of_corpus": {**voice_out, "what": "leave-one-corpus-out ensembles; T fitted on the calibration "
                              "halves, reported on the others (windows); this T is the one fusion uses"},
            "loco": {**{k: v.figures() for k, v in loco.items()},
                     "deployed, RAVDESS test": deployed["test"].figures(),
                     "deployed, RAVDESS val": deployed["val"].figures(),
                     "members": cfg.members, "seeds": list(range(cfg.seed, cfg.seed + cfg.members))},
            "novelty": {"space": "raw window features (not speaker-adapted)", "components": int(len(novelty.variances)),
                        "train_windows": int(len(windows["train"].y)), "held_out": "RAVDESS actors 17-20",
                        "median_percentile": {k: v.figures()["novelty_median"] for k, v in
                                              {**deployed, **loco}.items()}},
        },
        "fusion": {"objective": "mean NLL of fuse(face, voice, rule) over two validation pair sets counted "
                   "equally: FER val x deployed voice on actors 17-20, and FER val x out-of-corpus voice "
                   "(calibration halves)", "grid": {k: list(v) for k, v in GRID.items()}, **params,
                   "val_nll": _r(loss), "pairs": [int(len(p.y)) for p in pair_sets],
                   "val_nll_face_only": _r(np.mean([pair_nll(p, params["weight_face"], 0.0, 1.0, 1.0)
                                                    for p in pair_sets]))},
        "proof": proof,
    })
    return rule


def _join(ws: list[Windows]) -> Windows:
    """Windows of several sets as one (clip ids kept apart)."""
    clips, offset, parts = [], 0, []
    for w in ws:
        parts.append(Windows(w.x, w.y, w.clip + offset, w.copy, []))
        clips += list(w.clips)
        offset += len(w.clips)
    return Windows(np.concatenate([p.x for p in parts]), np.concatenate([p.y for p in parts]),
                   np.concatenate([p.clip for p in parts]), np.concatenate([p.copy for p in parts]), clips)
