"""The package's public surface: every name it offers resolves, and importing it stays light."""

from __future__ import annotations

import subprocess
import sys

import moodmusic.recognition as recognition
from moodmusic.recognition import experts, fusion


def test_every_public_name_resolves():
    for name in recognition.__all__:
        assert getattr(recognition, name) is not None, name
    assert recognition.load_experts is experts.load_experts
    assert recognition.fuse is fusion.fuse


def test_unknown_name_is_an_attribute_error():
    assert not hasattr(recognition, "no_such_name")


def test_importing_the_package_or_fusion_loads_no_torch():
    """The live engine fuses opinions through `recognition.fusion`; that path must not load torch."""
    code = (
        "import sys\n"
        "import moodmusic.recognition\n"
        "from moodmusic.recognition import Opinion, fuse, classification_metrics\n"
        "from moodmusic.recognition.fusion import Opinion\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
