"""Read-only transactions: balances (310101), details (310201, 310301), status (310204).

Queries change nothing and leave no record; an enterprise sees only its own
accounts (another enterprise's account is E004, an account this bank does not
hold E003) and its own instructions (another enterprise's req_no is "no such
record"). Details are postings of one account, oldest first, as the customer
sees them: ``dc_flag`` D is money out, ``balance`` the balance after the
posting. The ``req_no`` and ``cert_no`` of an entry are shown only to the
enterprise that gave the instruction — a payee does not learn the payer's.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

from core_sim import authorization, instructions
from core_sim.ledger import AccountRow, Ledger
from core_sim.transaction import (
    MESSAGE_WIDTH,
    Refused,
    Reply,
    Request,
    fit_message,
    required_field,
    text_field,
)
from protocol import codes
from protocol.bodies import BATCH_TR_CODES

BALANCE = "310101"
TODAY_DETAILS = "310201"
HISTORY = "310301"
STATUS = "310204"
TR_CODES = frozenset({BALANCE, TODAY_DETAILS, HISTORY, STATUS})

MAX_RANGE_DAYS = 366
DEFAULT_PAGE = 100
MAX_PAGE = 500

_DETAIL_SELECT = (
    "SELECT p.biz_date, e.tr_time, e.serial_no, p.side, p.amount, p.balance_after,"
    " p.opp_acno, p.opp_acname, e.summary, i.corp_no, i.req_no, i.cert_no"
    " FROM postings p JOIN entries e ON e.id = p.entry_id"
    " LEFT JOIN instructions i ON i.id = e.instruction_id"
)


def execute(ledger: Ledger, request: Request) -> Reply:
    handler = _HANDLERS[request.tr_code]
    return handler(ledger, request)


def balance(ledger: Ledger, request: Request) -> Reply:
    acno = text_field(request.fields, "acno")
    if acno:
        accounts = [_own_account(ledger, request, acno)]
    else:
        accounts = ledger.customer_accounts_of(request.corp_no)
    records = [
        {
            "acname": account.name,
            "acno": account.acno,
            "cur_code": account.currency,
            "balance": account.balance,
            "avail_balance": account.available,
            "open_date": account.opened,
            "acc_type": "01",  # current account: the only kind the seed opens
            "open_bank": ledger.bank_name,
            "err_msg": "",
            "succ_flag": "0",
        }
        for account in accounts
    ]
    return Reply(codes.OK.code, f"{len(records)} account(s)", "", {"records": records})


def today_details(ledger: Ledger, request: Request) -> Reply:
    acno = required_field(request.fields, "acno")
    account = _own_account(ledger, request, acno)
    rows = ledger.conn.execute(
        _DETAIL_SELECT + " WHERE p.account_id = ? AND p.biz_date = ? ORDER BY p.id",
        (account.id, ledger.biz),
    )
    records = [_entry(row, request.corp_no) for row in rows]
    return Reply(codes.OK.code, f"{len(records)} entries today", "",
                 {"acno": acno, "records": records})


def history(ledger: Ledger, request: Request) -> Reply:
    fields = request.fields
    acno = required_field(fields, "acno")
    start = _date(fields, "start_date")
    end = _date(fields, "end_date")
    if start > end:
        raise Refused(codes.INVALID_DATE_RANGE, f"start_date {start:%Y%m%d} after end_date")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise Refused(codes.INVALID_DATE_RANGE,
                      f"date range longer than {MAX_RANGE_DAYS} days")
    begin_no = _count(fields, "begin_no") or 1
    query_num = min(_count(fields, "query_num") or DEFAULT_PAGE, MAX_PAGE)
    account = _own_account(ledger, request, acno)
    where = " WHERE p.account_id = ? AND p.biz_date BETWEEN ? AND ?"
    params = (account.id, f"{start:%Y%m%d}", f"{end:%Y%m%d}")
    total = ledger.conn.execute("SELECT COUNT(*) FROM postings p" + where, params).fetchone()[0]
    rows = ledger.conn.execute(
        _DETAIL_SELECT + where + " ORDER BY p.biz_date, p.id LIMIT ? OFFSET ?",
        (*params, query_num, begin_no - 1),
    )
    records = [_entry(row, request.corp_no) for row in rows]
    more = begin_no - 1 + len(records) < total
    return Reply(
        codes.OK.code,
        f"{len(records)} of {total} entries",
        "",
        {"acno": acno, "total_num": total, "begin_no": begin_no,
         "more_flag": "1" if more else "0", "records": records},
    )


#: 310204 ``query_flag``: what ``ogl_serial_no`` is. An integration that sent an
#: empty req_no keeps only the bank serial of the reply, and the default finds
#: that too; 2 and 3 choose one meaning explicitly, for an enterprise whose own
#: req_nos could look like this bank's serials (business date + 8 digits).
BY_REQ_NO_THEN_SERIAL = "1"
BY_SERIAL = "2"
BY_REQ_NO = "3"
QUERY_FLAGS = (BY_REQ_NO_THEN_SERIAL, BY_SERIAL, BY_REQ_NO)


def status(ledger: Ledger, request: Request) -> Reply:
    fields = request.fields
    query_flag = text_field(fields, "query_flag") or BY_REQ_NO_THEN_SERIAL
    if query_flag not in QUERY_FLAGS:
        raise Refused(codes.INVALID_FIELD,
                      f"field query_flag: 1, 2 or 3, got {query_flag!r}")
    key = required_field(fields, "ogl_serial_no")
    found, by = None, "req_no"
    if query_flag != BY_SERIAL:
        found = instructions.find(ledger.conn, request.corp_no, key)
    if found is None and query_flag != BY_REQ_NO:
        found, by = instructions.find_by_serial(ledger.conn, request.corp_no, key), "serial"
    if found is None:
        what = {BY_REQ_NO_THEN_SERIAL: "req_no or serial", BY_SERIAL: "serial",
                BY_REQ_NO: "req_no"}[query_flag]
        body = {"ogl_serial_no": key, "stat": instructions.STAT_NO_SUCH_RECORD,
                "err_msg": "no such record", "pay_acno": "", "pay_bank_no": "",
                "rcv_acno": "", "rcv_bank_no": "", "amt": 0, "cert_no": "",
                **authorization.NO_APPROVAL}
        return Reply(codes.OK.code, f"no such {what}: {key}", "", body)
    body = {
        "ogl_serial_no": key,
        "stat": instructions.STAT_BY_STATUS[found.status],
        "err_msg": found.err_msg,
        "pay_acno": found.pay_acno,
        "pay_bank_no": found.pay_bank_no,
        "rcv_acno": found.rcv_acno,
        "rcv_bank_no": found.rcv_bank_no or (
            ledger.bank_no if found.route == "same_bank" else ""),
        "amt": found.amt or 0,
        "cert_no": found.cert_no,
        **authorization.report(ledger.conn, found.id),
    }
    if found.tr_code in BATCH_TR_CODES:
        # A batch's items have results of their own: say how many went which way,
        # and where to read them, rather than one status that hides failed items.
        counts = ledger.conn.execute(
            "SELECT ok_count, fail_count, pending_count FROM batches WHERE instruction_id = ?",
            (found.id,)).fetchone()
        held = authorization.load(ledger.conn, found.id)
        if held is not None and found.status in _HELD_OR_CLOSED:
            body["err_msg"] = fit_message(held.describe())
        elif counts is not None:
            body["err_msg"] = fit_message(f"batch: {counts[0]} ok, {counts[1]} failed, "
                                          f"{counts[2]} processing; items: 310208")
        return Reply(codes.OK.code, f"batch {found.status}: see 310207, items 310208", "",
                     body)
    # Found by serial, the message names the instruction's req_no: the body has
    # no field for it, and an ERP that kept only the serial may want it back.
    held = authorization.load(ledger.conn, found.id)
    message = f"instruction {found.status}"
    if held is not None and found.status in _HELD_OR_CLOSED:
        message = body["err_msg"] = fit_message(held.describe())
    if by == "serial":
        message = f"{message}, req_no {found.req_no}"
        if len(message) > MESSAGE_WIDTH:  # ASCII: one byte a character
            message = f"{found.status}, req_no {found.req_no}"
    return Reply(codes.OK.code, message, "", body)


#: The statuses an authorization explains better than the status's name.
_HELD_OR_CLOSED = frozenset({"awaiting", "cancelled", "expired"})

_HANDLERS = {BALANCE: balance, TODAY_DETAILS: today_details, HISTORY: history, STATUS: status}


# -- helpers ---------------------------------------------------------------------------


def _entry(row: tuple, corp_no: str) -> dict:
    (biz_date, tr_time, serial_no, side, amount, balance_after, opp_acno, opp_acname, summary,
     owner, req_no, cert_no) = row
    mine = owner == corp_no
    return {
        "tr_date": biz_date,
        "tr_time": tr_time,
        "serial_no": serial_no,
        "dc_flag": side,
        "amt": amount,
        "balance": balance_after,
        "opp_acno": opp_acno,
        "opp_acname": opp_acname,
        "summary": summary,
        "req_no": req_no if mine else "",
        "cert_no": cert_no if mine else "",
    }


def _own_account(ledger: Ledger, request: Request, acno: str) -> AccountRow:
    account = ledger.customer_account(acno)
    if account is None:
        raise Refused(codes.UNKNOWN_ACCOUNT, f"account {acno} not found")
    if account.corp_no != request.corp_no:
        raise Refused(codes.NOT_OWN_ACCOUNT,
                      f"not this enterprise's account: {acno}")
    return account


def _date(fields: Mapping[str, object], name: str) -> date:
    value = fields.get(name, "")
    if value in ("", None):
        raise Refused(codes.INVALID_FIELD, f"missing field {name}")
    text = str(value)
    try:
        if len(text) != 8 or not text.isdigit():
            raise ValueError(text)
        return datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        raise Refused(codes.INVALID_DATE_RANGE,
                      f"field {name}: {text!r} is not a date (YYYYMMDD)") from None


def _count(fields: Mapping[str, object], name: str) -> int:
    value = fields.get(name, 0)
    if value in ("", None):
        return 0
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Refused(codes.INVALID_FIELD, f"field {name}: expected a non-negative number")
    return value
