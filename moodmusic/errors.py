"""User-facing errors, owned by the library.

A `UserError` is a problem the person running moodmusic can fix (a missing
data folder, an option out of range). The library raises it with a message
that says what to do; the command line prints that one line and exits 2,
never a traceback. Errors of one domain that callers catch by name
(`media.MediaError`, `music.CatalogError`, `recognition.CheckpointError`) stay
with their domain.
"""

from __future__ import annotations

__all__ = ["UserError"]


class UserError(Exception):
    """A problem the user can fix; printed as one line, never as a traceback."""
