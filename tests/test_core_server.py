"""The bank core's TCP server, over real TCP: transactions, refusals, security, batching.

Each test starts a :class:`core_sim.server.CoreServer` in-process on port 0
(a fresh ledger under ``tmp_path`` from the demo seed, bank keys generated
here, the client's key enrolled in a :class:`KeyRegister`) and talks to it
with the wire-protocol client in :mod:`tests.core_client`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio

from config.seed import DEMO_SEED, parse_seed
from core_sim.bank import Bank
from core_sim.check import check_ledger
from core_sim.enrollment import KeyRegister
from core_sim.server import CoreServer
from protocol import codes
from protocol.events import ErrorMessage, Request, Response
from protocol.framing import PREFIX_SIZE
from protocol.header import HEADER_SIZE, MessageType
from protocol.keys import BankKeyPair, SigningKey
from tests.core_client import (
    ACNAME,
    ACNO_1,
    ACNO_2,
    ACNO_FROZEN,
    ACNO_OTHER_CORP,
    ACNO_UNKNOWN,
    CORP_NO,
    OTHER_ACNAME,
    OTHER_CORP_NO,
    USER_NO,
    WANG_WU,
    ZHANG_SAN,
    CoreClient,
    HandshakeRefused,
    account,
    balance,
    balances,
    history_fields,
    open_client,
    other_bank_transfer_fields,
    payment_fields,
    status,
    transfer_fields,
    unique_req_no,
)

YUAN = 100  # fen
REPLY_TIMEOUT = 30


@dataclass
class Core:
    server: CoreServer
    bank: Bank
    address: tuple[str, int]
    keys: BankKeyPair
    client_key: SigningKey
    other_key: SigningKey  # enrolled for enterprise 2's operator 001
    register: KeyRegister
    ledger: Path

    def client(self, key: SigningKey | None = None, **kw):
        """A certflag=1 client (the enrolled key unless ``key``)."""
        return open_client(self.address, signing_key=key or self.client_key,
                           bank_keys=self.keys.public, **kw)

    def other_client(self):
        """A certflag=1 client of enterprise 2."""
        return self.client(self.other_key, corp_no=OTHER_CORP_NO, user_no="001")

    def plaintext_client(self, **kw):
        return open_client(self.address, signing_key=None, bank_keys=None, **kw)


@asynccontextmanager
async def running_core(tmp_path: Path, *, bank_wrapper=None, **server_kw
                       ) -> AsyncIterator[Core]:
    """A CoreServer on 127.0.0.1:0 over a fresh demo-seed ledger, for the block."""
    ledger = tmp_path / "ledger.db"
    bank = Bank.open(ledger, seed=parse_seed(DEMO_SEED, "<demo seed>"))
    keys = BankKeyPair.generate()
    register = KeyRegister(tmp_path / "enrolled")
    client_key = SigningKey.generate()
    register.enroll(CORP_NO, USER_NO, client_key.public)
    other_key = SigningKey.generate()
    register.enroll(OTHER_CORP_NO, "001", other_key.public)
    server_kw.setdefault("clearing_interval", None)
    server = CoreServer(bank_wrapper(bank) if bank_wrapper else bank, keys, register.lookup,
                        **server_kw)
    try:
        async with trio.open_nursery() as nursery:
            address = await nursery.start(server.serve, "127.0.0.1", 0)
            yield Core(server, bank, address, keys, client_key, other_key, register, ledger)
            nursery.cancel_scope.cancel()
    finally:
        bank.close()


@pytest.fixture
async def core(tmp_path: Path) -> AsyncIterator[Core]:
    async with running_core(tmp_path) as running:
        yield running


@pytest.fixture
async def client(core: Core) -> AsyncIterator[CoreClient]:
    async with core.client() as connected:
        yield connected


async def ok(client: CoreClient, tr_code: str, fields: dict, req_no: str | None = None
             ) -> Response:
    """Send a request that must succeed; its Response."""
    with trio.fail_after(REPLY_TIMEOUT):
        reply = await client.request(tr_code, req_no or unique_req_no(), fields)
    assert isinstance(reply, Response) and reply.ok, reply
    return reply


async def refused(client: CoreClient, tr_code: str, fields: dict, code: codes.ReturnCode,
                  req_no: str | None = None) -> Response:
    """Send a request the bank must refuse with ``code``; its Response."""
    with trio.fail_after(REPLY_TIMEOUT):
        reply = await client.request(tr_code, req_no or unique_req_no(), fields)
    assert isinstance(reply, Response), reply
    assert reply.ret_code == code.code, reply
    assert reply.serial_no == "" and not reply.fields, reply
    assert reply.ret_msg, reply
    return reply


async def wait_closed(client: CoreClient) -> None:
    with trio.fail_after(REPLY_TIMEOUT):
        await client.closed.wait()


def assert_ledger_ok(core: Core) -> None:
    report = check_ledger(core.ledger)
    assert report.ok, str(report)


# -- the session --------------------------------------------------------------------------


async def test_handshake_is_signed_and_encrypted(core: Core, client: CoreClient) -> None:
    assert client.established.secure
    assert client.established.key_id == core.client_key.key_id
    assert (client.established.corp_no, client.established.user_no) == (CORP_NO, USER_NO)


async def test_heartbeat_is_answered(client: CoreClient) -> None:
    with trio.fail_after(REPLY_TIMEOUT):
        await client.heartbeat()
        await client.heartbeat()
    assert not client.errors and not client.closed.is_set()


# -- each transaction --------------------------------------------------------------------


async def test_310101_balance(client: CoreClient) -> None:
    reply = await ok(client, "310101", {"acno": ACNO_1})
    assert reply.serial_no == ""
    (record,) = reply.fields["records"]
    assert record["acno"] == ACNO_1
    assert record["acname"] == ACNAME
    assert record["cur_code"] == "CNY"
    assert record["balance"] == record["avail_balance"] == 1_000_000 * YUAN
    assert record["succ_flag"] == "0"


async def test_310101_blank_acno_lists_every_account_of_the_enterprise(
        client: CoreClient) -> None:
    reply = await ok(client, "310101", {"acno": ""})
    acnos = {r["acno"] for r in reply.fields["records"]}
    assert {ACNO_1, ACNO_2, ACNO_FROZEN} <= acnos
    assert ACNO_OTHER_CORP not in acnos


async def test_210201_same_bank_transfer_moves_money_at_once(client: CoreClient) -> None:
    before = await balances(client, ACNO_1, ACNO_2)
    req_no = unique_req_no("T")
    reply = await ok(client, "210201", transfer_fields(123_45), req_no)
    assert reply.req_no == req_no
    assert reply.serial_no
    assert reply.fields == {"stat": "1"}
    after = await balances(client, ACNO_1, ACNO_2)
    assert after == (before[0] - 123_45, before[1] + 123_45)
    query = await status(client, req_no)
    assert query["stat"] == "1"
    assert query["amt"] == 123_45
    assert (query["pay_acno"], query["rcv_acno"]) == (ACNO_1, ACNO_2)


async def test_310201_lists_todays_entries(client: CoreClient) -> None:
    req_no = unique_req_no("T")
    transfer = await ok(client, "210201", transfer_fields(7_00, cert_no="V-1"), req_no)
    reply = await ok(client, "310201", {"acno": ACNO_1})
    assert reply.fields["acno"] == ACNO_1
    (entry,) = [r for r in reply.fields["records"] if r["req_no"] == req_no]
    assert entry["serial_no"] == transfer.serial_no
    assert entry["dc_flag"] == "D"
    assert entry["amt"] == 7_00
    assert entry["balance"] == 1_000_000 * YUAN - 7_00
    assert entry["opp_acno"] == ACNO_2
    assert entry["cert_no"] == "V-1"


async def test_310301_lists_entries_by_date(core: Core, client: CoreClient) -> None:
    req_no = unique_req_no("T")
    await ok(client, "210201", transfer_fields(8_00), req_no)
    day = f"{core.bank.business_date:%Y%m%d}"
    reply = await ok(client, "310301", history_fields(ACNO_2, day, day))
    fields = reply.fields
    assert fields["acno"] == ACNO_2
    assert fields["total_num"] == len(fields["records"]) >= 1
    assert fields["more_flag"] == "0"
    (entry,) = [r for r in fields["records"] if r["req_no"] == req_no]
    assert (entry["dc_flag"], entry["amt"], entry["opp_acno"]) == ("C", 8_00, ACNO_1)


async def test_310301_refuses_a_reversed_date_range(core: Core, client: CoreClient) -> None:
    await refused(client, "310301", history_fields(ACNO_1, "20261125", "20261124"),
                  codes.INVALID_DATE_RANGE)


async def test_210224_settles_at_the_clearing_run(core: Core, client: CoreClient) -> None:
    payer_before = await balance(client, ACNO_1)
    req_no = unique_req_no("P")
    reply = await ok(client, "210224", payment_fields(500_00, ZHANG_SAN), req_no)
    assert reply.serial_no
    assert reply.fields == {"tran_status": "34"}
    assert (await status(client, req_no))["stat"] == "0"
    assert await balance(client, ACNO_1) == payer_before - 500_00  # debited into clearing

    report = await core.server.run_clearing(force_batch=True)
    assert [p.req_no for p in report.settled] == [req_no]

    query = await status(client, req_no)
    assert query["stat"] == "1"
    assert (query["rcv_acno"], query["rcv_bank_no"], query["amt"]) == (
        ZHANG_SAN[0], ZHANG_SAN[2], 500_00)
    assert await balance(client, ACNO_1) == payer_before - 500_00
    assert_ledger_ok(core)


async def test_210224_to_a_closed_account_is_returned(core: Core, client: CoreClient) -> None:
    payer_before = await balance(client, ACNO_1)
    req_no = unique_req_no("P")
    reply = await ok(client, "210224", payment_fields(300_00, WANG_WU), req_no)
    assert reply.fields == {"tran_status": "34"}
    assert await balance(client, ACNO_1) == payer_before - 300_00

    report = await core.server.run_clearing(force_batch=True)
    assert [p.req_no for p in report.returned] == [req_no]

    query = await status(client, req_no)
    assert query["stat"] == "2"
    assert query["err_msg"]
    assert await balance(client, ACNO_1) == payer_before  # the money came back
    assert_ledger_ok(core)


async def test_210201_to_another_bank_is_processing_until_cleared(
        core: Core, client: CoreClient) -> None:
    payer_before = await balance(client, ACNO_1)
    req_no = unique_req_no("O")
    reply = await ok(client, "210201", other_bank_transfer_fields(60_00), req_no)
    assert reply.serial_no
    assert reply.fields == {"stat": "0"}
    assert await balance(client, ACNO_1) == payer_before - 60_00
    await core.server.run_clearing()  # urgent: due at every run
    assert (await status(client, req_no))["stat"] == "1"
    assert_ledger_ok(core)


async def test_310204_unknown_req_no_is_no_such_record(client: CoreClient) -> None:
    assert (await status(client, unique_req_no("N")))["stat"] == "4"


# -- refusals: each with its own code, and nothing changes ------------------------------

REFUSALS = [
    pytest.param(transfer_fields(1_00, pay_acno=ACNO_UNKNOWN), codes.UNKNOWN_ACCOUNT,
                 id="E003-unknown-payer"),
    pytest.param(transfer_fields(1_00, rcv_acno=ACNO_UNKNOWN), codes.UNKNOWN_ACCOUNT,
                 id="E003-unknown-payee"),
    pytest.param(transfer_fields(1_00, pay_acno=ACNO_OTHER_CORP, pay_acname=OTHER_ACNAME),
                 codes.NOT_OWN_ACCOUNT, id="E004-other-enterprise"),
    pytest.param(transfer_fields(1_00, pay_acno=ACNO_FROZEN), codes.ACCOUNT_FROZEN,
                 id="E005-frozen-payer"),
    pytest.param(transfer_fields(300_000 * YUAN, pay_acno=ACNO_2, rcv_acno=ACNO_1),
                 codes.INSUFFICIENT_FUNDS, id="E008-insufficient"),
    pytest.param(transfer_fields(0), codes.INVALID_AMOUNT, id="E002-zero-amount"),
    pytest.param(transfer_fields(1_00, rcv_acno=ACNO_1), codes.SAME_ACCOUNT,
                 id="E012-same-account"),
]


@pytest.mark.parametrize(("fields", "code"), REFUSALS)
async def test_refusal_has_its_code_and_changes_nothing(
        core: Core, client: CoreClient, fields: dict, code: codes.ReturnCode) -> None:
    async def snapshot() -> tuple:
        async with core.other_client() as other:
            return (await balances(client, ACNO_1, ACNO_2, ACNO_FROZEN),
                    await balance(other, ACNO_OTHER_CORP))

    before = await snapshot()
    req_no = unique_req_no("R")
    reply = await refused(client, "210201", fields, code, req_no)
    assert reply.req_no == req_no
    assert await snapshot() == before
    query = await status(client, req_no)
    assert query["stat"] == "2" and query["err_msg"]
    # The refusal is recorded: a retry gets the same answer.
    again = await refused(client, "210201", fields, code, req_no)
    assert again == reply
    assert_ledger_ok(core)


async def test_310101_of_another_enterprises_account_is_refused(client: CoreClient) -> None:
    await refused(client, "310101", {"acno": ACNO_OTHER_CORP}, codes.NOT_OWN_ACCOUNT)


async def test_310101_of_an_unknown_account_is_refused(client: CoreClient) -> None:
    await refused(client, "310101", {"acno": ACNO_UNKNOWN}, codes.UNKNOWN_ACCOUNT)


# -- exactly once ---------------------------------------------------------------------------


async def test_retry_with_the_same_content_returns_the_original_reply(
        core: Core, client: CoreClient) -> None:
    before = await balances(client, ACNO_1, ACNO_2)
    req_no = unique_req_no("X")
    first = await ok(client, "210201", transfer_fields(42_00), req_no)
    for _ in range(3):
        again = await ok(client, "210201", transfer_fields(42_00), req_no)
        assert again == first  # same serial_no, ret_code, ret_msg and body
    # ...also on another connection.
    async with core.client() as other:
        assert await ok(other, "210201", transfer_fields(42_00), req_no) == first
    assert await balances(client, ACNO_1, ACNO_2) == (before[0] - 42_00, before[1] + 42_00)
    assert_ledger_ok(core)


async def test_same_req_no_with_other_content_is_e011(core: Core, client: CoreClient) -> None:
    req_no = unique_req_no("X")
    first = await ok(client, "210201", transfer_fields(10_00), req_no)
    before = await balances(client, ACNO_1, ACNO_2)
    await refused(client, "210201", transfer_fields(11_00), codes.DUPLICATE_REQ_NO, req_no)
    await refused(client, "210224", payment_fields(10_00), codes.DUPLICATE_REQ_NO, req_no)
    assert await balances(client, ACNO_1, ACNO_2) == before
    # The original is untouched: its retry still gets its own reply.
    assert await ok(client, "210201", transfer_fields(10_00), req_no) == first
    assert (await status(client, req_no))["amt"] == 10_00


# -- security ---------------------------------------------------------------------------------


async def test_tampered_ciphertext_is_refused_with_p010_and_closed(
        core: Core, client: CoreClient) -> None:
    before = await balances(client, ACNO_1, ACNO_2)
    req_no = unique_req_no("Z")
    frame = bytearray(client.encode(Request(tr_code="210201", req_no=req_no,
                                            fields=transfer_fields(1_00))))
    frame[PREFIX_SIZE + HEADER_SIZE + 10] ^= 0x01  # inside the encrypted body
    await client.send_raw(bytes(frame))
    await wait_closed(client)
    assert [e.ret_code for e in client.errors] == [codes.AUTHENTICATION_FAILED.code]
    assert client.errors[0].ret_msg == codes.AUTHENTICATION_FAILED.message
    async with core.client() as fresh:
        assert await balances(fresh, ACNO_1, ACNO_2) == before
        assert (await status(fresh, req_no))["stat"] == "4"


async def test_replayed_frame_is_refused(core: Core, client: CoreClient) -> None:
    req_no = unique_req_no("Y")
    frame = client.encode(Request(tr_code="210201", req_no=req_no,
                                  fields=transfer_fields(2_00)))
    waiter = client.expect(req_no)
    await client.send_raw(frame)
    with trio.fail_after(REPLY_TIMEOUT):
        first = await client.reply_to(req_no, waiter)
    assert isinstance(first, Response) and first.ok, first
    after_first = await balances(client, ACNO_1, ACNO_2)

    await client.send_raw(frame)  # the very same bytes again
    await wait_closed(client)
    assert [e.ret_code for e in client.errors] == [codes.AUTHENTICATION_FAILED.code]
    async with core.client() as fresh:
        assert await balances(fresh, ACNO_1, ACNO_2) == after_first


async def test_undecodable_body_gets_an_error_and_the_session_goes_on(
        client: CoreClient) -> None:
    req_no = unique_req_no("U")
    waiter = client.expect(req_no)
    # An authentic (signed, encrypted) request whose body is not a 310101 body.
    client.session._queue(MessageType.REQUEST, b"not a body", tr_code="310101", req_no=req_no)
    await client.send_raw(client.session.data_to_send())
    with trio.fail_after(REPLY_TIMEOUT):
        reply = await client.reply_to(req_no, waiter)
    assert isinstance(reply, ErrorMessage), reply
    assert reply.ret_code == codes.MALFORMED_FRAME.code
    assert not client.closed.is_set()
    await ok(client, "310101", {"acno": ACNO_1})


async def test_key_not_enrolled_is_refused_with_p010(core: Core) -> None:
    stranger = SigningKey.generate()
    with pytest.raises(HandshakeRefused) as refusal:
        async with core.client(stranger):
            pass
    assert refusal.value.error.ret_code == codes.AUTHENTICATION_FAILED.code
    assert refusal.value.closed_by_bank


async def test_key_enrolled_for_another_operator_is_refused_with_p010(core: Core) -> None:
    # The enterprise 1 key claims to be enterprise 2's operator.
    with pytest.raises(HandshakeRefused) as refusal:
        async with core.client(corp_no=OTHER_CORP_NO, user_no="001"):
            pass
    assert refusal.value.error.ret_code == codes.AUTHENTICATION_FAILED.code


async def test_plaintext_client_is_refused_by_default(core: Core) -> None:
    with pytest.raises(HandshakeRefused) as refusal:
        async with core.plaintext_client():
            pass
    assert refusal.value.error.ret_code == codes.PLAINTEXT_REFUSED.code
    assert refusal.value.closed_by_bank


async def test_plaintext_client_is_served_when_allowed(tmp_path: Path) -> None:
    async with running_core(tmp_path, allow_plaintext=True) as core, \
            core.plaintext_client() as client:
        assert not client.established.secure
        before = await balance(client, ACNO_1)
        await ok(client, "210201", transfer_fields(3_00))
        assert await balance(client, ACNO_1) == before - 3_00
        # certflag=1 clients are still served alongside.
        async with core.client() as secure:
            assert secure.established.secure
            assert await balance(secure, ACNO_1) == before - 3_00


async def test_plaintext_unknown_operator_is_refused(tmp_path: Path) -> None:
    async with running_core(tmp_path, allow_plaintext=True) as core:
        with pytest.raises(HandshakeRefused) as refusal:
            async with core.plaintext_client(user_no="999"):
                pass
    assert refusal.value.error.ret_code == codes.NOT_ENROLLED.code


# -- group commit and draining ---------------------------------------------------------------


async def test_concurrent_transfers_share_commits(core: Core, client: CoreClient) -> None:
    n = 64
    before = await balances(client, ACNO_1, ACNO_2)
    batches_before = core.server.batches
    req_nos = [unique_req_no("G") for _ in range(n)]
    replies: dict[str, Response | ErrorMessage] = {}

    async def one(req_no: str) -> None:
        replies[req_no] = await client.request("210201", req_no, transfer_fields(1_00))

    with trio.fail_after(REPLY_TIMEOUT):
        async with trio.open_nursery() as nursery:
            for req_no in req_nos:
                nursery.start_soon(one, req_no)

    assert all(isinstance(r, Response) and r.ok for r in replies.values()), replies
    assert len({r.serial_no for r in replies.values()}) == n
    batches = core.server.batches - batches_before
    assert 1 <= batches < n
    assert await balances(client, ACNO_1, ACNO_2) == (before[0] - n * 1_00, before[1] + n * 1_00)
    for req_no in req_nos[:: n // 8]:
        assert (await status(client, req_no))["stat"] == "1"
    assert_ledger_ok(core)


class SlowBank:
    """The bank, with every batch held back until released (requests stay in flight)."""

    def __init__(self, bank: Bank) -> None:
        self._bank = bank
        self.batch_started = threading.Event()
        self.release = threading.Event()

    def execute_batch(self, requests):
        self.batch_started.set()
        self.release.wait(REPLY_TIMEOUT)
        return self._bank.execute_batch(requests)

    def __getattr__(self, name: str):
        return getattr(self._bank, name)


async def test_drain_answers_requests_in_flight(tmp_path: Path) -> None:
    async with running_core(tmp_path, bank_wrapper=SlowBank) as core, \
            core.client() as client:
        slow: SlowBank = core.server.gate.bank
        n = 16
        replies: dict[str, Response | ErrorMessage] = {}
        drained = trio.Event()

        async def one(req_no: str) -> None:
            replies[req_no] = await client.request("210201", req_no, transfer_fields(1_00))

        async def drain() -> None:
            await core.server.drain()
            drained.set()

        with trio.fail_after(REPLY_TIMEOUT):
            async with trio.open_nursery() as nursery:
                for _ in range(n):
                    nursery.start_soon(one, unique_req_no("D"))
                await trio.to_thread.run_sync(slow.batch_started.wait, REPLY_TIMEOUT)
                # Every request has reached the server: the first is in the bank, the
                # rest are queued behind it.
                while core.server._in_flight < n:
                    await trio.sleep(0.01)
                nursery.start_soon(drain)
                await trio.sleep(0.2)
                assert not drained.is_set()  # drain waits for the requests in flight
                slow.release.set()
            assert drained.is_set()

        assert len(replies) == n
        assert all(isinstance(r, Response) and r.ok for r in replies.values()), replies
        # New requests after the drain are turned away, with nothing executed.
        late = unique_req_no("L")
        with trio.fail_after(REPLY_TIMEOUT):
            reply = await client.request("210201", late, transfer_fields(1_00))
        assert isinstance(reply, ErrorMessage), reply
        assert reply.ret_code == codes.SHUTTING_DOWN.code
        assert reply.req_no == late
    assert check_ledger(core.ledger).ok
    with Bank.open(core.ledger) as bank:
        row = bank.connection.execute(
            "SELECT count(*) FROM instructions WHERE req_no = ?", (late,)).fetchone()
    assert row == (0,)


async def test_bank_answers_many_connections(core: Core) -> None:
    async def session(index: int) -> None:
        async with core.client() as client:
            await ok(client, "210201", transfer_fields(1_00))
            await ok(client, "310101", {"acno": ACNO_1})

    started = time.monotonic()
    with trio.fail_after(REPLY_TIMEOUT):
        async with trio.open_nursery() as nursery:
            for i in range(8):
                nursery.start_soon(session, i)
    assert time.monotonic() - started < REPLY_TIMEOUT
    async with core.client() as client:
        assert (await account(client, ACNO_1))["balance"] == 1_000_000 * YUAN - 8 * 1_00
