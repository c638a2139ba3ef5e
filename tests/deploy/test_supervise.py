"""The deploy's supervisor: a replica that exits is started again on its port and HAProxy takes it back."""

from __future__ import annotations

import logging
import time
import urllib.request

from moodmusic.bench.page import NO_KEYS, free_port
from moodmusic.deploy.local import LocalDeploy
from tests.deploy.conftest import haproxy_or_skip


def test_an_exited_replica_is_restarted_and_serves_again(tmp_path, caplog):
    haproxy_or_skip()
    env = {"MOODMUSIC_HOME": str(tmp_path), **{k: "" for k in NO_KEYS}}
    caplog.set_level(logging.INFO, logger="moodmusic.deploy")
    with LocalDeploy(1, free_port(), env=env, restart=True, echo=False) as d:
        replica = d.members[0]
        first_pid = replica.child.pid
        replica.child.proc.kill()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            d.check()
            if replica.child.pid != first_pid and d.states().get("r1") == "UP":
                break
            time.sleep(0.3)
        assert replica.restarts == 1 and replica.child.pid != first_pid and replica.child.running()
        assert d.states().get("r1") == "UP", d.states()
        with urllib.request.urlopen(d.url + "/_stcore/health", timeout=10) as answer:
            assert answer.status == 200
    events = [getattr(r, "event", None) for r in caplog.records]
    assert "replica_exit" in events and events.count("replica_start") == 2, events
