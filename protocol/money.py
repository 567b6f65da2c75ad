"""Money as integer fen.

Amounts travel on the wire as integer fen and appear to people and ERP systems
as yuan strings with two decimals (``N14.2``). This module is the only place
that converts between the two; nothing in directlink holds money in a float.
"""

from __future__ import annotations

import re

#: The largest amount an ``N14.2`` field can carry, in fen.
MAX_FEN = 10**16 - 1

_YUAN = re.compile(r"(?P<sign>-?)(?P<int>[0-9]+)(?:\.(?P<frac>[0-9]*))?")


class AmountError(ValueError):
    """A yuan string that is not an acceptable amount; the message says why."""


def parse_yuan(text: str, *, allow_zero: bool = False, allow_negative: bool = False) -> int:
    """Parse a yuan string such as ``"12.5"`` or ``"1000.00"`` into integer fen.

    At most two decimals are accepted ("12.5" and "12.50" are the same amount);
    more decimals, exponents, letters, signs other than a leading ``-`` (when
    allowed), and values beyond ``N14.2`` are refused with an explanation.
    """
    if not isinstance(text, str):
        raise AmountError("not an amount: expected a string such as '100.00'")
    stripped = text.strip()
    match = _YUAN.fullmatch(stripped)
    if match is None:
        raise AmountError(f"not an amount: {text!r} (expected digits with up to two decimals)")
    frac = match["frac"] or ""
    if len(frac) > 2:
        raise AmountError(f"more than two decimals: {text!r}")
    if len(match["int"]) > 14:
        raise AmountError(f"too large: {text!r} (at most 14 integer digits)")
    fen = int(match["int"]) * 100 + int(frac.ljust(2, "0") or "0")
    if match["sign"]:
        if not allow_negative and fen != 0:
            raise AmountError(f"negative amount: {text!r}")
        fen = -fen
    if fen == 0 and not allow_zero:
        raise AmountError(f"amount must be positive: {text!r}")
    if fen < 0 and not allow_negative:
        raise AmountError(f"negative amount: {text!r}")
    return fen


def format_yuan(fen: int) -> str:
    """Format integer fen as a yuan string with two decimals: 1250 -> "12.50"."""
    if not isinstance(fen, int) or isinstance(fen, bool):
        raise TypeError(f"fen must be an int, not {type(fen).__name__}")
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"
