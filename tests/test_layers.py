"""The doors of the house plan (DESIGN.md, "Doors that open one way"), kept shut.

The imports of every module in `moodmusic/`, of `app.py` and of `pages/` are
read with `ast`, never run, so a door that opens the wrong way fails here on
any machine, whatever is installed. Every import counts, also one inside a
function: a lazy import defers loading a module, not depending on it (the two
loops issue 24 found, bench rtc <-> browser and training face <->
teacher_views, were both held together by function-local imports).

Where code has a reason to break a rule, `_EXCEPTIONS` says which import and
why; where it breaks one with no good reason yet, `_TO_FIX` names it until it
is fixed. No rule is ever dropped: both tables are checked against the code,
so an entry outlives the import it excuses by one test run at most, and the
last tests feed the checker a small tree that breaks every rule.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


# --- reading the imports -------------------------------------------------------------------------


@dataclass(frozen=True)
class Import:
    """One module depending on another: `importer` imports `target`."""

    importer: str  # "moodmusic.ui.streamer", "app", "pages.2_History"
    target: str  # absolute: the module imported, or the one a name was taken from
    where: str  # "moodmusic/ui/streamer.py:27"
    lazy: bool = False  # inside a function: loaded on the call, not on import

    def __str__(self) -> str:
        return f"{self.where}: {self.importer} imports {self.target}" + (" (in a function)" if self.lazy else "")


@dataclass(frozen=True)
class Dynamic:
    """An `importlib.import_module(...)` whose argument is not a string literal."""

    importer: str
    where: str
    prefix: str | None  # the f-string's literal start ("moodmusic.training.") if it has one


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files(root: Path) -> list[Path]:
    files = sorted((root / "moodmusic").rglob("*.py"))
    files += [root / "app.py"] if (root / "app.py").is_file() else []
    return files + sorted((root / "pages").glob("*.py"))


class _Reader(ast.NodeVisitor):
    def __init__(self, importer: str, is_package: bool, rel: str, modules: set[str]) -> None:
        self.importer, self.rel, self.modules = importer, rel, modules
        self.package = importer if is_package else importer.rpartition(".")[0]
        self.depth = 0
        self.aliases: dict[str, str] = {}  # `import moodmusic.commands as pkg`: pkg -> moodmusic.commands
        self.imports: list[Import] = []
        self.dynamic: list[Dynamic] = []

    def _add(self, target: str, node: ast.stmt | ast.expr) -> None:
        self.imports.append(Import(self.importer, target, f"{self.rel}:{node.lineno}", self.depth > 0))

    def _function(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)
            self.aliases[alias.asname or alias.name] = alias.name

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:  # `from . import x`, `from ..vision import y`: relative to this module's package
            parts = self.package.split(".")
            anchor = ".".join(parts[: len(parts) - (node.level - 1)])
            base = f"{anchor}.{base}" if base else anchor
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            self._add(sub if sub in self.modules else base, node)  # `from pkg import submodule` imports it

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
        if name in ("import_module", "__import__") and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                self._add(arg.value, node)
            else:
                self.dynamic.append(Dynamic(self.importer, f"{self.rel}:{node.lineno}", self._literal_start(arg)))
        self.generic_visit(node)

    def _literal_start(self, arg: ast.expr) -> str | None:
        """The package an f-string names before its first unknown part: f"{__name__}.{x}" -> "this.module."."""
        start = ""
        for part in arg.values if isinstance(arg, ast.JoinedStr) else []:
            value = part.value if isinstance(part, ast.FormattedValue) else part
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                start += value.value
            elif isinstance(value, ast.Name) and value.id == "__name__":
                start += self.importer
            elif (isinstance(value, ast.Attribute) and value.attr == "__name__"
                  and isinstance(value.value, ast.Name) and value.value.id in self.aliases):
                start += self.aliases[value.value.id]
            else:
                break
        return start.rpartition(".")[0] + "." if "." in start else None


def read_imports(root: Path) -> tuple[list[Import], list[Dynamic], set[str]]:
    """Every import under `root` (its `moodmusic/`, `app.py`, `pages/`), and the modules found there."""
    files = source_files(root)
    modules = {module_name(f, root) for f in files}
    imports: list[Import] = []
    dynamic: list[Dynamic] = []
    for path in files:
        rel = path.relative_to(root).as_posix()
        reader = _Reader(module_name(path, root), path.name == "__init__.py", rel, modules)
        reader.visit(ast.parse(path.read_text(encoding="utf-8"), filename=rel))
        imports += reader.imports
        dynamic += reader.dynamic
    return imports, dynamic, modules


# Imports whose module name is computed in a way the reader cannot follow: importer -> (the package
# it imports every module of, why). An f-string that starts with the package needs no entry (f"moodmusic.
# training.{x}", f"{__name__}.{x}", f"{pkg.__name__}.{x}" after `import moodmusic.commands as pkg`): it
# counts as importing every module of that package.
_DYNAMIC_IMPORTS: dict[str, tuple[str, str]] = {}


def resolve_dynamic(dynamic: Iterable[Dynamic], modules: set[str]) -> list[Import]:
    """The imports a dynamic `import_module` can make; one nobody can read fails `test_dynamic_imports_are_known`."""
    found = []
    for d in dynamic:
        package = d.prefix.rstrip(".") if d.prefix else _DYNAMIC_IMPORTS.get(d.importer, (None,))[0]
        if package:
            inside = sorted(m for m in modules if _under(m, (package,)) and m != package)
            found += [Import(d.importer, m, d.where, True) for m in inside]
    return found


@cache
def project() -> tuple[tuple[Import, ...], tuple[Dynamic, ...], frozenset[str]]:
    imports, dynamic, modules = read_imports(ROOT)
    return tuple(imports + resolve_dynamic(dynamic, modules)), tuple(dynamic), frozenset(modules)


# --- the rules ------------------------------------------------------------------------------------


def _under(name: str, prefixes: Iterable[str]) -> bool:
    """`name` is one of `prefixes` or inside one ("" is everything): "streamlit.proto.X" is under "streamlit"."""
    return any(p == "" or name == p or name.startswith(p + ".") for p in prefixes)


@dataclass(frozen=True)
class Rule:
    """Modules under `importers`, except those under `allowed`, never import anything under `forbidden`."""

    name: str
    door: str
    importers: tuple[str, ...]
    forbidden: tuple[str, ...]
    allowed: tuple[str, ...] = ()

    def breaches(self, imports: Iterable[Import]) -> list[Import]:
        return [i for i in imports
                if _under(i.importer, self.importers) and not _under(i.importer, self.allowed)
                and _under(i.target, self.forbidden)]


LIBRARY = ("moodmusic",)
PAGES = ("app", "pages", "moodmusic.ui")
LOWER_FLOORS = ("moodmusic.vision", "moodmusic.audio", "moodmusic.recognition", "moodmusic.moods")
UPPER_FLOORS = ("moodmusic.live", "moodmusic.analysis", "moodmusic.training", "moodmusic.ui", "moodmusic.music",
                "moodmusic.store", "moodmusic.media", "moodmusic.pipeline", "moodmusic.samples")

RULES = [
    Rule("streamlit", "only app.py, pages/ and ui/ import streamlit",
         ("",), ("streamlit",), allowed=PAGES),
    Rule("webrtc-libraries", "only live/sources/ imports streamlit_webrtc, aiortc and sounddevice",
         ("",), ("streamlit_webrtc", "aiortc", "sounddevice"), allowed=("moodmusic.live.sources",)),
    Rule("spotipy", "only music/spotify.py imports spotipy",
         ("",), ("spotipy",), allowed=("moodmusic.music.spotify",)),
    Rule("no-torch-in-features", "vision/ and audio/ never import torch (they run per frame, in every process)",
         ("moodmusic.vision", "moodmusic.audio"), ("torch", "torchaudio", "torchvision")),
    Rule("recognition-works-on-arrays", "recognition/ never imports vision/ or audio/",
         ("moodmusic.recognition",), ("moodmusic.vision", "moodmusic.audio")),
    Rule("music-and-store-know-moods", "music/ and store know moods and nothing of faces, voices or models",
         ("moodmusic.music", "moodmusic.store"),
         ("moodmusic.vision", "moodmusic.audio", "moodmusic.recognition", "moodmusic.live", "moodmusic.training",
          "moodmusic.analysis", "moodmusic.pipeline", "moodmusic.media", "moodmusic.ui")),
    Rule("library-never-imports-the-cli", "the library never imports the CLI or commands/",
         LIBRARY, ("moodmusic.cli", "moodmusic.commands"),
         allowed=("moodmusic.cli", "moodmusic.__main__", "moodmusic.commands")),
    Rule("bench-only-from-commands", "nothing but commands/ imports bench/",
         ("",), ("moodmusic.bench",), allowed=("moodmusic.commands", "moodmusic.bench")),
    Rule("lower-floors-look-down", "vision, audio, recognition and moods never import the floors above them",
         LOWER_FLOORS, UPPER_FLOORS),
    Rule("ui-only-from-pages", "only app.py and pages/ import ui/: the library renders nothing",
         LIBRARY, ("moodmusic.ui",), allowed=("moodmusic.ui",)),
    Rule("deploy-starts-processes", "deploy/ starts and watches processes; it never imports the engine, the models, "
         "the pages or Streamlit (the replicas it starts do)",
         ("moodmusic.deploy",), ("moodmusic.live", "moodmusic.ui", "moodmusic.recognition", "moodmusic.training",
                                 "moodmusic.vision", "moodmusic.audio", "moodmusic.pipeline", "moodmusic.analysis",
                                 "torch", "streamlit", "streamlit_webrtc", "aiortc")),
    Rule("web-framework", "only serve/ and commands/serve.py import fastapi, starlette and uvicorn: "
         "the REST API is a thin adapter over the library",
         ("",), ("fastapi", "starlette", "uvicorn"), allowed=("moodmusic.serve", "moodmusic.commands.serve")),
]

Entry = tuple[str, str, str]  # (rule name, importer, imported), matched as prefixes like the rules

# (rule, importer, imported): why this door is open. An empty imported name stands for every name
# the rule forbids.
_EXCEPTIONS: dict[Entry, str] = {
    ("streamlit", "moodmusic.live.transport", ""):
        "the transport package patches Streamlit's runtime (the relay it keeps, how it flushes page "
        "messages): it must import what it patches; it renders nothing",
    ("webrtc-libraries", "moodmusic.live.transport", ""):
        "the transport package patches streamlit-webrtc's relay and aiortc's sockets and encoder, "
        "each against the library version it was written for",
    ("webrtc-libraries", "moodmusic.ui.streamer", "streamlit_webrtc"):
        "`webrtc_streamer` is a Streamlit component: the START/STOP widget and preview the page renders; "
        "the media it carries is handled in live/sources/webrtc.py",
    ("streamlit", "moodmusic.bench", "streamlit.proto"):
        "the RTC benchmark plays visitors without a browser: it speaks the page's websocket protocol, "
        "whose messages are Streamlit's protobuf classes; it renders nothing",
    ("webrtc-libraries", "moodmusic.bench", "aiortc"):
        "the RTC benchmark's visitors are aiortc peers sending the camera and microphone a browser would",
}

# (rule, importer, imported): a door open with no good reason, and who closes it. Remove the entry
# with the import: a stale entry fails.
_TO_FIX: dict[Entry, str] = {}


def _covers(entry: Entry, imp: Import) -> bool:
    _, importer, target = entry
    return _under(imp.importer, (importer,)) and _under(imp.target, (target,))


def _unexcused(rule: Rule, imports: Iterable[Import]) -> list[Import]:
    entries = [e for e in (*_EXCEPTIONS, *_TO_FIX) if e[0] == rule.name]
    return [i for i in rule.breaches(imports) if not any(_covers(e, i) for e in entries)]


@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
def test_door(rule: Rule) -> None:
    imports, _, _ = project()
    breaches = _unexcused(rule, imports)
    assert not breaches, f"{rule.door}; broken by:\n  " + "\n  ".join(map(str, breaches))


def stale_entries(entries: Iterable[Entry], imports: list[Import], modules: Iterable[str]) -> list[Entry]:
    """The entries that excuse nothing: no import breaks their rule, or closes a loop, any more."""
    by_name = {r.name: r for r in RULES}
    loop_of = {m: n for n, group in enumerate(strongly_connected(import_graph(imports, modules))) for m in group}
    stale = []
    for entry in entries:
        found = [i for i in imports if _covers(entry, i)]
        if entry[0] == CYCLES:
            alive = any(i.importer in loop_of and loop_of[i.importer] == loop_of.get(i.target) for i in found)
        else:
            alive = entry[0] in by_name and bool(set(found) & set(by_name[entry[0]].breaches(found)))
        if not alive:
            stale.append(entry)
    return stale


def test_every_exception_and_to_fix_entry_still_excuses_an_import() -> None:
    imports, _, modules = project()
    stale = stale_entries([*_EXCEPTIONS, *_TO_FIX], list(imports), modules)
    assert not stale, "these entries excuse no import any more; remove them:\n  " + "\n  ".join(map(str, stale))


def test_dynamic_imports_are_known() -> None:
    _, dynamic, _ = project()
    unread = [d for d in dynamic if not d.prefix and d.importer not in _DYNAMIC_IMPORTS]
    assert not unread, ("an import_module whose module `ast` cannot read; say what it imports in _DYNAMIC_IMPORTS:\n  "
                        + "\n  ".join(f"{d.where}: {d.importer}" for d in unread))
    gone = set(_DYNAMIC_IMPORTS) - {d.importer for d in dynamic}
    assert not gone, f"_DYNAMIC_IMPORTS names modules with no dynamic import any more: {sorted(gone)}"


def benchmarks_astray(modules: Iterable[str]) -> list[str]:
    """Modules named bench* outside bench/ (`commands/bench.py` is the command that runs them)."""
    return sorted(m for m in modules if m.rpartition(".")[2].startswith("bench")
                  and not _under(m, ("moodmusic.bench", "moodmusic.commands.bench")))


def test_benchmarks_live_in_bench() -> None:
    """Measuring code sits in bench/, the one place `bench-only-from-commands` guards."""
    _, _, modules = project()
    assert not benchmarks_astray(modules), f"benchmarks outside moodmusic/bench/: {benchmarks_astray(modules)}"


# --- no cycles ------------------------------------------------------------------------------------

CYCLES = "no-cycles"  # rule name of a _TO_FIX entry (CYCLES, importer, imported): the import its loop should lose


def import_graph(imports: Iterable[Import], modules: Iterable[str]) -> dict[str, dict[str, Import]]:
    """importer -> {imported module of the project -> the first import making that edge}.

    An edge is what a module names. The parent packages Python runs before a
    module (`moodmusic/live/__init__.py` before `moodmusic.live.session`) are
    not edges of their own, as in import-linter; a package `__init__` that
    imports its submodules is an edge like any other.
    """
    known = set(modules)
    graph: dict[str, dict[str, Import]] = {}
    for i in imports:
        if i.target in known and i.target != i.importer:
            graph.setdefault(i.importer, {}).setdefault(i.target, i)
    return graph


def strongly_connected(graph: dict[str, dict[str, Import]]) -> list[list[str]]:
    """Tarjan's algorithm: the groups of modules that can each reach all the others (size > 1)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(groups)


def one_cycle(graph: dict[str, dict[str, Import]], group: list[str]) -> list[Import]:
    """A shortest loop through the group's first module, as the imports that make it."""
    start, members = group[0], set(group)
    came_from: dict[str, Import] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w, imp in sorted(graph.get(v, {}).items()):
                if w not in members or w in came_from:
                    continue
                came_from[w] = imp
                if w == start:
                    loop, node = [], start
                    while True:
                        loop.append(came_from[node])
                        node = came_from[node].importer
                        if node == start:
                            return loop[::-1]
                nxt.append(w)
        frontier = nxt
    raise AssertionError(f"no loop through {start}")  # cannot happen in a strongly connected group


def find_cycles(imports: Iterable[Import], modules: Iterable[str]) -> list[list[Import]]:
    graph = import_graph(imports, modules)
    return [one_cycle(graph, group) for group in strongly_connected(graph)]


def test_no_import_cycles() -> None:
    imports, _, modules = project()
    kept = [i for i in imports if not any(e[0] == CYCLES and _covers(e, i) for e in _TO_FIX)]
    groups = strongly_connected(import_graph(kept, modules))
    assert not groups, "modules that import each other (cut one import of each loop):\n" + "\n".join(
        f"  {len(group)} modules: {', '.join(group)}; one loop:\n    "
        + "\n    ".join(map(str, one_cycle(import_graph(kept, modules), group))) for group in groups)


# --- the rules are alive: a small tree that breaks every one --------------------------------------

_BROKEN_TREE = {
    "moodmusic/__init__.py": "",
    "moodmusic/cli.py": "class UserError(Exception):\n    pass\n",
    "moodmusic/moods.py": "",
    "moodmusic/store.py": "from moodmusic import audio\n",  # a submodule taken by name
    "moodmusic/media.py": "",
    "moodmusic/audio/__init__.py": "from .. import media\n",  # relative, two levels up
    "moodmusic/vision/__init__.py": "from torch import nn\n",
    "moodmusic/vision/tracker.py": "",
    "moodmusic/recognition/__init__.py": "",
    "moodmusic/recognition/fusion.py": "from ..vision import tracker\n",
    "moodmusic/music/__init__.py": "import importlib\nSP = importlib.import_module('spotipy')\n",
    "moodmusic/music/player.py": "def show():\n    import streamlit as st\n    return st\n",
    "moodmusic/live/__init__.py": "",
    "moodmusic/live/session.py": "import sounddevice\nfrom moodmusic.bench import engine\n"
                                 "from moodmusic.ui import text\n",
    "moodmusic/bench/__init__.py": "",
    "moodmusic/bench/engine.py": "",
    "moodmusic/bench_astray.py": "",
    "moodmusic/ui/__init__.py": "",
    "moodmusic/ui/text.py": "",
    "moodmusic/serve/__init__.py": "import fastapi\n",
    "moodmusic/analysis.py": "from starlette.responses import Response\n",
    "moodmusic/training/__init__.py": "",
    "moodmusic/training/face.py": "from moodmusic.cli import UserError\n\ndef views():\n    from . import views\n",
    "moodmusic/training/views.py": "from moodmusic.training.face import UserError\n",
    "moodmusic/deploy/__init__.py": "",
    "moodmusic/deploy/local.py": "def replicas():\n    from moodmusic.live import session\n",
    "app.py": "import streamlit\n",
}

_BROKEN_EXPECTED = {
    "streamlit": {("moodmusic.music.player", "streamlit")},
    "webrtc-libraries": {("moodmusic.live.session", "sounddevice")},
    "spotipy": {("moodmusic.music", "spotipy")},
    "no-torch-in-features": {("moodmusic.vision", "torch")},
    "recognition-works-on-arrays": {("moodmusic.recognition.fusion", "moodmusic.vision.tracker")},
    "music-and-store-know-moods": {("moodmusic.store", "moodmusic.audio")},
    "library-never-imports-the-cli": {("moodmusic.training.face", "moodmusic.cli")},
    "bench-only-from-commands": {("moodmusic.live.session", "moodmusic.bench.engine")},
    "lower-floors-look-down": {("moodmusic.audio", "moodmusic.media")},
    "ui-only-from-pages": {("moodmusic.live.session", "moodmusic.ui.text")},
    "web-framework": {("moodmusic.analysis", "starlette.responses")},
    "deploy-starts-processes": {("moodmusic.deploy.local", "moodmusic.live.session")},
}


@pytest.fixture
def broken_tree(tmp_path: Path) -> Path:
    for rel, text in _BROKEN_TREE.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


def test_every_rule_is_tried() -> None:
    assert set(_BROKEN_EXPECTED) == {r.name for r in RULES}


@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
def test_rule_catches_a_breach(rule: Rule, broken_tree: Path) -> None:
    imports, dynamic, modules = read_imports(broken_tree)
    caught = {(i.importer, i.target) for i in rule.breaches(imports + resolve_dynamic(dynamic, modules))}
    assert caught == _BROKEN_EXPECTED[rule.name]


def test_cycle_through_a_lazy_import_is_caught(broken_tree: Path) -> None:
    imports, _, modules = read_imports(broken_tree)
    (loop,) = find_cycles(imports, modules)
    assert [(i.importer, i.target, i.lazy) for i in loop] == [
        ("moodmusic.training.face", "moodmusic.training.views", True),
        ("moodmusic.training.views", "moodmusic.training.face", False),
    ]
    assert "(in a function)" in str(loop[0])


def test_dynamic_imports_are_read(tmp_path: Path) -> None:
    files = {
        "moodmusic/__init__.py": "",
        "moodmusic/cli.py": "import importlib\nimport moodmusic.commands as pkg\n\n"
                            "def commands(name):\n    return importlib.import_module(f'{pkg.__name__}.{name}')\n",
        "moodmusic/commands/__init__.py": "import importlib\n\ndef load(n):\n"
                                          "    return importlib.import_module(f'{__name__}.{n}')\n",
        "moodmusic/commands/train.py": "import importlib\n\ndef run(t, n):\n"
                                       "    importlib.import_module(f'moodmusic.commands.{t}')\n"
                                       "    importlib.import_module(n)\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    imports, dynamic, modules = read_imports(tmp_path)
    assert [(d.importer, d.prefix) for d in dynamic] == [
        ("moodmusic.cli", "moodmusic.commands."),
        ("moodmusic.commands", "moodmusic.commands."),
        ("moodmusic.commands.train", "moodmusic.commands."),
        ("moodmusic.commands.train", None),  # unreadable: test_dynamic_imports_are_known asks for an entry
    ]
    assert {(i.importer, i.target) for i in resolve_dynamic(dynamic, modules)} == {
        ("moodmusic.cli", "moodmusic.commands.train"),
        ("moodmusic.commands", "moodmusic.commands.train"),
        ("moodmusic.commands.train", "moodmusic.commands.train"),
    }


def test_benchmark_astray_is_named(broken_tree: Path) -> None:
    _, _, modules = read_imports(broken_tree)
    assert benchmarks_astray(modules) == ["moodmusic.bench_astray"]


def test_stale_entries_are_found(broken_tree: Path) -> None:
    imports, _, modules = read_imports(broken_tree)
    entries = [
        ("streamlit", "moodmusic.music", ""),  # excuses music/player.py's streamlit
        ("streamlit", "moodmusic.live", "streamlit"),  # live imports no streamlit
        ("spotipy", "moodmusic.music.spotify", "spotipy"),  # nothing there
        (CYCLES, "moodmusic.training.views", "moodmusic.training.face"),  # closes the training loop
        (CYCLES, "moodmusic.store", "moodmusic.audio"),  # a real import, but in no loop
    ]
    assert stale_entries(entries, imports, modules) == [entries[1], entries[2], entries[4]]
