"""The bank core's TCP server: a thin trio layer around protocol.ServerSession.

Each connection has a reader task and a writer task. The reader verifies and
decodes requests and queues them; one executor task hands the queue to the
bank in batches — whatever arrived while the previous batch was committing is
executed together and committed with one fsync (group commit) — and puts each
reply in its connection's session once that commit has returned, so
acknowledged means durable. The writer sends whatever its session has, so the
replies of one batch to one connection leave in one write. Requests on a
connection are answered as their batches complete (the client matches
replies by req_no).

When reading ends — the peer closed its side, went idle, or broke the
protocol (a replayed frame, a bad signature) — the requests it sent before
that were genuine and are still answered; a fatal error's ``ER`` goes out
after those answers, as the session's last message, and then the connection
closes.

The bank is a :class:`~core_sim.bank_process.BankProcess` (the ledger in a
process of its own, as ``directlink core serve`` runs it) or a plain
:class:`~core_sim.bank.Bank` driven on worker threads (:class:`BankGate`).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import trio

from core_sim.bank_gate import BankGate
from core_sim.transaction import Reply
from core_sim.transaction import Request as BankRequest
from protocol import codes
from protocol.bodies import BATCH_TR_CODES
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


@dataclass(eq=False, slots=True)
class _Pending:
    """A request read off a connection, waiting for its batch."""

    conn: _Connection
    event: Request
    request: BankRequest
    started: float


class _Connection:
    """One client connection: its session, and what is in flight or unsent on it."""

    def __init__(self, session: ServerSession, stream: trio.SocketStream, peer: str,
                 max_in_flight: int) -> None:
        self.session = session
        self.stream = stream
        self.peer = peer
        # Requests read and not yet written back; past max_in_flight we stop reading
        # the connection and TCP pushes back on the client.
        self.slots = trio.Semaphore(max_in_flight)
        self.in_flight = 0
        self.answered = trio.Event()  # set whenever in_flight is 0
        self.answered.set()
        self.unsent = 0  # replies in the session's buffer, not yet written
        self.wake = trio.Event()  # the writer has something to send
        self.closing = False
        self.broken = False
        self.gone = False  # its handler has ended: nothing more will be written
        self.scope = trio.CancelScope()  # cancelled to drop the connection on purpose
        # The fatal error that ended reading; its ER is sent once what came before
        # it has been answered.
        self.failure: RemoteProtocolError | None = None

    def kick(self) -> None:
        self.wake.set()


#: Requests after which a batch may have work: an approval may authorize one.
_MAY_RELEASE_A_BATCH = frozenset({"210230"})


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
        # A BankProcess (or anything offering its calls) is used as it is; a plain
        # Bank runs on worker threads.
        self.gate = bank if hasattr(bank, "aclose") else BankGate(bank)
        self.keys = keys
        self.lookup_key = lookup_key
        self.allow_plaintext = allow_plaintext
        self.max_frame = max_frame
        self.max_batch = max_batch
        self.max_in_flight = max_in_flight  # per connection
        self.idle_timeout = idle_timeout
        self.clearing_interval = clearing_interval
        self.clock = clock
        self._queue: deque[_Pending] = deque()
        self._work = trio.Event()
        self._in_flight = 0  # requests read and not yet written back, all connections
        self._idle = trio.Event()
        self._idle.set()
        self._accepting = True
        self.batches = 0  # number of group commits, for tests and stats
        self.batch_poll = 1.0  # seconds between looks for batch work nobody announced
        self._batch_work = trio.Event()

    # -- lifecycle -------------------------------------------------------------

    async def serve(self, host: str = "127.0.0.1", port: int = 9003, *,
                    task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Listen and serve until cancelled; ``task_status.started((host, port))``."""
        await self.gate.start()
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._executor)
                nursery.start_soon(self._batch_runner)
                if self.clearing_interval:
                    nursery.start_soon(self._clearing_cycle)
                listeners = await nursery.start(
                    functools.partial(trio.serve_tcp, self._connection, port, host=host))
                sockname = listeners[0].socket.getsockname()
                log.info("core listening on %s:%s", sockname[0], sockname[1])
                task_status.started((sockname[0], sockname[1]))
        finally:
            await self.gate.aclose()

    async def drain(self, timeout: float = 10.0) -> None:
        """Stop taking new requests and wait for those in flight to be answered."""
        self._accepting = False
        with trio.move_on_after(timeout):
            await self._idle.wait()

    async def run_clearing(self, *, force_batch: bool = False, scheduled: bool = False):
        """A clearing run; a ``scheduled`` one is skipped while the business clock is frozen."""
        return await self.gate.run_clearing(force_batch=force_batch, scheduled=scheduled)

    async def end_of_day(self):
        return await self.gate.end_of_day()

    # -- ledger work -------------------------------------------------------------

    async def _executor(self) -> None:
        answers_send, answers_recv = trio.open_memory_channel[tuple](1)
        async with trio.open_nursery() as nursery:
            self._late = nursery  # replies a scenario rule delays wait here
            nursery.start_soon(self._answerer, answers_recv)
            await self._dispatch_batches(answers_send)

    async def _dispatch_batches(self, answers: trio.MemorySendChannel) -> None:
        queue = self._queue
        while True:
            if not queue:
                self._work = trio.Event()
                await self._work.wait()
                continue
            # Whatever arrived while the previous batch was committing goes in this one.
            batch = [queue.popleft() for _ in range(min(len(queue), self.max_batch))]
            try:
                replies = await self.gate.execute_batch([p.request for p in batch])
            except Exception:
                # The batch's transaction did not commit cleanly; we cannot promise
                # either outcome, so each request is answered "outcome unknown".
                log.exception("batch of %d requests failed", len(batch))
                replies = [None] * len(batch)
            self.batches += 1
            # The answerer signs and queues these replies while the next batch executes.
            await answers.send((batch, replies))

    async def _answerer(self, answers: trio.MemoryReceiveChannel) -> None:
        async for batch, replies in answers:
            touched: dict[_Connection, None] = {}
            for pending, reply in zip(batch, replies, strict=True):
                if reply is not None and reply.delay_ms:
                    self._late.start_soon(self._answer_late, pending, reply)
                    continue
                self._answer(pending, reply)
                touched[pending.conn] = None
                tr_code = pending.request.tr_code
                if (tr_code in BATCH_TR_CODES and not pending.request.more) \
                        or tr_code in _MAY_RELEASE_A_BATCH:
                    # A batch may be complete, or its last approval just landed: run it.
                    self._batch_work.set()
            for conn in touched:
                conn.kick()

    async def _answer_late(self, pending: _Pending, reply: Reply) -> None:
        await trio.sleep(reply.delay_ms / 1000)
        self._answer(pending, dataclasses.replace(reply, delay_ms=0))
        pending.conn.kick()

    def _answer(self, pending: _Pending, reply: Reply | None) -> None:
        """Put the reply to one request in its session's buffer (the writer sends it)."""
        conn, request = pending.conn, pending.event
        if reply is not None and reply.sent == "unknown":
            reply = None  # a scenario rule: "outcome unknown" although it committed
        if reply is not None and reply.sent == "dropped" and not conn.gone:
            # A scenario rule: committed, and the connection goes down before the reply.
            log.info("%s: dropping the connection after %s/%s committed (scenario rule)",
                     conn.peer, request.corp_no, request.req_no)
            conn.in_flight -= 1
            self._done(1)
            conn.scope.cancel()
            return
        if conn.gone:
            # Its handler failed while this request executed: no writer is left to
            # send the reply, so it counts as done here, or drain() would wait for it.
            conn.in_flight -= 1
            self._done(1)
            return
        try:
            if conn.session.can_answer(request.req_no):
                _queue_reply(conn.session, request, reply)
            else:
                # Not a fault of the reply: the session has no way left to send it.
                log.warning("%s: session ended (%s); reply to %s/%s not sent", conn.peer,
                            conn.session.end_reason or "closed", request.corp_no,
                            request.req_no)
        except Exception:
            # A bug costs this one reply (the client sees its request unanswered, an
            # unknown outcome), never the server: the answerer serves every connection.
            log.exception("reply to %s/%s could not be queued", request.corp_no,
                          request.req_no)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("corp_no=%s req_no=%s tr_code=%s ret_code=%s ms=%.1f", request.corp_no,
                      request.req_no, request.tr_code, reply.ret_code if reply else "P020",
                      (time.perf_counter() - pending.started) * 1000)
        conn.unsent += 1
        conn.in_flight -= 1
        if conn.in_flight == 0:
            conn.answered.set()

    async def _batch_runner(self) -> None:
        """Execute batches in the background, one chunk per call, while any has work.

        Woken when a batch is complete; it also looks every ``batch_poll``
        seconds and once at start, so a batch interrupted by a crash resumes
        when the bank comes back. Requests go between chunks: the gate runs
        one call at a time.
        """
        while True:
            try:
                report = await self.gate.run_batches()
            except Exception:
                log.exception("batch run failed")
                await trio.sleep(self.batch_poll)
                continue
            if report.batch_id is None:
                self._batch_work = trio.Event()
                with trio.move_on_after(self.batch_poll):
                    await self._batch_work.wait()
            elif report.finished:
                log.info("batch %s: every item executed", report.batch_id)

    async def _clearing_cycle(self) -> None:
        assert self.clearing_interval
        while True:
            await trio.sleep(self.clearing_interval)
            try:
                report = await self.run_clearing(scheduled=True)
            except Exception:
                log.exception("clearing run failed")
                continue
            if report is not None and (report.settled or report.returned):
                log.info("clearing: %s", report)

    # -- connections ---------------------------------------------------------------

    async def _connection(self, stream: trio.SocketStream) -> None:
        session = ServerSession(
            bank_keys=self.keys,
            lookup_key=self.lookup_key,
            allow_plaintext=self.allow_plaintext,
            operator_known=self.gate.has_operator,
            clock=self.clock,
            max_frame=self.max_frame,
        )
        conn = _Connection(session, stream, _peer(stream), self.max_in_flight)
        try:
            with conn.scope:
                await self._serve_connection(conn)
        except Exception:
            # No input may take the server down: a bug here costs one connection.
            log.exception("%s: connection handler failed", conn.peer)
        finally:
            conn.gone = True
            # Replies queued but never written (the writer was cancelled) are done too.
            unsent, conn.unsent = conn.unsent, 0
            self._done(unsent)
            await trio.aclose_forcefully(stream)

    async def _serve_connection(self, conn: _Connection) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._writer, conn)
            await self._receive_loop(conn)
            # Reading is over (the peer closed, went idle, or broke the protocol):
            # answer what it sent before that, then say why the session failed (the
            # peer reads its answers first), then let the writer finish.
            await conn.answered.wait()
            if conn.failure is not None:
                self._send_refusal(conn, conn.failure)
            conn.closing = True
            conn.kick()

    async def _writer(self, conn: _Connection) -> None:
        """Write whatever the session has to send, whenever it is kicked."""
        while True:
            await conn.wake.wait()
            conn.wake = trio.Event()
            data = conn.session.data_to_send()
            replies, conn.unsent = conn.unsent, 0
            try:
                if data and not conn.broken:
                    try:
                        await conn.stream.send_all(data)
                    except (trio.BrokenResourceError, trio.ClosedResourceError):
                        conn.broken = True
                        log.warning("%s: connection lost; %s not sent", conn.peer,
                                    _replies(replies) if replies else "a message")
            finally:
                # Written, lost with the peer, or cancelled mid-write: done either way.
                for _ in range(replies):
                    conn.slots.release()
                self._done(replies)
            if conn.closing and not conn.wake.is_set():
                return

    def _done(self, requests: int) -> None:
        """``requests`` have been answered (or can never be): they no longer hold up drain()."""
        self._in_flight -= requests
        if self._in_flight == 0:
            self._idle.set()

    async def _receive_loop(self, conn: _Connection) -> None:
        session = conn.session
        while True:
            with trio.move_on_after(self.idle_timeout) as idle:
                try:
                    data = await conn.stream.receive_some(RECEIVE_SIZE)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    data = b""
            if idle.cancelled_caught:
                log.info("%s: idle for %.0f s, closing", conn.peer, self.idle_timeout)
                return
            try:
                session.receive_data(data)
            except RemoteProtocolError as exc:
                self._fail(conn, exc)
                return
            while True:
                try:
                    event = session.next_event()
                except RemoteProtocolError as exc:
                    if exc.fatal:
                        self._fail(conn, exc)
                        return
                    self._log_refusal(conn, exc)
                    self._send_refusal(conn, exc)
                    continue
                if event is NEED_DATA:
                    break
                if isinstance(event, Request):
                    await self._submit(conn, event)
                elif isinstance(event, Heartbeat):
                    session.send(Heartbeat())
                    conn.kick()
                elif isinstance(event, SessionEstablished):
                    log.info("%s: session for %s/%s (key %s, %s)", conn.peer, event.corp_no,
                             event.user_no, event.key_id or "-",
                             "signed+encrypted" if event.secure else "PLAINTEXT")
                    conn.kick()
                elif isinstance(event, ErrorMessage):
                    log.warning("%s: peer reported %s %s (req_no %s)", conn.peer,
                                event.ret_code, event.ret_msg, event.req_no or "-")
            if not data:
                # The peer closed; requests it sent before that are still answered (a
                # peer that only shut down its sending side reads them).
                if conn.in_flight:
                    log.info("%s: session ended (%s); answering the %s in flight",
                             conn.peer, session.end_reason, _requests(conn.in_flight))
                return

    async def _submit(self, conn: _Connection, event: Request) -> None:
        if not self._accepting:
            conn.session.send(ErrorMessage(ret_code=codes.SHUTTING_DOWN.code,
                                           ret_msg=codes.SHUTTING_DOWN.message,
                                           req_no=event.req_no, tr_code=event.tr_code))
            conn.kick()
            return
        try:
            conn.slots.acquire_nowait()
        except trio.WouldBlock:
            conn.kick()  # replies waiting to be written free their slots
            await conn.slots.acquire()
        # Counted in flight from here, so that drain() cannot slip in and miss it.
        self._in_flight += 1
        if self._in_flight == 1:
            self._idle = trio.Event()
        conn.in_flight += 1
        if conn.in_flight == 1:
            conn.answered = trio.Event()
        self._queue.append(_Pending(
            conn, event,
            BankRequest(event.corp_no, event.user_no, event.tr_code, event.req_no,
                        dict(event.fields), event.frag_no, event.more),
            time.perf_counter()))
        self._work.set()

    def _fail(self, conn: _Connection, exc: RemoteProtocolError) -> None:
        """A fatal error ends reading; its ER waits until what came before is answered."""
        self._log_refusal(conn, exc)
        conn.failure = exc

    def _log_refusal(self, conn: _Connection, exc: RemoteProtocolError) -> None:
        # Authentication failures are logged with their precise reason here and
        # told to the peer only as "authentication failed".
        reason = exc.reason if isinstance(exc, AuthenticationError) else str(exc)
        before = (f"; answering the {_requests(conn.in_flight)} received before it"
                  if exc.fatal and conn.in_flight else "")
        log.warning("%s: %s %s: %s%s", conn.peer, "refused" if exc.fatal else "bad message",
                    exc.code.code, reason, before)

    def _send_refusal(self, conn: _Connection, exc: RemoteProtocolError) -> None:
        conn.session.send_error(ErrorMessage(ret_code=exc.code.code,
                                             ret_msg=exc.public_message,
                                             req_no=exc.req_no, tr_code=exc.tr_code))
        conn.kick()


def _queue_reply(session: ServerSession, request: Request, reply: Reply | None) -> None:
    """The bank's reply as a Response, or the ErrorMessage that stands for it."""
    if reply is None:
        session.send(ErrorMessage(ret_code=codes.BANK_FAULT.code,
                                  ret_msg=codes.BANK_FAULT.message,
                                  req_no=request.req_no, tr_code=request.tr_code))
        return
    try:
        session.send(Response(tr_code=request.tr_code, req_no=request.req_no,
                              serial_no=reply.serial_no, ret_code=reply.ret_code,
                              ret_msg=reply.ret_msg, fields=reply.fields,
                              frag_no=request.frag_no))
    except MessageTooLarge as exc:
        # Only queries have replies that grow; the client should page (310301).
        log.warning("reply to %s/%s: %s", request.corp_no, request.req_no, exc)
        session.send(ErrorMessage(ret_code=codes.RESULT_TOO_LARGE.code,
                                  ret_msg=codes.RESULT_TOO_LARGE.message,
                                  req_no=request.req_no, tr_code=request.tr_code))
    except LocalProtocolError:
        log.exception("reply to %s/%s does not encode", request.corp_no, request.req_no)
        session.send(ErrorMessage(ret_code=codes.BANK_FAULT.code,
                                  ret_msg=codes.BANK_FAULT.message,
                                  req_no=request.req_no, tr_code=request.tr_code))


def _requests(n: int) -> str:
    return f"{n} request{'s' if n != 1 else ''}"


def _replies(n: int) -> str:
    return f"{n} repl{'ies' if n != 1 else 'y'}"


def _peer(stream) -> str:
    try:
        host, port = stream.socket.getpeername()[:2]
        return f"{host}:{port}"
    except (OSError, AttributeError):
        return "peer"
