"""The ERP's approvals: 310230 what awaits authorization, 210230 a signed decision.

A treasury system can approve in-app: list what waits for an operator
(310230), show it to that person, have them sign the decision's canonical
text (:mod:`protocol.approval`) with their own key, and submit it (210230).
``directlink approvals`` does the same from the command line. The
authorization fields (:func:`authorization_body`) also appear in the 310204
and 310207 replies.
"""

from __future__ import annotations

from collections.abc import Mapping

from daemon.erp.fields import (
    FieldRule,
    Kind,
    ReplyBody,
    ascii_rule,
    count_rule,
    wire_text,
    wire_yuan,
)
from protocol.bodies import PAGE_RECORDS, REQ_NO
from protocol.bodies_approvals import OPERATOR

__all__ = ["AUTHORIZATION_FIELDS", "REPLY_BODIES", "REQUEST_RULES", "authorization_body"]

#: The authorization fields of a reply, in order.
AUTHORIZATION_FIELDS = ("auth_state", "auth_level", "auth_levels", "waiting_for")

REQUEST_RULES: dict[str, tuple[FieldRule, ...]] = {
    "310230": (
        ascii_rule("operator", OPERATOR, "only what this operator may approve now (操作员号); "
                   "empty = everything awaiting authorization"),
        ascii_rule("ogl_serial_no", REQ_NO, "only this instruction's req_no; empty = all"),
        count_rule("begin_no", 8, "first record wanted, 1-based; empty = 1"),
        count_rule("query_num", 4, f"records wanted; empty = {PAGE_RECORDS}",
                   maximum=PAGE_RECORDS),
    ),
    "210230": (
        FieldRule(name="ogl_serial_no", kind=Kind.ASCII, width=REQ_NO, required=True,
                  doc="req_no of the instruction decided on"),
        ascii_rule("operator", OPERATOR, "the deciding operator's code", required=True),
        FieldRule(name="decision", kind=Kind.FLAG, choices=("1", "2"), required=True,
                  doc="1 approve (同意), 2 reject (拒绝)"),
        count_rule("level", 2, "the level decided, 1-based: the one waiting", required=True),
        FieldRule(name="amt", kind=Kind.AMOUNT, required=True,
                  doc="the instruction's amount (a batch: its total) as the operator saw it"),
        ascii_rule("signed_at", 19, "when signed, YYYY-MM-DDThh:mm:ss, China time",
                   required=True),
        ascii_rule("signature", 128, "the operator's Ed25519 signature of the decision's "
                   "canonical text, 128 hex digits", required=True),
    ),
}


def authorization_body(fields: Mapping[str, object]) -> dict[str, str]:
    """The authorization fields of a core answer, as text (empty when it has none)."""
    return {name: wire_text(fields, name) for name in AUTHORIZATION_FIELDS if name in fields}


def _body_310230(fields: Mapping[str, object]) -> dict[str, object]:
    records = [{
        "req_no": wire_text(r, "req_no"), "tr_code": wire_text(r, "tr_code"),
        "maker": wire_text(r, "maker"), "amt": wire_yuan(r, "amt"),
        "item_count": wire_text(r, "item_count"), "pay_acno": wire_text(r, "pay_acno"),
        "rcv_acno": wire_text(r, "rcv_acno"), "rcv_acname": wire_text(r, "rcv_acname"),
        "summary": wire_text(r, "summary"), "biz_date": wire_text(r, "biz_date"),
        "submitted": wire_text(r, "submitted"), **authorization_body(r),
        "approved_by": wire_text(r, "approved_by"),
    } for r in fields.get("records", ())]  # type: ignore[union-attr]
    return {"total_num": wire_text(fields, "total_num"),
            "begin_no": wire_text(fields, "begin_no"),
            "more_flag": wire_text(fields, "more_flag"), "tran": {"rcd": records}}


def _body_210230(fields: Mapping[str, object]) -> dict[str, str]:
    return {"ogl_serial_no": wire_text(fields, "ogl_serial_no"),
            "stat": wire_text(fields, "stat"), "err_msg": wire_text(fields, "err_msg"),
            **authorization_body(fields)}


REPLY_BODIES: dict[str, ReplyBody] = {
    "310230": _body_310230,  # type: ignore[dict-item]
    "210230": _body_210230,
}
