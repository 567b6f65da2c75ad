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
4. the payee (same bank): E003, E006, E005, E015, E007 (currency differs);
5. E009 the enterprise's single-transaction limit, E010 its daily limit
   (today's accepted outgoing transfers, processing ones included; a returned
   payment keeps counting, as it was accepted that day);
6. E008 insufficient *available* funds (balance less holds).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from core_sim import instructions, scenario
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


def execute(ledger: Ledger, request: Request, request_digest: bytes, now: datetime,
            rule: Callable[[], scenario.Fired | None] | None = None) -> Reply:
    """Refuse or execute a new instruction, and record it (with its reply) either way.

    ``rule``: asks the scenario rules, once the instruction is accepted, for
    one that changes how it clears. ``hold`` sends even a
    same-bank transfer through clearing in transit (processing until the
    rule's time is up); ``return`` and ``return_after_settle`` leave the
    payment to clearing as usual, where the rule acts (:mod:`core_sim.clearing`).
    """
    try:
        plan = _plan(ledger, request)
    except Refused as refusal:
        return refuse(ledger, request, request_digest, refusal, now)
    described = describe(request.tr_code, request.fields)

    fired = rule() if rule is not None else None
    serial_no = ledger.next_serial()
    payer, payee = plan.payer, plan.payee
    held = fired is not None and fired.then.action == "hold"
    if plan.route == SAME_BANK and held:
        assert payee is not None
        reply = Reply(codes.OK.code, "accepted, processing", serial_no, {"stat": "0"})
        status, kind = "processing", "interbank_debit"
        legs = (
            Leg(payer.id, "D", plan.amt, payee.acno, payee.name),
            Leg(ledger.clearing_in_transit_id(), "C", plan.amt, payer.acno, payer.name),
        )
    elif plan.route == SAME_BANK:
        assert payee is not None
        reply = Reply(codes.OK.code, "transfer completed", serial_no, {"stat": "1"})
        status, kind = "success", "transfer"
        legs = (
            Leg(payer.id, "D", plan.amt, payee.acno, payee.name),
            Leg(payee.id, "C", plan.amt, payer.acno, payer.name),
        )
    else:
        when = "next clearing run" if plan.urgent else "next batch clearing"
        fields = {"stat": "0"} if request.tr_code == TRANSFER else {"tran_status": "34"}
        reply = Reply(codes.OK.code, f"accepted, processing: settles at the {when}",
                      serial_no, fields)
        status, kind = "processing", "interbank_debit"
        legs = (
            Leg(payer.id, "D", plan.amt, described.rcv_acno, described.rcv_acname),
            Leg(ledger.clearing_in_transit_id(), "C", plan.amt, payer.acno, payer.name),
        )
    instruction_id = instructions.record(
        ledger.conn, request, request_digest, described, status=status, reply=reply,
        pay_bank_no=ledger.bank_no, biz_date=ledger.biz, now=now,
    )
    ledger.post(serial_no=serial_no, kind=kind, legs=legs, now=now, summary=plan.summary,
                instruction_id=instruction_id)
    ledger.add_daily_usage(request.corp_no, plan.amt)
    if fired is not None and fired.then.action in scenario.TRANSFER_ACTIONS:
        scenario.leave_pending(ledger.conn, instruction_id, fired, now)
    return reply


def refuse(ledger: Ledger, request: Request, request_digest: bytes, refusal: Refused,
           now: datetime) -> Reply:
    """Record a refused instruction with its reply (a retry is answered the same)."""
    reply = refusal.reply
    instructions.record(
        ledger.conn, request, request_digest, describe(request.tr_code, request.fields),
        status="failed", reply=reply, pay_bank_no=ledger.bank_no, biz_date=ledger.biz, now=now,
    )
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


def _plan(ledger: Ledger, request: Request) -> _Plan:
    fields = request.fields
    if request.tr_code == INTER_BANK_PAYMENT:
        summary = text_field(fields, "summary") or text_field(fields, "purpose")
        return _plan_inter_bank(ledger, request, bank_field="partyid",
                                urgent=_flag(fields, "urgent_flag") == "1", summary=summary)
    if _flag(fields, "bank_flag") == "1":
        return _plan_inter_bank(ledger, request, bank_field="rcv_bank_no", urgent=True,
                                summary=text_field(fields, "summary"))
    return _plan_same_bank(ledger, request)


def _plan_same_bank(ledger: Ledger, request: Request) -> _Plan:
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
    _check_limits_and_funds(ledger, request.corp_no, payer, amt)
    return _Plan(SAME_BANK, payer, payee, amt, urgent=False, summary=summary)


def _plan_inter_bank(ledger: Ledger, request: Request, *, bank_field: str, urgent: bool,
                     summary: str) -> _Plan:
    fields = request.fields
    pay_acno = required_field(fields, "pay_acno")
    required_field(fields, "rcv_acno")
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
    _check_limits_and_funds(ledger, request.corp_no, payer, amt)
    return _Plan(INTER_BANK, payer, None, amt, urgent=urgent, summary=summary)


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


def _check_limits_and_funds(ledger: Ledger, corp_no: str, payer: AccountRow, amt: int) -> None:
    enterprise = ledger.enterprise(corp_no)
    if enterprise is not None:
        if enterprise.single_limit is not None and amt > enterprise.single_limit:
            raise Refused(
                codes.SINGLE_LIMIT,
                f"amount {format_yuan(amt)} over single limit "
                f"{format_yuan(enterprise.single_limit)}",
            )
        if enterprise.daily_limit is not None:
            used = ledger.daily_usage(corp_no)
            if used + amt > enterprise.daily_limit:
                raise Refused(
                    codes.DAILY_LIMIT,
                    f"daily limit {format_yuan(enterprise.daily_limit)}: used "
                    f"{format_yuan(used)}, requested {format_yuan(amt)}",
                )
    if payer.available < amt:
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
