"""Identifier rules, shared with the client's ini file (config.ini) and the bank counter.

Each ``*_problem`` function returns None when the text is acceptable, else the
reason it is not, phrased to follow ``PATH: `` in an error message.
"""

from __future__ import annotations

import re

_DIGITS = re.compile(r"[0-9]+")
_ALNUM = re.compile(r"[0-9A-Za-z]+")
# Names land in pipe-delimited reply tables (serial_record) and in
# fixed-width GB18030 message fields, so '|' and control characters would
# corrupt replies and the byte length is what counts, not the characters.
_NAME_FORBIDDEN = re.compile(r"[|\x00-\x1f\x7f]")
NAME_MAX_BYTES = 60
# 18-character resident identity card number (GB 11643): 17 digits, then a
# check character that is a digit or X.
_ID_NO = re.compile(r"[0-9]{17}[0-9X]")
ID_NO_LENGTH = 18
#: An agreement number travels as 20 ASCII characters on the wire (330010, 310210).
AGREEMENT_NO_MAX = 20

ACCOUNT_STATUSES = ("active", "frozen", "closed")
EXTERNAL_STATUSES = ("active", "closed")
AGREEMENT_STATUSES = ("active", "revoked")


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


def _alnum_problem(text: str, high: int) -> str | None:
    if not text:
        return f"must not be empty (expected 1-{high} letters or digits)"
    if not _ALNUM.fullmatch(text):
        return f"must be letters and digits only: {text!r}"
    if len(text) > high:
        return f"must be at most {high} characters, not {len(text)}: {text!r}"
    return None


def user_no_problem(text: str) -> str | None:
    """Why ``text`` is not an operator number (1-20 letters/digits), or None."""
    return _alnum_problem(text, 20)


def agreement_no_problem(text: str) -> str | None:
    """Why ``text`` is not a collection agreement number (1-20 letters/digits), or None."""
    return _alnum_problem(text, AGREEMENT_NO_MAX)


def bank_no_problem(text: str) -> str | None:
    """Why ``text`` is not a 12-digit bank routing number, or None."""
    return _digits_problem(text, 12, 12)


def acno_problem(text: str) -> str | None:
    """Why ``text`` is not an account number (1-32 digits), or None."""
    return _digits_problem(text, 1, 32)


def id_no_problem(text: str) -> str | None:
    """Why ``text`` is not an 18-character resident ID number, or None.

    Only the form is checked (17 digits, then a digit or X): the check
    character's arithmetic is the issuing authority's business, and test data
    made up for a simulated bank rarely gets it right.
    """
    if _ID_NO.fullmatch(text):
        return None
    if not text:
        return "must not be empty (expected an 18-character resident ID number)"
    if len(text) != ID_NO_LENGTH:
        return (f"must be {ID_NO_LENGTH} characters (17 digits, then a digit or X),"
                f" not {len(text)}: {text!r}")
    if text[-1] == "x" and _ID_NO.fullmatch(text[:-1] + "X"):
        return f"the check character is a capital X: {text!r}"
    return f"must be 17 digits, then a digit or X: {text!r}"


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
