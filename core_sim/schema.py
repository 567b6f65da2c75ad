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

import re
import sqlite3
from pathlib import Path

SCHEMA_VERSION = 4

DDL = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE enterprises (
    corp_no      TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    single_limit INTEGER CHECK (single_limit IS NULL OR single_limit > 0),
    daily_limit  INTEGER CHECK (daily_limit IS NULL OR daily_limit > 0),
    monthly_limit    INTEGER CHECK (monthly_limit IS NULL OR monthly_limit > 0),
    personal_single  INTEGER CHECK (personal_single IS NULL OR personal_single > 0),
    personal_daily   INTEGER CHECK (personal_daily IS NULL OR personal_daily > 0),
    personal_monthly INTEGER CHECK (personal_monthly IS NULL OR personal_monthly > 0)
) WITHOUT ROWID;

CREATE TABLE operators (
    corp_no TEXT NOT NULL REFERENCES enterprises (corp_no),
    user_no TEXT NOT NULL,
    PRIMARY KEY (corp_no, user_no)
) WITHOUT ROWID;

-- kind: customer (an enterprise's account here), personal (an individual's
-- account here: payroll payees, premium payers), external (an account at
-- another bank, mirrored here), internal (the bank's own books).
-- funds_checked: 1 when the seed gave an external account a balance, so a
-- collection from it can lack funds; 0 = the other bank always pays.
CREATE TABLE accounts (
    id        INTEGER PRIMARY KEY,
    kind      TEXT NOT NULL CHECK (kind IN ('customer', 'personal', 'external', 'internal')),
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
    id_no     TEXT NOT NULL DEFAULT '',
    funds_checked INTEGER NOT NULL DEFAULT 0 CHECK (funds_checked IN (0, 1)),
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
    -- awaiting: held for the enterprise's approvals (core_sim.authorization);
    -- cancelled (rejected) and expired ones moved nothing.
    status      TEXT NOT NULL
                CHECK (status IN ('processing', 'success', 'failed', 'suspicious',
                                  'awaiting', 'cancelled', 'expired')),
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
-- back to the payer), batch_item (one item of a batch, both accounts here),
-- batch_settle (a clearing run's settled other-bank items of one batch,
-- credited to the enterprise together). item_seq: the batch item's position.
CREATE TABLE entries (
    id              INTEGER PRIMARY KEY,
    serial_no       TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL
                    CHECK (kind IN ('opening', 'transfer', 'interbank_debit', 'settle', 'return',
                                    'batch_item', 'batch_settle')),
    biz_date        TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    tr_time         TEXT NOT NULL,
    summary         TEXT NOT NULL DEFAULT '',
    instruction_id  INTEGER REFERENCES instructions (id),
    clearing_run_id INTEGER REFERENCES clearing_runs (id),
    item_seq        INTEGER,
    CHECK ((kind = 'opening') = (instruction_id IS NULL)),
    CHECK ((kind = 'settle' OR kind = 'return' OR kind = 'batch_settle')
           = (clearing_run_id IS NOT NULL)),
    CHECK ((kind = 'batch_item') = (item_seq IS NOT NULL))
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

#: Added by version 2: collection agreements and batches (plus the accounts and
#: entries changes above, see _migrate_1_to_2).
DDL_BATCHES = """
-- Collection agreements (代扣协议): the payer allows the enterprise to collect
-- into rcv_acno. payer_acno is a personal account here or an external one.
-- max_amt: per collection, NULL = no maximum; valid_to YYYYMMDD, NULL = open.
CREATE TABLE agreements (
    id           INTEGER PRIMARY KEY,
    agreement_no TEXT NOT NULL UNIQUE,
    corp_no      TEXT NOT NULL REFERENCES enterprises (corp_no),
    rcv_acno     TEXT NOT NULL,
    payer_acno   TEXT NOT NULL,
    payer_name   TEXT NOT NULL,
    max_amt      INTEGER CHECK (max_amt IS NULL OR max_amt > 0),
    valid_to     TEXT,
    status       TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX agreements_by_rcv_acno ON agreements (rcv_acno, id);

-- One row per batch (330002 payment, 330010 collection); its exactly-once
-- record is the instruction it belongs to. state: receiving (segments still
-- arriving), processing (items executing or settling), finished, refused.
-- next_seq: the first item not yet executed (the resumable cursor).
CREATE TABLE batches (
    id             INTEGER PRIMARY KEY,
    instruction_id INTEGER NOT NULL UNIQUE REFERENCES instructions (id),
    corp_no        TEXT NOT NULL,
    req_no         TEXT NOT NULL,
    tr_code        TEXT NOT NULL CHECK (tr_code IN ('330002', '330010')),
    account_id     INTEGER NOT NULL REFERENCES accounts (id),
    inline         INTEGER NOT NULL CHECK (inline IN (0, 1)),
    summary        TEXT NOT NULL DEFAULT '',
    cert_no        TEXT NOT NULL DEFAULT '',
    busi_no        TEXT NOT NULL DEFAULT '',
    declared_count INTEGER NOT NULL,
    declared_amt   INTEGER NOT NULL,
    header_digest  BLOB NOT NULL,
    state          TEXT NOT NULL
                   CHECK (state IN ('receiving', 'awaiting', 'processing', 'finished',
                                    'refused', 'cancelled')),
    segments       INTEGER NOT NULL DEFAULT 0,
    items          INTEGER NOT NULL DEFAULT 0,
    items_amt      INTEGER NOT NULL DEFAULT 0,
    next_seq       INTEGER NOT NULL DEFAULT 1,
    ok_count       INTEGER NOT NULL DEFAULT 0,
    ok_amt         INTEGER NOT NULL DEFAULT 0,
    fail_count     INTEGER NOT NULL DEFAULT 0,
    fail_amt       INTEGER NOT NULL DEFAULT 0,
    pending_count  INTEGER NOT NULL DEFAULT 0,
    pending_amt    INTEGER NOT NULL DEFAULT 0,
    err_code       TEXT NOT NULL DEFAULT '',
    err_msg        TEXT NOT NULL DEFAULT '',
    biz_date       TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    UNIQUE (corp_no, req_no)
);
CREATE INDEX batches_at_work ON batches (id) WHERE state = 'processing';

-- The digest of each stored segment, so a retransmitted one is recognised.
CREATE TABLE batch_segments (
    batch_id INTEGER NOT NULL REFERENCES batches (id),
    seg_no   INTEGER NOT NULL,
    digest   BLOB NOT NULL,
    PRIMARY KEY (batch_id, seg_no)
) WITHOUT ROWID;

-- The items, in the order of the file. acno: the payee's card (330002) or
-- the payer's account (330010); bank_no: a payer's bank ('' = this bank).
-- status: received, success, failed, processing (settles in clearing).
CREATE TABLE batch_items (
    batch_id     INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
    busino       TEXT NOT NULL,
    acno         TEXT NOT NULL,
    acname       TEXT NOT NULL,
    amt          INTEGER NOT NULL CHECK (amt > 0),
    card_flag    TEXT NOT NULL DEFAULT '',
    agreement_no TEXT NOT NULL DEFAULT '',
    bank_no      TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL DEFAULT 'received'
                 CHECK (status IN ('received', 'success', 'failed', 'processing')),
    flw          TEXT NOT NULL DEFAULT '',
    err_code     TEXT NOT NULL DEFAULT '',
    err_msg      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (batch_id, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX batch_items_busino ON batch_items (batch_id, busino);
-- Clearing looks only at items still with the other banks.
CREATE INDEX batch_items_in_clearing ON batch_items (batch_id, seq)
    WHERE status = 'processing';
"""

# Scenario rules (core_sim.scenario): how often each rule met its conditions and
# fired, per business date; and what a fired rule left to happen later to an
# instruction (due: business time; NULL for a return after settlement that has
# not settled yet).
DDL_SCENARIO = """
CREATE TABLE scenario_counts (
    rule     TEXT NOT NULL,
    biz_date TEXT NOT NULL,
    matched  INTEGER NOT NULL DEFAULT 0,
    fired    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (rule, biz_date)
) WITHOUT ROWID;

CREATE TABLE scenario_pending (
    instruction_id INTEGER PRIMARY KEY REFERENCES instructions (id),
    rule           TEXT NOT NULL,
    action         TEXT NOT NULL CHECK (action IN ('hold', 'return', 'return_after_settle')),
    due            TEXT,
    after_seconds  INTEGER NOT NULL DEFAULT 0,
    settle         INTEGER NOT NULL CHECK (settle IN (0, 1)),
    message        TEXT NOT NULL DEFAULT ''
);
"""


# An enterprise's controls (core_sim.controls, core_sim.authorization): its
# e-banking operators and their enrolled keys, its approval flows (a flow is
# never edited: deleted and added), its directed accounts' payees, the
# authorizations of the instructions that wait, the decisions taken on them,
# the usage that monthly and corp-to-personal limits count, and the audit log.
DDL_CONTROLS = """
CREATE TABLE ebank_operators (
    corp_no    TEXT NOT NULL REFERENCES enterprises (corp_no),
    code       TEXT NOT NULL,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('maker', 'checker', 'deputy', 'supervisor')),
    status     TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'removed')),
    public_key BLOB,
    key_id     TEXT,
    key_status TEXT NOT NULL DEFAULT 'none' CHECK (key_status IN ('none', 'enrolled', 'revoked')),
    changed_at TEXT NOT NULL,
    PRIMARY KEY (corp_no, code)
) WITHOUT ROWID;

-- kind: transfer (per account, bands by amount) or collection (every 330010 of
-- the enterprise; acno ''). spec: JSON, the bands or the levels.
CREATE TABLE flows (
    id         INTEGER PRIMARY KEY,
    corp_no    TEXT NOT NULL REFERENCES enterprises (corp_no),
    kind       TEXT NOT NULL CHECK (kind IN ('transfer', 'collection')),
    acno       TEXT NOT NULL,
    spec       TEXT NOT NULL,
    status     TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deleted')),
    created_at TEXT NOT NULL,
    deleted_at TEXT
);
CREATE UNIQUE INDEX flows_in_force ON flows (corp_no, kind, acno) WHERE status = 'active';

CREATE TABLE directed_payees (
    corp_no    TEXT NOT NULL REFERENCES enterprises (corp_no),
    acno       TEXT NOT NULL,
    payee_acno TEXT NOT NULL,
    PRIMARY KEY (acno, payee_acno)
) WITHOUT ROWID;

-- One row per instruction that needed approvals. request: JSON, the request's
-- fields (executed as they are when the last level approves); levels: JSON list
-- of lists of operator codes; approvers: JSON list, one per approved level.
CREATE TABLE authorizations (
    instruction_id INTEGER PRIMARY KEY REFERENCES instructions (id),
    corp_no        TEXT NOT NULL,
    flow_id        INTEGER REFERENCES flows (id),
    maker          TEXT NOT NULL,
    tr_code        TEXT NOT NULL,
    request        TEXT NOT NULL,
    levels         TEXT NOT NULL,
    approvers      TEXT NOT NULL DEFAULT '[]',
    state          TEXT NOT NULL
                   CHECK (state IN ('awaiting', 'authorized', 'rejected', 'expired', 'cancelled')),
    closed_by      TEXT NOT NULL DEFAULT '',
    biz_date       TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX authorizations_awaiting ON authorizations (corp_no, instruction_id)
    WHERE state = 'awaiting';

-- Each signed decision (210230), exactly once by its own (corp_no, req_no).
CREATE TABLE approval_decisions (
    id             INTEGER PRIMARY KEY,
    corp_no        TEXT NOT NULL,
    req_no         TEXT NOT NULL,
    digest         BLOB NOT NULL,
    instruction_id INTEGER REFERENCES instructions (id),
    operator       TEXT NOT NULL,
    decision       TEXT NOT NULL,
    level          INTEGER,
    signature      BLOB NOT NULL,
    ret_code       TEXT NOT NULL,
    reply          TEXT NOT NULL,
    at             TEXT NOT NULL,
    UNIQUE (corp_no, req_no)
);

-- What monthly and corp-to-personal limits count: executed (accepted) amounts
-- per enterprise and period; period 'YYYY-MM' (month) or 'YYYY-MM-DD' (day).
CREATE TABLE limit_usage (
    corp_no TEXT NOT NULL,
    scope   TEXT NOT NULL CHECK (scope IN ('all', 'personal')),
    period  TEXT NOT NULL,
    amount  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (corp_no, scope, period)
) WITHOUT ROWID;

CREATE TABLE audit_log (
    id       INTEGER PRIMARY KEY,
    at       TEXT NOT NULL,
    biz_date TEXT NOT NULL,
    corp_no  TEXT NOT NULL,
    event    TEXT NOT NULL,
    tr_code  TEXT NOT NULL DEFAULT '',
    req_no   TEXT NOT NULL DEFAULT '',
    operator TEXT NOT NULL DEFAULT '',
    amt      INTEGER,
    result   TEXT NOT NULL DEFAULT '',
    detail   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_by_corp ON audit_log (corp_no, biz_date, id);
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
        _in_transaction(conn, lambda: _create(conn))
    elif version in (1, 2, 3):
        # Rebuilt tables are referenced by others: foreign keys are checked
        # once the copy is complete (the pragma cannot change inside a transaction).
        from core_sim import migrations  # it reads this module's DDL

        steps = migrations.STEPS[version - 1:]
        conn.execute("PRAGMA foreign_keys=OFF")
        try:
            _in_transaction(conn, lambda: [step(conn) for step in steps])
        finally:
            conn.execute("PRAGMA foreign_keys=ON")
    elif version != SCHEMA_VERSION:
        conn.close()
        raise ValueError(
            f"{path}: database schema version {version}, this bank needs {SCHEMA_VERSION}"
        )
    return conn


def _in_transaction(conn: sqlite3.Connection, work) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        work()
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _create(conn: sqlite3.Connection) -> None:
    for ddl in (DDL, DDL_BATCHES, DDL_SCENARIO, DDL_CONTROLS):
        for statement in statements(ddl):
            conn.execute(statement)


def connect_read_only(path: str | Path) -> sqlite3.Connection:
    """Open an existing database without the right to change it."""
    if not Path(path).exists():
        raise FileNotFoundError(f"{path}: no such database")
    uri = Path(path).resolve().as_uri() + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


def statements(script: str) -> list[str]:
    # executescript() would COMMIT on its own; run the DDL statement by
    # statement inside our transaction instead so a failure leaves nothing.
    parts, buffer = [], ""
    for line in script.splitlines():
        line = line.split("--", 1)[0]
        if not line.strip():
            continue
        buffer += line + "\n"
        if sqlite3.complete_statement(buffer):
            parts.append(_IN_LIST.sub(_as_or_chain, buffer.strip()))
            buffer = ""
    return parts


# ``column IN ('a', 'b', 'c')`` in a CHECK reads best, but SQLite evaluates a
# list of more than two constants through a temporary table built anew for
# every row an INSERT or UPDATE writes: on the batch tables that costs more
# than the row itself (2 µs a row, measured). The same test as a chain of
# ORs costs nothing, so the schema is written with IN and created with ORs.
_IN_LIST = re.compile(r"CHECK \((\w+) IN \(('[^']*'(?:,\s*'[^']*'){2,})\)\)")


def _as_or_chain(match: re.Match[str]) -> str:
    column, values = match[1], re.findall(r"'[^']*'", match[2])
    return "CHECK (" + " OR ".join(f"{column} = {value}" for value in values) + ")"
