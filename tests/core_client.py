"""A small trio client for the bank core, speaking the wire protocol itself.

The core tests (and bench/core_bench.py) talk to the core the way the client
daemon does, minus the ERP side: one TCP connection, a
:class:`protocol.session.ClientSession` handshake, then requests multiplexed on
the connection and replies matched to them by ``req_no``.

* :func:`open_client` connects and handshakes, and yields a
  :class:`CoreClient` whose reader task routes every reply to the request
  that waits for it; a refused handshake raises :class:`HandshakeRefused`
  with the bank's :class:`ErrorMessage`;
* :meth:`CoreClient.request` sends one request and returns its reply (a
  ``Response``, or an ``ErrorMessage`` naming its req_no); a connection lost
  while waiting raises :class:`ConnectionLost` (outcome unknown);
* body builders for the demo seed's accounts (:func:`transfer_fields`, ...)
  with every field the fixed-format body needs, amounts in integer fen;
* :func:`enroll_key`, :func:`bank_public_keys` and :func:`core_serve_args` for
  a core home used by a ``directlink core serve`` subprocess.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import trio

from core_sim.home import CoreHome
from protocol.errors import RemoteProtocolError
from protocol.events import (
    NEED_DATA,
    ErrorMessage,
    Heartbeat,
    Request,
    Response,
    SessionEstablished,
)
from protocol.keys import BankPublicKeys, SigningKey
from protocol.session import ClientSession

# -- the demo seed (config.seed.DEMO_SEED) ------------------------------------------------

CORP_NO = "0000000001"
USER_NO = "001"
OTHER_CORP_NO = "0000000002"
BANK_NO = "301290000007"
BANK_NAME = "Simulated Bank"
ACNO_1 = "310066726018010000001"  # Demo Insurance Co., Ltd., 1,000,000.00
ACNO_2 = "310066726018010000002"  # same enterprise, 250,000.00
ACNO_FROZEN = "310066726018010000003"  # same enterprise, frozen
ACNO_OTHER_CORP = "310066726018010000101"  # Demo Trading Co., Ltd. (enterprise 2)
ACNO_UNKNOWN = "310066726018019999999"
ACNAME = "Demo Insurance Co., Ltd."
OTHER_ACNAME = "Demo Trading Co., Ltd."
ZHANG_SAN = ("6222020200000000001", "Zhang San", "102100099996")  # active, ICBC
WANG_WU = ("6217000010000000003", "Wang Wu", "105100000017")  # closed: payments return

RECEIVE_SIZE = 65536
_req_counter = itertools.count(1)


def unique_req_no(prefix: str = "C") -> str:
    """A req_no (at most 32 characters) no other test or earlier run has used."""
    return f"{prefix}{time.time_ns():x}{os.getpid() % 10000:04d}{next(_req_counter):06d}"


# -- request bodies (every field of the fixed-format body; amounts in fen) -------------


def transfer_fields(amt: int, *, pay_acno: str = ACNO_1, pay_acname: str = ACNAME,
                    rcv_acno: str = ACNO_2, rcv_acname: str = ACNAME, cert_no: str = "",
                    summary: str = "core test", **extra: object) -> dict:
    """A same-bank 210201 transfer body; ``extra`` overrides fields."""
    return {"pay_acno": pay_acno, "pay_acname": pay_acname, "rcv_bank_name": BANK_NAME,
            "rcv_acno": rcv_acno, "rcv_acname": rcv_acname, "rcv_exg_code": "",
            "rcv_bank_no": BANK_NO, "cur_code": "CNY", "amt": amt, "cert_no": cert_no,
            "summary": summary, "bank_flag": "0", "area_flag": "0", **extra}


def other_bank_transfer_fields(amt: int, payee: tuple[str, str, str] = ZHANG_SAN,
                               **extra: object) -> dict:
    """A 210201 transfer to another bank (``bank_flag=1``) to ``payee`` = (acno, name, bank_no)."""
    acno, name, bank_no = payee
    return transfer_fields(amt, rcv_acno=acno, rcv_acname=name, rcv_bank_no=bank_no,
                           rcv_bank_name="", bank_flag="1", **extra)


def payment_fields(amt: int, payee: tuple[str, str, str] = ZHANG_SAN, *,
                   pay_acno: str = ACNO_1, urgent: bool = False,
                   cert_no: str = "") -> dict:
    """A 210224 inter-bank payment body to ``payee`` = (acno, name, bank_no)."""
    acno, name, bank_no = payee
    return {"pay_acno": pay_acno, "pay_acname": ACNAME, "rcv_acno": acno, "rcv_acname": name,
            "partyid": bank_no, "amt": amt, "cert_no": cert_no, "purpose": "core test",
            "summary": "core test", "urgent_flag": "1" if urgent else "0"}


def balance_fields(acno: str) -> dict:
    return {"acno": acno}


def status_fields(req_no: str) -> dict:
    return {"query_flag": "1", "ogl_serial_no": req_no}


def history_fields(acno: str, start: str, end: str) -> dict:
    return {"acno": acno, "start_date": start, "end_date": end, "begin_no": 0, "query_num": 0}


# -- the client ---------------------------------------------------------------------------


class ConnectionLost(Exception):
    """The connection closed before the reply arrived: the outcome is unknown."""


class HandshakeRefused(Exception):
    """The bank answered the handshake with an error."""

    def __init__(self, error: ErrorMessage, closed_by_bank: bool) -> None:
        super().__init__(f"{error.ret_code} {error.ret_msg}")
        self.error = error
        self.closed_by_bank = closed_by_bank


@dataclass(eq=False)
class _Waiter:
    done: trio.Event = field(default_factory=trio.Event)
    reply: Response | ErrorMessage | None = None


@dataclass(eq=False)
class CoreClient:
    """One established connection to the core. Use :func:`open_client`."""

    stream: trio.SocketStream
    session: ClientSession
    established: SessionEstablished
    #: Every event the bank sent after the handshake, in order.
    events: list = field(default_factory=list)
    #: Errors the bank sent that answer no waiting request (session-level errors).
    errors: list[ErrorMessage] = field(default_factory=list)
    #: Set when the bank closed the connection (or the client's session failed).
    closed: trio.Event = field(default_factory=trio.Event)
    #: Why the reader stopped, when the bank sent something this session refused.
    failure: RemoteProtocolError | None = None
    _waiting: dict[str, _Waiter] = field(default_factory=dict)
    _heartbeats: int = 0
    _heartbeat_seen: trio.Event = field(default_factory=trio.Event)
    _send_lock: trio.Lock = field(default_factory=trio.Lock)

    # -- sending ---------------------------------------------------------------------

    async def send(self, event: Request | Heartbeat | ErrorMessage) -> None:
        """Queue ``event`` in the session and write it out."""
        async with self._send_lock:
            if self.closed.is_set():
                raise ConnectionLost("the connection is closed")
            self.session.send(event)
            await self.stream.send_all(self.session.data_to_send())

    async def send_raw(self, data: bytes) -> None:
        """Write bytes as they are (a tampered or replayed frame)."""
        async with self._send_lock:
            await self.stream.send_all(data)

    def encode(self, request: Request) -> bytes:
        """The frame ``request`` would be sent as, without sending it (uses a seq no)."""
        self.session.send(request)
        return self.session.data_to_send()

    async def request(self, tr_code: str, req_no: str, fields: Mapping
                      ) -> Response | ErrorMessage:
        """Send one request and wait for its reply; ConnectionLost if none can come."""
        waiter = self.expect(req_no)
        try:
            await self.send(Request(tr_code=tr_code, req_no=req_no, fields=fields))
        except (trio.BrokenResourceError, trio.ClosedResourceError, ConnectionLost) as exc:
            self._waiting.pop(req_no, None)
            raise ConnectionLost(f"{req_no}: connection lost while sending") from exc
        return await self.reply_to(req_no, waiter)

    def expect(self, req_no: str) -> _Waiter:
        """Register interest in ``req_no``'s reply (before sending it some other way)."""
        if req_no in self._waiting:
            raise ValueError(f"a request with req_no {req_no} is already in flight")
        if self.closed.is_set():
            raise ConnectionLost(f"{req_no}: the connection is closed")
        waiter = self._waiting[req_no] = _Waiter()
        return waiter

    async def reply_to(self, req_no: str, waiter: _Waiter) -> Response | ErrorMessage:
        await waiter.done.wait()
        if waiter.reply is None:
            raise ConnectionLost(f"{req_no}: connection lost before the reply")
        return waiter.reply

    async def heartbeat(self) -> None:
        """Send a heartbeat and wait for the bank's."""
        seen = self._heartbeats
        await self.send(Heartbeat())
        while self._heartbeats == seen:
            if self.closed.is_set():
                raise ConnectionLost("connection lost before the heartbeat reply")
            self._heartbeat_seen = trio.Event()  # the reader sets it on closing too
            await self._heartbeat_seen.wait()

    # -- receiving -------------------------------------------------------------------

    async def _reader(self) -> None:
        try:
            while True:
                try:
                    data = await self.stream.receive_some(RECEIVE_SIZE)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    data = b""
                try:
                    self.session.receive_data(data)
                    if not data:
                        return
                    while (event := self.session.next_event()) is not NEED_DATA:
                        self._route(event)
                except RemoteProtocolError as exc:
                    self.failure = exc
                    return
        finally:
            self.closed.set()
            for waiter in self._waiting.values():
                waiter.done.set()
            self._waiting.clear()
            self._heartbeat_seen.set()

    def _route(self, event) -> None:
        self.events.append(event)
        if isinstance(event, Heartbeat):
            self._heartbeats += 1
            self._heartbeat_seen.set()
            return
        if isinstance(event, Response | ErrorMessage):
            waiter = self._waiting.pop(event.req_no, None) if event.req_no else None
            if waiter is not None:
                waiter.reply = event
                waiter.done.set()
                return
            if isinstance(event, ErrorMessage):
                self.errors.append(event)
                return
        raise AssertionError(f"unexpected event from the bank: {event!r}")


async def handshake(stream: trio.abc.Stream, session: ClientSession
                    ) -> SessionEstablished | ErrorMessage:
    """Run the client's handshake on ``stream``; the bank's answer as an event."""
    session.start()
    await stream.send_all(session.data_to_send())
    while True:
        event = session.next_event()
        if event is not NEED_DATA:
            return event
        data = await stream.receive_some(RECEIVE_SIZE)
        session.receive_data(data)
        if not data:
            raise ConnectionLost("the bank closed the connection during the handshake")


@asynccontextmanager
async def open_client(address: tuple[str, int], *, signing_key: SigningKey | None,
                      bank_keys: BankPublicKeys | None, corp_no: str = CORP_NO,
                      user_no: str = USER_NO, clock: Callable[[], float] = time.time
                      ) -> AsyncIterator[CoreClient]:
    """Connect and handshake (certflag=1 with keys, certflag=0 without); yield the client."""
    stream = await trio.open_tcp_stream(*address)
    try:
        session = ClientSession(corp_no=corp_no, user_no=user_no, signing_key=signing_key,
                                bank_keys=bank_keys, clock=clock)
        event = await handshake(stream, session)
        if isinstance(event, ErrorMessage):
            raise HandshakeRefused(event, await _closed_by_peer(stream))
        assert isinstance(event, SessionEstablished), event
        client = CoreClient(stream=stream, session=session, established=event)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(client._reader)
            try:
                yield client
            finally:
                nursery.cancel_scope.cancel()
    finally:
        await trio.aclose_forcefully(stream)


async def _closed_by_peer(stream: trio.abc.Stream, timeout: float = 5.0) -> bool:
    """True when the peer closes the connection (EOF) within ``timeout``, sending nothing."""
    with trio.move_on_after(timeout):
        try:
            return await stream.receive_some(RECEIVE_SIZE) == b""
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return True
    return False


# -- reading replies ------------------------------------------------------------------


async def account(client: CoreClient, acno: str) -> dict:
    """The 310101 record of ``acno`` (balances in fen)."""
    reply = await client.request("310101", unique_req_no("B"), balance_fields(acno))
    assert isinstance(reply, Response) and reply.ok, reply
    (record,) = reply.fields["records"]
    return record


async def balance(client: CoreClient, acno: str) -> int:
    """The ledger balance of ``acno`` in fen."""
    return (await account(client, acno))["balance"]


async def balances(client: CoreClient, *acnos: str) -> tuple[int, ...]:
    return tuple([await balance(client, acno) for acno in acnos])


async def status(client: CoreClient, req_no: str) -> dict:
    """The 310204 body for ``req_no``."""
    reply = await client.request("310204", unique_req_no("Q"), status_fields(req_no))
    assert isinstance(reply, Response) and reply.ok, reply
    return dict(reply.fields)


# -- a core home for `directlink core serve` subprocesses -------------------------------


def enroll_key(home: Path, key: SigningKey, corp_no: str = CORP_NO,
               user_no: str = USER_NO) -> None:
    """Enroll ``key`` in the core home's register (what ``directlink core enroll`` does)."""
    CoreHome(home).register.enroll(corp_no, user_no, key.public)


def bank_public_keys(home: Path) -> BankPublicKeys:
    """The bank's public keys, as ``core serve`` wrote them to ``<home>/core/bank.pub``."""
    return BankPublicKeys.from_text(CoreHome(home).public_keys.read_text(encoding="ascii"))


def core_serve_args(home: Path, *extra: str) -> list[str]:
    return ["core", "serve", "--home", str(home), "--port", "0", *extra]
