"""Recompute every reported figure from the committed weights and the data, and write the model card.

Face: the face expert on the FER2013 test split. Voice: the voice expert on
RAVDESS actors 21-24 (clip and window level, at +15/-10 dB and through the
live path's augmentation). Fusion: the face(AU)/voice/strategy table on the
real RAVDESS pairs (small models retrained with fixed seeds, since they are
evaluation artefacts) and the deployed AVFusion. Calibration: the fusion
rule's figures (calibration, leave-one-corpus-out, the proof tables), read
from `models/fusion_rule.json` as `train fusion-rule` measured them. Optionally our voice
features against openSMILE eGeMAPS (slow: eGeMAPS is computed for every clip
once, then cached). Whatever is missing (a model, the data) is reported in
the card as not evaluated; figures from a previous card are kept for the
parts left out.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from moodmusic.errors import UserError
from moodmusic.moods import MOOD_INDEX
from moodmusic.training.card import confusion_png, reliability_png, write_card
from moodmusic.training.datasets import AU_CSV, FER_FILE, Clip, list_clips, read_audio, split_of
from moodmusic.training.features import (
    Windows,
    adapt,
    adapt_splits,
    face_embeddings,
    featurize,
    speaker_prior_in,
    speaker_prior_of,
    split_windows,
)
from moodmusic.training.fusion import au_comparison
from moodmusic.training.lineage import lineage_of
from moodmusic.training.scoring import evaluate_deployed, evaluate_face, evaluate_voice, score
from moodmusic.training.voice import train_expert

PARTS = ("face", "voice", "fusion", "calibration", "talking", "words")


@dataclass
class EvaluateConfig:
    """What to evaluate (`python -m moodmusic evaluate` spells each field as an option)."""

    data: Path
    models: Path | None = None  # the weights (default: models/)
    out: Path | None = None  # where the card goes (default: the models folder)
    cache: Path = Path("cache/features")
    compare_opensmile: bool = False
    au: bool = True  # False: keep the previous card's AU fusion comparison
    au_from: Path | None = None  # take the AU fusion table from this JSON (written by `train fusion --au`)
    only: tuple[str, ...] | None = None  # evaluate only these parts; the others keep the previous card's figures
    seeds: int = 2  # seeds per fusion strategy in the AU comparison
    jobs: int = 2
    command: str = "python -m moodmusic evaluate"  # the command line that reproduces this card


def evaluate_models(cfg: EvaluateConfig) -> tuple[Path, Path]:
    """Gather the figures into the card and write it; returns (model_card.json, MODEL_CARD.md)."""
    from moodmusic.config import MODELS_DIR

    models = cfg.models or MODELS_DIR
    out = cfg.out or models
    if not cfg.data.is_dir():
        raise UserError(f"data folder {cfg.data} not found; pass --data DIR (the shared data folder)")
    only = set(cfg.only or PARTS)
    card = _start_card(cfg, out)
    if "face" in only:
        _face(cfg, card, models, out)
    if "voice" in only:
        _voice(cfg, card, models, out)
    if "fusion" in only:
        _fusion(cfg, card, models, out)
    if "calibration" in only:
        _calibration(card, models, out)
    if "talking" in only:
        _talking(cfg, card, models)
    if "words" in only:
        _words(card, models)
    return write_card(card, out)


def _sha1(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def _commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parents[2])
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _slim_meta(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in meta.items() if k not in ("feature_names",)}


def _start_card(cfg: EvaluateConfig, out: Path) -> dict[str, Any]:
    """A new card that keeps the previous card's figures for whatever this run leaves out."""
    previous: dict[str, Any] = {}
    if (out / "model_card.json").is_file():
        try:
            previous = json.loads((out / "model_card.json").read_text())
        except json.JSONDecodeError:
            previous = {}
    card: dict[str, Any] = {
        "generated": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _commit(),
        "command": cfg.command,
        "problems": [], "figures": dict(previous.get("figures", {})), "commands": dict(previous.get("commands", {})),
    }
    for key in ("face", "voice", "voice_feature_comparison", "fusion", "calibration", "talking", "words"):
        if key in previous:
            card[key] = previous[key]
    return card


# ----------------------------------------------------------------------------- the three parts

def _face(cfg: EvaluateConfig, card: dict[str, Any], models: Path, out: Path) -> None:
    face_ckpt = models / "face_expert.pt"
    if not (face_ckpt.is_file() and (cfg.data / FER_FILE).is_file()):
        card["problems"].append(f"face: {face_ckpt} or {cfg.data}/faces/fer2013.npz missing")
        return
    import torch

    print("face: FER2013 test ...", flush=True)
    meta = torch.load(face_ckpt, map_location="cpu", weights_only=True)["meta"]
    test = evaluate_face(face_ckpt, cfg.data)
    card["face"] = {"test": test, "meta": _slim_meta(meta), "sha1": _sha1(face_ckpt)}
    card["figures"]["face"] = str(confusion_png(test["confusion_matrix"], "face: FER2013 test",
                                                out / "figures" / "face_test_confusion.png").relative_to(out))
    # this face expert's commands, in the order they must run, first in the card; the previous card's go
    steps = lineage_of(meta)
    face = {f"face expert, step {i + 1} of {len(steps) + 1} (its file: {s['path']})": s["command"]
            for i, s in enumerate(steps)}
    if meta.get("command"):
        face["face expert" + (f", step {len(steps) + 1} of {len(steps) + 1}" if steps else "")] = meta["command"]
    card["commands"] = {**face, **{name: cmd for name, cmd in card["commands"].items()
                                   if not name.startswith(("face expert", "face teacher"))}}
    print(f"face: acc {test['accuracy']:.3f} macro-F1 {test['macro_f1']:.3f}", flush=True)


def _voice(cfg: EvaluateConfig, card: dict[str, Any], models: Path, out: Path) -> None:
    voice_ckpt = models / "voice_expert.pt"
    if not (voice_ckpt.is_file() and (cfg.data / "speech" / "ravdess").is_dir()):
        card["problems"].append(f"voice: {voice_ckpt} or {cfg.data}/speech/ravdess missing")
        return
    print("voice: RAVDESS actors 21-24 ...", flush=True)
    res = evaluate_voice(voice_ckpt, cfg.data, cfg.cache, n_jobs=cfg.jobs)
    res["meta"] = _slim_meta(res["meta"])
    res["sha1"] = _sha1(voice_ckpt)
    card["voice"] = res
    card["figures"]["voice"] = str(confusion_png(res["test"]["clip"]["confusion_matrix"],
                                                 "voice: RAVDESS 21-24 (clip)",
                                                 out / "figures" / "voice_test_confusion.png").relative_to(out))
    if res["meta"].get("command"):
        card["commands"]["voice expert"] = res["meta"]["command"]
    c = res["test"]["clip"]
    print(f"voice: clip acc {c['accuracy']:.3f} macro-F1 {c['macro_f1']:.3f}", flush=True)
    if cfg.compare_opensmile:
        card["voice_feature_comparison"] = _opensmile(cfg)


def _fusion(cfg: EvaluateConfig, card: dict[str, Any], models: Path, out: Path) -> None:
    face_ckpt, fusion_ckpt = models / "face_expert.pt", models / "avfusion.pt"
    card["fusion"] = dict(card.get("fusion") or {})
    if cfg.au_from is not None:
        if not cfg.au_from.is_file():
            raise UserError(f"--au-from {cfg.au_from}: no such file (run `python -m moodmusic train fusion --au`)")
        card["fusion"]["au_comparison"] = _with_finding(json.loads(cfg.au_from.read_text()))
    elif cfg.au and (cfg.data / AU_CSV).is_file():
        card["fusion"]["au_comparison"] = _au(cfg, models)
    if card["fusion"].get("au_comparison"):
        best = max(card["fusion"]["au_comparison"]["table"].items(), key=lambda kv: kv[1]["accuracy"])
        card["figures"]["fusion_au"] = str(confusion_png(best[1]["confusion_matrix_summed"],
                                                         f"AU fusion: {best[0]} (seeds summed)",
                                                         out / "figures" / "fusion_au_confusion.png").relative_to(out))
    if fusion_ckpt.is_file() and face_ckpt.is_file():
        card["fusion"]["deployed"] = _deployed(cfg, face_ckpt, fusion_ckpt)
        if card["fusion"]["deployed"].get("meta", {}).get("command"):
            card["commands"]["AVFusion (deployed)"] = card["fusion"]["deployed"]["meta"]["command"]
    elif not fusion_ckpt.is_file():
        card["problems"].append(f"fusion: {fusion_ckpt} missing")


def _calibration(card: dict[str, Any], models: Path, out: Path) -> None:
    """The fusion rule's figures, read from `models/fusion_rule.json` (fitted and measured by
    `python -m moodmusic train fusion-rule`, which takes minutes: evaluate does not refit it)."""
    from moodmusic.recognition.fusion import FusionRule

    path = models / "fusion_rule.json"
    if not path.is_file():
        card["problems"].append(f"calibration: {path} missing (python -m moodmusic train fusion-rule)")
        return
    try:
        rule = FusionRule.load(path)
    except ValueError as exc:
        card["problems"].append(f"calibration: {exc}")
        return
    strip = lambda m: {k: v for k, v in m.to_dict().items() if k != "novelty"}  # noqa: E731
    fitted = rule.fitted
    card["calibration"] = {"rule": {"face": strip(rule.face), "voice": strip(rule.voice)}, "fitted": fitted,
                           "sha1": _sha1(path)}
    voice = fitted.get("voice") or {}
    for key, m, title in (("reliability_face", fitted.get("face"), "face: FER2013 test"),
                          ("reliability_voice_in", voice.get("in_corpus"), "voice: RAVDESS 21-24 (in corpus)"),
                          ("reliability_voice_out", voice.get("out_of_corpus"), "voice: out of corpus (LOCO)")):
        if m and m.get("bins_before"):
            png = reliability_png(m["bins_before"], m.get("bins_after"), title, out / "figures" / f"{key}.png")
            card["figures"][key] = str(png.relative_to(out))
    if fitted.get("command"):
        card["commands"]["fusion rule"] = fitted["command"]


def _talking(cfg: EvaluateConfig, card: dict[str, Any], models: Path) -> None:
    """The live engine on real talking clips (the MEAD speaker): how steady and how right the shown mood is.

    One speaker, so it is a check of the engine's behaviour (talking faces, flicker, how fast a real
    change shows), never an accuracy claim; the same figures as `python -m moodmusic bench --talking`.
    """
    from moodmusic.live.replay import shared_talking_clips, talking_report
    from moodmusic.pipeline import load_experts

    clips = shared_talking_clips(cfg.data)
    if not clips:
        card["problems"].append(f"talking: no talking clips under {cfg.data}/video/mead_m030")
        return
    report = talking_report(clips, experts=load_experts(models))
    card["talking"] = {"speaker": "MEAD M030", "seconds": 40.0, **report}


def _words(card: dict[str, Any], models: Path) -> None:
    """The words opinion's figures, read from `models/words_map.json` as `python -m moodmusic train words`
    measured them (transcribing the corpora takes about 20 minutes: evaluate does not redo it)."""
    from moodmusic.recognition.words import MAP_FILE, WordsMap

    path = models / MAP_FILE
    if not path.is_file():
        card["problems"].append(f"words: {path} missing (python -m moodmusic train words)")
        return
    try:
        words = WordsMap.load(path)
    except ValueError as exc:
        card["problems"].append(f"words: {exc}")
        return
    card["words"] = {"weight": words.weight, "temperature": words.temperature, "fitted": words.fitted,
                     "sha1": _sha1(path)}
    if words.fitted.get("command"):
        card["commands"]["words"] = words.fitted["command"]


def _train_config(seed: int = 0) -> Any:
    from moodmusic.training.loop import TrainConfig

    return TrainConfig(epochs=40, batch_size=256, lr=2e-3, patience=10, seed=seed, progress=False, num_threads=1)


def _au(cfg: EvaluateConfig, models: Path) -> dict[str, Any]:
    from moodmusic.training.distributed import distributed

    print("fusion: AU + voice comparison on RAVDESS actors 21-24 ...", flush=True)
    prior = speaker_prior_in(models / "voice_expert.pt")  # as `train fusion --au`
    with distributed() as dist_info:
        windows = split_windows(list_clips(cfg.data), cfg.cache, copies=1, seed=0, n_jobs=cfg.jobs)
        windows = adapt_splits(windows, prior)
        config = _train_config()
        config.epochs, config.patience = 25, 6  # as `train fusion --au --epochs 25 --patience 6`
        res = au_comparison(cfg.data, windows, config, dist_info, seeds=tuple(range(cfg.seeds)))
    res["command"] = "python -m moodmusic evaluate --only fusion"
    return _with_finding(res)


def _with_finding(res: dict[str, Any]) -> dict[str, Any]:
    """Say in words whether the best fusion beat the best single modality, and by how much."""
    table = res["table"]
    singles = {k: v["accuracy"] for k, v in table.items() if k in ("face (AU) only", "voice only")}
    fused = {k: v["accuracy"] for k, v in table.items() if k not in singles}
    if singles and fused:
        best_single, best_fused = max(singles, key=singles.get), max(fused, key=fused.get)
        gain = 100 * (fused[best_fused] - singles[best_single])
        res["finding"] = (f"Best fusion ({best_fused}, {100 * fused[best_fused]:.1f}%) vs best single modality "
                          f"({best_single}, {100 * singles[best_single]:.1f}%): {gain:+.1f} points.")
    return res


def _deployed(cfg: EvaluateConfig, face_ckpt: Path, fusion_ckpt: Path) -> dict[str, Any]:
    from moodmusic.recognition.avfusion import AVFusionModel

    print("fusion: deployed AVFusion ...", flush=True)
    model = AVFusionModel.load(fusion_ckpt)
    meta = _slim_meta(model.meta)
    if meta.get("face_expert_sha1") and meta["face_expert_sha1"] != _sha1(face_ckpt):
        return {"meta": meta, "problem": "the face expert changed since the fusion model was trained; retrain it"}
    face = face_embeddings(face_ckpt, cfg.data, cfg.cache)
    clips = [c for c in list_clips(cfg.data) if split_of(c.actor) == "test"]
    test = featurize(clips, cfg.cache, n_jobs=cfg.jobs, progress=False)
    windows = {"test": adapt(test, speaker_prior_of(model.meta))}  # heard as a live session hears them
    figures = evaluate_deployed(model, face, windows)
    return {"meta": meta, "figures": figures, "sha1": _sha1(fusion_ckpt)}


# ----------------------------------------------------------------------------- our voice features vs openSMILE

def _opensmile(cfg: EvaluateConfig) -> dict[str, Any]:
    from moodmusic.training.distributed import distributed

    print("voice: our features vs openSMILE eGeMAPS (slow the first time) ...", flush=True)
    with distributed() as dist_info:
        config = _train_config()
        config.epochs, config.patience = 60, 15
        res = compare_features(cfg.data, cfg.cache, config, dist_info, n_jobs=cfg.jobs, progress=True)
    rows, ms = res["rows"], res["ms_per_window"]
    diff = 100 * (rows["eGeMAPS + MLP"]["accuracy"] - rows["ours + MLP"]["accuracy"])
    res["decision"] = (f"The deployed voice expert reads our features: {ms['ours']:.1f} ms per 2 s window against "
                       f"{ms['eGeMAPS']:.1f} ms for eGeMAPS here; with the same MLP, eGeMAPS scores {diff:+.1f} points "
                       f"against ours on the test actors.")
    return res


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

    x = read_audio(path)
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
    x = read_audio(by_split["test"][0].path)[:32000]
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
