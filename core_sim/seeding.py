"""Applying a seed (:class:`config.seed.Seed`) to the bank's database.

The rule: a seed *adds what is missing* and never changes what exists. The
first seed creates the bank (its number, name and first business date); a
later seed for the same bank may add enterprises, operators, accounts and
external accounts, but an existing account keeps its balance, status and
holds, an existing enterprise its limits. Re-opening with the same seed is
therefore a no-op and never duplicates money. A seed for a different bank
number is refused.

Opening balances are never written into a balance: each is one balanced
entry debiting ``#OPENING-EQUITY-<currency>`` and crediting the account.
"""

from __future__ import annotations

from datetime import date, datetime

from config.seed import Seed
from core_sim.ledger import Ledger, Leg, ymd


def initialize_bank(conn, seed: Seed, today: date) -> None:
    """Create the bank's identity in a new database (inside the caller's transaction)."""
    business_date = seed.bank.business_date or today
    Ledger.initialize(conn, bank_no=seed.bank.bank_no, bank_name=seed.bank.name,
                      business_date=business_date)


def apply_seed(ledger: Ledger, seed: Seed, now: datetime) -> int:
    """Add what the seed has and the database lacks; return how many accounts were opened."""
    if seed.bank.bank_no != ledger.bank_no:
        raise ValueError(
            f"seed is for bank {seed.bank.bank_no}, the database holds bank {ledger.bank_no}"
        )
    conn = ledger.conn
    ledger.clearing_in_transit_id()  # the bank's own accounts exist from the start
    opened = 0
    for external in seed.external_accounts:
        cur = conn.execute(
            "INSERT INTO accounts (kind, acno, bank_no, bank_name, name, currency, status,"
            " opened) VALUES ('external', ?, ?, ?, ?, 'CNY', ?, ?)"
            " ON CONFLICT (bank_no, acno) DO NOTHING",
            (external.acno, external.bank_no, external.bank_name, external.name,
             external.status, ledger.biz),
        )
        opened += cur.rowcount
    for enterprise in seed.enterprises:
        conn.execute(
            "INSERT INTO enterprises (corp_no, name, single_limit, daily_limit)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (corp_no) DO NOTHING",
            (enterprise.corp_no, enterprise.name, enterprise.limits.single,
             enterprise.limits.daily),
        )
        conn.executemany(
            "INSERT INTO operators (corp_no, user_no) VALUES (?, ?)"
            " ON CONFLICT (corp_no, user_no) DO NOTHING",
            [(enterprise.corp_no, user_no) for user_no in enterprise.users],
        )
        for account in enterprise.accounts:
            opened += _open_account(ledger, enterprise.corp_no, account, now)
    ledger.reload_customers()
    return opened


def _open_account(ledger: Ledger, corp_no: str, account, now: datetime) -> int:
    conn = ledger.conn
    existing = conn.execute(
        "SELECT corp_no FROM accounts WHERE bank_no = ? AND acno = ?",
        (ledger.bank_no, account.acno),
    ).fetchone()
    if existing is not None:
        if existing[0] != corp_no:
            raise ValueError(
                f"seed account {account.acno} of {corp_no} already belongs to {existing[0]}"
            )
        return 0
    opened = ymd(account.opened) if account.opened else ledger.biz
    account_id = conn.execute(
        "INSERT INTO accounts (kind, acno, bank_no, bank_name, name, currency, corp_no, status,"
        " hold, opened) VALUES ('customer', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (account.acno, ledger.bank_no, ledger.bank_name, account.name, account.currency,
         corp_no, account.status, account.hold, opened),
    ).lastrowid
    if account.balance:
        if account.balance < 0:
            raise ValueError(f"seed account {account.acno}: negative opening balance")
        legs = (
            Leg(ledger.opening_equity_id(account.currency), "D", account.balance, account.acno,
                account.name),
            Leg(account_id, "C", account.balance, "", "opening balance"),
        )
        ledger.post(serial_no=ledger.next_serial(), kind="opening", legs=legs, now=now,
                    summary="opening balance")
    return 1
