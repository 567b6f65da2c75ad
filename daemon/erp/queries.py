"""The ERP's account queries: 310101 balances, 310201 today's and 310301 past details.

Each code is declared here once: its request body (:data:`REQUEST_RULES`),
any check across its fields (:data:`REQUEST_CHECKS`), and how the core's
answer becomes the ERP's reply body (:data:`REPLY_BODIES`). The answers are
pipe-delimited ``serial_record`` tables whose columns are
:data:`ACCOUNT_COLUMNS` and :data:`ENTRY_COLUMNS`; docs/erp-interface.md
documents the same columns and tests/test_erp_docs.py keeps the two in step.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

from daemon.erp.fields import (
    FieldError,
    FieldRule,
    Kind,
    ReplyBody,
    WireReplyError,
    acno_rule,
    wire_text,
    wire_yuan,
)
from protocol import codes

__all__ = ["ACCOUNT_COLUMNS", "ENTRY_COLUMNS", "REPLY_BODIES", "REQUEST_CHECKS",
           "REQUEST_RULES"]

#: Request body fields per tr_code, in wire order. Every wire field is listed:
#: optional ones default to ``""`` (or 0 for counts) as the wire expects.
REQUEST_RULES: dict[str, tuple[FieldRule, ...]] = {
    "310101": (
        acno_rule("acno", "account (账号); empty = every account of the enterprise",
                  required=False),
    ),
    "310201": (
        acno_rule("acno", "account (账号)"),
    ),
    "310301": (
        acno_rule("acno", "account (账号)"),
        FieldRule(name="start_date", kind=Kind.DATE, required=True,
                  doc="first business date (起始日期)"),
        FieldRule(name="end_date", kind=Kind.DATE, required=True,
                  doc="last business date (终止日期), not before start_date"),
        FieldRule(name="begin_no", kind=Kind.COUNT, width=6,
                  doc="first record wanted, 1-based; empty or 0 = 1"),
        FieldRule(name="query_num", kind=Kind.COUNT, width=4, maximum=500,
                  doc="records wanted; empty or 0 = 100"),
    ),
}


def _check_date_range(fields: Mapping[str, str | int]) -> None:
    if fields["start_date"] > fields["end_date"]:
        raise FieldError(
            f"start_date {fields['start_date']} is after end_date {fields['end_date']}",
            codes.INVALID_DATE_RANGE,
        )


#: Checks across a request's converted fields, run after every field passed.
REQUEST_CHECKS: dict[str, Callable[[Mapping[str, str | int]], None]] = {
    "310301": _check_date_range,
}


#: The 310101 serial_record columns: header text and wire field.
ACCOUNT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("户名", "acname"),
    ("账号", "acno"),
    ("币种", "cur_code"),
    ("余额", "balance"),
    ("可用余额", "avail_balance"),
    ("开户日期", "open_date"),
    ("账户类型", "acc_type"),
    ("开户行", "open_bank"),
    ("错误信息", "err_msg"),
    ("成功标志", "succ_flag"),
)

#: The 310201/310301 serial_record columns: header text and wire field.
ENTRY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("交易日期", "tr_date"),
    ("交易时间", "tr_time"),
    ("流水号", "serial_no"),
    ("借贷标志", "dc_flag"),
    ("发生额", "amt"),
    ("余额", "balance"),
    ("对方账号", "opp_acno"),
    ("对方户名", "opp_acname"),
    ("摘要", "summary"),
    ("企业流水号", "req_no"),
    ("凭证号", "cert_no"),
)

_AMOUNT_COLUMNS = frozenset({"balance", "avail_balance", "amt"})


def _cell(value: object) -> str:
    # A '|' or line break inside a cell would shift every later column.
    text = "" if value is None else str(value)
    return re.sub(r"[\r\n\t]", " ", text).replace("|", "｜")


def _serial_record(columns: tuple[tuple[str, str], ...], rows: Iterable[Iterable[str]]) -> str:
    parts = ["".join(f"{title}|" for title, _ in columns)]
    parts.extend("".join(f"{_cell(value)}|" for value in row) for row in rows)
    return "".join(parts)


def _records(fields: Mapping[str, object]) -> list[Mapping[str, object]]:
    records = fields.get("records")
    if not isinstance(records, list | tuple) or not all(
        isinstance(r, Mapping) for r in records
    ):
        raise WireReplyError("wire reply field records: expected a list of records")
    return list(records)


def _row(record: Mapping[str, object], columns: tuple[tuple[str, str], ...],
         *, blank_amounts: bool = False) -> list[str]:
    row = []
    for _, name in columns:
        if name in _AMOUNT_COLUMNS:
            row.append("" if blank_amounts else wire_yuan(record, name))
        else:
            row.append(wire_text(record, name))
    return row


def _table_body(columns: tuple[tuple[str, str], ...], rows: list[list[str]]) -> dict[str, str]:
    return {
        "serial_record": _serial_record(columns, rows),
        "field_num": str(len(columns)),
        "record_num": str(len(rows)),
        "file_flag": "0",
        "filename": "",
    }


def _body_310101(fields: Mapping[str, object]) -> dict[str, str]:
    rows = []
    for record in _records(fields):
        # A row the bank could not serve (succ_flag 1) carries no balances,
        # as the bank's client shows it, rather than a misleading 0.00.
        failed = wire_text(record, "succ_flag") != "0"
        rows.append(_row(record, ACCOUNT_COLUMNS, blank_amounts=failed))
    return _table_body(ACCOUNT_COLUMNS, rows)


def _body_310201(fields: Mapping[str, object]) -> dict[str, str]:
    rows = [_row(record, ENTRY_COLUMNS) for record in _records(fields)]
    return _table_body(ENTRY_COLUMNS, rows)


def _body_310301(fields: Mapping[str, object]) -> dict[str, str]:
    body = _body_310201(fields)
    for name in ("total_num", "begin_no"):
        value = fields.get(name)
        if value.__class__ is not int:
            raise WireReplyError(f"wire reply field {name}: expected an integer, got {value!r}")
        body[name] = str(value)
    body["more_flag"] = wire_text(fields, "more_flag") or "0"
    return body


#: The ERP reply body for the core's successful answer, per tr_code.
REPLY_BODIES: dict[str, ReplyBody] = {
    "310101": _body_310101,
    "310201": _body_310201,
    "310301": _body_310301,
}
