"""The ledger in a process of its own (core_sim.bank_process), as ``core serve`` runs it.

Calls go to a real child process over its socket pair; the server in front of
it is the real CoreServer over TCP. What must hold: replies are the bank's,
exactly-once holds across the process boundary, a dead child costs at most the
batch it held (answered "outcome unknown") and is replaced, and the child never
outlives the server — not even a ``kill -9`` of it.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio

from config.seed import DEMO_SEED, parse_seed
from core_sim.bank import Bank
from core_sim.bank_process import BankProcess, BankProcessError
from core_sim.check import check_ledger
from core_sim.transaction import Request
from protocol import codes
from protocol.events import ErrorMessage, Response
from tests.core_client import (
    ACNO_1,
    ACNO_2,
    CORP_NO,
    USER_NO,
    balances,
    bank_public_keys,
    core_serve_args,
    open_client,
    transfer_fields,
    unique_req_no,
)
from tests.erp_client import running
from tests.test_core_crash import enroll_with_cli
from tests.test_core_server import running_core

YUAN = 100


def seeded_ledger(tmp_path: Path) -> Path:
    ledger = tmp_path / "ledger.db"
    Bank.open(ledger, seed=parse_seed(DEMO_SEED, "<demo seed>")).close()
    return ledger


@asynccontextmanager
async def ledger_process(tmp_path: Path) -> AsyncIterator[tuple[BankProcess, Path]]:
    """A started BankProcess over a fresh demo ledger; the ledger checks out afterwards."""
    ledger = seeded_ledger(tmp_path)
    process = BankProcess(ledger)
    await process.start()
    try:
        yield process, ledger
    finally:
        await process.aclose()
    assert check_ledger(ledger).ok


def transfer(req_no: str, amt: int = 1 * YUAN) -> Request:
    return Request(CORP_NO, USER_NO, "210201", req_no, transfer_fields(amt))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too; only the parent's wait() would clear it.
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


def children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    return found


async def test_batches_execute_in_the_child_exactly_once(tmp_path: Path) -> None:
    async with ledger_process(tmp_path) as (process, ledger):
        assert process.pid != os.getpid() and alive(process.pid)
        assert process.has_operator(CORP_NO, USER_NO)
        assert not process.has_operator(CORP_NO, "999")
        first, second = unique_req_no(), unique_req_no()
        replies = await process.execute_batch([transfer(first), transfer(second, 2 * YUAN)])
        assert [r.ret_code for r in replies] == ["0000", "0000"]
        assert replies[0].serial_no and replies[0].serial_no != replies[1].serial_no
        # The same req_no again is the original reply; different content is E011.
        again, changed = await process.execute_batch([transfer(first),
                                                      transfer(second, 3 * YUAN)])
        assert again == replies[0]
        assert changed.ret_code == codes.DUPLICATE_REQ_NO.code
        assert process.commits == 2
    with Bank.open(ledger) as bank:
        moved = bank.connection.execute(
            "SELECT count(*), sum(amt) FROM instructions WHERE status = 'success'").fetchone()
    assert moved == (2, 3 * YUAN)


async def test_a_child_that_died_between_calls_is_replaced(tmp_path: Path) -> None:
    async with ledger_process(tmp_path) as (process, _):
        first_pid = process.pid
        os.kill(first_pid, signal.SIGKILL)
        while alive(first_pid):
            await trio.sleep(0.01)
        (reply,) = await process.execute_batch([transfer(unique_req_no())])
        assert reply.ok, reply
        assert process.restarts == 1 and process.pid != first_pid


async def test_a_child_that_dies_during_a_call_fails_that_call_only(tmp_path: Path) -> None:
    async with ledger_process(tmp_path) as (process, _):
        pid = process.pid
        os.kill(pid, signal.SIGSTOP)  # the batch is sent, and never answered
        async with trio.open_nursery() as nursery:
            failures = []

            async def call() -> None:
                try:
                    await process.execute_batch([transfer(unique_req_no())])
                except BankProcessError as exc:
                    failures.append(exc)

            nursery.start_soon(call)
            await trio.sleep(0.2)
            os.kill(pid, signal.SIGKILL)
        assert len(failures) == 1 and "died" in str(failures[0])
        (reply,) = await process.execute_batch([transfer(unique_req_no())])
        assert reply.ok and process.pid != pid


async def test_the_server_answers_outcome_unknown_when_the_ledger_dies(tmp_path: Path
                                                                       ) -> None:
    ledger = tmp_path / "ledger.db"
    holder: list[BankProcess] = []

    def in_a_process(bank: Bank) -> BankProcess:
        holder.append(BankProcess(ledger))
        return holder[0]

    async with running_core(tmp_path, bank_wrapper=in_a_process) as core, core.client() as c:
        child = holder[0]
        with trio.fail_after(30):
            before = await balances(c, ACNO_1, ACNO_2)
            os.kill(child.pid, signal.SIGSTOP)
            async with trio.open_nursery() as nursery:
                answers = []

                async def send() -> None:
                    answers.append(await c.request("210201", unique_req_no(),
                                                   transfer_fields(1 * YUAN)))

                nursery.start_soon(send)
                await trio.sleep(0.3)
                os.kill(child.pid, signal.SIGKILL)
            (answer,) = answers
            assert isinstance(answer, ErrorMessage), answer
            assert answer.ret_code == codes.BANK_FAULT.code  # unknown, never "failed"
            # The next request gets a new ledger process; the lost one moved nothing.
            reply = await c.request("210201", unique_req_no(), transfer_fields(1 * YUAN))
            assert isinstance(reply, Response) and reply.ok, reply
            after = await balances(c, ACNO_1, ACNO_2)
        assert after == (before[0] - 1 * YUAN, before[1] + 1 * YUAN)
    assert check_ledger(ledger).ok


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
async def test_the_ledger_process_never_outlives_core_serve(tmp_path: Path, sig) -> None:
    home = tmp_path / "home"
    key = enroll_with_cli(home, tmp_path)
    with running(core_serve_args(home, "--clearing-interval", "0"), home) as core:
        async with open_client(core.core, signing_key=key,
                               bank_keys=bank_public_keys(home)) as client:
            reply = await client.request("210201", unique_req_no(), transfer_fields(YUAN))
            assert isinstance(reply, Response) and reply.ok, reply
        (child,) = children_of(core.proc.pid)
        assert alive(child)
        core.proc.send_signal(sig)
        core.proc.wait(30)
        deadline = time.monotonic() + 10
        while alive(child) and time.monotonic() < deadline:
            await trio.sleep(0.05)
        assert not alive(child)
    assert check_ledger(home / "core" / "ledger.db").ok


async def test_a_reply_that_cannot_be_queued_costs_that_reply_not_the_server(
        tmp_path: Path, monkeypatch) -> None:
    from protocol.session import ServerSession

    real_send = ServerSession.send

    def send(self, event):
        if getattr(event, "req_no", "") == "BOOM0001":
            raise RuntimeError("a bug while encoding")
        return real_send(self, event)

    monkeypatch.setattr(ServerSession, "send", send)
    async with running_core(tmp_path) as core, core.client() as first, \
            core.client() as second:
        with trio.move_on_after(1):
            await first.request("210201", "BOOM0001", transfer_fields(YUAN))
            raise AssertionError("a reply that could not be encoded was sent")
        with trio.fail_after(30):
            for client in (first, second):
                reply = await client.request("210201", unique_req_no(), transfer_fields(YUAN))
                assert isinstance(reply, Response) and reply.ok, reply
