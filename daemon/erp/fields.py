"""One field at a time: how an ERP request field is checked, and how a reply field is read.

Every family module (:mod:`.queries`, :mod:`.transfers`, :mod:`.batches`)
declares its request bodies as tuples of :class:`FieldRule`; this module holds
that form, the check for each :class:`Kind`, and :func:`convert_fields`, which
turns an ERP body (yuan strings, optional fields) into wire fields (integer
fen, every field present, ``""`` = absent). A failed check raises
:class:`FieldError`, naming the field and carrying the code the ERP sees.

In the other direction, :func:`wire_text` and :func:`wire_yuan` read one field
of the core's answer for a reply body, and raise :class:`WireReplyError` if
the core sent something else.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum

from daemon.erp_xml import EXCERPT_CHARS, excerpt
from protocol import codes
from protocol.bodies import ACNO, BANK_NO
from protocol.codes import ReturnCode
from protocol.money import AmountError, format_yuan, parse_yuan

__all__ = [
    "CHECKS",
    "FieldError",
    "FieldRule",
    "Kind",
    "ReplyBody",
    "WireReplyError",
    "acno_rule",
    "ascii_rule",
    "convert",
    "convert_fields",
    "count_rule",
    "flag_rule",
    "raw_value",
    "text_rule",
    "wire_text",
    "wire_yuan",
]


class Kind(Enum):
    """How an ERP field is checked and converted."""

    ACNO = "account number: letters, digits, '-'"
    TEXT = "text, at most {width} bytes in GB18030 (a Chinese character is 2)"
    ASCII = "printable ASCII, at most {width} characters"
    BANK_NO = "12-digit bank number (联行号)"
    CURRENCY = "3-letter currency code"
    DATE = "date YYYYMMDD"
    AMOUNT = "yuan, up to two decimals, positive"
    FLAG = "one of the listed values"
    COUNT = "non-negative integer, at most {width} digits"


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldRule:
    """One ERP request body field: its checks, default and documentation."""

    name: str
    kind: Kind
    doc: str
    width: int = 0
    required: bool = False
    default: str = ""
    choices: tuple[str, ...] = ()
    maximum: int | None = None
    aliases: tuple[str, ...] = ()
    hint: str = ""

    def describe(self) -> str:
        """The format column of the docs' field tables."""
        if self.kind in (Kind.TEXT, Kind.ASCII, Kind.COUNT):
            text = self.kind.value.format(width=self.width)
        elif self.kind is Kind.ACNO:
            text = f"{self.kind.value}, at most {self.width}"
        elif self.kind is Kind.FLAG:
            text = "one of " + ", ".join(f"`{c}`" for c in self.choices)
        else:
            text = self.kind.value
        if self.maximum is not None:
            text += f", at most {self.maximum}"
        return text


# -- shorthands for the common rules ---------------------------------------------


def acno_rule(name: str, doc: str, *, required: bool = True, width: int = ACNO) -> FieldRule:
    return FieldRule(name=name, kind=Kind.ACNO, width=width, required=required, doc=doc)


def text_rule(name: str, width: int, doc: str, *, required: bool = False) -> FieldRule:
    return FieldRule(name=name, kind=Kind.TEXT, width=width, required=required, doc=doc)


def ascii_rule(name: str, width: int, doc: str, *, required: bool = False) -> FieldRule:
    return FieldRule(name=name, kind=Kind.ASCII, width=width, required=required, doc=doc)


def count_rule(name: str, width: int, doc: str, *, required: bool = False,
               maximum: int | None = None) -> FieldRule:
    return FieldRule(name=name, kind=Kind.COUNT, width=width, required=required, doc=doc,
                     maximum=maximum)


def flag_rule(name: str, doc: str, choices: tuple[str, ...] = ("0", "1"), *,
              hint: str = "") -> FieldRule:
    """A flag whose first choice is its default."""
    return FieldRule(name=name, kind=Kind.FLAG, choices=choices, default=choices[0], doc=doc,
                     hint=hint)


# -- checking and converting request fields ---------------------------------------


class FieldError(Exception):
    """A request field is missing or malformed; ``code`` is what the ERP is told."""

    def __init__(self, info: str, code: ReturnCode = codes.INVALID_FIELD) -> None:
        super().__init__(info)
        self.info = info
        self.code = code


def convert_fields(rules: tuple[FieldRule, ...], values: Mapping[str, object],
                   where: str = "") -> dict[str, str | int]:
    """Every rule's wire value from an ERP body (or item), in rule order.

    Raises :class:`FieldError` for the first bad field, its info prefixed
    with ``where`` (e.g. ``"item 3: "``). Fields no rule names are ignored,
    as the bank's client does.
    """
    out: dict[str, str | int] = {}
    for rule in rules:
        try:
            out[rule.name] = convert(rule, raw_value(values, rule))
        except FieldError as exc:
            if not where:
                raise
            raise FieldError(f"{where}{exc.info}", exc.code) from None
    return out


def raw_value(body: Mapping[str, object], rule: FieldRule) -> str:
    """The field's text as the ERP sent it, ``""`` if absent, under its name or an alias."""
    if not rule.aliases:
        # The common case, checked first: one name, given as text or absent.
        value = body.get(rule.name, "")
        if isinstance(value, str):
            return value
    found: list[tuple[str, str]] = []
    for name in (rule.name, *rule.aliases):
        if name not in body:
            continue
        value = body[name]
        if isinstance(value, list):
            raise FieldError(f"{name} appears {len(value)} times; expected one value")
        if not isinstance(value, str):
            raise FieldError(f"{name} must be text, not nested elements")
        if value:
            found.append((name, value))
    if len({value for _, value in found}) > 1:
        names = " and ".join(name for name, _ in found)
        raise FieldError(f"{names} give different values")
    return found[0][1] if found else ""


def convert(rule: FieldRule, value: str) -> str | int:
    """The wire value of one field: checked, defaulted, amounts and counts as ints."""
    if not value:
        if rule.required:
            raise FieldError(f"missing field {rule.name}")
        return 0 if rule.kind is Kind.COUNT else rule.default
    return CHECKS[rule.kind](rule, value)


_ACNO_CHARS = re.compile(r"[0-9A-Za-z-]+")
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DATE = re.compile(r"[0-9]{8}")
_CURRENCY = re.compile(r"[A-Za-z]{3}")


def _check_amount(rule: FieldRule, value: str) -> int:
    if len(value) > EXCERPT_CHARS:
        # No amount is this long (14 digits, 2 decimals); parse_yuan would echo it whole.
        raise FieldError(f"{rule.name}: not an amount: {excerpt(value)}",
                         codes.INVALID_AMOUNT)
    try:
        return parse_yuan(value)
    except AmountError as exc:
        raise FieldError(f"{rule.name}: {exc}", codes.INVALID_AMOUNT) from None


def _check_acno(rule: FieldRule, value: str) -> str:
    if len(value) > rule.width or not _ACNO_CHARS.fullmatch(value):
        raise FieldError(
            f"{rule.name} must be at most {rule.width} letters, digits or '-': {excerpt(value)}"
        )
    return value


def _check_text(rule: FieldRule, value: str) -> str:
    name = rule.name
    if _CONTROL.search(value):
        raise FieldError(f"{name} contains control characters (line breaks, tabs)")
    if "|" in value:
        # '|' separates the cells of the serial_record tables this text
        # later appears in (details, status queries).
        raise FieldError(f"{name} must not contain '|'")
    # ASCII takes one byte per character in GB18030: no need to encode it.
    size = len(value) if value.isascii() else len(value.encode("gb18030"))
    if size > rule.width:
        raise FieldError(
            f"{name} is {size} bytes in GB18030; at most {rule.width} "
            "(a Chinese character takes 2)"
        )
    return value


def _check_ascii(rule: FieldRule, value: str) -> str:
    if not _PRINTABLE_ASCII.fullmatch(value) or "|" in value:
        raise FieldError(
            f"{rule.name} must be printable ASCII (letters, digits, punctuation except '|'): "
            f"{excerpt(value)}"
        )
    if len(value) > rule.width:
        raise FieldError(f"{rule.name} is {len(value)} characters; at most {rule.width}")
    return value


def _check_bank_no(rule: FieldRule, value: str) -> str:
    if len(value) != BANK_NO or not value.isascii() or not value.isdigit():
        raise FieldError(f"{rule.name} must be {BANK_NO} digits: {excerpt(value)}")
    return value


def _check_currency(rule: FieldRule, value: str) -> str:
    if not _CURRENCY.fullmatch(value):
        raise FieldError(
            f"{rule.name} must be a 3-letter currency code such as CNY: {excerpt(value)}")
    return value.upper()


def _check_date(rule: FieldRule, value: str) -> str:
    if not _DATE.fullmatch(value):
        raise FieldError(f"{rule.name} must be a date YYYYMMDD: {excerpt(value)}")
    try:
        dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        raise FieldError(f"{rule.name} is not a calendar date: {value!r}") from None
    return value


def _check_flag(rule: FieldRule, value: str) -> str:
    if value not in rule.choices:
        allowed = " or ".join(choice or "empty" for choice in rule.choices)
        hint = f" ({rule.hint})" if rule.hint else ""
        raise FieldError(f"{rule.name} must be {allowed}{hint}: {excerpt(value)}")
    return value


def _check_count(rule: FieldRule, value: str) -> int:
    if not value.isascii() or not value.isdigit() or len(value) > rule.width:
        raise FieldError(f"{rule.name} must be at most {rule.width} digits: {excerpt(value)}")
    number = int(value)
    if rule.maximum is not None and number > rule.maximum:
        raise FieldError(f"{rule.name} must be at most {rule.maximum}: {value}")
    return number


#: How a non-empty value of each kind is checked and converted.
CHECKS: dict[Kind, Callable[[FieldRule, str], str | int]] = {
    Kind.AMOUNT: _check_amount,
    Kind.ACNO: _check_acno,
    Kind.TEXT: _check_text,
    Kind.ASCII: _check_ascii,
    Kind.BANK_NO: _check_bank_no,
    Kind.CURRENCY: _check_currency,
    Kind.DATE: _check_date,
    Kind.FLAG: _check_flag,
    Kind.COUNT: _check_count,
}


# -- reading the core's reply fields ----------------------------------------------

#: A family's reply converter: the core's body fields to the ERP's reply body.
ReplyBody = Callable[[Mapping[str, object]], dict[str, str]]


class WireReplyError(ValueError):
    """The core's reply lacks a field this tr_code needs, or has the wrong type.

    A local fault (the core and daemon disagree), never the ERP's: the caller
    should log it and answer :func:`~daemon.erp.replies.outcome_unknown_reply`,
    because the core may have executed the request.
    """


def wire_yuan(record: Mapping[str, object], name: str) -> str:
    """An integer-fen field as a yuan string."""
    value = record.get(name)
    if value.__class__ is not int:
        raise WireReplyError(f"wire reply field {name}: expected integer fen, got {value!r}")
    return format_yuan(value)  # type: ignore[arg-type]


def wire_text(record: Mapping[str, object], name: str) -> str:
    """A text field (an int is shown as its digits; absent or None is ``""``)."""
    value = record.get(name, "")
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if value.__class__ is int:
        return str(value)
    raise WireReplyError(f"wire reply field {name}: expected text, got {value!r}")
