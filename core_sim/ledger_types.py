"""The ledger's values: rows as read, legs and entries to write, and its error."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime


class LedgerError(RuntimeError):
    """A broken invariant inside the core (a bug), never a customer's mistake."""


@dataclass(frozen=True, slots=True)
class AccountRow:
    id: int
    kind: str
    acno: str
    bank_no: str
    name: str
    currency: str
    corp_no: str | None
    status: str
    hold: int
    balance: int
    opened: str

    @property
    def available(self) -> int:
        return self.balance - self.hold


@dataclass(frozen=True, slots=True)
class EnterpriseRow:
    corp_no: str
    name: str
    single_limit: int | None
    daily_limit: int | None
    monthly_limit: int | None = None
    personal_single: int | None = None
    personal_daily: int | None = None
    personal_monthly: int | None = None


@dataclass(frozen=True, slots=True)
class Leg:
    """One posting to be made: ``side`` is "D" or "C" on ``account_id``."""

    account_id: int
    side: str
    amount: int
    opp_acno: str = ""
    opp_acname: str = ""


@dataclass(frozen=True, slots=True)
class NewEntry:
    """One journal entry for :meth:`Ledger.post_many`."""

    serial_no: str
    kind: str
    legs: Sequence[Leg]
    summary: str = ""
    instruction_id: int | None = None
    clearing_run_id: int | None = None
    item_seq: int | None = None




def ymd(day: date) -> str:
    return day.strftime("%Y%m%d")


def parse_ymd(text: str) -> date:
    return datetime.strptime(text, "%Y%m%d").date()


def hhmmss(now: datetime) -> str:
    """``now.strftime("%H%M%S")``, without strftime's cost."""
    return f"{now.hour:02d}{now.minute:02d}{now.second:02d}"
