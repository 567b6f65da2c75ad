"""What the daemon does with one ERP request, whichever listener it came in on.

Bytes in, bytes out, never an exception: parse the XML safely, check and fill
the identity, validate and convert the body, forward it to the bank over the
core link, and render the bank's answer — or a specific refusal — as the
reply XML. One log line per request: req_no, tr_code, latency and
particular_code (never key material, passwords or account balances).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path

from daemon.core_link import CoreLink, DuplicateInFlight, NotSent, OutcomeUnknown
from daemon.erp_batches import TR_CODES as BATCH_TR_CODES
from daemon.erp_batches import BatchHandler
from daemon.erp_codec import (
    WireReplyError,
    error_reply,
    fill_identity,
    new_req_no,
    outcome_unknown_reply,
    reply_to_erp,
    request_to_wire,
)
from daemon.erp_xml import ErpRequestError, parse_request, render_reply
from protocol import codes
from protocol.errors import LocalProtocolError
from protocol.events import ErrorMessage, Request

log = logging.getLogger("directlink.erp")

#: Codes from the bank that mean "executed or not, we cannot say".
_BANK_UNKNOWN = frozenset({codes.BANK_FAULT.code})


class ErpService:
    def __init__(
        self,
        link: CoreLink,
        *,
        corp_no: str,
        user_no: str,
        encoding: str = "GBK",
        max_request: int = 1 << 20,
        request_timeout: float = 30.0,
        files_dir: Path | None = None,
    ) -> None:
        self.link = link
        self.corp_no = corp_no
        self.user_no = user_no
        self.encoding = encoding
        self.max_request = max_request
        self.request_timeout = request_timeout
        self.accepting = True
        self.batches = BatchHandler(link, files_dir=files_dir or Path("files"),
                                    encoding=encoding, new_req_no=new_req_no,
                                    timeout=request_timeout)

    async def handle(self, data: bytes, peer: str = "-") -> bytes:
        started = time.perf_counter()
        head: Mapping[str, str] = {}
        encoding = self.encoding
        try:
            doc = parse_request(data, encoding=self.encoding, max_size=self.max_request)
            encoding = doc.encoding
            head = doc.head
            doc = fill_identity(doc, corp_no=self.corp_no, user_no=self.user_no)
            head = doc.head
            if head.get("tr_code") in BATCH_TR_CODES:
                reply_head, body = await self._batch(doc)
            else:
                wire = request_to_wire(doc)
                reply_head, body = await self._forward(wire, head)
        except ErpRequestError as exc:
            encoding = exc.encoding or encoding
            head = {**exc.head, **{k: v for k, v in head.items() if v}}
            reply_head, body = error_reply(exc.code, exc.info, head)
        except Exception:
            # A bug of ours must not take the listener down, and must not claim an outcome.
            log.exception("internal error handling a request from %s", peer)
            tr_code = head.get("tr_code", "")
            reply_head, body = (outcome_unknown_reply(tr_code, head) if tr_code
                                else error_reply(codes.OUTCOME_UNKNOWN,
                                                 "internal error in the client", head))
        log.info("peer=%s req_no=%s tr_code=%s ms=%.1f particular_code=%s", peer,
                 reply_head.get("req_no", "") or "-", reply_head.get("tr_code", "") or "-",
                 (time.perf_counter() - started) * 1000, reply_head.get("particular_code"))
        return render_reply(reply_head, body, encoding=encoding)

    async def _batch(self, doc):
        """A batch code: its own handler drives the link (segments, pages of results)."""
        head = doc.head
        if not self.accepting:
            return error_reply(codes.DAEMON_BUSY, "the client is shutting down", head)
        try:
            code, info, serial_no, body = await self.batches.handle(doc)
        except DuplicateInFlight:
            return error_reply(codes.DUPLICATE_IN_FLIGHT,
                               f"req_no {head['req_no']} is already in flight", head)
        except NotSent as exc:
            return error_reply(codes.CORE_UNAVAILABLE, f"{exc}; the request was not sent",
                               head)
        except OutcomeUnknown as exc:
            log.warning("req_no %s: outcome unknown: %s", head["req_no"], exc)
            return error_reply(codes.OUTCOME_UNKNOWN, "processing: outcome unknown, query "
                               "with 310207 or send the same req_no again", head)
        if code in _BANK_UNKNOWN:
            return error_reply(codes.OUTCOME_UNKNOWN, "processing: outcome unknown, query "
                               "with 310207", head)
        known = codes.lookup(code) or codes.ReturnCode(code, "BANK", info)
        reply_head, _ = error_reply(known, info, head)
        reply_head["serial_no"] = serial_no
        return reply_head, body

    async def _forward(self, wire, head: Mapping[str, str]):
        if not self.accepting:
            return error_reply(codes.DAEMON_BUSY, "the client is shutting down", head)
        try:
            request = Request(tr_code=wire.tr_code, req_no=wire.req_no, fields=wire.fields)
            answer = await self.link.request(request, timeout=self.request_timeout)
        except LocalProtocolError as exc:
            # The request cannot be put on the wire (a value too wide): nothing was sent.
            return error_reply(exc.code, str(exc), head)
        except DuplicateInFlight:
            return error_reply(codes.DUPLICATE_IN_FLIGHT,
                               f"req_no {wire.req_no} is already in flight", head)
        except NotSent as exc:
            return error_reply(codes.CORE_UNAVAILABLE, f"{exc}; the request was not sent",
                               head)
        except OutcomeUnknown as exc:
            log.warning("req_no %s: outcome unknown: %s", wire.req_no, exc)
            return outcome_unknown_reply(wire.tr_code, head)
        if isinstance(answer, ErrorMessage):
            if answer.ret_code in _BANK_UNKNOWN:
                return outcome_unknown_reply(wire.tr_code, head)
            code = codes.lookup(answer.ret_code) or codes.MALFORMED_FRAME
            return error_reply(code, answer.ret_msg or code.message, head)
        try:
            return reply_to_erp(wire.tr_code, head, answer)
        except WireReplyError:
            log.exception("req_no %s: the bank's reply does not fit the ERP format",
                          wire.req_no)
            return outcome_unknown_reply(wire.tr_code, head)
