"""What a seed describes, as immutable values (amounts in integer fen)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from config.seed.csvlist import CsvList


@dataclass(frozen=True, slots=True)
class BankInfo:
    name: str
    bank_no: str  # 12-digit routing number
    business_date: dt.date | None = None  # None: today


@dataclass(frozen=True, slots=True)
class Limits:
    single: int | None = None  # fen; None = no limit
    daily: int | None = None  # fen; None = no limit


@dataclass(frozen=True, slots=True)
class Account:
    acno: str
    name: str
    currency: str = "CNY"
    balance: int = 0  # fen
    opened: dt.date | None = None
    status: str = "active"  # active | frozen | closed
    hold: int = 0  # fen held (excluded from the available balance)


@dataclass(frozen=True, slots=True)
class Enterprise:
    corp_no: str
    name: str
    users: tuple[str, ...]  # user_no of each direct-connect operator
    accounts: tuple[Account, ...]
    limits: Limits = field(default_factory=Limits)


@dataclass(frozen=True, slots=True)
class ExternalAccount:
    acno: str
    name: str
    bank_no: str
    bank_name: str
    status: str = "active"  # active | closed
    #: fen the payer has at the other bank; None = the other bank always pays
    #: (a collection from it never lacks funds).
    balance: int | None = None


@dataclass(frozen=True, slots=True)
class PersonalAccount:
    """An individual's account at this bank: a payroll payee or a premium payer (CNY)."""

    acno: str
    name: str
    id_no: str  # 18-character resident ID number
    balance: int = 0  # fen
    status: str = "active"  # active | frozen | closed


@dataclass(frozen=True, slots=True)
class Agreement:
    """A collection agreement (代扣协议): the payer lets the enterprise collect into rcv_acno."""

    agreement_no: str
    corp_no: str
    rcv_acno: str  # the enterprise's collecting account
    payer_acno: str  # a personal account here, or an external account
    payer_name: str
    max_amt: int | None = None  # fen per collection; None = no maximum
    valid_to: dt.date | None = None  # last valid day; None = open-ended
    status: str = "active"  # active | revoked


#: A list that is either written in the seed itself or kept in a CSV file beside it
#: (:class:`config.seed.csvlist.CsvList`, read row by row when iterated).
PersonalAccounts: TypeAlias = "tuple[PersonalAccount, ...] | CsvList[PersonalAccount]"
Agreements: TypeAlias = "tuple[Agreement, ...] | CsvList[Agreement]"


@dataclass(frozen=True, slots=True)
class Seed:
    bank: BankInfo
    enterprises: tuple[Enterprise, ...]
    external_accounts: tuple[ExternalAccount, ...] = ()
    personal_accounts: PersonalAccounts = ()
    agreements: Agreements = ()
    #: Where the seed came from (a file name or "<string>"), for messages about
    #: its rows found only when they are applied; not part of its value.
    source: str = field(default="<string>", compare=False)

    @property
    def files(self) -> tuple[Path, ...]:
        """The CSV files the seed's lists are kept in (whoever copies the seed needs them)."""
        return tuple(rows.path for rows in (self.personal_accounts, self.agreements)
                     if not isinstance(rows, tuple))

