"""Money-moving transactions: same-bank transfers and inter-bank payments.

``210201`` with ``bank_flag=0`` moves money between two accounts of this bank
in one entry, at once (reply ``stat=1``). ``210224``, and ``210201`` with
``bank_flag=1``, are inter-bank payments: the payer is debited into clearing
in transit at once (reply ``tran_status=34`` / ``stat=0``, processing) and a
later clearing run settles or returns the payment (:mod:`core_sim.clearing`).
A 210201 inter-bank transfer clears as urgent (the ERP asked for a transfer,
not a batch payment); a 210224 payment is urgent only with ``urgent_flag=1``.

Refusals are checked in this order, and the first one found is answered, with
its own code and a message naming the field, account or amount:

1. E001 a missing or malformed field (named), E002 an amount that is not positive;
2. E012 payer and payee the same account; E014 the wrong bank for the route
   (a same-bank transfer to another bank's number, an inter-bank payment to
   this bank);
3. the payer: E003 unknown, E004 not the enterprise's, E006 closed,
   E005 frozen, E015 name does not match, E007 currency (``cur_code`` given
   and different, or not CNY for an inter-bank payment);
4. E027 the payer is a directed account and ``rcv_acno`` is not one of its
   payees;
5. the payee (same bank): E003, E006, E005, E015, E007 (currency differs).
   A same-bank payee is an enterprise's account or an individual's
   (personal) account at this bank;
6. the enterprise's limits (:mod:`core_sim.limits`): E009 single, E010
   daily, E028 monthly, then for a payment to an individual (公转私: a
   personal account here, or a UnionPay card number at another bank) E029
   single, E030 daily, E031 monthly. Daily and monthly usage is what was
   accepted in the business day or month, processing payments included (a
   returned payment keeps counting, as it was accepted);
7. E008 insufficient *available* funds (balance less holds) — for an
   instruction that waits for approvals, only when its last level approves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from core_sim import audit, authorization, instructions, limits, scenario
from core_sim.instructions import Described
from core_sim.ledger import CLEARING_CURRENCY, AccountRow, Ledger, Leg
from core_sim.transaction import Refused, Reply, Request, required_field, text_field
from protocol import codes
from protocol.money import MAX_FEN, format_yuan

SAME_BANK = "same_bank"
INTER_BANK = "inter_bank"

TRANSFER = "210201"
INTER_BANK_PAYMENT = "210224"
TR_CODES = frozenset({TRANSFER, INTER_BANK_PAYMENT})


@dataclass(frozen=True, slots=True)
class _Plan:
    route: str
    payer: AccountRow
    payee: AccountRow | None  # same bank only
    amt: int
    urgent: bool
    summary: str
    to_personal: bool = False  # to an individual (公转私), see core_sim.limits


def execute(ledger: Ledger, request: Request, request_digest: bytes, now: datetime,
            rule: Callable[[], scenario.Fired | None] | None = None) -> Reply:
    """Refuse, hold or execute a new instruction, and record it (with its reply) either way.

    An instruction whose payer account's flow needs approvals is checked as
    any other except for funds, then held (A001, :mod:`core_sim.authorization`);
    :func:`execute_authorized` executes it when its last level approves.

    ``rule``: asks the scenario rules, once the instruction is accepted, for
    one that changes how it clears. ``hold`` sends even a
    same-bank transfer through clearing in transit (processing until the
    rule's time is up); ``return`` and ``return_after_settle`` leave the
    payment to clearing as usual, where the rule acts (:mod:`core_sim.clearing`).
    """
    needed = authorization.levels_needed(ledger.conn, request.corp_no, request.tr_code,
                                         request.fields)
    try:
        plan = _plan(ledger, request, check_funds=not needed.levels)
    except Refused as refusal:
        return refuse(ledger, request, request_digest, refusal, now)
    described = describe(request.tr_code, request.fields)
    if needed.levels:
        return _hold(ledger, request, request_digest, described, needed, now)

    fired = rule() if rule is not None else None
    reply, status, kind, legs = _movement(ledger, request, plan, described, fired)
    instruction_id = instructions.record(
        ledger.conn, request, request_digest, described, status=status, reply=reply,
        pay_bank_no=ledger.bank_no, biz_date=ledger.biz, now=now,
    )
    ledger.post(serial_no=reply.serial_no, kind=kind, legs=legs, now=now, summary=plan.summary,
                instruction_id=instruction_id)
    limits.record(ledger, request.corp_no, plan.amt, to_personal=plan.to_personal)
    if fired is not None and fired.then.action in scenario.TRANSFER_ACTIONS:
        scenario.leave_pending(ledger.conn, instruction_id, fired, now)
    audit.record(ledger.conn, at=now, biz_date=ledger.biz, corp_no=request.corp_no,
                 event="instruction", tr_code=request.tr_code, req_no=request.req_no,
                 operator=request.user_no, amt=plan.amt, result=status,
                 detail=reply.ret_msg)
    return reply


def execute_authorized(ledger: Ledger, instruction_id: int, request: Request,
                       now: datetime) -> tuple[str, str]:
    """Execute a held instruction now that its last level approved: (status, err_msg).

    Judged again in full, funds included, against the accounts as they are
    now; a refusal leaves it failed (nothing moved) with the reason. Its
    stored reply stays the A001 it was answered with: a retry of its req_no is
    answered as the first time, and 310204 tells how it ended.
    """
    conn = ledger.conn
    try:
        plan = _plan(ledger, request)
    except Refused as refusal:
        instructions.set_status(conn, instruction_id, "failed", refusal.message, now)
        return "failed", refusal.message
    described = describe(request.tr_code, request.fields)
    reply, status, kind, legs = _movement(ledger, request, plan, described, None)
    conn.execute("UPDATE instructions SET status = ?, serial_no = ?, err_msg = '',"
                 " updated_at = ? WHERE id = ?",
                 (status, reply.serial_no, now.isoformat(), instruction_id))
    ledger.post(serial_no=reply.serial_no, kind=kind, legs=legs, now=now, summary=plan.summary,
                instruction_id=instruction_id)
    limits.record(ledger, request.corp_no, plan.amt, to_personal=plan.to_personal)
    return status, ""


def _hold(ledger: Ledger, request: Request, request_digest: bytes, described: Described,
          needed: authorization.Needed, now: datetime) -> Reply:
    """Record the instruction as awaiting authorization and answer A001."""
    fields = {"stat": "0"} if request.tr_code == TRANSFER else {"tran_status": "34"}
    levels = len(needed.levels)
    reply = Reply(codes.AWAITING_AUTHORIZATION.code,
                  f"awaiting authorization: level 1 of {levels} "
                  f"({', '.join(needed.levels[0])})"[:60], "", fields)
    instruction_id = instructions.record(
        ledger.conn, request, request_digest, described, status="awaiting", reply=reply,
        pay_bank_no=ledger.bank_no, biz_date=ledger.biz, now=now,
    )
    authorization.hold(ledger.conn, instruction_id, request, needed, amt=described.amt,
                       biz_date=ledger.biz, now=now)
    return reply


def _movement(ledger: Ledger, request: Request, plan: _Plan, described: Described,
              fired: scenario.Fired | None) -> tuple[Reply, str, str, tuple[Leg, Leg]]:
    """The reply, status, entry kind and legs of executing ``plan`` now."""
    serial_no = ledger.next_serial()
    payer, payee = plan.payer, plan.payee
    held = fired is not None and fired.then.action == "hold"
    if plan.route == SAME_BANK and held:
        assert payee is not None
        reply = Reply(codes.OK.code, "accepted, processing", serial_no, {"stat": "0"})
        return reply, "processing", "interbank_debit", (
            Leg(payer.id, "D", plan.amt, payee.acno, payee.name),
            Leg(ledger.clearing_in_transit_id(), "C", plan.amt, payer.acno, payer.name),
        )
    if plan.route == SAME_BANK:
        assert payee is not None
        reply = Reply(codes.OK.code, "transfer completed", serial_no, {"stat": "1"})
        return reply, "success", "transfer", (
            Leg(payer.id, "D", plan.amt, payee.acno, payee.name),
            Leg(payee.id, "C", plan.amt, payer.acno, payer.name),
        )
    when = "next clearing run" if plan.urgent else "next batch clearing"
    fields = {"stat": "0"} if request.tr_code == TRANSFER else {"tran_status": "34"}
    reply = Reply(codes.OK.code, f"accepted, processing: settles at the {when}",
                  serial_no, fields)
    return reply, "processing", "interbank_debit", (
        Leg(payer.id, "D", plan.amt, described.rcv_acno, described.rcv_acname),
        Leg(ledger.clearing_in_transit_id(), "C", plan.amt, payer.acno, payer.name),
    )


def refuse(ledger: Ledger, request: Request, request_digest: bytes, refusal: Refused,
           now: datetime) -> Reply:
    """Record a refused instruction with its reply (a retry is answered the same)."""
    reply = refusal.reply
    described = describe(request.tr_code, request.fields)
    instructions.record(
        ledger.conn, request, request_digest, described,
        status="failed", reply=reply, pay_bank_no=ledger.bank_no, biz_date=ledger.biz, now=now,
    )
    audit.record(ledger.conn, at=now, biz_date=ledger.biz, corp_no=request.corp_no,
                 event="refusal", tr_code=request.tr_code, req_no=request.req_no,
                 operator=request.user_no, amt=described.amt, result=refusal.code.code,
                 detail=refusal.message)
    return reply


def describe(tr_code: str, fields: Mapping[str, object]) -> Described:
    """Read what the instruction says without judging it (for the record of a refusal)."""

    def text(name: str) -> str:
        value = fields.get(name)
        return "" if value is None else str(value)

    amt = fields.get("amt")
    amt = amt if isinstance(amt, int) and not isinstance(amt, bool) else None
    if tr_code == INTER_BANK_PAYMENT:
        route, urgent, rcv_bank_no = INTER_BANK, text("urgent_flag") == "1", text("partyid")
    else:
        flag = text("bank_flag")
        route = {"": SAME_BANK, "0": SAME_BANK, "1": INTER_BANK}.get(flag)
        urgent, rcv_bank_no = True, text("rcv_bank_no")
    return Described(
        route=route, urgent=urgent, pay_acno=text("pay_acno"), rcv_acno=text("rcv_acno"),
        rcv_acname=text("rcv_acname"), rcv_bank_no=rcv_bank_no, amt=amt,
        cert_no=text("cert_no"),
    )


# -- checks --------------------------------------------------------------------------


def _plan(ledger: Ledger, request: Request, *, check_funds: bool = True) -> _Plan:
    """Judge the instruction (the refusals in the module's order); ``check_funds``
    False skips only insufficient funds (E008), for one that waits for approvals."""
    fields = request.fields
    if request.tr_code == INTER_BANK_PAYMENT:
        summary = text_field(fields, "summary") or text_field(fields, "purpose")
        return _plan_inter_bank(ledger, request, bank_field="partyid",
                                urgent=_flag(fields, "urgent_flag") == "1", summary=summary,
                                check_funds=check_funds)
    if _flag(fields, "bank_flag") == "1":
        return _plan_inter_bank(ledger, request, bank_field="rcv_bank_no", urgent=True,
                                summary=text_field(fields, "summary"), check_funds=check_funds)
    return _plan_same_bank(ledger, request, check_funds=check_funds)


def _plan_same_bank(ledger: Ledger, request: Request, *, check_funds: bool = True) -> _Plan:
    fields = request.fields
    pay_acno = required_field(fields, "pay_acno")
    rcv_acno = required_field(fields, "rcv_acno")
    amt = _amount(fields)
    _flag(fields, "area_flag")
    cur_code = text_field(fields, "cur_code")
    rcv_bank_no = text_field(fields, "rcv_bank_no")
    summary = text_field(fields, "summary")
    if pay_acno == rcv_acno:
        raise Refused(codes.SAME_ACCOUNT, f"payer and payee are the same account {pay_acno}")
    if rcv_bank_no and rcv_bank_no != ledger.bank_no:
        raise Refused(codes.WRONG_BANK,
                      f"rcv_bank_no {rcv_bank_no} is not this bank; use bank_flag=1")
    # Both accounts in one read; the payer is still judged before the payee.
    payer, payee = ledger.customer_account_pair(pay_acno, rcv_acno)
    payer = _payer(payer, request, pay_acno, cur_code)
    limits.check_directed(ledger, pay_acno, rcv_acno)
    if payee is None:
        payee = _personal_account(ledger, rcv_acno)
    if payee is None:
        raise Refused(codes.UNKNOWN_ACCOUNT, f"payee account {rcv_acno} not found at this bank")
    _check_status(payee, "payee")
    rcv_acname = text_field(fields, "rcv_acname")
    if rcv_acname and rcv_acname != payee.name:
        raise Refused(codes.ACCOUNT_NAME_MISMATCH,
                      "rcv_acname does not match the payee account's name")
    if payee.currency != payer.currency:
        raise Refused(codes.CURRENCY_MISMATCH,
                      f"payee account is {payee.currency}, payer account {payer.currency}")
    to_personal = payee.kind == "personal"
    _check_limits_and_funds(ledger, request.corp_no, payer, amt, to_personal=to_personal,
                            check_funds=check_funds)
    return _Plan(SAME_BANK, payer, payee, amt, urgent=False, summary=summary,
                 to_personal=to_personal)


def _personal_account(ledger: Ledger, acno: str) -> AccountRow | None:
    """An individual's account at this bank with number ``acno`` (a 公转私 payee), or None."""
    row = ledger.conn.execute(
        "SELECT id, kind, acno, bank_no, name, currency, corp_no, status, hold, balance, opened"
        " FROM accounts WHERE bank_no = ? AND acno = ? AND kind = 'personal'",
        (ledger.bank_no, acno)).fetchone()
    return None if row is None else AccountRow(*row)


def _plan_inter_bank(ledger: Ledger, request: Request, *, bank_field: str, urgent: bool,
                     summary: str, check_funds: bool = True) -> _Plan:
    fields = request.fields
    pay_acno = required_field(fields, "pay_acno")
    rcv_acno = required_field(fields, "rcv_acno")
    bank_no = required_field(fields, bank_field)
    if len(bank_no) != 12 or not bank_no.isascii() or not bank_no.isdigit():
        raise Refused(codes.INVALID_FIELD, f"field {bank_field}: expected a 12-digit bank number")
    amt = _amount(fields)
    if bank_no == ledger.bank_no:
        raise Refused(codes.WRONG_BANK,
                      f"{bank_field} {bank_no} is this bank; use a same-bank transfer")
    payer = _payer(ledger.customer_account(pay_acno), request, pay_acno,
                   text_field(fields, "cur_code"))
    if payer.currency != CLEARING_CURRENCY:
        raise Refused(codes.CURRENCY_MISMATCH,
                      f"inter-bank payments clear in CNY only, account is {payer.currency}")
    limits.check_directed(ledger, pay_acno, rcv_acno)
    to_personal = limits.is_personal_card(rcv_acno)
    _check_limits_and_funds(ledger, request.corp_no, payer, amt, to_personal=to_personal,
                            check_funds=check_funds)
    return _Plan(INTER_BANK, payer, None, amt, urgent=urgent, summary=summary,
                 to_personal=to_personal)


def _payer(payer: AccountRow | None, request: Request, pay_acno: str,
           cur_code: str) -> AccountRow:
    """Judge the payer account ``pay_acno`` (``payer``: its row, None when not found)."""
    if payer is None:
        raise Refused(codes.UNKNOWN_ACCOUNT, f"payer account {pay_acno} not found")
    if payer.corp_no != request.corp_no:
        raise Refused(codes.NOT_OWN_ACCOUNT,
                      f"not this enterprise's account: {pay_acno}")
    _check_status(payer, "payer")
    pay_acname = text_field(request.fields, "pay_acname")
    if pay_acname and pay_acname != payer.name:
        raise Refused(codes.ACCOUNT_NAME_MISMATCH,
                      "pay_acname does not match the payer account's name")
    if cur_code and cur_code != payer.currency:
        raise Refused(codes.CURRENCY_MISMATCH,
                      f"cur_code {cur_code} but account {pay_acno} is {payer.currency}")
    return payer


def _check_status(account: AccountRow, role: str) -> None:
    if account.status == "closed":
        raise Refused(codes.ACCOUNT_CLOSED, f"{role} account {account.acno} is closed")
    if account.status == "frozen":
        raise Refused(codes.ACCOUNT_FROZEN, f"{role} account {account.acno} is frozen")


def _check_limits_and_funds(ledger: Ledger, corp_no: str, payer: AccountRow, amt: int, *,
                            to_personal: bool, check_funds: bool = True) -> None:
    limits.check(ledger, corp_no, amt, to_personal=to_personal)
    if check_funds and payer.available < amt:
        raise Refused(
            codes.INSUFFICIENT_FUNDS,
            f"insufficient funds: available {format_yuan(payer.available)}, "
            f"requested {format_yuan(amt)}",
        )


# -- fields --------------------------------------------------------------------------


def _flag(fields: Mapping[str, object], name: str) -> str:
    value = text_field(fields, name) or "0"
    if value not in ("0", "1"):
        raise Refused(codes.INVALID_FIELD, f"field {name}: expected 0 or 1, got {value!r}")
    return value


def _amount(fields: Mapping[str, object]) -> int:
    value = fields.get("amt")
    if value is None or value == "":
        raise Refused(codes.INVALID_FIELD, "missing field amt")
    if isinstance(value, bool) or not isinstance(value, int):
        raise Refused(codes.INVALID_FIELD, "field amt: expected an integer amount in fen")
    if value <= 0:
        raise Refused(codes.INVALID_AMOUNT, f"amount must be positive, got {format_yuan(value)}")
    if value > MAX_FEN:
        raise Refused(codes.INVALID_AMOUNT, "amount exceeds the N14.2 maximum")
    return value
