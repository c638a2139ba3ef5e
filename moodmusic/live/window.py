"""The camera with the overlay in a desktop window (OpenCV's), for `python -m moodmusic live --window`.

The camera's thread hands each overlay frame to `offer`; the thread that
watches the session calls `show` every tick, since OpenCV's windows belong
to the thread that drives them. The project installs OpenCV without GUI
support, so `window_problem()` says when a window cannot open here.
"""

from __future__ import annotations

import os
import sys

import numpy as np

TITLE = "moodmusic"
_CLOSE_KEYS = (ord("q"), 27)  # q or Esc


def window_problem() -> str | None:
    """None when OpenCV can open a window here; otherwise why not, in one line."""
    import cv2

    info = cv2.getBuildInformation()
    gui = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.strip().startswith("GUI:")), "")
    if not gui or gui.upper() == "NONE":
        return ("--window is unavailable: this OpenCV build has no GUI support (the project installs "
                "opencv-python-headless). Watch the overlay in the web page instead (streamlit run app.py)")
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "--window is unavailable: there is no display (DISPLAY is not set)"
    return None


class PreviewWindow:
    """The newest overlay frame, shown when the watching thread asks."""

    def __init__(self) -> None:
        self._latest: dict[str, np.ndarray] = {}

    def offer(self, frame: np.ndarray) -> None:
        """Keep `frame` to show next (any thread)."""
        self._latest["frame"] = frame

    def show(self) -> bool:
        """Show the newest frame, if a new one came; True when q or Esc was pressed in the window."""
        import cv2

        frame = self._latest.pop("frame", None)
        if frame is not None:
            cv2.imshow(TITLE, frame)
        return (cv2.waitKey(1) & 0xFF) in _CLOSE_KEYS

    def close(self) -> None:
        import cv2

        cv2.destroyAllWindows()
