"""The raw TCP handler (ErpListeners.handle_tcp) over socket pairs, with a stub service.

Each path through the handler: the request already there when it starts
(no timer armed), a request that arrives in pieces, a client that stalls
before its request is whole or never reads a large reply (both dropped
after the client timeout), broken framing (closed without a reply), and an
announced length over the limit (answered D002).
"""

from __future__ import annotations

import socket

import pytest
import trio

from daemon.access import AccessList
from daemon.erp import error_reply
from daemon.erp_framing import frame_reply
from daemon.erp_xml import render_reply
from daemon.listeners import ErpListeners
from protocol import codes

CLIENT_TIMEOUT = 0.5
ADDRESS = ("127.0.0.1", 40000)


class StubService:
    """What the handler needs of ErpService: records requests, answers ``reply``."""

    max_request = 4096
    encoding = "GBK"

    def __init__(self, reply: bytes = b"<ap><head></head><body></body></ap>") -> None:
        self.reply = reply
        self.requests: list[tuple[bytes, str]] = []
        self.refusals: list[tuple[str, str]] = []

    async def handle(self, xml: bytes, peer: str) -> bytes:
        self.requests.append((xml, peer))
        return self.reply

    def refuse(self, code: codes.ReturnCode, info: str, peer: str = "-") -> bytes:
        self.refusals.append((code.code, info))
        head, body = error_reply(code, info, {})
        return render_reply(head, body, encoding=self.encoding)


def _listeners(service: StubService) -> ErpListeners:
    return ErpListeners(service, AccessList(lambda host: True),  # type: ignore[arg-type]
                        client_timeout=CLIENT_TIMEOUT)


def _pair(buffer: int | None = None) -> tuple[socket.socket, socket.socket]:
    """(daemon side, ERP side); the daemon's end non-blocking, as accept() leaves it."""
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    theirs.settimeout(10)
    if buffer is not None:
        for sock in (ours, theirs):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, buffer)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffer)
    return ours, theirs


def _read_until_eof(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


async def test_a_request_already_waiting_is_answered_and_the_connection_closed():
    service = StubService()
    ours, theirs = _pair()
    with theirs:
        theirs.sendall(frame_reply(b"<ap>whole</ap>"))
        await _listeners(service).handle_tcp(ours, ADDRESS)
        assert ours.fileno() == -1  # closed by the handler
        assert _read_until_eof(theirs) == frame_reply(service.reply)
    assert service.requests == [(b"<ap>whole</ap>", "127.0.0.1:40000")]


async def test_a_request_arriving_in_pieces_is_collected_before_it_is_handled():
    service = StubService()
    ours, theirs = _pair()
    framed = frame_reply(b"<ap>in pieces</ap>")
    with theirs:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_listeners(service).handle_tcp, ours, ADDRESS)
            for i in range(0, len(framed), 5):  # the header itself split, too
                await trio.sleep(0.01)
                theirs.sendall(framed[i:i + 5])
        assert _read_until_eof(theirs) == frame_reply(service.reply)
    assert [xml for xml, _ in service.requests] == [b"<ap>in pieces</ap>"]


@pytest.mark.parametrize("sent", [b"", b"0100   <ap>"], ids=["silent", "partial"])
async def test_a_client_that_stalls_is_dropped_after_the_client_timeout(sent):
    service = StubService()
    ours, theirs = _pair()
    with theirs:
        theirs.sendall(sent)
        started = trio.current_time()
        with trio.fail_after(CLIENT_TIMEOUT + 5):  # without the timeout it would hang
            await _listeners(service).handle_tcp(ours, ADDRESS)
        waited = trio.current_time() - started
        assert _read_until_eof(theirs) == b""  # no reply: the request never came
    assert CLIENT_TIMEOUT <= waited < CLIENT_TIMEOUT + 2
    assert service.requests == []


async def test_a_client_that_never_reads_its_reply_is_dropped_after_the_client_timeout():
    # A reply far larger than both socket buffers, to a client that does not read.
    service = StubService(reply=b"<ap>" + b"x" * 500_000 + b"</ap>")
    ours, theirs = _pair(buffer=4096)
    with theirs:
        theirs.sendall(frame_reply(b"<ap>q</ap>"))
        started = trio.current_time()
        with trio.fail_after(CLIENT_TIMEOUT + 5):  # without the timeout it would hang
            await _listeners(service).handle_tcp(ours, ADDRESS)
        waited = trio.current_time() - started
        assert ours.fileno() == -1
        received = _read_until_eof(theirs)  # what fitted in the buffers, then EOF
    assert CLIENT_TIMEOUT <= waited < CLIENT_TIMEOUT + 2
    assert 0 < len(received) < len(frame_reply(service.reply))


async def test_broken_framing_closes_without_a_reply(caplog):
    service = StubService()
    ours, theirs = _pair()
    with theirs:
        theirs.sendall(b"X12    <ap/>")
        await _listeners(service).handle_tcp(ours, ADDRESS)
        assert _read_until_eof(theirs) == b""
    assert service.requests == []
    assert "broken framing" in caplog.text


async def test_an_announced_length_over_the_limit_is_answered_d002():
    service = StubService()
    ours, theirs = _pair()
    with theirs:
        theirs.sendall(b"0999999")
        await _listeners(service).handle_tcp(ours, ADDRESS)
        reply = _read_until_eof(theirs)
    assert b"<particular_code>D002</particular_code>" in reply
    assert service.requests == []


@pytest.mark.parametrize("header", [b"00     ", b"0000000"])
async def test_an_empty_document_is_answered_d003_without_reaching_the_service(header):
    service = StubService()
    ours, theirs = _pair()
    with theirs:
        theirs.sendall(header)
        await _listeners(service).handle_tcp(ours, ADDRESS)
        reply = _read_until_eof(theirs)
    assert b"<particular_code>D003</particular_code>" in reply
    assert b"<particular_info>request is empty: the length header announces 0 bytes" in reply
    assert service.requests == []


async def test_a_reply_too_large_to_frame_is_replaced_by_p022(caplog):
    # The service keeps its replies within a frame; the listener still never
    # answers a framed request with silence (before: ValueError, closed).
    service = StubService(reply=b"<ap>" + b"x" * 1_000_000 + b"</ap>")
    ours, theirs = _pair()
    with theirs:
        theirs.sendall(frame_reply(b"<ap>q</ap>"))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_listeners(service).handle_tcp, ours, ADDRESS)
            reply = await trio.to_thread.run_sync(_read_until_eof, theirs)
    assert reply.startswith(b"0") and len(reply) < 2000
    assert b"<particular_code>P022</particular_code>" in reply
    assert "cannot be framed" in caplog.text
