"""House rules: the voice pipeline and media reading stay free of torch and streamlit."""

from __future__ import annotations

import subprocess
import sys


def test_audio_and_media_import_neither_torch_nor_streamlit():
    code = (
        "import sys, moodmusic.audio, moodmusic.media\n"
        "moodmusic.audio.warm_up()\n"
        "bad = sorted(m for m in ('torch', 'streamlit', 'cv2') if m in sys.modules)\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
