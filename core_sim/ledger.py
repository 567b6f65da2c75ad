"""The bank core's double-entry ledger: accounts, balanced journal entries, serial numbers.

Every movement of money is one journal *entry* of two or more *postings*; each
posting debits (``D``) or credits (``C``) one account with a positive integer
amount in fen, and an entry's debits equal its credits. Nothing writes a
balance directly: :meth:`Ledger.post` is the only place balances change.

Sign convention: every account's balance is *credit-positive*,
``balance = sum(credits) - sum(debits)``, the way the bank sees a deposit
(its liability). So:

* a customer (enterprise) account's balance is the money the enterprise has;
  a ``D`` posting on it is money out, a ``C`` posting money in — the same
  ``dc_flag`` the customer sees in its details;
* ``#OPENING-EQUITY-<currency>`` (internal) is debited with every opening
  balance the seed brings in, so it is negative by the total brought in;
* ``#CLEARING-IN-TRANSIT`` (internal, CNY) is credited when an inter-bank
  payment is accepted and debited when clearing settles or returns it; its
  balance is the money on its way to other banks;
* an *external* account mirrors a beneficiary at another bank: clearing
  credits it when a payment to it settles, so its balance is what this bank
  has paid to it.

Because every entry balances, the balances of all accounts in one currency
sum to zero: money is neither created nor destroyed, only moved.

Serial numbers are the business date and an 8-digit sequence that restarts
each business day (``2026112400000001``); entries, accepted instructions and
clearing postings all draw from it. Each write transaction reads the sequence
from ``meta`` when it begins (:meth:`Ledger.reload_counters`, under SQLite's
writer lock) and writes it back in :meth:`Ledger.flush` before committing, so
a committed serial is never handed out again, whichever process wrote last.

The value types are in :mod:`core_sim.ledger_types`; writing many entries at
once (a batch's items, a seed's opening balances) in :mod:`core_sim.ledger_bulk`.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Sequence
from datetime import date, datetime

from core_sim import clock, scenario
from core_sim.ledger_bulk import BulkPosting
from core_sim.ledger_types import (
    AccountRow,
    EnterpriseRow,
    LedgerError,
    Leg,
    NewEntry,
    hhmmss,
    parse_ymd,
    ymd,
)
from protocol.keys import BankKeyPair

__all__ = ["CLEARING_CURRENCY", "CLEARING_IN_TRANSIT", "OPENING_EQUITY_PREFIX", "AccountRow",
           "EnterpriseRow", "Ledger", "LedgerError", "Leg", "NewEntry", "parse_ymd", "ymd"]

CLEARING_IN_TRANSIT = "#CLEARING-IN-TRANSIT"
OPENING_EQUITY_PREFIX = "#OPENING-EQUITY-"
CLEARING_CURRENCY = "CNY"  # inter-bank payments clear in CNY only


_ACCOUNT_COLUMNS = "id, kind, acno, bank_no, name, currency, corp_no, status, hold, balance, opened"


@functools.cache
def _posting_statements(legs: int) -> tuple[str, str]:
    """(UPDATE of the balances, INSERT of the postings) for ``legs`` distinct accounts.

    The text is the same for the same number of legs, so SQLite's statement
    cache prepares each once.
    """
    cases = " ".join(["WHEN ? THEN ?"] * legs)
    ids = ", ".join(["?"] * legs)
    update = (f"UPDATE accounts SET balance = balance + CASE id {cases} END"
              f" WHERE id IN ({ids}) RETURNING id, balance")
    values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * legs)
    insert = ("INSERT INTO postings (entry_id, account_id, side, amount, balance_after,"
              f" biz_date, opp_acno, opp_acname) VALUES {values}")
    return update, insert


class Ledger(BulkPosting):
    """The books of one bank, over an open connection used by one thread at a time."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        #: The bank's keys, which sign e-receipts (core_sim.receipts); None: no receipts.
        self.receipt_keys: BankKeyPair | None = None
        meta = dict(conn.execute("SELECT key, value FROM meta"))
        if "bank_no" not in meta:
            raise LedgerError("database has no bank: it was never seeded")
        self.bank_no: str = meta["bank_no"]
        self.bank_name: str = meta["bank_name"]
        self._business_date = parse_ymd(meta["business_date"])
        self._biz = meta["business_date"]
        self._serial_seq = int(meta["serial_seq"])
        self._clearing_run_no = int(meta["clearing_run_no"])
        self._clock_text = meta.get(clock.META_KEY)
        self.clock_setting = clock.ClockSetting.from_text(self._clock_text)
        self._rules_text = meta.get(scenario.META_KEY)
        self.rules = scenario.Rules.from_text(self._rules_text)
        #: When a list, every entry posted is noted in it (the bank's journal reads it).
        self.effects: list[tuple] | None = None
        # The counters as they are in ``meta`` now; flush() writes what differs.
        self._stored_serial_seq = self._serial_seq
        self._stored_clearing_run_no = self._clearing_run_no
        self._internal_ids: dict[str, int] = {}
        # Daily usage read or written in the current transaction, by (corp_no, biz_date).
        self._usage: dict[tuple[str, str], int] = {}
        self._enterprises: dict[str, EnterpriseRow] = {}
        self._operators: set[tuple[str, str]] = set()
        self.reload_customers()

    @staticmethod
    def initialize(conn: sqlite3.Connection, *, bank_no: str, bank_name: str,
                   business_date: date) -> None:
        """Write the bank's identity into a new database (inside the caller's transaction)."""
        conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            [
                ("bank_no", bank_no),
                ("bank_name", bank_name),
                ("business_date", ymd(business_date)),
                ("serial_seq", "0"),
                ("clearing_run_no", "0"),
            ],
        )

    # -- customers ---------------------------------------------------------------

    def reload_customers(self) -> None:
        """Cache enterprises and operators: they change only when a seed is applied."""
        self._enterprises = {
            row[0]: EnterpriseRow(*row)
            for row in self.conn.execute(
                "SELECT corp_no, name, single_limit, daily_limit, monthly_limit, personal_single,"
                " personal_daily, personal_monthly FROM enterprises"
            )
        }
        self._operators = set(self.conn.execute("SELECT corp_no, user_no FROM operators"))

    def enterprise(self, corp_no: str) -> EnterpriseRow | None:
        return self._enterprises.get(corp_no)

    def has_operator(self, corp_no: str, user_no: str) -> bool:
        return (corp_no, user_no) in self._operators

    def operators(self) -> set[tuple[str, str]]:
        return set(self._operators)

    # -- business date and serial numbers -----------------------------------------

    @property
    def business_date(self) -> date:
        return self._business_date

    @property
    def biz(self) -> str:
        """The business date as YYYYMMDD, the form stored in the database."""
        return self._biz

    def advance_business_date(self, new_date: date) -> None:
        self._business_date = new_date
        self._biz = ymd(new_date)
        self._serial_seq = 0
        self.conn.execute(
            "UPDATE meta SET value = ? WHERE key = 'business_date'", (self._biz,)
        )

    def set_clock(self, setting: clock.ClockSetting) -> None:
        """Store the bank's clock setting (inside the caller's transaction)."""
        self._clock_text = setting.to_text()
        self.clock_setting = setting
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (clock.META_KEY, self._clock_text),
        )

    def next_serial(self) -> str:
        self._serial_seq += 1
        return f"{self._biz}{self._serial_seq:08d}"

    def next_clearing_run_no(self) -> int:
        self._clearing_run_no += 1
        return self._clearing_run_no

    def flush(self) -> None:
        """Persist the counters; call inside the transaction about to commit."""
        serial_changed = self._serial_seq != self._stored_serial_seq
        run_no_changed = self._clearing_run_no != self._stored_clearing_run_no
        if serial_changed and not run_no_changed:  # the usual case: transfers only
            self.conn.execute(
                "UPDATE meta SET value = ? WHERE key = 'serial_seq'", (str(self._serial_seq),)
            )
        elif serial_changed or run_no_changed:
            self.conn.executemany(
                "UPDATE meta SET value = ? WHERE key = ?",
                [(str(self._serial_seq), "serial_seq"),
                 (str(self._clearing_run_no), "clearing_run_no")],
            )
        self._stored_serial_seq = self._serial_seq
        self._stored_clearing_run_no = self._clearing_run_no

    def reload_counters(self) -> None:
        """Read the business date and counters from disk (at the start of a transaction).

        The writer lock taken by BEGIN IMMEDIATE makes the values read here the
        ones this transaction owns, whoever wrote them last. What an earlier
        transaction cached of daily usage is dropped for the same reason.
        """
        self._usage.clear()
        meta = dict(self.conn.execute("SELECT key, value FROM meta"))  # a handful of rows
        biz = meta["business_date"]
        if biz != self._biz:  # parse only a date that changed
            self._business_date = parse_ymd(biz)
            self._biz = biz
        self._serial_seq = self._stored_serial_seq = int(meta["serial_seq"])
        self._clearing_run_no = self._stored_clearing_run_no = int(meta["clearing_run_no"])
        text = meta.get(clock.META_KEY)
        if text != self._clock_text:  # set by another process since
            self._clock_text = text
            self.clock_setting = clock.ClockSetting.from_text(text)
        text = meta.get(scenario.META_KEY)
        if text != self._rules_text:
            self._rules_text = text
            self.rules = scenario.Rules.from_text(text)

    def forget_cached(self) -> None:
        """After a rolled-back transaction: forget what it did to the in-memory state.

        Serials handed out in the rolled-back transaction were never committed,
        so reusing them is safe; reading the counters back keeps the sequence
        gap-free. Internal accounts it created are gone too.
        """
        self._internal_ids.clear()
        self.reload_customers()
        self.reload_counters()

    def forget_since_savepoint(self) -> None:
        """After ROLLBACK TO a savepoint: forget what is cached of the rows it undid.

        (Counters are not rows: serials handed out since the savepoint stay
        used, which leaves a gap but never a duplicate.)
        """
        self._internal_ids.clear()
        self._usage.clear()

    # -- accounts -----------------------------------------------------------------

    def customer_account(self, acno: str) -> AccountRow | None:
        row = self.conn.execute(
            f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE bank_no = ? AND acno = ?",
            (self.bank_no, acno),
        ).fetchone()
        if row is None or row[1] != "customer":
            return None
        return AccountRow(*row)

    def customer_account_pair(self, first: str, second: str
                              ) -> tuple[AccountRow | None, AccountRow | None]:
        """:meth:`customer_account` of two account numbers, in one statement."""
        found = {
            row[2]: AccountRow(*row)
            for row in self.conn.execute(
                f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE bank_no = ? AND acno IN (?, ?)"
                " AND kind = 'customer'",
                (self.bank_no, first, second),
            )
        }
        return found.get(first), found.get(second)

    def customer_accounts_of(self, corp_no: str) -> list[AccountRow]:
        rows = self.conn.execute(
            f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE corp_no = ? ORDER BY id", (corp_no,)
        )
        return [AccountRow(*row) for row in rows]

    def external_accounts(self, acno: str) -> list[AccountRow]:
        """Every beneficiary at another bank with this account number (one per bank)."""
        rows = self.conn.execute(
            f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE acno = ? AND kind = 'external'",
            (acno,),
        )
        return [AccountRow(*row) for row in rows]

    def internal_account_id(self, acno: str, currency: str = CLEARING_CURRENCY) -> int:
        """The id of one of the bank's own accounts, created on first use."""
        cached = self._internal_ids.get(acno)
        if cached is not None:
            return cached
        row = self.conn.execute(
            "SELECT id FROM accounts WHERE bank_no = ? AND acno = ? AND kind = 'internal'",
            (self.bank_no, acno),
        ).fetchone()
        if row is None:
            cur = self.conn.execute(
                "INSERT INTO accounts (kind, acno, bank_no, bank_name, name, currency, status,"
                " opened) VALUES ('internal', ?, ?, ?, ?, ?, 'active', ?)",
                (acno, self.bank_no, self.bank_name, acno.lstrip("#").replace("-", " ").lower(),
                 currency, self._biz),
            )
            account_id = cur.lastrowid
        else:
            account_id = row[0]
        self._internal_ids[acno] = account_id
        return account_id

    def opening_equity_id(self, currency: str) -> int:
        return self.internal_account_id(OPENING_EQUITY_PREFIX + currency, currency)

    def clearing_in_transit_id(self) -> int:
        return self.internal_account_id(CLEARING_IN_TRANSIT, CLEARING_CURRENCY)

    # -- posting --------------------------------------------------------------------

    def post(self, *, serial_no: str, kind: str, legs: Sequence[Leg], now: datetime,
             summary: str = "", instruction_id: int | None = None,
             clearing_run_id: int | None = None) -> int:
        """Write one balanced journal entry and move the balances; return the entry id."""
        debits = sum(leg.amount for leg in legs if leg.side == "D")
        credits = sum(leg.amount for leg in legs if leg.side == "C")
        if len(legs) < 2 or debits != credits or any(
            leg.amount <= 0 or leg.side not in ("D", "C") for leg in legs
        ):
            raise LedgerError(f"unbalanced entry {serial_no}: debits {debits}, credits {credits}")
        conn = self.conn
        entry_id = conn.execute(
            "INSERT INTO entries (serial_no, kind, biz_date, created_at, tr_time, summary,"
            " instruction_id, clearing_run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (serial_no, kind, self._biz, now.isoformat(), hhmmss(now), summary,
             instruction_id, clearing_run_id),
        ).lastrowid
        if self.effects is not None:
            self.effects.append((serial_no, kind, tuple(legs)))
        ids = [leg.account_id for leg in legs]
        if len(set(ids)) < len(ids):  # an account twice: one posting after the other
            for leg in legs:
                self._post_legs((leg,), entry_id)
        else:
            self._post_legs(legs, entry_id)
        return entry_id

    def _post_legs(self, legs: Sequence[Leg], entry_id: int) -> None:
        """Move the balances of ``legs`` (distinct accounts) and write their postings.

        One UPDATE for all the accounts and one INSERT for all the postings, in
        the order of ``legs``; each posting's ``balance_after`` is its account's
        balance after that UPDATE.
        """
        update, insert = _posting_statements(len(legs))
        params: list[object] = []
        for leg in legs:
            params += (leg.account_id, leg.amount if leg.side == "C" else -leg.amount)
        params += (leg.account_id for leg in legs)
        # fetchall() runs the statement to completion so it holds nothing open.
        balance_after = dict(self.conn.execute(update, params).fetchall())
        if len(balance_after) != len(legs):
            missing = [leg.account_id for leg in legs if leg.account_id not in balance_after]
            raise LedgerError(f"posting to accounts that do not exist: {missing}")
        rows: list[object] = []
        for leg in legs:
            rows += (entry_id, leg.account_id, leg.side, leg.amount,
                     balance_after[leg.account_id], self._biz, leg.opp_acno, leg.opp_acname)
        self.conn.execute(insert, rows)

    # -- daily limits -------------------------------------------------------------------

    # Within one write transaction nobody else can change daily_usage, so what
    # was read or written there is kept until the transaction ends (cleared by
    # reload_counters at the next one) or a savepoint is rolled back.

    def daily_usage(self, corp_no: str) -> int:
        key = (corp_no, self._biz)
        total = self._usage.get(key)
        if total is None:
            row = self.conn.execute(
                "SELECT total FROM daily_usage WHERE corp_no = ? AND biz_date = ?", key
            ).fetchone()
            total = self._usage[key] = 0 if row is None else row[0]
        return total

    def add_daily_usage(self, corp_no: str, amount: int) -> None:
        key = (corp_no, self._biz)
        ((self._usage[key],),) = self.conn.execute(
            "INSERT INTO daily_usage (corp_no, biz_date, total) VALUES (?, ?, ?)"
            " ON CONFLICT (corp_no, biz_date) DO UPDATE SET total = total + excluded.total"
            " RETURNING total",
            (*key, amount),
        ).fetchall()
