"""The headless visitor's camera behaves as a camera when its process falls behind: it skips, it never queues."""

from __future__ import annotations

import asyncio
import time


def test_a_starved_camera_skips_to_the_frame_of_now():
    from moodmusic.bench.rtc import VIDEO_FPS, _tracks

    camera, _ = _tracks()

    async def frames() -> list:
        first = await camera.recv()
        camera._start -= 1.0  # as if this process had been starved of CPU for a second
        late = await camera.recv()
        on_time = await camera.recv()
        return [first, late, on_time]

    t = time.monotonic()
    first, late, on_time = asyncio.run(frames())
    assert time.monotonic() - t < 0.5  # the missed second is not sent as a burst of 30 frames
    # the late frame's timestamp is its capture time (a second on), not the next slot after the first
    assert abs((late.pts - first.pts) * late.time_base - 1.0) < 2 / VIDEO_FPS
    assert on_time.pts - late.pts == 3000  # then on schedule again
    assert camera.sent == 3
