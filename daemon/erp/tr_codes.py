"""Every single-request tr_code, collected from the family modules.

A family module (:mod:`.queries`, :mod:`.transfers`) declares its codes'
``REQUEST_RULES`` and ``REPLY_BODIES``, and optionally ``REQUEST_CHECKS``
and ``UNKNOWN_OUTCOME_BODIES``; this module merges them for
:mod:`.requests` and :mod:`.replies`, and refuses a code declared twice or
without its reply converter. The batch codes (:mod:`.batches`) take many
wire requests each and are served by their own handler instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

from daemon.erp import approvals, audit, queries, receipts, transfers
from daemon.erp.fields import FieldRule, ReplyBody

__all__ = ["REPLY_BODIES", "REQUEST_CHECKS", "REQUEST_RULES", "SUPPORTED_TR_CODES",
           "UNKNOWN_OUTCOME_BODIES"]

FAMILIES: tuple[ModuleType, ...] = (queries, transfers, approvals, audit, receipts)


def _collect(name: str) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for family in FAMILIES:
        for tr_code, value in getattr(family, name, {}).items():
            if tr_code in merged:
                raise RuntimeError(f"tr_code {tr_code} declared twice ({family.__name__})")
            merged[tr_code] = value
    return merged


#: Request body fields per tr_code, in wire order (see the family modules).
REQUEST_RULES: dict[str, tuple[FieldRule, ...]] = _collect("REQUEST_RULES")
#: The ERP reply body for the core's successful answer, per tr_code.
REPLY_BODIES: dict[str, ReplyBody] = _collect("REPLY_BODIES")
#: Checks across a request's converted fields, per tr_code (few have one).
REQUEST_CHECKS: dict[str, Callable[[Mapping[str, str | int]], None]] = \
    _collect("REQUEST_CHECKS")
#: The reply body when the outcome is unknown, per tr_code (empty if absent).
UNKNOWN_OUTCOME_BODIES: dict[str, dict[str, str]] = _collect("UNKNOWN_OUTCOME_BODIES")

SUPPORTED_TR_CODES: frozenset[str] = frozenset(REQUEST_RULES)

if set(REPLY_BODIES) != SUPPORTED_TR_CODES:
    raise RuntimeError(
        "every tr_code needs both REQUEST_RULES and REPLY_BODIES: "
        f"{sorted(set(REPLY_BODIES) ^ SUPPORTED_TR_CODES)}"
    )
