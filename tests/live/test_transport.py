"""The transport patches: what each assumes about another library's internals still holds here.

Each patch in `moodmusic.live.transport.PATCHES` replaces or wraps an internal
of streamlit-webrtc, aiortc, asyncio or Streamlit. An upgrade can move it
without an error anywhere: the patch then logs and stands aside, and the
live page quietly gets slower. These tests read the installed libraries and
fail with the patch's name, the versions it was written against and the
versions installed, so an upgrade that breaks one says so at once.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import pkgutil
import platform
import threading
import types

import pytest

from moodmusic.live import transport
from moodmusic.live.transport import PATCHES, Patch

BY_NAME = {patch.name: patch for patch in PATCHES}


def installed_version(distribution: str) -> str:
    if distribution == "python":
        return platform.python_version()
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def require(patch_name: str, holds: bool, what: str) -> None:
    """Fail loudly, naming the patch and the library versions, when an assumption no longer holds."""
    if holds:
        return
    patch = BY_NAME[patch_name]
    versions = "; ".join(f"{dist} {installed_version(dist)} installed, written against {wrote}"
                         for dist, wrote in patch.written_against)
    pytest.fail(
        f"transport patch {patch_name!r} (moodmusic/live/transport/{patch_name}.py) no longer fits: {what}. "
        f"{versions}. It assumes: {patch.assumes}",
        pytrace=False,
    )


def global_names(owner: object) -> set[str]:
    """Every name the functions of a class or module look up (nested code included), as `co_names` lists them."""
    names: set[str] = set()

    def walk(code: types.CodeType) -> None:
        names.update(code.co_names)
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                walk(const)

    for value in vars(owner).values():
        code = getattr(value, "__code__", None) or getattr(getattr(value, "fget", None), "__code__", None)
        if code is not None:
            walk(code)
    return names


def parameters(function: object) -> list[tuple[str, object]]:
    return [(p.name, p.default) for p in inspect.signature(function).parameters.values()]


# ------------------------------------------------------------------ the table
def test_the_table_lists_every_patch_module_once_with_its_install_function():
    modules = {m.name for m in pkgutil.iter_modules(transport.__path__)}
    assert modules == set(BY_NAME), "every module in moodmusic/live/transport is a patch listed in PATCHES"
    for patch in PATCHES:
        module = importlib.import_module(f"moodmusic.live.transport.{patch.name}")
        assert callable(getattr(module, patch.install)), patch.name
        assert patch.target and patch.assumes and patch.written_against, patch.name


@pytest.mark.parametrize("patch", PATCHES, ids=lambda p: p.name)
def test_each_patched_library_is_installed(patch: Patch):
    for dist, _ in patch.written_against:
        require(patch.name, installed_version(dist) != "not installed", f"{dist} is not installed")


# ------------------------------------------------------------------ newest_video_relay
def test_the_relay_swap_finds_streamlit_webrtcs_relay_where_it_expects():
    from aiortc import MediaStreamTrack
    from aiortc.contrib.media import MediaRelay
    from streamlit.runtime.runtime import Runtime
    from streamlit_webrtc import factory, relay, webrtc

    name = "newest_video_relay"
    attr = getattr(relay, "_SERVER_GLOBAL_RELAY_ATTR_NAME_", None)
    require(name, isinstance(attr, str), "streamlit_webrtc.relay._SERVER_GLOBAL_RELAY_ATTR_NAME_ is gone")
    getter = getattr(relay, "get_global_relay", None)
    require(name, callable(getter) and parameters(getter) == [], "streamlit_webrtc.relay.get_global_relay() changed")
    reads = set(getter.__code__.co_names)
    require(name, {"Runtime", "instance", "_SERVER_GLOBAL_RELAY_ATTR_NAME_"} <= reads,
            "get_global_relay() no longer keeps the relay on Runtime.instance() under that attribute")
    require(name, bool({"hasattr", "getattr"} & reads) and "MediaRelay" in reads,
            "get_global_relay() no longer creates a relay only when none is set")
    for user in (webrtc, factory):
        require(name, getattr(user, "get_global_relay", None) is getter,
                f"{user.__name__} no longer takes its relay from get_global_relay()")
    require(name, callable(getattr(Runtime, "exists", None)) and callable(getattr(Runtime, "instance", None)),
            "streamlit's Runtime.exists()/Runtime.instance() are gone")
    require(name, parameters(MediaRelay.subscribe) == [("self", inspect.Parameter.empty),
                                                        ("track", inspect.Parameter.empty), ("buffered", True)],
            "aiortc's MediaRelay.subscribe(track, buffered=True) changed")
    require(name, all(callable(getattr(MediaStreamTrack, m, None)) for m in ("on", "recv", "stop")),
            "aiortc's MediaStreamTrack lost on/recv/stop, which FreshFrames relies on")


# ------------------------------------------------------------------ preview_encoder
def test_the_preview_encoder_replaces_the_lookup_aiortcs_senders_use():
    from aiortc import rtcrtpsender
    from aiortc.codecs import vpx

    name = "preview_encoder"
    require(name, callable(getattr(rtcrtpsender, "get_encoder", None)), "aiortc.rtcrtpsender.get_encoder is gone")
    require(name, "get_encoder" in global_names(rtcrtpsender.RTCRtpSender),
            "RTCRtpSender no longer looks get_encoder up in aiortc.rtcrtpsender")
    require(name, parameters(vpx.Vp8Encoder.encode) == [("self", inspect.Parameter.empty),
                                                        ("frame", inspect.Parameter.empty), ("force_keyframe", False)],
            "aiortc's Vp8Encoder.encode(frame, force_keyframe=False) changed")
    require(name, [p for p, _ in parameters(vpx.number_of_threads)] == ["pixels", "cpus"],
            "aiortc.codecs.vpx.number_of_threads(pixels, cpus) changed")
    encoder = vpx.Vp8Encoder()
    require(name, encoder.codec is None and isinstance(encoder.target_bitrate, int),
            "a new Vp8Encoder no longer starts with codec None and an int target_bitrate")


def test_the_preview_encoders_options_are_aiortcs_but_the_denoiser():
    from aiortc.codecs import vpx

    from moodmusic.live.transport.preview_encoder import VP8_OPTIONS

    source = inspect.getsource(vpx.Vp8Encoder.encode)
    for key, value in VP8_OPTIONS.items():
        if key == "noise-sensitivity":
            require("preview_encoder", f'"{key}"' in source, "aiortc no longer sets libvpx's denoiser")
        else:
            require("preview_encoder", f'"{key}": "{value}"' in source,
                    f"aiortc's Vp8Encoder no longer sets {key}={value}, which VP8_OPTIONS copies")
    require("preview_encoder", "self.codec = None" in source and "self.codec is None" in source,
            "Vp8Encoder no longer reopens its codec only when self.codec is None")


# ------------------------------------------------------------------ datagram_drain
def test_the_datagram_drain_replaces_the_reader_asyncio_calls():
    from asyncio import selector_events

    from moodmusic.live.transport.datagram_drain import _EXPECTED_NAMES

    name = "datagram_drain"
    cls = getattr(selector_events, "_SelectorDatagramTransport", None)
    require(name, cls is not None, "asyncio.selector_events._SelectorDatagramTransport is gone")
    reader = getattr(cls, "_read_ready", None)
    reader = getattr(reader, "moodmusic_original", reader)  # asyncio's own, if the drain is installed
    require(name, reader is not None and parameters(reader) == [("self", inspect.Parameter.empty)],
            "_SelectorDatagramTransport._read_ready(self) changed")
    missing = _EXPECTED_NAMES - set(reader.__code__.co_names)
    require(name, not missing, f"asyncio's datagram reader no longer uses {sorted(missing)}")
    require(name, "_read_ready" in cls.__init__.__code__.co_names,
            "the datagram transport no longer registers _read_ready as its socket's reader")


# ------------------------------------------------------------------ batched_flush
def test_the_batched_flush_replaces_the_asyncio_streamlits_flush_sleeps_on():
    import asyncio

    from streamlit.runtime import runtime

    from moodmusic.live.transport.batched_flush import BatchedAsyncio

    name = "batched_flush"
    seen = getattr(runtime, "asyncio", None)
    require(name, seen is asyncio or isinstance(seen, BatchedAsyncio),
            "streamlit.runtime.runtime no longer imports asyncio as a module global")
    flush = getattr(getattr(runtime, "Runtime", None), "_loop_coroutine", None)
    require(name, flush is not None, "streamlit's Runtime._loop_coroutine is gone")
    require(name, {"asyncio", "sleep", "flush_browser_queue"} <= set(flush.__code__.co_names),
            "Runtime._loop_coroutine no longer flushes with asyncio.sleep")
    require(name, "await asyncio.sleep(0)" in inspect.getsource(flush),
            "Runtime._loop_coroutine no longer yields with asyncio.sleep(0) between messages")


# ------------------------------------------------------------------ install_all
def test_install_all_installs_each_patch_once_from_many_threads_and_retries_failures(monkeypatch):
    calls: dict[str, int] = {}
    lock = threading.Lock()

    def fake_install(patch: Patch) -> bool:
        with lock:
            calls[patch.name] = calls.get(patch.name, 0) + 1
        return patch.name != "newest_video_relay"  # e.g. Streamlit's runtime does not exist yet

    monkeypatch.setattr(transport, "install", fake_install)
    monkeypatch.setattr(transport, "_installed", set())
    results: list[dict[str, bool]] = []
    threads = [threading.Thread(target=lambda: results.append(transport.install_all())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r == {p.name: p.name != "newest_video_relay" for p in PATCHES} for r in results)
    assert calls["preview_encoder"] == calls["datagram_drain"] == calls["batched_flush"] == 1
    assert calls["newest_video_relay"] == 8  # not in place: tried again at every call
