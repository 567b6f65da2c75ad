"""Writing many ledger entries at once: a batch's items, a seed's opening balances.

The same rows as one :meth:`core_sim.ledger.Ledger.post` per entry, written
with one ``executemany`` per table. :class:`BulkPosting` is part of
:class:`~core_sim.ledger.Ledger`; it uses the ledger's connection
(``conn``), business date (``_biz``) and journal notes (``effects``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

from core_sim.ledger_types import LedgerError, NewEntry, hhmmss


class BulkPosting:
    """The bulk forms of posting, for :class:`~core_sim.ledger.Ledger`."""

    conn: sqlite3.Connection
    _biz: str
    effects: list[tuple] | None

    def post_many(self, entries: Sequence[NewEntry], now: datetime) -> None:
        """Write many balanced entries at once: the bulk form of :meth:`post`.

        The same rows as one :meth:`post` per entry, in order — each posting's
        ``balance_after`` is its account's balance after the postings before
        it — written with one ``executemany`` per table: entries, postings,
        and one balance UPDATE per distinct account. Batches (a thousand items
        a chunk) and seeds with many opening balances use it.
        """
        if not entries:
            return
        if self.effects is not None:
            self.effects.extend((entry.serial_no, entry.kind, tuple(entry.legs))
                                for entry in entries)
        conn = self.conn
        balances: dict[int, int] = {}
        for entry in entries:
            debits = credits = 0
            for leg in entry.legs:
                if leg.amount <= 0 or leg.side not in ("D", "C"):
                    raise LedgerError(f"bad leg in entry {entry.serial_no}: {leg}")
                if leg.side == "D":
                    debits += leg.amount
                else:
                    credits += leg.amount
                balances[leg.account_id] = 0
            if len(entry.legs) < 2 or debits != credits:
                raise LedgerError(
                    f"unbalanced entry {entry.serial_no}: debits {debits}, credits {credits}")
        self._read_balances(balances)
        (last_id,) = conn.execute("SELECT coalesce(max(id), 0) FROM entries").fetchone()
        created, tr_time, biz = now.isoformat(), hhmmss(now), self._biz
        entry_rows = []
        posting_rows = []
        for entry_id, entry in enumerate(entries, start=last_id + 1):
            entry_rows.append((entry_id, entry.serial_no, entry.kind, biz, created, tr_time,
                               entry.summary, entry.instruction_id, entry.clearing_run_id,
                               entry.item_seq))
            for leg in entry.legs:
                balance = balances[leg.account_id] + (
                    leg.amount if leg.side == "C" else -leg.amount)
                balances[leg.account_id] = balance
                posting_rows.append((entry_id, leg.account_id, leg.side, leg.amount, balance,
                                     biz, leg.opp_acno, leg.opp_acname))
        conn.executemany(
            "INSERT INTO entries (id, serial_no, kind, biz_date, created_at, tr_time, summary,"
            " instruction_id, clearing_run_id, item_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            entry_rows)
        conn.executemany(
            "INSERT INTO postings (entry_id, account_id, side, amount, balance_after, biz_date,"
            " opp_acno, opp_acname) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", posting_rows)
        conn.executemany("UPDATE accounts SET balance = ? WHERE id = ?",
                         [(balance, account_id) for account_id, balance in balances.items()])

    def post_pairs(self, pairs: Sequence[tuple], *, kind: str, summary: str,
                   instruction_id: int, now: datetime) -> None:
        """Many two-leg entries at once, each ``amount`` from one account to another.

        Each pair is ``(serial_no, debit_id, credit_id, amount, debit_opp_acno,
        debit_opp_acname, credit_opp_acno, credit_opp_acname, item_seq)``: the
        same rows as :meth:`post_many` of two-leg entries, without building an
        entry object per item, which is most of the cost at a batch's scale.
        """
        if not pairs:
            return
        if self.effects is not None:
            self.effects.append((None, kind, (len(pairs), sum(pair[3] for pair in pairs))))
        conn = self.conn
        balances: dict[int, int] = {}
        for pair in pairs:
            if pair[3] <= 0 or pair[1] == pair[2]:
                raise LedgerError(f"bad entry {pair[0]}: {pair[3]} from {pair[1]} to {pair[2]}")
            balances[pair[1]] = balances[pair[2]] = 0
        self._read_balances(balances)
        (last_id,) = conn.execute("SELECT coalesce(max(id), 0) FROM entries").fetchone()
        created, tr_time, biz = now.isoformat(), hhmmss(now), self._biz
        entry_rows = []
        posting_rows = []
        entry_id = last_id
        for serial_no, debit, credit, amount, d_acno, d_name, c_acno, c_name, seq in pairs:
            entry_id += 1
            entry_rows.append((entry_id, serial_no, kind, biz, created, tr_time, summary,
                               instruction_id, seq))
            debit_after = balances[debit] - amount
            credit_after = balances[credit] + amount
            balances[debit], balances[credit] = debit_after, credit_after
            posting_rows.append((entry_id, debit, "D", amount, debit_after, biz, d_acno, d_name))
            posting_rows.append((entry_id, credit, "C", amount, credit_after, biz, c_acno,
                                 c_name))
        conn.executemany(
            "INSERT INTO entries (id, serial_no, kind, biz_date, created_at, tr_time, summary,"
            " instruction_id, item_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", entry_rows)
        conn.executemany(
            "INSERT INTO postings (entry_id, account_id, side, amount, balance_after, biz_date,"
            " opp_acno, opp_acname) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", posting_rows)
        conn.executemany("UPDATE accounts SET balance = ? WHERE id = ?",
                         [(balance, account_id) for account_id, balance in balances.items()])

    def _read_balances(self, balances: dict[int, int]) -> None:
        """Fill ``balances`` (account id -> anything) with the accounts' balances."""
        ids = list(balances)
        for start in range(0, len(ids), 900):  # within SQLite's bound on parameters
            chunk = ids[start:start + 900]
            marks = ", ".join("?" * len(chunk))
            rows = self.conn.execute(
                f"SELECT id, balance FROM accounts WHERE id IN ({marks})", chunk).fetchall()
            if len(rows) != len(chunk):
                raise LedgerError("posting to accounts that do not exist")
            balances.update(rows)
