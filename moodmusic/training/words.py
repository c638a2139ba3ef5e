"""The words opinion, fitted and measured: transcripts of RAVDESS/TESS, the valence → mood map, its weight.

Steps (`python -m moodmusic train words`, then `evaluate --part words`):

1. Transcribe the speech clips with the bundled recogniser (`audio.transcribe`),
   cached in `cache/words/` (keyed by the recogniser's VERSION): about 0.2 s of
   CPU per second of speech, so the first run takes about 20 minutes on one core.
2. Fit the map from VADER's scores to the six moods (`recognition.words.WordsMap`)
   on the training speakers (RAVDESS actors 1-16 and TESS OAF), with balanced
   classes so a map that learns nothing answers the uniform distribution.
3. Calibrate it (one temperature) on the validation actors 17-20, and fit its
   fusion weight there: the weight in `fuse(…, rule=)` that minimises the NLL of
   the voice and words opinions of the *same* clips fused; 0 is on the grid, so
   words that carry nothing get weight 0.
4. Report on unseen speakers: RAVDESS actors 21-24, TESS YAF, and the MEAD
   talking clip; word error rate against the known sentences.

The shared corpora read fixed carrier phrases ("Kids are talking by the door",
"Say the word …"), so the words there carry no mood by design: the measured
weight is expected to be about 0 until a corpus whose words vary with the mood
is available.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from moodmusic.training.datasets import TESS_ACTOR, Clip, list_clips, read_audio, split_of

# MEAD's talking clip reads TIMIT's SA1 (recognisable in its transcript), the same sentence in every mood
MEAD_SENTENCE = "she had your dark suit in greasy wash water all year"
RAVDESS_SENTENCES = {"01": "kids are talking by the door", "02": "dogs are sitting by the door"}
# A spread subsample keeps the transcription to about 560 clips (half an hour of speech; ~0.3 CPU s per
# second of it on these shared cores): every clip of the validation actors, every 2nd of the test actors,
# every 8th of the training actors (rotated by actor, so both sentences and both repetitions appear), and
# every 16th TESS clip.
EVERY = {"val": 1, "test": 2, "train": 8, "tess": 16}


def reference_text(clip: Clip) -> str:
    """The sentence the clip reads, known from its file name.

    >>> reference_text(Clip("x/Actor_01/03-01-05-01-02-01-01.flac", "angry", 1, "ravdess"))
    'dogs are sitting by the door'
    >>> reference_text(Clip("x/OAF_angry/OAF_back_angry.flac", "angry", 101, "tess"))
    'say the word back'
    """
    name = Path(clip.path).stem
    if clip.corpus == "ravdess":
        return RAVDESS_SENTENCES[name.split("-")[4]]
    return f"say the word {name.split('_')[1].lower()}"


def word_clips(data_dir: str | Path) -> list[Clip]:
    """The clips the words are fitted and measured on: the EVERY subsample of each folder's clips."""
    out, seen = [], {}
    for clip in list_clips(data_dir):
        key = Path(clip.path).parent.name
        seen[key] = seen.get(key, -1) + 1
        every = EVERY["tess" if clip.corpus == "tess" else split_of(clip.actor)]
        if (seen[key] + clip.actor) % every == 0:
            out.append(clip)
    return out


def role_of(clip: Clip) -> str:
    """'train' (RAVDESS 1-16, TESS OAF), 'val' (RAVDESS 17-20) or 'test' (RAVDESS 21-24, TESS YAF)."""
    if clip.corpus == "tess":
        return "train" if clip.actor == TESS_ACTOR["OAF"] else "test"
    return split_of(clip.actor)


def transcripts(clips: list[Clip], cache_dir: str | Path, data_dir: str | Path,
                progress: Callable[[int, int], None] | None = None) -> dict[str, dict]:
    """{clip path relative to the data folder: {"text", "seconds", "cpu"}}, computing only what the cache lacks."""
    from moodmusic.audio.transcribe import VERSION, Transcriber

    path = Path(cache_dir) / "words" / f"transcripts-{VERSION}.json"
    done: dict[str, dict] = json.loads(path.read_text()) if path.exists() else {}
    root = Path(data_dir).resolve()
    todo = [c for c in clips if _key(c, root) not in done]
    if todo:
        path.parent.mkdir(parents=True, exist_ok=True)
        asr = Transcriber()
        last = time.monotonic()
        for i, clip in enumerate(todo, 1):
            t = asr.transcribe(read_audio(clip.path))
            done[_key(clip, root)] = {"text": t.text, "seconds": round(t.seconds, 3), "cpu": round(t.cpu_seconds, 3)}
            if i == len(todo) or time.monotonic() - last > 30:  # save as it goes: an interrupted run resumes
                path.write_text(json.dumps(done, indent=0, sort_keys=True))
                last = time.monotonic()
            if progress is not None:
                progress(i, len(todo))
    return {k: done[k] for k in (_key(c, root) for c in clips)}


def _key(clip: Clip, root: Path) -> str:
    return str(Path(clip.path).resolve().relative_to(root))


# ----------------------------------------------------------------------------- fit and measure

WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0)  # the fusion weights tried (voice's is 1.5, face's 1.0)
BOOTSTRAP = 2000  # resamples of the validation clips: a weight must lower their NLL in 95% of them


@dataclass
class WordsConfig:
    """How to fit the words map (`python -m moodmusic train words` spells each field as an option)."""

    data: Path
    models: Path = Path("models")  # the deployed voice expert and fusion rule (for the fused figures)
    out: Path = Path("models/words_map.json")
    cache: Path = Path("cache")  # transcripts go in CACHE/words/
    seed: int = 0
    progress: bool = True
    command: str = "python -m moodmusic train words"


def _r(x: float, digits: int = 4) -> float:
    return round(float(x), digits)


def fit_map(x: np.ndarray, y: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A multinomial logistic regression, scores (N, 4) → moods, with balanced classes: (coef (6, 4), intercept (6,)).

    Balanced, so that scores which say nothing of the mood give the uniform distribution, not the
    training corpus's mix of moods (which fusion would otherwise count as evidence).
    """
    from sklearn.linear_model import LogisticRegression

    from moodmusic.moods import MOODS

    model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000, random_state=seed)
    model.fit(x, y)
    coef, intercept = np.zeros((len(MOODS), x.shape[1])), np.zeros(len(MOODS))
    coef[model.classes_], intercept[model.classes_] = model.coef_, model.intercept_
    missing = np.setdiff1d(np.arange(len(MOODS)), model.classes_)
    intercept[missing] = -30.0  # a mood never seen in training: never said by the words
    return coef, intercept


def alone(probs: np.ndarray, y: np.ndarray) -> dict:
    """Words-alone figures next to chance: accuracy, macro-F1, NLL (a uniform guess scores log 6 = 1.792)."""
    from moodmusic.moods import MOODS
    from moodmusic.recognition.calibration import expected_calibration_error, nll
    from moodmusic.recognition.metrics import classification_metrics

    if len(y) == 0:
        return {"n": 0}
    m = classification_metrics(y, probs.argmax(axis=1), MOODS)
    counts = np.bincount(y, minlength=len(MOODS))
    share = counts.max() / counts.sum()
    said = np.bincount(probs.argmax(axis=1), minlength=len(MOODS))
    return {"n": int(len(y)), "accuracy": _r(m["accuracy"]), "macro_f1": _r(m["macro_f1"]), "nll": _r(nll(probs, y)),
            "ece": _r(expected_calibration_error(probs, y)),
            "chance": {"uniform_accuracy": _r(1 / len(MOODS)), "majority_accuracy": _r(share),
                       "majority_macro_f1": _r(2 * share / (1 + share) / len(MOODS)),
                       "uniform_nll": _r(np.log(len(MOODS)))},
            "predicted": {mood: int(c) for mood, c in zip(MOODS, said)}}


def fused_nll(voice: np.ndarray, words: np.ndarray, y: np.ndarray, rule, weight: float) -> np.ndarray:
    """Per clip, the NLL of the clip's voice and words opinions fused by `rule` with this words weight."""
    import dataclasses

    from moodmusic.recognition.fusion import ModalityRule, Opinion, fuse

    r = dataclasses.replace(rule, words=ModalityRule(weight=weight))
    out = np.empty(len(y))
    for i, (v, w) in enumerate(zip(voice, words)):
        out[i] = -np.log(max(float(fuse(None, Opinion(v), rule=r, words=Opinion(w)).probs[y[i]]), 1e-12))
    return out


def choose_weight(voice: np.ndarray, words: np.ndarray, y: np.ndarray, rule, seed: int = 0) -> dict:
    """The words' fusion weight on validation clips: the grid's best NLL, kept only if it beats weight 0 reliably.

    Reliably: the mean per-clip NLL gain over no words is above 0 in 95% of bootstrap resamples of the
    clips. Words that carry nothing (or too little to tell on these clips) get weight 0.
    """
    table = {w: fused_nll(voice, words, y, rule, w) for w in WEIGHTS}
    best = min(WEIGHTS, key=lambda w: table[w].mean())
    gain = table[0.0] - table[best]
    rng = np.random.default_rng(seed)
    means = np.array([gain[rng.integers(0, len(gain), len(gain))].mean() for _ in range(BOOTSTRAP)])
    lower = float(np.quantile(means, 0.05))
    chosen = best if best > 0 and lower > 0 else 0.0
    return {"weight": chosen, "best_on_grid": best, "grid": {str(w): _r(table[w].mean()) for w in WEIGHTS},
            "nll_gain_vs_no_words": _r(gain.mean()), "gain_5th_percentile": _r(lower), "n": int(len(y)),
            "rule": "the grid weight of lowest validation NLL, if its NLL gain over weight 0 is above 0 in 95% of "
                    f"{BOOTSTRAP} bootstrap resamples of the clips; else 0"}


def voice_opinions(clips: list[Clip], models: Path) -> tuple[np.ndarray, object]:
    """Each clip's voice opinion through the clip path (`Analyzer`, words off) and the deployed fusion rule."""
    from moodmusic.analysis import Analyzer
    from moodmusic.moods import MOODS
    from moodmusic.pipeline import load_experts

    experts = load_experts(models)
    if experts.voice is None or experts.rule is None:
        raise RuntimeError("the fused figures need models/voice_expert.pt and models/fusion_rule.json")
    analyzer = Analyzer(experts, models, words=False)
    rows = []
    for clip in clips:
        p = analyzer.analyse(clip.path).voice_probs
        rows.append(np.full(len(MOODS), 1 / len(MOODS)) if p is None else np.asarray(p, dtype=np.float64))
    return np.stack(rows), experts.rule


def fused_figures(voice: np.ndarray, words: np.ndarray, y: np.ndarray, rule, weight: float) -> dict:
    """Voice alone vs voice + words fused by the rule with the chosen weight: does adding words help or hurt?"""
    import dataclasses

    from moodmusic.moods import MOODS
    from moodmusic.recognition.fusion import ModalityRule, Opinion, fuse
    from moodmusic.recognition.metrics import classification_metrics

    r = dataclasses.replace(rule, words=ModalityRule(weight=weight))
    out = {}
    for name, with_words in (("voice only", False), ("voice + words", True)):
        p = np.stack([fuse(None, Opinion(v), rule=r, words=Opinion(w) if with_words else None).probs
                      for v, w in zip(voice, words)])
        m = classification_metrics(y, p.argmax(axis=1), MOODS)
        out[name] = {"accuracy": _r(m["accuracy"]), "macro_f1": _r(m["macro_f1"]),
                     "nll": _r(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1))))}
    out["n"], out["weight"] = int(len(y)), weight
    return out


def train_words(cfg: WordsConfig) -> int:
    """Transcribe, fit the map on training speakers, calibrate and weigh it on validation ones, report on test ones."""
    from moodmusic.audio.transcribe import VERSION, word_error_rate
    from moodmusic.moods import MOOD_INDEX, MOODS
    from moodmusic.recognition.calibration import apply_temperature, fit_temperature
    from moodmusic.recognition.words import SCORES, WordsMap, valence

    started = time.monotonic()
    clips = word_clips(cfg.data)
    texts = transcripts(clips, cfg.cache, cfg.data, _progress("transcribing") if cfg.progress else None)
    root = Path(cfg.data).resolve()
    said = [texts[_key(c, root)] for c in clips]
    x = np.stack([valence(t["text"]) for t in said])
    y = np.array([MOOD_INDEX[c.mood] for c in clips])
    role = np.array([role_of(c) for c in clips])
    corpus = np.array([c.corpus for c in clips])

    coef, intercept = fit_map(x[role == "train"], y[role == "train"], cfg.seed)
    raw = WordsMap(coef, intercept)
    val = role == "val"
    temperature = fit_temperature(raw.probs(x[val]), y[val])
    words_map = WordsMap(coef, intercept, temperature)
    probs = words_map.probs(x)

    wer = {}
    for name in ("ravdess", "tess"):
        edits = [word_error_rate(reference_text(c), t["text"]) for c, t, k in zip(clips, said, corpus) if k == name]
        if edits:
            wer[name] = {"wer": _r(sum(e for e, _ in edits) / sum(n for _, n in edits)), "clips": len(edits),
                         "exact": _r(np.mean([e == 0 for e, _ in edits]))}
    cpu, seconds = sum(t["cpu"] for t in said), sum(t["seconds"] for t in said)
    sets = {"RAVDESS actors 17-20 (val)": val, "RAVDESS actors 21-24 (test)": (role == "test") & (corpus == "ravdess"),
            "TESS YAF (test)": (role == "test") & (corpus == "tess")}
    fitted: dict = {
        "command": cfg.command, "data": str(cfg.data), "recogniser": VERSION, "lexicon": "vaderSentiment 3.3.2",
        "scores": list(SCORES), "temperature": _r(temperature),
        "fit_on": "RAVDESS actors 1-16 + TESS OAF", "subsample": dict(EVERY), "calibrated_on": "RAVDESS actors 17-20",
        "n_fit": int((role == "train").sum()),
        "distinct_transcripts_fit": len({t["text"] for t, r in zip(said, role) if r == "train"}),
        "share_with_any_valence": _r(np.mean(x[:, 1] < 1.0)),
        "wer": wer, "cpu_seconds_per_speech_second": _r(cpu / max(seconds, 1e-9), 3),
        "words_alone": {name: alone(probs[m], y[m]) for name, m in sets.items()},
        "note": "RAVDESS and TESS read fixed carrier phrases ('Kids are talking by the door', 'Say the word ...'), "
                "the same in every mood: their words carry no mood by design, so figures near chance are expected",
    }

    weight = 0.0
    ravdess_val, ravdess_test = sets["RAVDESS actors 17-20 (val)"], sets["RAVDESS actors 21-24 (test)"]
    try:
        pick = [c for c, m in zip(clips, ravdess_val | ravdess_test) if m]
        voice, rule = voice_opinions(pick, cfg.models)
        vmask = np.array([role_of(c) == "val" for c in pick])
        yy = np.array([MOOD_INDEX[c.mood] for c in pick])
        pp = probs[ravdess_val | ravdess_test]
        choice = choose_weight(voice[vmask], pp[vmask], yy[vmask], rule, cfg.seed)
        weight = float(choice["weight"])
        fitted["weight"] = choice
        fitted["fused"] = {"RAVDESS actors 21-24 (test)": fused_figures(voice[~vmask], pp[~vmask], yy[~vmask], rule,
                                                                       weight) if (~vmask).any() else {"n": 0},
                           "what": "each clip's voice opinion (the clip path, `Analyzer`) fused with its words "
                                   "by the deployed fusion rule; the words' weight chosen on actors 17-20"}
    except RuntimeError as exc:
        fitted["weight"] = {"weight": 0.0, "problem": str(exc)}
    fitted["mead"] = _mead(cfg.data, words_map)
    fitted["seconds"] = _r(time.monotonic() - started, 1)
    final = WordsMap(coef, intercept, temperature, weight, fitted)
    Path(cfg.out).parent.mkdir(parents=True, exist_ok=True)
    final.save(cfg.out)
    for name, fig in fitted["words_alone"].items():
        if fig["n"]:
            print(f"words alone, {name}: accuracy {fig['accuracy']:.3f} "
                  f"(majority {fig['chance']['majority_accuracy']:.3f}), "
                  f"macro-F1 {fig['macro_f1']:.3f}, NLL {fig['nll']:.3f} (uniform {fig['chance']['uniform_nll']:.3f})")
    print("WER: " + ", ".join(f"{k} {v['wer']:.3f}" for k, v in wer.items())
          + f"; {fitted['cpu_seconds_per_speech_second']:.3f} CPU s per second of speech")
    print(f"fusion weight of the words: {weight} ({json.dumps(fitted['weight'].get('grid', {}))})")
    print(f"wrote {cfg.out}")
    return 0


def _mead(data_dir: str | Path, words_map) -> dict:
    """The MEAD talking clip (one speaker, sad, free speech): its transcript and words opinion."""
    from moodmusic.audio.transcribe import Transcriber, word_error_rate
    from moodmusic.media import read_audio as read
    from moodmusic.recognition.words import words_opinion

    path = Path(data_dir) / "video" / "mead_m030" / "M030_sad_level3_talking.mp4"
    if not path.is_file():
        return {"problem": f"{path} not found"}
    audio = read(str(path))
    t = Transcriber().transcribe(audio)
    op = words_opinion(t.text, words_map)
    edits, n = word_error_rate(MEAD_SENTENCE, t.text)
    return {"clip": path.name, "label": "sad", "transcript": t.text, "reference": MEAD_SENTENCE,
            "wer": _r(edits / n), "seconds": _r(t.seconds, 2),
            "words_mood": op.mood, "probs": None if op.probs is None else [_r(p) for p in op.probs],
            "what": "one clip of one speaker reading TIMIT SA1 (the same sentence in every MEAD mood): what the "
                    "recogniser made of a sentence outside RAVDESS/TESS; no accuracy claim"}


def _progress(what: str) -> Callable[[int, int], None]:
    def report(i: int, n: int) -> None:
        if i == n or i % 50 == 0:
            print(f"{what}: {i}/{n}", flush=True)
    return report
