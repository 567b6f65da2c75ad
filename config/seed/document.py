"""The seed document as a whole: the bank, its customers, and the lists beside them.

:class:`SeedChecker` walks the loaded YAML in the order the parts depend on
each other — the bank, the enterprises with their accounts and controls
(:mod:`config.seed.controls`), the external accounts, the personal accounts,
the agreements — so that each part can be checked against what came before
(a flow names an account and operators of its enterprise, an agreement an
enterprise's account and a payer), collecting every problem with its path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from config.errors import ConfigError
from config.seed.checks import at, kind
from config.seed.controls import CONTROL_KEYS, ControlsChecker
from config.seed.csvlist import CsvList, open_list
from config.seed.model import (
    Account,
    BankInfo,
    Enterprise,
    ExternalAccount,
    Limits,
    Seed,
)
from config.seed.rows import RowChecker, RowContext
from config.seed.rules import (
    ACCOUNT_STATUSES,
    EXTERNAL_STATUSES,
    bank_no_problem,
    corp_no_problem,
    user_no_problem,
)
from protocol.money import format_yuan

TOP_REQUIRED = ("bank", "enterprises")
TOP_OPTIONAL = ("external_accounts", "personal_accounts", "agreements")


class SeedChecker(ControlsChecker, RowChecker):
    """Walks the loaded YAML, collecting every problem with its path."""

    def __init__(self, source: str, base_dir: Path | None = None) -> None:
        super().__init__(source, RowContext())
        self.base_dir = base_dir
        # corp_no -> the path of its first use.
        self.corp_nos: dict[str, str] = {}
        # Problems found inside CSV files beside the seed (their own file and line).
        self.file_errors: list[ConfigError] = []

    def all_errors(self) -> list[ConfigError]:
        return self.errors + self.file_errors

    def corp_no(self, value: object, path: str) -> str | None:
        corp_no = self.ruled(value, path, "0000000001", corp_no_problem)
        if corp_no is None:
            return None
        first = self.corp_nos.setdefault(corp_no, path)
        if first != path:
            self.fail(path, f"duplicate corp_no {corp_no!r} (first used at {first})")
            return None
        return corp_no

    # -- the document --------------------------------------------------------

    def seed(self, document: object) -> Seed | None:
        if document is None:
            self.fail("", "the seed is empty (expected keys bank, enterprises)")
            return None
        top = self.mapping(document, "", TOP_REQUIRED, TOP_OPTIONAL)
        if top is None:
            return None
        before = len(self.all_errors())
        bank = self.bank(top["bank"]) if "bank" in top else None
        enterprises = self.enterprises(top["enterprises"]) if "enterprises" in top else None
        externals: tuple[ExternalAccount, ...] = ()
        if "external_accounts" in top:
            own = bank.bank_no if bank is not None else None
            externals = self.external_accounts(top["external_accounts"], own)
        personal: Any = ()
        if "personal_accounts" in top:
            personal = self.row_list(top["personal_accounts"], "personal_accounts",
                                     "personal accounts", self.personal_account)
            if isinstance(personal, CsvList):
                # Payers in the file are checked against the ledger when applied.
                self.context.payers = None
        agreements: Any = ()
        if "agreements" in top:
            agreements = self.row_list(top["agreements"], "agreements",
                                       "collection agreements", self.agreement)
        if len(self.all_errors()) > before or bank is None or enterprises is None:
            return None
        return Seed(bank=bank, enterprises=enterprises, external_accounts=externals,
                    personal_accounts=personal, agreements=agreements, source=self.source)

    def row_list(self, value: object, key: str, what: str, check) -> Any:
        """A list written in the seed (a tuple of rows), or ``{file: NAME}`` (a CsvList)."""
        if isinstance(value, dict):
            data = self.mapping(value, key, ("file",), ())
            if data is None or "file" not in data:
                return ()
            rows = open_list(key, data["file"], self.base_dir, self.context, self.fail,
                             self.file_errors)
            return () if rows is None else rows
        if not isinstance(value, list):
            self.fail(key, f"expected a list of {what} or {{file: {key}.csv}}, got {kind(value)}")
            return ()
        result = [check(item, f"{key}[{index}]") for index, item in enumerate(value)]
        return tuple(row for row in result if row is not None)

    def bank(self, value: object) -> BankInfo | None:
        path = "bank"
        bank = self.mapping(value, path, ("name", "bank_no"), ("business_date",))
        if bank is None:
            return None
        before = len(self.errors)
        name = self.name(bank.get("name"), at(path, "name")) if "name" in bank else None
        bank_no = (
            self.ruled(bank["bank_no"], at(path, "bank_no"), "301290000007", bank_no_problem)
            if "bank_no" in bank
            else None
        )
        date = None
        if "business_date" in bank:
            date = self.date(bank["business_date"], at(path, "business_date"))
        if len(self.errors) > before or name is None or bank_no is None:
            return None
        return BankInfo(name=name, bank_no=bank_no, business_date=date)

    def enterprises(self, value: object) -> tuple[Enterprise, ...] | None:
        items = self.sequence(value, "enterprises", "enterprises")
        if items is None:
            return None
        result = [self.enterprise_at(item, f"enterprises[{i}]") for i, item in enumerate(items)]
        enterprises = tuple(enterprise for enterprise in result if enterprise is not None)
        return enterprises if len(enterprises) == len(items) else None

    def enterprise_at(self, value: object, path: str) -> Enterprise | None:
        data = self.mapping(value, path, ("corp_no", "name", "users", "accounts"),
                            ("limits", *CONTROL_KEYS))
        if data is None:
            return None
        before = len(self.errors)
        corp_no = name = users = accounts = None
        if "corp_no" in data:
            corp_no = self.corp_no(data["corp_no"], at(path, "corp_no"))
        if "name" in data:
            name = self.name(data["name"], at(path, "name"))
        if "users" in data:
            users = self.users(data["users"], at(path, "users"))
        limits = self.limits(data["limits"], at(path, "limits")) if "limits" in data else Limits()
        if "accounts" in data:
            accounts = self.accounts(data["accounts"], at(path, "accounts"))
        # Every account written, even beside a mistake, so that the flows and
        # agreements naming them do not report a second, false problem.
        listed = data.get("accounts")
        own = frozenset(
            item["acno"] for item in (listed if isinstance(listed, list) else ())
            if isinstance(item, dict) and isinstance(item.get("acno"), str))
        if corp_no is not None:
            self.context.enterprise_accounts[corp_no] = own
        controls = self.controls(data, path, own)
        if (
            len(self.errors) > before
            or corp_no is None
            or name is None
            or users is None
            or accounts is None
            or limits is None
            or controls is None
        ):
            return None
        return Enterprise(
            corp_no=corp_no,
            name=name,
            users=users,
            accounts=accounts,
            limits=limits,
            operators=controls.operators,
            flows=controls.flows,
            collection_flow=controls.collection_flow,
            directed=controls.directed,
        )

    def users(self, value: object, path: str) -> tuple[str, ...] | None:
        items = self.sequence(value, path, "users")
        if items is None:
            return None
        seen: dict[str, str] = {}
        result = []
        for index, item in enumerate(items):
            item_path = f"{path}[{index}]"
            data = self.mapping(item, item_path, ("user_no",), ())
            if data is None or "user_no" not in data:
                continue
            key_path = at(item_path, "user_no")
            user_no = self.ruled(data["user_no"], key_path, "001", user_no_problem)
            if user_no is None:
                continue
            first = seen.setdefault(user_no, key_path)
            if first != key_path:
                self.fail(key_path, f"duplicate user_no {user_no!r} (first used at {first})")
                continue
            result.append(user_no)
        return tuple(result) if len(result) == len(items) else None

    def accounts(self, value: object, path: str) -> tuple[Account, ...] | None:
        items = self.sequence(value, path, "accounts")
        if items is None:
            return None
        result = [self.account(item, f"{path}[{index}]") for index, item in enumerate(items)]
        accounts = tuple(account for account in result if account is not None)
        return accounts if len(accounts) == len(items) else None

    def account(self, value: object, path: str) -> Account | None:
        data = self.mapping(
            value, path, ("acno", "name"), ("currency", "balance", "opened", "status", "hold")
        )
        if data is None:
            return None
        before = len(self.errors)
        acno = self.acno(data["acno"], at(path, "acno")) if "acno" in data else None
        name = self.name(data["name"], at(path, "name")) if "name" in data else None
        currency = "CNY"
        if "currency" in data:
            currency = self.currency(data["currency"], at(path, "currency")) or currency
        balance: int | None = 0
        hold: int | None = 0
        if "balance" in data:
            balance = self.amount(data["balance"], at(path, "balance"), allow_zero=True)
        if "hold" in data:
            hold = self.amount(data["hold"], at(path, "hold"), allow_zero=True)
        if balance is not None and hold is not None and hold > balance:
            self.fail(
                at(path, "hold"),
                f"hold {format_yuan(hold)} exceeds the balance {format_yuan(balance)}",
            )
        opened = self.date(data["opened"], at(path, "opened")) if "opened" in data else None
        status = "active"
        if "status" in data:
            status = self.choice(data["status"], at(path, "status"), ACCOUNT_STATUSES) or status
        if (
            len(self.errors) > before
            or acno is None
            or name is None
            or balance is None
            or hold is None
        ):
            return None
        return Account(
            acno=acno,
            name=name,
            currency=currency,
            balance=balance,
            opened=opened,
            status=status,
            hold=hold,
        )

    def external_accounts(
        self, value: object, own_bank_no: str | None
    ) -> tuple[ExternalAccount, ...]:
        path = "external_accounts"
        if not isinstance(value, list):
            self.fail(path, f"expected a list of accounts at other banks, got {kind(value)}")
            return ()
        result = []
        for index, item in enumerate(value):
            account = self.external_account(item, f"{path}[{index}]", own_bank_no)
            if account is not None:
                result.append(account)
        return tuple(result)

    def external_account(
        self, value: object, path: str, own_bank_no: str | None
    ) -> ExternalAccount | None:
        data = self.mapping(value, path, ("acno", "name", "bank_no", "bank_name"),
                            ("status", "balance"))
        if data is None:
            return None
        before = len(self.errors)
        acno = self.acno(data["acno"], at(path, "acno")) if "acno" in data else None
        name = self.name(data["name"], at(path, "name")) if "name" in data else None
        bank_no = None
        if "bank_no" in data:
            bank_path = at(path, "bank_no")
            bank_no = self.ruled(data["bank_no"], bank_path, "102100099996", bank_no_problem)
            if bank_no is not None and bank_no == own_bank_no:
                self.fail(
                    bank_path,
                    f"{bank_no!r} is this bank's own bank_no (bank.bank_no); "
                    "accounts at this bank belong under enterprises or personal_accounts",
                )
        bank_name = None
        if "bank_name" in data:
            bank_name = self.name(data["bank_name"], at(path, "bank_name"))
        status = "active"
        if "status" in data:
            status = self.choice(data["status"], at(path, "status"), EXTERNAL_STATUSES) or status
        balance = None
        if "balance" in data:
            balance = self.amount(data["balance"], at(path, "balance"), allow_zero=True)
        if self.context.payers is not None and acno and name:
            self.context.payers[acno] = name  # (as for personal accounts)
        if (
            len(self.errors) > before
            or acno is None
            or name is None
            or bank_no is None
            or bank_name is None
        ):
            return None
        return ExternalAccount(
            acno=acno, name=name, bank_no=bank_no, bank_name=bank_name, status=status,
            balance=balance,
        )
