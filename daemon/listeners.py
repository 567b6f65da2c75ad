"""The ERP-facing listeners: raw TCP with the 7-byte length header, and HTTP POST.

Thin trio code: each connection gets a task, reads one request within the
client timeout (a stalled ERP never holds anyone else up), hands the bytes to
:class:`daemon.service.ErpService` and writes the reply. Connections from
addresses outside the [bind] allow-list are closed at once and logged.

The raw TCP port is the hot path (one connection per request, as ERPs do),
so it is served on plain non-blocking sockets with trio's low-level
``wait_readable``/``wait_writable``: :func:`serve_erp_tcp` takes every
connection waiting at the door on one wake-up, and a handler reads, writes
and closes directly, waiting in trio only when the socket is not ready — no
stream object, option calls or scheduling round per operation. HTTP runs
under ``trio.serve_tcp`` with h11, which closes each stream when its handler
returns. A POST's document is its body or, when the body is empty, its URL's
query string, as some Java integrations send it (:func:`_query_document`).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import re
import socket
import urllib.parse
from collections.abc import Awaitable, Callable

import h11
import trio

from daemon import sockets
from daemon.access import AccessList
from daemon.erp_framing import (
    MAX_FRAMED_LENGTH,
    ErpFrameTooLarge,
    ErpFramingError,
    FrameDecoder,
    frame_reply,
)
from daemon.service import ErpService
from protocol import codes

log = logging.getLogger("directlink.daemon")

RECEIVE_SIZE = sockets.RECEIVE_SIZE
#: What an HTTP request's line and headers may take besides a query-string document.
HTTP_HEADERS_ROOM = 16384
_DECLARED = re.compile(rb'encoding="([A-Za-z0-9-]+)"')
_UTF8_BOM = b"\xef\xbb\xbf"


class ErpListeners:
    def __init__(self, service: ErpService, access: AccessList, *,
                 client_timeout: float = 30.0) -> None:
        self.service = service
        self.access = access
        self.client_timeout = client_timeout

    # -- raw TCP, one request per connection ------------------------------------------

    async def handle_tcp(self, conn: socket.socket, address) -> None:
        """Serve one accepted, non-blocking ERP connection, and close it."""
        try:
            peer = self.access.check_address(address, "erp_tcp")
            if peer is None:
                return
            decoder = FrameDecoder(max_length=self.service.max_request)
            try:
                # An ERP writes its request right after connecting, so it is usually
                # here already; the client timeout is armed only if we must wait.
                xml = _request_now(conn, decoder)
                if xml is None:
                    with trio.move_on_after(self.client_timeout) as stalled:
                        while xml is None:
                            decoder.receive_data(
                                await sockets.receive(conn, checkpoint=False))
                            xml = decoder.next_request()
                    if stalled.cancelled_caught:
                        log.warning("erp_tcp %s: no complete request within %.0f s, "
                                    "closing", peer, self.client_timeout)
                        return
            except ErpFrameTooLarge as exc:
                # The header is readable: answer D002 rather than just hang up.
                log.warning("erp_tcp %s: %s", peer, exc)
                await self._reply_tcp(conn, self.service.refuse(codes.XML_TOO_LARGE,
                                                                str(exc), peer))
                await self._discard_rest(conn, exc.length)
                return
            except ErpFramingError as exc:
                log.warning("erp_tcp %s: broken framing, closing: %s", peer, exc)
                return
            if not xml:
                reply = self.service.refuse(
                    codes.XML_STRUCTURE,
                    "request is empty: the length header announces 0 bytes", peer)
            else:
                reply = await self.service.handle(xml, peer)
            await self._reply_tcp(conn, reply)
        except OSError as exc:
            log.info("erp_tcp: connection lost: %s", exc)
        finally:
            # This task is the socket's only user and is not waiting on it now, so
            # there is no one for trio to wake: a plain close is enough.
            conn.close()

    async def _reply_tcp(self, conn: socket.socket, xml: bytes) -> None:
        if len(xml) > MAX_FRAMED_LENGTH:
            # The service keeps its replies within a frame; should one not fit
            # after all, the ERP still gets an answer rather than a bare close.
            log.error("erp_tcp: a reply of %d bytes cannot be framed; answering P022",
                      len(xml))
            xml = self.service.refuse(codes.RESULT_TOO_LARGE,
                                      f"reply of {len(xml)} bytes is over the "
                                      f"{MAX_FRAMED_LENGTH} one reply can carry")
        data = frame_reply(xml)
        sent = sockets.send_now(conn, data)
        if sent < len(data):  # the ERP reads slowly: it gets the client timeout
            with trio.move_on_after(self.client_timeout):
                await sockets.send_all(conn, memoryview(data)[sent:])

    async def _discard_rest(self, conn: socket.socket, budget: int) -> None:
        """Read and drop the rest of a request that is answered without being read.

        Closing a socket with unread bytes makes the kernel reset the
        connection, and a reset can destroy the reply before the ERP reads it:
        so say we are done (half-close), then take what the ERP still sends,
        up to what it announced, until it closes or the client timeout.
        """
        with contextlib.suppress(OSError):
            conn.shutdown(socket.SHUT_WR)
        with trio.move_on_after(self.client_timeout):
            while budget > 0:
                data = await sockets.receive(conn)
                if not data:
                    return
                budget -= len(data)

    # -- HTTP POST (keep-alive allowed) ------------------------------------------------

    async def handle_http(self, stream: trio.SocketStream) -> None:
        try:
            peer = self.access.check(stream, "erp_http")
            if peer is None:
                return
            # The request line may carry a whole document in its query string
            # (see _query_document), so it may be as long as a request may be.
            conn = h11.Connection(h11.SERVER, max_incomplete_event_size=(
                self.service.max_request + HTTP_HEADERS_ROOM))
            while True:
                request, body = None, bytearray()
                too_large = False
                with trio.move_on_after(self.client_timeout) as stalled:
                    while True:
                        event = conn.next_event()
                        if event is h11.NEED_DATA:
                            data = await stream.receive_some(RECEIVE_SIZE)
                            conn.receive_data(data)
                            continue
                        if isinstance(event, h11.Request):
                            request = event
                        elif isinstance(event, h11.Data):
                            if len(body) + len(event.data) > self.service.max_request:
                                too_large = True
                            else:
                                body += event.data
                        elif isinstance(event, h11.EndOfMessage):
                            break
                        elif isinstance(event, h11.ConnectionClosed):
                            return  # closed between requests, or mid-request: no reply
                if stalled.cancelled_caught:
                    log.warning("erp_http %s: no complete request within %.0f s, closing",
                                peer, self.client_timeout)
                    return
                if request is None:
                    return  # the client closed between requests
                if request.method != b"POST":
                    await self._respond(stream, conn, 405, b"POST the request XML\n",
                                        b"text/plain", extra=[(b"Allow", b"POST")])
                elif too_large:
                    await self._respond_xml(stream, conn, self.service.refuse(
                        codes.XML_TOO_LARGE,
                        f"request exceeds {self.service.max_request} bytes", peer))
                else:
                    await self._respond_xml(stream, conn,
                                            await self._http_request(request, body, peer))
                if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                    return
                try:
                    conn.start_next_cycle()
                except h11.LocalProtocolError:
                    return
        except h11.RemoteProtocolError as exc:
            log.warning("erp_http: bad HTTP: %s", exc)
            with contextlib.suppress(h11.LocalProtocolError, trio.BrokenResourceError,
                                     trio.ClosedResourceError):
                await self._respond(stream, conn, exc.error_status_hint,
                                    f"bad request: {exc}\n".encode(), b"text/plain")
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            log.info("erp_http: connection lost: %s", exc)

    async def _http_request(self, request: h11.Request, body: bytearray, peer: str) -> bytes:
        """The reply to a POST: its body is the document, or else its query string is."""
        if body.strip():
            return await self.service.handle(bytes(body), peer)
        query = _query(request.target)
        if query is None:
            return (await self.service.handle(bytes(body), peer) if body else
                    self.service.refuse(codes.XML_STRUCTURE, "request body is empty", peer))
        # Checked before decoding, as a body's length is before parsing: a
        # percent-encoded document is longer than the document, never shorter.
        if len(query) > self.service.max_request:
            return self.service.refuse(
                codes.XML_TOO_LARGE,
                f"request exceeds {self.service.max_request} bytes (in the URL's query "
                "string)", peer)
        document = _query_document(query)
        if not document.lstrip().removeprefix(_UTF8_BOM).startswith(b"<"):
            return self.service.refuse(
                codes.XML_STRUCTURE,
                "request body is empty, and the URL's query string is not an XML document",
                peer)
        return await self.service.handle(document, peer)

    async def _respond_xml(self, stream, conn, xml: bytes) -> None:
        match = _DECLARED.search(xml[:80])
        charset = match.group(1) if match else self.service.encoding.encode()
        await self._respond(stream, conn, 200, xml, b"text/xml; charset=" + charset)

    async def _respond(self, stream, conn, status: int, payload: bytes, content_type: bytes,
                       extra: list | None = None) -> None:
        headers = [(b"Content-Type", content_type),
                   (b"Content-Length", str(len(payload)).encode()),
                   *(extra or [])]
        data = conn.send(h11.Response(status_code=status, headers=headers))
        data += conn.send(h11.Data(data=payload))
        data += conn.send(h11.EndOfMessage())
        with trio.move_on_after(self.client_timeout):
            await stream.send_all(data)


def _query(target: bytes) -> bytes | None:
    """The query string of a request target, if there is one (``/?…``, ``/path?…``)."""
    _, mark, query = target.partition(b"?")
    return query if mark and query else None


def _query_document(query: bytes) -> bytes:
    """The document an ERP sent URL-encoded in the query string, as bytes.

    Jakarta Commons-HttpClient 3.1 integrations of the bank's client POST
    ``/?%3Cap%3E…`` with an empty body: the whole query is the document,
    encoded as a form value (``java.net.URLEncoder``: ``+`` for a space,
    ``%XX`` per byte of the document's encoding). Decoded back to the bytes
    the ERP encoded, it is parsed exactly like a body, in the encoding it
    declares or the configured one.
    """
    return urllib.parse.unquote_to_bytes(query.replace(b"+", b" "))


def _request_now(conn: socket.socket, decoder: FrameDecoder) -> bytes | None:
    """The request, if all of it has arrived already; None to wait for the rest."""
    data = sockets.receive_now(conn)
    if data is None:
        return None
    decoder.receive_data(data)
    return decoder.next_request()


# -- the raw TCP door ------------------------------------------------------------------

#: accept() failures that mean "out of resources": wait a little, then accept again
#: (as trio.serve_listeners does), rather than spin or stop listening.
_ACCEPT_PAUSE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS})
ACCEPT_PAUSE = 0.1


async def serve_erp_tcp(
    handler: Callable[[socket.socket, tuple], Awaitable[None]],
    port: int,
    *,
    host: str | None = None,
    task_status=trio.TASK_STATUS_IGNORED,
) -> None:
    """Listen on ``host:port`` and run ``handler(conn, address)`` per connection.

    Listening sockets are opened as ``trio.serve_tcp`` opens them (every
    address ``host`` resolves to, SO_REUSEADDR); ``task_status.started()`` gets
    the list of (non-blocking, stdlib) listening sockets. Runs until cancelled;
    a connection's task owns its socket and must close it.
    """
    listeners = await trio.open_tcp_listeners(port, host=host)
    listening = [sockets.adopt(listener) for listener in listeners]
    try:
        async with trio.open_nursery() as nursery:
            for sock in listening:
                nursery.start_soon(_accept_loop, sock, handler, nursery)
            task_status.started(listening)
    finally:
        for sock in listening:
            sockets.close(sock)


async def _accept_loop(listener: socket.socket, handler, nursery: trio.Nursery) -> None:
    while True:
        await trio.lowlevel.wait_readable(listener)
        while True:  # every connection already waiting, on one wake-up
            try:
                conn, address = listener.accept()
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno in _ACCEPT_PAUSE_ERRNOS:
                    log.error("erp_tcp: accept failed (%s); pausing %.1f s", exc, ACCEPT_PAUSE)
                    await trio.sleep(ACCEPT_PAUSE)
                # Otherwise a connection that died waiting (ECONNABORTED): next one.
                break
            conn.setblocking(False)
            nursery.start_soon(handler, conn, address)
