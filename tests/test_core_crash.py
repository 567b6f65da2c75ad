"""Acknowledged means durable, and exactly once, across kill -9 of ``directlink core serve``.

The core runs as a subprocess on a fresh home. Several connections drive
same-bank transfers with fixed req_nos; the core is killed with SIGKILL
while requests are in flight, restarted on the same home, and every req_no
is sent again with the same content. Each must then be a success whose money
moved exactly once; every transfer acknowledged before the kill must come
back with its original serial_no; ``directlink core check`` must pass.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import trio

from protocol.events import Response
from protocol.keys import BankPublicKeys, SigningKey
from tests.core_client import (
    ACNO_1,
    ACNO_2,
    CORP_NO,
    USER_NO,
    ConnectionLost,
    balances,
    bank_public_keys,
    core_serve_args,
    open_client,
    status,
    transfer_fields,
    unique_req_no,
)
from tests.erp_client import Running, cli, running, start_process

AMOUNT = 1_00  # fen
TRANSFERS = 300
CONNECTIONS = 4
IN_FLIGHT = 8  # per connection
KILL_AFTER = 80  # acknowledged transfers
STEP_TIMEOUT = 60


def enroll_with_cli(home: Path, tmp_path: Path) -> SigningKey:
    """``directlink core init`` a demo bank, then ``core enroll`` a fresh key in it."""
    cli("core", "init", "--home", str(home))
    key = SigningKey.generate()
    pem = tmp_path / "client.pub.pem"
    pem.write_bytes(key.public.to_pem())
    result = cli("core", "enroll", "--home", str(home), "--corp-no", CORP_NO,
                 "--user-no", USER_NO, str(pem))
    assert key.key_id in result.stdout
    return key


async def start_core(home: Path) -> Running:
    return await trio.to_thread.run_sync(
        lambda: start_process(core_serve_args(home, "--clearing-interval", "0"), home))


async def drive(core: Running, key: SigningKey, bank: BankPublicKeys, req_nos: list[str],
                acked: dict[str, str], *, kill_after: int | None) -> set[str]:
    """Send every req_no (CONNECTIONS x IN_FLIGHT at a time); returns those left unknown.

    Successes go into ``acked`` (req_no -> serial_no). With ``kill_after``, the
    core is killed (SIGKILL) once that many transfers were acknowledged.
    """
    todo = iter(req_nos)
    unknown: set[str] = set()
    killed = trio.Event()

    async def worker(client) -> None:
        for req_no in todo:
            try:
                reply = await client.request("210201", req_no, transfer_fields(AMOUNT))
            except ConnectionLost:
                unknown.add(req_no)
                return
            assert isinstance(reply, Response) and reply.ok, reply
            acked[req_no] = reply.serial_no
            if kill_after is not None and len(acked) >= kill_after and not killed.is_set():
                os.kill(core.proc.pid, signal.SIGKILL)
                killed.set()

    async def connection() -> None:
        async with open_client(core.core, signing_key=key, bank_keys=bank) as client, \
                trio.open_nursery() as nursery:
            for _ in range(IN_FLIGHT):
                nursery.start_soon(worker, client)

    async with trio.open_nursery() as nursery:
        for _ in range(CONNECTIONS):
            nursery.start_soon(connection)
    return unknown


async def test_kill_9_loses_no_acknowledged_transfer_and_retries_execute_once(
        tmp_path: Path) -> None:
    home = tmp_path / "home"
    key = enroll_with_cli(home, tmp_path)
    prefix = unique_req_no("K")[:20]
    req_nos = [f"{prefix}{i:05d}" for i in range(TRANSFERS)]
    args = core_serve_args(home, "--clearing-interval", "0")
    acknowledged: dict[str, str] = {}  # req_no -> serial_no, from every run before a kill
    bank: BankPublicKeys | None = None

    # Two runs killed mid-load; the second sends the req_nos in reverse order, so
    # that it executes new transfers (not only retries) when it is killed too.
    for order in (req_nos, req_nos[::-1]):
        with running(args, home) as core:
            if bank is None:
                bank = bank_public_keys(home)
                async with open_client(core.core, signing_key=key, bank_keys=bank) as client:
                    payer_before, payee_before = await balances(client, ACNO_1, ACNO_2)
            assert bank_public_keys(home) == bank  # the same bank keys after a restart
            acked: dict[str, str] = {}
            with trio.fail_after(STEP_TIMEOUT):
                unknown = await drive(core, key, bank, order, acked, kill_after=KILL_AFTER)
            assert await trio.to_thread.run_sync(core.proc.wait) == -signal.SIGKILL
        # The kill came mid-load: some were acknowledged, some were in flight.
        assert KILL_AFTER <= len(acked) < TRANSFERS
        assert unknown, "no request was in flight when the core was killed"
        for req_no, serial_no in acked.items():
            assert acknowledged.setdefault(req_no, serial_no) == serial_no, req_no

    assert bank is not None
    with running(args, home) as core:
        retried: dict[str, str] = {}
        with trio.fail_after(STEP_TIMEOUT):
            left = await drive(core, key, bank, req_nos, retried, kill_after=None)
        assert not left
        assert sorted(retried) == sorted(req_nos)  # every retry is a success
        for req_no, serial_no in acknowledged.items():
            assert retried[req_no] == serial_no, req_no  # the original answer
        assert len(set(retried.values())) == TRANSFERS  # one execution each

        async with open_client(core.core, signing_key=key, bank_keys=bank) as client:
            payer, payee = await balances(client, ACNO_1, ACNO_2)
            for req_no in (*list(acknowledged)[:5], *req_nos[-5:]):
                assert (await status(client, req_no))["stat"] == "1"
        moved = len(retried) * AMOUNT
        assert (payer, payee) == (payer_before - moved, payee_before + moved)
        assert core.stop() == 0

    check = cli("core", "check", "--home", str(home), check=False)
    assert check.returncode == 0, check.stdout + check.stderr


async def test_sigterm_exits_cleanly(tmp_path: Path) -> None:
    home = tmp_path / "home"
    key = enroll_with_cli(home, tmp_path)
    core = await start_core(home)
    try:
        pidfile = home / "core" / "core.pid"
        assert pidfile.read_text().strip() == str(core.proc.pid)
        async with open_client(core.core, signing_key=key,
                               bank_keys=bank_public_keys(home)) as client:
            reply = await client.request("210201", unique_req_no("S"), transfer_fields(AMOUNT))
            assert isinstance(reply, Response) and reply.ok, reply
            # An idle connection stays open while the core shuts down.
            status_code = await trio.to_thread.run_sync(core.stop)
            assert status_code == 0, core.stderr()
            with trio.fail_after(STEP_TIMEOUT):
                await client.closed.wait()
        assert "Traceback" not in core.stderr()
        assert not pidfile.exists()
    finally:
        if core.proc.poll() is None:
            core.proc.kill()
            core.proc.wait()
        if core.proc.stdout is not None:
            core.proc.stdout.close()
    check = cli("core", "check", "--home", str(home), check=False)
    assert check.returncode == 0, check.stdout + check.stderr
