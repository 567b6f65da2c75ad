"""An enterprise's payment controls at the bank: directed payees and limits.

**Directed payees** (定向汇款 / 封闭转账). An account listed in
``directed_payees`` (:mod:`core_sim.controls`) pays only the account numbers
listed for it: any other payee is refused with E027, a transfer (210201 same
bank or ``bank_flag=1``, 210224) as a whole, a batch payment (330002) item by
item. The payee is compared by account number only.

**Limits**, each with its own code, all per enterprise, in the order they are
checked (the first one exceeded is answered):

1. E009 single: the amount above ``single_limit``;
2. E010 daily: today's usage plus the amount above ``daily_limit``;
3. E028 monthly: this month's usage plus the amount above ``monthly_limit``;
4. for a payment to an individual (公转私) only: E029 single above
   ``personal_single``, E030 daily above ``personal_daily``, E031 monthly
   above ``personal_monthly``.

"Today" is the bank's business date, "this month" its calendar month
(``YYYY-MM`` of the business date): usage starts again from nothing when end of
day moves the date into a new day or month. A limit not set (None) is no limit.

**Usage counts what executed**: :func:`record` adds an amount when an
instruction or a batch item is accepted — a same-bank transfer, an inter-bank
payment as soon as it is accepted into clearing (a payment returned later
keeps counting: it was executed that day), an instruction that waited for
approvals when its last level approves, a batch payment item that succeeded.
A refused instruction or a failed item never counts. Today's total of all
payments is ``daily_usage`` (kept since before the other limits); the month's
total, and the day's and month's totals to individuals, are ``limit_usage``
rows (scope ``all`` or ``personal``; period ``YYYY-MM`` or ``YYYY-MM-DD``).
Usage is recorded whether or not a limit is set, so a limit set later counts
from what already executed in its period.

**What is to an individual (公转私)**:

* a batch payment (330002) item, always: it pays personal accounts at this bank;
* a same-bank transfer whose payee is a personal account (kind ``personal``);
* an inter-bank payment whose payee account number looks like a UnionPay
  personal card: 16 to 19 digits beginning with ``62``
  (:func:`is_personal_card`). The bank cannot see another bank's account
  types; enterprise accounts at Chinese banks are not numbered in that
  range, individuals' bank cards are. A passbook or other personal account
  numbered otherwise is not recognized, and counts as to an enterprise.

**Batches**: a 330002 item is judged against every limit above with its own
amount (E009, E029 per item) and the usage so far — the enterprise's other
payments and this batch's earlier executed items —, in batch order; an item
that would exceed a limit fails with that limit's code and the later items
go on (a smaller one may still fit). A collection (330010) brings money in:
no limit applies to it and it is not counted.
"""

from __future__ import annotations

from dataclasses import dataclass

from core_sim.ledger import Ledger
from core_sim.ledger_types import EnterpriseRow
from core_sim.transaction import Refused
from protocol import codes
from protocol.codes import ReturnCode
from protocol.money import format_yuan

ALL, PERSONAL = "all", "personal"

#: A payee account at another bank is taken as an individual's when it has one
#: of these lengths, only digits, and this prefix (UnionPay personal cards).
PERSONAL_CARD_LENGTHS = range(16, 20)
PERSONAL_CARD_PREFIX = "62"


# -- to an individual (公转私) -------------------------------------------------------------


def is_personal_card(acno: str) -> bool:
    """Whether an account number at another bank is taken as an individual's card."""
    return (len(acno) in PERSONAL_CARD_LENGTHS and acno.startswith(PERSONAL_CARD_PREFIX)
            and acno.isascii() and acno.isdigit())


# -- directed payees -----------------------------------------------------------------------


def directed_refusal(payee_acno: str, role: str = "payee") -> tuple[ReturnCode, str]:
    """The E027 code and message for ``payee_acno``, not a payee of the paying account."""
    return codes.DIRECTED_PAYEE, f"{role} {payee_acno} not on the payer's directed list"


def check_directed(ledger: Ledger, pay_acno: str, rcv_acno: str) -> None:
    """Refuse (E027) a payee that directed account ``pay_acno`` may not pay."""
    directed, listed = ledger.conn.execute(
        "SELECT EXISTS (SELECT 1 FROM directed_payees WHERE acno = ?),"
        " EXISTS (SELECT 1 FROM directed_payees WHERE acno = ? AND payee_acno = ?)",
        (pay_acno, pay_acno, rcv_acno)).fetchone()
    if directed and not listed:
        raise Refused(*directed_refusal(rcv_acno))


def is_directed(ledger: Ledger, acno: str) -> bool:
    """Whether account ``acno`` is a directed account (pays only its listed payees)."""
    return ledger.conn.execute(
        "SELECT EXISTS (SELECT 1 FROM directed_payees WHERE acno = ?)", (acno,)).fetchone()[0] == 1


# -- limits ---------------------------------------------------------------------------


@dataclass(slots=True)
class Usage:
    """What an enterprise has used of its limits so far, in fen."""

    day: int = 0
    month: int = 0
    personal_day: int = 0
    personal_month: int = 0


def _needs_periods(enterprise: EnterpriseRow) -> bool:
    """Whether a limit needs ``limit_usage`` (monthly, or to individuals daily or monthly)."""
    return (enterprise.monthly_limit is not None or enterprise.personal_daily is not None
            or enterprise.personal_monthly is not None)


def has_limits(enterprise: EnterpriseRow | None) -> bool:
    """Whether the enterprise has any limit set."""
    return enterprise is not None and any(
        limit is not None for limit in (
            enterprise.single_limit, enterprise.daily_limit, enterprise.monthly_limit,
            enterprise.personal_single, enterprise.personal_daily, enterprise.personal_monthly))


def periods(biz: str) -> tuple[str, str]:
    """The day ``YYYY-MM-DD`` and month ``YYYY-MM`` of a business date ``YYYYMMDD``.

    (``limit_usage`` periods; the ledger's business date has no dashes.)
    """
    day = f"{biz[:4]}-{biz[4:6]}-{biz[6:8]}"
    return day, day[:7]


def usage(ledger: Ledger, corp_no: str, *, periods_too: bool = True) -> Usage:
    """The enterprise's usage today and this month (business date), in one read each.

    ``periods_too`` False: today's total only (``daily_usage``), for an
    enterprise whose limits do not need the rest.
    """
    day, month = periods(ledger.biz)
    used = Usage(day=ledger.daily_usage(corp_no))
    if not periods_too:
        return used
    for scope, period, amount in ledger.conn.execute(
            "SELECT scope, period, amount FROM limit_usage WHERE corp_no = ?"
            " AND period IN (?, ?)", (corp_no, day, month)):
        if scope == ALL and period == month:
            used.month = amount
        elif scope == PERSONAL and period == month:
            used.personal_month = amount
        elif scope == PERSONAL and period == day:
            used.personal_day = amount
    return used


def exceeded(enterprise: EnterpriseRow, used: Usage, amt: int, *, to_personal: bool
             ) -> tuple[ReturnCode, str] | None:
    """The first limit that ``amt`` on top of ``used`` exceeds, as (code, message), or None."""
    if enterprise.single_limit is not None and amt > enterprise.single_limit:
        return codes.SINGLE_LIMIT, _single_message("single limit", enterprise.single_limit, amt)
    if enterprise.daily_limit is not None and used.day + amt > enterprise.daily_limit:
        return codes.DAILY_LIMIT, _period_message("daily limit", enterprise.daily_limit,
                                                  used.day, amt)
    if enterprise.monthly_limit is not None and used.month + amt > enterprise.monthly_limit:
        return codes.MONTHLY_LIMIT, _period_message("monthly limit", enterprise.monthly_limit,
                                                    used.month, amt)
    if not to_personal:
        return None
    if enterprise.personal_single is not None and amt > enterprise.personal_single:
        return codes.PERSONAL_SINGLE_LIMIT, _single_message(
            "公转私单笔限额", enterprise.personal_single, amt)
    if (enterprise.personal_daily is not None
            and used.personal_day + amt > enterprise.personal_daily):
        return codes.PERSONAL_DAILY_LIMIT, _period_message(
            "公转私日限额", enterprise.personal_daily, used.personal_day, amt)
    if (enterprise.personal_monthly is not None
            and used.personal_month + amt > enterprise.personal_monthly):
        return codes.PERSONAL_MONTHLY_LIMIT, _period_message(
            "公转私月限额", enterprise.personal_monthly, used.personal_month, amt)
    return None


def check(ledger: Ledger, corp_no: str, amt: int, *, to_personal: bool) -> None:
    """Refuse ``amt`` (the limit's own code) if it would exceed one of the enterprise's limits."""
    enterprise = ledger.enterprise(corp_no)
    if not has_limits(enterprise):
        return
    assert enterprise is not None
    used = usage(ledger, corp_no, periods_too=_needs_periods(enterprise))
    found = exceeded(enterprise, used, amt, to_personal=to_personal)
    if found is not None:
        raise Refused(*found)


def record(ledger: Ledger, corp_no: str, amt: int, *, to_personal: bool) -> None:
    """Count ``amt``, executed now, in the enterprise's usage (daily, monthly, to individuals).

    Call in the transaction that executes the instruction or item(s); a
    savepoint rolled back undoes the rows, and the ledger forgets what it
    cached of them (:meth:`Ledger.forget_since_savepoint`).
    """
    if amt <= 0:
        return
    ledger.add_daily_usage(corp_no, amt)
    day, month = periods(ledger.biz)
    rows = [(corp_no, ALL, month, amt)]
    if to_personal:
        rows += [(corp_no, PERSONAL, day, amt), (corp_no, PERSONAL, month, amt)]
    ledger.conn.executemany(
        "INSERT INTO limit_usage (corp_no, scope, period, amount) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (corp_no, scope, period) DO UPDATE SET amount = amount + excluded.amount",
        rows)


class Meter:
    """The limits of one enterprise over a run of payments to individuals (a batch chunk).

    Reads the usage once; :meth:`refusal` judges each amount against the
    usage so far, :meth:`take` counts one that executed (in memory). The
    caller records the chunk's executed total with :func:`record` once.
    ``active`` is False when the enterprise has no limit: nothing to judge.
    """

    __slots__ = ("_enterprise", "_used", "active")

    def __init__(self, ledger: Ledger, corp_no: str) -> None:
        enterprise = ledger.enterprise(corp_no)
        self.active = has_limits(enterprise)
        self._enterprise = enterprise
        self._used = (usage(ledger, corp_no, periods_too=_needs_periods(enterprise))
                      if enterprise is not None and self.active else Usage())

    def refusal(self, amt: int) -> tuple[ReturnCode, str] | None:
        """The first limit an item of ``amt`` to an individual would exceed, or None."""
        assert self._enterprise is not None
        return exceeded(self._enterprise, self._used, amt, to_personal=True)

    def take(self, amt: int) -> None:
        used = self._used
        used.day += amt
        used.month += amt
        used.personal_day += amt
        used.personal_month += amt


# Messages fit the reply's 60 bytes (GB18030) for limits of up to a million yuan
# or so, hence the short Chinese names of the 公转私 limits (单笔/日/月限额).


def _single_message(label: str, limit: int, amt: int) -> str:
    return f"amount {format_yuan(amt)} over {label} {format_yuan(limit)}"


def _period_message(label: str, limit: int, used: int, amt: int) -> str:
    return (f"{label} {format_yuan(limit)}: used {format_yuan(used)}, "
            f"requested {format_yuan(amt)}")
