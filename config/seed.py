"""The bank core's YAML seed: loading and validation.

The seed describes the simulated bank, its enterprise customers (with their
operators, limits and accounts) and the accounts at other banks that inter-bank
payments may reach. Every error names its path in the file
(``enterprises[0].accounts[1].balance: not an amount``) and nothing is
half-loaded: :func:`load_seed` returns a complete :class:`Seed` or raises.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import re
import reprlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from config.errors import ConfigError
from protocol.money import AmountError, format_yuan, parse_yuan

__all__ = [
    "ACCOUNT_STATUSES",
    "DEMO_SEED",
    "EXTERNAL_STATUSES",
    "Account",
    "BankInfo",
    "ConfigError",
    "Enterprise",
    "ExternalAccount",
    "Limits",
    "Seed",
    "acno_problem",
    "bank_no_problem",
    "corp_no_problem",
    "load_seed",
    "name_problem",
    "parse_seed",
    "user_no_problem",
]


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


# --------------------------------------------------------------------------
# Identifier rules, shared with the client's ini file (config.ini).
# Each returns None when the text is acceptable, else the reason it is not.

_DIGITS = re.compile(r"[0-9]+")
_ALNUM = re.compile(r"[0-9A-Za-z]+")
_CURRENCY = re.compile(r"[A-Z]{3}")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Names land in pipe-delimited reply tables (serial_record) and in
# fixed-width GB18030 message fields, so '|' and control characters would
# corrupt replies and the byte length is what counts, not the characters.
_NAME_FORBIDDEN = re.compile(r"[|\x00-\x1f\x7f]")
NAME_MAX_BYTES = 60

ACCOUNT_STATUSES = ("active", "frozen", "closed")
EXTERNAL_STATUSES = ("active", "closed")


def _digits_problem(text: str, low: int, high: int) -> str | None:
    count = f"exactly {low}" if low == high else f"{low}-{high}"
    if not text:
        return f"must not be empty (expected {count} digits)"
    if not _DIGITS.fullmatch(text):
        return f"must be digits only: {text!r}"
    if not low <= len(text) <= high:
        return f"must be {count} digits, not {len(text)}: {text!r}"
    return None


def corp_no_problem(text: str) -> str | None:
    """Why ``text`` is not an enterprise code (1-20 digits), or None."""
    return _digits_problem(text, 1, 20)


def user_no_problem(text: str) -> str | None:
    """Why ``text`` is not an operator number (1-20 letters/digits), or None."""
    if not text:
        return "must not be empty (expected 1-20 letters or digits)"
    if not _ALNUM.fullmatch(text):
        return f"must be letters and digits only: {text!r}"
    if len(text) > 20:
        return f"must be at most 20 characters, not {len(text)}: {text!r}"
    return None


def bank_no_problem(text: str) -> str | None:
    """Why ``text`` is not a 12-digit bank routing number, or None."""
    return _digits_problem(text, 12, 12)


def acno_problem(text: str) -> str | None:
    """Why ``text`` is not an account number (1-32 digits), or None."""
    return _digits_problem(text, 1, 32)


def name_problem(text: str) -> str | None:
    """Why ``text`` is not an acceptable account/bank/enterprise name, or None."""
    if not text.strip():
        return "must not be empty"
    if text != text.strip():
        return f"must not start or end with spaces: {text!r}"
    bad = _NAME_FORBIDDEN.search(text)
    if bad:
        return f"must not contain {bad.group()!r}: {text!r}"
    try:
        size = len(text.encode("gb18030"))
    except UnicodeEncodeError:
        return f"cannot be encoded in GB18030: {text!r}"
    if size > NAME_MAX_BYTES:
        return f"too long: {size} bytes in GB18030 (at most {NAME_MAX_BYTES}): {text!r}"
    return None


# --------------------------------------------------------------------------
# Loading.


class _SeedLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys.

    Plain YAML keeps the last of two equal keys, so a balance written twice
    would silently take the second value; in a ledger's opening balances that
    is a mistake to report, not to guess about.
    """

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # '<<' merges are explicit overrides, not duplicates
                key = self.construct_object(key_node, deep=deep)
                try:
                    duplicate = key in seen
                except TypeError:
                    continue  # unhashable: the base class reports it properly
                if duplicate:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r}", key_node.start_mark
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        # PyYAML's constructors raise plain ValueError for scalars that look
        # typed but are not (an unquoted date 2026-13-01, "!!int abc"); give
        # them the node's position like every other YAML error.
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, TypeError, OverflowError) as exc:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"cannot read {_show(node.value)}: {exc}"
                if isinstance(node, yaml.ScalarNode)
                else str(exc),
                node.start_mark,
            ) from None


_reprs = reprlib.Repr()
_reprs.maxstring = 60
_reprs.maxother = 60


def _show(value: object) -> str:
    """A short repr: values in messages come from untrusted files."""
    return _reprs.repr(value)


def _kind(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {value}"
    if isinstance(value, int | float):
        return f"the number {_show(value)}"
    if isinstance(value, str):
        return f"the string {_show(value)}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dt.datetime):
        return f"the date and time {value.isoformat()}"
    if isinstance(value, dt.date):
        return f"the date {value.isoformat()}"
    return f"a {type(value).__name__}"


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Absent:
    """Marks an optional key that was not given (or given as null)."""


_ABSENT = _Absent()


class _SeedChecker:
    """Walks the loaded YAML, collecting every problem with its path."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.errors: list[ConfigError] = []
        # Identifiers that must be unique -> the path of their first use.
        self.acnos: dict[str, str] = {}
        self.corp_nos: dict[str, str] = {}

    def fail(self, path: str, reason: str) -> None:
        self.errors.append(ConfigError(self.source, path, reason))

    # -- shapes ------------------------------------------------------------

    def mapping(
        self, value: object, path: str, required: tuple[str, ...], optional: tuple[str, ...]
    ) -> dict[str, Any] | None:
        """The mapping at ``path`` with unknown and missing keys reported.

        Optional keys given as null are dropped, so ``limits:`` with every
        entry commented out means "no limits" rather than an error.
        """
        if not isinstance(value, dict):
            allowed = ", ".join(required + optional)
            self.fail(path, f"expected a mapping with keys {allowed}, got {_kind(value)}")
            return None
        known = required + optional
        result: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str) or key not in known:
                self.fail(path, f"unknown key {_show(key)}{_suggest(key, known)}")
            elif key in optional and item is None:
                continue
            else:
                result[key] = item
        for key in required:
            if key not in value:
                self.fail(path, f"missing required key {key!r}")
        return result

    def sequence(self, value: object, path: str, what: str) -> list[Any] | None:
        if not isinstance(value, list):
            self.fail(path, f"expected a list of {what}, got {_kind(value)}")
            return None
        if not value:
            self.fail(path, f"at least one {what.rstrip('s')} is required")
            return None
        return value

    # -- scalars -----------------------------------------------------------

    def string(self, value: object, path: str, example: str) -> str | None:
        if isinstance(value, str):
            return value
        if value is None:
            self.fail(path, "must not be empty")
        elif isinstance(value, bool):
            self.fail(
                path,
                f"must be a string, got {_kind(value)} "
                f"(YAML reads unquoted yes/no/on/off as booleans; quote it)",
            )
        elif isinstance(value, int | float):
            self.fail(
                path,
                f'must be a quoted string such as "{example}", got {_kind(value)} '
                "(YAML reads unquoted digits as a number and drops leading zeros)",
            )
        else:
            self.fail(path, f"must be a string, got {_kind(value)}")
        return None

    def ruled(
        self, value: object, path: str, example: str, rule: Callable[[str], str | None]
    ) -> str | None:
        text = self.string(value, path, example)
        if text is None:
            return None
        problem = rule(text)
        if problem is not None:
            self.fail(path, problem)
            return None
        return text

    def name(self, value: object, path: str) -> str | None:
        return self.ruled(value, path, "Zhang San", name_problem)

    def amount(self, value: object, path: str, *, allow_zero: bool) -> int | None:
        if isinstance(value, int | float) and not isinstance(value, bool):
            self.fail(
                path,
                f'amounts must be quoted strings such as "1000.00", got {_kind(value)} '
                "(a YAML number may lose precision)",
            )
            return None
        text = self.string(value, path, "1000.00")
        if text is None:
            return None
        try:
            return parse_yuan(text, allow_zero=allow_zero)
        except AmountError as exc:
            self.fail(path, str(exc))
            return None

    def date(self, value: object, path: str) -> dt.date | None:
        # Unquoted 2020-01-01 arrives as a date already; quoted, as a string.
        if isinstance(value, dt.datetime):
            self.fail(path, f"expected a date YYYY-MM-DD, got {_kind(value)}")
            return None
        if isinstance(value, dt.date):
            return value
        text = self.string(value, path, "2020-01-01")
        if text is None:
            return None
        if not _ISO_DATE.fullmatch(text):
            self.fail(path, f"expected a date YYYY-MM-DD, got {_show(text)}")
            return None
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            self.fail(path, f"not a valid date: {_show(text)}")
            return None

    def choice(self, value: object, path: str, choices: tuple[str, ...]) -> str | None:
        text = self.string(value, path, choices[0])
        if text is None:
            return None
        if text not in choices:
            self.fail(path, f"must be one of {', '.join(choices)}, not {_show(text)}")
            return None
        return text

    def currency(self, value: object, path: str) -> str | None:
        text = self.string(value, path, "CNY")
        if text is None:
            return None
        if not _CURRENCY.fullmatch(text):
            self.fail(path, f"currency must be 3 capital letters such as CNY, not {_show(text)}")
            return None
        return text

    def corp_no(self, value: object, path: str) -> str | None:
        corp_no = self.ruled(value, path, "0000000001", corp_no_problem)
        if corp_no is None:
            return None
        first = self.corp_nos.setdefault(corp_no, path)
        if first != path:
            self.fail(path, f"duplicate corp_no {corp_no!r} (first used at {first})")
            return None
        return corp_no

    def acno(self, value: object, path: str) -> str | None:
        acno = self.ruled(value, path, "310066726018010000001", acno_problem)
        if acno is None:
            return None
        first = self.acnos.setdefault(acno, path)
        if first != path:
            self.fail(path, f"duplicate account number {acno!r} (first used at {first})")
            return None
        return acno

    # -- the document --------------------------------------------------------

    def seed(self, document: object) -> Seed | None:
        if document is None:
            self.fail("", "the seed is empty (expected keys bank, enterprises)")
            return None
        top = self.mapping(document, "", ("bank", "enterprises"), ("external_accounts",))
        if top is None:
            return None
        before = len(self.errors)
        bank = self.bank(top["bank"]) if "bank" in top else None
        enterprises = self.enterprises(top["enterprises"]) if "enterprises" in top else None
        externals = ()
        if "external_accounts" in top:
            own = bank.bank_no if bank is not None else None
            externals = self.external_accounts(top["external_accounts"], own)
        if len(self.errors) > before or bank is None or enterprises is None:
            return None
        return Seed(bank=bank, enterprises=enterprises, external_accounts=externals)

    def bank(self, value: object) -> BankInfo | None:
        path = "bank"
        bank = self.mapping(value, path, ("name", "bank_no"), ("business_date",))
        if bank is None:
            return None
        before = len(self.errors)
        name = self.name(bank.get("name"), _at(path, "name")) if "name" in bank else None
        bank_no = (
            self.ruled(bank["bank_no"], _at(path, "bank_no"), "301290000007", bank_no_problem)
            if "bank_no" in bank
            else None
        )
        date = None
        if "business_date" in bank:
            date = self.date(bank["business_date"], _at(path, "business_date"))
        if len(self.errors) > before or name is None or bank_no is None:
            return None
        return BankInfo(name=name, bank_no=bank_no, business_date=date)

    def enterprises(self, value: object) -> tuple[Enterprise, ...] | None:
        items = self.sequence(value, "enterprises", "enterprises")
        if items is None:
            return None
        result = [self.enterprise(item, f"enterprises[{i}]") for i, item in enumerate(items)]
        enterprises = tuple(enterprise for enterprise in result if enterprise is not None)
        return enterprises if len(enterprises) == len(items) else None

    def enterprise(self, value: object, path: str) -> Enterprise | None:
        data = self.mapping(value, path, ("corp_no", "name", "users", "accounts"), ("limits",))
        if data is None:
            return None
        before = len(self.errors)
        corp_no = name = users = accounts = None
        if "corp_no" in data:
            corp_no = self.corp_no(data["corp_no"], _at(path, "corp_no"))
        if "name" in data:
            name = self.name(data["name"], _at(path, "name"))
        if "users" in data:
            users = self.users(data["users"], _at(path, "users"))
        limits = self.limits(data["limits"], _at(path, "limits")) if "limits" in data else Limits()
        if "accounts" in data:
            accounts = self.accounts(data["accounts"], _at(path, "accounts"))
        if (
            len(self.errors) > before
            or corp_no is None
            or name is None
            or users is None
            or accounts is None
            or limits is None
        ):
            return None
        return Enterprise(corp_no=corp_no, name=name, users=users, accounts=accounts, limits=limits)

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
            key_path = _at(item_path, "user_no")
            user_no = self.ruled(data["user_no"], key_path, "001", user_no_problem)
            if user_no is None:
                continue
            first = seen.setdefault(user_no, key_path)
            if first != key_path:
                self.fail(key_path, f"duplicate user_no {user_no!r} (first used at {first})")
                continue
            result.append(user_no)
        return tuple(result) if len(result) == len(items) else None

    def limits(self, value: object, path: str) -> Limits | None:
        data = self.mapping(value, path, (), ("single", "daily"))
        if data is None:
            return None
        before = len(self.errors)
        single = daily = None
        if "single" in data:
            single = self.amount(data["single"], _at(path, "single"), allow_zero=False)
        if "daily" in data:
            daily = self.amount(data["daily"], _at(path, "daily"), allow_zero=False)
        if single is not None and daily is not None and single > daily:
            self.fail(
                _at(path, "single"),
                f"single limit {format_yuan(single)} exceeds the daily limit {format_yuan(daily)}",
            )
        if len(self.errors) > before:
            return None
        return Limits(single=single, daily=daily)

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
        acno = self.acno(data["acno"], _at(path, "acno")) if "acno" in data else None
        name = self.name(data["name"], _at(path, "name")) if "name" in data else None
        currency = "CNY"
        if "currency" in data:
            currency = self.currency(data["currency"], _at(path, "currency")) or currency
        balance: int | None = 0
        hold: int | None = 0
        if "balance" in data:
            balance = self.amount(data["balance"], _at(path, "balance"), allow_zero=True)
        if "hold" in data:
            hold = self.amount(data["hold"], _at(path, "hold"), allow_zero=True)
        if balance is not None and hold is not None and hold > balance:
            self.fail(
                _at(path, "hold"),
                f"hold {format_yuan(hold)} exceeds the balance {format_yuan(balance)}",
            )
        opened = self.date(data["opened"], _at(path, "opened")) if "opened" in data else None
        status = "active"
        if "status" in data:
            status = self.choice(data["status"], _at(path, "status"), ACCOUNT_STATUSES) or status
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
            self.fail(path, f"expected a list of accounts at other banks, got {_kind(value)}")
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
        data = self.mapping(value, path, ("acno", "name", "bank_no", "bank_name"), ("status",))
        if data is None:
            return None
        before = len(self.errors)
        acno = self.acno(data["acno"], _at(path, "acno")) if "acno" in data else None
        name = self.name(data["name"], _at(path, "name")) if "name" in data else None
        bank_no = None
        if "bank_no" in data:
            bank_path = _at(path, "bank_no")
            bank_no = self.ruled(data["bank_no"], bank_path, "102100099996", bank_no_problem)
            if bank_no is not None and bank_no == own_bank_no:
                self.fail(
                    bank_path,
                    f"{bank_no!r} is this bank's own bank_no (bank.bank_no); "
                    "accounts at this bank belong under enterprises",
                )
        bank_name = None
        if "bank_name" in data:
            bank_name = self.name(data["bank_name"], _at(path, "bank_name"))
        status = "active"
        if "status" in data:
            status = self.choice(data["status"], _at(path, "status"), EXTERNAL_STATUSES) or status
        if (
            len(self.errors) > before
            or acno is None
            or name is None
            or bank_no is None
            or bank_name is None
        ):
            return None
        return ExternalAccount(
            acno=acno, name=name, bank_no=bank_no, bank_name=bank_name, status=status
        )


def _suggest(key: object, known: tuple[str, ...]) -> str:
    if isinstance(key, str):
        close = difflib.get_close_matches(key, known, n=1)
        if close:
            return f" (did you mean {close[0]!r}?)"
    return f" (expected {', '.join(known)})" if known else ""


def parse_seed(text: str, source: str = "<string>") -> Seed:
    """Parse and validate seed YAML; a complete :class:`Seed` or a :class:`ConfigError`.

    Every problem found is reported at once (``ConfigError.errors``), each
    with its path in the document, e.g. ``enterprises[0].accounts[1].balance``.
    """
    try:
        document = yaml.load(text, Loader=_SeedLoader)  # a SafeLoader subclass: no objects
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "not valid YAML"
        raise ConfigError(source, where, f"not valid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(source, "", f"not valid YAML: {exc}") from None
    except (ValueError, TypeError, OverflowError) as exc:
        # PyYAML's constructors raise plain ValueError for values that look
        # typed but are not, e.g. an unquoted date 2026-13-01.
        raise ConfigError(source, "", f"not valid YAML: {exc}") from None
    except RecursionError:
        raise ConfigError(source, "", "not valid YAML: nested too deeply") from None
    checker = _SeedChecker(source)
    seed = checker.seed(document)
    if checker.errors:
        raise ConfigError.collect(checker.errors)
    if seed is None:  # every failing path records an error, so this is a bug
        raise AssertionError("seed check failed without an error")
    return seed


def load_seed(path: str | os.PathLike[str]) -> Seed:
    """Read a seed file (UTF-8) and :func:`parse_seed` it."""
    source = os.fspath(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError(source, "", "file not found") from None
    except OSError as exc:
        raise ConfigError(source, "", f"cannot read the file: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(source, "", f"not UTF-8 text (bad byte at offset {exc.start})") from None
    return parse_seed(text, source)


#: The seed ``directlink up`` uses when none is given; etc/seed-demo.yaml is a copy.
DEMO_SEED = """\
# directlink demo seed: the bank, its customers and their opening balances, as
# `directlink up` creates them when no --seed is given.
#
# Amounts are yuan with two decimals, always quoted: an unquoted YAML number
# would lose precision. Numbers that are codes (bank_no, corp_no, user_no,
# acno) are quoted too, or YAML would drop their leading zeros.
bank:
  name: Simulated Bank
  bank_no: "301290000007"          # this bank's 12-digit routing number
  # business_date: "2026-11-24"    # optional; default: today

enterprises:
  - corp_no: "0000000001"          # enterprise code (e-banking customer number)
    name: Demo Insurance Co., Ltd.
    users:
      - user_no: "001"             # direct-connect operator
    limits:                        # optional, yuan: per transfer and per day
      single: "5000000.00"
      daily: "20000000.00"
    accounts:
      - acno: "310066726018010000001"
        name: Demo Insurance Co., Ltd.
        currency: CNY
        balance: "1000000.00"
        opened: "2020-01-01"       # optional
      - acno: "310066726018010000002"
        name: Demo Insurance Co., Ltd.
        currency: CNY
        balance: "250000.00"
      - acno: "310066726018010000003"
        name: Demo Insurance Co., Ltd.
        currency: CNY
        balance: "5000.00"
        status: frozen             # active (default) | frozen | closed
        # hold: "0.00"             # optional: held, excluded from the available balance

  - corp_no: "0000000002"
    name: Demo Trading Co., Ltd.
    users:
      - user_no: "001"
    accounts:
      - acno: "310066726018010000101"
        name: Demo Trading Co., Ltd.
        currency: CNY
        balance: "500000.00"

external_accounts:                 # accounts at other banks
  - acno: "6222020200000000001"
    name: Zhang San
    bank_no: "102100099996"
    bank_name: ICBC Beijing Branch
    status: active
  - acno: "6222020200000000002"
    name: Li Si
    bank_no: "102100099996"
    bank_name: ICBC
    status: active
  - acno: "6217000010000000003"
    name: Wang Wu
    bank_no: "105100000017"
    bank_name: China Construction Bank Beijing
    status: closed                 # transfers to it fail and are returned
"""
