"""Reading user files: real media decodes to the documented arrays; broken media fails with a clear reason."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import skimage.data
import soundfile as sf
from PIL import Image

from moodmusic.audio import SAMPLE_RATE
from moodmusic.media import (
    AUDIO_EXTS,
    IMAGE_EXTS,
    VIDEO_EXTS,
    MediaError,
    iter_video_frames,
    load,
    probe,
    read_audio,
    read_image,
)

SPEECH = Path(__file__).resolve().parent / "fixtures" / "speech" / "fox.flac"
ASTRONAUT = skimage.data.astronaut()  # RGB uint8, 512x512, public domain


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    x, rate = sf.read(SPEECH, dtype="float32")
    assert rate == SAMPLE_RATE
    return x


def write_audio(path: Path, x: np.ndarray, codec: str, rate: int, layout: str = "stereo") -> Path:
    """Encode 16 kHz mono speech with PyAV as a real file of another rate, layout and codec."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        _encode_audio(out, stream, x)
    return path


def _encode_audio(out, stream, x: np.ndarray) -> None:
    source = av.AudioFrame.from_ndarray(x[None, :].astype(np.float32), format="flt", layout="mono")
    source.sample_rate = SAMPLE_RATE
    resampler = av.AudioResampler(
        format=stream.codec_context.format.name, layout=stream.codec_context.layout.name,
        rate=stream.codec_context.sample_rate, frame_size=stream.codec_context.frame_size or 1024,
    )
    for frame in list(resampler.resample(source)) + list(resampler.resample(None)):
        frame.pts = None
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)


def write_video(path: Path, seconds: float, audio: np.ndarray | None, fps: int = 10, codec: str = "libx264") -> Path:
    """A still of the astronaut for `seconds`, with speech muxed in when given: a talking-head stand-in."""
    with av.open(str(path), "w") as out:
        video = out.add_stream(codec, rate=fps)
        video.width, video.height, video.pix_fmt = 256, 192, "yuv420p"
        sound = out.add_stream("aac", rate=48000, layout="stereo") if audio is not None else None
        still = av.VideoFrame.from_ndarray(np.ascontiguousarray(ASTRONAUT[::2, ::2][:192, :256]), format="rgb24")
        for i in range(int(seconds * fps)):
            frame = still.reformat(format="yuv420p")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
        if sound is not None:
            _encode_audio(out, sound, audio)
    return path


def same_speech(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of two renditions of a recording (level and tiny delays aside)."""
    n = min(a.size, b.size)
    return float(np.corrcoef(a[:n], b[:n])[0, 1])


# --- audio ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "codec", "rate", "min_corr"),
    [("take.wav", "pcm_s16le", 44100, 0.99), ("take.flac", "flac", 48000, 0.99), ("take.mp3", "libmp3lame", 44100, 0.9),
     ("take.ogg", "libopus", 48000, 0.5), ("take.m4a", "aac", 32000, 0.9)],
)
def test_audio_files_decode_to_the_same_mono_16k_speech(tmp_path, speech, name, codec, rate, min_corr):
    path = write_audio(tmp_path / name, speech, codec, rate)
    media = probe(path)
    assert (media.kind, media.has_audio, media.has_video) == ("audio", True, False)
    assert media.duration == pytest.approx(speech.size / SAMPLE_RATE, abs=0.15)
    audio = read_audio(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(audio.size - speech.size) <= 0.1 * SAMPLE_RATE  # codec padding aside, the same length
    if codec in ("pcm_s16le", "flac"):
        assert same_speech(audio, speech) > min_corr
    else:  # lossy codecs add a delay: compare the best-aligned copies
        lag = np.argmax(np.correlate(audio[:20000], speech[4000:12000], "valid")) - 4000
        assert same_speech(audio[max(lag, 0):], speech[max(-lag, 0):]) > min_corr


def test_the_16k_fixture_reads_back_exactly(speech):
    np.testing.assert_allclose(read_audio(SPEECH), speech, atol=1e-7)


def test_a_cover_picture_does_not_make_an_mp3_a_video(tmp_path, speech):
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg command not installed")
    plain = write_audio(tmp_path / "plain.mp3", speech, "libmp3lame", 44100)
    Image.fromarray(ASTRONAUT).save(tmp_path / "cover.jpg")
    tagged = tmp_path / "tagged.mp3"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-i", str(plain), "-i", str(tmp_path / "cover.jpg"), "-map", "0",
         "-map", "1", "-c", "copy", "-id3v2_version", "3", "-disposition:v", "attached_pic", str(tagged)],
        check=True,
    )
    with av.open(str(tagged)) as c:
        assert len(c.streams.video) == 1  # the cover is there ...
    media = probe(tagged)
    assert (media.kind, media.has_video) == ("audio", False)  # ... and is not taken for video
    assert read_audio(tagged).size > SAMPLE_RATE


def test_too_long_audio_is_refused_with_a_hint_to_trim(tmp_path, speech):
    path = write_audio(tmp_path / "long.wav", np.tile(speech, 3), "pcm_s16le", 16000, "mono")
    with pytest.raises(MediaError, match=r"long.wav is \d+ s long; the limit is 5 s: trim it"):
        read_audio(path, max_seconds=5)
    assert read_audio(path, max_seconds=20).size > 9 * SAMPLE_RATE


def test_a_header_that_understates_the_length_cannot_exhaust_memory(tmp_path, speech):
    """A WAV whose header claims 1 s but holds 10 s: the length check happens while decoding too."""
    path = write_audio(tmp_path / "liar.wav", np.tile(speech, 3), "pcm_s16le", 16000, "mono")
    data = bytearray(path.read_bytes())
    offset = data.index(b"data") + 4
    data[offset : offset + 4] = struct.pack("<I", 0xFFFFFFFF)  # "unknown size": a streaming writer's header
    path.write_bytes(bytes(data))
    with pytest.raises(MediaError, match="limit is 2 s"):
        read_audio(path, max_seconds=2)


def test_load_fills_in_the_audio(tmp_path, speech):
    path = write_video(tmp_path / "talk.mp4", 3.0, speech)
    media = load(path)
    assert (media.kind, media.has_video, media.has_audio) == ("video", True, True)
    assert media.audio is not None and media.audio.size > 3 * SAMPLE_RATE - 4000


# --- video ---------------------------------------------------------------------------------------


def test_a_talking_head_video_gives_frames_and_speech(tmp_path, speech):
    path = write_video(tmp_path / "talk.mp4", seconds=3.0, audio=speech, fps=10)
    media = probe(path)
    assert (media.kind, media.has_video, media.has_audio) == ("video", True, True)
    assert media.duration == pytest.approx(speech.size / SAMPLE_RATE, abs=0.2)

    frames = list(iter_video_frames(path))
    assert len(frames) == 30
    times = [t for t, _ in frames]
    assert times == sorted(times) and times[0] == pytest.approx(0.0, abs=0.05) and times[-1] == pytest.approx(2.9, abs=0.05)
    _, image = frames[10]
    assert image.dtype == np.uint8 and image.shape == (192, 256, 3)
    rgb = np.ascontiguousarray(image[:, :, ::-1]).astype(float)  # BGR as OpenCV expects: flip to compare
    assert np.corrcoef(rgb.ravel(), ASTRONAUT[::2, ::2][:192, :256].astype(float).ravel())[0, 1] > 0.95

    audio = read_audio(path)
    lag = np.argmax(np.correlate(audio[:20000], speech[4000:12000], "valid")) - 4000
    assert same_speech(audio[max(lag, 0):], speech[max(-lag, 0):]) > 0.9


def test_frames_can_be_thinned_to_a_rate_and_shrunk(tmp_path):
    path = write_video(tmp_path / "still.mp4", seconds=3.0, audio=None, fps=10)
    frames = list(iter_video_frames(path, fps=2.0, max_side=128))
    assert [round(t, 1) for t, _ in frames] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    assert frames[0][1].shape == (96, 128, 3)


def test_phone_video_rotation_is_undone_like_ffmpeg_does(tmp_path):
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg command not installed")
    plain = write_video(tmp_path / "plain.mp4", seconds=1.0, audio=None)
    rotated = tmp_path / "rotated.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(plain), "-c", "copy",
                    "-metadata:s:v:0", "rotate=90", str(rotated)], check=True)
    reference = tmp_path / "reference.png"  # ffmpeg applies the display matrix when it decodes
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(rotated), "-frames:v", "1", str(reference)], check=True)
    expected = np.asarray(Image.open(reference).convert("RGB"))[:, :, ::-1]
    _, first = next(iter_video_frames(rotated))
    assert first.shape == expected.shape == (256, 192, 3)
    assert np.abs(first.astype(int) - expected).mean() < 2.0


def test_an_image_iterates_as_a_single_frame(tmp_path):
    path = tmp_path / "face.png"
    Image.fromarray(ASTRONAUT).save(path)
    frames = list(iter_video_frames(path))
    assert len(frames) == 1 and frames[0][0] == 0.0
    np.testing.assert_array_equal(frames[0][1], ASTRONAUT[:, :, ::-1])


# --- images --------------------------------------------------------------------------------------


@pytest.mark.parametrize("ext", ["png", "bmp", "webp"])
def test_lossless_images_read_back_exactly_in_bgr(tmp_path, ext):
    path = tmp_path / f"face.{ext}"
    Image.fromarray(ASTRONAUT).save(path, **({"lossless": True} if ext == "webp" else {}))
    image = read_image(path)
    assert image.dtype == np.uint8 and image.flags.c_contiguous
    np.testing.assert_array_equal(image, ASTRONAUT[:, :, ::-1])
    assert probe(path).kind == "image"


def test_jpeg_reads_back_close_and_greyscale_becomes_three_channels(tmp_path):
    path = tmp_path / "face.jpg"
    Image.fromarray(ASTRONAUT).save(path, quality=95)
    assert np.abs(read_image(path).astype(int) - ASTRONAUT[:, :, ::-1]).mean() < 3
    grey = tmp_path / "grey.jpeg"
    Image.fromarray(ASTRONAUT).convert("L").save(grey)
    assert read_image(grey).shape == (512, 512, 3)


def test_exif_orientation_is_applied(tmp_path):
    path = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display", as phones write it
    Image.fromarray(ASTRONAUT[:, :384]).save(path, exif=exif)
    assert read_image(path).shape == (384, 512, 3)


def test_a_big_jpeg_is_shrunk_while_decoding(tmp_path):
    path = tmp_path / "big.jpg"
    big = np.asarray(Image.fromarray(ASTRONAUT).resize((3000, 2000)))
    Image.fromarray(big).save(path, quality=90)
    image = read_image(path, max_pixels=1_000_000)
    h, w = image.shape[:2]
    assert h * w <= 1_000_000 and w / h == pytest.approx(1.5, rel=0.01)
    expected = np.asarray(Image.fromarray(big).resize((w, h)))[:, :, ::-1]
    assert np.corrcoef(image.astype(float).ravel(), expected.astype(float).ravel())[0, 1] > 0.98


def _patch_png_size(path: Path, width: int, height: int) -> None:
    data = bytearray(path.read_bytes())
    ihdr = data.index(b"IHDR")
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", width, height)
    data[ihdr + 17 : ihdr + 21] = struct.pack(">I", zlib.crc32(bytes(data[ihdr : ihdr + 17])))
    path.write_bytes(bytes(data))


def _patch_jpeg_size(path: Path, width: int, height: int) -> None:
    data = bytearray(path.read_bytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(("ext", "patch"), [("png", _patch_png_size), ("jpg", _patch_jpeg_size)])
def test_a_20000_by_20000_image_is_refused_without_decoding_it(tmp_path, ext, patch):
    """A small file whose header claims 400 MP: decoding it would need 1.2 GB, so it must never be tried."""
    path = tmp_path / f"bomb.{ext}"
    Image.fromarray(ASTRONAUT[:64, :64]).save(path)
    patch(path, 20000, 20000)
    with pytest.raises(MediaError, match="bomb.* (20000x20000|too large)"):
        read_image(path)


def test_a_big_png_is_refused_with_a_way_out(tmp_path):
    path = tmp_path / "big.png"
    Image.fromarray(ASTRONAUT).save(path)
    with pytest.raises(MediaError, match=r"512x512 pixels .*downscale it or save it as JPEG"):
        read_image(path, max_pixels=100_000)


# --- broken and wrong files ----------------------------------------------------------------------


def test_missing_empty_and_folder_paths(tmp_path):
    with pytest.raises(MediaError, match="nothing.mp4: no such file"):
        probe(tmp_path / "nothing.mp4")
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(MediaError, match=r"empty.mp4 is empty \(0 bytes\)"):
        probe(tmp_path / "empty.mp4")
    (tmp_path / "clip.wav").mkdir()
    with pytest.raises(MediaError, match="is a folder"):
        read_audio(tmp_path / "clip.wav")


def test_unsupported_types_are_named_with_the_alternatives(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(MediaError, match=r"unsupported file type '.txt'; use an image \(jpg.*mp4"):
        probe(path)


@pytest.mark.parametrize("name", ["notes.mp4", "notes.wav", "notes.jpg"])
def test_text_renamed_as_media_is_recognised_by_content(tmp_path, name):
    path = tmp_path / name
    path.write_text("This is a shopping list, not a recording.\n" * 20)
    with pytest.raises(MediaError, match=rf"{name} is not a readable (video|audio|image)"):
        probe(path)


def test_a_truncated_mp4_is_damaged(tmp_path, speech):
    full = write_video(tmp_path / "full.mp4", 3.0, speech)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(MediaError, match="cut.mp4 is not a readable video file: damaged, incomplete"):
        read_audio(cut)


def test_a_truncated_wav_is_damaged(tmp_path, speech):
    full = write_audio(tmp_path / "full.wav", speech, "pcm_s16le", 16000, "mono")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 3])
    with pytest.raises(MediaError, match=r"cut.wav is truncated or damaged: it declares 3.\d s but only 1.\d s"):
        read_audio(cut)


@pytest.mark.parametrize("ext", ["png", "jpg"])
def test_a_truncated_image_is_damaged(tmp_path, ext):
    full = tmp_path / f"full.{ext}"
    Image.fromarray(ASTRONAUT).save(full)
    cut = tmp_path / f"cut.{ext}"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(MediaError, match=rf"cut.{ext} is damaged: the image cannot be decoded"):
        read_image(cut)


def test_a_video_without_sound_has_frames_but_no_audio(tmp_path):
    path = write_video(tmp_path / "silent.mp4", 1.0, audio=None)
    media = probe(path)
    assert (media.kind, media.has_video, media.has_audio) == ("video", True, False)
    assert load(path).audio is None
    with pytest.raises(MediaError, match="silent.mp4 has no audio track"):
        read_audio(path)
    assert len(list(iter_video_frames(path))) == 10


def test_audio_has_no_frames_and_images_have_no_sound(tmp_path, speech):
    sound = write_audio(tmp_path / "voice.flac", speech, "flac", 16000, "mono")
    with pytest.raises(MediaError, match="voice.flac has no video track"):
        list(iter_video_frames(sound))
    picture = tmp_path / "face.png"
    Image.fromarray(ASTRONAUT).save(picture)
    with pytest.raises(MediaError, match="face.png is an image; it has no sound"):
        read_audio(picture)


def test_the_extension_lists_are_disjoint_and_lower_case():
    exts = IMAGE_EXTS + AUDIO_EXTS + VIDEO_EXTS
    assert len(set(exts)) == len(exts) and all(e == e.lower() and not e.startswith(".") for e in exts)
