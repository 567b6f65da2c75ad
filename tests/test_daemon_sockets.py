"""The daemon's non-blocking socket helpers and its raw TCP door, over real sockets."""

from __future__ import annotations

import errno
import functools
import logging
import socket

import trio

from daemon import sockets
from daemon.listeners import serve_erp_tcp


def _pair(buffer: int | None = None) -> tuple[socket.socket, socket.socket]:
    a, b = socket.socketpair()
    for sock in (a, b):
        sock.setblocking(False)
        if buffer is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, buffer)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffer)
    return a, b


async def _read_exactly(sock: socket.socket, n: int) -> bytes:
    got = bytearray()
    while len(got) < n:
        data = await sockets.receive(sock)
        assert data, "EOF before all bytes arrived"
        got += data
    return bytes(got)


async def test_send_all_waits_for_room_and_delivers_every_byte_in_order():
    writer, reader = _pair(buffer=4096)
    # Far more than both socket buffers hold: send_all must wait for the reader.
    payload = bytes(range(256)) * 4096
    try:
        first = sockets.send_now(writer, payload)
        assert 0 < first < len(payload)  # the buffer took only part of it
        async with trio.open_nursery() as nursery:
            received: list[bytes] = []

            async def read() -> None:
                received.append(await _read_exactly(reader, len(payload)))

            nursery.start_soon(read)
            await sockets.send_all(writer, payload[first:])
        assert received == [payload]
    finally:
        sockets.close(writer)
        sockets.close(reader)


async def test_receive_waits_for_data_and_returns_empty_at_eof():
    a, b = _pair()
    try:
        async with trio.open_nursery() as nursery:
            results: list[bytes] = []

            async def read_twice() -> None:
                results.append(await sockets.receive(a))
                results.append(await sockets.receive(a))

            nursery.start_soon(read_twice)
            await trio.sleep(0.05)
            assert results == []  # nothing there yet: it waits
            b.send(b"hello")
            await trio.sleep(0.05)
            b.close()
        assert results == [b"hello", b""]
    finally:
        sockets.close(a)


async def test_close_wakes_a_task_waiting_on_the_socket():
    a, b = _pair()
    try:
        with trio.fail_after(5):
            async with trio.open_nursery() as nursery:
                outcome: list[BaseException] = []

                async def wait() -> None:
                    try:
                        await sockets.receive(a)
                    except trio.ClosedResourceError as exc:
                        outcome.append(exc)

                nursery.start_soon(wait)
                await trio.sleep(0.05)
                sockets.close(a)
        assert len(outcome) == 1
    finally:
        b.close()


async def _echo_once(conn: socket.socket, address) -> None:
    try:
        data = await sockets.receive(conn, checkpoint=False)
        await sockets.send_all(conn, b"echo:" + data)
    finally:
        sockets.close(conn)


def _door(handler):
    return functools.partial(serve_erp_tcp, handler, 0, host="127.0.0.1")


async def _request(address, payload: bytes) -> bytes:
    stream = await trio.open_tcp_stream(*address)
    async with stream:
        await stream.send_all(payload)
        chunks = []
        while data := await stream.receive_some(65536):
            chunks.append(data)
    return b"".join(chunks)


async def test_serve_erp_tcp_serves_many_connections_arriving_together(nursery):
    listening = await nursery.start(_door(_echo_once))
    address = listening[0].getsockname()[:2]
    replies: dict[int, bytes] = {}

    async def one(i: int) -> None:
        replies[i] = await _request(address, f"request {i}".encode())

    with trio.fail_after(10):
        async with trio.open_nursery() as clients:
            for i in range(100):
                clients.start_soon(one, i)
    assert replies == {i: f"echo:request {i}".encode() for i in range(100)}


class _ExhaustedOnce(socket.socket):
    """A listening socket whose first accept() fails as if out of file descriptors."""

    failures = 1

    def accept(self):
        if self.failures:
            self.failures -= 1
            raise OSError(errno.EMFILE, "Too many open files")
        return super().accept()


async def test_accept_out_of_descriptors_pauses_then_goes_on(nursery, monkeypatch, caplog):
    # The door must neither die nor spin when accept() fails for lack of resources.
    real_adopt = sockets.adopt

    def adopt(listener):
        sock = real_adopt(listener)
        return _ExhaustedOnce(fileno=sock.detach())

    monkeypatch.setattr(sockets, "adopt", adopt)
    caplog.set_level(logging.ERROR, logger="directlink.daemon")
    listening = await nursery.start(_door(_echo_once))
    assert isinstance(listening[0], _ExhaustedOnce)
    address = listening[0].getsockname()[:2]
    with trio.fail_after(10):
        assert await _request(address, b"after the pause") == b"echo:after the pause"
    assert listening[0].failures == 0
    assert any("accept failed" in r.getMessage() for r in caplog.records)
