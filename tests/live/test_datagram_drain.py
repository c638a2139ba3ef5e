"""The datagram drain: one readable event reads every waiting datagram, in order, on real loopback sockets."""

from __future__ import annotations

import asyncio
import socket

import pytest

from moodmusic.live.transport import datagram_drain
from moodmusic.live.transport.datagram_drain import install_datagram_drain, uninstall_datagram_drain


class _Collect(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.errors: list[Exception] = []

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        self.received.append(data)

    def error_received(self, exc: Exception) -> None:
        self.errors.append(exc)


async def _read_after_one_turn(waiting: int) -> list[bytes]:
    """Queue `waiting` datagrams in a fresh endpoint's socket, then let its reader run exactly once."""
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(_Collect, local_addr=("127.0.0.1", 0))
    try:
        port = transport.get_extra_info("sockname")[1]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for i in range(waiting):
                sender.sendto(f"packet {i}".encode(), ("127.0.0.1", port))
        sock = transport.get_extra_info("socket")
        loop._remove_reader(sock.fileno())  # call the reader by hand: one readiness event, nothing else
        transport._read_ready()
        return list(protocol.received)
    finally:
        transport.close()


@pytest.fixture
def asyncio_reader():
    uninstall_datagram_drain()
    yield
    uninstall_datagram_drain()


def test_asyncio_alone_reads_one_datagram_per_readiness_event(asyncio_reader):
    assert asyncio.run(_read_after_one_turn(10)) == [b"packet 0"]


def test_the_drain_reads_every_waiting_datagram_in_order(asyncio_reader):
    assert install_datagram_drain()
    assert asyncio.run(_read_after_one_turn(10)) == [f"packet {i}".encode() for i in range(10)]


def test_the_drain_stops_at_its_burst_and_the_rest_waits_for_the_next_event(asyncio_reader):
    assert install_datagram_drain(burst=4)

    async def two_turns() -> tuple[int, int]:
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.create_datagram_endpoint(_Collect, local_addr=("127.0.0.1", 0))
        try:
            port = transport.get_extra_info("sockname")[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
                for i in range(10):
                    sender.sendto(b"x", ("127.0.0.1", port))
            loop._remove_reader(transport.get_extra_info("socket").fileno())
            transport._read_ready()
            first = len(protocol.received)
            transport._read_ready()
            return first, len(protocol.received)
        finally:
            transport.close()

    assert asyncio.run(two_turns()) == (4, 8)


def test_installing_twice_keeps_one_reader_and_uninstall_restores_asyncios(asyncio_reader):
    from asyncio import selector_events

    original = selector_events._SelectorDatagramTransport._read_ready
    assert install_datagram_drain() and install_datagram_drain(burst=8)
    patched = selector_events._SelectorDatagramTransport._read_ready
    assert patched is not original and patched.moodmusic_original is original and patched.moodmusic_burst == 8
    uninstall_datagram_drain()
    assert selector_events._SelectorDatagramTransport._read_ready is original


def test_socket_errors_reach_the_protocol_and_a_closed_endpoint_stops_the_drain(asyncio_reader):
    class Socket:
        def __init__(self) -> None:
            self.replies: list = [ConnectionRefusedError("ICMP port unreachable"), (b"after the error", ("127.0.0.1", 9))]

        def recvfrom(self, size: int) -> tuple[bytes, tuple]:
            reply = self.replies.pop(0) if self.replies else BlockingIOError()
            if isinstance(reply, Exception):
                raise reply
            return reply

    class Transport:
        _conn_lost, max_size = 0, 256
        _sock, _protocol = Socket(), _Collect()

    transport = Transport()
    assert datagram_drain.drain_datagrams(transport, burst=10) == 1
    assert transport._protocol.received == [b"after the error"] and len(transport._protocol.errors) == 1
    transport._sock.replies = [(b"never read", ("127.0.0.1", 9))]
    transport._conn_lost = 1
    assert datagram_drain.drain_datagrams(transport, burst=10) == 0


def test_a_burst_below_one_is_refused():
    with pytest.raises(ValueError, match="burst"):
        install_datagram_drain(burst=0)
