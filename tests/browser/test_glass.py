"""Glass-to-mood through the whole live page: a fake camera that swaps two real faces.

The camera alternates the astronaut (read as happy) and Grace Hopper (read as
neutral) every 4 s with a silent microphone; the page's `Mood:` must follow
every swap before the next one. How fast it follows is a figure for
`python -m moodmusic bench --live`, not a test.
"""

from __future__ import annotations

import pytest

from moodmusic.bench.browser import glass_in_browser

pytestmark = pytest.mark.browser


def test_the_page_mood_follows_each_face_swap():
    result = glass_in_browser(hold=4.0, seconds=17.0)
    assert result["browser_glass_missed"] == 0, result
    assert len(result["browser_glass_s"]) >= 2, result  # swaps about 4, 8 (and 12) s after START
    assert result["browser_glass_reference"] == "the camera frame that changed", result  # the probe saw the swaps
    assert all(0.0 < d < 4.0 for d in result["browser_glass_s"]), result
