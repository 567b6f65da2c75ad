"""Applying a seed (:class:`config.seed.Seed`) to the bank's database.

The rule: a seed *adds what is missing* and never changes what exists. The
first seed creates the bank (its number, name and first business date); a
later seed for the same bank may add enterprises, operators, accounts,
external accounts, personal accounts and agreements, but an existing account
keeps its balance, status and holds, an existing enterprise its limits, an
existing agreement its status (one revoked at the counter stays revoked).
Re-opening with the same seed is therefore a no-op and never duplicates
money. A seed for a different bank number is refused.

Opening balances are never written into a balance: each enterprise account's
is one balanced entry debiting ``#OPENING-EQUITY-<currency>`` and crediting
the account; personal accounts and external accounts with a balance (whose
bank checks funds, ``funds_checked = 1``) are opened a thousand to an entry,
one debit for the thousand's total and one credit each, through
:meth:`Ledger.post_many`.

Personal accounts and agreements may number a million (CSV lists, see
:mod:`config.seed.csvlist`): they are streamed in chunks, each chunk one
multi-row INSERT — the schema's ``CHECK (x IN (...))`` constraints cost SQLite
a small table built per statement, so a thousand rows per statement is several
times faster than ``executemany``. Whatever the streamed rows do not say
for themselves is checked here, inside the caller's transaction, so a failure
still leaves nothing: a personal account number repeated in the file, an
agreement number repeated, an agreement whose payer the ledger does not know
or knows under another name. Each is reported like a bad row, with its path
and line (:class:`config.errors.ConfigRowError`, a ValueError).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from itertools import chain, islice
from typing import Any

from config.errors import ConfigError, ConfigRowError
from config.seed import MAX_ROW_ERRORS, CsvList, Seed
from core_sim import controls
from core_sim.ledger import Ledger, Leg, NewEntry, ymd

#: Rows per chunk: per opening entry, and per look-up of rows not inserted.
CHUNK = 1000
#: Rows per INSERT statement (within SQLite's 32,766 parameters).
_STATEMENT_ROWS = 500

_PERSONAL = (
    "INSERT INTO accounts (id, kind, acno, bank_no, bank_name, name, currency, status, opened,"
    " id_no) VALUES ",
    "(?, 'personal', ?, ?, ?, ?, 'CNY', ?, ?, ?)",
    " ON CONFLICT (bank_no, acno) DO NOTHING",
)
_AGREEMENTS = (
    "INSERT INTO agreements (id, agreement_no, corp_no, rcv_acno, payer_acno, payer_name,"
    " max_amt, valid_to, status, created_at, updated_at) VALUES ",
    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    " ON CONFLICT (agreement_no) DO NOTHING",
)


def initialize_bank(conn, seed: Seed, today: date) -> None:
    """Create the bank's identity in a new database (inside the caller's transaction)."""
    business_date = seed.bank.business_date or today
    Ledger.initialize(conn, bank_no=seed.bank.bank_no, bank_name=seed.bank.name,
                      business_date=business_date)


def apply_seed(ledger: Ledger, seed: Seed, now: datetime) -> int:
    """Add what the seed has and the database lacks; return how many accounts were opened.

    Raises ValueError (a :class:`ConfigRowError` for a row of the seed) when
    the seed cannot be applied; the caller rolls its transaction back.
    """
    if seed.bank.bank_no != ledger.bank_no:
        raise ValueError(
            f"seed is for bank {seed.bank.bank_no}, the database holds bank {ledger.bank_no}"
        )
    conn = ledger.conn
    ledger.clearing_in_transit_id()  # the bank's own accounts exist from the start
    # Rows from this id on are this seed's: a conflict with one of them is a
    # repeat within the seed, a conflict with an older one an account that exists.
    first_account_id = _next_id(conn, "accounts")
    external_openings = _Openings(ledger, now)
    opened = 0
    for external in seed.external_accounts:
        row = conn.execute(
            "INSERT INTO accounts (kind, acno, bank_no, bank_name, name, currency, status,"
            " opened, funds_checked) VALUES ('external', ?, ?, ?, ?, 'CNY', ?, ?, ?)"
            " ON CONFLICT (bank_no, acno) DO NOTHING RETURNING id",
            (external.acno, external.bank_no, external.bank_name, external.name,
             external.status, ledger.biz, int(external.balance is not None)),
        ).fetchone()
        if row is not None:
            opened += 1
            external_openings.add(row[0], external.balance or 0)
    for enterprise in seed.enterprises:
        limits = enterprise.limits
        conn.execute(
            "INSERT INTO enterprises (corp_no, name, single_limit, daily_limit, monthly_limit,"
            " personal_single, personal_daily, personal_monthly)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (corp_no) DO NOTHING",
            (enterprise.corp_no, enterprise.name, limits.single, limits.daily, limits.monthly,
             limits.to_personal.single, limits.to_personal.daily, limits.to_personal.monthly),
        )
        conn.executemany(
            "INSERT INTO operators (corp_no, user_no) VALUES (?, ?)"
            " ON CONFLICT (corp_no, user_no) DO NOTHING",
            [(enterprise.corp_no, user_no) for user_no in enterprise.users],
        )
        for account in enterprise.accounts:
            opened += _open_account(ledger, enterprise.corp_no, account, now)
        controls.store_seed_controls(conn, enterprise, now)
    external_openings.flush()
    opened += _open_personal_accounts(ledger, seed, now, first_account_id)
    _add_agreements(ledger, seed, now)
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


class _Openings:
    """Opening balances (CNY), posted as one entry per :data:`CHUNK` accounts."""

    def __init__(self, ledger: Ledger, now: datetime) -> None:
        self.ledger = ledger
        self.now = now
        self.legs: list[Leg] = []
        self.total = 0

    def add(self, account_id: int, amount: int) -> None:
        if amount <= 0:
            return
        self.legs.append(Leg(account_id, "C", amount, "", "opening balance"))
        self.total += amount
        if len(self.legs) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        if not self.legs:
            return
        ledger = self.ledger
        debit = Leg(ledger.opening_equity_id("CNY"), "D", self.total, "",
                    f"{len(self.legs)} opening balances")
        ledger.post_many([NewEntry(ledger.next_serial(), "opening", [debit, *self.legs],
                                   summary="opening balances")], self.now)
        self.legs = []
        self.total = 0


def _open_personal_accounts(ledger: Ledger, seed: Seed, now: datetime,
                            first_account_id: int) -> int:
    conn = ledger.conn
    errors: list[ConfigError] = []
    repeated: list[tuple[int, int | None, str]] = []
    openings = _Openings(ledger, now)
    bank_no, bank_name, biz = ledger.bank_no, ledger.bank_name, ledger.biz
    opened = 0
    for chunk in _chunks(_located(seed, "personal_accounts", errors)):
        # Read each time: posting the last chunk's openings may have opened the
        # bank's own opening-equity account.
        next_id = _next_id(conn, "accounts")
        rows = [(next_id + k, p.acno, bank_no, bank_name, p.name, p.status, biz, p.id_no)
                for k, (_, _, p) in enumerate(chunk)]
        inserted = _insert(conn, _PERSONAL, rows)
        pairs = list(zip(chunk, rows, strict=True))
        if inserted < len(rows):
            new_ids = {account_id for (account_id,) in conn.execute(
                "SELECT id FROM accounts WHERE id >= ? AND id < ?", (next_id, next_id + len(rows)))}
            skipped = [item for item, row in pairs if row[0] not in new_ids]
            pairs = [(item, row) for item, row in pairs if row[0] in new_ids]
            existing = _lookup(conn, "SELECT acno, id, kind FROM accounts WHERE bank_no = ?"
                               " AND acno IN ({})", [ledger.bank_no],
                               [p.acno for _, _, p in skipped])
            for index, line, p in skipped:
                account_id, kind = existing[p.acno]
                if account_id >= first_account_id:
                    repeated.append((index, line, p.acno))
                elif kind != "personal":
                    what = "an enterprise's account" if kind == "customer" else "the bank's own"
                    errors.append(_row_error(seed, "personal_accounts", index, line, "acno",
                                             f"{p.acno!r} is already {what} in the ledger"))
                # else: opened by an earlier seed, and a seed never changes an account
        for (_, _, p), row in pairs:
            openings.add(row[0], p.balance)
        opened += inserted
    openings.flush()
    errors += _repeats(seed, "personal_accounts", "acno", "account number", repeated)
    _raise(errors)
    return opened


def _add_agreements(ledger: Ledger, seed: Seed, now: datetime) -> None:
    conn = ledger.conn
    errors: list[ConfigError] = []
    repeated: list[tuple[int, int | None, str]] = []
    first_id = next_id = _next_id(conn, "agreements")  # nothing else adds agreements
    created = now.isoformat()
    for chunk in _chunks(_located(seed, "agreements", errors)):
        rows = [(next_id + k, a.agreement_no, a.corp_no, a.rcv_acno, a.payer_acno, a.payer_name,
                 a.max_amt, a.valid_to and _ymd(a.valid_to), a.status, created, created)
                for k, (_, _, a) in enumerate(chunk)]
        if _insert(conn, _AGREEMENTS, rows) < len(rows):
            existing = _lookup(conn, "SELECT agreement_no, id FROM agreements"
                               " WHERE agreement_no IN ({})", [],
                               [a.agreement_no for _, _, a in chunk])
            for (index, line, a), row in zip(chunk, rows, strict=True):
                (found_id,) = existing[a.agreement_no]
                if found_id != row[0] and found_id >= first_id:
                    repeated.append((index, line, a.agreement_no))
                # an older one: the seed never changes an agreement
        next_id += len(rows)
    errors += _repeats(seed, "agreements", "agreement_no", "agreement_no", repeated)
    _raise(errors)
    _raise(_payer_problems(ledger, seed, first_id))


def _payer_problems(ledger: Ledger, seed: Seed, first_id: int) -> list[ConfigError]:
    """The new agreements whose payer is not a personal or external account under that name."""
    conn = ledger.conn
    bad = conn.execute(
        "SELECT g.agreement_no, g.payer_acno, g.payer_name FROM agreements g"
        " WHERE g.id >= ? AND NOT EXISTS (SELECT 1 FROM accounts a"
        "  WHERE a.acno = g.payer_acno AND a.kind IN ('personal', 'external')"
        "  AND a.name = g.payer_name)"
        " ORDER BY g.id LIMIT ?",
        (first_id, MAX_ROW_ERRORS),
    ).fetchall()
    if not bad:
        return []
    where = _find(seed, "agreements", "agreement_no", {row[0] for row in bad})
    problems = []
    for agreement_no, acno, name in bad:
        index, line = where.get(agreement_no, (None, None))
        holders = conn.execute("SELECT kind, name FROM accounts WHERE acno = ?", (acno,)).fetchall()
        payers = [repr(holder) for kind, holder in holders if kind in ("personal", "external")]
        if payers:
            problems.append(_row_error(
                seed, "agreements", index, line, "payer_name",
                f"{name!r} is not the name of account {acno!r} ({', '.join(payers)})"))
        else:
            why = ("is an enterprise's account" if holders else
                   "is neither a personal account here nor an external account")
            problems.append(_row_error(
                seed, "agreements", index, line, "payer_acno",
                f"{acno!r} {why}; a payer is a personal account here or an account at another"
                " bank"))
    return problems


# -- plumbing --------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _ymd(day: date) -> str:
    return ymd(day)  # a million agreements share a few hundred end dates


def _next_id(conn, table: str) -> int:
    return conn.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}").fetchone()[0]


@functools.cache
def _statement(sql: tuple[str, str, str], rows: int) -> str:
    head, values, tail = sql
    return head + ", ".join([values] * rows) + tail


def _insert(conn, sql: tuple[str, str, str], rows: list[tuple]) -> int:
    """Insert ``rows`` with multi-row INSERTs; return how many were inserted (not conflicting)."""
    before = conn.total_changes
    for start in range(0, len(rows), _STATEMENT_ROWS):
        part = rows[start:start + _STATEMENT_ROWS]
        conn.execute(_statement(sql, len(part)), list(chain.from_iterable(part)))
    return conn.total_changes - before


def _lookup(conn, sql: str, fixed: list, keys: list[str]) -> dict[str, tuple]:
    """key -> the rest of the row, for rows whose first column is one of ``keys``."""
    found: dict[str, tuple] = {}
    for start in range(0, len(keys), 900):
        part = keys[start:start + 900]
        for key, *rest in conn.execute(sql.format(", ".join("?" * len(part))), fixed + part):
            found[key] = tuple(rest)
    return found


def _chunks(items: Iterable[Any]) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, CHUNK)):
        yield chunk


def _located(seed: Seed, key: str, errors: list[ConfigError]) -> Iterator[tuple[int, int | None,
                                                                                 Any]]:
    rows = getattr(seed, key)
    if isinstance(rows, CsvList):
        return rows.located(errors)
    return ((index, None, row) for index, row in enumerate(rows))


def _row_error(seed: Seed, key: str, index: int | None, line: int | None, field: str,
               reason: str) -> ConfigRowError:
    rows = getattr(seed, key)
    if isinstance(rows, CsvList):
        return rows.error(index, line, field, reason)
    path = key if index is None else f"{key}[{index}]"
    return ConfigRowError(seed.source, f"{path}.{field}", reason)


def _find(seed: Seed, key: str, column: str, values: set[str]) -> dict[str, tuple[int, Any]]:
    """The first (index, line) of each of ``values`` in the list ``key`` (for messages)."""
    rows = getattr(seed, key)
    if isinstance(rows, CsvList):
        return rows.find(column, values)
    found: dict[str, tuple[int, Any]] = {}
    for index, row in enumerate(rows):
        found.setdefault(getattr(row, column), (index, None))
    return found


def _repeats(seed: Seed, key: str, column: str, what: str,
             repeated: list[tuple[int, int | None, str]]) -> list[ConfigError]:
    """Errors for rows whose ``column`` repeats an earlier row of the same list."""
    if not repeated:
        return []
    first = _find(seed, key, column, {value for _, _, value in repeated})
    errors: list[ConfigError] = []
    for index, line, value in repeated:
        first_index, first_line = first.get(value, (None, None))
        used = f"{key}[{first_index}]" + (f", line {first_line}" if first_line else "")
        errors.append(_row_error(seed, key, index, line, column,
                                 f"duplicate {what} {value!r} (first used at {used})"))
    return errors


def _raise(errors: list[ConfigError]) -> None:
    if errors:
        errors.sort(key=lambda error: getattr(error, "line", None) or 0)
        raise ConfigRowError.collect(errors)
