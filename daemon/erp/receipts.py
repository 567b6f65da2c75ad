"""The ERP's e-receipts (电子回单): 310220, fetched by req_no, bank serial or date range.

Declared here once, like the other families: the request body
(:data:`REQUEST_RULES`), the check that no more than one way to ask is
given, and a date range whole (:data:`REQUEST_CHECKS`; a request with none
the bank refuses, E001), and how the bank's answer becomes the ERP's reply
body (:data:`REPLY_BODIES`). Each receipt is one ``<tran><rcd>`` with every
field the bank signed, named as :data:`RECEIPT_FIELDS` lists them, plus the
amount in capitals and the signature, so an ERP can keep it and check it
offline against the bank key it pinned (docs/erp-interface.md, 310220).
Values are exactly as signed: no cell escaping, no padding.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from daemon.erp.fields import (
    FieldError,
    FieldRule,
    Kind,
    ReplyBody,
    WireReplyError,
    acno_rule,
    ascii_rule,
    count_rule,
    wire_text,
    wire_yuan,
)
from protocol import codes
from protocol.bodies import REQ_NO
from protocol.bodies_receipts import PAGE_RECEIPTS, SERIAL
from protocol.capitals import amount_in_capitals

__all__ = ["RECEIPT_FIELDS", "REPLY_BODIES", "REQUEST_CHECKS", "REQUEST_RULES"]

RECEIPTS = "310220"

REQUEST_RULES: dict[str, tuple[FieldRule, ...]] = {
    RECEIPTS: (
        ascii_rule("ogl_serial_no", REQ_NO,
                   "an instruction's req_no (原流水号): its receipts; a batch's: one per "
                   "succeeded item"),
        ascii_rule("serial_no", SERIAL,
                   "a bank serial (交易流水号): a reply's serial_no, a detail's 流水号 or a "
                   "batch item's flw"),
        acno_rule("acno", "one of the enterprise's accounts (账号): its receipts from "
                  "start_date to end_date", required=False),
        FieldRule(name="start_date", kind=Kind.DATE, doc="first business date (with acno)"),
        FieldRule(name="end_date", kind=Kind.DATE,
                  doc="last business date (with acno); at most 366 days in all"),
        count_rule("begin_no", 8, "first receipt wanted, 1-based; empty or 0 = 1"),
        count_rule("query_num", 4, "receipts wanted; empty or 0 = 100",
                   maximum=PAGE_RECEIPTS),
    ),
}


def _check_one_way(fields: Mapping[str, str | int]) -> None:
    """At most one way to ask, a range complete and in order (none at all: the bank says)."""
    ways = [name for name in ("ogl_serial_no", "serial_no") if fields[name]]
    by_range = any(fields[name] for name in ("acno", "start_date", "end_date"))
    if len(ways) + by_range > 1:
        raise FieldError("give one of ogl_serial_no, serial_no, or acno with start_date "
                         "and end_date")
    if by_range:
        for name in ("acno", "start_date", "end_date"):
            if not fields[name]:
                raise FieldError(f"missing field {name} (acno, start_date and end_date "
                                 "go together)")
        if fields["start_date"] > fields["end_date"]:
            raise FieldError(f"start_date {fields['start_date']} is after end_date "
                             f"{fields['end_date']}", codes.INVALID_DATE_RANGE)


REQUEST_CHECKS: dict[str, Callable[[Mapping[str, str | int]], None]] = {
    RECEIPTS: _check_one_way,
}

#: The fields of each receipt ``<rcd>``, in order: the reply's name, and what it holds.
RECEIPT_FIELDS: tuple[tuple[str, str], ...] = (
    ("receipt_no", "receipt number (回单编号): the bank serial and -D or -C"),
    ("biz_date", "business date (记账日期), YYYYMMDD"),
    ("dc_flag", "D debit (money left the account), C credit (money came in)"),
    ("payer_acno", "payer account (付款人账号)"),
    ("payer_name", "payer name (付款人户名)"),
    ("payer_bank", "payer's bank (付款人开户行)"),
    ("payee_acno", "payee account (收款人账号)"),
    ("payee_name", "payee name (收款人户名)"),
    ("payee_bank", "payee's bank (收款人开户行)"),
    ("cur_code", "currency (币种): CNY"),
    ("amt", "amount (金额小写), yuan"),
    ("amt_in_capitals", "amount in Chinese capitals (金额大写), as signed"),
    ("summary", "summary (摘要)"),
    ("serial_no", "bank serial (交易流水号)"),
    ("req_no", "your req_no of the instruction; empty on a receipt of another "
               "enterprise's instruction (a credit from it)"),
    ("corp_no", "the enterprise the receipt is for"),
    ("tr_code", "the transaction that moved the money (210201, 210224, 330002, 330010)"),
    ("issued_at", "when the movement was posted, China time, YYYY-MM-DDThh:mm:ss"),
    ("signer_key_id", "the id of the bank key that signed it (16 hex digits)"),
    ("signature", "Ed25519 signature (128 hex digits) of the receipt's canonical text"),
)


def _count(fields: Mapping[str, object], name: str) -> str:
    value = fields.get(name)
    if value.__class__ is not int:
        raise WireReplyError(f"wire reply field {name}: expected an integer, got {value!r}")
    return str(value)


def _receipt(record: Mapping[str, object]) -> dict[str, str]:
    out = {}
    for name, _ in RECEIPT_FIELDS:
        if name == "amt":
            out[name] = wire_yuan(record, "amt")
        elif name == "amt_in_capitals":
            out[name] = amount_in_capitals(record["amt"])  # type: ignore[arg-type]
        else:
            out[name] = wire_text(record, name)
    return out


def _body_310220(fields: Mapping[str, object]) -> dict[str, object]:
    records = fields.get("records")
    if not isinstance(records, list | tuple) or not all(
            isinstance(r, Mapping) for r in records):
        raise WireReplyError("wire reply field records: expected a list of records")
    return {
        "total_num": _count(fields, "total_num"),
        "begin_no": _count(fields, "begin_no"),
        "more_flag": wire_text(fields, "more_flag") or "0",
        "record_num": str(len(records)),
        "tran": {"rcd": [_receipt(record) for record in records]},
    }


REPLY_BODIES: dict[str, ReplyBody] = {
    RECEIPTS: _body_310220,  # type: ignore[dict-item]
}
