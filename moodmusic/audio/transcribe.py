"""Speech → text, offline: CMU PocketSphinx with the en-us model that ships inside its wheel.

Words are a third kind of evidence (`moodmusic.recognition.words`). The
recogniser must run with nothing fetched at run time: `pocketsphinx` 5.1.1's
PyPI wheel carries its acoustic model, language model and dictionary
(`pocketsphinx.get_model_path()`), and this module points the decoder at them
explicitly. It is optional: without the package `available()` is False and the
rest of the app runs without words.

Cost, measured on these 2 shared cores: about 0.2 s of CPU per second of
speech (RAVDESS/TESS clips), so it belongs in a file's analysis or a worker,
never in a frame callback.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from moodmusic.audio.constants import SAMPLE_RATE

VERSION = "pocketsphinx-5.1.1-en-us-v1"  # what the cached transcripts were made with (model + settings)
SILENCE_RMS = 1e-3  # about -60 dBFS: below it there is nothing to recognise
MISSING = "speech recognition needs the pocketsphinx package (pip install pocketsphinx==5.1.1)"


def available() -> bool:
    """Whether pocketsphinx and its bundled en-us model are installed."""
    try:
        return _model_files() is not None
    except ImportError:
        return False


def _model_files() -> dict[str, str] | None:
    """The bundled model's paths (acoustic model, language model, dictionary), or None if any is missing."""
    import pocketsphinx

    root = Path(pocketsphinx.get_model_path()) / "en-us"
    files = {"hmm": root / "en-us", "lm": root / "en-us.lm.bin", "dict": root / "cmudict-en-us.dict"}
    return {k: str(p) for k, p in files.items()} if all(p.exists() for p in files.values()) else None


@dataclass(frozen=True)
class Transcript:
    text: str  # lower-case words, "" when nothing was recognised
    seconds: float  # length of the audio heard
    cpu_seconds: float  # how long recognising it took (this thread's CPU time)

    @property
    def words(self) -> list[str]:
        return self.text.split()


class Transcriber:
    """One decoder (its model loaded once, about 0.3 s); `transcribe` is safe to call from several threads."""

    def __init__(self) -> None:
        try:
            from pocketsphinx import Config, Decoder
        except ImportError:
            raise ImportError(MISSING) from None
        files = _model_files()
        if files is None:
            raise ImportError(f"{MISSING}: its bundled en-us model was not found")
        self._decoder = Decoder(Config(loglevel="FATAL", **files))
        self._lock = threading.Lock()

    def transcribe(self, audio: np.ndarray, rate: int = SAMPLE_RATE) -> Transcript:
        """Recognise mono float audio in -1..1 at 16 kHz (what `moodmusic.media.read_audio` gives)."""
        import time

        if rate != SAMPLE_RATE:
            raise ValueError(f"the recogniser needs {SAMPLE_RATE} Hz audio, got {rate} Hz")
        x = np.asarray(audio, dtype=np.float32).reshape(-1)
        if x.size == 0 or float(np.sqrt(np.mean(np.square(np.nan_to_num(x), dtype=np.float64)))) < SILENCE_RMS:
            return Transcript("", len(x) / SAMPLE_RATE, 0.0)  # the decoder hallucinates words in digital silence
        pcm = (np.clip(np.nan_to_num(x), -1.0, 1.0) * 32767).astype("<i2").tobytes()
        with self._lock:
            start = time.thread_time()
            self._decoder.start_utt()
            self._decoder.process_raw(pcm, full_utt=True)
            self._decoder.end_utt()
            hyp = self._decoder.hyp()
            spent = time.thread_time() - start
        text = " ".join(_clean(w) for w in (hyp.hypstr.split() if hyp is not None else []))
        return Transcript(" ".join(text.split()), len(x) / SAMPLE_RATE, spent)


def _clean(word: str) -> str:
    """'read(2)' → 'read'; fillers such as '<sil>' or '[noise]' → ''."""
    if word.startswith(("<", "[", "+")):
        return ""
    return word.split("(")[0].lower()


def word_error_rate(reference: str, hypothesis: str) -> tuple[int, int]:
    """(word edits, reference words): Levenshtein distance over words, so corpora can be summed.

    >>> word_error_rate("kids are talking by the door", "kids are taught him by the door")
    (2, 6)
    """
    ref, hyp = reference.lower().split(), hypothesis.lower().split()
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[len(hyp)], len(ref)
