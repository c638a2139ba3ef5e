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

from moodmusic.moods import MOODS
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


# ----------------------------------------------------------------------------- the page's plain parts
KNOWN_LIMITS = "## Known limits"
COMMANDS = "## Commands that produced the committed models"
CONFUSION_NOTE = (
    "How to read it: each row is the **true** mood (the label the test photo or recording came with), each "
    "column the mood the model **predicted**; a cell is the share of that row's examples given that answer. "
    "The diagonal is how often each mood is recognised; the other cells are the mistakes."
)
RELIABILITY_NOTE = (
    "Each point groups answers given with about the same confidence (across) and shows how often they were "
    "right (up). On the dashed diagonal a model that says 70% is right 70% of the time: red is the model as "
    "trained, blue after calibration, which is what the app uses."
)
SECTION_NOTES = {  # a sentence under a card heading (matched by its start), for readers who are not experts
    "## Summary": "Accuracy is the share of test examples read right; macro-F1 averages a score per mood, so a "
                  "mood the model rarely gets right pulls it down even when that mood is rare.",
    "## Calibrated fusion": "How the app combines face and voice: each one's confidence is first corrected to "
                            "mean what it says, then the two are multiplied, the voice counting less when it "
                            "sounds unlike anything the model learned from.",
    "### Calibration": "Calibration checks that a confidence of 70% means right 70% of the time; ECE is the "
                       "average gap between the two (lower is better).",
    "### Voice in and out of corpus": "The voice model on recordings from a collection it never trained on "
                                      "(leave-one-corpus-out): closer to a new person at home than the test "
                                      "actors are, and clearly harder.",
    "### Novelty gate": "How the app notices a voice unlike the training recordings and lets it count less.",
    "### Face only, voice only, fused": "Whether face and voice together beat the better of the two alone, on "
                                        "test pairs never used to fit the rule.",
}


def _matrix(card: dict[str, Any], part: str) -> tuple[list[list[float]] | None, dict[str, float]]:
    """The test confusion matrix (clip level for the voice) and per-mood recall of the face or voice expert."""
    m = (card.get(part) or {}).get("test") or {}
    m = m.get("clip", m) if part == "voice" else m
    return m.get("confusion_matrix"), m.get("per_class_recall") or {}


def top_mistake(cm: list[list[float]] | None) -> tuple[str, str, float] | None:
    """(true mood, predicted mood, share of that mood's examples): the largest off-diagonal share.

    >>> top_mistake([[8, 2, 0, 0, 0, 0], [1, 5, 0, 0, 4, 0]] + [[0] * 6] * 4)
    ('fear', 'sad', 0.4)
    """
    if not cm:
        return None
    best = None
    for i, row in enumerate(cm):
        total = sum(row)
        for j, n in enumerate(row):
            if i != j and total and (best is None or n / total > best[2]):
                best = (MOODS[i], MOODS[j], n / total)
    return best


def _times_in_ten(x: float) -> str:
    return f"about {round(10 * x)} times in 10"


def summary(card: dict[str, Any] | None) -> str | None:
    """The plain summary the page opens with: how often each expert is right, what it confuses, in words.

    Every figure is read from the card (`model_card.json`); nothing here is typed by hand.
    """
    if not card:
        return None
    lines = []
    face = ((card.get("face") or {}).get("test")) or {}
    if face.get("accuracy") is not None:
        lines.append(f"- **Faces: right {_times_in_ten(face['accuracy'])}** ({face['accuracy']:.1%} of "
                     f"{face.get('n', 0):,} photos of faces it never saw, FER2013 test).")
    voice = card.get("voice") or {}
    clip = (voice.get("test") or {}).get("clip") or {}
    if clip.get("accuracy") is not None:
        first = (voice.get("first") or {}).get("accuracy")
        lines.append(f"- **Voices: right {_times_in_ten(clip['accuracy'])}** ({clip['accuracy']:.1%} of "
                     f"{clip.get('n', 0)} recordings of four actors it never heard, RAVDESS, heard one after "
                     "another as the live page hears you" + (f"; {first:.1%} on the very first words"
                                                              if first is not None else "") + ").")
    if lines:
        lines.append(f"- Guessing at random would be right 1 time in {len(MOODS)}.")
    for part, what in (("face", "faces"), ("voice", "recordings")):
        cm, recall = _matrix(card, part)
        mistake = top_mistake(cm)
        if mistake and recall:
            best, worst = max(recall, key=recall.get), min(recall, key=recall.get)
            lines.append(f"- **{what.capitalize()}: {worst} is the hardest mood** ({recall[worst]:.0%} of {worst} "
                         f"{what} recognised; {best} the easiest, {recall[best]:.0%}). The most common mistake: "
                         f"{mistake[0]} read as {mistake[1]} ({mistake[2]:.0%} of {mistake[0]} {what}).")
    if not lines:
        return None
    return ("## In short\n\n" + "\n".join(lines) + "\n\nAll of these were measured on people the models never "
            "saw or heard in training. Acted faces and voices are clearer than everyday ones: expect it to be "
            "wrong more often with you, and never use it to judge a person.")


def limits_markdown(card: dict[str, Any] | None) -> str:
    """What the models cannot do, from the card (or the card generator's fixed list), for the top of the page."""
    limits = (card or {}).get("limits") or card_lib.LIMITS
    return KNOWN_LIMITS + "\n\n" + "\n".join(f"- {x}" for x in limits)


def _cut(markdown: str, heading: str) -> str:
    """The markdown without the `## heading` section (up to the next `## ` heading)."""
    out, skipping = [], False
    for line in markdown.splitlines():
        if line.startswith("## "):
            skipping = line.strip() == heading
        if not skipping:
            out.append(line)
    return "\n".join(out)


def commands(card: dict[str, Any] | None) -> dict[str, str]:
    """{model: the command that produced it}, as the card lists them."""
    return dict((card or {}).get("commands") or {})


def details(markdown: str, card: dict[str, Any] | None) -> str:
    """The card for the page below its summary: limits (shown at the top) and the commands (shown once,
    in an expander) taken out, each inline training command replaced by a pointer to that list."""
    text = _cut(_cut(markdown, KNOWN_LIMITS), COMMANDS)
    for name, cmd in commands(card).items():
        text = text.replace(f"`{cmd}`", f"the *{name}* command (under *Commands*, below)")
    return text


def section_note(block: str) -> str:
    """A markdown block with a plain sentence put under each heading SECTION_NOTES knows."""
    out = []
    for line in block.splitlines():
        out.append(line)
        for heading, note in SECTION_NOTES.items():
            if line.startswith(heading):
                out += ["", f"*{note}*"]
    return "\n".join(out)


def figure_note(alt: str, card: dict[str, Any] | None) -> str | None:
    """The sentence under a figure: how to read a confusion matrix (with its most common mistake) or a
    reliability diagram."""
    if "confusion" in alt:
        part = alt.split()[0]
        mistake = top_mistake(_matrix(card or {}, part)[0]) if part in ("face", "voice") else None
        extra = (f" The most common mistake here: {mistake[0]} read as {mistake[1]} ({mistake[2]:.0%})."
                 if mistake else "")
        return CONFUSION_NOTE + extra
    if "reliability" in alt:
        return RELIABILITY_NOTE
    return None


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
