"""The model card as the Model page shows it: the generated card, its figures, staleness, latency.

`models/MODEL_CARD.md` (written by `python -m moodmusic evaluate`) is the one
source: it is split into markdown blocks and figures so images load from
`models/`. Without a card the fixed parts (data, splits, references, limits)
still show, with the command that produces the rest.

>>> blocks = split_blocks("# Card\\n\\ntext\\n\\n![face cm](figures/f.png)\\n\\nmore", "/m")
>>> [b.kind for b in blocks], blocks[1].path.as_posix(), blocks[1].text
(['markdown', 'image', 'markdown'], '/m/figures/f.png', 'face cm')
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moodmusic.training import card as card_lib

EVALUATE = "python -m moodmusic evaluate --data /path/to/shared/data"
_IMAGE = re.compile(r"^!\[(?P<alt>[^\]]*)\]\((?P<path>[^)]+)\)\s*$")
MODEL_FILES = {"face": "face_expert.pt", "voice": "voice_expert.pt"}


@dataclass(frozen=True)
class Block:
    kind: str  # "markdown" | "image"
    text: str  # markdown, or the image's alt text
    path: Path | None = None


@dataclass
class CardView:
    markdown: str
    card: dict[str, Any] | None  # model_card.json, when present and readable
    generated: bool  # False: only the fixed parts, no card written yet
    problems: list[str] = field(default_factory=list)


def split_blocks(markdown: str, base: str | Path) -> list[Block]:
    """Markdown text with each `![alt](path)` line turned into an image block resolved against `base`."""
    blocks: list[Block] = []
    buf: list[str] = []

    def flush() -> None:
        text = "\n".join(buf).strip()
        if text:
            blocks.append(Block("markdown", text))
        buf.clear()

    for line in markdown.splitlines():
        m = _IMAGE.match(line.strip())
        if m:
            flush()
            blocks.append(Block("image", m["alt"], Path(base) / m["path"]))
        else:
            buf.append(line)
    flush()
    return blocks


def fixed_parts() -> str:
    """Data, splits, reference figures and known limits: the parts of the card no evaluation changes."""
    text = card_lib.render_markdown({})
    return text[text.index("## Data and licenses"):]


def _without_title(markdown: str) -> str:
    """The card minus its `# title` line: the page has its own title."""
    lines = markdown.lstrip().splitlines()
    return "\n".join(lines[1:] if lines and lines[0].startswith("# ") else lines)


def load(models_dir: str | Path) -> CardView:
    """The generated card from `models_dir`, or the fixed parts and why there is no card."""
    models_dir = Path(models_dir)
    md, js = models_dir / "MODEL_CARD.md", models_dir / "model_card.json"
    problems: list[str] = []
    card = None
    if js.is_file():
        try:
            card = json.loads(js.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            problems.append(f"{js.name} cannot be read ({exc}); regenerate it with `{EVALUATE}`")
    if md.is_file():
        try:
            return CardView(_without_title(md.read_text(encoding="utf-8")), card, True, problems)
        except OSError as exc:
            problems.append(f"{md.name} cannot be read ({exc})")
    if card is not None:  # the JSON alone is enough to render the card
        return CardView(_without_title(card_lib.render_markdown(card)), card, True, problems)
    problems.append(f"No model card has been generated yet. Produce it with `{EVALUATE}` "
                    "(it recomputes every figure from the weights in models/ and the data).")
    return CardView(fixed_parts(), None, False, problems)


def stale(card: dict[str, Any] | None, models_dir: str | Path) -> list[str]:
    """Models whose file is not the one the card's figures were computed from."""
    if not card:
        return []
    out = []
    for part, name in MODEL_FILES.items():
        expected = (card.get(part) or {}).get("sha1")
        path = Path(models_dir) / name
        if expected and path.is_file() and hashlib.sha1(path.read_bytes()).hexdigest() != expected:
            out.append(f"models/{name} has changed since the card was written: its figures describe an older "
                       f"{part} model. Rerun `{EVALUATE}`.")
        elif expected and not path.is_file():
            out.append(f"models/{name} is missing, so the {part} figures describe a model this app does not have.")
    return out


def measure_latency(iterations: int = 50, timeout: float = 240.0) -> dict[str, Any]:
    """Run `python -m moodmusic bench --json` in a fresh process on this machine and return its figures."""
    proc = subprocess.run(
        [sys.executable, "-m", "moodmusic", "bench", "--json", "--iterations", str(iterations)],
        capture_output=True, text=True, timeout=timeout, cwd=Path(card_lib.__file__).resolve().parents[2],
    )
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"the benchmark failed: {tail[0]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


LATENCY_LABELS = {
    "face_ms": "face pipeline per frame (tracking)",
    "face_detect_ms": "face pipeline per frame (detect every frame)",
    "audio_ms": "voice features per 2 s window",
    "model_ms": "both experts + fusion per step",
}


def latency_rows(bench: dict[str, Any]) -> list[dict[str, Any]]:
    """The bench's p50/p95 figures as table rows."""
    rows = []
    for key, label in LATENCY_LABELS.items():
        if f"{key}_p50" in bench:
            rows.append({"step": label, "p50 (ms)": bench[f"{key}_p50"], "p95 (ms)": bench[f"{key}_p95"]})
    return rows
