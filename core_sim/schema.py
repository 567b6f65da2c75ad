"""The SQLite schema of the bank core's database, and opening a connection to it.

One database file holds everything the simulated bank knows: its identity and
business date (``meta``), customers and operators, enrolled keys, accounts,
the journal (``entries`` with their ``postings``), the enterprises'
instructions (the exactly-once records) and the clearing runs. See
:mod:`core_sim.ledger` for the sign convention of balances and postings.

``accounts.balance`` is a cache of ``sum(credits) - sum(debits)`` of the
account's postings, kept in the same transaction as the postings;
``core_sim.check`` verifies it. ``daily_usage`` is a running per-enterprise,
per-business-date total of accepted outgoing transfers, so a daily-limit check
is one primary-key lookup instead of a sum over the day's instructions.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA_VERSION = 1

DDL = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE enterprises (
    corp_no      TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    single_limit INTEGER CHECK (single_limit IS NULL OR single_limit > 0),
    daily_limit  INTEGER CHECK (daily_limit IS NULL OR daily_limit > 0)
) WITHOUT ROWID;

CREATE TABLE operators (
    corp_no TEXT NOT NULL REFERENCES enterprises (corp_no),
    user_no TEXT NOT NULL,
    PRIMARY KEY (corp_no, user_no)
) WITHOUT ROWID;

-- kind: customer (an enterprise's account here), external (a beneficiary at
-- another bank, mirrored here), internal (the bank's own books).
CREATE TABLE accounts (
    id        INTEGER PRIMARY KEY,
    kind      TEXT NOT NULL CHECK (kind IN ('customer', 'external', 'internal')),
    acno      TEXT NOT NULL,
    bank_no   TEXT NOT NULL,
    bank_name TEXT NOT NULL,
    name      TEXT NOT NULL,
    currency  TEXT NOT NULL,
    corp_no   TEXT REFERENCES enterprises (corp_no),
    status    TEXT NOT NULL CHECK (status IN ('active', 'frozen', 'closed')),
    hold      INTEGER NOT NULL DEFAULT 0 CHECK (hold >= 0),
    opened    TEXT NOT NULL,
    balance   INTEGER NOT NULL DEFAULT 0,
    UNIQUE (bank_no, acno),
    CHECK ((kind = 'customer') = (corp_no IS NOT NULL))
);
CREATE INDEX accounts_by_corp ON accounts (corp_no) WHERE corp_no IS NOT NULL;
-- Clearing finds a beneficiary by account number alone, at whichever bank.
CREATE INDEX accounts_by_acno ON accounts (acno);

-- One row per (corp_no, req_no) of a money-moving request, refused or not.
-- route: same_bank | inter_bank (NULL when refused before it was known).
CREATE TABLE instructions (
    id          INTEGER PRIMARY KEY,
    corp_no     TEXT NOT NULL REFERENCES enterprises (corp_no),
    req_no      TEXT NOT NULL,
    user_no     TEXT NOT NULL,
    tr_code     TEXT NOT NULL,
    digest      BLOB NOT NULL,
    route       TEXT CHECK (route IN ('same_bank', 'inter_bank')),
    urgent      INTEGER NOT NULL DEFAULT 0,
    status      TEXT NOT NULL
                CHECK (status IN ('processing', 'success', 'failed', 'suspicious')),
    serial_no   TEXT NOT NULL DEFAULT '',
    pay_acno    TEXT NOT NULL DEFAULT '',
    pay_bank_no TEXT NOT NULL DEFAULT '',
    rcv_acno    TEXT NOT NULL DEFAULT '',
    rcv_acname  TEXT NOT NULL DEFAULT '',
    rcv_bank_no TEXT NOT NULL DEFAULT '',
    amt         INTEGER,
    cert_no     TEXT NOT NULL DEFAULT '',
    err_msg     TEXT NOT NULL DEFAULT '',
    reply       TEXT NOT NULL,
    biz_date    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (corp_no, req_no)
);
-- Clearing looks only at payments still in the clearing system.
CREATE INDEX instructions_in_clearing ON instructions (id)
    WHERE status IN ('processing', 'suspicious');

CREATE TABLE clearing_runs (
    id         INTEGER PRIMARY KEY,
    run_no     INTEGER NOT NULL UNIQUE,
    biz_date   TEXT NOT NULL,
    batch      INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    settled    INTEGER NOT NULL DEFAULT 0,
    returned   INTEGER NOT NULL DEFAULT 0,
    suspicious INTEGER NOT NULL DEFAULT 0
);

-- kind: opening (seed), transfer (same bank), interbank_debit (payer to
-- clearing in transit), settle (clearing to beneficiary), return (clearing
-- back to the payer).
CREATE TABLE entries (
    id              INTEGER PRIMARY KEY,
    serial_no       TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL
                    CHECK (kind IN ('opening', 'transfer', 'interbank_debit', 'settle', 'return')),
    biz_date        TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    tr_time         TEXT NOT NULL,
    summary         TEXT NOT NULL DEFAULT '',
    instruction_id  INTEGER REFERENCES instructions (id),
    clearing_run_id INTEGER REFERENCES clearing_runs (id),
    CHECK ((kind = 'opening') = (instruction_id IS NULL)),
    CHECK ((kind IN ('settle', 'return')) = (clearing_run_id IS NOT NULL))
);

-- side: D debit, C credit; amount always positive. balance_after is the
-- account's balance after this posting (detail queries show it).
CREATE TABLE postings (
    id            INTEGER PRIMARY KEY,
    entry_id      INTEGER NOT NULL REFERENCES entries (id),
    account_id    INTEGER NOT NULL REFERENCES accounts (id),
    side          TEXT NOT NULL CHECK (side IN ('D', 'C')),
    amount        INTEGER NOT NULL CHECK (amount > 0),
    balance_after INTEGER NOT NULL,
    biz_date      TEXT NOT NULL,
    opp_acno      TEXT NOT NULL DEFAULT '',
    opp_acname    TEXT NOT NULL DEFAULT ''
);
-- Today's and historical details: one account, a date range, in order.
CREATE INDEX postings_by_account ON postings (account_id, biz_date, id);

CREATE TABLE daily_usage (
    corp_no  TEXT NOT NULL,
    biz_date TEXT NOT NULL,
    total    INTEGER NOT NULL,
    PRIMARY KEY (corp_no, biz_date)
) WITHOUT ROWID;
"""


def connect(path: str | Path) -> sqlite3.Connection:
    """Open the database for the bank (read-write), creating the schema if new.

    Transactions are managed explicitly (``isolation_level=None``): the bank
    issues BEGIN/SAVEPOINT/COMMIT itself so one batch is one commit.
    """
    conn = sqlite3.connect(
        str(path), isolation_level=None, check_same_thread=False, cached_statements=256
    )
    # WAL lets check_ledger and other readers run while the core writes;
    # synchronous=FULL makes every COMMIT durable before the replies go out.
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=5000")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == 0:
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(DDL):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    elif version != SCHEMA_VERSION:
        conn.close()
        raise ValueError(
            f"{path}: database schema version {version}, this bank needs {SCHEMA_VERSION}"
        )
    return conn


def connect_read_only(path: str | Path) -> sqlite3.Connection:
    """Open an existing database without the right to change it."""
    if not Path(path).exists():
        raise FileNotFoundError(f"{path}: no such database")
    uri = Path(path).resolve().as_uri() + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


def _statements(script: str) -> list[str]:
    # executescript() would COMMIT on its own; run the DDL statement by
    # statement inside our transaction instead so a failure leaves nothing.
    parts, buffer = [], ""
    for line in script.splitlines():
        line = line.split("--", 1)[0]
        if not line.strip():
            continue
        buffer += line + "\n"
        if sqlite3.complete_statement(buffer):
            parts.append(buffer.strip())
            buffer = ""
    return parts
