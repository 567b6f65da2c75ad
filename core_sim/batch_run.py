"""Executing batch items: the rules of each item, resumable, exactly once.

A processing batch is executed in *chunks* of items, in batch order; each
chunk is one transaction that executes its items, writes their results and
moves the batch's cursor (``batches.next_seq``). A crash loses at most the
chunk in flight, which SQLite rolls back as a whole, so when the bank comes
back every item is executed exactly once. One bad item never stops the others:
it fails with its own code and the chunk goes on.

**Payment (330002)** — the enterprise's account pays each item's card, which
must be a personal account at this bank (BoCom's 代发 pays its own cards
only). An item fails with E027 (the paying account is a directed account and
the card is not one of its payees), E020 (not a personal account here),
E006 / E005 (card closed / frozen), E015 (``acname`` is not the card
holder's name), E005 / E006 (the paying account frozen or closed since the
batch arrived), one of the enterprise's limits — E009, E010, E028, and as a
payment to an individual (公转私) E029, E030, E031, each item judged with its
own amount against the usage so far, this batch's earlier executed items
included (:mod:`core_sim.limits`) —, or E008 (the paying account's available
balance is short). A success is one entry: debit the enterprise, credit the
card (实时入账); the chunk's executed total counts in the enterprise's usage.
The directed list and the limits are read once per chunk (the list joined to
the chunk's items, never loaded whole).

**Collection (330010)** — each payer pays the enterprise's collecting account
under a collection agreement (代扣协议). The agreement must exist (E021),
name this enterprise, this collecting account and this payer (E025), be
active (E022), still valid on the business date (E023), and allow the amount
(E024). A payer here (``pay_bank_no`` blank or this bank's) must hold an
active personal account (E003, E006, E005), with the agreement's name
(E015) and enough available funds (E008); a success is one entry, debit the
payer, credit the enterprise. A payer at another bank is asked through the
clearing cycle: the item is *processing* (``P``) until a clearing run
settles it — :func:`settle_in_clearing` — and the run credits the
enterprise once for all the items of a batch it settles (批量入账).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from core_sim import limits, scenario
from core_sim.ledger import Ledger, Leg, NewEntry
from core_sim.transaction import fit_message
from protocol import codes
from protocol.codes import ReturnCode
from protocol.money import format_yuan

PAYMENT = "330002"

#: Items per chunk (one transaction) when a batch runs in the background.
CHUNK = 5000


@dataclass(frozen=True, slots=True)
class RunReport:
    """What one call of :func:`run` did."""

    batch_id: int | None  # None: no batch had work
    executed: int = 0
    finished: bool = False


@dataclass(slots=True)
class _Account:
    id: int
    acno: str
    name: str
    status: str
    available: int


class _ItemFailed(Exception):
    def __init__(self, code: ReturnCode, message: str) -> None:
        self.code = code
        self.message = fit_message(message)


def next_batch(conn: sqlite3.Connection) -> int | None:
    """The oldest batch with items not yet executed."""
    row = conn.execute(
        "SELECT id FROM batches WHERE state = 'processing' AND next_seq <= items"
        " ORDER BY id LIMIT 1").fetchone()
    return None if row is None else row[0]


def run(ledger: Ledger, batch_id: int | None, now: datetime, *, limit: int = CHUNK
        ) -> RunReport:
    """Execute up to ``limit`` items of a batch (the oldest with work if ``batch_id`` is None).

    Call inside the bank's write transaction; it commits with the caller.
    """
    conn = ledger.conn
    if batch_id is None:
        batch_id = next_batch(conn)
        if batch_id is None:
            return RunReport(None)
    row = conn.execute(
        "SELECT b.tr_code, b.next_seq, b.items, b.summary, b.instruction_id, b.corp_no,"
        " b.req_no, a.id, a.acno, a.name, a.status, a.balance - a.hold"
        " FROM batches b JOIN accounts a ON a.id = b.account_id"
        " WHERE b.id = ? AND b.state = 'processing'", (batch_id,)).fetchone()
    if row is None:
        return RunReport(batch_id)
    tr_code, next_seq, items, summary, instruction_id, corp_no, req_no = row[:7]
    own = _Account(*row[7:])
    if next_seq > items:
        return RunReport(batch_id, finished=_finish_if_done(conn, batch_id, now))
    judge = _rule_judge(ledger, tr_code, corp_no, req_no, now) if ledger.rules else None
    if tr_code == PAYMENT:
        results = _run_payments(ledger, batch_id, next_seq, limit, own, corp_no, judge)
    else:
        results = _run_collections(ledger, batch_id, next_seq, limit, own, corp_no, judge)
    pairs = []
    updates = []
    ok_count = ok_amt = fail_count = fail_amt = pending_count = pending_amt = 0
    last_seq = next_seq - 1
    next_serial = ledger.next_serial
    for seq, amt, outcome, pair, err_code, err_msg in results:
        last_seq = seq
        if outcome == "failed":
            fail_count += 1
            fail_amt += amt
            updates.append(("failed", "", err_code, err_msg, batch_id, seq))
            continue
        flw = next_serial()
        if outcome == "success":
            ok_count += 1
            ok_amt += amt
            pairs.append((flw, *pair, seq))
        else:
            pending_count += 1
            pending_amt += amt
        updates.append((outcome, flw, "", "", batch_id, seq))
    ledger.post_pairs(pairs, kind="batch_item", summary=summary,
                      instruction_id=instruction_id, now=now)
    if tr_code == PAYMENT:
        limits.record(ledger, corp_no, ok_amt, to_personal=True)
    conn.executemany(
        "UPDATE batch_items SET status = ?, flw = ?, err_code = ?, err_msg = ?"
        " WHERE batch_id = ? AND seq = ?", updates)
    conn.execute(
        "UPDATE batches SET next_seq = ?, ok_count = ok_count + ?, ok_amt = ok_amt + ?,"
        " fail_count = fail_count + ?, fail_amt = fail_amt + ?,"
        " pending_count = pending_count + ?, pending_amt = pending_amt + ?, updated_at = ?"
        " WHERE id = ?",
        (last_seq + 1, ok_count, ok_amt, fail_count, fail_amt, pending_count, pending_amt,
         now.isoformat(), batch_id))
    finished = _finish_if_done(conn, batch_id, now)
    return RunReport(batch_id, executed=len(results), finished=finished)


def _finish_if_done(conn: sqlite3.Connection, batch_id: int, now: datetime) -> bool:
    """Mark the batch finished when every item is final; True if it is."""
    cur = conn.execute(
        "UPDATE batches SET state = 'finished', updated_at = ? WHERE id = ?"
        " AND state = 'processing' AND next_seq > items AND pending_count = 0"
        " RETURNING instruction_id", (now.isoformat(), batch_id))
    row = cur.fetchone()
    if row is None:
        return False
    conn.execute("UPDATE instructions SET status = 'success', updated_at = ? WHERE id = ?",
                 (now.isoformat(), row[0]))
    return True


def _rule_judge(ledger: Ledger, tr_code: str, corp_no: str, req_no: str, now: datetime):
    """A check of each item against the scenario rules (fail_item), or None."""
    rules, conn, biz = ledger.rules, ledger.conn, ledger.biz

    def judge(pay_acno: str, rcv_acno: str, amt: int) -> None:
        fired = rules.fire(conn, scenario.Subject(tr_code, corp_no, req_no, pay_acno, rcv_acno,
                                                  amt, item=True), now, biz)
        if fired is not None:
            code = codes.lookup(fired.then.code) or codes.ReturnCode(
                fired.then.code, "SCENARIO_RULE", "failed")
            raise _ItemFailed(code, fired.then.message or code.message)

    return judge


def _run_payments(ledger: Ledger, batch_id: int, next_seq: int, limit: int, payer: _Account,
                  corp_no: str, judge=None):
    if limits.is_directed(ledger, payer.acno):  # is each card one of its payees?
        listed = "d.payee_acno IS NOT NULL"
        join = " LEFT JOIN directed_payees d ON d.acno = ? AND d.payee_acno = i.acno"
        params: tuple = (ledger.bank_no, payer.acno, batch_id, next_seq, limit)
    else:
        listed, join = "1", ""
        params = (ledger.bank_no, batch_id, next_seq, limit)
    rows = ledger.conn.execute(
        f"SELECT i.seq, i.acno, i.acname, i.amt, a.id, a.kind, a.name, a.status, {listed}"
        " FROM batch_items i"
        " LEFT JOIN accounts a ON a.bank_no = ? AND a.acno = i.acno" + join +
        " WHERE i.batch_id = ? AND i.seq >= ? ORDER BY i.seq LIMIT ?", params).fetchall()
    meter = limits.Meter(ledger, corp_no)
    metered = meter.active
    out = []
    for seq, card_no, acname, amt, payee_id, kind, name, status, is_listed in rows:
        try:
            if judge is not None:
                judge(payer.acno, card_no, amt)
            if not is_listed:
                raise _ItemFailed(*limits.directed_refusal(card_no, "card"))
            if payee_id is None or kind != "personal":
                raise _ItemFailed(codes.PAYEE_NOT_HERE,
                                  f"card {card_no} is not a personal account at this bank")
            _check_status(status, "card", card_no)
            if acname and acname != name:
                raise _ItemFailed(codes.ACCOUNT_NAME_MISMATCH,
                                  f"acname does not match the holder of card {card_no}")
            _check_status(payer.status, "paying account", payer.acno)
            if metered:
                over = meter.refusal(amt)
                if over is not None:
                    raise _ItemFailed(*over)
            if payer.available < amt:
                raise _ItemFailed(codes.INSUFFICIENT_FUNDS,
                                  f"insufficient funds: available {format_yuan(payer.available)}"
                                  f", item {format_yuan(amt)}")
        except _ItemFailed as failure:
            out.append((seq, amt, "failed", (), failure.code.code, failure.message))
            continue
        payer.available -= amt
        if metered:
            meter.take(amt)
        out.append((seq, amt, "success",
                    (payer.id, payee_id, amt, card_no, name, payer.acno, payer.name), "", ""))
    return out


def _run_collections(ledger: Ledger, batch_id: int, next_seq: int, limit: int,
                     payee: _Account, corp_no: str, judge=None):
    rows = ledger.conn.execute(
        "SELECT i.seq, i.acno, i.acname, i.amt, i.agreement_no, i.bank_no,"
        " g.corp_no, g.rcv_acno, g.payer_acno, g.max_amt, g.valid_to, g.status,"
        " a.id, a.kind, a.name, a.status, a.balance - a.hold"
        " FROM batch_items i"
        " LEFT JOIN agreements g ON g.agreement_no = i.agreement_no"
        " LEFT JOIN accounts a ON a.bank_no = ? AND a.acno = i.acno"
        " WHERE i.batch_id = ? AND i.seq >= ? ORDER BY i.seq LIMIT ?",
        (ledger.bank_no, batch_id, next_seq, limit)).fetchall()
    here, today = ledger.bank_no, ledger.biz
    payers: dict[int, _Account] = {}  # a payer twice in a chunk pays from what is left
    out = []
    for (seq, acno, acname, amt, agreement_no, bank_no, g_corp, g_rcv, g_payer, g_max,
         g_valid_to, g_status, account_id, kind, name, status, available) in rows:
        try:
            if judge is not None:
                judge(acno, payee.acno, amt)
            if g_corp is None:
                raise _ItemFailed(codes.NO_AGREEMENT, f"no collection agreement {agreement_no}")
            if g_corp != corp_no or g_rcv != payee.acno or g_payer != acno:
                raise _ItemFailed(codes.AGREEMENT_MISMATCH,
                                  f"agreement {agreement_no} is for another payer or account")
            if g_status != "active":
                raise _ItemFailed(codes.AGREEMENT_REVOKED, f"agreement {agreement_no} revoked")
            if g_valid_to and g_valid_to < today:
                raise _ItemFailed(codes.AGREEMENT_EXPIRED,
                                  f"agreement {agreement_no} expired on {g_valid_to}")
            if g_max is not None and amt > g_max:
                raise _ItemFailed(codes.OVER_AGREEMENT_MAX,
                                  f"amount {format_yuan(amt)} above the agreement's maximum "
                                  f"{format_yuan(g_max)}")
            if bank_no and bank_no != here:
                out.append((seq, amt, "processing", (), "", ""))  # asked through clearing
                continue
            if account_id is None or kind != "personal":
                raise _ItemFailed(codes.UNKNOWN_ACCOUNT,
                                  f"payer account {acno} not found at this bank")
            _check_status(status, "payer account", acno)
            if acname and acname != name:
                raise _ItemFailed(codes.ACCOUNT_NAME_MISMATCH,
                                  f"pay_acname does not match the holder of {acno}")
            payer = payers.get(account_id)
            if payer is None:
                payer = payers[account_id] = _Account(account_id, acno, name, status,
                                                      available)
            if payer.available < amt:
                raise _ItemFailed(codes.INSUFFICIENT_FUNDS,
                                  f"insufficient funds in {acno}: item {format_yuan(amt)}")
        except _ItemFailed as failure:
            out.append((seq, amt, "failed", (), failure.code.code, failure.message))
            continue
        payer.available -= amt
        out.append((seq, amt, "success",
                    (account_id, payee.id, amt, payee.acno, payee.name, acno, name), "", ""))
    return out


def _check_status(status: str, role: str, acno: str) -> None:
    if status == "closed":
        raise _ItemFailed(codes.ACCOUNT_CLOSED, f"{role} {acno} is closed")
    if status == "frozen":
        raise _ItemFailed(codes.ACCOUNT_FROZEN, f"{role} {acno} is frozen")


# -- other-bank items in the clearing cycle -----------------------------------------------


@dataclass(frozen=True, slots=True)
class SettledBatch:
    batch_id: int
    settled: int
    settled_amt: int
    returned: int


def settle_in_clearing(ledger: Ledger, run_id_for: object, now: datetime,
                       *, chunk: int = 1000) -> list[SettledBatch]:
    """Answer every other-bank collection item still in clearing; one credit per batch.

    ``run_id_for()`` gives the clearing run's id (creating the run on first
    use, so a run with no batch work leaves no row). The payer's bank pays
    when it holds an active account with that number and name and, if the
    seed gave the account a balance, enough of it; otherwise the item is
    returned (failed, nothing moved) with the reason.
    """
    conn = ledger.conn
    reports = []
    batch_rows = conn.execute(
        "SELECT b.id, b.instruction_id, b.summary, a.id, a.acno, a.name FROM batches b"
        " JOIN accounts a ON a.id = b.account_id"
        " WHERE b.state = 'processing' AND b.pending_count > 0 ORDER BY b.id").fetchall()
    for batch_id, instruction_id, summary, own_id, own_acno, own_name in batch_rows:
        settled = settled_amt = returned = returned_amt = 0
        while True:
            rows = conn.execute(
                "SELECT i.seq, i.acno, i.acname, i.amt, i.bank_no, a.id, a.name, a.status,"
                " a.balance, a.funds_checked FROM batch_items i"
                " LEFT JOIN accounts a ON a.kind = 'external' AND a.bank_no = i.bank_no"
                " AND a.acno = i.acno"
                " WHERE i.batch_id = ? AND i.status = 'processing' ORDER BY i.seq LIMIT ?",
                (batch_id, chunk)).fetchall()
            if not rows:
                break
            legs: list[Leg] = []
            updates = []
            balances: dict[int, int] = {}
            total = 0
            for row in rows:
                seq, acno, acname, amt, bank_no, ext_id, ext_name, ext_status = row[:8]
                balance, checked = row[8:]
                reason = None
                if ext_id is None:
                    reason = (codes.UNKNOWN_ACCOUNT, f"returned: no account {acno} at {bank_no}")
                elif ext_status != "active":
                    reason = ((codes.ACCOUNT_CLOSED if ext_status == "closed"
                               else codes.ACCOUNT_FROZEN),
                              f"returned: payer account {acno} is {ext_status}")
                elif acname and acname != ext_name:
                    reason = (codes.ACCOUNT_NAME_MISMATCH,
                              f"returned: name does not match account {acno}")
                elif checked:
                    left = balances.get(ext_id, balance)
                    if left < amt:
                        reason = (codes.INSUFFICIENT_FUNDS,
                                  f"returned: insufficient funds in {acno}")
                    else:
                        balances[ext_id] = left - amt
                if reason is None:
                    legs.append(Leg(ext_id, "D", amt, own_acno, own_name))
                    total += amt
                    settled += 1
                    settled_amt += amt
                    updates.append(("success", "", "", batch_id, seq))
                else:
                    returned += 1
                    returned_amt += amt
                    updates.append(("failed", reason[0].code, fit_message(reason[1]),
                                    batch_id, seq))
            if legs:
                legs.append(Leg(own_id, "C", total, "", f"{len(legs)} collections"))
                ledger.post_many([NewEntry(ledger.next_serial(), "batch_settle", legs, summary,
                                           instruction_id, clearing_run_id=run_id_for())], now)
            conn.executemany(
                "UPDATE batch_items SET status = ?, err_code = ?, err_msg = ?"
                " WHERE batch_id = ? AND seq = ?", updates)
        conn.execute(
            "UPDATE batches SET ok_count = ok_count + ?, ok_amt = ok_amt + ?,"
            " fail_count = fail_count + ?, fail_amt = fail_amt + ?,"
            " pending_count = pending_count - ?, pending_amt = pending_amt - ?, updated_at = ?"
            " WHERE id = ?",
            (settled, settled_amt, returned, returned_amt, settled + returned,
             settled_amt + returned_amt, now.isoformat(), batch_id))
        _finish_if_done(conn, batch_id, now)
        reports.append(SettledBatch(batch_id, settled, settled_amt, returned))
    return reports
