"""The checks every part of a seed is made of: shapes, scalars, and how problems are told.

A :class:`Checker` collects problems instead of stopping at the first, each
with the path of the value in the file (``enterprises[0].accounts[1].balance``),
and returns None for a value it refused, so callers build a row only from
values that passed. The same checks serve rows written in the YAML and rows
read from a CSV file, so both get the same messages.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import reprlib
from collections.abc import Callable
from typing import Any

from config.errors import ConfigError
from config.seed.rules import name_problem
from protocol.money import AmountError, parse_yuan

_CURRENCY = re.compile(r"[A-Z]{3}")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

_reprs = reprlib.Repr()
_reprs.maxstring = 60
_reprs.maxother = 60


def show(value: object) -> str:
    """A short repr: values in messages come from untrusted files."""
    return _reprs.repr(value)


def kind(value: object) -> str:
    """What ``value`` is, in words, for "expected X, got Y" messages."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {value}"
    if isinstance(value, int | float):
        return f"the number {show(value)}"
    if isinstance(value, str):
        return f"the string {show(value)}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dt.datetime):
        return f"the date and time {value.isoformat()}"
    if isinstance(value, dt.date):
        return f"the date {value.isoformat()}"
    return f"a {type(value).__name__}"


def at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def suggest(key: object, known: tuple[str, ...]) -> str:
    """`` (did you mean 'x'?)`` for a misspelt key, else the keys that are known."""
    if isinstance(key, str):
        if key.lower() in known and key.lower() != key:
            return f" (did you mean {key.lower()!r}?)"
        close = difflib.get_close_matches(key, known, n=1)
        if close:
            return f" (did you mean {close[0]!r}?)"
    return f" (expected {', '.join(known)})" if known else ""


class Checker:
    """Collects every problem with its path; each check returns None for a refused value."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.errors: list[ConfigError] = []

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
            self.fail(path, f"expected a mapping with keys {allowed}, got {kind(value)}")
            return None
        known = required + optional
        result: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str) or key not in known:
                self.fail(path, f"unknown key {show(key)}{suggest(key, known)}")
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
            self.fail(path, f"expected a list of {what}, got {kind(value)}")
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
                f"must be a string, got {kind(value)} "
                f"(YAML reads unquoted yes/no/on/off as booleans; quote it)",
            )
        elif isinstance(value, int | float):
            self.fail(
                path,
                f'must be a quoted string such as "{example}", got {kind(value)} '
                "(YAML reads unquoted digits as a number and drops leading zeros)",
            )
        else:
            self.fail(path, f"must be a string, got {kind(value)}")
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
                f'amounts must be quoted strings such as "1000.00", got {kind(value)} '
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
            self.fail(path, f"expected a date YYYY-MM-DD, got {kind(value)}")
            return None
        if isinstance(value, dt.date):
            return value
        text = self.string(value, path, "2020-01-01")
        if text is None:
            return None
        if not _ISO_DATE.fullmatch(text):
            self.fail(path, f"expected a date YYYY-MM-DD, got {show(text)}")
            return None
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            self.fail(path, f"not a valid date: {show(text)}")
            return None

    def choice(self, value: object, path: str, choices: tuple[str, ...]) -> str | None:
        text = self.string(value, path, choices[0])
        if text is None:
            return None
        if text not in choices:
            self.fail(path, f"must be one of {', '.join(choices)}, not {show(text)}")
            return None
        return text

    def currency(self, value: object, path: str) -> str | None:
        text = self.string(value, path, "CNY")
        if text is None:
            return None
        if not _CURRENCY.fullmatch(text):
            self.fail(path, f"currency must be 3 capital letters such as CNY, not {show(text)}")
            return None
        return text
