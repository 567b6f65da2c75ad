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


#: An enterprise operator's role in its e-banking (制单, 复核, 副主管, 主管).
OPERATOR_ROLES = ("maker", "checker", "deputy", "supervisor")
#: The roles that may approve an instruction; a maker only submits.
APPROVER_ROLES = ("checker", "deputy", "supervisor")

#: The levels of an approval flow, in order: each level lists the operator
#: codes of which any one approves it.
Levels: TypeAlias = tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class PersonalLimits:
    """Limits on payments from the enterprise to individuals (公转私), in fen; None = no limit."""

    single: int | None = None
    daily: int | None = None
    monthly: int | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    """An enterprise's payment limits, in fen; None = no limit.

    ``to_personal`` further limits the part of them paid to individuals.
    """

    single: int | None = None
    daily: int | None = None
    monthly: int | None = None
    to_personal: PersonalLimits = field(default_factory=PersonalLimits)


@dataclass(frozen=True, slots=True)
class Operator:
    """A person of the enterprise in its e-banking: a maker submits, the others approve."""

    code: str  # 1-20 letters/digits, unique within the enterprise
    name: str
    role: str  # one of OPERATOR_ROLES


@dataclass(frozen=True, slots=True)
class Band:
    """Instructions of at most ``up_to`` fen (and above the band before) need these levels."""

    up_to: int  # fen
    levels: Levels


@dataclass(frozen=True, slots=True)
class Flow:
    """An account's transfer flow (转账流程): its bands by strictly increasing ``up_to``.

    Above the last band an instruction needs the last band's levels, then one
    of the enterprise's supervisors (:func:`core_sim.flows.levels_for`).
    """

    acno: str
    bands: tuple[Band, ...]


@dataclass(frozen=True, slots=True)
class Directed:
    """A directed account (定向汇款 / 封闭转账): it pays these payees and no others."""

    acno: str
    payees: tuple[str, ...]


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
    operators: tuple[Operator, ...] = ()
    flows: tuple[Flow, ...] = ()  # at most one per account; none: executes at once
    collection_flow: Levels = ()  # for every batch collection (330010); (): executes at once
    directed: tuple[Directed, ...] = ()  # at most one per account

    def flow_for(self, acno: str) -> Flow | None:
        """The transfer flow of account ``acno``, or None (its instructions need no approval)."""
        return next((flow for flow in self.flows if flow.acno == acno), None)

    def payees_for(self, acno: str) -> tuple[str, ...] | None:
        """The only payees account ``acno`` may pay, or None when it is not directed."""
        return next((entry.payees for entry in self.directed if entry.acno == acno), None)

    @property
    def supervisors(self) -> tuple[str, ...]:
        """The codes of the supervisors, in seed order: the level above every flow's last band."""
        return tuple(op.code for op in self.operators if op.role == "supervisor")


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

