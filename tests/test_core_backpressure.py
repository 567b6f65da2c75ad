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
