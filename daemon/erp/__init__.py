"""The ERP interface's tr_codes: what each request body holds, and what its reply says.

The ERP speaks the Bank of Communications direct-connect XML conventions
(yuan strings, optional fields, pipe-delimited ``serial_record`` tables); the
core speaks the field dictionaries of :mod:`protocol.bodies`. This package
translates, and refuses what an ERP can get wrong before anything is sent.
Each tr_code's rules and reply converter live together, by family:

==========================  ======================================================
:mod:`.queries`             310101 balances, 310201 / 310301 details
:mod:`.transfers`           210201 transfer, 210224 inter-bank, 310204 its result
:mod:`.batches`             330002 / 330010 batches, 310207 / 310208 / 310210
:mod:`.approvals`           310230 what awaits authorization, 210230 a signed decision
:mod:`.receipts`            310220 e-receipts
:mod:`.audit`               310240 the enterprise's audit log
:mod:`.fields`              :class:`FieldRule`, the checks per kind of field
:mod:`.tr_codes`            the families' declarations, collected
:mod:`.requests`            identity, then the body to wire fields
:mod:`.replies`             reply heads, refusals, unknown outcomes
==========================  ======================================================

Adding a single-request tr_code: declare its ``REQUEST_RULES`` entry and its
``REPLY_BODIES`` converter in its family module. The batch codes take many
wire requests each, so :class:`~daemon.erp.batches.BatchHandler` drives them.

Typical use by a listener::

    doc = parse_request(xml, encoding=cfg.encoding)          # erp_xml
    doc = fill_identity(doc, corp_no=cfg.corp_no, user_no=cfg.user_no)
    wire = request_to_wire(doc)
    ...                                                      # ask the core
    head, body = reply_to_erp(wire.tr_code, doc.head, wire_reply)
    xml = render_reply(head, body, encoding=doc.encoding)    # erp_xml

with every :class:`ErpRequestError` answered by :func:`error_reply` and a
lost or unreadable answer from the core by :func:`outcome_unknown_reply`.
"""

from __future__ import annotations

from daemon.erp.fields import FieldRule, Kind, WireReplyError
from daemon.erp.replies import (
    CST,
    UNKNOWN_OUTCOME_CODES,
    WireReply,
    WireReplyLike,
    ans_code_for,
    error_reply,
    outcome_unknown_reply,
    reply_to_erp,
)
from daemon.erp.requests import WireRequest, fill_identity, new_req_no, request_to_wire
from daemon.erp.tr_codes import REPLY_BODIES, REQUEST_RULES, SUPPORTED_TR_CODES
from daemon.erp_xml import ErpRequestError

__all__ = [
    "CST",
    "REPLY_BODIES",
    "REQUEST_RULES",
    "SUPPORTED_TR_CODES",
    "UNKNOWN_OUTCOME_CODES",
    "ErpRequestError",
    "FieldRule",
    "Kind",
    "WireReply",
    "WireReplyError",
    "WireReplyLike",
    "WireRequest",
    "ans_code_for",
    "error_reply",
    "fill_identity",
    "new_req_no",
    "outcome_unknown_reply",
    "reply_to_erp",
    "request_to_wire",
]
