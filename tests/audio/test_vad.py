"""Voice activity: silence, steady noise and speech are told apart; pauses between words do not flip it."""

from __future__ import annotations

import numpy as np
import pytest
from tests.audio.conftest import set_rms_dbfs

from moodmusic.audio import SAMPLE_RATE, VoiceActivity


def noise(kind: str, seconds: float, dbfs: float, seed: int = 0) -> np.ndarray:
    """Steady noises a room really has: hiss (white), fan (pink), brown noise, rumble, mains hum."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    if kind == "white":
        x = rng.standard_normal(n)
    elif kind in ("pink", "brown"):
        spectrum = np.fft.rfft(rng.standard_normal(n))
        f = np.maximum(np.fft.rfftfreq(n, 1 / SAMPLE_RATE), 20.0)
        x = np.fft.irfft(spectrum / (f ** (0.5 if kind == "pink" else 1.0)), n)
    elif kind == "rumble":  # traffic or wind: narrow-band below 120 Hz, which looks almost periodic
        spectrum = np.fft.rfft(rng.standard_normal(n))
        f = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
        x = np.fft.irfft(spectrum * ((f > 40) & (f < 120)), n)
    elif kind == "hum":
        t = np.arange(n) / SAMPLE_RATE
        x = sum(np.sin(2 * np.pi * 50 * k * t) / k for k in range(1, 6))
    else:
        raise ValueError(kind)
    return set_rms_dbfs(np.asarray(x, np.float32), dbfs)


def runs(mask: np.ndarray, value: bool) -> list[int]:
    """Lengths of the runs of `value` in a boolean sequence."""
    out, n = [], 0
    for m in mask:
        if m == value:
            n += 1
        elif n:
            out.append(n)
            n = 0
    return out + ([n] if n else [])


def test_silence_is_not_speech():
    vad = VoiceActivity()
    assert vad.activity(np.zeros(2 * SAMPLE_RATE, np.float32)) == 0.0
    assert vad.activity(noise("white", 2.0, -75.0)) == 0.0  # a quiet, dithered silence


@pytest.mark.parametrize("kind", ["white", "pink", "brown", "rumble", "hum"])
@pytest.mark.parametrize("dbfs", [-50.0, -30.0, -10.0])
def test_steady_noise_is_not_speech_however_loud(kind, dbfs):
    x = noise(kind, 3.0, dbfs)
    assert VoiceActivity().activity(x) <= 0.05
    assert VoiceActivity().process(x).mean() <= 0.05  # also when streamed from a cold start


@pytest.mark.parametrize("name", ["fox", "rainbow", "gaps"])
def test_speech_is_speech(speech, name):
    assert VoiceActivity().activity(speech[name]) >= 0.85


def test_sudden_noise_after_silence_is_not_speech():
    x = np.concatenate([np.zeros(SAMPLE_RATE, np.float32), noise("white", 1.0, -20.0)])
    assert VoiceActivity().activity(x) == 0.0


def test_hangover_bridges_the_pauses_between_words(speech):
    x = speech["gaps"]  # "one two three four five", ~200 ms of silence between words
    strict = VoiceActivity(hangover_ms=0).decide(x)
    held = VoiceActivity().decide(x)
    span = slice(np.flatnonzero(held)[0], np.flatnonzero(held)[-1] + 1)
    assert sum(1 for r in runs(strict[span], False) if r >= 5) >= 4  # the pauses are real ...
    assert held[span].all()  # ... and hangover keeps one utterance one stretch of speech


def test_speech_is_found_in_noise_after_the_floor_adapts(speech):
    """1 s of fan noise, then speech 10 dB above it, streamed in 20 ms blocks."""
    voice = speech["rainbow"]
    background = noise("pink", 1.0 + voice.size / SAMPLE_RATE, -35.0)
    x = background.copy()
    x[SAMPLE_RATE:] += set_rms_dbfs(voice, -25.0)
    vad = VoiceActivity()
    decisions = np.concatenate([vad.process(x[i : i + 320]) for i in range(0, x.size, 320)])
    lead, talk = decisions[:48], decisions[50 : 50 + voice.size // 320]
    assert not lead.any()
    assert talk.mean() >= 0.85


@pytest.mark.parametrize("kind", ["white", "rumble"])
def test_speech_stands_out_of_loud_noise(speech, kind):
    """Speech only 5 dB above the noise is still found, and the noise before it is not taken for speech."""
    voice = set_rms_dbfs(speech["fox"], -25.0)
    x = noise(kind, 1.0 + voice.size / SAMPLE_RATE, -30.0, seed=3)
    x[SAMPLE_RATE:] += voice
    decisions = VoiceActivity().process(x)
    assert decisions[:48].mean() <= 0.05
    assert decisions[50 : 50 + voice.size // 320].mean() >= 0.85


def test_streaming_decisions_do_not_depend_on_block_size(speech):
    x = np.concatenate([noise("white", 1.0, -40.0), speech["fox"]])
    decisions = []
    for block in (320, 999, 4096, x.size):
        vad = VoiceActivity()
        decisions.append(np.concatenate([vad.process(x[i : i + block]) for i in range(0, x.size, block)]))
    for d in decisions[1:]:
        np.testing.assert_array_equal(d, decisions[0])


def test_reset_forgets_the_stream(speech):
    vad = VoiceActivity()
    first = vad.process(speech["fox"])
    vad.reset()
    np.testing.assert_array_equal(vad.process(speech["fox"]), first)
