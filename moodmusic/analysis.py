"""A media file → moods: overall, per modality, and a timeline of ≈2.5 s segments.

Used by `python -m moodmusic predict` and the "Analyse a clip" page, with the
same feature code and experts as the live engine: faces through the tracker
and face expert, speech through `clip_features` and the voice expert, and the
two fused per segment by the same confidence-weighted `fuse`. What was said
is a third opinion where a recogniser is installed (`WordsReader`): the clip's
transcript, its words opinion, and the weight measured for it, fused into
every window that heard speech.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from moodmusic import media
from moodmusic.errors import UserError
from moodmusic.audio import SAMPLE_RATE, VoiceActivity, clip_features, window_bounds
from moodmusic.audio.speaker import SpeakerAdapter, prior_from_meta
from moodmusic.moods import MOODS, MoodReading
from moodmusic.recognition import Opinion, fuse
from moodmusic.recognition.fusion import FusionRule, ModalityRule
from moodmusic.recognition.explain import occlusion, overlay, voice_contributions
from moodmusic.recognition.baseline import MIN_FRAMES, BaselineError, NeutralBaseline, load_reference
from moodmusic.vision import Face, FaceTracker, detect_faces_in_image, draw_overlay

log = logging.getLogger(__name__)

SEGMENT_SECONDS = 2.5
VIDEO_FPS = 6.0  # frames analysed per second of video: plenty for 2.5 s segments
MIN_VOICED = 0.2
PICTURE_SIDE = 480  # the longer side of the picture kept per window (the face read, its box drawn)
# Words are read from this much of a clip, from where its speech starts: recognition costs 0.2-0.4 CPU s per
# second of speech, and the words' measured fusion weight is 0 (docs/explain.md), so a long clip must not pay for all
WORDS_SECONDS = 30.0
MAX_PICTURES = 48  # at most this many windows keep a picture, evenly spread: a long video stays small in memory


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    mood: str | None
    confidence: float
    probs: np.ndarray | None
    face_probs: np.ndarray | None = None
    voice_probs: np.ndarray | None = None
    # What was looked at, so a person can see which face was read (not in `to_json`):
    picture: np.ndarray | None = None  # RGB uint8, longer side <= PICTURE_SIDE, the face's box and mood drawn
    face_box: tuple[int, int, int, int] | None = None  # x, y, w, h of the face read, in `picture` pixels
    face_crop: np.ndarray | None = None  # (48, 48) uint8: the aligned crop of that face, what the expert read
    voice_weight: float = 0.0  # how much this window's speech counted in the clip's voice opinion
    # Why the face expert read the crop as it did (`Analyzer.explain`): RGB uint8, the crop and its heatmap
    explanation: np.ndarray | None = None


@dataclass
class Analysis(MoodReading):
    path: str
    kind: str
    duration: float
    probs: np.ndarray | None
    face_detected: bool | None  # None: the media has no picture
    face_probs: np.ndarray | None
    voice_active: bool | None  # None: the media has no sound
    voice_probs: np.ndarray | None
    segments: list[Segment] = field(default_factory=list)
    baseline: str | None = None  # the neutral-face media the face was read against (`Analyzer.baseline_from`)
    words: Words | None = None  # what was said; None: no sound, or no recogniser installed


    def to_json(self) -> dict:
        def probs(p):
            return None if p is None else {m: round(float(x), 4) for m, x in zip(MOODS, p)}

        out = {
            "path": self.path, "kind": self.kind, "duration": round(self.duration, 3),
            "mood": self.mood, "confidence": round(self.confidence, 4), "probs": probs(self.probs),
            "face": None if self.face_detected is None else {"detected": self.face_detected, "probs": probs(self.face_probs)},
            "voice": None if self.voice_active is None else {"active": self.voice_active, "probs": probs(self.voice_probs)},
            "timeline": [],
        }
        if self.baseline is not None:  # only with --baseline: the other keys stay as they were
            out["baseline"] = self.baseline
        if self.words is not None:  # only where speech could be recognised: the other keys stay as they were
            out["words"] = {"transcript": self.words.transcript, "mood": self.words.mood,
                            "probs": probs(self.words.probs), "weight": round(self.words.weight, 4)}
        if len(self.segments) > 1:
            out["timeline"] = [
                {"start": round(s.start, 2), "end": round(s.end, 2), "mood": s.mood, "confidence": round(s.confidence, 4)}
                for s in self.segments
            ]
        return out

    def voice_contributions(self) -> np.ndarray | None:
        """Each window's share of the clip's voice probability for the clip's voice mood (adds up to it).

        The clip's voice opinion is its windows' probabilities averaged by how voiced each
        was, so these shares are exact: which seconds drove what the voice said. None without speech.
        """
        if self.voice_probs is None or not self.segments:
            return None
        rows = np.stack([s.voice_probs if s.voice_probs is not None else np.full(len(MOODS), np.nan)
                         for s in self.segments])
        weights = np.array([s.voice_weight for s in self.segments])
        return voice_contributions(rows, weights, int(np.argmax(self.voice_probs)))


@dataclass(frozen=True)
class Words(MoodReading):
    """The clip's words: the transcript, the words opinion over MOODS, and the fusion weight measured for it."""

    transcript: str
    probs: np.ndarray | None  # None when nothing was recognised
    weight: float  # `WordsMap.weight`: 0 where words measured no better than chance on held-out speakers


class WordsReader:
    """Speech → transcript → words opinion; `load` gives None (and a reason) where it cannot run."""

    def __init__(self, transcriber, words_map) -> None:
        self.transcriber, self.map = transcriber, words_map

    @classmethod
    def load(cls, models_dir: str | Path) -> tuple[WordsReader | None, str | None]:
        from moodmusic.audio.transcribe import Transcriber, available
        from moodmusic.recognition.words import MAP_FILE, WordsMap

        path = Path(models_dir) / MAP_FILE
        if not available():
            return None, "no speech recogniser installed (pip install pocketsphinx==5.1.1)"
        if not path.is_file():
            return None, f"no words map in {models_dir} (python -m moodmusic train words)"
        try:
            return cls(Transcriber(), WordsMap.load(path)), None
        except (ImportError, ValueError) as exc:
            return None, str(exc)

    def read(self, signal: np.ndarray) -> Words:
        from moodmusic.recognition.words import words_opinion

        opinion = words_opinion(self.transcriber.transcribe(signal).text, self.map)
        return Words(opinion.text, opinion.probs, float(self.map.weight))

    def rule(self, rule: FusionRule | None) -> FusionRule | None:
        """The fusion rule with the words' measured weight (the map is calibrated already); None stays None."""
        return None if rule is None else dataclasses.replace(rule, words=ModalityRule(weight=float(self.map.weight)))


EXPLAIN_SIDE = 192  # px per panel of an explanation picture (the 48 px crop x 4)


def explanation_picture(crop: np.ndarray, heat: np.ndarray, mood: str, probability: float) -> np.ndarray:
    """RGB uint8: the crop, the crop with its heatmap, and what the face expert read, side by side."""
    import cv2

    def big(img: np.ndarray) -> np.ndarray:
        return cv2.resize(img, (EXPLAIN_SIDE, EXPLAIN_SIDE), interpolation=cv2.INTER_NEAREST)

    grey = big(np.repeat(np.asarray(crop, np.uint8)[..., None], 3, axis=2))
    side = (EXPLAIN_SIDE, EXPLAIN_SIDE)  # the heat scaled smoothly (it is an average of overlapping squares)
    tinted = overlay(cv2.resize(np.asarray(crop, np.uint8), side, interpolation=cv2.INTER_CUBIC),
                     cv2.resize(cv2.GaussianBlur(np.asarray(heat, np.float32), (0, 0), 2.0), side,
                                interpolation=cv2.INTER_CUBIC))
    strip = np.full((30, 2 * EXPLAIN_SIDE + 4, 3), 255, np.uint8)
    cv2.putText(strip, f"face: {mood} {probability:.0%} - red: what made it say so", (6, 20),
                cv2.FONT_HERSHEY_SIMPLEX, 0.45, (20, 20, 20), 1, cv2.LINE_AA)
    gap = np.full((EXPLAIN_SIDE, 4, 3), 255, np.uint8)
    return np.ascontiguousarray(np.vstack([np.hstack([grey, gap, tinted]), strip]))


def _mean(rows: list[np.ndarray], weights: list[float] | None = None) -> np.ndarray | None:
    if not rows:
        return None
    w = np.ones(len(rows)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.sum() <= 0:
        return None
    return (np.stack(rows) * w[:, None]).sum(0) / w.sum()


class Analyzer:
    """Holds the experts (load once) and analyses any number of files."""

    def __init__(self, experts, models_dir: str | Path | None = None, baseline: NeutralBaseline | None = None,
                 words: bool = True) -> None:
        """`models_dir`: where the face detector and mesh live (default: the configured models folder).
        `baseline`: this person's neutral face (`baseline_from`); every face reading is then taken relative to it.
        `words`: also recognise what was said (where pocketsphinx and `models/words_map.json` are there)."""
        from moodmusic.config import load_settings

        self.experts = experts
        self.models_dir = Path(models_dir) if models_dir is not None else load_settings().models_dir
        self.baseline = baseline
        self._want_words = words
        self._words: WordsReader | None = None
        self.words_problem: str | None = None  # why words are not read, once tried

    @property
    def words(self) -> WordsReader | None:
        """The words reader, loaded on first use (the recogniser takes about 0.3 s to load)."""
        if self._want_words and self._words is None and self.words_problem is None:
            self._words, self.words_problem = WordsReader.load(self.models_dir)
        return self._words

    def analyse(self, path: str | Path, progress: Callable[[float, str], None] | None = None) -> Analysis:
        """Raise `media.MediaError` (a clear one-line reason) for a file that cannot be read."""
        result = self._analyse(path, progress)
        result.baseline = self.baseline.source if self.baseline is not None else None
        return result

    @staticmethod
    def _shot(frame: np.ndarray, faces: list[Face]) -> tuple[np.ndarray, Face | None]:
        """The frame shrunk to PICTURE_SIDE (BGR) and the face read (the first), scaled to match."""
        import cv2

        scale = min(1.0, PICTURE_SIDE / max(frame.shape[:2]))
        small = frame if scale >= 1.0 else cv2.resize(
            frame, (max(1, round(frame.shape[1] * scale)), max(1, round(frame.shape[0] * scale))),
            interpolation=cv2.INTER_AREA)
        if not faces:
            return np.ascontiguousarray(small), None
        x, y, w, h = faces[0].box
        face = dataclasses.replace(faces[0], box=(round(x * scale), round(y * scale), max(1, round(w * scale)),
                                                  max(1, round(h * scale))),
                                   landmarks=np.asarray(faces[0].landmarks, np.float32) * scale)
        return np.ascontiguousarray(small), face

    @staticmethod
    def _picture(shot: tuple[np.ndarray, Face | None] | None, mood: str | None) -> dict:
        """Segment fields for a shot: the RGB picture with the face's box and what the face read as drawn."""
        if shot is None:
            return {}
        small, face = shot
        drawn = draw_overlay(small, [face] if face is not None else [], mood if face is not None else None)
        return {"picture": np.ascontiguousarray(drawn[:, :, ::-1]), "face_box": face.box if face else None,
                "face_crop": face.crop if face is not None else None}

    def baseline_from(self, path: str | Path, reference_dir: str | Path | None = None) -> NeutralBaseline:
        """This person's neutral face, from a photo or video of it (the face expert on every face frame read).

        The face model's reading of a typical neutral face comes from
        `reference_dir` (default: `models_dir`). Raises `UserError` with one line:
        the file cannot be read, it has no picture or no face, or the reference is missing.
        """
        name = Path(path).name
        if self.experts.face is None:
            raise UserError(f"baseline {name}: a neutral baseline needs the face model, which is not loaded")
        try:
            info = media.probe(path)
            if info.kind == "audio" or not (info.kind == "image" or info.has_video):
                raise UserError(f"baseline {name} has no picture: use a photo or a video of your neutral face")
            if info.kind == "image":
                faces = detect_faces_in_image(media.read_image(path), models_dir=self.models_dir)
                crops, least = [f.crop for f in faces[:1]], 1  # a photo is one deliberate, still expression
            else:
                crops, least = [c for c in self._face_crops(path)], MIN_FRAMES
        except media.MediaError as exc:
            raise UserError(f"baseline: {exc}") from None
        if not crops:
            raise UserError(f"baseline: no face found in {name}; use a photo or video of your face, "
                            "turned to the camera, in good light")
        rows = np.asarray(self.experts.face(np.stack(crops)))
        try:
            reference = load_reference(reference_dir if reference_dir is not None else self.models_dir)
            return NeutralBaseline.from_probs(rows, reference, min_frames=least, source=str(path))
        except BaselineError as exc:
            raise UserError(f"baseline {name}: {exc}") from None

    def _face_crops(self, path: str | Path):
        """The tracked face's crop in each frame of a video (at `VIDEO_FPS`) that shows one."""
        tracker = FaceTracker(self.models_dir)
        for _, frame in media.iter_video_frames(path, fps=VIDEO_FPS):
            faces = tracker.process(frame)
            if faces:
                yield faces[0].crop

    def _relative(self, probs: np.ndarray) -> np.ndarray:
        """Face probabilities (6,) or (N, 6) relative to the person's neutral face, when there is a baseline."""
        return self.baseline.apply(probs) if self.baseline is not None else probs

    def _analyse(self, path: str | Path, progress: Callable[[float, str], None] | None = None) -> Analysis:
        report = progress or (lambda fraction, message: None)
        info = media.probe(path)
        report(0.05, "reading")
        if info.kind == "image":
            return self._image(path, info)
        face_times, face_rows, face_scores = ([], [], [])
        shots: dict[int, tuple] = {}
        if info.has_video:
            face_times, face_rows, face_scores = self._video_faces(path, info.duration, report, shots)
        voice_times, voice_rows, voice_quality, heard, voice_novelty = [], [], [], None, []
        words = None
        if info.kind == "audio" or info.has_audio:
            voice_times, voice_rows, voice_quality, heard, voice_novelty = self._voice(path, report)
            if heard and self.words is not None:
                report(0.85, "reading the words")
                signal = media.read_audio(path)
                start = int(max(0.0, min(voice_times, default=0.0) - 1.5) * SAMPLE_RATE)  # from where speech starts
                words = self.words.read(signal[start:start + int(WORDS_SECONDS * SAMPLE_RATE)])
        report(0.95, "fusing")
        result = self._combine(path, info, face_times, face_rows, face_scores, voice_times, voice_rows, voice_quality,
                               heard, voice_novelty, shots, words)
        result.words = words
        return result

    def explain(self, analysis: Analysis) -> Analysis:
        """`analysis` with an `explanation` picture for every window that kept a face crop.

        Occlusion heatmaps (`recognition.explain`): about 60-140 ms per face on one CPU thread,
        so at most MAX_PICTURES faces per clip. They explain the face expert's own
        reading of the crop (what the live path runs), before any neutral baseline.
        """
        if self.experts.face is None:
            return analysis
        segments = []
        for s in analysis.segments:
            if s.face_crop is not None:
                heat, mood = occlusion(self.experts.face, s.face_crop)
                p = float(np.asarray(self.experts.face(s.face_crop[None]))[0, mood])
                s = dataclasses.replace(s, explanation=explanation_picture(s.face_crop, heat, MOODS[mood], p))
            segments.append(s)
        return dataclasses.replace(analysis, segments=segments)

    def write_explanations(self, analysis: Analysis, folder: str | Path) -> dict:
        """Write one PNG per face read into `folder`; the JSON keys that name them.

        "explanation": the photo's face, or for a video the representative face: the window
        whose face reading most supports the clip's face mood (None when no face was read);
        "explanations": every window's PNG, in time order (video only).
        """
        import cv2

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        explained = self.explain(analysis)
        name = Path(analysis.path).name
        paths: list[tuple[Segment, str]] = []
        for s in explained.segments:
            if s.explanation is None:
                continue
            suffix = "" if analysis.kind == "image" else f"-{s.start:06.1f}s"
            out = folder / f"{name}-face{suffix}.png"
            if not cv2.imwrite(str(out), np.ascontiguousarray(s.explanation[:, :, ::-1])):
                raise UserError(f"cannot write {out}")
            paths.append((s, str(out)))
        doc: dict = {"explanation": None}
        if paths and analysis.face_probs is not None:
            mood = int(np.argmax(analysis.face_probs))
            best = max(paths, key=lambda sp: -1.0 if sp[0].face_probs is None else float(sp[0].face_probs[mood]))
            doc["explanation"] = best[1]
        elif paths:
            doc["explanation"] = paths[0][1]
        if analysis.kind != "image":
            doc["explanations"] = [p for _, p in paths]
        return doc

    def analyse_json(self, path: str | Path, explain_dir: str | Path | None = None) -> dict:
        """`analyse(path).to_json()`, or {"path", "error"} with the reason: one bad file never stops a batch.

        With `explain_dir`, the face heatmaps are written there as PNGs and the document
        gains "explanation" (and, for a video, "explanations"); see `write_explanations`.
        """
        try:
            analysis = self.analyse(path)
            doc = analysis.to_json()
            if explain_dir is not None:
                doc |= self.write_explanations(analysis, explain_dir)
            return doc
        except UserError as exc:
            return {"path": path, "error": str(exc)}
        except media.MediaError as exc:
            return {"path": path, "error": str(exc)}
        except Exception as exc:  # never a traceback for a file; the reason goes to the log
            log.debug("analysis of %s failed", path, exc_info=True)
            return {"path": path, "error": f"could not analyse this file ({type(exc).__name__}: {exc})"}

    # ---------------------------------------------------------------- images
    def _image(self, path, info) -> Analysis:
        image = media.read_image(path)
        faces = detect_faces_in_image(image, models_dir=self.models_dir)
        face_probs = None
        if faces and self.experts.face is not None:
            face_probs = self._relative(np.asarray(self.experts.face(faces[0].crop[None]))[0])
        rule = self.experts.rule
        fused = fuse(Opinion(face_probs, faces[0].score), None, rule=rule) if face_probs is not None else fuse(None, None)
        # One window: the photo's row in a timeline export, and the picture of the face that was read.
        only = Segment(0.0, 0.0, fused.mood, fused.confidence, fused.probs, face_probs, None,
                       **self._picture(self._shot(image, faces),
                                       None if face_probs is None else MOODS[int(np.argmax(face_probs))]))
        return Analysis(str(path), "image", 0.0, fused.probs, bool(faces), face_probs, None, None, [only])

    # ----------------------------------------------------------------- video
    def _video_faces(self, path, duration: float, report, shots: dict[int, tuple] | None = None):
        """Face times, expert rows and scores; `shots` gets, per window, the frame nearest its middle
        (one with a face first), for every `stride`-th window so at most MAX_PICTURES are kept."""
        tracker = FaceTracker(self.models_dir)
        times, crops, scores = [], [], []
        stride = max(1, int(np.ceil(duration / SEGMENT_SECONDS / MAX_PICTURES))) if duration > 0 else 1
        nearest: dict[int, tuple[bool, float]] = {}
        for t, frame in media.iter_video_frames(path, fps=VIDEO_FPS):
            faces = tracker.process(frame)
            if faces:
                times.append(t)
                crops.append(faces[0].crop)
                scores.append(faces[0].score)
            k = int(t // SEGMENT_SECONDS)
            rank = (not faces, abs(t - (k + 0.5) * SEGMENT_SECONDS))
            if shots is not None and k % stride == 0 and (k not in nearest or rank < nearest[k]):
                nearest[k] = rank
                shots[k] = self._shot(frame, faces)
            if duration > 0:
                report(0.05 + 0.6 * min(1.0, t / duration), "looking at faces")
        rows = []
        if crops and self.experts.face is not None:
            rows = list(self._relative(np.asarray(self.experts.face(np.stack(crops)))))
        else:
            times, scores = [], []
        return times, rows, scores

    # ----------------------------------------------------------------- voice
    def _voice(self, path, report):
        signal = media.read_audio(path)
        report(0.7, "listening")
        if signal.size == 0:
            return [], [], [], False, []
        bounds = window_bounds(len(signal))
        vad = VoiceActivity()
        activity = [float(vad.activity(signal[a:b])) for a, b in bounds]
        voiced = [i for i, a in enumerate(activity) if a >= MIN_VOICED]
        if not voiced or self.experts.voice is None:
            return [], [], [], bool(voiced), []
        feats = clip_features(signal)[voiced]
        rule = self.experts.rule
        novelty_model = rule.voice.novelty if rule is not None else None
        novelty = list(novelty_model.percentile(feats)) if novelty_model is not None else [None] * len(voiced)
        prior = prior_from_meta(self.experts.voice_norm)
        if prior is not None:  # a file is one speaker heard briefly, often in one mood: the prior alone
            feats = SpeakerAdapter(prior).normalise(feats, learn=False)
        probs = np.asarray(self.experts.voice(feats))
        times = [(bounds[i][0] + bounds[i][1]) / 2 / SAMPLE_RATE for i in voiced]
        quality = [min(1.0, activity[i] / 0.6) for i in voiced]
        return times, list(probs), quality, True, novelty

    # ---------------------------------------------------------------- fusion
    def _combine(self, path, info, f_t, f_p, f_q, v_t, v_p, v_q, heard, v_n, shots=None,
                 words: Words | None = None) -> Analysis:
        rule = self.experts.rule
        said = None
        if words is not None and words.probs is not None and self.words is not None:
            rule, said = self.words.rule(rule), Opinion(words.probs)  # counts in every window that heard speech
        duration = max(info.duration, max(f_t + v_t, default=0.0))
        n = max(1, int(np.ceil(duration / SEGMENT_SECONDS - 1e-6)))
        segments = []
        for k in range(n):
            a, b = k * SEGMENT_SECONDS, min(duration, (k + 1) * SEGMENT_SECONDS) if n > 1 else duration
            fi = [i for i, t in enumerate(f_t) if a <= t < b or (k == n - 1 and t >= a)]
            vi = [i for i, t in enumerate(v_t) if a <= t < b or (k == n - 1 and t >= a)]
            fp = _mean([f_p[i] for i in fi])
            vp = _mean([v_p[i] for i in vi], [v_q[i] for i in vi])
            novelty = [v_n[i] for i in vi if v_n[i] is not None]
            fused = fuse(
                Opinion(fp, float(np.mean([f_q[i] for i in fi]))) if fp is not None else None,
                Opinion(vp, float(np.mean([v_q[i] for i in vi])), novelty=float(np.mean(novelty)) if novelty else None)
                if vp is not None else None,
                rule=rule, words=said if vp is not None else None,
            )
            shot = (shots or {}).get(k)
            if shot is None and k == n - 1 and shots:  # the last window also holds frames past its end
                shot = shots.get(max((j for j in shots if j >= k), default=-1))
            segments.append(Segment(a, b, fused.mood, fused.confidence, fused.probs, fp, vp,
                                    voice_weight=float(sum(v_q[i] for i in vi)),
                                    **self._picture(shot, None if fp is None else MOODS[int(np.argmax(fp))])))
        face_all = _mean(f_p)
        voice_all = _mean(v_p, v_q)
        counted = [s.probs for s in segments if s.probs is not None]
        overall = _mean(counted)
        return Analysis(
            str(path), info.kind, float(duration), overall,
            bool(f_p) if info.has_video else None, face_all,
            heard if (info.kind == "audio" or info.has_audio) else None, voice_all,
            segments,
        )
