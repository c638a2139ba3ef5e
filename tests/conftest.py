"""Shared test fixtures: where the optional training data lives, and thread pinning."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.pg import pg_backend, postgres_server, store_backend  # noqa: F401 (fixtures: one PostgreSQL server per test session)

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MOODMUSIC_SHARED_DATA", ROOT.parent / "shared" / "data"))
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real training data beside the project; tests that need it skip on a fresh clone."""
    if not (SHARED_DATA / "README.md").is_file():
        pytest.skip(f"training data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


_MAIN = sys.modules["__main__"]


@pytest.fixture(autouse=True)
def _restore_main_module():
    """Put back the `__main__` module a Streamlit AppTest run replaces and leaves behind.

    Streamlit's script runner installs the page script as `sys.modules["__main__"]`;
    after an AppTest that stays, and a later test that starts processes with
    "spawn" (the DDP training test) re-runs that deleted temporary script in the
    children, which then fail (`NameError: __args`).
    """
    yield
    if sys.modules.get("__main__") is not _MAIN:
        sys.modules["__main__"] = _MAIN
