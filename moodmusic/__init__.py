"""moodmusic: realtime mood recognition from face and voice, and music that fits.

The public surface is small on purpose: the six moods, the settings, and the
command line. Everything else lives in sub-packages named after the room of
the house it belongs to (vision, audio, recognition, live, music, training).
"""

from moodmusic.moods import MOODS

__all__ = ["MOODS", "__version__"]
__version__ = "0.1.0"
