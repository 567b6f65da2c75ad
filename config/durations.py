"""Spans of time as people write them: ``1d``, ``2h30m``, ``90s``, ``500ms``.

Used by the bank's clock commands (``directlink core clock advance``) and
by scenario rules (``after: 10m``).
"""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(?P<n>[0-9]+)(?P<unit>ms|d|h|m|s)")  # "ms" before "m"
_UNITS = {"d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1),
          "s": timedelta(seconds=1), "ms": timedelta(milliseconds=1)}


class DurationError(ValueError):
    """Text that is not a duration; the message says what was expected."""


def parse_duration(text: str) -> timedelta:
    """``"1d"``, ``"2h30m"``, ``"90s"``, ``"500ms"``: a non-negative span (spaces ignored)."""
    stripped = text.strip().replace(" ", "")
    if not stripped:
        raise DurationError("empty duration: expected e.g. 1d, 2h30m, 90s")
    total, position = timedelta(), 0
    for match in _PART.finditer(stripped):
        if match.start() != position:
            break
        total += int(match["n"]) * _UNITS[match["unit"]]
        position = match.end()
    if position != len(stripped):
        raise DurationError(f"not a duration: {text!r} (expected e.g. 1d, 2h30m, 90s)")
    return total
