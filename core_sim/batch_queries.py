"""Reading batches and agreements: 310207 status, 310208 items (paged), 310210 payers.

Read-only like :mod:`core_sim.queries`: nothing is recorded, and an
enterprise sees only its own batches (another enterprise's req_no is "no such
batch") and the agreements of its own accounts (E004 otherwise).
"""

from __future__ import annotations

from core_sim import authorization, batches, instructions
from core_sim.ledger import Ledger
from core_sim.transaction import (
    Refused,
    Reply,
    Request,
    fit_message,
    required_field,
    text_field,
)
from protocol import codes
from protocol.bodies import PAGE_RECORDS

BATCH_STATUS = "310207"
BATCH_ITEMS = "310208"
AGREEMENT_LIST = "310210"
TR_CODES = frozenset({BATCH_STATUS, BATCH_ITEMS, AGREEMENT_LIST})

#: 310208's sucFlg for each item status; an item not executed yet is not final: P.
SUC_FLG = {"success": "F", "failed": "E", "processing": "P", "received": "P"}
_STATUSES_BY_FLAG = {"F": ("success",), "E": ("failed",), "P": ("processing", "received")}


def execute(ledger: Ledger, request: Request) -> Reply:
    return _HANDLERS[request.tr_code](ledger, request)


def batch_status(ledger: Ledger, request: Request) -> Reply:
    req_no = required_field(request.fields, "ogl_serial_no")
    conn = ledger.conn
    row = conn.execute(
        "SELECT b.id, b.tr_code, b.declared_count, b.declared_amt, i.serial_no, i.id"
        " FROM batches b JOIN instructions i ON i.id = b.instruction_id"
        " WHERE b.corp_no = ? AND b.req_no = ?", (request.corp_no, req_no)).fetchone()
    if row is None:
        fields = {"ogl_serial_no": req_no, "batch_tr_code": "", "sum": 0, "sum_amt": 0,
                  "state": batches.NO_SUCH_BATCH, "received": 0, "ok_count": 0, "ok_amt": 0,
                  "fail_count": 0, "fail_amt": 0, "pending_count": 0, "pending_amt": 0,
                  "err_code": "", "err_msg": "", **authorization.NO_APPROVAL}
        refused = conn.execute(
            "SELECT tr_code, amt, reply FROM instructions WHERE corp_no = ? AND req_no = ?"
            " AND tr_code IN (?, ?)", (request.corp_no, req_no, *sorted(batches.TR_CODES))
        ).fetchone()
        if refused is None:
            return Reply(codes.OK.code, f"no batch {req_no}", "", fields)
        # Refused as its first segment arrived (its account unknown, closed…): never
        # opened, but the bank did refuse it, and says so as for any refused batch.
        tr_code, amt, reply = refused
        answer = instructions.decode_reply(reply)
        fields.update(batch_tr_code=tr_code, sum_amt=amt or 0,
                      state=batches.STATE_NUMBER["refused"], err_code=answer.ret_code,
                      err_msg=answer.ret_msg)
        return Reply(codes.OK.code, "batch status", "", fields)
    batch_id, tr_code, declared_count, declared_amt, serial_no, instruction_id = row
    held = authorization.load(conn, instruction_id)
    fields = {"ogl_serial_no": req_no, "batch_tr_code": tr_code, "sum": declared_count,
              "sum_amt": declared_amt, **batches.status_fields(conn, batch_id),
              **authorization.report(conn, instruction_id)}
    message = "batch status" if held is None else fit_message(f"batch {held.describe()}")
    return Reply(codes.OK.code, message, serial_no, fields)


def _page(fields, default: int = PAGE_RECORDS) -> tuple[int, int]:
    begin = fields.get("begin_no") or 1
    wanted = fields.get("query_num") or default
    if not isinstance(begin, int) or not isinstance(wanted, int) or begin < 1:
        raise Refused(codes.INVALID_FIELD, "begin_no and query_num must be counts")
    if wanted > PAGE_RECORDS:
        raise Refused(codes.INVALID_FIELD, f"query_num must be at most {PAGE_RECORDS}")
    return begin, wanted


def batch_items(ledger: Ledger, request: Request) -> Reply:
    fields = request.fields
    req_no = required_field(fields, "ogl_serial_no")
    flag = text_field(fields, "status")
    if flag and flag not in _STATUSES_BY_FLAG:
        raise Refused(codes.INVALID_FIELD, f"status must be F, E, P or blank, got {flag!r}")
    begin, wanted = _page(fields)
    conn = ledger.conn
    found = conn.execute("SELECT id FROM batches WHERE corp_no = ? AND req_no = ?",
                         (request.corp_no, req_no)).fetchone()
    if found is None:
        raise Refused(codes.NO_SUCH_BATCH, f"no batch {req_no}")
    (batch_id,) = found
    select = ("SELECT seq, busino, acno, acname, amt, status, flw, err_code, err_msg"
              " FROM batch_items WHERE batch_id = ?")
    if flag:
        statuses = _STATUSES_BY_FLAG[flag]
        marks = ", ".join("?" * len(statuses))
        (total,) = conn.execute(
            f"SELECT count(*) FROM batch_items WHERE batch_id = ? AND status IN ({marks})",
            (batch_id, *statuses)).fetchone()
        rows = conn.execute(f"{select} AND status IN ({marks}) ORDER BY seq LIMIT ? OFFSET ?",
                            (batch_id, *statuses, wanted, begin - 1)).fetchall()
    else:
        # Unfiltered pages are ranges of seq: no OFFSET scan, however deep the page.
        (total,) = conn.execute("SELECT items FROM batches WHERE id = ?",
                                (batch_id,)).fetchone()
        rows = conn.execute(f"{select} AND seq >= ? ORDER BY seq LIMIT ?",
                            (batch_id, begin, wanted)).fetchall()
    records = [
        {"seq": seq, "busino": busino, "acno": acno, "acname": acname, "amt": amt,
         "suc_flg": SUC_FLG[status], "flw": flw, "err_code": err_code, "err_msg": err_msg}
        for seq, busino, acno, acname, amt, status, flw, err_code, err_msg in rows
    ]
    more = "1" if begin - 1 + len(records) < total else "0"
    return Reply(codes.OK.code, f"{len(records)} of {total} items", "",
                 {"ogl_serial_no": req_no, "total_num": total, "begin_no": begin,
                  "more_flag": more, "records": records})


def agreement_list(ledger: Ledger, request: Request) -> Reply:
    fields = request.fields
    acno = required_field(fields, "rcv_acno")
    begin, wanted = _page(fields)
    account = ledger.customer_account(acno)
    if account is None:
        raise Refused(codes.UNKNOWN_ACCOUNT, f"account {acno} not found")
    if account.corp_no != request.corp_no:
        raise Refused(codes.NOT_OWN_ACCOUNT, f"not this enterprise's account: {acno}")
    conn = ledger.conn
    (total,) = conn.execute("SELECT count(*) FROM agreements WHERE rcv_acno = ? AND corp_no = ?",
                            (acno, request.corp_no)).fetchone()
    rows = conn.execute(
        "SELECT g.agreement_no, g.payer_acno, g.payer_name, coalesce(a.bank_no, ''),"
        " coalesce(g.max_amt, 0), coalesce(g.valid_to, ''), g.status FROM agreements g"
        " LEFT JOIN accounts a ON a.id = (SELECT id FROM accounts WHERE acno = g.payer_acno"
        "   AND kind IN ('personal', 'external') ORDER BY kind = 'external' LIMIT 1)"
        " WHERE g.rcv_acno = ? AND g.corp_no = ? ORDER BY g.id LIMIT ? OFFSET ?",
        (acno, request.corp_no, wanted, begin - 1)).fetchall()
    records = [
        {"agreement_no": agreement_no, "payer_acno": payer_acno, "payer_name": payer_name,
         "payer_bank_no": bank_no, "max_amt": max_amt, "valid_to": valid_to,
         "status": "0" if status == "active" else "1"}
        for agreement_no, payer_acno, payer_name, bank_no, max_amt, valid_to, status in rows
    ]
    more = "1" if begin - 1 + len(records) < total else "0"
    return Reply(codes.OK.code, f"{len(records)} of {total} agreements", "",
                 {"rcv_acno": acno, "total_num": total, "begin_no": begin, "more_flag": more,
                  "records": records})


_HANDLERS = {
    BATCH_STATUS: batch_status,
    BATCH_ITEMS: batch_items,
    AGREEMENT_LIST: agreement_list,
}
