"""Shared test fixtures: where the optional training data lives, and thread pinning."""

from __future__ import annotations

import os
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
