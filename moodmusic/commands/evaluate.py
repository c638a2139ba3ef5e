"""`evaluate`: recompute every reported figure from the committed weights and the data; write the model card.

Face: `moodmusic.training.face.evaluate` on the FER2013 test split. Voice: the
voice expert on RAVDESS actors 21-24 (clip and window level, at +15/-10 dB and
through the live path's augmentation). Fusion: the face(AU)/voice/strategy
table on the real RAVDESS pairs (small models retrained with fixed seeds,
since they are evaluation artefacts) and the deployed AVFusion. With
`--compare-opensmile`, our features vs eGeMAPS too (slow: eGeMAPS is
computed for every clip once, then cached). Whatever is missing (a model, the
data) is reported in the card as not evaluated; figures from a previous card
are kept for parts skipped by a flag.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

NAME = "evaluate"
HELP = "Recompute the reported figures from models/ and the data; write models/model_card.json and MODEL_CARD.md."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="the shared data folder")
    parser.add_argument("--models", type=Path, default=None, help="folder with the weights (default: models/)")
    parser.add_argument("--out", type=Path, default=None, help="where the card goes (default: the models folder)")
    parser.add_argument("--cache", type=Path, default=Path("cache/features"), help="feature cache folder")
    parser.add_argument("--compare-opensmile", action="store_true", help="also compare with openSMILE eGeMAPS (slow)")
    parser.add_argument("--no-au", action="store_true", help="skip the AU fusion comparison (keep the old figures)")
    parser.add_argument("--au-from", type=Path, default=None,
                        help="take the AU fusion table from this JSON (written by `train fusion --au`) "
                             "instead of retraining the nine small models here")
    parser.add_argument("--only", choices=("face", "voice", "fusion"), action="append",
                        help="evaluate only these parts (repeatable); the others keep the previous card's figures")
    parser.add_argument("--seeds", type=int, default=2, help="seeds per fusion strategy in the AU comparison")
    parser.add_argument("--jobs", type=int, default=2)


def _sha1(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def _commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parents[2])
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _command(args: argparse.Namespace) -> str:
    """The command line that reproduces this card (from the parsed arguments, not sys.argv)."""
    parts = ["python -m moodmusic evaluate", f"--data {args.data}"]
    if args.models:
        parts.append(f"--models {args.models}")
    if args.compare_opensmile:
        parts.append("--compare-opensmile")
    if args.no_au:
        parts.append("--no-au")
    if args.au_from:
        parts.append(f"--au-from {args.au_from}")
    parts += [f"--only {o}" for o in args.only or ()]
    return " ".join(parts)


def _slim_meta(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in meta.items() if k not in ("feature_names",)}


def run(args: argparse.Namespace) -> int:
    from moodmusic.cli import UserError
    from moodmusic.config import MODELS_DIR
    from moodmusic.training.card import confusion_png, write_card

    models = args.models or MODELS_DIR
    out = args.out or models
    if not args.data.is_dir():
        raise UserError(f"data folder {args.data} not found; pass --data DIR (the shared data folder)")
    only = set(args.only or ("face", "voice", "fusion"))
    previous: dict[str, Any] = {}
    if (out / "model_card.json").is_file():
        try:
            previous = json.loads((out / "model_card.json").read_text())
        except json.JSONDecodeError:
            previous = {}
    card: dict[str, Any] = {
        "generated": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _commit(),
        "command": _command(args),
        "problems": [], "figures": dict(previous.get("figures", {})), "commands": dict(previous.get("commands", {})),
    }
    for key in ("face", "voice", "voice_feature_comparison", "fusion"):
        if key in previous:
            card[key] = previous[key]
    fig_dir = out / "figures"

    face_ckpt, voice_ckpt, fusion_ckpt = models / "face_expert.pt", models / "voice_expert.pt", models / "avfusion.pt"
    if "face" in only:
        if face_ckpt.is_file() and (args.data / "faces" / "fer2013.npz").is_file():
            import torch

            from moodmusic.training.face import evaluate as face_evaluate

            print("face: FER2013 test ...", flush=True)
            meta = torch.load(face_ckpt, map_location="cpu", weights_only=True)["meta"]
            test = face_evaluate(face_ckpt, args.data)
            card["face"] = {"test": test, "meta": _slim_meta(meta), "sha1": _sha1(face_ckpt)}
            card["figures"]["face"] = str(confusion_png(test["confusion_matrix"], "face: FER2013 test",
                                                        fig_dir / "face_test_confusion.png").relative_to(out))
            for i, teacher in enumerate(meta.get("teachers") or []):
                if teacher.get("command"):
                    card["commands"][f"face teacher {i + 1}"] = teacher["command"]
            if (meta.get("init") or {}).get("command"):
                card["commands"]["face expert, starting point"] = meta["init"]["command"]
            if meta.get("command"):
                card["commands"]["face expert"] = meta["command"]
            print(f"face: acc {test['accuracy']:.3f} macro-F1 {test['macro_f1']:.3f}", flush=True)
        else:
            card["problems"].append(f"face: {face_ckpt} or {args.data}/faces/fer2013.npz missing")

    if "voice" in only:
        if voice_ckpt.is_file() and (args.data / "speech" / "ravdess").is_dir():
            from moodmusic.training import voice as V

            print("voice: RAVDESS actors 21-24 ...", flush=True)
            res = V.evaluate(voice_ckpt, args.data, args.cache, n_jobs=args.jobs)
            res["meta"] = _slim_meta(res["meta"])
            res["sha1"] = _sha1(voice_ckpt)
            card["voice"] = res
            card["figures"]["voice"] = str(confusion_png(res["test"]["clip"]["confusion_matrix"],
                                                         "voice: RAVDESS 21-24 (clip)",
                                                         fig_dir / "voice_test_confusion.png").relative_to(out))
            if res["meta"].get("command"):
                card["commands"]["voice expert"] = res["meta"]["command"]
            c = res["test"]["clip"]
            print(f"voice: clip acc {c['accuracy']:.3f} macro-F1 {c['macro_f1']:.3f}", flush=True)
            if args.compare_opensmile:
                card["voice_feature_comparison"] = _compare(args)
        else:
            card["problems"].append(f"voice: {voice_ckpt} or {args.data}/speech/ravdess missing")

    if "fusion" in only:
        card["fusion"] = dict(card.get("fusion") or {})
        if args.au_from is not None:
            if not args.au_from.is_file():
                raise UserError(f"--au-from {args.au_from}: no such file (run `python -m moodmusic train fusion --au`)")
            card["fusion"]["au_comparison"] = _with_finding(json.loads(args.au_from.read_text()))
        elif not args.no_au and (args.data / "ravdess_av_features" / "ravdess_au35.csv").is_file():
            card["fusion"]["au_comparison"] = _au(args)
        if card["fusion"].get("au_comparison"):
            best = max(card["fusion"]["au_comparison"]["table"].items(), key=lambda kv: kv[1]["accuracy"])
            card["figures"]["fusion_au"] = str(confusion_png(best[1]["confusion_matrix_summed"],
                                                             f"AU fusion: {best[0]} (seeds summed)",
                                                             fig_dir / "fusion_au_confusion.png").relative_to(out))
        if fusion_ckpt.is_file() and face_ckpt.is_file():
            card["fusion"]["deployed"] = _deployed(args, face_ckpt, fusion_ckpt)
            if card["fusion"]["deployed"].get("meta", {}).get("command"):
                card["commands"]["AVFusion (deployed)"] = card["fusion"]["deployed"]["meta"]["command"]
        elif not fusion_ckpt.is_file():
            card["problems"].append(f"fusion: {fusion_ckpt} missing")

    json_path, md_path = write_card(card, out)
    print(f"wrote {json_path} and {md_path}")
    return 0


def _config(seed: int = 0) -> Any:
    from moodmusic.training.loop import TrainConfig

    return TrainConfig(epochs=40, batch_size=256, lr=2e-3, patience=10, seed=seed, progress=False, num_threads=1)


def _compare(args: argparse.Namespace) -> dict[str, Any]:
    from moodmusic.training.distributed import distributed
    from moodmusic.training.voice import compare_features

    print("voice: our features vs openSMILE eGeMAPS (slow the first time) ...", flush=True)
    with distributed() as dist_info:
        cfg = _config()
        cfg.epochs, cfg.patience = 60, 15
        res = compare_features(args.data, args.cache, cfg, dist_info, n_jobs=args.jobs, progress=True)
    rows, ms = res["rows"], res["ms_per_window"]
    diff = 100 * (rows["eGeMAPS + MLP"]["accuracy"] - rows["ours + MLP"]["accuracy"])
    res["decision"] = (f"The deployed voice expert reads our features: {ms['ours']:.1f} ms per 2 s window against "
                       f"{ms['eGeMAPS']:.1f} ms for eGeMAPS here; with the same MLP, eGeMAPS scores {diff:+.1f} points "
                       f"against ours on the test actors.")
    return res


def _au(args: argparse.Namespace) -> dict[str, Any]:
    from moodmusic.config import MODELS_DIR
    from moodmusic.training.distributed import distributed
    from moodmusic.training.fusion import au_comparison
    from moodmusic.training.voice import adapt_splits, list_clips, speaker_prior_in, split_windows

    print("fusion: AU + voice comparison on RAVDESS actors 21-24 ...", flush=True)
    prior = speaker_prior_in((args.models or MODELS_DIR) / "voice_expert.pt")  # as `train fusion --au`
    with distributed() as dist_info:
        windows = split_windows(list_clips(args.data), args.cache, copies=1, seed=0, n_jobs=args.jobs)
        windows = adapt_splits(windows, prior)
        cfg = _config()
        cfg.epochs, cfg.patience = 25, 6  # as `train fusion --au --epochs 25 --patience 6`
        res = au_comparison(args.data, windows, cfg, dist_info, seeds=tuple(range(args.seeds)))
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


def _deployed(args: argparse.Namespace, face_ckpt: Path, fusion_ckpt: Path) -> dict[str, Any]:
    from moodmusic.recognition.avfusion import AVFusionModel
    from moodmusic.training.fusion import evaluate_deployed, face_embeddings
    from moodmusic.training.voice import adapt, featurize, list_clips, speaker_prior_of, split_of

    print("fusion: deployed AVFusion ...", flush=True)
    model = AVFusionModel.load(fusion_ckpt)
    meta = _slim_meta(model.meta)
    if meta.get("face_expert_sha1") and meta["face_expert_sha1"] != _sha1(face_ckpt):
        return {"meta": meta, "problem": "the face expert changed since the fusion model was trained; retrain it"}
    face = face_embeddings(face_ckpt, args.data, args.cache)
    clips = [c for c in list_clips(args.data) if split_of(c.actor) == "test"]
    test = featurize(clips, args.cache, n_jobs=args.jobs, progress=False)
    windows = {"test": adapt(test, speaker_prior_of(model.meta))}  # heard as a live session hears them
    figures = evaluate_deployed(model, face, windows)
    return {"meta": meta, "figures": figures, "sha1": _sha1(fusion_ckpt)}
