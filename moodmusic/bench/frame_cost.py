"""What one camera frame costs the live server, by picture size: `python -m moodmusic.bench.frame_cost`.

Every frame a browser sends is decoded (VP8), converted to BGR, read by the
engine (face tracker, and the face expert every 50 ms), drawn on (the face
box and mood) and encoded back as the preview. Each of those steps grows
with the picture's pixels, which is why the live page asks the camera for
480x360 (`MOODMUSIC_CAPTURE_SIZE`). This times each step on one thread, in
CPU time, for the sample face scene (the head and shoulders on a wall, as
the headless visitor sends it) scaled to each size as a camera would, sent
through a real VP8 encoder and decoder at 30 fps of simulated time.

With `--agreement` and the shared data folder (MOODMUSIC_SHARED_DATA), it
also reads every fifth frame of the MEAD speaker's clips, placed in a
640x480 scene at two distances (the face box's height at 640x480 is
printed) and scaled to each size, and reports how often the face expert's
top mood is the one it reads at 640x480, and by how much its probabilities
move.
"""

from __future__ import annotations

import argparse
import fractions
import math
import time
from typing import Any

import cv2
import numpy as np

SIZES = ("640x480", "480x360", "320x240")
STEPS = ("decode", "to_bgr", "engine", "overlay", "encode")


def _scene_frames(width: int, height: int, n: int) -> list[np.ndarray]:
    """The sample face scene at 640x480, moving a little, scaled to `width`x`height`."""
    from moodmusic import samples

    face = samples.face_frame(640, 480)
    frames = [np.roll(face, (round(4 * math.sin(i / 9)), round(6 * math.sin(i / 7))), axis=(0, 1)) for i in range(n)]
    if (width, height) != (640, 480):
        frames = [cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in frames]
    return frames


def _as_sent(frames: list[np.ndarray]) -> list[bytes]:
    """The frames VP8-encoded as a browser sends them (aiortc's encoder), one payload per frame."""
    import av
    from aiortc.codecs.vpx import Vp8Encoder, VpxPayloadDescriptor

    encoder, sent = Vp8Encoder(), []
    for i, image in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420), format="yuv420p")
        frame.pts, frame.time_base = i * 3000, fractions.Fraction(1, 90000)
        packets, _ = encoder.encode(frame)
        sent.append(b"".join(VpxPayloadDescriptor.parse(p)[1] for p in packets))
    return sent


def frame_cost(size: str, experts: Any, frames: int = 150) -> dict[str, float]:
    """Mean CPU milliseconds per frame of each server step at `size` ("WxH"), and their sum."""
    from aiortc.codecs.vpx import Vp8Decoder
    from aiortc.jitterbuffer import JitterFrame

    from moodmusic.live import new_session
    from moodmusic.live.sources.webrtc import overlay_frame
    from moodmusic.live.transport.preview_encoder import preview_encoder_class
    from moodmusic.vision import FaceTracker

    width, height = (int(v) for v in size.split("x"))
    sent = _as_sent(_scene_frames(width, height, frames))
    session = new_session(experts, tracker=FaceTracker(), start_worker=False)
    t = {"now": 0.0}
    session.clock = lambda: t["now"]  # 30 fps of simulated time: the face expert runs as often as live
    decoder, encoder = Vp8Decoder(), preview_encoder_class()()
    spent: dict[str, list[float]] = {step: [] for step in STEPS}
    faces = 0
    try:
        for i, data in enumerate(sent + sent):  # the first pass warms everything up
            t["now"] = i / 30.0
            c0 = time.thread_time()
            (frame,) = decoder.decode(JitterFrame(data=data, timestamp=i * 3000))
            c1 = time.thread_time()
            image = frame.to_ndarray(format="bgr24")
            c2 = time.thread_time()
            overlay = session.read_video(image, pixel_format="bgr")
            c3 = time.thread_time()
            back = overlay_frame(frame, image, overlay) if overlay.faces else frame
            back.pts, back.time_base = i * 3000, fractions.Fraction(1, 90000)
            c4 = time.thread_time()
            encoder.encode(back)
            c5 = time.thread_time()
            if i >= len(sent):
                faces += bool(overlay.faces)
                for step, (a, b) in zip(STEPS, [(c0, c1), (c1, c2), (c2, c3), (c3, c4), (c4, c5)]):
                    spent[step].append((b - a) * 1000)
    finally:
        session.close()
    out = {step: round(float(np.mean(v)), 2) for step, v in spent.items()}
    out["total"] = round(sum(out[step] for step in STEPS), 2)
    out["faces_found"] = round(faces / len(sent), 3)
    return out


def expert_agreement(experts: Any, sizes: tuple[str, ...] = SIZES, every: int = 5) -> list[dict[str, Any]]:
    """How the face expert's reading of real talking clips moves with the picture size (needs the shared data)."""
    from moodmusic import media
    from moodmusic.live.replay import shared_talking_clips
    from moodmusic.vision import FaceTracker

    clips = [path for path, _ in shared_talking_clips() if "_front_" in path.name]
    if not clips:
        raise FileNotFoundError("no MEAD clips: set MOODMUSIC_SHARED_DATA to the shared data folder")
    rows = []
    for side in (400, 200):  # the 256x256 clip's side in the 640x480 scene: a near face and a further one
        read: dict[str, list[np.ndarray]] = {size: [] for size in sizes}
        heights: list[int] = []  # the face box's height at the first size
        for path in clips:
            frames = [f for _, f in media.iter_video_frames(path, fps=25.0 / every)]
            for size in sizes:
                width, height = (int(v) for v in size.split("x"))
                tracker = FaceTracker(redetect_every=1)
                for f in frames:
                    scene = np.full((480, 640, 3), 60, np.uint8)
                    y, x = (480 - side) // 2, (640 - side) // 2
                    scene[y:y + side, x:x + side] = cv2.resize(f, (side, side), interpolation=cv2.INTER_AREA)
                    if size != "640x480":
                        scene = cv2.resize(scene, (width, height), interpolation=cv2.INTER_AREA)
                    faces = tracker.process(scene)
                    if faces and size == sizes[0]:
                        heights.append(faces[0].box[3])
                    read[size].append(np.asarray(experts.face(faces[0].crop[None]))[0] if faces
                                      else np.full(6, np.nan))
        ref = np.array(read[sizes[0]])
        for size in sizes:
            probs = np.array(read[size])
            both = ~np.isnan(probs[:, 0]) & ~np.isnan(ref[:, 0])
            rows.append({
                "face_px": int(np.median(heights)) if heights else 0, "size": size, "frames": int(len(probs)),
                "found": round(float(np.mean(~np.isnan(probs[:, 0]))), 3),
                "same_top_mood": round(float(np.mean(probs[both].argmax(1) == ref[both].argmax(1))), 3),
                "mean_abs_change": round(float(np.mean(np.abs(probs[both] - ref[both]))), 4),
            })
    return rows


def main(argv: list[str] | None = None) -> None:
    from moodmusic.config import parse_capture_size
    from moodmusic.live.assemble import pin_threads
    from moodmusic.pipeline import load_experts

    parser = argparse.ArgumentParser(prog="python -m moodmusic.bench.frame_cost", description=__doc__.split("\n")[0])
    parser.add_argument("sizes", nargs="*", default=list(SIZES), help="picture sizes, WxH (default: %(default)s)")
    parser.add_argument("--agreement", action="store_true", help="also the face expert's agreement across sizes "
                        "on the MEAD clips (needs MOODMUSIC_SHARED_DATA)")
    args = parser.parse_args(argv)
    try:
        sizes = ["x".join(map(str, parse_capture_size(s, "a size"))) for s in args.sizes]
    except ValueError as exc:
        parser.error(str(exc))
    pin_threads()
    experts = load_experts()
    print("CPU ms per frame, one thread (the sample face scene, VP8 both ways, the face expert every 50 ms at 30 fps)")
    print(f"{'size':>8} " + " ".join(f"{s:>8}" for s in (*STEPS, "total")) + "  faces found")
    for size in sizes:
        r = frame_cost(size, experts)
        print(f"{size:>8} " + " ".join(f"{r[s]:>8.2f}" for s in (*STEPS, "total")) + f"  {r['faces_found']:.0%}")
    if args.agreement:
        print("\nthe face expert on the MEAD clips, against its reading at 640x480")
        print(f"{'face px at 640x480':>19} {'size':>8} {'frames':>7} {'found':>6} {'same top mood':>14} {'mean |change|':>14}")
        for r in expert_agreement(experts, ("640x480", *[s for s in sizes if s != "640x480"])):
            print(f"{r['face_px']:>19} {r['size']:>8} {r['frames']:>7} {r['found']:>6.0%} {r['same_top_mood']:>14.1%} "
                  f"{r['mean_abs_change']:>14.4f}")


if __name__ == "__main__":
    main()
