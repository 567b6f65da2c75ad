"""Verifying the ledger's invariants from outside: ``directlink core check``.

:func:`check_ledger` opens the database read-only (it can run beside a live
core, thanks to WAL) and checks, each under its own name:

``entries_balanced``
    every journal entry has at least two postings, all amounts positive, and
    its debits equal its credits; no posting belongs to no entry.
``balances_match_postings``
    every account's cached balance equals ``sum(credits) - sum(debits)`` of
    its postings.
``running_balances``
    every posting's ``balance_after`` (what the details show) is the running
    sum of the account's postings up to it.
``money_conserved``
    per currency, the balances of all accounts sum to zero.
``no_overdraft``
    no customer account has a negative balance.
``executed_once``
    no ``(corp_no, req_no)`` has two instructions; no instruction has more
    than one executing entry (a transfer or an inter-bank debit) or more than
    one clearing outcome (a settlement or a return).
``entry_references``
    every entry other than an opening balance references an existing
    instruction, and settlements and returns an existing clearing run.
``clearing_in_transit``
    clearing in transit holds exactly the processing and suspicious
    inter-bank payments.
``instruction_status``
    each instruction's status agrees with its entries: a successful same-bank
    transfer has its transfer entry, a successful inter-bank payment its debit
    and settlement, a processing or suspicious one its debit only, a failed
    one either nothing at all (refused) or its debit and return; and each
    entry moves the instruction's amount.
``authorizations``
    an instruction awaits authorization exactly when its authorization does
    (a batch's state says so too); a rejected, expired or cancelled one is
    cancelled or expired, never executed; one that needed approval has as many
    approvers as levels once authorized, and no more while it waits.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from core_sim import schema
from core_sim.ledger import CLEARING_IN_TRANSIT

_EXAMPLES = 3  # offending rows named in a failing check's detail


class Check(NamedTuple):
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class CheckReport:
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if not check.ok)

    def __getitem__(self, name: str) -> Check:
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(name)

    def __str__(self) -> str:
        return "\n".join(
            f"{'ok' if check.ok else 'FAIL':<5} {check.name}: {check.detail}"
            for check in self.checks
        )


def check_ledger(path: str | Path) -> CheckReport:
    """Check every invariant of the bank database at ``path`` (opened read-only)."""
    conn = schema.connect_read_only(path)
    try:
        # One read transaction: every check sees the same snapshot.
        conn.execute("BEGIN")
        checks = tuple(check(conn) for check in _CHECKS)
        conn.execute("COMMIT")
    finally:
        conn.close()
    return CheckReport(checks)


def _n(count: int, noun: str, nouns: str | None = None) -> str:
    """``count`` and the noun that agrees with it: 1 entry, 2 entries."""
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"


def _result(name: str, bad: list, what: str, ok_detail: str) -> Check:
    if not bad:
        return Check(name, True, ok_detail)
    examples = "; ".join(str(row) for row in bad[:_EXAMPLES])
    more = f" (and {len(bad) - _EXAMPLES} more)" if len(bad) > _EXAMPLES else ""
    return Check(name, False, f"{len(bad)} {what}: {examples}{more}")


def _entries_balanced(conn: sqlite3.Connection) -> Check:
    bad = [
        f"entry {serial}: {n} postings, debits {d}, credits {c}"
        + (f", {nonpositive} non-positive amounts" if nonpositive else "")
        for serial, n, d, c, nonpositive in conn.execute(
            "SELECT e.serial_no, COUNT(p.id),"
            " COALESCE(SUM(CASE WHEN p.side = 'D' THEN p.amount END), 0),"
            " COALESCE(SUM(CASE WHEN p.side = 'C' THEN p.amount END), 0),"
            " COALESCE(SUM(p.amount <= 0 OR p.side NOT IN ('D', 'C')), 0)"
            " FROM entries e LEFT JOIN postings p ON p.entry_id = e.id GROUP BY e.id"
            " HAVING COUNT(p.id) < 2 OR SUM(CASE WHEN p.side = 'D' THEN p.amount END)"
            " IS NOT SUM(CASE WHEN p.side = 'C' THEN p.amount END)"
            " OR SUM(p.amount <= 0 OR p.side NOT IN ('D', 'C')) > 0"
        )
    ]
    bad += [
        f"posting {posting_id} belongs to no entry"
        for (posting_id,) in conn.execute(
            "SELECT id FROM postings WHERE entry_id NOT IN (SELECT id FROM entries)"
        )
    ]
    total = conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0]
    return _result("entries_balanced", bad, "unbalanced entries",
                   f"{_n(total, 'entry', 'entries')}, each balanced")


def _balances_match_postings(conn: sqlite3.Connection) -> Check:
    bad = [
        f"account {acno}: cached {cached}, postings {derived}"
        for acno, cached, derived in conn.execute(
            "SELECT a.acno, a.balance, COALESCE(s.total, 0) FROM accounts a LEFT JOIN"
            " (SELECT account_id, SUM(CASE side WHEN 'C' THEN amount ELSE -amount END) AS total"
            "  FROM postings GROUP BY account_id) s ON s.account_id = a.id"
            " WHERE a.balance IS NOT COALESCE(s.total, 0) ORDER BY a.id"
        )
    ]
    total = conn.execute("SELECT COUNT(*) FROM accounts").fetchone()[0]
    return _result("balances_match_postings", bad, "accounts differ from their postings",
                   f"{_n(total, 'account')}, each equal to its postings")


def _running_balances(conn: sqlite3.Connection) -> Check:
    bad = [
        f"posting {posting_id} of {acno}: balance_after {after}, running sum {running}"
        for posting_id, acno, after, running in conn.execute(
            "SELECT r.id, a.acno, r.balance_after, r.running FROM"
            " (SELECT id, account_id, balance_after, SUM(CASE side WHEN 'C' THEN amount"
            "  ELSE -amount END) OVER (PARTITION BY account_id ORDER BY id) AS running"
            "  FROM postings) r JOIN accounts a ON a.id = r.account_id"
            " WHERE r.balance_after IS NOT r.running ORDER BY r.id"
        )
    ]
    return _result("running_balances", bad, "postings with a wrong balance_after",
                   "every posting's balance_after is its running sum")


def _money_conserved(conn: sqlite3.Connection) -> Check:
    rows = conn.execute(
        "SELECT currency, SUM(balance), COUNT(*) FROM accounts GROUP BY currency ORDER BY currency"
    ).fetchall()
    posted = conn.execute(
        "SELECT COALESCE(SUM(CASE side WHEN 'C' THEN amount ELSE -amount END), 0) FROM postings"
    ).fetchone()[0]
    bad = [f"{currency} balances sum to {total}" for currency, total, _ in rows if total != 0]
    if posted != 0:
        bad.append(f"all postings sum to {posted}")
    summary = ", ".join(f"{currency}: {_n(n, 'account')} sum to 0" for currency, _, n in rows)
    return _result("money_conserved", bad, "imbalances", summary or "no accounts")


def _no_overdraft(conn: sqlite3.Connection) -> Check:
    bad = [
        f"account {acno}: balance {balance}"
        for acno, balance in conn.execute(
            "SELECT acno, balance FROM accounts WHERE kind IN ('customer', 'personal')"
            " AND balance < 0"
        )
    ]
    return _result("no_overdraft", bad, "customer accounts overdrawn",
                   "no customer or personal account is negative")


def _executed_once(conn: sqlite3.Connection) -> Check:
    bad = [
        f"{corp_no}/{req_no}: {n} instructions"
        for corp_no, req_no, n in conn.execute(
            "SELECT corp_no, req_no, COUNT(*) FROM instructions GROUP BY corp_no, req_no"
            " HAVING COUNT(*) > 1"
        )
    ]
    bad += [
        f"{corp_no}/{req_no}: {executions} executions, {outcomes} clearing outcomes"
        for corp_no, req_no, executions, outcomes in conn.execute(
            "SELECT i.corp_no, i.req_no, k.executions, k.outcomes FROM"
            " (SELECT instruction_id,"
            "  SUM(kind IN ('transfer', 'interbank_debit')) AS executions,"
            "  SUM(kind IN ('settle', 'return')) AS outcomes,"
            # A settled payment the receiving bank sends back later (a scenario
            # rule) has a settle and a return: never two of either.
            "  MAX(SUM(kind = 'settle'), SUM(kind = 'return')) AS most"
            "  FROM entries WHERE instruction_id IS NOT NULL GROUP BY instruction_id) k"
            " JOIN instructions i ON i.id = k.instruction_id"
            " WHERE k.executions > 1 OR k.most > 1 ORDER BY i.id"
        )
    ]
    total = conn.execute("SELECT COUNT(*) FROM instructions").fetchone()[0]
    return _result("executed_once", bad, "instructions executed more than once",
                   f"{_n(total, 'instruction')}, none executed twice")


def _entry_references(conn: sqlite3.Connection) -> Check:
    bad = [
        f"entry {serial} ({kind}): {problem}"
        for serial, kind, problem in conn.execute(
            "SELECT serial_no, kind, CASE"
            "  WHEN kind <> 'opening' AND instruction_id IS NULL THEN 'no instruction'"
            "  WHEN kind <> 'opening' AND instruction_id NOT IN (SELECT id FROM instructions)"
            "   THEN 'instruction ' || instruction_id || ' does not exist'"
            "  WHEN kind IN ('settle', 'return') AND (clearing_run_id IS NULL OR"
            "   clearing_run_id NOT IN (SELECT id FROM clearing_runs)) THEN 'no clearing run'"
            " END AS problem FROM entries WHERE problem IS NOT NULL ORDER BY id"
        )
    ]
    return _result("entry_references", bad, "entries without their origin",
                   "every entry references its instruction, clearing run or the seed")


def _clearing_in_transit(conn: sqlite3.Connection) -> Check:
    row = conn.execute(
        "SELECT COALESCE(SUM(balance), 0) FROM accounts WHERE kind = 'internal' AND acno = ?",
        (CLEARING_IN_TRANSIT,),
    ).fetchone()
    in_transit = row[0]
    pending, count = conn.execute(
        "SELECT COALESCE(SUM(amt), 0), COUNT(*) FROM instructions"
        # A same-bank transfer is in clearing only while a scenario rule holds it.
        " WHERE route IS NOT NULL AND status IN ('processing', 'suspicious')"
    ).fetchone()
    if in_transit == pending:
        return Check("clearing_in_transit", True,
                     f"{in_transit} fen in transit = {count} payments in clearing")
    return Check("clearing_in_transit", False,
                 f"clearing in transit holds {in_transit} fen, but the {count} payments"
                 f" in clearing amount to {pending} fen")


# What each (route, status) needs, as the count of
# (transfer, interbank_debit, settle, return) entries.
_EXPECTED_ENTRIES = {
    ("same_bank", "success"): {(1, 0, 0, 0), (0, 1, 1, 0)},
    ("inter_bank", "success"): {(0, 1, 1, 0)},
    ("inter_bank", "processing"): {(0, 1, 0, 0)},
    ("inter_bank", "suspicious"): {(0, 1, 0, 0)},
    # (0, 1, 1, 1): settled, then returned by the receiving bank (a scenario rule).
    ("inter_bank", "failed"): {(0, 0, 0, 0), (0, 1, 0, 1), (0, 1, 1, 1)},
    ("same_bank", "failed"): {(0, 0, 0, 0), (0, 1, 0, 1)},
    # Held by a scenario rule (core_sim.scenario): through clearing in transit.
    ("same_bank", "processing"): {(0, 1, 0, 0)},
    (None, "failed"): {(0, 0, 0, 0)},
    # Waiting for the enterprise's approvals, or rejected / expired / cancelled
    # before they were complete (core_sim.authorization): nothing moved.
    **{(route, status): {(0, 0, 0, 0)} for route in ("same_bank", "inter_bank")
       for status in ("awaiting", "cancelled", "expired")},
}


def _instruction_status(conn: sqlite3.Connection) -> Check:
    bad = []
    rows = conn.execute(
        "SELECT i.corp_no, i.req_no, i.route, i.status,"
        " COALESCE(k.t, 0), COALESCE(k.d, 0), COALESCE(k.s, 0), COALESCE(k.r, 0),"
        " COALESCE(k.wrong_amount, 0)"
        " FROM instructions i LEFT JOIN"
        " (SELECT e.instruction_id, SUM(e.kind = 'transfer') AS t,"
        "  SUM(e.kind = 'interbank_debit') AS d, SUM(e.kind = 'settle') AS s,"
        "  SUM(e.kind = 'return') AS r, SUM(m.moved IS NOT ins.amt) AS wrong_amount"
        "  FROM entries e"
        "  JOIN (SELECT entry_id, SUM(CASE WHEN side = 'D' THEN amount END) AS moved"
        "        FROM postings GROUP BY entry_id) m ON m.entry_id = e.id"
        "  JOIN instructions ins ON ins.id = e.instruction_id"
        "  GROUP BY e.instruction_id) k ON k.instruction_id = i.id"
        " WHERE i.tr_code NOT IN ('330002', '330010')"  # batches: batch_totals
        " ORDER BY i.id"
    )
    for corp_no, req_no, route, status, t, d, s, r, wrong_amount in rows:
        expected = _EXPECTED_ENTRIES.get((route, status), set())
        if (t, d, s, r) not in expected:
            bad.append(
                f"{corp_no}/{req_no} {route or 'refused'} {status}: entries transfer={t}"
                f" debit={d} settle={s} return={r}"
            )
        elif wrong_amount:
            bad.append(f"{corp_no}/{req_no}: {wrong_amount} entries move another amount")
    return _result("instruction_status", bad, "instructions inconsistent with their entries",
                   "every instruction's status agrees with its entries")


def _batch_totals(conn: sqlite3.Connection) -> Check:
    bad = []
    rows = conn.execute(
        "SELECT b.corp_no, b.req_no, b.state, b.items, b.ok_count, b.ok_amt, b.fail_count,"
        " b.pending_count, b.next_seq, COALESCE(c.n, 0), COALESCE(c.ok, 0), COALESCE(c.failed, 0),"
        " COALESCE(c.processing, 0), COALESCE(m.moved, 0)"
        " FROM batches b"
        " LEFT JOIN (SELECT batch_id, COUNT(*) AS n, SUM(status = 'success') AS ok,"
        "  SUM(status = 'failed') AS failed, SUM(status = 'processing') AS processing"
        "  FROM batch_items GROUP BY batch_id) c ON c.batch_id = b.id"
        " LEFT JOIN (SELECT e.instruction_id, SUM(p.amount) AS moved FROM entries e"
        "  JOIN postings p ON p.entry_id = e.id AND p.side = 'D'"
        "  WHERE e.kind IN ('batch_item', 'batch_settle') GROUP BY e.instruction_id) m"
        "  ON m.instruction_id = b.instruction_id ORDER BY b.id")
    for (corp_no, req_no, state, items, ok_count, ok_amt, fail_count, pending_count, next_seq,
         n, ok, failed, processing, moved) in rows:
        name = f"{corp_no}/{req_no}"
        if n != items:
            bad.append(f"{name}: {n} items stored, the batch counts {items}")
        elif (ok, failed, processing) != (ok_count, fail_count, pending_count):
            bad.append(f"{name}: items succeeded/failed/processing {ok}/{failed}/{processing},"
                       f" the batch counts {ok_count}/{fail_count}/{pending_count}")
        elif moved != ok_amt:
            bad.append(f"{name}: entries moved {moved} fen, the batch records {ok_amt} succeeded")
        elif state == "finished" and (next_seq <= items or pending_count):
            bad.append(f"{name}: finished with items not final")
    bad += [
        f"{corp_no}/{req_no} item {seq}: {problem}"
        for corp_no, req_no, seq, problem in conn.execute(
            "SELECT b.corp_no, b.req_no, i.seq, CASE"
            "  WHEN k.n > 1 THEN k.n || ' entries'"
            "  WHEN k.n = 1 AND i.status <> 'success' THEN 'an entry, but ' || i.status"
            "  WHEN k.n = 1 AND k.moved <> i.amt THEN 'entry moves ' || k.moved"
            "  WHEN k.n IS NULL AND i.status = 'success' AND i.bank_no IN ('', ?)"
            "   THEN 'succeeded without an entry' END AS problem"
            " FROM batch_items i JOIN batches b ON b.id = i.batch_id"
            " LEFT JOIN (SELECT e.instruction_id, e.item_seq, COUNT(*) AS n,"
            "  MAX(p.amount) AS moved FROM entries e"
            "  JOIN postings p ON p.entry_id = e.id AND p.side = 'D'"
            "  WHERE e.kind = 'batch_item' GROUP BY e.instruction_id, e.item_seq) k"
            "  ON k.instruction_id = b.instruction_id AND k.item_seq = i.seq"
            " WHERE problem IS NOT NULL ORDER BY b.id, i.seq",
            (_bank_no(conn),))
    ]
    total = conn.execute("SELECT COUNT(*), COALESCE(SUM(items), 0) FROM batches").fetchone()
    return _result("batch_totals", bad, "batch problems",
                   f"{_n(total[0], 'batch', 'batches')}, {_n(total[1], 'item')}, each executed "
                   "at most once and agreeing with the entries")


def _bank_no(conn: sqlite3.Connection) -> str:
    row = conn.execute("SELECT value FROM meta WHERE key = 'bank_no'").fetchone()
    return row[0] if row else ""


# An authorization's state, and the instruction statuses (and batch states) it allows.
_AUTHORIZED_STATUS = {
    "awaiting": ({"awaiting"}, {"awaiting"}),
    "authorized": ({"processing", "success", "failed", "suspicious"},
                   {"processing", "finished"}),
    "rejected": ({"cancelled"}, {"cancelled"}),
    "cancelled": ({"cancelled"}, {"cancelled"}),
    "expired": ({"expired"}, {"cancelled"}),
}


def _authorizations(conn: sqlite3.Connection) -> Check:
    bad = []
    rows = conn.execute(
        "SELECT i.corp_no, i.req_no, i.status, a.state, b.state,"
        " json_array_length(a.levels), json_array_length(a.approvers)"
        " FROM instructions i LEFT JOIN authorizations a ON a.instruction_id = i.id"
        " LEFT JOIN batches b ON b.instruction_id = i.id"
        " WHERE a.instruction_id IS NOT NULL"
        " OR i.status IN ('awaiting', 'cancelled', 'expired')"
        " OR b.state IN ('awaiting', 'cancelled')")
    count = 0
    for corp_no, req_no, status, state, batch_state, levels, approvers in rows:
        count += state is not None
        name = f"{corp_no}/{req_no}"
        if state is None:
            bad.append(f"{name} {status}{f' (batch {batch_state})' if batch_state else ''}"
                       " without an authorization")
            continue
        statuses, batch_states = _AUTHORIZED_STATUS[state]
        if status not in statuses or (batch_state is not None and batch_state not in
                                      batch_states):
            bad.append(f"{name}: authorization {state}, instruction {status}"
                       + (f", batch {batch_state}" if batch_state else ""))
        elif state == "authorized" and approvers != levels:
            bad.append(f"{name}: authorized with {approvers} of {levels} levels approved")
        elif state != "authorized" and approvers >= levels:
            bad.append(f"{name}: {state} with every one of its {levels} levels approved")
    return _result("authorizations", bad, "instructions inconsistent with their authorization",
                   f"{_n(count, 'authorization')}, each agreeing with its instruction")


_CHECKS = (
    _entries_balanced,
    _balances_match_postings,
    _running_balances,
    _money_conserved,
    _no_overdraft,
    _executed_once,
    _entry_references,
    _clearing_in_transit,
    _instruction_status,
    _batch_totals,
    _authorizations,
)
