"""The bank's journal: what it received, what it did and answered, as JSON lines.

A test observes the bank through this file (``journal.jsonl`` in the core's
home, written when the core runs with ``--journal``; the testing plugin's
``bank_journal`` reads it). One JSON object per line, in the order the bank
committed them, each with ``kind`` and ``at`` (the business time):

``request``
    ``tr_code, corp_no, user_no, req_no, frag_no`` and ``fields`` (the
    decoded body; amounts in integer fen; a batch segment's items as their
    count ``{"items": N}``), ``rule`` (the scenario rule that fired, or
    null), ``reply`` (``ret_code, ret_msg, serial_no, fields``), ``sent``
    (``reply``, ``late`` after a delay, ``unknown`` when the bank answered
    "outcome unknown", ``dropped`` when it dropped the connection instead)
    and ``effect``: the entries it posted, each ``serial_no, kind, legs``
    with ``acno, side, amount`` per leg (items of a batch as one
    ``{"kind": "batch_item", "count": N, "amount": fen}``).
``clearing``
    a clearing run that settled, returned or gave up on payments:
    ``run_no``, ``batch`` and ``payments`` (``corp_no, req_no, amt,
    outcome, reason``).
``end_of_day``
    ``business_date``: the date the bank moved to.
``clock``
    ``mode`` after the clock was set, advanced or released (the new time is ``at``).
``rules``
    ``names``: the scenario rules loaded, in order.
``batch_run``
    ``batch_id``, ``executed`` items of a chunk, ``finished``. Items a rule
    failed (``fail_item``) show in the rule's counts and the items' results,
    not here.

Lines are appended after the transaction they describe committed, so the
journal never shows what did not happen; a crash between a COMMIT and its
line loses the line, never the money.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from config.files import create_private

FILE_NAME = "journal.jsonl"

_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode


class Journal:
    """Appends events to a JSON-lines file (created 0600)."""

    def __init__(self, path: Path) -> None:
        self.path = create_private(Path(path))
        # O_APPEND: lines from several processes (the core, `core clock`) never overlap.
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)

    def write(self, events: list[dict]) -> None:
        if events:
            os.write(self._fd, "".join(_ENCODE(e) + "\n" for e in events).encode("utf-8"))

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def summarize_fields(fields: Mapping[str, object]) -> dict:
    """A request's fields for the journal: lists (a batch's items) as their count."""
    return {key: ({"items": len(value)} if isinstance(value, list | tuple) else value)
            for key, value in fields.items()}
