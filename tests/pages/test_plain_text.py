"""Text from outside (file names, track names, errors) is escaped exactly once on the pages."""

import html
import re

import pytest

from moodmusic.ui.text import plain


@pytest.mark.parametrize("name", ["Don't You Know I'm In a Band", 'say "hi".mp4', "Tom & Jerry's clip.mp4"])
def test_quotes_and_ampersands_show_as_themselves(name):
    out = plain(name)
    # what markdown shows: entities are decoded where they stand in the source, then backslash escapes
    # drop (an entity broken by an escape, "&\\#x27;", is shown as its code)
    shown = re.sub(r"\\(.)", r"\1", html.unescape(out))
    assert shown == name


def test_markup_is_neutralised():
    out = plain("<script>x</script> **b** [l](u)")
    assert "<script>" not in out and "\\*\\*" in out and "\\[" in out
