"""Checks of one personal account or one collection agreement, wherever the row was written.

A row in the YAML and a row of a CSV file beside it go through the same
checks (:class:`RowChecker`), so a mistake reads the same in both. What a row
refers to — the enterprises and their accounts, the account numbers already
used, the payers the seed knows — is the :class:`RowContext`, filled in by the
YAML part of the seed before any row is checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from config.seed.checks import Checker, at
from config.seed.model import Agreement, PersonalAccount
from config.seed.rules import (
    ACCOUNT_STATUSES,
    AGREEMENT_STATUSES,
    acno_problem,
    agreement_no_problem,
    corp_no_problem,
    id_no_problem,
)

PERSONAL_REQUIRED = ("acno", "name", "id_no")
PERSONAL_OPTIONAL = ("balance", "status")
AGREEMENT_REQUIRED = ("agreement_no", "corp_no", "rcv_acno", "payer_acno", "payer_name")
AGREEMENT_OPTIONAL = ("max_amt", "valid_to", "status")


@dataclass(slots=True)
class RowContext:
    """What the rows of a seed may refer to, and the identifiers they must not repeat."""

    #: Every account number the seed uses (customers, personal, external) -> its path.
    acnos: dict[str, str] = field(default_factory=dict)
    #: Every agreement number the seed uses -> its path.
    agreement_nos: dict[str, str] = field(default_factory=dict)
    #: corp_no -> the enterprise's account numbers.
    enterprise_accounts: dict[str, frozenset[str]] = field(default_factory=dict)
    #: acno -> name of every account a payer may hold (personal and external), or
    #: None while they are not all known: personal accounts kept in a CSV file are
    #: checked against the ledger when the seed is applied.
    payers: dict[str, str] | None = field(default_factory=dict)


class RowChecker(Checker):
    """Checks rows against a :class:`RowContext`.

    With ``claim`` (the YAML), each new account and agreement number is added to
    the context so a later row cannot repeat it. Without (a CSV row), numbers
    are only compared with the context: a million rows never become a million
    entries of a dict, and repeats between CSV rows are found in the ledger
    when the seed is applied.
    """

    def __init__(self, source: str, context: RowContext, *, claim: bool = True) -> None:
        super().__init__(source)
        self.context = context
        self.claim = claim

    def unique(self, table: dict[str, str], value: str, path: str, what: str) -> bool:
        first = table.get(value)
        if first is not None and first != path:
            self.fail(path, f"duplicate {what} {value!r} (first used at {first})")
            return False
        if self.claim:
            table[value] = path
        return True

    def acno(self, value: object, path: str) -> str | None:
        acno = self.ruled(value, path, "310066726018010000001", acno_problem)
        if acno is None or not self.unique(self.context.acnos, acno, path, "account number"):
            return None
        return acno

    def personal_account(self, value: object, path: str) -> PersonalAccount | None:
        data = self.mapping(value, path, PERSONAL_REQUIRED, PERSONAL_OPTIONAL)
        if data is None:
            return None
        before = len(self.errors)
        acno = self.acno(data["acno"], at(path, "acno")) if "acno" in data else None
        name = self.name(data["name"], at(path, "name")) if "name" in data else None
        id_no = None
        if "id_no" in data:
            id_no = self.ruled(data["id_no"], at(path, "id_no"), "110101199003070011",
                               id_no_problem)
        if self.claim and self.context.payers is not None and acno and name:
            # Known as a payer even if another of its keys is wrong, so that its
            # agreements do not report a second, false problem.
            self.context.payers[acno] = name
        balance: int | None = 0
        if "balance" in data:
            balance = self.amount(data["balance"], at(path, "balance"), allow_zero=True)
        status = "active"
        if "status" in data:
            status = self.choice(data["status"], at(path, "status"), ACCOUNT_STATUSES) or status
        if (len(self.errors) > before or acno is None or name is None or id_no is None
                or balance is None):
            return None
        return PersonalAccount(acno=acno, name=name, id_no=id_no, balance=balance, status=status)

    def agreement(self, value: object, path: str) -> Agreement | None:
        data = self.mapping(value, path, AGREEMENT_REQUIRED, AGREEMENT_OPTIONAL)
        if data is None:
            return None
        before = len(self.errors)
        agreement_no = corp_no = rcv_acno = payer_acno = payer_name = None
        if "agreement_no" in data:
            key_path = at(path, "agreement_no")
            agreement_no = self.ruled(data["agreement_no"], key_path, "AG0000000001",
                                      agreement_no_problem)
            if agreement_no is not None:
                self.unique(self.context.agreement_nos, agreement_no, key_path, "agreement_no")
        if "corp_no" in data:
            corp_no = self.enterprise(data["corp_no"], at(path, "corp_no"))
        if "rcv_acno" in data:
            rcv_acno = self.collecting_account(data["rcv_acno"], at(path, "rcv_acno"), corp_no)
        if "payer_acno" in data:
            payer_acno = self.ruled(data["payer_acno"], at(path, "payer_acno"),
                                    "6222600100000000001", acno_problem)
        if "payer_name" in data:
            payer_name = self.name(data["payer_name"], at(path, "payer_name"))
        if payer_acno is not None:
            self.payer(payer_acno, payer_name, path)
        max_amt = None
        if "max_amt" in data:
            max_amt = self.amount(data["max_amt"], at(path, "max_amt"), allow_zero=False)
        valid_to = self.date(data["valid_to"], at(path, "valid_to")) if "valid_to" in data else None
        status = "active"
        if "status" in data:
            status = self.choice(data["status"], at(path, "status"), AGREEMENT_STATUSES) or status
        if (len(self.errors) > before or agreement_no is None or corp_no is None
                or rcv_acno is None or payer_acno is None or payer_name is None):
            return None
        return Agreement(agreement_no=agreement_no, corp_no=corp_no, rcv_acno=rcv_acno,
                         payer_acno=payer_acno, payer_name=payer_name, max_amt=max_amt,
                         valid_to=valid_to, status=status)

    def enterprise(self, value: object, path: str) -> str | None:
        corp_no = self.ruled(value, path, "0000000001", corp_no_problem)
        if corp_no is not None and corp_no not in self.context.enterprise_accounts:
            known = ", ".join(self.context.enterprise_accounts) or "none"
            self.fail(path, f"{corp_no!r} is not an enterprise of this seed (they are: {known})")
            return None
        return corp_no

    def collecting_account(self, value: object, path: str, corp_no: str | None) -> str | None:
        acno = self.ruled(value, path, "310066726018010000001", acno_problem)
        if acno is None or corp_no is None:
            return acno
        if acno not in self.context.enterprise_accounts[corp_no]:
            self.fail(path, f"{acno!r} is not an account of enterprise {corp_no!r}")
            return None
        return acno

    def payer(self, acno: str, name: str | None, path: str) -> None:
        """The payer must be a personal or external account of the seed, under its name."""
        payers = self.context.payers
        if payers is None:
            return  # checked against the ledger when the seed is applied
        known = payers.get(acno)
        if known is None:
            first = self.context.acnos.get(acno, "")
            why = (f"{acno!r} is an enterprise's account ({first}); "
                   if first.startswith("enterprises") else
                   f"no personal account or external account {acno!r} in the seed; ")
            self.fail(at(path, "payer_acno"),
                      why + "a payer is a personal account here or an account at another bank")
        elif name is not None and name != known:
            self.fail(at(path, "payer_name"),
                      f"{name!r} is not the name of account {acno!r} ({known!r})")
