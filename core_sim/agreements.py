"""The bank counter for collection agreements (代扣协议): list, add, revoke.

An agreement lets an enterprise collect from a payer into one of its
accounts (330010 batch collections check each item against it). Agreements
come from the seed (:mod:`core_sim.seeding`) or are signed at the counter,
which is this module: ``directlink core agreements list|add|revoke``.

The functions work on an open ledger connection, inside the caller's
transaction for writes (:func:`counter` opens one: a short ``BEGIN
IMMEDIATE`` beside a running core, whose batches read agreements from the
database when they execute). Every refusal is its own :class:`AgreementError`
subclass, with a message for the teller; nothing is written then.

An agreement's ``status`` in the database is active or revoked; "expired" is
an active one whose ``valid_to`` lies before the business date, and is shown
and filtered as such.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from config.seed import (
    acno_problem,
    agreement_no_problem,
    corp_no_problem,
    name_problem,
)
from core_sim import schema
from core_sim.ledger import Ledger, parse_ymd, ymd

#: What ``list`` shows unless told otherwise.
DEFAULT_LIMIT = 50
STATES = ("active", "expired", "revoked")


class AgreementError(ValueError):
    """The counter cannot do it; the message says why. Nothing was written."""


class InvalidField(AgreementError):
    """A field that is not well-formed (an agreement number with a dash, a zero maximum)."""


class UnknownEnterprise(AgreementError):
    """No enterprise with this corp_no at this bank."""


class NotTheEnterprisesAccount(AgreementError):
    """The collecting account is not an account of that enterprise here."""


class UnknownPayer(AgreementError):
    """The payer's account is neither a personal account here nor a known external account."""


class PayerNameMismatch(AgreementError):
    """The payer's name is not the name of the payer's account."""


class AccountClosed(AgreementError):
    """The payer's or the collecting account is closed: nothing can be collected."""


class DuplicateAgreement(AgreementError):
    """An agreement with this number exists already."""


class UnknownAgreement(AgreementError):
    """No agreement with this number."""


class AlreadyRevoked(AgreementError):
    """The agreement was revoked before."""


@dataclass(frozen=True, slots=True)
class AgreementRow:
    agreement_no: str
    corp_no: str
    rcv_acno: str
    payer_acno: str
    payer_name: str
    payer_bank_no: str  # the payer's bank ("" when the account is unknown)
    max_amt: int | None  # fen; None = no maximum
    valid_to: date | None
    status: str  # active | revoked (as stored)
    created_at: str
    updated_at: str

    def state(self, business_date: date) -> str:
        """active, expired (active but past valid_to) or revoked."""
        if self.status == "active" and self.valid_to is not None and self.valid_to < business_date:
            return "expired"
        return self.status


@dataclass(frozen=True, slots=True)
class AgreementPage:
    """One page of :func:`list_agreements`: ``rows`` from ``offset`` of ``total`` matching."""

    rows: tuple[AgreementRow, ...]
    total: int
    offset: int
    business_date: date


_COLUMNS = (
    "g.agreement_no, g.corp_no, g.rcv_acno, g.payer_acno, g.payer_name,"
    " coalesce((SELECT a.bank_no FROM accounts a WHERE a.acno = g.payer_acno"
    "  AND a.kind IN ('personal', 'external') ORDER BY a.kind DESC LIMIT 1), ''),"
    " g.max_amt, g.valid_to, g.status, g.created_at, g.updated_at"
)


def _row(values: tuple) -> AgreementRow:
    *head, valid_to, status, created, updated = values
    return AgreementRow(*head, parse_ymd(valid_to) if valid_to else None, status, created,
                        updated)


def business_date(conn: sqlite3.Connection) -> date:
    row = conn.execute("SELECT value FROM meta WHERE key = 'business_date'").fetchone()
    if row is None:
        raise AgreementError("the database has no bank: it was never seeded")
    return parse_ymd(row[0])


def list_agreements(conn: sqlite3.Connection, *, corp_no: str | None = None,
                    rcv_acno: str | None = None, payer_acno: str | None = None,
                    state: str | None = None, limit: int = DEFAULT_LIMIT,
                    offset: int = 0) -> AgreementPage:
    """The agreements matching every filter given, oldest first, one page of ``limit``."""
    if state is not None and state not in STATES:
        raise InvalidField(f"state must be one of {', '.join(STATES)}, not {state!r}")
    if limit < 1 or offset < 0:
        raise InvalidField("limit must be at least 1 and offset not negative")
    today = business_date(conn)
    where, params = [], []
    for column, value in (("corp_no", corp_no), ("rcv_acno", rcv_acno),
                          ("payer_acno", payer_acno)):
        if value is not None:
            where.append(f"g.{column} = ?")
            params.append(value)
    if state == "revoked":
        where.append("g.status = 'revoked'")
    elif state == "active":
        where.append("g.status = 'active' AND (g.valid_to IS NULL OR g.valid_to >= ?)")
        params.append(ymd(today))
    elif state == "expired":
        where.append("g.status = 'active' AND g.valid_to < ?")
        params.append(ymd(today))
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    (total,) = conn.execute(f"SELECT count(*) FROM agreements g{clause}", params).fetchone()
    rows = conn.execute(f"SELECT {_COLUMNS} FROM agreements g{clause} ORDER BY g.id"
                        " LIMIT ? OFFSET ?", [*params, limit, offset]).fetchall()
    return AgreementPage(tuple(_row(row) for row in rows), total, offset, today)


def get_agreement(conn: sqlite3.Connection, agreement_no: str) -> AgreementRow:
    row = conn.execute(f"SELECT {_COLUMNS} FROM agreements g WHERE g.agreement_no = ?",
                       (agreement_no,)).fetchone()
    if row is None:
        raise UnknownAgreement(f"no agreement {agreement_no!r}")
    return _row(row)


def add_agreement(ledger: Ledger, *, corp_no: str, rcv_acno: str, payer_acno: str,
                  payer_name: str, max_amt: int | None = None, valid_to: date | None = None,
                  agreement_no: str | None = None, now: datetime) -> AgreementRow:
    """Sign a new agreement (inside the caller's write transaction); None numbers it.

    The teller's checks: the enterprise and its collecting account exist and
    are open; the payer's account is a personal account here or an external
    one, not closed, and ``payer_name`` is its name; the number is new.
    """
    for field, value, problem in (("agreement_no", agreement_no, agreement_no_problem),
                                  ("corp_no", corp_no, corp_no_problem),
                                  ("rcv_acno", rcv_acno, acno_problem),
                                  ("payer_acno", payer_acno, acno_problem),
                                  ("payer_name", payer_name, name_problem)):
        reason = None if value is None else problem(value)
        if reason is not None:
            raise InvalidField(f"{field}: {reason}")
    if max_amt is not None and max_amt <= 0:
        raise InvalidField(f"max_amt must be positive, not {max_amt} fen")
    if valid_to is not None and valid_to < ledger.business_date:
        raise InvalidField(f"valid_to {valid_to.isoformat()} is before the business date"
                           f" {ledger.business_date.isoformat()}")
    if ledger.enterprise(corp_no) is None:
        raise UnknownEnterprise(f"no enterprise {corp_no} at this bank")
    account = ledger.customer_account(rcv_acno)
    if account is None or account.corp_no != corp_no:
        owner = f" (it is {account.corp_no}'s)" if account is not None else ""
        raise NotTheEnterprisesAccount(f"{rcv_acno} is not an account of {corp_no}{owner}")
    if account.status == "closed":
        raise AccountClosed(f"the collecting account {rcv_acno} is closed")
    conn = ledger.conn
    holders = conn.execute("SELECT kind, name, status FROM accounts WHERE acno = ?"
                           " AND kind IN ('personal', 'external')", (payer_acno,)).fetchall()
    if not holders:
        raise UnknownPayer(f"{payer_acno} is neither a personal account here nor an external"
                           " account the bank knows")
    named = [status for _, name, status in holders if name == payer_name]
    if not named:
        names = ", ".join(repr(name) for _, name, _ in holders)
        raise PayerNameMismatch(f"{payer_name!r} is not the name of account {payer_acno}"
                                f" ({names})")
    if all(status == "closed" for status in named):
        raise AccountClosed(f"the payer's account {payer_acno} is closed")
    if agreement_no is None:
        agreement_no = _next_number(conn)
    elif conn.execute("SELECT 1 FROM agreements WHERE agreement_no = ?",
                      (agreement_no,)).fetchone():
        raise DuplicateAgreement(f"agreement {agreement_no} exists already")
    stamp = now.isoformat()
    conn.execute(
        "INSERT INTO agreements (agreement_no, corp_no, rcv_acno, payer_acno, payer_name,"
        " max_amt, valid_to, status, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?, ?)",
        (agreement_no, corp_no, rcv_acno, payer_acno, payer_name, max_amt,
         ymd(valid_to) if valid_to else None, stamp, stamp))
    return get_agreement(conn, agreement_no)


def revoke_agreement(ledger: Ledger, agreement_no: str, *, now: datetime) -> AgreementRow:
    """Revoke an active (or expired) agreement (inside the caller's write transaction)."""
    agreement = get_agreement(ledger.conn, agreement_no)
    if agreement.status == "revoked":
        raise AlreadyRevoked(f"agreement {agreement_no} was revoked already"
                             f" ({agreement.updated_at})")
    ledger.conn.execute("UPDATE agreements SET status = 'revoked', updated_at = ?"
                        " WHERE agreement_no = ?", (now.isoformat(), agreement_no))
    return get_agreement(ledger.conn, agreement_no)


def _next_number(conn: sqlite3.Connection) -> str:
    """The first free ``AG`` + 10 digits from the agreement count on."""
    (number,) = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM agreements").fetchone()
    while True:
        candidate = f"AG{number:010d}"
        if not conn.execute("SELECT 1 FROM agreements WHERE agreement_no = ?",
                            (candidate,)).fetchone():
            return candidate
        number += 1


@contextmanager
def counter(path: str | Path) -> Iterator[Ledger]:
    """The ledger at ``path`` in one short write transaction: committed if the block returns.

    ``BEGIN IMMEDIATE`` waits (up to the connection's busy timeout) while a
    running core commits, and holds the writer lock only for the block.
    """
    if not Path(path).exists():
        raise AgreementError(f"{path}: no ledger here")
    conn = schema.connect(path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield Ledger(conn)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()
