"""Subcommands of `python -m moodmusic`, one module each (see `moodmusic.cli`)."""
