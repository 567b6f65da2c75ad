"""310230: the enterprise's instructions awaiting authorization, paged.

Read-only. With ``operator``, only what that operator may approve (or
reject) now: instructions whose waiting level lists them, that they neither
made nor approved before. Each record says what the instruction is (amount,
payer, payee, a batch's item count and total), the level it waits at and
who approved the levels before. The CLI's ``directlink approvals list|show``
and a treasury system's approval screen read this.
"""

from __future__ import annotations

from core_sim import authorization
from core_sim.ledger import Ledger
from core_sim.transaction import Refused, Reply, Request, text_field
from protocol import codes
from protocol.bodies import PAGE_RECORDS

WAITING = "310230"
TR_CODES = frozenset({WAITING})


def execute(ledger: Ledger, request: Request) -> Reply:
    fields = request.fields
    operator = text_field(fields, "operator")
    req_no = text_field(fields, "ogl_serial_no")
    begin = _number(fields, "begin_no") or 1
    count = _number(fields, "query_num") or PAGE_RECORDS
    if count > PAGE_RECORDS:
        raise Refused(codes.INVALID_FIELD, f"query_num: at most {PAGE_RECORDS}")
    found = authorization.waiting(ledger.conn, request.corp_no, operator=operator or None,
                                  req_no=req_no or None)
    page = found[begin - 1:begin - 1 + count]
    records = [{
        "req_no": item.req_no, "tr_code": item.tr_code, "maker": item.maker, "amt": item.amt,
        "item_count": item.item_count, "pay_acno": item.pay_acno, "rcv_acno": item.rcv_acno,
        "rcv_acname": item.rcv_acname, "summary": item.summary,
        "biz_date": item.biz_date, "submitted": item.submitted,
        **item.authorization.fields(),
        "approved_by": ",".join(item.authorization.approvers),
    } for item in page]
    more = begin - 1 + len(page) < len(found)
    who = f" for {operator}" if operator else ""
    return Reply(codes.OK.code, f"{len(found)} awaiting authorization{who}"[:60], "", {
        "total_num": len(found), "begin_no": begin if page else 0,
        "more_flag": "1" if more else "0", "records": records})


def _number(fields, name: str) -> int:
    value = fields.get(name)
    if value in (None, ""):
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Refused(codes.INVALID_FIELD, f"field {name}: a number")
    return value
