"""The core when a session ends with requests in flight: answers, and one clear log line.

A session ends when the peer closes its side (the daemon stopped or died) or
breaks the protocol (a frame that arrives twice is a replay). Either way the
requests it sent before that were genuine: the core answers them — a peer
that only shut down its sending side, or that will read on after a refusal,
gets the real replies — says in one line what happened, and logs no
traceback, because nothing in the core went wrong.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import trio

from core_sim.bank import Bank
from protocol import codes
from protocol.events import ErrorMessage, Request, Response
from tests.core_client import ACNO_1, ACNO_2, balances, transfer_fields, unique_req_no
from tests.test_core_server import REPLY_TIMEOUT, SlowBank, running_core, wait_closed


@pytest.fixture
def core_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="directlink.core")
    return caplog


def assert_no_fault_logged(caplog: pytest.LogCaptureFixture) -> None:
    faults = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not faults, "\n".join(caplog.text.splitlines()[-20:])


async def wait_idle(core) -> None:
    """Until every request the core read has been answered (or can never be)."""
    with trio.fail_after(REPLY_TIMEOUT):
        while core.server._in_flight:
            await trio.sleep(0.01)
        await trio.sleep(0.05)  # the handler's last log line, after its writer ended


async def test_a_frame_sent_twice_still_gets_the_reply_to_its_first_copy(
        tmp_path: Path, core_log: pytest.LogCaptureFixture) -> None:
    async with running_core(tmp_path) as core, core.client() as client:
        before = await balances(client, ACNO_1, ACNO_2)
        req_no = unique_req_no("T")
        frame = client.encode(Request(tr_code="210201", req_no=req_no,
                                      fields=transfer_fields(3_00)))
        waiter = client.expect(req_no)
        # Both copies in one write: the second is refused (a replay) while the first
        # is still executing.
        await client.send_raw(frame + frame)
        with trio.fail_after(REPLY_TIMEOUT):
            reply = await client.reply_to(req_no, waiter)
        await wait_closed(client)
        assert isinstance(reply, Response) and reply.ok, reply
        # The refusal comes after the answer, as the session's last message.
        assert client.events[-2:] == [reply, client.errors[0]]
        assert [e.ret_code for e in client.errors] == [codes.AUTHENTICATION_FAILED.code]
        async with core.client() as fresh:
            assert await balances(fresh, ACNO_1, ACNO_2) == (before[0] - 3_00,
                                                             before[1] + 3_00)
        await wait_idle(core)
    assert_no_fault_logged(core_log)
    [refusal] = [r for r in core_log.records if "refused" in r.getMessage()]
    assert refusal.levelno == logging.WARNING
    assert "replayed" in refusal.getMessage()
    assert "answering the 1 request received before it" in refusal.getMessage()


async def test_a_client_gone_with_requests_in_flight_is_one_line_no_traceback(
        tmp_path: Path, core_log: pytest.LogCaptureFixture) -> None:
    n = 5
    async with running_core(tmp_path, bank_wrapper=SlowBank) as core:
        slow: SlowBank = core.server.gate.bank
        req_nos = [unique_req_no("G") for _ in range(n)]
        async with core.client() as client:
            for req_no in req_nos:
                client.expect(req_no)
                await client.send_raw(client.encode(
                    Request(tr_code="210201", req_no=req_no, fields=transfer_fields(1_00))))
            with trio.fail_after(REPLY_TIMEOUT):
                while core.server._in_flight < n:
                    await trio.sleep(0.01)
        # The client is gone (as a daemon killed mid-request), its requests in the bank.
        await trio.sleep(0.1)
        slow.release.set()
        await wait_idle(core)
    assert_no_fault_logged(core_log)
    ended = [r for r in core_log.records if "session ended" in r.getMessage()]
    assert len(ended) == 1, core_log.text
    assert f"answering the {n} requests in flight" in ended[0].getMessage()
    with Bank.open(core.ledger) as bank:
        [(executed,)] = bank.connection.execute(
            "SELECT count(*) FROM instructions WHERE req_no IN (?, ?, ?, ?, ?)",
            req_nos).fetchall()
    assert executed == n  # received, so executed, whoever is left to read the answer


async def test_a_client_that_shuts_down_sending_still_reads_its_replies(
        tmp_path: Path, core_log: pytest.LogCaptureFixture) -> None:
    async with running_core(tmp_path, bank_wrapper=SlowBank) as core, \
            core.client() as client:
        slow: SlowBank = core.server.gate.bank
        req_nos = [unique_req_no("H") for _ in range(3)]
        waiters = []
        for req_no in req_nos:
            waiters.append(client.expect(req_no))
            await client.send_raw(client.encode(
                Request(tr_code="210201", req_no=req_no, fields=transfer_fields(1_00))))
        await client.stream.send_eof()  # done sending; still reading
        with trio.fail_after(REPLY_TIMEOUT):
            while core.server._in_flight < len(req_nos):
                await trio.sleep(0.01)
        slow.release.set()
        with trio.fail_after(REPLY_TIMEOUT):
            replies = [await client.reply_to(r, w)
                       for r, w in zip(req_nos, waiters, strict=True)]
        await wait_closed(client)
    assert all(isinstance(r, Response) and r.ok for r in replies), replies
    assert not [e for e in client.events if isinstance(e, ErrorMessage)]
    assert_no_fault_logged(core_log)
