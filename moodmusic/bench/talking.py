"""`bench --talking`: real talking clips through the live engine (see `moodmusic.live.replay`), as a table.

Run: `python -m moodmusic bench --talking [CLIP ...]` or `python -m moodmusic.bench.talking [CLIP ...]`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from moodmusic.live.replay import mood_of, shared_talking_clips, talking_report


def talking_table(report: dict[str, Any]) -> str:
    lines = [f"{'talking clip':<38}{'mood':<10}{'switches/min':>13}{'right':>8}  shown"]
    for r in report["talking_clips"]:
        shown = ", ".join(f"{m} {n}" for m, n in r["shown"].items())
        lines.append(f"{r['clip']:<38}{r['mood']:<10}{r['switches_per_min']:>13.1f}{r['right_share']:>8.0%}  {shown}")
    for c in report["talking_changes"]:
        delay = "never" if c["delay_s"] is None else f"{c['delay_s']:.2f} s"
        lines.append(f"change {c['from']} -> {c['to']}: shows after {delay}")
    lines.append("targets: at most 8 switches a minute, the clip's mood at least 75% of the time, "
                 "a real change within 1.5 s")
    return "\n".join(lines)


__all__ = ["mood_of", "shared_talking_clips", "talking_report", "talking_table"]

if __name__ == "__main__":  # python -m moodmusic.bench.talking [CLIP ...]
    import sys

    given = [(Path(p), mood_of(Path(p))) for p in sys.argv[1:]]
    print(talking_table(talking_report([(p, m) for p, m in given if m] if given else shared_talking_clips())))
