"""Every command that had to run before a face checkpoint's own, oldest first: its lineage.

A face expert is rarely one command any more: teachers, a distilled
student, fine-tunes that start from it (`--init`), weight averages of
those (`train face-soup`), fine-tunes of the average, and so on. Each
checkpoint records the steps that made its inputs, so the model card can
print the whole recipe in the order it must run, each step with the file
it wrote and that file's sha1 when it was read.

>>> a = {"command": "train face --out a.pt"}
>>> b = {"command": "train face --init a.pt --out b.pt", "lineage": [step("a.pt", a)]}
>>> [s["command"] for s in merge(lineage_of(b) + [step("b.pt", b)], lineage_of(a) + [step("a.pt", a)])]
['train face --out a.pt', 'train face --init a.pt --out b.pt']
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any


def step(path: str | Path, meta: dict[str, Any], sha1: str | None = None) -> dict[str, Any]:
    """One step: the checkpoint at `path` and the command that wrote it (the file's sha1 when it exists)."""
    if sha1 is None and Path(path).is_file():
        sha1 = hashlib.sha1(Path(path).read_bytes()).hexdigest()
    return {"path": str(path), "sha1": sha1, "command": meta.get("command")}


def lineage_of(meta: dict[str, Any]) -> list[dict[str, Any]]:
    """The steps before this checkpoint's own command, oldest first.

    Checkpoints written before lineages were recorded give what their
    metadata names, one level deep: teachers, the starting point, the
    averaged models.
    """
    if "lineage" in meta:
        return [dict(s) for s in meta["lineage"]]
    steps = [{"path": t.get("path"), "sha1": t.get("sha1"), "command": t.get("command")}
             for t in meta.get("teachers") or []]
    init = meta.get("init") or {}
    if init.get("command"):
        steps.append({"path": init.get("path"), "sha1": init.get("sha1"), "command": init["command"]})
    steps += [{"path": p.get("path"), "sha1": p.get("sha1"), "command": p.get("command")}
              for p in (meta.get("soup") or {}).get("ingredients") or []]
    return merge(steps)


def lineage_from_files(meta: dict[str, Any]) -> list[dict[str, Any]]:
    """`lineage_of`, with an old checkpoint's steps opened where their files still hold what was read.

    A step of an old checkpoint whose file is on disk with the recorded
    sha1 adds that file's own lineage before it (for an old average: its
    distilled student's teachers). A step without a sha1, or whose path now
    holds another file, is taken as recorded.
    """
    steps = lineage_of(meta)
    if "lineage" in meta:
        return steps
    from moodmusic.recognition.checkpoint import CheckpointError, load_checkpoint

    out: list[dict[str, Any]] = []
    for s in steps:
        path = Path(str(s.get("path")))
        if s.get("sha1") and path.is_file() and hashlib.sha1(path.read_bytes()).hexdigest() == s["sha1"]:
            try:
                out += lineage_from_files(load_checkpoint(path, kind="face")[1])
            except (CheckpointError, OSError):
                pass
        out.append(s)
    return merge(out)


def merge(*lineages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The steps of several lineages in one order, each command once (its first place, with the first sha1
    recorded for it), none without one."""
    seen: dict[str, dict[str, Any]] = {}
    for steps in lineages:
        for s in steps:
            if not s.get("command"):
                continue
            if s["command"] not in seen:
                seen[s["command"]] = dict(s)
            elif not seen[s["command"]].get("sha1") and s.get("sha1"):
                seen[s["command"]]["sha1"] = s["sha1"]
    return list(seen.values())
