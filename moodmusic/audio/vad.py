"""Is someone speaking? Frame decisions with an adaptive noise floor, onset check and hangover.

A 20 ms frame looks like speech when it is
- louder than the recent noise floor by `margin_db` (the floor is a low
  percentile of the frame energies over the last `floor_seconds`, so fans,
  hiss and hum are learnt within a second and a half, while speech, which
  always dips between syllables, does not drag the floor up with it);
- above an absolute level (near-silence is never speech);
- periodic like a voice (YIN aperiodicity over the frame and the one before);
- not all bass: at least `min_speech_band_db` of its energy lies above 300 Hz,
  where vowels have their formants (rumble is narrow-band and low, so it can
  look periodic, but it has nothing up there).
Speech starts after `onset_frames` such frames in a row (a lone noisy frame is
not a word) and lasts `hangover_ms` past the last one, so the pauses between
words do not flip the decision. Everything is measured after a 100 Hz high-pass.

>>> import numpy as np
>>> VoiceActivity().activity(np.zeros(32000, np.float32))
0.0
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import butter, sosfilt

from moodmusic.audio.constants import SAMPLE_RATE
from moodmusic.audio.pitch import yin

_EPS = 1e-12


class VoiceActivity:
    """Streaming VAD: `process` keeps state across calls; `decide`/`activity` judge one window alone."""

    def __init__(
        self,
        rate: int = SAMPLE_RATE,
        frame_ms: float = 20.0,
        hangover_ms: float = 400.0,
        onset_frames: int = 2,
        margin_db: float = 6.0,
        floor_percentile: float = 10.0,
        floor_seconds: float = 1.5,
        min_level_db: float = -60.0,
        max_aperiodicity: float = 0.35,
        min_speech_band_db: float = -20.0,
    ) -> None:
        if not 15.0 <= frame_ms <= 30.0:  # two frames must hold two periods of the lowest voice
            raise ValueError(f"frame_ms must be within 15..30 ms, got {frame_ms}")
        self.rate = rate
        self.frame_length = 2 * int(round(rate * frame_ms / 2000.0))  # even, for the 2x decimation
        self.hangover_frames = int(round(hangover_ms / frame_ms))
        self.onset_frames = max(1, onset_frames)
        self.margin_db = margin_db
        self.floor_percentile = floor_percentile
        self.floor_frames = max(1, int(round(floor_seconds * 1000.0 / frame_ms)))
        self.min_level_db = min_level_db
        self.max_aperiodicity = max_aperiodicity
        self.min_speech_band_db = min_speech_band_db
        self._highpass = butter(2, 100.0, btype="highpass", fs=rate, output="sos")
        self._speech_band = butter(4, 300.0, btype="highpass", fs=rate, output="sos")
        self.reset()

    def reset(self) -> None:
        """Forget the stream: filter state, noise floor, onset and hangover counts, any partial frame."""
        self._zi = np.zeros((self._highpass.shape[0], 2))
        self._zi_band = np.zeros((self._speech_band.shape[0], 2))
        self._pending = np.zeros((2, 0), np.float32)  # rows: high-passed signal, its part above 300 Hz
        self._previous = np.zeros(self.frame_length, np.float32)  # context for the next frame's periodicity
        self._history = np.zeros(0, np.float64)  # recent frame energies, for the floor
        self._state = (0, 0)  # (speech-like frames in a row, hangover frames left)

    def process(self, x: np.ndarray) -> np.ndarray:
        """Decisions (bool) for each frame these samples complete; the remainder waits for the next call."""
        samples = np.nan_to_num(np.asarray(x, np.float64).reshape(-1))
        filtered, self._zi = sosfilt(self._highpass, samples, zi=self._zi)
        band, self._zi_band = sosfilt(self._speech_band, filtered, zi=self._zi_band)
        both = np.concatenate([self._pending, np.stack([filtered, band]).astype(np.float32)], axis=1)
        n = both.shape[1] // self.frame_length * self.frame_length
        self._pending = both[:, n:].copy()
        energy, band_share, aperiodicity = self._measure(both[0, :n], both[1, :n], self._previous)
        if n:
            self._previous = both[0, n - self.frame_length : n].copy()
        floor = self._causal_floor(energy)
        self._history = np.concatenate([self._history, energy])[-self.floor_frames :]
        voiced, self._state = self._decide(energy, band_share, aperiodicity, floor, self._state)
        return voiced

    def decide(self, window: np.ndarray) -> np.ndarray:
        """Frame decisions for one window judged on its own: its own quiet frames set the floor."""
        samples = np.nan_to_num(np.asarray(window, np.float64).reshape(-1))
        x = sosfilt(self._highpass, samples)
        band = sosfilt(self._speech_band, x)
        energy, band_share, aperiodicity = self._measure(x, band, np.zeros(self.frame_length))
        if energy.size == 0:
            return np.zeros(0, bool)
        floor = np.full(energy.size, np.percentile(energy, self.floor_percentile))
        voiced, _ = self._decide(energy, band_share, aperiodicity, floor, (0, 0))
        return voiced

    def activity(self, window: np.ndarray) -> float:
        """Share of the window's frames that are speech (0 for a window shorter than a frame)."""
        voiced = self.decide(window)
        return float(voiced.mean()) if voiced.size else 0.0

    def _measure(
        self, x: np.ndarray, band: np.ndarray, previous: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per whole frame: energy (dBFS), the share above 300 Hz (dB), aperiodicity with the frame before."""
        n = self.frame_length
        whole = x.size // n * n
        frames = x[:whole].astype(np.float64).reshape(-1, n)
        energy = 10.0 * np.log10(np.einsum("ij,ij->i", frames, frames) / n + _EPS)
        upper = band[:whole].astype(np.float64).reshape(-1, n)
        band_share = 10.0 * np.log10(np.einsum("ij,ij->i", upper, upper) / n + _EPS) - energy
        aperiodicity = np.ones(frames.shape[0])
        # Periodicity only where it can change the answer: loud enough and not all bass.
        candidates = np.flatnonzero((energy > self.min_level_db) & (band_share > self.min_speech_band_db))
        if candidates.size:
            # On a 2x decimated copy (pairwise means, a gentle low-pass): a voice's period survives
            # it and the search costs a quarter as much. Each row is a frame and the one before it.
            seq = np.concatenate([np.asarray(previous, np.float64), frames.reshape(-1)])
            low = 0.5 * (seq[0::2] + seq[1::2])
            pairs = sliding_window_view(low, n)[:: n // 2][candidates]
            aperiodicity[candidates] = yin(pairs, self.rate // 2)[1]
        return energy, band_share, aperiodicity

    def _causal_floor(self, energy: np.ndarray) -> np.ndarray:
        """For each new frame, the floor percentile of the energies up to and including it."""
        if energy.size == 0:
            return energy
        m = self.floor_frames
        joined = np.concatenate([self._history, energy])
        floor = np.empty(energy.size)
        start = self._history.size
        warm = max(0, min(energy.size, m - start))  # frames whose look-back is still shorter than m
        for i in range(warm):  # the first second and a half of a stream only
            floor[i] = np.percentile(joined[: start + i + 1], self.floor_percentile)
        if warm < energy.size:
            windows = sliding_window_view(joined, m)[start + warm - m + 1 :]
            floor[warm:] = np.percentile(windows, self.floor_percentile, axis=1)
        return floor

    def _decide(
        self,
        energy: np.ndarray,
        band_share: np.ndarray,
        aperiodicity: np.ndarray,
        floor: np.ndarray,
        state: tuple[int, int],
    ) -> tuple[np.ndarray, tuple[int, int]]:
        like_speech = (
            (energy > floor + self.margin_db)
            & (energy > self.min_level_db)
            & (aperiodicity < self.max_aperiodicity)
            & (band_share > self.min_speech_band_db)
        )
        run, hang = state
        voiced = np.empty(like_speech.size, bool)
        for i, s in enumerate(like_speech):  # 50 frames a second: a plain loop is cheap and clear
            run = run + 1 if s else 0
            hang = self.hangover_frames if run >= self.onset_frames else max(hang - 1, 0)
            voiced[i] = run >= self.onset_frames or hang > 0
        return voiced, (run, hang)
