"""The TTL cache and the private token files."""

from __future__ import annotations

import stat

from moodmusic.music.cache import TTLCache, read_json, write_private_json


class Clock:
    def __init__(self):
        self.now = 1_000.0

    def __call__(self):
        return self.now


def test_values_expire_after_their_ttl(tmp_path):
    clock = Clock()
    cache = TTLCache(tmp_path, ttl_s=60, clock=clock)
    cache.set("happy|match|US", {"tracks": [1]})
    clock.now += 59
    assert cache.get("happy|match|US") == {"tracks": [1]}
    clock.now += 2
    assert cache.get("happy|match|US") is None


def test_values_survive_a_restart_through_the_disk(tmp_path):
    TTLCache(tmp_path, ttl_s=60).set("sad|calm|SE", ["a", "b"])
    assert TTLCache(tmp_path, ttl_s=60).get("sad|calm|SE") == ["a", "b"]
    assert TTLCache(tmp_path, ttl_s=60).get("sad|calm|US") is None


def test_an_unwritable_cache_directory_degrades_to_memory(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    cache = TTLCache(blocker / "cache", ttl_s=60)
    cache.set("k", 1)
    assert cache.get("k") == 1


def test_a_damaged_cache_file_is_a_miss(tmp_path):
    cache = TTLCache(tmp_path, ttl_s=60)
    cache.set("k", 1)
    for p in tmp_path.glob("*.json"):
        p.write_text("{ truncated")
    assert TTLCache(tmp_path, ttl_s=60).get("k") is None


def test_private_files_are_readable_by_their_owner_only(tmp_path):
    path = tmp_path / "spotify" / "token.json"
    write_private_json(path, {"access_token": "x"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_json(path) == {"access_token": "x"}
    write_private_json(path, {"access_token": "y"})  # rewrites stay private
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and read_json(path) == {"access_token": "y"}
