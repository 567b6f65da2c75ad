"""The ERP-facing listeners: raw TCP with the 7-byte length header, and HTTP POST.

Thin trio code: each connection gets a task, reads one request within the
client timeout (a stalled ERP never holds anyone else up), hands the bytes to
:class:`daemon.service.ErpService` and writes the reply. The handlers run
under ``trio.serve_tcp``, which closes each stream when its handler returns,
so they do not close it themselves (a second close costs a scheduling round).
Connections from addresses outside the [bind] allow-list are closed at once
and logged.
"""

from __future__ import annotations

import contextlib
import logging
import re

import h11
import trio

from daemon.access import AccessList
from daemon.erp_codec import error_reply
from daemon.erp_framing import ErpFrameTooLarge, ErpFramingError, FrameDecoder, frame_reply
from daemon.erp_xml import render_reply
from daemon.service import ErpService
from protocol import codes

log = logging.getLogger("directlink.daemon")

RECEIVE_SIZE = 65536
_DECLARED = re.compile(rb'encoding="([A-Za-z0-9-]+)"')


class ErpListeners:
    def __init__(self, service: ErpService, access: AccessList, *,
                 client_timeout: float = 30.0) -> None:
        self.service = service
        self.access = access
        self.client_timeout = client_timeout

    # -- raw TCP, one request per connection ------------------------------------------

    async def handle_tcp(self, stream: trio.SocketStream) -> None:
        try:
            peer = self.access.check(stream, "erp_tcp")
            if peer is None:
                return
            decoder = FrameDecoder(max_length=self.service.max_request)
            xml: bytes | None = None
            with trio.move_on_after(self.client_timeout) as stalled:
                try:
                    while xml is None:
                        data = await stream.receive_some(RECEIVE_SIZE)
                        decoder.receive_data(data)
                        xml = decoder.next_request()
                except ErpFrameTooLarge as exc:
                    # The header is readable: answer D002 rather than just hang up.
                    log.warning("erp_tcp %s: %s", peer, exc)
                    head, body = error_reply(codes.XML_TOO_LARGE, str(exc), {})
                    await stream.send_all(frame_reply(render_reply(
                        head, body, encoding=self.service.encoding)))
                    return
                except ErpFramingError as exc:
                    log.warning("erp_tcp %s: broken framing, closing: %s", peer, exc)
                    return
            if stalled.cancelled_caught:
                log.warning("erp_tcp %s: no complete request within %.0f s, closing", peer,
                            self.client_timeout)
                return
            assert xml is not None
            reply = await self.service.handle(xml, peer)
            with trio.move_on_after(self.client_timeout):
                await stream.send_all(frame_reply(reply))
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            log.info("erp_tcp: connection lost: %s", exc)

    # -- HTTP POST (keep-alive allowed) ------------------------------------------------

    async def handle_http(self, stream: trio.SocketStream) -> None:
        try:
            peer = self.access.check(stream, "erp_http")
            if peer is None:
                return
            conn = h11.Connection(h11.SERVER, max_incomplete_event_size=16384)
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
                    head, reply_body = error_reply(
                        codes.XML_TOO_LARGE,
                        f"request exceeds {self.service.max_request} bytes", {})
                    await self._respond_xml(stream, conn, render_reply(
                        head, reply_body, encoding=self.service.encoding))
                else:
                    reply = await self.service.handle(bytes(body), peer)
                    await self._respond_xml(stream, conn, reply)
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
