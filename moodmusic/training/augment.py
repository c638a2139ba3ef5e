"""Augmentation: what a camera and a WebRTC call do to faces and speech, drawn at random for training.

Faces are augmented batched in torch on each training batch (one affine warp
for rotation, scale, shift, crop and flip; gamma, contrast and brightness
jitter; random erasing), which costs far less than per-image PIL on two
cores. Brightness and contrast jitter only matter through clipping, since the
network standardises each image itself: gamma is the jitter that really
changes the input.

`FACE_AUGMENTS["wild"]` adds what faces in the wild bring and FER2013
under-represents (issue 25): small or out-of-focus faces (a down- and
up-scale, a Gaussian blur), light from one side (a brightness ramp across
the face, which per-image standardisation cannot undo), sensor noise, a
dark band across the eyes (glasses, sunglasses' tint) and a horizontal
shear (a face turned a little). Each draws from the generator only when it
is on, so the standard recipe's draws, and its runs, are unchanged.

Speech is augmented per clip, before features, the way the live path hears
it: a random window offset, additive noise at 5-20 dB SNR, a gain change of
+-20 dB (with clipping) and, for half of the copies, an Opus round trip like
WebRTC's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

# ----------------------------------------------------------------------------- faces (batched, torch)


def augment_faces(x: Any, gen: Any, crop: int = 40, max_rotate: float = 12.0,
                  scale: tuple[float, float] = (0.88, 1.12), max_shift: float = 8.0, flip: bool = True,
                  contrast: tuple[float, float] = (0.7, 1.3), brightness: float = 30.0,
                  gamma: tuple[float, float] = (0.7, 1.4), erase_p: float = 0.5, device: Any = None,
                  shear: float = 0.0, lowres_p: float = 0.0, lowres: tuple[float, float] = (0.3, 0.7),
                  blur_p: float = 0.0, blur_sigma: tuple[float, float] = (0.5, 1.5), side_light_p: float = 0.0,
                  side_light: tuple[float, float] = (0.2, 0.6), band_p: float = 0.0, noise: float = 0.0) -> Any:
    """A batch of (N, 48, 48) uint8 faces -> (N, 1, crop, crop) float pixel values, randomly varied.

    The random draws come from `gen` (on the CPU, so a seed gives the same
    draws whatever the device); the image work runs on `device` (default:
    where `x` is), which keeps a GPU fed without a CPU bottleneck.

    One affine warp per image does rotation, scale, a random `crop` window
    whose centre moves up to `max_shift` px from the image centre, and a
    horizontal flip. With every range at its neutral value it returns the
    centre crop the network looks at during inference.

    The rest is off by default (`FACE_AUGMENTS["wild"]` turns it on): `shear`
    (horizontal, up to that factor), `lowres_p` (the crop shrunk to a
    `lowres` fraction of its side and enlarged again), `blur_p` (Gaussian,
    sigma in `blur_sigma` px), `side_light_p` (brightness x (1 + a u), u
    running -1..1 across the face in a random direction, a in `side_light`),
    `band_p` (a dark band across the eyes) and `noise` (Gaussian, sigma up to
    that many grey levels).
    """
    import torch
    import torch.nn.functional as F

    n, h, w = x.shape
    dev = torch.device(device) if device is not None else x.device
    x = x.to(dev).float().unsqueeze(1)

    def uniform(lo: float, hi: float):
        return lo + (hi - lo) * torch.rand(n, generator=gen)

    def there(t):
        return t.to(dev, non_blocking=True)

    angle = uniform(-max_rotate, max_rotate) * math.pi / 180
    s = uniform(*scale)
    sign = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0) if flip else torch.ones(n)
    # output normalised coords (over `crop` px) -> input normalised coords (over 48 px), 1 px : 1 px / s
    k = crop / w / s
    cos, sin = torch.cos(angle) * k, torch.sin(angle) * k
    reach = max_shift / (w / 2)
    tx, ty = uniform(-reach, reach), uniform(-reach, reach)
    theta = torch.stack([torch.stack([cos * sign, -sin, tx], 1), torch.stack([sin * sign, cos, ty], 1)], 1)
    if shear > 0:  # x_in += shear * y_out: a face turned a little about its vertical axis
        theta[:, 0, 1] += uniform(-shear, shear) * k
    grid = F.affine_grid(there(theta), (n, 1, crop, crop), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    out = _in_the_wild(out, gen, uniform, there, lowres_p, lowres, blur_p, blur_sigma, side_light_p, side_light)

    # photometric: contrast and brightness (effective through clipping), then gamma
    c = there(uniform(*contrast).view(n, 1, 1, 1))
    b = there(uniform(-brightness, brightness).view(n, 1, 1, 1))
    out = ((out - 128) * c + 128 + b).clamp(0, 255)
    g = there(torch.exp(uniform(math.log(gamma[0]), math.log(gamma[1]))).view(n, 1, 1, 1))
    out = 255 * (out / 255).pow(g)
    if band_p > 0:  # glasses: a dark, partly see-through band across the eyes
        yc, bh = uniform(0.28, 0.45) * crop, uniform(0.08, 0.16) * crop
        alpha, dark = uniform(0.5, 0.9), uniform(0, 60)
        on = torch.rand(n, generator=gen) < band_p
        ys = torch.arange(crop).view(1, crop, 1).float()
        band = ((ys - yc.view(n, 1, 1)).abs() < (bh / 2).view(n, 1, 1)) & on.view(n, 1, 1)
        a = there((band.float() * alpha.view(n, 1, 1)).unsqueeze(1))
        out = out * (1 - a) + a * there(dark.view(n, 1, 1, 1))
    if noise > 0:
        sigma = there(uniform(0, noise).view(n, 1, 1, 1))
        out = (out + sigma * there(torch.randn(n, 1, crop, crop, generator=gen))).clamp(0, 255)

    if erase_p > 0:  # random erasing: one rectangle of 4-20 % of the crop, filled with noise
        area = uniform(0.04, 0.20) * crop * crop
        aspect = torch.exp(uniform(math.log(0.5), math.log(2.0)))
        eh = (area * aspect).sqrt().clamp(1, crop)
        ew = (area / aspect).sqrt().clamp(1, crop)
        y0 = uniform(0, 1) * (crop - eh)
        x0 = uniform(0, 1) * (crop - ew)
        ys = torch.arange(crop).view(1, crop, 1)
        xs = torch.arange(crop).view(1, 1, crop)
        inside = ((ys >= y0.view(n, 1, 1)) & (ys < (y0 + eh).view(n, 1, 1))
                  & (xs >= x0.view(n, 1, 1)) & (xs < (x0 + ew).view(n, 1, 1)))
        inside &= (torch.rand(n, generator=gen) < erase_p).view(n, 1, 1)
        noise = torch.rand(n, 1, crop, crop, generator=gen) * 255
        out = torch.where(there(inside.unsqueeze(1)), there(noise), out)
    return out


FACE_AUGMENTS: dict[str, dict[str, Any]] = {
    "standard": {},  # the committed recipe
    "wild": {"shear": 0.15, "lowres_p": 0.25, "blur_p": 0.25, "side_light_p": 0.3, "band_p": 0.15, "noise": 6.0},
}


def _in_the_wild(out: Any, gen: Any, uniform: Any, there: Any, lowres_p: float, lowres: tuple[float, float],
                 blur_p: float, blur_sigma: tuple[float, float], side_light_p: float,
                 side_light: tuple[float, float]) -> Any:
    """Low resolution, blur and side light on a batch of (N, 1, C, C) crops, each image drawn on or off."""
    import torch
    import torch.nn.functional as F

    n, _, crop, _ = out.shape
    if lowres_p > 0:  # one size per batch (a whole batch at one size keeps it one interpolate call)
        side = max(4, int(round(crop * float(uniform(*lowres)[0]))))
        small = F.interpolate(out, size=(side, side), mode="area")
        big = F.interpolate(small, size=(crop, crop), mode="bilinear", align_corners=False)
        on = there((torch.rand(n, generator=gen) < lowres_p).view(n, 1, 1, 1))
        out = torch.where(on, big, out)
    if blur_p > 0:  # one sigma per batch, a separable Gaussian
        sigma = float(uniform(*blur_sigma)[0])
        r = max(1, int(math.ceil(2.5 * sigma)))
        t = torch.arange(-r, r + 1, dtype=torch.float32)
        k = torch.exp(-0.5 * (t / sigma) ** 2)
        k = there(k / k.sum())
        padded = F.pad(out, (r, r, r, r), mode="replicate")
        blurred = F.conv2d(F.conv2d(padded, k.view(1, 1, 1, -1)), k.view(1, 1, -1, 1))
        on = there((torch.rand(n, generator=gen) < blur_p).view(n, 1, 1, 1))
        out = torch.where(on, blurred, out)
    if side_light_p > 0:
        phi = uniform(0, 2 * math.pi)
        a = uniform(*side_light) * (torch.rand(n, generator=gen) < side_light_p).float()
        u = torch.linspace(-1, 1, crop)
        ramp = torch.cos(phi).view(n, 1, 1) * u.view(1, 1, crop) + torch.sin(phi).view(n, 1, 1) * u.view(1, crop, 1)
        out = (out * there((1 + a.view(n, 1, 1) * ramp).unsqueeze(1))).clamp(0, 255)
    return out


# ----------------------------------------------------------------------------- speech (per clip, numpy)

@dataclass(frozen=True)
class SpeechAugment:
    """What the live path does to speech; each field drawn per clip from the clip's own seed."""

    snr_db: tuple[float, float] = (5.0, 20.0)
    gain_db: tuple[float, float] = (-20.0, 20.0)
    max_offset_s: float = 0.5
    opus_prob: float = 0.5


def _coloured_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """White, pink or brown noise (chosen at random), unit RMS."""
    white = rng.standard_normal(n)
    kind = rng.integers(3)
    if kind:
        spec = np.fft.rfft(white)
        f = np.maximum(np.fft.rfftfreq(n), 1.0 / n)
        spec /= f ** (0.5 * kind)  # 1/f power (pink) or 1/f^2 (brown)
        white = np.fft.irfft(spec, n)
    return white / (np.sqrt(np.mean(white**2)) + 1e-12)


_OPUS_PRESKIP = 312  # samples at 48 kHz (6.5 ms)


def opus_round_trip(x: np.ndarray, rate: int = 16000, bitrate: int = 32000) -> np.ndarray:
    """Encode to Opus at 48 kHz and decode back, as a WebRTC call would; same length as `x`."""
    import av

    from moodmusic.audio.resample import StreamResampler

    up = StreamResampler(rate, 48000)
    y = np.concatenate([up.process(x.astype(np.float32)), up.flush()])
    enc = av.CodecContext.create("libopus", "w")
    enc.sample_rate, enc.layout, enc.format, enc.bit_rate = 48000, "mono", "s16", bitrate
    dec = av.CodecContext.create("libopus", "r")
    dec.sample_rate, dec.layout = 48000, "mono"
    pcm = (np.clip(y, -1, 1) * 32767).astype(np.int16)
    out: list[np.ndarray] = []
    for start in range(0, len(pcm), 960):
        chunk = pcm[start:start + 960]
        if len(chunk) < 960:
            chunk = np.concatenate([chunk, np.zeros(960 - len(chunk), np.int16)])
        frame = av.AudioFrame.from_ndarray(chunk[None], format="s16", layout="mono")
        frame.sample_rate = 48000
        for packet in enc.encode(frame):
            for decoded in dec.decode(packet):
                out.append(decoded.to_ndarray().reshape(-1))
    for packet in enc.encode(None):
        for decoded in dec.decode(packet):
            out.append(decoded.to_ndarray().reshape(-1))
    z = np.concatenate(out).astype(np.float32)
    if z.dtype.kind != "f" or np.abs(z).max() > 2.0:
        z = z / 32768.0
    z = z[_OPUS_PRESKIP:]  # the encoder's look-ahead, which the raw decoder does not drop
    down = StreamResampler(48000, rate)
    z = np.concatenate([down.process(z), down.flush()])[:len(x)]
    return np.pad(z, (0, max(0, len(x) - len(z))))


def augment_speech(x: np.ndarray, rng: np.random.Generator, spec: SpeechAugment, rate: int = 16000) -> np.ndarray:
    """One random live-path version of a clip: offset, noise at an SNR, gain with clipping, maybe Opus."""
    offset = int(rng.uniform(0, spec.max_offset_s) * rate)
    x = x[offset:] if len(x) - offset > rate else x
    frame_rms = np.sqrt(np.convolve(x.astype(np.float64) ** 2, np.ones(400) / 400, mode="valid"))
    speech_rms = float(np.percentile(frame_rms, 90)) if frame_rms.size else float(np.sqrt(np.mean(x**2)))
    snr = rng.uniform(*spec.snr_db)
    noise = _coloured_noise(len(x), rng) * speech_rms * 10 ** (-snr / 20)
    y = (x + noise) * 10 ** (rng.uniform(*spec.gain_db) / 20)
    y = np.clip(y, -1.0, 1.0).astype(np.float32)
    if rng.random() < spec.opus_prob:
        y = opus_round_trip(y, rate)
    return y
