"""Reading the audit log: 310240, the enterprise's own rows, paged.

Read-only like :mod:`core_sim.queries`: nothing is recorded, and an
enterprise sees only its own rows (:mod:`core_sim.audit`), whatever it asks.
"""

from __future__ import annotations

from datetime import date, datetime

from core_sim import audit
from core_sim.ledger import Ledger
from core_sim.transaction import Refused, Reply, Request, fit_message, text_field
from protocol import codes
from protocol.bodies import PAGE_RECORDS
from protocol.bodies_audit import DETAIL, RESULT

AUDIT_LOG = "310240"
TR_CODES = frozenset({AUDIT_LOG})


def execute(ledger: Ledger, request: Request) -> Reply:
    fields = request.fields
    start = _date(fields, "start_date")
    end = _date(fields, "end_date")
    if start is not None and end is not None and start > end:
        raise Refused(codes.INVALID_DATE_RANGE,
                      f"start_date {start:%Y%m%d} is after end_date {end:%Y%m%d}")
    begin, wanted = _page(fields)
    total, rows = audit.query(
        ledger.conn, corp_no=request.corp_no, start=start, end=end,
        req_no=text_field(fields, "ogl_serial_no") or None,
        operator=text_field(fields, "operator") or None, offset=begin - 1, limit=wanted)
    records = [
        {"at": row.at[:19], "event": row.event, "tr_code": row.tr_code, "req_no": row.req_no,
         "operator": row.operator, "amt": row.amt or 0,
         # Written in words by whoever recorded the row: fitted to the wire's widths.
         "result": fit_message(row.result, RESULT), "detail": fit_message(row.detail, DETAIL)}
        for row in rows
    ]
    more = "1" if begin - 1 + len(records) < total else "0"
    return Reply(codes.OK.code, f"{len(records)} of {total} audit rows", "",
                 {"total_num": total, "begin_no": begin, "more_flag": more,
                  "records": records})


def _date(fields, name: str) -> date | None:
    text = text_field(fields, name)
    if not text:
        return None
    try:
        if not (len(text) == 8 and text.isascii() and text.isdigit()):
            raise ValueError(text)
        return datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        raise Refused(codes.INVALID_FIELD, f"{name} must be a date YYYYMMDD") from None


def _page(fields) -> tuple[int, int]:
    begin = fields.get("begin_no") or 1
    wanted = fields.get("query_num") or PAGE_RECORDS
    if not isinstance(begin, int) or not isinstance(wanted, int) or begin < 1:
        raise Refused(codes.INVALID_FIELD, "begin_no and query_num must be counts")
    if wanted > PAGE_RECORDS:
        raise Refused(codes.INVALID_FIELD, f"query_num must be at most {PAGE_RECORDS}")
    return begin, wanted
