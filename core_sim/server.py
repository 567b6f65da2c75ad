"""The bank core's TCP server: a thin trio layer around protocol.ServerSession.

One task per connection; requests on a connection are executed concurrently
and answered as they complete (the client matches replies by req_no). All
ledger work goes through one executor task that hands batches to a worker
thread: whatever requests arrived while the previous batch was committing are
executed together and committed with one fsync (group commit), and replies
leave only after that commit returns — acknowledged means durable.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import trio

from core_sim.transaction import Reply
from core_sim.transaction import Request as BankRequest
from protocol import codes
from protocol.errors import (
    AuthenticationError,
    LocalProtocolError,
    MessageTooLarge,
    RemoteProtocolError,
)
from protocol.events import (
    NEED_DATA,
    ErrorMessage,
    Heartbeat,
    Request,
    Response,
    SessionEstablished,
)
from protocol.framing import DEFAULT_MAX_FRAME
from protocol.keys import BankKeyPair
from protocol.session import ServerSession

log = logging.getLogger("directlink.core")

RECEIVE_SIZE = 65536


@dataclass(eq=False)
class _Pending:
    request: BankRequest
    done: trio.Event = field(default_factory=trio.Event)
    reply: Reply | None = None


class BankGate:
    """Serialises every call into the (single-threaded) bank onto worker threads."""

    def __init__(self, bank) -> None:
        self.bank = bank
        self._lock = trio.Lock()

    async def call(self, fn: Callable, *args):
        async with self._lock:
            return await trio.to_thread.run_sync(fn, *args)


class CoreServer:
    def __init__(
        self,
        bank,
        keys: BankKeyPair,
        lookup_key: Callable,
        *,
        allow_plaintext: bool = False,
        max_frame: int = DEFAULT_MAX_FRAME,
        max_batch: int = 256,
        max_in_flight: int = 1024,
        idle_timeout: float = 180.0,
        clearing_interval: float | None = 3.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.gate = BankGate(bank)
        self.keys = keys
        self.lookup_key = lookup_key
        self.allow_plaintext = allow_plaintext
        self.max_frame = max_frame
        self.max_batch = max_batch
        self.max_in_flight = max_in_flight  # per connection
        self.idle_timeout = idle_timeout
        self.clearing_interval = clearing_interval
        self.clock = clock
        self._queue_send, self._queue_recv = trio.open_memory_channel[_Pending](math.inf)
        self._in_flight = 0
        self._idle = trio.Event()
        self._idle.set()
        self._accepting = True
        self.batches = 0  # number of group commits, for tests and stats

    # -- lifecycle -------------------------------------------------------------

    async def serve(self, host: str = "127.0.0.1", port: int = 9003, *,
                    task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Listen and serve until cancelled; ``task_status.started((host, port))``."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._executor)
            if self.clearing_interval:
                nursery.start_soon(self._clearing_cycle)
            listeners = await nursery.start(
                functools.partial(trio.serve_tcp, self._connection, port, host=host))
            sockname = listeners[0].socket.getsockname()
            log.info("core listening on %s:%s", sockname[0], sockname[1])
            task_status.started((sockname[0], sockname[1]))

    async def drain(self, timeout: float = 10.0) -> None:
        """Stop taking new requests and wait for those in flight to be answered."""
        self._accepting = False
        with trio.move_on_after(timeout):
            await self._idle.wait()

    async def run_clearing(self, *, force_batch: bool = False):
        return await self.gate.call(lambda: self.gate.bank.run_clearing(force_batch=force_batch))

    async def end_of_day(self):
        return await self.gate.call(self.gate.bank.end_of_day)

    # -- ledger work -------------------------------------------------------------

    async def _executor(self) -> None:
        async for first in self._queue_recv:
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue_recv.receive_nowait())
                except trio.WouldBlock:
                    break
            try:
                replies = await self.gate.call(self.gate.bank.execute_batch,
                                               [p.request for p in batch])
            except Exception:
                # The batch's transaction did not commit cleanly; we cannot promise
                # either outcome, so each request is answered "outcome unknown".
                log.exception("batch of %d requests failed", len(batch))
                replies = [None] * len(batch)
            self.batches += 1
            for pending, reply in zip(batch, replies, strict=True):
                pending.reply = reply
                pending.done.set()

    async def _clearing_cycle(self) -> None:
        assert self.clearing_interval
        while True:
            await trio.sleep(self.clearing_interval)
            try:
                report = await self.run_clearing()
            except Exception:
                log.exception("clearing run failed")
                continue
            if report.settled or report.returned:
                log.info("clearing: %s", report)

    async def _execute(self, session: ServerSession, request: Request, flush,
                       slots: trio.Semaphore) -> None:
        started = time.perf_counter()
        try:
            pending = _Pending(BankRequest(request.corp_no, request.user_no, request.tr_code,
                                           request.req_no, dict(request.fields)))
            self._queue_send.send_nowait(pending)
            await pending.done.wait()
            reply = pending.reply
            if reply is None:
                session.send(ErrorMessage(ret_code=codes.BANK_FAULT.code,
                                          ret_msg=codes.BANK_FAULT.message,
                                          req_no=request.req_no, tr_code=request.tr_code))
            else:
                try:
                    session.send(Response(tr_code=request.tr_code, req_no=request.req_no,
                                          serial_no=reply.serial_no, ret_code=reply.ret_code,
                                          ret_msg=reply.ret_msg, fields=reply.fields))
                except MessageTooLarge as exc:
                    # Only queries have replies that grow; the client should page (310301).
                    log.warning("reply to %s/%s: %s", request.corp_no, request.req_no, exc)
                    session.send(ErrorMessage(ret_code=codes.RESULT_TOO_LARGE.code,
                                              ret_msg=codes.RESULT_TOO_LARGE.message,
                                              req_no=request.req_no,
                                              tr_code=request.tr_code))
                except LocalProtocolError:
                    log.exception("reply to %s/%s does not encode", request.corp_no,
                                  request.req_no)
                    session.send(ErrorMessage(ret_code=codes.BANK_FAULT.code,
                                              ret_msg=codes.BANK_FAULT.message,
                                              req_no=request.req_no,
                                              tr_code=request.tr_code))
            log.debug("corp_no=%s req_no=%s tr_code=%s ret_code=%s ms=%.1f", request.corp_no,
                     request.req_no, request.tr_code, reply.ret_code if reply else "P020",
                     (time.perf_counter() - started) * 1000)
            await flush()
        finally:
            slots.release()
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    # -- connections ---------------------------------------------------------------

    async def _connection(self, stream: trio.SocketStream) -> None:
        session = ServerSession(
            bank_keys=self.keys,
            lookup_key=self.lookup_key,
            allow_plaintext=self.allow_plaintext,
            operator_known=getattr(self.gate.bank, "has_operator", None),
            clock=self.clock,
            max_frame=self.max_frame,
        )
        send_lock = trio.Lock()

        async def flush() -> None:
            async with send_lock:
                data = session.data_to_send()
                if data:
                    try:
                        await stream.send_all(data)
                    except (trio.BrokenResourceError, trio.ClosedResourceError):
                        log.warning("connection lost before a reply could be sent")

        peer = _peer(stream)
        try:
            async with trio.open_nursery() as nursery:
                slots = trio.Semaphore(self.max_in_flight)
                await self._receive_loop(stream, session, nursery, flush, peer, slots)
        except Exception:
            # No input may take the server down: a bug here costs one connection.
            log.exception("%s: connection handler failed", peer)
        finally:
            await trio.aclose_forcefully(stream)

    async def _receive_loop(self, stream, session, nursery, flush, peer, slots) -> None:
        while True:
            with trio.move_on_after(self.idle_timeout) as idle:
                try:
                    data = await stream.receive_some(RECEIVE_SIZE)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    data = b""
            if idle.cancelled_caught:
                log.info("%s: idle for %.0f s, closing", peer, self.idle_timeout)
                return
            try:
                session.receive_data(data)
            except RemoteProtocolError as exc:
                await self._refuse(session, exc, flush, peer)
                return
            while True:
                try:
                    event = session.next_event()
                except RemoteProtocolError as exc:
                    await self._refuse(session, exc, flush, peer)
                    if exc.fatal:
                        return
                    continue
                if event is NEED_DATA:
                    break
                if isinstance(event, Request):
                    if not self._accepting:
                        session.send(ErrorMessage(ret_code=codes.SHUTTING_DOWN.code,
                                                  ret_msg=codes.SHUTTING_DOWN.message,
                                                  req_no=event.req_no, tr_code=event.tr_code))
                        await flush()
                        continue
                    # A connection has at most max_in_flight requests executing; past
                    # that we stop reading it and TCP pushes back on the client.
                    await slots.acquire()
                    # Counted in flight from here, not from when the task starts, so
                    # that drain() cannot slip in between and miss it.
                    self._in_flight += 1
                    if self._in_flight == 1:
                        self._idle = trio.Event()
                    nursery.start_soon(self._execute, session, event, flush, slots)
                elif isinstance(event, Heartbeat):
                    session.send(Heartbeat())
                    await flush()
                elif isinstance(event, SessionEstablished):
                    log.info("%s: session for %s/%s (key %s, %s)", peer, event.corp_no,
                             event.user_no, event.key_id or "-",
                             "signed+encrypted" if event.secure else "PLAINTEXT")
                    await flush()
                elif isinstance(event, ErrorMessage):
                    log.warning("%s: peer reported %s %s (req_no %s)", peer, event.ret_code,
                                event.ret_msg, event.req_no or "-")
            if not data:
                return  # the peer closed; requests it sent before that are still answered

    async def _refuse(self, session, exc: RemoteProtocolError, flush, peer) -> None:
        # Authentication failures are logged with their precise reason here and
        # told to the peer only as "authentication failed".
        reason = exc.reason if isinstance(exc, AuthenticationError) else str(exc)
        log.warning("%s: %s %s: %s", peer, "refused" if exc.fatal else "bad message",
                    exc.code.code, reason)
        session.send_error(ErrorMessage(ret_code=exc.code.code, ret_msg=exc.public_message,
                                        req_no=exc.req_no, tr_code=exc.tr_code))
        await flush()


def _peer(stream) -> str:
    try:
        host, port = stream.socket.getpeername()[:2]
        return f"{host}:{port}"
    except (OSError, AttributeError):
        return "peer"
