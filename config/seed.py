"""The bank core's YAML seed: loading and validation.

The seed describes the simulated bank, its enterprise customers (with their
operators, limits and accounts) and the accounts at other banks that inter-bank
payments may reach. Every error names its path in the file
(``enterprises[0].accounts[1].balance: not an amount``) and nothing is
half-loaded: :func:`load_seed` returns a complete :class:`Seed` or raises.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


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


@dataclass(frozen=True, slots=True)
class Seed:
    bank: BankInfo
    enterprises: tuple[Enterprise, ...]
    external_accounts: tuple[ExternalAccount, ...] = ()
