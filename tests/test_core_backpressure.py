"""The core bounds the requests one connection may have executing at once."""

from __future__ import annotations

import trio

from core_sim.server import CoreServer
from protocol.events import Request, Response
from tests.test_daemon_link import ACNO1, Bed, wait_connected


async def test_a_connection_cannot_queue_without_bound(tmp_path, nursery):
    bed = Bed(tmp_path)
    try:
        server = CoreServer(bed.bank, bed.keys, bed.server.lookup_key, clearing_interval=None,
                            max_in_flight=2)
        _, port = await nursery.start(server.serve, "127.0.0.1", 0)
        link = bed.link(port)
        await nursery.start(link.run)
        await wait_connected(link)
        answers: list = []

        async def ask(i: int) -> None:
            answers.append(await link.request(
                Request(tr_code="310101", req_no=f"B{i}", fields={"acno": ACNO1}), timeout=10))

        # The bank is busy (its lock held), so nothing completes until the lock is let go.
        async with trio.open_nursery() as clients, server.gate._lock:
            for i in range(6):
                clients.start_soon(ask, i)
            await trio.sleep(0.3)
            # Only two are admitted; the rest wait unread in the socket.
            assert server._in_flight == 2
        assert len(answers) == 6
        assert all(isinstance(a, Response) and a.ok for a in answers)
        assert server._in_flight == 0
    finally:
        bed.bank.close()


async def test_a_failed_connection_handler_does_not_hold_up_drain(tmp_path, nursery,
                                                                 monkeypatch):
    # A bug in a connection's handler while one of its requests executes: the request
    # still finishes in the bank, but nothing is left to write its reply, and drain()
    # must not wait its whole timeout for that reply.
    from protocol.events import Heartbeat
    from protocol.session import ServerSession

    real_send = ServerSession.send

    def send(self, event):
        if isinstance(event, Heartbeat):
            raise RuntimeError("a bug answering a heartbeat")
        return real_send(self, event)

    monkeypatch.setattr(ServerSession, "send", send)
    bed = Bed(tmp_path)
    try:
        server = CoreServer(bed.bank, bed.keys, bed.server.lookup_key, clearing_interval=None)
        _, port = await nursery.start(server.serve, "127.0.0.1", 0)
        link = bed.link(port)
        await nursery.start(link.run)
        await wait_connected(link)
        outcomes: list = []

        async def ask() -> None:
            try:
                outcomes.append(await link.request(
                    Request(tr_code="310101", req_no="D1", fields={"acno": ACNO1}),
                    timeout=10))
            except Exception as exc:  # the connection is lost: outcome unknown
                outcomes.append(exc)

        # The bank is busy (its lock held): D1 stays in flight meanwhile.
        async with trio.open_nursery() as clients, server.gate._lock:
            clients.start_soon(ask)
            await trio.sleep(0.3)
            assert server._in_flight == 1
            await link._send(Heartbeat())  # the handler fails on this
            await trio.sleep(0.3)
        started = trio.current_time()
        await server.drain(timeout=10)
        assert trio.current_time() - started < 3, "drain waited for a reply nobody can send"
        assert server._in_flight == 0
        assert len(outcomes) == 1 and not isinstance(outcomes[0], Response)
    finally:
        bed.bank.close()
