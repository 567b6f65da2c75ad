"""Scenario rules at work in the bank: matching, counting, and what is left to happen.

The rules (:mod:`config.scenario`) are kept in the bank's database (``meta``
key ``scenario``), so that ``directlink core rules load`` and a test's
``bank_rules`` fixture change them for a running core: the ledger reads them
again at its next transaction when they changed. Loading rules resets their
counts.

Matching is deterministic. Each rule counts, per business date, the requests
(or batch items) that met its conditions (``scenario_counts``); ``nth``
compares with that count, and ``times`` with how often the rule fired in
all. A ``probability`` is decided by a generator seeded with the document's
``seed``, the rule's name and the match's number, so the same requests
against the same rules fire the same rules, whatever ran before or in which
process.

What an action leaves for later — a held transfer, a payment to be returned
at clearing, a return after settlement — is a row of ``scenario_pending``
(:mod:`core_sim.clearing` acts on it when it is due by the business clock).
"""

from __future__ import annotations

import fnmatch
import hashlib
import random
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta

from config.scenario import TRANSFER_ACTIONS, Rule, Scenario, Then

__all__ = ["TRANSFER_ACTIONS", "Fired", "Pending", "Rules", "Subject", "counts", "done",
           "leave_pending", "pending", "settled", "store"]

META_KEY = "scenario"

#: The actions a request can trigger, by kind of request; fail_item is for batch items.
_REQUEST_ACTIONS = frozenset({"delay", "refuse", "unknown", "drop_after_commit"})
_TRANSFER_CODES = frozenset({"210201", "210224"})


@dataclass(frozen=True, slots=True)
class Subject:
    """What the rules look at: a request, or one item of a batch."""

    tr_code: str
    corp_no: str
    req_no: str = ""
    pay_acno: str = ""
    rcv_acno: str = ""
    amt: int | None = None
    item: bool = False  # an item of a batch (only fail_item applies)
    inter_bank: bool = False  # a payment to another bank (return, return_after_settle)
    accepted: bool = False  # a transfer the bank accepted: only now may it be held or returned


@dataclass(frozen=True, slots=True)
class Fired:
    rule: str
    then: Then


class Rules:
    """The bank's scenario rules as stored; :meth:`fire` decides for one subject."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario

    @classmethod
    def from_text(cls, text: str | None) -> Rules:
        return cls(Scenario.from_json(text) if text else Scenario())

    def __bool__(self) -> bool:
        return bool(self.scenario.rules)

    def fire(self, conn: sqlite3.Connection, subject: Subject, now: datetime, biz: str
             ) -> Fired | None:
        """The first rule that fires for ``subject``, counted; None when none does."""
        for rule in self.scenario.rules:
            if not _applies(rule, subject) or not _matches(rule, subject, now):
                continue
            matched = _count(conn, rule.name, biz, "matched")
            if rule.when.nth is not None and matched != rule.when.nth:
                continue
            if rule.times is not None and _fired_in_all(conn, rule.name) >= rule.times:
                continue
            if rule.probability is not None and not _chance(self.scenario.seed, rule.name,
                                                            biz, matched, rule.probability):
                continue
            _count(conn, rule.name, biz, "fired")
            return Fired(rule.name, rule.then)
        return None


def store(conn: sqlite3.Connection, scenario: Scenario) -> None:
    """Replace the bank's rules (inside the caller's transaction); counts start again."""
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (META_KEY, scenario.to_json()))
    conn.execute("DELETE FROM scenario_counts")


def counts(conn: sqlite3.Connection) -> dict[str, tuple[int, int]]:
    """Each rule's (matched, fired), all business dates together."""
    return {name: (matched, fired) for name, matched, fired in conn.execute(
        "SELECT rule, sum(matched), sum(fired) FROM scenario_counts GROUP BY rule")}


# -- what is left to happen ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pending:
    instruction_id: int
    rule: str
    action: str  # hold | return | return_after_settle
    due: datetime | None  # None: a return after settlement, before the payment settled
    after_seconds: int
    settle: bool
    message: str

    def is_due(self, now: datetime) -> bool:
        return self.due is not None and self.due <= now


def leave_pending(conn: sqlite3.Connection, instruction_id: int, fired: Fired,
                  now: datetime) -> None:
    """Remember what ``fired`` will do to the instruction later (hold, return...)."""
    then = fired.then
    due = None if then.action == "return_after_settle" else (
        now + timedelta(seconds=then.after_seconds))
    conn.execute(
        "INSERT INTO scenario_pending (instruction_id, rule, action, due, after_seconds,"
        " settle, message) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (instruction_id, fired.rule, then.action, due and due.isoformat(),
         then.after_seconds, int(then.settle), then.message))


def pending(conn: sqlite3.Connection) -> dict[int, Pending]:
    """What rules left to happen, by instruction id (usually nothing: one cheap query)."""
    return {row[0]: Pending(row[0], row[1], row[2],
                            row[3] and datetime.fromisoformat(row[3]), *row[4:])
            for row in conn.execute(
                "SELECT instruction_id, rule, action, due, after_seconds, settle, message"
                " FROM scenario_pending")}


def settled(conn: sqlite3.Connection, item: Pending, now: datetime) -> None:
    """A payment to be returned after settlement settled: its delay starts now."""
    conn.execute("UPDATE scenario_pending SET due = ? WHERE instruction_id = ?",
                 ((now + timedelta(seconds=item.after_seconds)).isoformat(),
                  item.instruction_id))


def done(conn: sqlite3.Connection, instruction_id: int) -> None:
    conn.execute("DELETE FROM scenario_pending WHERE instruction_id = ?", (instruction_id,))


# -- matching ------------------------------------------------------------------------


def _applies(rule: Rule, subject: Subject) -> bool:
    """Whether the rule's action can happen to this kind of subject at all."""
    action = rule.then.action
    if subject.item:
        return action == "fail_item"
    if action in _REQUEST_ACTIONS:
        return not subject.accepted
    if (not subject.accepted or action not in TRANSFER_ACTIONS
            or subject.tr_code not in _TRANSFER_CODES):
        return False
    return action == "hold" or subject.inter_bank


def _matches(rule: Rule, subject: Subject, now: datetime) -> bool:
    when = rule.when
    if when.tr_codes and subject.tr_code not in when.tr_codes:
        return False
    for pattern, value in ((when.corp_no, subject.corp_no), (when.pay_acno, subject.pay_acno),
                           (when.rcv_acno, subject.rcv_acno), (when.req_no, subject.req_no)):
        if pattern and not fnmatch.fnmatchcase(value, pattern):
            return False
    if when.min_amt is not None and (subject.amt is None or subject.amt < when.min_amt):
        return False
    if when.max_amt is not None and (subject.amt is None or subject.amt > when.max_amt):
        return False
    if when.between is not None:
        clock_time = now.time().replace(microsecond=0).isoformat()
        if not when.between[0] <= clock_time <= when.between[1]:
            return False
    return True


def _count(conn: sqlite3.Connection, rule: str, biz: str, column: str) -> int:
    ((value,),) = conn.execute(
        f"INSERT INTO scenario_counts (rule, biz_date, {column}) VALUES (?, ?, 1)"
        f" ON CONFLICT (rule, biz_date) DO UPDATE SET {column} = {column} + 1"
        f" RETURNING {column}", (rule, biz)).fetchall()
    return value


def _fired_in_all(conn: sqlite3.Connection, rule: str) -> int:
    (value,) = conn.execute("SELECT coalesce(sum(fired), 0) FROM scenario_counts"
                            " WHERE rule = ?", (rule,)).fetchone()
    return value


def _chance(seed: int, rule: str, biz: str, matched: int, probability: float) -> bool:
    material = f"{seed}\x00{rule}\x00{biz}\x00{matched}".encode()
    generator = random.Random(int.from_bytes(hashlib.sha256(material).digest()[:8], "big"))
    return generator.random() < probability
