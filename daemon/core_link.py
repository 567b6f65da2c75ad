"""The daemon's persistent, multiplexed connection to the bank core.

One TCP connection (optionally through an HTTP CONNECT proxy) carries every
ERP request. Replies are matched to requests by req_no (and a batch
segment's number), a req_no already in flight is refused, and replies that
arrive after their request gave up are logged as late. Heartbeats keep the
connection honest; when it drops, the link reconnects with exponential
backoff.

What a caller learns about a request is one of three things, and the
difference matters for money:

* a :class:`~protocol.events.Response` or :class:`~protocol.events.ErrorMessage`
  — the bank's answer;
* :class:`NotSent` — the request never left (no connection): it did not execute;
* :class:`OutcomeUnknown` — it was sent, but no answer came (timeout, connection
  lost): it may or may not have executed; 310204 resolves it later.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

import h11
import trio

from daemon import sockets
from protocol.errors import AuthenticationError, ProtocolError, RemoteProtocolError
from protocol.events import (
    NEED_DATA,
    ErrorMessage,
    Heartbeat,
    Request,
    Response,
    SessionEstablished,
)
from protocol.session import ClientSession

log = logging.getLogger("directlink.daemon.link")

RECEIVE_SIZE = sockets.RECEIVE_SIZE

#: What a broken connection to the core looks like, whichever step notices it.
_CONNECTION_ERRORS = (OSError, trio.BrokenResourceError, trio.ClosedResourceError)


class LinkError(Exception):
    pass


class NotSent(LinkError):
    """The request was not sent; it certainly did not execute."""


class OutcomeUnknown(LinkError):
    """The request was sent but its outcome is unknown."""


class DuplicateInFlight(LinkError):
    """A request with the same req_no is already waiting for its answer."""


@dataclass(eq=False)
class _Waiter:
    done: trio.Event = field(default_factory=trio.Event)
    answer: Response | ErrorMessage | None = None
    lost: bool = False


class CoreLink:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        new_session: Callable[[], ClientSession],
        connect_timeout: float = 5.0,
        heartbeat_interval: float = 30.0,
        proxy: tuple[str, int] | None = None,
        backoff_initial: float = 0.1,
        backoff_max: float = 5.0,
    ) -> None:
        self.host = host
        self.port = port
        self.new_session = new_session
        self.connect_timeout = connect_timeout
        self.heartbeat_interval = heartbeat_interval
        self.proxy = proxy
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self._session: ClientSession | None = None
        self._sock: socket.socket | None = None
        self._send_lock = trio.Lock()
        self._connected = trio.Event()
        self._wake = trio.Event()
        # By (req_no, frag_no): a batch's segments share its req_no (frag_no 0 otherwise).
        self._waiting: dict[tuple[str, int], _Waiter] = {}
        self.closing = False  # set while the daemon shuts down
        self.connections = 0  # successful handshakes so far
        self.late_replies = 0

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    # -- the connection loop ------------------------------------------------------

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Keep a session to the core up until cancelled. Starts at once."""
        task_status.started()
        delay = self.backoff_initial
        while True:
            try:
                await self._connect_and_serve()
                delay = self.backoff_initial
            except (*_CONNECTION_ERRORS, ProtocolError, LinkError) as exc:
                reason = exc.reason if isinstance(exc, AuthenticationError) else exc
                # While shutting down, the bank going away is expected, not news.
                log.log(logging.INFO if self.closing else logging.WARNING,
                        "core link %s:%s down: %s; retrying in %.1f s", self.host,
                        self.port, reason, delay)
            finally:
                self._disconnected()
            # Back off, but try again at once when a request is waiting for the bank.
            self._wake = trio.Event()
            with trio.move_on_after(delay):
                await self._wake.wait()
            delay = min(delay * 2, self.backoff_max)

    async def _connect_and_serve(self) -> None:
        with trio.fail_after(self.connect_timeout):
            sock = sockets.adopt(await self._open_stream())
        session = self.new_session()
        try:
            with trio.fail_after(self.connect_timeout):
                session.start()
                await sockets.send_all(sock, session.data_to_send())
                event = await self._next_event(sock, session)
            if isinstance(event, ErrorMessage):
                raise LinkError(f"bank refused the session: {event.ret_code} {event.ret_msg}")
            if not isinstance(event, SessionEstablished):
                raise LinkError(f"unexpected {type(event).__name__} during the handshake")
            self._session, self._sock = session, sock
            self.connections += 1
            self._connected.set()
            log.info("core link up: %s:%s (%s, protocol 1.%d)", self.host, self.port,
                     "signed+encrypted" if event.secure else "PLAINTEXT", event.minor)
            failure: BaseException | None = None
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._heartbeats)
                try:
                    await self._read_loop(sock, session)
                except (*_CONNECTION_ERRORS, ProtocolError, LinkError) as exc:
                    failure = exc
                # From here on a new request is refused as not sent, rather than
                # handed to a session that can no longer send.
                self._session = self._sock = None
                nursery.cancel_scope.cancel()
            if failure is not None:
                raise failure
        finally:
            sockets.close(sock)

    async def _open_stream(self) -> trio.SocketStream:
        if self.proxy is None:
            return await trio.open_tcp_stream(self.host, self.port)
        stream = await trio.open_tcp_stream(*self.proxy)
        try:
            await _http_connect(stream, self.host, self.port)
        except BaseException:
            await trio.aclose_forcefully(stream)
            raise
        return stream

    async def _next_event(self, sock: socket.socket, session: ClientSession):
        while True:
            event = session.next_event()
            if event is not NEED_DATA:
                return event
            data = await sockets.receive(sock)
            session.receive_data(data)
            if not data:
                raise LinkError("core closed the connection")

    async def _read_loop(self, sock: socket.socket, session: ClientSession) -> None:
        # Three missed heartbeats and the connection is presumed dead.
        silence = 3 * self.heartbeat_interval
        while True:
            with trio.move_on_after(silence) as quiet:
                data = await sockets.receive(sock)
            if quiet.cancelled_caught:
                raise LinkError(f"no data from the core for {silence:.0f} s")
            session.receive_data(data)
            if not data:
                raise LinkError("core closed the connection")
            while True:
                try:
                    event = session.next_event()
                except RemoteProtocolError as exc:
                    if exc.fatal:
                        raise
                    log.warning("bad message from the core: %s", exc)
                    continue
                if event is NEED_DATA:
                    break
                self._dispatch(event)

    def _dispatch(self, event) -> None:
        if isinstance(event, Response | ErrorMessage):
            if isinstance(event, ErrorMessage) and not event.req_no:
                log.warning("core reported %s %s", event.ret_code, event.ret_msg)
                return
            if isinstance(event, Response):
                waiters = [self._waiting.get((event.req_no, event.frag_no))]
            else:
                # An error names a req_no, not a segment: it answers every segment waiting.
                waiters = [waiter for (req_no, _), waiter in self._waiting.items()
                           if req_no == event.req_no]
            waiters = [w for w in waiters if w is not None and not w.done.is_set()]
            if not waiters:
                self.late_replies += 1
                log.warning("late reply for req_no %s (%s %s): no request waits for it",
                            event.req_no, event.ret_code, event.ret_msg)
                return
            for waiter in waiters:
                waiter.answer = event
                waiter.done.set()
        elif isinstance(event, Heartbeat):
            pass

    async def _heartbeats(self) -> None:
        # A failed heartbeat needs no handling here: the read loop notices the
        # dead connection (EOF or silence) and the link reconnects.
        while True:
            await trio.sleep(self.heartbeat_interval)
            try:
                await self._send(Heartbeat())
            except (NotSent, OutcomeUnknown):
                return

    def _disconnected(self) -> None:
        self._connected = trio.Event()
        self._session = None
        self._sock = None
        for waiter in self._waiting.values():
            if not waiter.done.is_set():
                waiter.lost = True
                waiter.done.set()

    async def _send(self, event) -> None:
        """Put ``event`` on the wire to the core, whole, between other tasks' frames.

        NotSent (not connected) and LocalProtocolError (it does not encode) mean
        nothing left; OutcomeUnknown means the connection broke while its bytes
        were going out, so some may have reached the bank.
        """
        await self._lock_for_sending()
        try:
            session, sock = self._session, self._sock
            if session is None or sock is None:
                raise NotSent("not connected to the core")
            session.send(event)
            try:
                await sockets.send_all(sock, session.data_to_send())
            except _CONNECTION_ERRORS as exc:
                raise OutcomeUnknown(f"connection lost while sending: {exc}") from None
        finally:
            self._send_lock.release()

    async def _lock_for_sending(self) -> None:
        # Frames must not interleave, so one task sends at a time; when none is
        # sending (the usual case) this takes the lock without a scheduling round.
        try:
            self._send_lock.acquire_nowait()
        except trio.WouldBlock:
            await self._send_lock.acquire()

    # -- requests -------------------------------------------------------------------

    async def request(self, request: Request, *, timeout: float,
                      connect_wait: float | None = None):
        """Send ``request`` and wait for the bank's answer (Response or ErrorMessage)."""
        pending = await self.send_request(request, connect_wait=connect_wait)
        return await pending.answer(timeout)

    async def send_request(self, request: Request, *,
                           connect_wait: float | None = None) -> PendingRequest:
        """Send ``request`` now and return what waits for its answer.

        Requests sent one after the other by one task leave in that order, so a
        batch's segments can be in flight together and still arrive in order.
        Call :meth:`PendingRequest.answer` (or ``close``) on the result.
        """
        key = (request.req_no, request.frag_no)
        if key in self._waiting or (request.frag_no and (request.req_no, 0) in self._waiting):
            raise DuplicateInFlight(request.req_no)
        waiter = _Waiter()
        self._waiting[key] = waiter
        pending = PendingRequest(self, key, waiter)
        try:
            if not self._connected.is_set():
                self._wake.set()
                with trio.move_on_after(self.connect_timeout if connect_wait is None
                                        else connect_wait):
                    await self._connected.wait()
            if not self._connected.is_set():
                raise NotSent(f"the core at {self.host}:{self.port} is not reachable")
            # Connection attempts that failed while this request waited marked it
            # lost; it had not been sent then, so it starts afresh on this connection.
            waiter.done, waiter.lost = trio.Event(), False
            await self._send(request)
        except BaseException:
            pending.close()
            raise
        return pending


class PendingRequest:
    """A request on its way: :meth:`answer` waits for what the bank says."""

    def __init__(self, link: CoreLink, key: tuple[str, int], waiter: _Waiter) -> None:
        self._link = link
        self._key = key
        self._waiter = waiter

    async def answer(self, timeout: float):
        """The bank's Response or ErrorMessage; OutcomeUnknown if none comes in time."""
        waiter = self._waiter
        try:
            with trio.move_on_after(timeout):
                await waiter.done.wait()
            if waiter.answer is not None:
                return waiter.answer
            if waiter.lost:
                raise OutcomeUnknown("connection to the core lost before the answer came")
            raise OutcomeUnknown(f"no answer from the core within {timeout:g} s")
        finally:
            self.close()

    def close(self) -> None:
        """Stop waiting: keep nothing, so that a later answer is logged as late."""
        if self._link._waiting.get(self._key) is self._waiter:
            del self._link._waiting[self._key]


async def _http_connect(stream: trio.abc.Stream, host: str, port: int) -> None:
    """Open a tunnel with HTTP CONNECT; leaves ``stream`` carrying the raw tunnel."""
    conn = h11.Connection(h11.CLIENT)
    target = f"{host}:{port}".encode("ascii")
    await stream.send_all(conn.send(h11.Request(method="CONNECT", target=target,
                                                headers=[("Host", target)])))
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await stream.receive_some(RECEIVE_SIZE)
            if not data:
                raise LinkError("proxy closed the connection during CONNECT")
            conn.receive_data(data)
            continue
        if isinstance(event, h11.Response):
            if event.status_code != 200:
                raise LinkError(f"proxy refused CONNECT: HTTP {event.status_code}")
            if conn.trailing_data[0]:
                raise LinkError("proxy sent data before the tunnel was set up")
            return
        if isinstance(event, h11.InformationalResponse):
            continue
        raise LinkError(f"unexpected proxy answer: {event!r}")


