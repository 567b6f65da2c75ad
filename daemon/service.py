"""What the daemon does with one ERP request, whichever listener it came in on.

Bytes in, bytes out, never an exception: parse the XML safely, check and fill
the identity, validate and convert the body, forward it to the bank over the
core link, and render the bank's answer — or a specific refusal — as the
reply XML. One log line per request: req_no, tr_code, latency and
particular_code (never key material, passwords or account balances).

Every reply fits in one raw-TCP frame (:data:`MAX_REPLY`), over HTTP too, so
an ERP gets the same answer on either transport: a refusal echoes only
excerpts of what it refuses, and a reply that would still be larger is
replaced by one that says so (:meth:`ErpService._fitted`), never by silence.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path

from daemon.core_link import CoreLink, DuplicateInFlight, NotSent, OutcomeUnknown
from daemon.erp import (
    WireReplyError,
    error_reply,
    fill_identity,
    new_req_no,
    outcome_unknown_reply,
    reply_to_erp,
    request_to_wire,
)
from daemon.erp.batches import TR_CODES as BATCH_TR_CODES
from daemon.erp.batches import BatchHandler
from daemon.erp_framing import MAX_FRAMED_LENGTH
from daemon.erp_xml import (
    EXCERPT_CHARS,
    ErpRequestError,
    excerpt,
    parse_request,
    render_reply,
)
from protocol import codes
from protocol.errors import LocalProtocolError
from protocol.events import ErrorMessage, Request

log = logging.getLogger("directlink.erp")

#: Codes from the bank that mean "executed or not, we cannot say".
_BANK_UNKNOWN = frozenset({codes.BANK_FAULT.code})

#: The largest reply document: what the 7-byte raw-TCP header can announce.
MAX_REPLY = MAX_FRAMED_LENGTH

#: BoCom numbers its queries 31xxxx (310101 … 310210). They change nothing at
#: the bank, so a query answer too large to send is a plain refusal (P022);
#: any other code may have moved money, and its outcome must not be denied.
_QUERY_PREFIX = "31"

#: Head fields a reply echoes from the request, possibly before they were checked.
_ECHOED = ("tr_code", "corp_no", "req_no")


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
        self.max_reply = MAX_REPLY
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
            head = _clipped({**exc.head, **{k: v for k, v in head.items() if v}})
            reply_head, body = error_reply(exc.code, exc.info, head)
        except Exception:
            # A bug of ours must not take the listener down, and must not claim an outcome.
            log.exception("internal error handling a request from %s", peer)
            tr_code = head.get("tr_code", "")
            reply_head, body = (outcome_unknown_reply(tr_code, head) if tr_code
                                else error_reply(codes.OUTCOME_UNKNOWN,
                                                 "internal error in the client", head))
        xml = render_reply(reply_head, body, encoding=encoding)
        if len(xml) > self.max_reply:
            reply_head, xml = self._fitted(reply_head, len(xml), encoding)
        self._log(peer, reply_head, started)
        return xml

    def refuse(self, code: codes.ReturnCode, info: str, peer: str = "-") -> bytes:
        """The reply to a request a listener refuses before it has a document.

        For what only the listener can see (an announced length over the limit,
        an empty HTTP body); logged like every other request. The reply is in
        the configured encoding, since no document said otherwise.
        """
        started = time.perf_counter()
        reply_head, body = error_reply(code, info, {})
        self._log(peer, reply_head, started)
        return render_reply(reply_head, body, encoding=self.encoding)

    def _fitted(self, reply_head: Mapping[str, str], size: int, encoding: str
                ) -> tuple[dict[str, str], bytes]:
        """A small reply in place of one of ``size`` bytes, too large to send.

        Nothing the ERP sends should lead here (refusals echo excerpts, queries
        are paged), so this is logged as an error. A refusal or a query answer
        becomes P022: nothing was executed. Anything else may have been
        executed by the bank, so it becomes D008 (outcome unknown, query its
        status), never a refusal.
        """
        tr_code = reply_head.get("tr_code", "")
        log.error("req_no %s tr_code %s: the reply is %d bytes, more than the %d a reply "
                  "can carry; answering with a short one instead",
                  reply_head.get("req_no", "") or "-", tr_code or "-", size, self.max_reply)
        head = _clipped(reply_head)
        if reply_head.get("ans_code") == "1" or tr_code.startswith(_QUERY_PREFIX):
            code = codes.RESULT_TOO_LARGE
            info = f"reply of {size} bytes is over the {self.max_reply} one reply can " \
                   "carry; narrow the query or page it"
        else:
            code = codes.OUTCOME_UNKNOWN
            info = f"reply of {size} bytes is over the {self.max_reply} one reply can " \
                   "carry; the bank may have executed it: query its status"
        fitted_head, body = error_reply(code, info, head)
        return fitted_head, render_reply(fitted_head, body, encoding=encoding)

    @staticmethod
    def _log(peer: str, reply_head: Mapping[str, str], started: float) -> None:
        log.info("peer=%s req_no=%s tr_code=%s ms=%.1f particular_code=%s", peer,
                 reply_head.get("req_no", "") or "-", reply_head.get("tr_code", "") or "-",
                 (time.perf_counter() - started) * 1000, reply_head.get("particular_code"))

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


def _clipped(head: Mapping[str, str]) -> dict[str, str]:
    """``head`` with each echoed field cut to an excerpt if it is implausibly long.

    A refused request's tr_code, corp_no or req_no may be anything, of any
    size; a valid one is at most 32 characters, so this never touches it.
    """
    clipped = dict(head)
    for name in _ECHOED:
        value = clipped.get(name, "")
        if len(value) > EXCERPT_CHARS:
            clipped[name] = excerpt(value, quoted=False)
    return clipped
