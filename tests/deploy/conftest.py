"""A real deploy on loopback: two `streamlit run app.py` replicas behind a real HAProxy.

Skipped with the reason where HAProxy is not installed (scripts/setup.sh --dev installs it).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from moodmusic.bench.page import NO_KEYS, free_port
from moodmusic.errors import UserError


def haproxy_or_skip() -> str:
    from moodmusic.deploy.haproxy import find_haproxy

    try:
        return find_haproxy()
    except UserError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def deploy(tmp_path_factory) -> Iterator[object]:
    """Two replicas and HAProxy, no restarts (a test stops a replica and watches the survivor), no keys."""
    from moodmusic.deploy.local import LocalDeploy

    haproxy_or_skip()
    home = tmp_path_factory.mktemp("deploy-home")
    env = {"MOODMUSIC_HOME": str(home), **{k: "" for k in NO_KEYS}}
    with LocalDeploy(2, free_port(), env=env, run_dir=tmp_path_factory.mktemp("deploy-run"), restart=False,
                     echo=False) as d:
        yield d
