r"""Escaping for text from outside (track names, artists, file names) before it is rendered.

>>> print(plain("**Bold** <b>x</b> [link](http://x)"))
\*\*Bold\*\* &lt;b&gt;x&lt;/b&gt; \[link\]\(http\://x\)
>>> print(plain("Don't You Know I'm In a Band"))   # quotes need no escaping in markdown
Don't You Know I'm In a Band
"""

from __future__ import annotations

import html
import re

_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-!|~>$:])")


def plain(text: object) -> str:
    """Text safe for st.markdown/st.caption: HTML escaped and markdown neutralised.

    Quotes are left alone: their entities (`&#x27;`) hold a `#`, which the markdown escaping below would
    break into `&\\#x27;`, and the page would then show the code instead of the apostrophe.
    """
    s = html.escape(str(text), quote=False)
    return _MARKDOWN_SPECIALS.sub(r"\\\1", s)


def attr(text: object) -> str:
    """Text safe inside an HTML attribute or element we build ourselves."""
    return html.escape(str(text), quote=True)
