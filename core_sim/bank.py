"""The simulated bank core's synchronous heart: :class:`Bank`.

A ``Bank`` owns one SQLite connection and is driven by one thread at a time
(the trio server's worker thread). The server gathers the requests that
arrive together and calls :meth:`Bank.execute_batch`: they all run in one
transaction with one COMMIT (group commit), a request that fails unexpectedly
rolls back alone (see :meth:`Bank.execute_batch`), and the replies are
returned only after the COMMIT — so an acknowledged request is durable
(WAL, ``synchronous=FULL``).

Dispatch: queries (:mod:`core_sim.queries`) read and record nothing;
money-moving requests (:mod:`core_sim.transfers`) are exactly-once per
``(corp_no, req_no)`` (:mod:`core_sim.instructions`); one without a req_no
is E001 and one from an enterprise the seed does not know P012, neither
recorded; an unknown tr_code is P005. Inter-bank payments
settle in :meth:`Bank.run_clearing` (:mod:`core_sim.clearing`). The business
date starts at the seed's ``business_date`` (or the clock's date) and moves
only with :meth:`Bank.end_of_day`; entries carry the business date and the
clock's time. Seeding rules are in :mod:`core_sim.seeding`.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from config.seed import Seed
from core_sim import (
    batch_queries,
    batch_run,
    batches,
    clearing,
    instructions,
    queries,
    schema,
    seeding,
    transfers,
)
from core_sim.clearing import ClearingPolicy, ClearingReport
from core_sim.ledger import Ledger
from core_sim.transaction import Refused, Reply, Request
from protocol import codes
from protocol.security import CST

__all__ = ["Bank", "ClearingPolicy", "ClearingReport", "Reply", "Request"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class Bank:
    """The bank core over one database file. Use :meth:`open`; one thread at a time."""

    def __init__(self, conn: sqlite3.Connection, ledger: Ledger, *,
                 clock: Callable[[], datetime], clearing_policy: ClearingPolicy) -> None:
        self._conn = conn
        self._ledger = ledger
        self._clock = clock
        self.clearing_policy = clearing_policy
        #: Number of transactions committed by execute_batch (one per non-empty batch).
        self.commits = 0

    @classmethod
    def open(cls, path: str | Path, *, seed: Seed | None = None,
             clock: Callable[[], datetime] = datetime.now,
             clearing: ClearingPolicy | None = None) -> Bank:
        """Open (creating if needed) the bank's database, applying ``seed`` if given.

        A new database needs a seed. See :mod:`core_sim.seeding` for what a
        seed does to an existing one.
        """
        conn = schema.connect(path)
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                seeded = conn.execute("SELECT 1 FROM meta WHERE key = 'bank_no'").fetchone()
                if seeded is None:
                    if seed is None:
                        raise ValueError(f"{path}: new bank database needs a seed")
                    seeding.initialize_bank(conn, seed, clock().date())
                ledger = Ledger(conn)
                if seed is not None:
                    seeding.apply_seed(ledger, seed, clock())
                ledger.flush()
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except BaseException:
            conn.close()
            raise
        return cls(conn, ledger, clock=clock, clearing_policy=clearing or ClearingPolicy())

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Bank:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- identity and state -----------------------------------------------------------

    @property
    def business_date(self) -> date:
        return self._ledger.business_date

    @property
    def bank_no(self) -> str:
        return self._ledger.bank_no

    @property
    def bank_name(self) -> str:
        return self._ledger.bank_name

    @property
    def connection(self) -> sqlite3.Connection:
        """The bank's connection, for diagnostics and tests; do not write through it."""
        return self._conn

    # -- transactions -------------------------------------------------------------------

    def execute(self, request: Request) -> Reply:
        return self.execute_batch([request])[0]

    def execute_batch(self, requests: Sequence[Request]) -> list[Reply]:
        """Execute ``requests`` in order, in one transaction; return after it is durable.

        Each request sees the effects of those before it in the batch. A
        refusal is a reply like any other; an unexpected error in one request
        undoes that request alone and answers E016. If the COMMIT itself fails
        this raises, nothing of the batch remains, and no reply may be sent.

        Undoing one request alone takes a SAVEPOINT around it, which costs
        two statements per request; yet such errors are bugs, not business.
        So the batch first runs without savepoints. If a request fails
        unexpectedly, that whole attempt is rolled back — nothing of it was
        answered or committed — and the batch runs again from the start,
        each money-moving request in its own SAVEPOINT. A batch that runs
        through has exactly the effects and replies it would have had with
        savepoints (a released savepoint changes nothing).
        """
        if not requests:
            return []
        try:
            replies = self._in_transaction(
                lambda: [self._execute_one(r, guarded=False) for r in requests])
        except _RunGuarded:
            replies = self._in_transaction(
                lambda: [self._execute_one(r, guarded=True) for r in requests])
        self.commits += 1
        return replies

    def _execute_one(self, request: Request, *, guarded: bool) -> Reply:
        reader = _READERS.get(request.tr_code)
        if reader is not None:
            try:
                return reader.execute(self._ledger, request)
            except Refused as refusal:
                return refusal.reply
            except Exception:
                log.exception("query %s req_no=%s failed", request.tr_code, request.req_no)
                return _internal_error()
        if request.tr_code not in transfers.TR_CODES and request.tr_code not in batches.TR_CODES:
            return Refused(codes.UNKNOWN_TR_CODE,
                           f"unknown transaction code {request.tr_code!r}").reply
        if not guarded:
            try:
                return self._execute_instruction(request)
            except Exception as exc:
                # The run with savepoints logs the traceback if it fails again.
                log.warning("%s req_no=%s failed (%r); running the batch again with savepoints",
                            request.tr_code, request.req_no, exc)
                raise _RunGuarded from exc
        conn = self._conn
        conn.execute("SAVEPOINT request")
        try:
            reply = self._execute_instruction(request)
        except Exception:
            # Only this request's work is undone; the batch goes on.
            conn.execute("ROLLBACK TO request")
            conn.execute("RELEASE request")
            self._ledger.forget_since_savepoint()
            log.exception("%s req_no=%s failed", request.tr_code, request.req_no)
            return _internal_error()
        conn.execute("RELEASE request")
        return reply

    def _execute_instruction(self, request: Request) -> Reply:
        if request.tr_code in batches.TR_CODES:
            return batches.receive(self._ledger, request, self._clock())
        if not request.req_no:
            return Refused(codes.INVALID_FIELD, "missing req_no").reply
        if self._ledger.enterprise(request.corp_no) is None:
            return Refused(codes.NOT_ENROLLED, f"unknown enterprise {request.corp_no}").reply
        request_digest = instructions.digest(request.tr_code, request.fields)
        previous = instructions.find_for_retry(self._conn, request.corp_no, request.req_no)
        if previous is not None:
            previous_digest, previous_reply = previous
            if previous_digest == request_digest:
                return instructions.decode_reply(previous_reply)
            return Refused(codes.DUPLICATE_REQ_NO,
                           "req_no already used with different content").reply
        return transfers.execute(self._ledger, request, request_digest, self._clock())

    # -- batches ---------------------------------------------------------------------------

    def run_batches(self, *, limit: int = batch_run.CHUNK) -> batch_run.RunReport:
        """Execute up to ``limit`` items of the oldest batch with work (own transaction).

        The server calls this while batches have work; each call is one chunk,
        durable when it returns, so a crash loses nothing that was answered
        and the next call after a restart goes on where the last one ended.
        """
        return self._in_transaction(
            lambda: batch_run.run(self._ledger, None, self._clock(), limit=limit))

    # -- clearing and end of day -----------------------------------------------------------

    def run_clearing(self, *, force_batch: bool = False) -> ClearingReport:
        """Settle, return or re-ask the inter-bank payments due now (own transaction)."""
        return self._in_transaction(
            lambda: clearing.run(self._ledger, self.clearing_policy, force_batch=force_batch,
                                 now=self._clock())
        )

    def end_of_day(self) -> date:
        """Run a batch clearing, then advance the business date by one day; return it."""

        def work() -> date:
            clearing.run(self._ledger, self.clearing_policy, force_batch=True, now=self._clock())
            new_date = self._ledger.business_date + timedelta(days=1)
            self._ledger.advance_business_date(new_date)
            return new_date

        return self._in_transaction(work)

    # -- operators -------------------------------------------------------------

    def has_operator(self, corp_no: str, user_no: str) -> bool:
        return self._ledger.has_operator(corp_no, user_no)

    def operators(self) -> set[tuple[str, str]]:
        """Every (corp_no, user_no) the bank knows."""
        return self._ledger.operators()

    # -- plumbing --------------------------------------------------------------------------

    def _in_transaction(self, work: Callable[[], T]) -> T:
        """Run ``work`` in one write transaction; on any failure nothing of it remains."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process (an offline `core clear`, a second core by mistake) may
            # have written since our last transaction: start from what is on disk.
            self._ledger.reload_counters()
            result = work()
            self._ledger.flush()
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self._ledger.forget_cached()
            raise
        return result


#: Read-only request families, by tr_code: each has ``execute(ledger, request)``.
_READERS = {code: module for module in (queries, batch_queries) for code in module.TR_CODES}


class _RunGuarded(Exception):
    """A request failed unexpectedly in a batch run without savepoints: run it with them."""


def china_time() -> datetime:
    """The bank's clock: China Standard Time (naive), like the wire's tr_date/tr_time."""
    return datetime.now(CST).replace(tzinfo=None)


def _internal_error() -> Reply:
    return Reply(codes.INTERNAL_ERROR.code, "the bank could not process it; nothing was done")
