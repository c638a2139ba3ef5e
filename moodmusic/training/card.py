"""The model card: every reported figure, where it came from, and what it does not promise.

`python -m moodmusic evaluate` gathers the figures (recomputed from the
committed weights and the data) into one plain dict; this module turns that
dict into `models/model_card.json`, a readable `models/MODEL_CARD.md` and
small confusion-matrix PNGs. It adds the fixed parts: data and licenses,
splits, published reference figures and known limits. No figure is typed in
here except the published references, which are labelled as such.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from moodmusic.moods import MOODS

DATA = [
    {"name": "FER2013", "use": "face expert (train/val/test = the original Training/PublicTest/PrivateTest); "
     "face branch of the deployed fusion model", "license": "research use (Goodfellow et al., ICML 2013 "
     "Challenges in Representation Learning)"},
    {"name": "RAVDESS speech", "use": "voice expert (actor-disjoint split), fusion evaluation",
     "license": "CC BY-NC-SA 4.0 — Livingstone & Russo (2018), The Ryerson Audio-Visual Database of "
     "Emotional Speech and Song, PLoS ONE 13(5): e0196391"},
    {"name": "TESS", "use": "voice expert training only (two speakers: no speaker-independent test possible)",
     "license": "CC BY-NC-ND 4.0 — Dupuis & Pichora-Fuller, Toronto Emotional Speech Set, University of Toronto"},
    {"name": "RAVDESS OpenFace action units (ravdess_au35.csv)", "use": "the only real paired face+voice data: "
     "fusion strategy comparison (features, not pixels)", "license": "derived from RAVDESS, CC BY-NC-SA 4.0"},
]

LABEL_MAP = ("Six moods: angry, fear, happy, neutral, sad, surprise. FER2013/TESS disgust dropped; RAVDESS "
             "calm→neutral, fearful→fear, surprised→surprise, disgust dropped; TESS ps (pleasant surprise)→surprise.")

SPLITS = {
    "face": "FER2013 original partition: Training (train), PublicTest (validation, early stopping), "
            "PrivateTest (test).",
    "voice": "RAVDESS by actor: 1–16 train, 17–20 validation (early stopping), 21–24 test (2 male, 2 female); "
             "TESS (2 speakers) in training only. No random, speaker-mixed split is used anywhere.",
    "fusion (AU)": "Same RAVDESS actor split; each speech window paired with the OpenFace AUs of the same "
                   "performance (matching_audio_id).",
}

REFERENCES = [
    {"what": "FER2013, 7 classes: human accuracy", "figure": "≈65%", "source": "Goodfellow et al. 2013"},
    {"what": "FER2013, 7 classes: mini-Xception", "figure": "≈66%", "source": "Arriaga et al. 2017"},
    {"what": "FER2013, 7 classes: VGG variant", "figure": "73.3%", "source": "Khaireddin et al. 2021"},
    {"what": "FER2013 six-mood test split: PyPI `fer` package (mini-Xception), measured here",
     "figure": "58.7%, macro-F1 0.567", "source": "measured on this machine, same split"},
    {"what": "RAVDESS actors 21–24: openSMILE emobase + RBF SVM (trained on actors 1–18 + TESS), measured here",
     "figure": "58.7%", "source": "measured on this machine (eGeMAPS 57.2%, MFCC stats 51.9%)"},
    {"what": "CREMA-D human raters: voice only / face only / both", "figure": "40.9% / 58.2% / 63.6%",
     "source": "Cao et al. 2014"},
    {"what": "RAVDESS MFCC + face CNN: random split vs leave-one-speaker-out", "figure": "95.8% vs 48.1%",
     "source": "Ibrahim et al.; why only speaker-independent figures are reported here"},
]

# The openSMILE emobase + RBF SVM figure measured here on the same test actors (see REFERENCES).
VOICE_REFERENCE_ACCURACY = 0.587

LIMITS = [
    "Acted emotions: FER2013 is posed/web faces, RAVDESS and TESS are actors reading fixed sentences. Everyday "
    "expressions are subtler; expect lower accuracy live than on these test sets.",
    "Voice: trained on North-American English actors (24 RAVDESS, 2 TESS speakers); other accents, languages, "
    "children and older voices are not covered. Test figures rest on 4 speakers and are noisy (±3–4 points).",
    "Face: FER2013 labels are noisy (human agreement ≈65%); lighting, pose, glasses and occlusion reduce accuracy; "
    "fear and surprise, and sad and neutral, are often confused.",
    "Fusion: the deployed AVFusion model was trained on unpaired same-label pairs (a FER2013 face and a "
    "RAVDESS/TESS voice that share only the label). It has never seen a real face and voice of the same moment; "
    "its joint head learns the label space, not how faces and voices co-vary. Its figure on same-label test pairs "
    "is synthetic and optimistic. The only real paired evaluation uses OpenFace action units, not our face expert.",
    "Voice speaker adaptation: figures heard as a live stream assume the speaker's moods vary; a person who "
    "stays in one mood for minutes is read closer to the middle (the one-mood row of the voice table). Files "
    "(`predict`) are read with the prior alone. With `MOODMUSIC_VOICE_ADAPTATION=0` the app reads every window against the prior alone.",
    "Level: voice features are normalised per window; robustness to loudness is measured (+15/−10 dB). Noise, "
    "reverberation and codecs are covered by augmentation, not by real recordings of rooms or microphones.",
    "Not a diagnostic tool: moods are inferred from brief expressions and are often wrong; do not use them for "
    "decisions about people.",
]


def confusion_png(cm: np.ndarray | list[list[int]], title: str, path: str | Path,
                  classes: tuple[str, ...] = MOODS) -> Path:
    """A small row-normalised confusion matrix image (Agg backend, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(cm, dtype=np.float64)
    rows = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(3.6, 3.3), dpi=100)
    ax.imshow(rows, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(len(classes)), classes, fontsize=7)
    ax.set_xlabel("predicted", fontsize=7)
    ax.set_ylabel("true", fontsize=7)
    ax.set_title(title, fontsize=8)
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, f"{rows[i, j]:.2f}", ha="center", va="center", fontsize=6,
                    color="white" if rows[i, j] > 0.5 else "black")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def reliability_png(before: dict[str, Any], after: dict[str, Any] | None, title: str, path: str | Path) -> Path:
    """A small reliability diagram: accuracy against confidence per bin, before and after calibration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3.4, 3.2), dpi=100)
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
    for bins, label, colour in ((before, "raw", "tab:red"), (after, "calibrated", "tab:blue")):
        if not bins:
            continue
        pts = [(c, a) for c, a, n in zip(bins["confidence"], bins["accuracy"], bins["count"])
               if c is not None and a is not None and n > 0]
        if pts:
            ax.plot(*zip(*pts), marker="o", ms=3, color=colour, label=f"{label} (ECE {bins['ece']:.3f})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence (top probability)", fontsize=7)
    ax.set_ylabel("accuracy", fontsize=7)
    ax.tick_params(labelsize=6)
    ax.set_title(title, fontsize=8)
    ax.legend(fontsize=6, loc="upper left")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _f1(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}"


def _recall_row(name: str, m: dict[str, Any]) -> str:
    rec = m.get("per_class_recall", {})
    return f"| {name} | " + " | ".join(_pct(rec.get(c)) for c in MOODS) + " |"


def render_markdown(card: dict[str, Any]) -> str:
    """The human-readable card; every number comes from `card`."""
    face, voice, fusion = card.get("face") or {}, card.get("voice") or {}, card.get("fusion") or {}
    out = _summary(card, face, voice, fusion) + _data_and_splits()
    if face:
        out += _face_section(face, card.get("figures", {}))
    if voice:
        out += _voice_section(voice, card.get("figures", {}), card.get("voice_feature_comparison"))
    if fusion:
        out += _fusion_section(fusion)
    if card.get("calibration"):
        out += _calibration_section(card["calibration"], card.get("figures", {}))
    if card.get("talking"):
        out += _talking_section(card["talking"])
    if card.get("words"):
        out += _words_section(card["words"])
    out += _references_and_limits(card.get("commands") or {})
    return "\n".join(out) + "\n"


def _summary(card: dict[str, Any], face: dict[str, Any], voice: dict[str, Any], fusion: dict[str, Any]) -> list[str]:
    """The title, how the card was made, one row per headline figure, and what was not evaluated."""
    out: list[str] = ["# moodmusic model card", ""]
    out.append(f"Generated by `{card.get('command', 'python -m moodmusic evaluate')}` on {card.get('generated', '?')}"
               f"{' at commit ' + card['commit'] if card.get('commit') else ''}. Every figure below is recomputed "
               "from the committed weights and the data by that command, except the published references, "
               "which are labelled. All figures are speaker/subject-independent.")
    out += ["", "## Summary", "", "| model | test set | accuracy | macro-F1 |", "| --- | --- | --- | --- |"]
    if face.get("test"):
        out.append(f"| face expert | FER2013 test, six moods (n={face['test'].get('n')}) | "
                   f"{_pct(face['test']['accuracy'])} | {_f1(face['test']['macro_f1'])} |")
        fp = (face["test"].get("label_sets") or {}).get("ferplus")
        if fp:
            out.append(f"| face expert | FER2013 test, original pixels, FER+ crowd majority, six moods (n={fp['n']}) | "
                       f"{_pct(fp['accuracy'])} | {_f1(fp['macro_f1'])} |")
    if voice.get("test"):
        c, w = voice["test"]["clip"], voice["test"]["window"]
        how = ", heard as a live session (speaker adaptation)" if voice.get("speaker_adaptation") else ""
        out.append(f"| voice expert | RAVDESS actors 21–24, clip level{how} (n={c['n']}) | {_pct(c['accuracy'])} | "
                   f"{_f1(c['macro_f1'])} |")
        out.append(f"| voice expert | RAVDESS actors 21–24, 2 s windows{how} (n={w['n']}) | {_pct(w['accuracy'])} | "
                   f"{_f1(w['macro_f1'])} |")
        for key, label in (("first", "first words (no adaptation yet)"), ("one_mood", "one mood only (worst case)")):
            if voice.get(key):
                m = voice[key]
                out.append(f"| voice expert | RAVDESS actors 21–24, clip level, {label} (n={m['n']}) | "
                           f"{_pct(m['accuracy'])} | {_f1(m['macro_f1'])} |")
    au = (fusion.get("au_comparison") or {}).get("table") or {}
    for k, r in au.items():
        out.append(f"| AVFusion (AU) {k} | RAVDESS actors 21–24, clip level (n={r['n_clips']}) | "
                   f"{_pct(r['accuracy'])} ± {100 * r['accuracy_sd']:.1f} | {_f1(r['macro_f1'])} |")
    for problem in card.get("problems", []):
        out.append(f"\n> Not evaluated: {problem}")
    return out


def _data_and_splits() -> list[str]:
    out = ["", "## Data and licenses", ""]
    out += [f"- **{d['name']}** — {d['use']}. License: {d['license']}." for d in DATA]
    out += ["", LABEL_MAP, "", "## Splits", ""]
    out += [f"- **{k}**: {v}" for k, v in SPLITS.items()]
    return out


def _face_section(face: dict[str, Any], figures: dict[str, Any]) -> list[str]:
    """How the face expert was made (teachers, starting point, command) and its per-mood recall."""
    out = ["", "## Face expert", ""]
    meta = face.get("meta", {})
    teachers = meta.get("teachers") or []
    if teachers:
        distill = meta.get("distill") or {}
        views = distill.get("views", "every batch")
        shown = ("the same augmented batch shown to teacher and student" if views == "every batch" else
                 f"answering {views} fixed augmented views of each training image once, mirror-averaged, "
                 "cached; the student trains on those views and their mirrors")
        out.append(f"A compact residual CNN (FaceNet {meta.get('arch', {}).get('widths')}) distilled from "
                   f"{len(teachers)} larger FaceNets (their logits averaged, {shown}; soft-target weight "
                   f"{distill.get('weight')}, temperature {distill.get('temperature')}). "
                   f"Test-time flip averaging: {'on' if meta.get('flip_average') else 'off'}.\n")
        for i, t in enumerate(teachers):
            val = t.get("val") or {}
            out.append(f"- Teacher {i + 1} ({t.get('arch', {}).get('widths')}, {t.get('arch', {}).get('blocks')} "
                       f"blocks per stage, val accuracy {_pct(val['accuracy']) if val else '?'}): "
                       f"`{t.get('command', '?')}`")
        out.append("")
    init = meta.get("init") or {}
    if init.get("command"):
        val = init.get("val") or {}
        out.append(f"Starting point (val accuracy {_pct(val['accuracy']) if val else '?'}), written to "
                   f"`{init.get('path')}`: `{init['command']}`\n")
    parts = (meta.get("soup") or {}).get("ingredients") or []
    if parts:
        out.append(f"A weight average of {len(parts)} face experts of one architecture, fine-tunes of one "
                   "starting point (the weights chosen on validation; every command that made them, in the "
                   "order they run, is under Commands" + ("" if meta.get("lineage") else
                                                          ", and the distilled student's teachers in "
                                                          "docs/face_training.md") + "):\n")
        out += [f"- {part.get('weight')} × `{part.get('path')}` ({part.get('labels', '?')} labels, "
                f"{part.get('augment', '?')} augmentation, val accuracy "
                f"{_pct(part['val']['accuracy']) if isinstance(part.get('val'), dict) else '?'})" for part in parts]
        out.append("")
    if meta.get("command"):
        verb = "Averaged" if parts else "Fine-tuned" if init else "Trained"
        out.append(f"{verb} with `{meta['command']}`.")
    if meta.get("trained_on"):
        out.append(f"\n{_hardware(meta)}")
    if face.get("test"):
        out += ["", "| | " + " | ".join(MOODS) + " |", "| --- |" + " --- |" * len(MOODS),
                _recall_row("recall (test)", face["test"])]
        out += _face_label_sets(face["test"].get("label_sets") or {}, face["test"].get("n"))
    if figures.get("face"):
        out += ["", f"![face confusion matrix]({figures['face']})"]
    return out


FERPLUS_NOTE = (
    "FER+ (Barsoum et al. 2016; microsoft/FERPlus, MIT) relabelled every FER2013 image by 10 crowd workers. "
    "Majority as FER+ scores its own test set: single votes are dropped as outliers and one answer must hold "
    "more than half of the rest. Mapped to our moods: neutral, happiness→happy, surprise, sadness→sad, "
    "anger→angry, fear; an image whose majority is contempt, unknown, not a face or disgust, or that has no "
    "majority, is left out. Disgust is dropped, not merged into angry, as FER2013's own disgust label is: "
    "on training images with 3 or more disgust votes, the crowd's other votes go to anger (18%), neutral (12%) "
    "and sadness (11%) alike, so disgust is not a kind of anger to them.")


def _agreed_note(agreement: dict[str, float]) -> str:
    return (f"The two label sets agree on {_pct(agreement['share'])} of the faces both label (FER2013's fear is "
            "mostly neutral, sad or surprised to the crowd). A model has one answer per face, so one that read "
            f"the crowd perfectly would score {_pct(agreement['ceiling_fer2013'])} on FER2013's labels, and one "
            f"that read FER2013 perfectly {_pct(agreement['ceiling_ferplus'])} on the crowd's. "
            "`python -m moodmusic labels` prints the split's parts and what both targets "
            "together ask.")


def _face_label_sets(sets: dict[str, Any], n_all: int | None) -> list[str]:
    """The test split's original-pixel rows scored with FER2013's labels and with the FER+ crowd majority."""
    if not sets:
        return []
    names = {"fer2013": "FER2013's own labels", "ferplus": "FER+ crowd majority",
             "agreed": "faces where the two agree"}
    dropped = n_all - sets["fer2013"]["n"] if n_all and "fer2013" in sets else "the"
    out = ["", f"Original pixels only ({dropped} test rows still histogram-equalized in the data left out), "
           "with both label sets:", "",
           "| labels | n | accuracy | macro-F1 | " + " | ".join(f"{c} recall" for c in MOODS) + " |",
           "| --- | --- | --- | --- |" + " --- |" * len(MOODS)]
    for key, m in sets.items():
        rec = m.get("per_class_recall", {})
        out.append(f"| {names.get(key, key)} | {m['n']} | {_pct(m['accuracy'])} | {_f1(m['macro_f1'])} | "
                   + " | ".join(_pct(rec.get(c)) for c in MOODS) + " |")
    if "ferplus" in sets:
        out += ["", FERPLUS_NOTE]
    if (sets.get("agreed") or {}).get("agreement"):
        out += ["", _agreed_note(sets["agreed"]["agreement"])]
    return out


def _hardware(meta: dict[str, Any]) -> str:
    """Where and how fast the face models were trained, said for a reader: the GPU and date named in the
    checkpoint's `trained_on` note, the training times recorded in the checkpoints."""
    note = str(meta.get("trained_on", ""))
    gpu = re.search(r"(?:NVIDIA|AMD)[\w\s-]*?GPU", note)
    day = re.search(r"\d{4}-\d{2}-\d{2}", note)
    text = "Trained on " + (f"one {gpu.group(0)}" if gpu else "a GPU" if str(meta.get("device", "")).startswith(
        "cuda") else "a CPU") + (f" on {day.group(0)}" if day else "")
    times = [f"{t['wall_time_s'] / 60:.1f} min" for t in meta.get("teachers") or [] if t.get("wall_time_s")]
    if meta.get("wall_time_s"):
        text += f", in {meta['wall_time_s'] / 60:.1f} min"
        if times:
            text += (f" (and {times[0]} for each teacher)" if len(set(times)) == 1 else
                     f" (and {' and '.join(times)} for the teachers)")
    return text + ". The same commands also run on a CPU, much more slowly."


def _voice_section(voice: dict[str, Any], figures: dict[str, Any], comparison: dict[str, Any] | None) -> list[str]:
    """What the voice expert reads, how it adapts to a speaker, its figures, robustness, and the features' rival."""
    meta = voice.get("meta", {})
    out = ["", "## Voice expert", "", _voice_model(meta)]
    if meta.get("speaker_norm"):
        out.append(_speaker_adaptation(meta["speaker_norm"]))
    if meta.get("command"):
        best = meta.get("best_epoch")
        out.append(f"\nTrained with `{meta['command']}` (best epoch{'s' if isinstance(best, list) else ''} "
                   f"{', '.join(map(str, best)) if isinstance(best, list) else best}, {meta.get('wall_s')} s).")
    if voice.get("test"):
        out += _voice_figures(voice)
    if voice.get("gain") or voice.get("augmented_test"):
        out += _voice_robustness(voice)
    if figures.get("voice"):
        out += ["", f"![voice confusion matrix]({figures['voice']})"]
    if comparison:
        out += _feature_comparison(comparison)
    return out


def _voice_model(meta: dict[str, Any]) -> str:
    members = (meta.get("arch") or {}).get("members")
    what = (f"An average of {members} small MLPs (VoiceNet, seeds {meta.get('seed', 0)}…, each early-stopped "
            "on the validation actors)" if members else "A small MLP (VoiceNet)")
    n_feats = (meta.get("arch") or {}).get("in_dim") or len(meta.get("feature_names") or []) or "?"
    return (f"{what} on our 2 s window features (`moodmusic.audio`, {meta.get('feature_version', '?')}, "
            f"{n_feats} values: MFCC means/stds/delta stds, prosody, and loudness, pitch, spectral-contrast "
            "and long-term-spectrum distribution shapes, level-normalised per window), trained with the live "
            "path's augmentation (random window offset, additive noise at 5–20 dB SNR, gain ±20 dB with "
            "clipping, Opus round trip for half the copies). Clip figures average the window probabilities "
            "over the clip.")


def _speaker_adaptation(norm: dict[str, Any]) -> str:
    memory = norm.get("memory")
    return (f"\n**Speaker adaptation** (`moodmusic.audio.speaker`, {norm.get('version')}): the net reads "
            "each window measured against its speaker's own mean and spread, which start at a prior (the "
            f"training speakers' average, worth {norm.get('weight'):g} windows) and move towards the "
            "speaker's own as voiced windows arrive"
            + (f" (the speaker's own statistics count at most {memory:g} windows, about "
               f"{memory * 0.5:g} s of speech; older ones fade)" if memory else "")
            + ". Training windows use all windows of their speaker and recording condition. The test actors are heard as a live session hears a person: their "
            "clips one after another in a random order, each clip measured against what was heard "
            "so far (itself included), never against clips to come. No labels of the test actors are "
            "used. Two more protocols bound it: *first words* (the prior alone, as `predict` reads a "
            "file) and *one mood only* (a speaker heard in one mood until the adapter's memory is "
            "full, then scored: adaptation makes that mood their \"usual\", so it fades towards the "
            "middle). The weight and memory rest on cross-validation over folds of the training actors "
            "(`python -m moodmusic train voice --copies 1 --speaker-cv 0 64/inf 128/128 ...`; figures "
            "and how the choice was made in the README).")


def _voice_figures(voice: dict[str, Any]) -> list[str]:
    """The held-out actors against the reference and the target, each protocol, and per-mood recall."""
    acc = voice["test"]["clip"]["accuracy"]
    gap = 100 * (acc - VOICE_REFERENCE_ACCURACY)
    how = " heard as a live session" if voice.get("speaker_adaptation") else ""
    out = [f"\nOn the held-out actors{how} it scores {_pct(acc)} at clip level: {abs(gap):.1f} points "
           f"{'above' if gap >= 0 else 'below'} the openSMILE emobase + SVM reference measured here "
           f"({_pct(VOICE_REFERENCE_ACCURACY)}, no adaptation), and "
           f"{'at or above' if acc >= 0.6 else 'short of'} the 60% target."]
    stream = voice.get("stream")
    if stream:
        accs, f1s = stream["accuracy"], stream["macro_f1"]
        out += ["", "| protocol (test actors 21–24, clip level) | accuracy | macro-F1 |", "| --- | --- | --- |",
                f"| live stream, {len(accs)} random clip orders (mean, range) | {_pct(float(np.mean(accs)))} "
                f"({_pct(min(accs))}–{_pct(max(accs))}) | {_f1(float(np.mean(f1s)))} |"]
        for key, label in (("first", "first words: the prior alone"),
                           ("one_mood", "one mood only, memory full (worst case)")):
            if voice.get(key):
                out.append(f"| {label} | {_pct(voice[key]['accuracy'])} | {_f1(voice[key]['macro_f1'])} |")
    out += ["", "| | " + " | ".join(MOODS) + " |", "| --- |" + " --- |" * len(MOODS),
            _recall_row("recall (clip)", voice["test"]["clip"]),
            _recall_row("recall (window)", voice["test"]["window"])]
    return out


def _voice_robustness(voice: dict[str, Any]) -> list[str]:
    out = ["", "Robustness on the test actors (clip level):", "", "| condition | accuracy | macro-F1 |",
           "| --- | --- | --- |"]
    if voice.get("test"):
        out.append(f"| as recorded | {_pct(voice['test']['clip']['accuracy'])} | "
                   f"{_f1(voice['test']['clip']['macro_f1'])} |")
    for g, m in (voice.get("gain") or {}).items():
        out.append(f"| gain {g} | {_pct(m['accuracy'])} | {_f1(m['macro_f1'])} |")
    if voice.get("augmented_test"):
        m = voice["augmented_test"]
        out.append(f"| noise 5–20 dB SNR, gain, offset, Opus (one random draw per clip) | "
                   f"{_pct(m['accuracy'])} | {_f1(m['macro_f1'])} |")
    return out


def _feature_comparison(cmp_: dict[str, Any]) -> list[str]:
    out = ["", "### Our features vs openSMILE eGeMAPS", "",
           f"Same split, same windows, {cmp_.get('training', '')}; test actors 21–24, clip level; no "
           "speaker adaptation on either side.", "",
           "| features + classifier | accuracy | macro-F1 |", "| --- | --- | --- |"]
    for k, m in cmp_["rows"].items():
        out.append(f"| {k} | {_pct(m['accuracy'])} | {_f1(m['macro_f1'])} |")
    ms = cmp_.get("ms_per_window", {})
    out.append("\nFeature extraction per 2 s window on this machine: "
               + ", ".join(f"{k} {v:.1f} ms" for k, v in ms.items())
               + " (" + " vs ".join(f"{k} {v}" for k, v in cmp_.get("n_features", {}).items())
               + " values).")
    if cmp_.get("decision"):
        out.append(f"\n{cmp_['decision']}")
    return out


def _fusion_section(fusion: dict[str, Any]) -> list[str]:
    """The AVFusion model: its strategies, the comparison on real pairs, and the deployed model's caveat."""
    out = ["", "## AVFusion", ""]
    out.append("One PyTorch model: a face branch, a voice branch, a head per modality (so it answers with "
               "either modality missing; modality masks and modality dropout in training) and a joint head. "
               "Strategies: `late` (confidence-weighted late fusion of the two heads), `concat` (MLP on both "
               "embeddings) and `gated` (a learned per-example gate over the embeddings).")
    acmp = fusion.get("au_comparison")
    if acmp:
        out += _au_comparison(acmp)
    if fusion.get("deployed"):
        out += _deployed(fusion["deployed"], acmp)
    return out


def _au_comparison(acmp: dict[str, Any]) -> list[str]:
    out = ["", "### Real pairs: OpenFace action units + our voice features (RAVDESS, actors 21–24)", "",
           f"Mean ± sd over seeds {acmp.get('seeds')}; clip level; face(AU)-only and voice-only are the "
           "late model's own heads with the other modality masked.", "",
           "| input / strategy | accuracy | macro-F1 |", "| --- | --- | --- |"]
    for k, r in acmp["table"].items():
        out.append(f"| {k} | {_pct(r['accuracy'])} ± {100 * r['accuracy_sd']:.1f} | "
                   f"{_f1(r['macro_f1'])} ± {r['macro_f1_sd']:.3f} |")
    if acmp.get("finding"):
        out.append(f"\n{acmp['finding']}")
    if acmp.get("command"):
        out.append(f"\nRecomputed by `{acmp['command']}`.")
    return out


def _deployed(dep: dict[str, Any], acmp: dict[str, Any] | None) -> list[str]:
    meta = dep.get("meta", {})
    strategy = meta.get("arch", {}).get("strategy")
    fused_rows = {k: r for k, r in (acmp or {}).get("table", {}).items() if k in ("late", "concat", "gated")}
    chosen = ""
    if fused_rows and max(fused_rows, key=lambda k: fused_rows[k]["accuracy"]) == strategy:
        chosen = (" (the best strategy on the real pairs above; chosen on those test actors, so the choice "
                  "itself is not independently tested)")
    out = ["", "### Deployed model (`models/avfusion.pt`)", "",
           f"Strategy `{strategy}`{chosen}. **Trained on unpaired same-label pairs**: "
           "the face branch reads the face expert's embedding of a FER2013 training image, the voice "
           "branch the features of a RAVDESS (actors 1–16) / TESS window, paired only by label. There "
           "is no paired face+voice pixel data here.", ""]
    if meta.get("command"):
        out.append(f"Trained with `{meta['command']}`.\n")
    out += ["| evaluation | accuracy | macro-F1 |", "| --- | --- | --- |"]
    names = {"face_only_fer_test": "face only, FER2013 test",
             "voice_only_ravdess_test_clip": "voice only, RAVDESS actors 21–24 (clip)",
             "same_label_pairs_test": "both, same-label test pairs (synthetic, optimistic)"}
    for k, m in (dep.get("figures") or {}).items():
        out.append(f"| {names.get(k, k)} | {_pct(m['accuracy'])} | {_f1(m['macro_f1'])} |")
    return out


def _calibration_section(cal: dict[str, Any], figures: dict[str, Any]) -> list[str]:
    """The fusion rule (`models/fusion_rule.json`): calibration, out-of-corpus reliability, the gate, the proof."""
    rule, fitted = cal.get("rule") or {}, cal.get("fitted") or {}
    face, voice = fitted.get("face") or {}, fitted.get("voice") or {}
    out = ["", "## Calibrated fusion (`models/fusion_rule.json`)", "",
           "Fusion multiplies the experts' calibrated probabilities, each raised to a weight: log p = "
           "Σ weight × quality × freshness × gate(novelty) × log p̂. Every number is fitted on held-out data "
           "(temperatures by held-out NLL; weights and gate by the NLL of the fused answer on validation "
           "pairs only), so an expert's confidence means how often it is right on that kind of input."]
    if rule:
        f, v = rule.get("face", {}), rule.get("voice", {})
        out += ["", "| expert | temperature | weight | gate: starts at novelty | gate: weight left at novelty 1 |",
                "| --- | --- | --- | --- | --- |",
                f"| face | {f.get('temperature', 1):.3f} | {f.get('weight', 1):g} | — | — |",
                f"| voice | {v.get('temperature', 1):.3f} (out-of-corpus) | {v.get('weight', 1):g} | "
                f"{v.get('gate_start', 1):g} | {v.get('gate_floor', 1):g} |"]
    rows = [("face (FER2013 test)", face), ("voice in corpus (RAVDESS 21–24, windows)", voice.get("in_corpus") or {}),
            ("voice out of corpus (LOCO, reported halves, windows)", voice.get("out_of_corpus") or {})]
    out += ["", "### Calibration", "", "| expert | T | accuracy | mean confidence raw → calibrated | "
            "ECE raw → calibrated |", "| --- | --- | --- | --- | --- |"]
    for name, m in rows:
        if m:
            out.append(f"| {name} | {m['temperature']:.3f} | {_pct(m['accuracy'])} | {_pct(m['confidence_before'])} "
                       f"→ {_pct(m['confidence_after'])} | {m['ece_before']:.3f} → {m['ece_after']:.3f} |")
    out.append("\nFace: T fitted on FER2013 validation. Voice in corpus: T fitted on actors 17–20 (reported; "
               "not used). Voice out of corpus: T fitted on leave-one-corpus-out predictions (TESS-trained "
               "model on actors 17–20, RAVDESS-trained model on TESS speaker OAF), reported on the other halves "
               "(actors 21–24, TESS YAF); live users are out of corpus, so fusion uses this one.")
    for key, alt in (("reliability_face", "face reliability diagram"),
                     ("reliability_voice_in", "voice reliability diagram, in corpus"),
                     ("reliability_voice_out", "voice reliability diagram, out of corpus")):
        if figures.get(key):
            out += ["", f"![{alt}]({figures[key]})"]
    loco = voice.get("loco") or {}
    if loco:
        out += _loco_table(loco)
    nov = voice.get("novelty") or {}
    if nov:
        med = nov.get("median_percentile") or {}
        out += ["", "### Novelty gate (voice)", "",
                f"A Mahalanobis distance in the {nov.get('space')} ({nov.get('components')} principal directions "
                f"of {nov.get('train_windows')} training windows, plus the residual), read as a percentile of "
                f"{nov.get('held_out')}. Median percentile: "
                + ", ".join(f"{k} {_pct(x)}" for k, x in med.items() if x is not None)
                + ". Above the gate's start the voice's weight falls linearly to the floor."]
    fus = fitted.get("fusion") or {}
    if fus:
        out.append(f"\nWeights and gate: {fus.get('objective')}; validation NLL {fus.get('val_nll')} "
                   f"(face alone {fus.get('val_nll_face_only')}).")
    out += _proof_tables(fitted.get("proof") or {})
    if fitted.get("command"):
        out.append(f"\nFitted by `{fitted['command']}` ({fitted.get('seconds')} s).")
    return out


_LOCO_ROWS = (("deployed, RAVDESS test", "in corpus", "deployed voice expert", "RAVDESS actors 21–24"),
              ("ravdess->ravdess test", "in corpus", "RAVDESS 1–16 only", "RAVDESS actors 21–24"),
              ("ravdess->tess", "out of corpus", "RAVDESS 1–16 only", "TESS (2 speakers)"),
              ("tess->ravdess test", "out of corpus", "TESS only", "RAVDESS actors 21–24"),
              ("tess->ravdess val", "out of corpus", "TESS only", "RAVDESS actors 17–20"))


def _loco_table(loco: dict[str, Any]) -> list[str]:
    out = ["", "### Voice in and out of corpus (leave-one-corpus-out)", "",
           f"Ensembles of {loco.get('members')} VoiceNets (seeds {loco.get('seeds')}), the voice recipe, the speaker "
           "prior refitted on the training corpus, the test corpus heard as a live stream.", "",
           "| trained on | tested on | | clip accuracy | clip macro-F1 | window accuracy | window ECE (raw) |",
           "| --- | --- | --- | --- | --- | --- | --- |"]
    for key, kind, trained, tested in _LOCO_ROWS:
        m = loco.get(key)
        if m:
            out.append(f"| {trained} | {tested} | {kind} | {_pct(m['clip_accuracy'])} | {_f1(m['clip_macro_f1'])} | "
                       f"{_pct(m['window_accuracy'])} | {m['window_ece']:.3f} |")
    return out


def _proof_tables(proof: dict[str, Any]) -> list[str]:
    if not proof:
        return []
    out = ["", "### Face only, voice only, fused (the rule applied; never used for fitting)", "",
           "| set | face only | voice only | fused | fused ≥ best single |", "| --- | --- | --- | --- | --- |"]

    def rows(d: dict[str, Any], prefix: str = "") -> None:
        for name, r in d.items():
            if not isinstance(r, dict):
                continue
            if "fused" in r:
                cell = lambda k: (f"{_pct(r[k]['accuracy'])} (F1 {_f1(r[k]['macro_f1'])}, n={r[k]['n']})"  # noqa: E731
                                  if k in r else "—")
                voice_key = next((k for k in r if k.startswith("voice only")), None)
                ok = r.get("fused_at_least_best_single")
                out.append(f"| {prefix}{name} | {cell('face only')} | {cell(voice_key) if voice_key else '—'} | "
                           f"{cell('fused')} | {'yes' if ok else 'NO' if ok is not None else '—'} |")
            elif name != "clips":
                rows(r, f"{prefix}{name}: ")

    rows(proof)
    out.append("\nSynthetic pairs join a face and a voice that share only the label (optimistic); the action-unit "
               "pairs are real (the AU model's heads, the same rule form fitted on actors 17–20, clip level); "
               "MEAD M030 is one speaker, frame level, voice only in its one talking clip.")
    return out


def _words_section(words: dict[str, Any]) -> list[str]:
    """What was said as a third opinion: recognition errors, words alone against chance, and its fusion weight."""
    f = words.get("fitted") or {}
    out = ["## Words as evidence", "",
           f"What was said, recognised offline by {f.get('recogniser', 'pocketsphinx')} and scored by "
           f"{f.get('lexicon', 'VADER')}, mapped to the six moods by a logistic regression fitted on "
           f"{f.get('fit_on', '?')} and calibrated on {f.get('calibrated_on', '?')} "
           f"(`{f.get('command', 'python -m moodmusic train words')}`). {f.get('note', '')}.", ""]
    wer = f.get("wer") or {}
    if wer:
        out.append("Word error rate against the known sentences: " + "; ".join(
            f"{k.upper()} {v['wer'] * 100:.1f}% ({v['clips']} clips, {v['exact'] * 100:.0f}% exact)" for k, v in wer.items())
            + f". Cost: {f.get('cpu_seconds_per_speech_second', '?')} CPU s per second of speech.")
        out.append("")
    rows = f.get("words_alone") or {}
    if rows:
        out += ["| words alone | n | accuracy | majority | macro-F1 | majority F1 | NLL | uniform NLL |",
                "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for name, r in rows.items():
            if not r.get("n"):
                continue
            c = r["chance"]
            out.append(f"| {name} | {r['n']} | {r['accuracy'] * 100:.1f}% | {c['majority_accuracy'] * 100:.1f}% | "
                       f"{r['macro_f1']:.3f} | {c['majority_macro_f1']:.3f} | {r['nll']:.3f} | {c['uniform_nll']:.3f} |")
        out.append("")
    w = f.get("weight") or {}
    out.append(f"Fusion weight of the words: **{words.get('weight', 0)}** ({w.get('rule', w.get('problem', ''))}; "
               f"validation NLL gain of the best grid weight {w.get('best_on_grid', '?')}: "
               f"{w.get('nll_gain_vs_no_words', '?')}).")
    for name, r in ((f.get("fused") or {}).items()):
        if isinstance(r, dict) and "voice only" in r:
            out.append(f"On {name}: voice only {r['voice only']['accuracy'] * 100:.1f}% / {r['voice only']['macro_f1']:.3f}, "
                       f"voice + words {r['voice + words']['accuracy'] * 100:.1f}% / "
                       f"{r['voice + words']['macro_f1']:.3f} (accuracy / macro-F1, {r['n']} clips).")
    mead = f.get("mead") or {}
    if mead.get("transcript") is not None:
        ref = (f" for \"{mead['reference']}\" (TIMIT SA1, WER {mead['wer'] * 100:.0f}%)"
               if mead.get("reference") else "")
        out.append(f"MEAD M030's talking clip (one speaker, sad): heard \"{mead['transcript']}\"{ref}, words lean "
                   f"{mead.get('words_mood')}; one clip, no accuracy claim.")
    out.append("")
    return out


def _talking_section(talk: dict[str, Any]) -> list[str]:
    """The live engine on real talking clips: flicker, the share of the clip's mood, how fast a change shows."""
    out = ["## The live engine on real talking clips", "",
           f"Each {talk.get('speaker', 'MEAD')} clip plays through the live engine on a simulated clock "
           f"({talk.get('seconds', 40):.0f} s, looped, with its sound where it has some), read four times a "
           "second as the page does (`python -m moodmusic bench --talking`). One speaker: a check of how steady "
           "the shown mood is while a person talks, not an accuracy claim. Targets: at most 8 switches a "
           "minute, the clip's mood at least 75% of the time, a real change within 1.5 s.", "",
           "| clip | mood | switches a minute | shows its mood | shown most |", "| --- | --- | --- | --- | --- |"]
    for r in talk.get("talking_clips", []):
        shown = ", ".join(str(m) for m in r.get("shown", {}))
        out.append(f"| {r['clip']} | {r['mood']} | {r['switches_per_min']:.1f} | {_pct(r['right_share'])} | {shown} |")
    changes = [c for c in talk.get("talking_changes", []) if c.get("delay_s") is not None]
    if changes:
        delays = [c["delay_s"] for c in changes]
        out += ["", f"A real change (one clip for 10 s, then another the engine reads right) shows after "
                    f"{min(delays):.2f}–{max(delays):.2f} s ({len(changes)} changes)."]
    return out + [""]


def _references_and_limits(commands: dict[str, str]) -> list[str]:
    out = ["", "## Published and measured reference figures", "", "| what | figure | source |", "| --- | --- | --- |"]
    out += [f"| {r['what']} | {r['figure']} | {r['source']} |" for r in REFERENCES]
    out += ["", "## Known limits", ""]
    out += [f"- {x}" for x in LIMITS]
    if commands:
        out += ["", "## Commands that produced the committed models", ""]
        out += [f"- {k}: `{v}`" for k, v in commands.items()]
    return out


def write_card(card: dict[str, Any], out_dir: str | Path) -> tuple[Path, Path]:
    """Write model_card.json and MODEL_CARD.md (figures named in `card['figures']` are relative to out_dir)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    full = dict(card, data=DATA, label_map=LABEL_MAP, splits=SPLITS, references=REFERENCES, limits=LIMITS)
    json_path = out_dir / "model_card.json"
    json_path.write_text(json.dumps(full, indent=1, default=_plain) + "\n")
    md_path = out_dir / "MODEL_CARD.md"
    md_path.write_text(render_markdown(full))
    return json_path, md_path


def _plain(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")
