"""The audit log: every instruction, decision, expiry and refusal: who, when, what came of it.

A bank keeps, per enterprise, the trail an auditor reads: what was submitted
(``instruction``), refused (``refusal``), held for approval (``awaiting``),
approved at a level (``approval``), rejected (``rejection``), executed after
its last approval (``authorized``), expired unapproved (``expiry``),
cancelled with its flow (``cancel``), and every change at the counter to
operators, keys, flows and directed payees (``counter``). Rows are written in
the transaction that does the thing, so the log and the ledger never
disagree; they are never updated or deleted. ``biz_date`` is stored as the
ledger stores dates, YYYYMMDD.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, datetime

from core_sim.ledger_types import ymd

EVENTS = ("instruction", "refusal", "awaiting", "approval", "rejection", "authorized",
          "expiry", "cancel", "decision_refused", "counter")


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    at: str
    biz_date: str
    corp_no: str
    event: str
    tr_code: str
    req_no: str
    operator: str
    amt: int | None
    result: str
    detail: str


_COLUMNS = "id, at, biz_date, corp_no, event, tr_code, req_no, operator, amt, result, detail"


def record(conn: sqlite3.Connection, *, at: datetime, biz_date: date | str, corp_no: str,
           event: str, tr_code: str = "", req_no: str = "", operator: str = "",
           amt: int | None = None, result: str = "", detail: str = "") -> None:
    """Append one row (inside the caller's transaction)."""
    if event not in EVENTS:
        raise ValueError(f"unknown audit event {event!r}")
    day = biz_date if isinstance(biz_date, str) else ymd(biz_date)
    conn.execute(
        "INSERT INTO audit_log (at, biz_date, corp_no, event, tr_code, req_no, operator, amt,"
        " result, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (at.replace(microsecond=0).isoformat(), day, corp_no, event, tr_code, req_no,
         operator, amt, result, detail))


def query(conn: sqlite3.Connection, *, corp_no: str | None = None,
          start: date | None = None, end: date | None = None, req_no: str | None = None,
          operator: str | None = None, offset: int = 0, limit: int | None = None
          ) -> tuple[int, list[AuditRow]]:
    """(how many rows match, the page of them from ``offset``), oldest first."""
    where, params = [], []
    for column, value in (("corp_no", corp_no), ("req_no", req_no), ("operator", operator)):
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    if start is not None:
        where.append("biz_date >= ?")
        params.append(ymd(start))
    if end is not None:
        where.append("biz_date <= ?")
        params.append(ymd(end))
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    total = conn.execute(f"SELECT count(*) FROM audit_log{clause}", params).fetchone()[0]
    page = f" LIMIT {int(limit)} OFFSET {int(offset)}" if limit is not None else \
        (f" LIMIT -1 OFFSET {int(offset)}" if offset else "")
    rows = conn.execute(f"SELECT {_COLUMNS} FROM audit_log{clause} ORDER BY id{page}",
                        params).fetchall()
    return total, [AuditRow(*row) for row in rows]
