"""The ERP's audit log: 310240, the enterprise's own trail at the bank, paged.

Every instruction, refusal, approval, rejection, expiry and cancellation, and
every change at the bank counter to the enterprise's operators, keys, flows
and directed payees, with who, when and what came of it, oldest first:
``<tran><rcd>`` records like the other paged codes. The bank shows an
enterprise only its own rows.
"""

from __future__ import annotations

from collections.abc import Mapping

from daemon.erp.fields import (
    FieldError,
    FieldRule,
    Kind,
    ReplyBody,
    WireReplyError,
    ascii_rule,
    count_rule,
    wire_text,
)
from protocol import codes
from protocol.bodies import PAGE_RECORDS, REQ_NO
from protocol.bodies_audit import OPERATOR
from protocol.money import format_yuan

__all__ = ["RECORD_FIELDS", "REPLY_BODIES", "REQUEST_CHECKS", "REQUEST_RULES"]

AUDIT_LOG = "310240"

REQUEST_RULES: dict[str, tuple[FieldRule, ...]] = {
    AUDIT_LOG: (
        FieldRule(name="start_date", kind=Kind.DATE,
                  doc="first business date (起始日期); empty = from the first row"),
        FieldRule(name="end_date", kind=Kind.DATE,
                  doc="last business date (终止日期), not before start_date; empty = to "
                  "the last row"),
        ascii_rule("ogl_serial_no", REQ_NO, "only this instruction's rows (its req_no); "
                   "empty = all"),
        ascii_rule("operator", OPERATOR, "only this operator's rows (操作员号); empty = all"),
        count_rule("begin_no", 8, "first record wanted, 1-based; empty or 0 = 1"),
        count_rule("query_num", 4, f"records wanted; empty or 0 = {PAGE_RECORDS}",
                   maximum=PAGE_RECORDS),
    ),
}


def _check_date_range(fields: Mapping[str, str | int]) -> None:
    start, end = fields["start_date"], fields["end_date"]
    if start and end and start > end:
        raise FieldError(f"start_date {start} is after end_date {end}",
                         codes.INVALID_DATE_RANGE)


REQUEST_CHECKS = {AUDIT_LOG: _check_date_range}

#: The fields of each ``<rcd>``, in order.
RECORD_FIELDS = ("at", "event", "tr_code", "req_no", "operator", "amt", "result", "detail")


def _amount(record: Mapping[str, object]) -> str:
    """Yuan; empty for a row without an amount (the counter's)."""
    value = record.get("amt")
    if value.__class__ is not int:
        raise WireReplyError(f"wire reply field amt: expected integer fen, got {value!r}")
    return format_yuan(value) if value else ""  # type: ignore[arg-type]


def _body_310240(fields: Mapping[str, object]) -> dict[str, object]:
    records = fields.get("records")
    if not isinstance(records, list | tuple) or not all(
            isinstance(r, Mapping) for r in records):
        raise WireReplyError("wire reply field records: expected a list of records")
    rows = [{name: _amount(r) if name == "amt" else wire_text(r, name)
             for name in RECORD_FIELDS} for r in records]
    return {"total_num": wire_text(fields, "total_num"),
            "begin_no": wire_text(fields, "begin_no"),
            "more_flag": wire_text(fields, "more_flag") or "0", "tran": {"rcd": rows}}


REPLY_BODIES: dict[str, ReplyBody] = {
    AUDIT_LOG: _body_310240,  # type: ignore[dict-item]
}
