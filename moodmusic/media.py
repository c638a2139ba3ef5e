"""Open the image, audio and video files a user hands us, or say in one line why not.

Uploads are untrusted: empty, renamed, truncated, hours long or 400-megapixel
files all arrive sooner or later. Every function here either returns plain
arrays (BGR uint8 images, mono float32 16 kHz audio) or raises `MediaError`
with a message a user can act on; memory stays bounded whatever the file.

Audio goes through the same `to_mono_float` → `StreamResampler` path as the
live stream, so a file and a microphone give the same features.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import av.error
import numpy as np

from moodmusic.audio import SAMPLE_RATE, StreamResampler, to_mono_float

IMAGE_EXTS: tuple[str, ...] = ("jpg", "jpeg", "png", "bmp", "webp")
AUDIO_EXTS: tuple[str, ...] = ("wav", "flac", "mp3", "ogg", "m4a")
VIDEO_EXTS: tuple[str, ...] = ("mp4", "webm", "mov", "avi", "flv", "mkv")

MAX_AUDIO_SECONDS = 600.0
MAX_IMAGE_PIXELS = 40_000_000  # 40 MP: a big photo; a decoded BGR copy is 120 MB
_TRUNCATED_SHARE = 0.8  # decoding less than this share of the declared duration means a damaged file
_DECODE_ERRORS = (av.error.FFmpegError, OSError, ValueError, EOFError, MemoryError)


class MediaError(Exception):
    """A file cannot be used; the message names the file and says why in one line."""


@dataclass(frozen=True)
class Media:
    """What a file holds. `audio` is filled by `load`, not by `probe` (mono float32, 16 kHz)."""

    path: Path
    kind: str  # "image" | "audio" | "video"
    duration: float  # seconds; 0 for images and where the container does not say
    audio: np.ndarray | None = None
    has_video: bool = False
    has_audio: bool = False


def probe(path: str | Path) -> Media:
    """Cheap checks without decoding the whole file: exists, not empty, a known type, readable content."""
    p = _existing_file(path)
    ext = _extension(p)
    if ext in IMAGE_EXTS:
        with _open_image(p):
            return Media(path=p, kind="image", duration=0.0)
    if ext == "wav":
        _check_wav_length(p)
    container = _open_av(p)
    with container:
        if _is_image_container(container):
            return Media(path=p, kind="image", duration=0.0)
        video = [s for s in container.streams.video if not _is_cover_art(s)]
        audio = list(container.streams.audio)
        if not video and not audio:
            raise MediaError(f"{p.name} contains neither sound nor pictures")
        first = video[0] if video else audio[0]
        try:
            next(container.decode(first), None)  # one frame proves the data is there and decodable
        except _DECODE_ERRORS as exc:
            raise MediaError(f"{p.name} is damaged: its {first.type} cannot be decoded ({_reason(exc)})") from None
        return Media(
            path=p,
            kind="video" if video else "audio",
            duration=_duration(container),
            has_video=bool(video),
            has_audio=bool(audio),
        )


def load(path: str | Path, max_seconds: float = MAX_AUDIO_SECONDS) -> Media:
    """`probe`, plus the audio track decoded to mono 16 kHz when there is one."""
    media = probe(path)
    if not media.has_audio:
        return media
    return Media(
        path=media.path, kind=media.kind, duration=media.duration,
        audio=read_audio(media.path, max_seconds), has_video=media.has_video, has_audio=True,
    )


def read_audio(path: str | Path, max_seconds: float = MAX_AUDIO_SECONDS) -> np.ndarray:
    """The first audio track as mono float32 at 16 kHz; refuses files longer than `max_seconds`."""
    media = probe(path)
    name = media.path.name
    if media.kind == "image":
        raise MediaError(f"{name} is an image; it has no sound")
    if not media.has_audio:
        raise MediaError(f"{name} has no audio track")
    if media.duration > max_seconds + 0.5:
        raise MediaError(_too_long(name, media.duration, max_seconds))

    limit = int(max_seconds * SAMPLE_RATE) + SAMPLE_RATE // 2
    chunks: list[np.ndarray] = []
    count = 0
    resampler: StreamResampler | None = None
    with _open_av(media.path) as container:
        stream = container.streams.audio[0]
        try:
            for frame in container.decode(stream):
                if resampler is None or resampler.in_rate != frame.sample_rate:
                    if resampler is not None:
                        chunks.append(resampler.flush())
                    resampler = StreamResampler(frame.sample_rate, SAMPLE_RATE)
                mono = to_mono_float(frame.to_ndarray(), len(frame.layout.channels), frame.format.is_planar)
                chunks.append(resampler.process(mono))
                count += chunks[-1].size
                if count > limit:  # the header may lie about the length: stop before memory does
                    raise MediaError(_too_long(name, count / SAMPLE_RATE, max_seconds, at_least=True))
        except _DECODE_ERRORS as exc:
            raise MediaError(f"{name} is damaged: decoding stopped at {count / SAMPLE_RATE:.1f} s ({_reason(exc)})") from None
    if resampler is not None:
        chunks.append(resampler.flush())
    audio = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    decoded = audio.size / SAMPLE_RATE
    if audio.size == 0:
        raise MediaError(f"{name} has an audio track but no sound could be decoded from it")
    if media.duration > 1.0 and decoded < _TRUNCATED_SHARE * media.duration - 0.5:
        raise MediaError(
            f"{name} is truncated or damaged: it declares {media.duration:.1f} s but only "
            f"{decoded:.1f} s of sound could be read"
        )
    return audio


def iter_video_frames(
    path: str | Path, fps: float | None = None, max_side: int | None = None
) -> Iterator[tuple[float, np.ndarray]]:
    """(timestamp in s, BGR uint8 frame) in order, upright, optionally thinned to `fps` and shrunk to `max_side`.

    An image file yields itself once at t = 0, so a caller can treat photos and videos alike.
    """
    if fps is not None and fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    media = probe(path)
    name = media.path.name
    if media.kind == "image":
        image = read_image(media.path)
        yield 0.0, _fit(image, max_side)
        return
    if not media.has_video:
        raise MediaError(f"{name} has no video track")
    next_time = -math.inf
    with _open_av(media.path) as container:
        stream = next(s for s in container.streams.video if not _is_cover_art(s))
        stream.thread_type = "AUTO"
        rate = float(stream.average_rate or stream.guessed_rate or 25)
        time = 0.0
        try:
            for index, frame in enumerate(container.decode(stream)):
                time = float(frame.time) if frame.time is not None else index / rate
                if fps is not None:
                    if time < next_time - 1e-6:
                        continue
                    step = 1.0 / fps  # keep the cadence; after a gap in the stream, restart it
                    next_time = time + step if time - next_time >= step else next_time + step
                yield time, _upright(_to_bgr(frame, max_side), frame.rotation)
        except _DECODE_ERRORS as exc:
            raise MediaError(f"{name} is damaged: decoding stopped at {time:.1f} s ({_reason(exc)})") from None


def read_image(path: str | Path, max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """BGR uint8, upright (EXIF orientation applied); big JPEGs shrink while decoding, other huge images are refused."""
    from PIL import ImageOps

    p = _existing_file(path)
    _extension(p)
    with _open_image(p) as image:
        width, height = image.size
        if width * height > max_pixels:
            if image.format not in ("JPEG", "MPO"):
                raise MediaError(
                    f"{p.name} is {width}x{height} pixels ({width * height / 1e6:.0f} MP); images over "
                    f"{max_pixels / 1e6:.0f} MP can only be opened as JPEG: downscale it or save it as JPEG"
                )
            # libjpeg decodes straight to 1/2, 1/4 or 1/8 size: the full image never exists in memory.
            scale = 2 ** math.ceil(math.log2(math.sqrt(width * height / max_pixels)))
            if scale > 8:
                raise MediaError(
                    f"{p.name} is {width}x{height} pixels ({width * height / 1e6:.0f} MP), too large to "
                    f"open safely: downscale it below {64 * max_pixels / 1e6:.0f} MP"
                )
            image.draft("RGB", (math.ceil(width / scale), math.ceil(height / scale)))
        try:
            upright = ImageOps.exif_transpose(image.convert("RGB") if image.mode != "RGB" else image)
            rgb = np.asarray(upright.convert("RGB"))
        except (OSError, ValueError, SyntaxError) as exc:
            raise MediaError(f"{p.name} is damaged: the image cannot be decoded ({_reason(exc)})") from None
    if rgb.shape[0] * rgb.shape[1] > max_pixels:  # a JPEG decoded at 1/8 can still be a little over
        rgb = _fit_pixels(rgb, max_pixels)
    return np.ascontiguousarray(rgb[:, :, ::-1])


def _existing_file(path: str | Path) -> Path:
    p = Path(path)
    if not p.exists():
        raise MediaError(f"{p.name}: no such file ({p})")
    if not p.is_file():
        raise MediaError(f"{p.name} is a folder, not a file")
    if p.stat().st_size == 0:
        raise MediaError(f"{p.name} is empty (0 bytes)")
    return p


def _extension(p: Path) -> str:
    ext = p.suffix.lower().lstrip(".")
    if ext not in IMAGE_EXTS + AUDIO_EXTS + VIDEO_EXTS:
        shown = f"'.{ext}'" if ext else "without an extension"
        raise MediaError(
            f"{p.name}: unsupported file type {shown}; use an image ({', '.join(IMAGE_EXTS)}), "
            f"audio ({', '.join(AUDIO_EXTS)}) or video ({', '.join(VIDEO_EXTS)})"
        )
    return ext


def _open_av(p: Path) -> av.container.InputContainer:
    kind = "audio" if _extension(p) in AUDIO_EXTS else "video"
    try:
        return av.open(str(p), mode="r", metadata_errors="ignore")
    except _DECODE_ERRORS as exc:
        raise MediaError(f"{p.name} is not a readable {kind} file: damaged, incomplete or not {kind} ({_reason(exc)})") from None


def _open_image(p: Path):
    from PIL import Image, UnidentifiedImageError

    try:
        return Image.open(p)
    except Image.DecompressionBombError as exc:
        raise MediaError(f"{p.name} is too large to open safely ({_reason(exc)}): downscale it first") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise MediaError(f"{p.name} is not a readable image: damaged or not an image ({_reason(exc)})") from None


def _check_wav_length(p: Path) -> None:
    """FFmpeg silently plays a cut WAV as a shorter one; its header still says how long it should be."""
    with p.open("rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return  # not RIFF/WAVE: FFmpeg will judge it
        byte_rate = 0
        while chunk := f.read(8):
            if len(chunk) < 8:
                return
            tag, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if tag == b"fmt ":
                fmt = f.read(size + (size & 1))
                byte_rate = struct.unpack("<I", fmt[8:12])[0] if len(fmt) >= 12 else 0
                continue
            if tag == b"data":
                held = p.stat().st_size - f.tell()
                streaming = size in (0, 0xFFFFFFFF)  # writers that cannot seek back leave these
                if not streaming and byte_rate and size > held + byte_rate // 100:
                    raise MediaError(
                        f"{p.name} is truncated or damaged: it declares {size / byte_rate:.1f} s but only "
                        f"{held / byte_rate:.1f} s of sound is in the file"
                    )
                return
            f.seek(size + (size & 1), 1)


def _is_image_container(container: av.container.InputContainer) -> bool:
    names = set(container.format.name.split(","))
    return any(n == "image2" or n.endswith("_pipe") for n in names)


def _is_cover_art(stream: av.stream.Stream) -> bool:
    """An mp3/m4a album cover is a one-picture 'video' stream; it is not video."""
    return bool(stream.disposition & av.stream.Disposition.attached_pic)


def _duration(container: av.container.InputContainer) -> float:
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    spans = [float(s.duration * s.time_base) for s in container.streams if s.duration and s.time_base]
    return max(spans, default=0.0)


def _too_long(name: str, seconds: float, limit: float, at_least: bool = False) -> str:
    length = f"{'over ' if at_least else ''}{seconds / 60:.1f} min" if seconds >= 120 else f"{'over ' if at_least else ''}{seconds:.0f} s"
    return f"{name} is {length} long; the limit is {limit:.0f} s: trim it to the part you want analysed"


def _to_bgr(frame: av.VideoFrame, max_side: int | None) -> np.ndarray:
    if max_side and max(frame.width, frame.height) > max_side:
        k = max_side / max(frame.width, frame.height)
        return frame.to_ndarray(width=max(2, round(frame.width * k)), height=max(2, round(frame.height * k)), format="bgr24")
    return frame.to_ndarray(format="bgr24")


def _upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """Apply a phone video's display rotation (counter-clockwise degrees) so faces stand upright."""
    quarter_turns = round((rotation or 0) / 90) % 4
    return np.ascontiguousarray(np.rot90(image, quarter_turns)) if quarter_turns else image


def _fit(image: np.ndarray, max_side: int | None) -> np.ndarray:
    h, w = image.shape[:2]
    if not max_side or max(h, w) <= max_side:
        return image
    return _fit_pixels(image, int(max_side * max_side * min(h, w) / max(h, w)))


def _fit_pixels(image: np.ndarray, max_pixels: int) -> np.ndarray:
    from PIL import Image

    h, w = image.shape[:2]
    k = math.sqrt(max_pixels / (h * w))
    size = (max(1, int(w * k)), max(1, int(h * k)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0))


def _reason(exc: BaseException) -> str:
    """The library's own words, without paths or errno noise."""
    text = getattr(exc, "strerror", None) or str(exc).strip() or type(exc).__name__
    return str(text).splitlines()[0][:160]
