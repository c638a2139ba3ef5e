"""Benchmarks: how fast and how heavy moodmusic is here, measured rather than asserted in tests.

One module per thing measured: `vision` (the face pipeline), `audio` (the
voice pipeline's per-hop work), `live` (the engine alone, glass-to-mood),
`browser` (the live page in Chromium), `rtc` (headless aiortc visitors).
What the live benchmarks share has its own module: `page` (the app server
under test and the text its page shows), `meters` (CPU and memory from
/proc), `report` (a run's figures and table). Only `moodmusic.commands`
imports this package; a benchmark may import anything in the library.
"""
