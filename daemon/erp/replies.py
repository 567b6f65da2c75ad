"""The ERP reply: its head, and its body from the core's answer or from a refusal.

:func:`reply_to_erp` turns the core's answer into the reply (head, body),
the body by the tr_code's converter (:mod:`.tr_codes`); :func:`error_reply`
answers a request the daemon refused itself, and
:func:`outcome_unknown_reply` one that may have reached the bank without an
answer coming back. Every head carries ``ans_code`` as :func:`ans_code_for`
derives it from ``particular_code``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from daemon.erp.tr_codes import REPLY_BODIES, UNKNOWN_OUTCOME_BODIES
from protocol import codes
from protocol.codes import ReturnCode

__all__ = [
    "CST",
    "UNKNOWN_OUTCOME_CODES",
    "Clock",
    "WireReply",
    "WireReplyLike",
    "ans_code_for",
    "error_reply",
    "outcome_unknown_reply",
    "reply_to_erp",
]

#: China Standard Time: the bank's clock, as in the wire header.
CST = dt.timezone(dt.timedelta(hours=8), "CST")

Clock = Callable[[], dt.datetime]


def _now() -> dt.datetime:
    return dt.datetime.now(CST)


#: Codes after which the ERP must not assume the transaction failed: the
#: outcome is unknown (D008), or the same req_no is still being executed
#: (D006). Both answer ans_code "2": query with 310204.
UNKNOWN_OUTCOME_CODES: frozenset[str] = frozenset(
    {codes.OUTCOME_UNKNOWN.code, codes.DUPLICATE_IN_FLIGHT.code}
)


#: Codes of answers that are not final but not unknown either: the instruction
#: waits for the enterprise's approvals (A001). ans_code "2" as well, with a body.
NOT_FINAL_CODES: frozenset[str] = frozenset({codes.AWAITING_AUTHORIZATION.code})


class WireReplyLike(Protocol):
    """What :func:`reply_to_erp` needs from the core's answer."""

    @property
    def ret_code(self) -> str | ReturnCode: ...
    @property
    def ret_msg(self) -> str: ...
    @property
    def serial_no(self) -> str: ...
    @property
    def fields(self) -> Mapping[str, object]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class WireReply:
    """A plain :class:`WireReplyLike`: the core's return code, message, serial and body."""

    ret_code: str | ReturnCode
    ret_msg: str = ""
    serial_no: str = ""
    fields: Mapping[str, object] = field(default_factory=dict)


def ans_code_for(particular_code: str) -> str:
    """``"0"`` success, ``"2"`` not final (outcome unknown, or awaiting authorization:
    query later), ``"1"`` refused."""
    if particular_code == codes.OK.code:
        return "0"
    if particular_code in UNKNOWN_OUTCOME_CODES or particular_code in NOT_FINAL_CODES:
        return "2"
    return "1"


def reply_to_erp(
    tr_code: str,
    head_in: Mapping[str, str],
    wire_reply: WireReplyLike,
    *,
    clock: Clock = _now,
) -> tuple[dict[str, str], dict[str, str]]:
    """The ERP reply (head, body) for the core's answer to a request.

    ``head_in`` is the request head after
    :func:`~daemon.erp.requests.fill_identity`, so an assigned req_no is
    echoed. A refusal has an empty body, except that a transfer whose outcome
    is unknown reports stat 3 / tranStatus 20. Raises
    :class:`~daemon.erp.fields.WireReplyError` if the core's fields are not
    what ``tr_code`` needs.
    """
    if tr_code not in REPLY_BODIES:
        raise ValueError(f"unsupported tr_code {tr_code!r}")
    code = str(wire_reply.ret_code)
    info = wire_reply.ret_msg or _default_message(code)
    if code in codes.WITH_BODY:
        body = REPLY_BODIES[tr_code](wire_reply.fields)
    else:
        body = _refusal_body(tr_code, code)
    return _head(tr_code, head_in, code, info, wire_reply.serial_no, clock), body


def outcome_unknown_reply(
    tr_code: str, head_in: Mapping[str, str], *, clock: Clock = _now
) -> tuple[dict[str, str], dict[str, str]]:
    """The reply when the request may have reached the bank but no answer came back.

    OUTCOME_UNKNOWN (D008), ans_code ``"2"``; a transfer says stat ``3`` and
    an inter-bank payment tranStatus ``20`` (suspicious) — never "failed".
    The ERP resolves it with 310204.
    """
    code = codes.OUTCOME_UNKNOWN
    body = dict(UNKNOWN_OUTCOME_BODIES.get(tr_code, {}))
    return _head(tr_code, head_in, code.code, code.message, "", clock), body


def error_reply(
    code: ReturnCode,
    info: str,
    head_in: Mapping[str, str],
    *,
    clock: Clock = _now,
) -> tuple[dict[str, str], dict[str, str]]:
    """The reply for a request the daemon refused itself (parse, validation, identity…).

    ``info`` (the specific reason) becomes particular_info, falling back to
    the code's message. The tr_code echoed is the request's own, if known.
    """
    tr_code = head_in.get("tr_code", "")
    body = _refusal_body(tr_code, code.code)
    return _head(tr_code, head_in, code.code, info or code.message, "", clock), body


def _refusal_body(tr_code: str, code: str) -> dict[str, str]:
    # Empty, unless the outcome is unknown and the tr_code says so in its body.
    if code in UNKNOWN_OUTCOME_CODES:
        return dict(UNKNOWN_OUTCOME_BODIES.get(tr_code, {}))
    return {}


def _default_message(code: str) -> str:
    known = codes.lookup(code)
    return known.message if known is not None else ""


def _head(
    tr_code: str,
    head_in: Mapping[str, str],
    code: str,
    info: str,
    serial_no: str,
    clock: Clock,
) -> dict[str, str]:
    now = clock()
    return {
        "tr_code": tr_code,
        "corp_no": head_in.get("corp_no", ""),
        "req_no": head_in.get("req_no", ""),
        "serial_no": serial_no,
        "ans_no": "",
        "next_no": "",
        # Formatted by hand: strftime costs several times as much.
        "tr_acdt": f"{now.year:04d}{now.month:02d}{now.day:02d}",
        "tr_time": f"{now.hour:02d}{now.minute:02d}{now.second:02d}",
        "ans_code": ans_code_for(code),
        # Left empty as the bank's client does: integrations read the reason
        # from particular_info and some show ans_info only when that is empty.
        "ans_info": "",
        "particular_code": code,
        "particular_info": info,
        "atom_tr_count": "1",
        "reserved": "",
    }
