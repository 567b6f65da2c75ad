"""Seed lists kept in a CSV file beside the seed: ``personal_accounts: {file: payers.csv}``.

A million payers written out in YAML would take PyYAML minutes and
gigabytes; as CSV they stream. Loading a seed checks only the file's name and
its header row; the :class:`CsvList` in the :class:`~config.seed.model.Seed`
then reads the rows — and checks each with the same rules as a row in the
YAML (:mod:`config.seed.rows`) — every time it is iterated, so the rows are
never all in memory. A bad row is reported with its path and line
(``payers.csv, line 12347: personal_accounts[12345].balance: negative amount``)
as a :class:`~config.errors.ConfigRowError` once the reading ends; whoever
applies the seed does so in one transaction, so nothing of it remains.

Most rows are plainly fine, and the general checks cost several
microseconds a row; so each row first meets a fast check that accepts only
rows the general checks would accept as they are, and anything else (a long
name, a blank balance, a mistake) goes through the general checks, which
have the last word and the messages.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from config.errors import ConfigError, ConfigRowError
from config.seed.checks import show, suggest
from config.seed.model import Agreement, PersonalAccount
from config.seed.rows import (
    AGREEMENT_OPTIONAL,
    AGREEMENT_REQUIRED,
    PERSONAL_OPTIONAL,
    PERSONAL_REQUIRED,
    RowChecker,
    RowContext,
)
from config.seed.rules import ACCOUNT_STATUSES, AGREEMENT_STATUSES

R = TypeVar("R", PersonalAccount, Agreement)

#: Reading stops after this many bad rows: a wrong file should not take a
#: million messages (and their memory) to say so.
MAX_ROW_ERRORS = 100

_ACNO = re.compile(r"[0-9]{1,32}").fullmatch
_ID_NO = re.compile(r"[0-9]{17}[0-9X]").fullmatch
_AGREEMENT_NO = re.compile(r"[0-9A-Za-z]{1,20}").fullmatch
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}").fullmatch
# A name that cannot be refused: no space at either end, nothing forbidden.
_NAME = re.compile(r"[^\s|\x00-\x1f\x7f](?:[^|\x00-\x1f\x7f]*[^\s|\x00-\x1f\x7f])?").fullmatch


def _name_ok(text: str) -> bool:
    # At most 4 bytes a character in GB18030, 1 for ASCII: within 60 bytes
    # without encoding it. Longer names take the general check.
    return (len(text) <= 15 or (len(text) <= 60 and text.isascii())) and bool(_NAME(text))


def _fen(text: str) -> int | None:
    """Plain ``digits`` or ``digits.dd`` yuan in fen, else None (the general check decides)."""
    if text[-3:-2] == ".":
        digits = text[:-3] + text[-2:]
        if 2 < len(digits) <= 16 and digits.isascii() and digits.isdigit():
            return int(digits)
        return None
    if 0 < len(text) <= 14 and text.isascii() and text.isdigit():
        return int(text) * 100
    return None


def _date(text: str) -> dt.date | None:
    if not _ISO_DATE(text):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


Fast = Callable[[list[str]], Any]


def _personal_fast(columns: dict[str, int], context: RowContext) -> Fast:
    i_acno, i_name, i_id_no = columns["acno"], columns["name"], columns["id_no"]
    i_balance, i_status = columns.get("balance"), columns.get("status")
    used = context.acnos

    def fast(cells: list[str]) -> PersonalAccount | None:
        acno, name, id_no = cells[i_acno], cells[i_name], cells[i_id_no]
        if not (_ACNO(acno) and _ID_NO(id_no) and _name_ok(name)) or acno in used:
            return None
        balance: int | None = 0
        if i_balance is not None and cells[i_balance]:
            balance = _fen(cells[i_balance])
            if balance is None:
                return None
        status = "active"
        if i_status is not None and cells[i_status]:
            status = cells[i_status]
            if status not in ACCOUNT_STATUSES:
                return None
        return PersonalAccount(acno, name, id_no, balance, status)

    return fast


def _agreement_fast(columns: dict[str, int], context: RowContext) -> Fast:
    i_no, i_corp, i_rcv = columns["agreement_no"], columns["corp_no"], columns["rcv_acno"]
    i_payer, i_name = columns["payer_acno"], columns["payer_name"]
    i_max, i_valid, i_status = (columns.get(key) for key in AGREEMENT_OPTIONAL)
    enterprises, used, payers = (context.enterprise_accounts, context.agreement_nos,
                                 context.payers)

    def fast(cells: list[str]) -> Agreement | None:
        agreement_no, corp_no, rcv_acno = cells[i_no], cells[i_corp], cells[i_rcv]
        payer_acno, payer_name = cells[i_payer], cells[i_name]
        accounts = enterprises.get(corp_no)
        if (accounts is None or rcv_acno not in accounts or not _AGREEMENT_NO(agreement_no)
                or not _ACNO(payer_acno) or not _name_ok(payer_name) or agreement_no in used):
            return None
        if payers is not None and payers.get(payer_acno) != payer_name:
            return None
        max_amt = valid_to = None
        if i_max is not None and cells[i_max]:
            max_amt = _fen(cells[i_max])
            if not max_amt:
                return None
        if i_valid is not None and cells[i_valid]:
            valid_to = _date(cells[i_valid])
            if valid_to is None:
                return None
        status = "active"
        if i_status is not None and cells[i_status]:
            status = cells[i_status]
            if status not in AGREEMENT_STATUSES:
                return None
        return Agreement(agreement_no, corp_no, rcv_acno, payer_acno, payer_name, max_amt,
                         valid_to, status)

    return fast


@dataclass(frozen=True, slots=True)
class _Kind:
    required: tuple[str, ...]
    optional: tuple[str, ...]
    check: str  # the RowChecker method
    fast: Callable[[dict[str, int], RowContext], Fast]

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional


KINDS = {
    "personal_accounts": _Kind(PERSONAL_REQUIRED, PERSONAL_OPTIONAL, "personal_account",
                               _personal_fast),
    "agreements": _Kind(AGREEMENT_REQUIRED, AGREEMENT_OPTIONAL, "agreement", _agreement_fast),
}


def header_problems(cells: list[str], kind: _Kind) -> list[str]:
    """What is wrong with a header row naming the columns of a ``kind`` list."""
    problems = []
    seen: set[str] = set()
    for number, name in enumerate(cells, start=1):
        if not name.strip():
            problems.append(f"column {number} has no name (expected {', '.join(kind.columns)})")
        elif name not in kind.columns:
            problems.append(f"unknown column {show(name)}{suggest(name, kind.columns)}")
        elif name in seen:
            problems.append(f"column {name!r} appears twice")
        seen.add(name)
    problems += [f"missing required column {name!r}" for name in kind.required
                 if name not in seen]
    return problems


@dataclass(frozen=True, slots=True, eq=True)
class CsvList(Generic[R]):
    """The rows of one seed list (``key``) in a CSV file, checked as they are read.

    ``header`` is the file's header row as it was when the seed was loaded;
    a file changed since then is reported, not guessed at.
    """

    key: str  # personal_accounts | agreements
    path: Path
    header: tuple[str, ...]
    context: RowContext = field(compare=False, repr=False)

    @property
    def source(self) -> str:
        return str(self.path)

    def __iter__(self) -> Iterator[R]:
        """Every row, checked; after the last, a ConfigRowError if any row was bad."""
        errors: list[ConfigError] = []
        for _, _, row in self.located(errors):
            yield row
        if errors:
            raise ConfigRowError.collect(errors)

    def located(self, errors: list[ConfigError]) -> Iterator[tuple[int, int, R]]:
        """``(index, line, row)`` of every good row; each bad one is appended to ``errors``.

        Reading stops once ``errors`` holds :data:`MAX_ROW_ERRORS` problems
        (whoever passes the list may add their own).
        """
        kind = KINDS[self.key]
        columns = {name: position for position, name in enumerate(self.header)}
        fast = kind.fast(columns, self.context)
        checker = RowChecker(self.source, self.context, claim=False)
        check = getattr(checker, kind.check)
        width = len(self.header)
        for index, (line, cells) in enumerate(self._lines(errors)):
            if len(cells) != width:
                errors.append(self.error(index, line, "",
                                         f"{len(cells)} cells, but the header names {width}"
                                         " columns"))
            else:
                row = fast(cells)
                if row is None:
                    data = {name: cell for name, cell in zip(self.header, cells, strict=True)
                            if cell or name in kind.required}
                    before = len(checker.errors)
                    row = check(data, f"{self.key}[{index}]")
                    errors += [ConfigRowError(self.source, e.path, e.reason, line=line)
                               for e in checker.errors[before:]]
                    del checker.errors[before:]
                if row is not None:
                    yield index, line, row
                    continue
            if len(errors) >= MAX_ROW_ERRORS:
                errors.append(self.error(None, line, "",
                                         f"stopped reading after {len(errors)} problems"))
                return

    def find(self, column: str, values: set[str]) -> dict[str, tuple[int, int]]:
        """The first ``(index, line)`` of each of ``values`` in ``column`` (for messages)."""
        position = self.header.index(column)
        found: dict[str, tuple[int, int]] = {}
        for index, (line, cells) in enumerate(self._lines([])):
            if len(cells) > position and cells[position] in values:
                found.setdefault(cells[position], (index, line))
                if len(found) == len(values):
                    break
        return found

    def error(self, index: int | None, line: int | None, key: str, reason: str
              ) -> ConfigRowError:
        """A problem of the row ``index`` (None: of the file), at its ``line``."""
        path = self.key if index is None else f"{self.key}[{index}]"
        return ConfigRowError(self.source, f"{path}.{key}" if key else path, reason, line=line)

    def _lines(self, errors: list[ConfigError]) -> Iterator[tuple[int, list[str]]]:
        """(line, cells) of each non-blank row after the header; trouble goes to ``errors``."""
        try:
            with self.path.open(encoding="utf-8-sig", newline="") as f:
                reader = csv.reader(f, strict=True)
                try:
                    header = _first_row(reader)
                except (csv.Error, UnicodeDecodeError) as exc:
                    errors.append(self.error(None, 1, "", _unreadable(exc)))
                    return
                if header is None or tuple(header) != self.header:
                    errors.append(self.error(None, 1, "", "the header row changed since the seed"
                                             f" was loaded: {show(header)}"))
                    return
                while True:
                    try:
                        cells = next(reader)
                    except StopIteration:
                        return
                    except csv.Error as exc:  # line_num: the line it failed on
                        errors.append(self.error(None, reader.line_num, "", _unreadable(exc)))
                        return
                    except UnicodeDecodeError as exc:  # somewhere after the last row read
                        errors.append(self.error(None, reader.line_num + 1, "", _unreadable(exc)))
                        return
                    if cells:
                        yield reader.line_num, cells
        except OSError as exc:
            errors.append(self.error(None, None, "",
                                     f"cannot read the file: {exc.strerror or exc}"))


def _first_row(reader: Iterator[list[str]]) -> list[str] | None:
    """The first row that is not blank (the header), or None for a file without one."""
    return next((cells for cells in reader if cells), None)


def _unreadable(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text (at or after this line)"
    return f"not a valid CSV row: {exc}"


def open_list(key: str, name: object, base_dir: Path | None, context: RowContext,
              fail: Callable[..., None], errors: list[ConfigError]) -> CsvList[Any] | None:
    """The CsvList for ``{file: NAME}`` at ``key``, its name and header checked; or None.

    ``fail(path, reason)`` reports a problem of the seed itself (the file
    key); a problem inside the CSV file goes to ``errors`` with the file's
    name and line.
    """
    path = f"{key}.file"
    if not isinstance(name, str) or not name:
        fail(path, f"expected a file name such as {key}.csv, got {show(name)}")
        return None
    if "/" in name or "\\" in name or name in (".", "..") or "\x00" in name:
        fail(path, f"must be a bare file name in the seed's directory, not a path: {show(name)}")
        return None
    if base_dir is None:
        fail(path, "a list in a file needs the seed's directory: load the seed from its file")
        return None
    file = base_dir / name
    try:
        with file.open(encoding="utf-8-sig", newline="") as f:
            header = _first_row(csv.reader(f, strict=True))
    except FileNotFoundError:
        fail(path, f"no such file: {file}")
        return None
    except IsADirectoryError:
        fail(path, f"not a file: {file}")
        return None
    except OSError as exc:
        fail(path, f"cannot read {file}: {exc.strerror or exc}")
        return None
    except (csv.Error, UnicodeDecodeError) as exc:
        errors.append(ConfigRowError(str(file), key, _unreadable(exc), line=1))
        return None
    kind = KINDS[key]
    if header is None:
        errors.append(ConfigRowError(str(file), key, "empty file: expected a header row naming"
                                     f" the columns {', '.join(kind.columns)}", line=1))
        return None
    problems = header_problems(header, kind)
    if problems:
        errors += [ConfigRowError(str(file), key, problem, line=1) for problem in problems]
        return None
    return CsvList(key, file, tuple(header), context)
