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
with :meth:`Bank.end_of_day`, or with the business clock when that is set
(:mod:`core_sim.clock`); entries carry the business date and the clock's
time. Seeding rules are in :mod:`core_sim.seeding`.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import TypeVar

from config.seed import Seed
from core_sim import (
    approval_queries,
    approvals,
    audit_queries,
    batch_queries,
    batch_run,
    batches,
    clearing,
    clock,
    instructions,
    queries,
    receipt_queries,
    scenario,
    schema,
    seeding,
    transfers,
)
from core_sim.bank_clock import MAX_DAYS_AHEAD, BusinessDay, ClockReading
from core_sim.clearing import ClearingPolicy, ClearingReport
from core_sim.clock import ClockError, china_time
from core_sim.journal import Journal, summarize_fields
from core_sim.ledger import Ledger
from core_sim.transaction import Refused, Reply, Request
from protocol import codes
from protocol.keys import BankKeyPair

__all__ = ["MAX_DAYS_AHEAD", "Bank", "ClearingPolicy", "ClearingReport", "ClockError",
           "ClockReading", "Reply", "Request", "china_time"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class Bank(BusinessDay):
    """The bank core over one database file. Use :meth:`open`; one thread at a time."""

    def __init__(self, conn: sqlite3.Connection, ledger: Ledger, *,
                 clock: Callable[[], datetime], clearing_policy: ClearingPolicy,
                 journal: Journal | None = None) -> None:
        self._conn = conn
        self._ledger = ledger
        self._system_clock = clock  # the machine's time, used while the clock is not set
        self._journal = journal
        self._events: list[dict] = []  # journal lines of the transaction in progress
        self._fired: scenario.Fired | None = None  # the rule that fired for this request
        self.clearing_policy = clearing_policy
        #: Number of transactions committed by execute_batch (one per non-empty batch).
        self.commits = 0

    @classmethod
    def open(cls, path: str | Path, *, seed: Seed | None = None,
             clock: Callable[[], datetime] = china_time,
             clearing: ClearingPolicy | None = None, journal: Path | None = None,
             receipt_keys: BankKeyPair | None = None) -> Bank:
        """Open (creating if needed) the bank's database, applying ``seed`` if given.

        A new database needs a seed. See :mod:`core_sim.seeding` for what a
        seed does to an existing one. ``clock`` is the machine's time (China
        time, naive); the bank uses it while its business clock is not set.
        ``journal``: a file to append the bank's journal to
        (:mod:`core_sim.journal`). ``receipt_keys``: the bank's keys, which
        sign the e-receipts it hands out (without them 310220 is refused).
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
                ledger.receipt_keys = receipt_keys
                if seed is not None:
                    seeding.apply_seed(ledger, seed, ledger.clock_setting.now(clock))
                ledger.flush()
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except BaseException:
            conn.close()
            raise
        return cls(conn, ledger, clock=clock, clearing_policy=clearing or ClearingPolicy(),
                   journal=None if journal is None else Journal(journal))

    def close(self) -> None:
        self._conn.close()
        if self._journal is not None:
            self._journal.close()

    def __enter__(self) -> Bank:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- identity and state -----------------------------------------------------------

    @property
    def business_date(self) -> date:
        return self._ledger.business_date

    def now(self) -> datetime:
        """The bank's business time (:mod:`core_sim.clock`)."""
        return self._ledger.clock_setting.now(self._system_clock)

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
        """Execute one request; a scenario rule may change what it does and how it is sent."""
        ledger = self._ledger
        self._fired = None
        if self._journal is not None:
            ledger.effects = []
        reply = self._execute_request(request, guarded=guarded)
        fired = self._fired
        if fired is not None:
            then = fired.then
            if then.action == "delay":
                reply = replace(reply, sent="late", delay_ms=then.ms)
            elif then.action == "unknown":
                reply = replace(reply, sent="unknown")
            elif then.action == "drop_after_commit":
                reply = replace(reply, sent="dropped")
        if self._journal is not None:
            self._events.append(self._request_event(request, reply, ledger.effects or []))
            ledger.effects = None
        return reply

    def _fire(self, request: Request, *, accepted: bool = False) -> scenario.Fired | None:
        """The scenario rule that fires for ``request`` (noted for its answer), if any.

        Rules that change how a payment clears (hold, return, return after
        settlement) are asked only once the bank has ``accepted`` it; the
        others before it is executed.
        """
        ledger = self._ledger
        if not ledger.rules:
            return None
        fields = request.fields
        amt = fields.get("amt", fields.get("sum_amt"))
        inter_bank = request.tr_code == "210224" or (
            request.tr_code == "210201" and str(fields.get("bank_flag") or "0") == "1")
        subject = scenario.Subject(
            request.tr_code, request.corp_no, request.req_no,
            str(fields.get("pay_acno") or fields.get("acno") or ""),
            str(fields.get("rcv_acno") or ""),
            amt if isinstance(amt, int) and not isinstance(amt, bool) else None,
            inter_bank=inter_bank, accepted=accepted)
        fired = ledger.rules.fire(self._conn, subject, self.now(), ledger.biz)
        if fired is not None:
            self._fired = fired
        return fired

    def _execute_request(self, request: Request, *, guarded: bool) -> Reply:
        reader = _READERS.get(request.tr_code)
        if reader is not None:
            fired = self._fire(request)
            if fired is not None and fired.then.action == "refuse":
                return _rule_refusal(fired).reply
            try:
                return reader.execute(self._ledger, request)
            except Refused as refusal:
                return refusal.reply
            except Exception:
                log.exception("query %s req_no=%s failed", request.tr_code, request.req_no)
                return _internal_error()
        if request.tr_code not in _INSTRUCTION_CODES:
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
            if self._ledger.effects is not None:
                self._ledger.effects.clear()  # undone
            log.exception("%s req_no=%s failed", request.tr_code, request.req_no)
            return _internal_error()
        conn.execute("RELEASE request")
        return reply

    def _execute_instruction(self, request: Request) -> Reply:
        if request.tr_code in batches.TR_CODES:
            # Each segment of a batch is a request to the rules; a refused one is not kept.
            fired = self._fire(request)
            if fired is not None and fired.then.action == "refuse":
                return _rule_refusal(fired).reply
            return batches.receive(self._ledger, request, self.now())
        if not request.req_no:
            return Refused(codes.INVALID_FIELD, "missing req_no").reply
        if self._ledger.enterprise(request.corp_no) is None:
            return Refused(codes.NOT_ENROLLED, f"unknown enterprise {request.corp_no}").reply
        if request.tr_code in approvals.TR_CODES:
            return approvals.execute(self._ledger, request, self.now())
        request_digest = instructions.digest(request.tr_code, request.fields)
        previous = instructions.find_for_retry(self._conn, request.corp_no, request.req_no)
        if previous is not None:
            previous_digest, previous_reply = previous
            if previous_digest == request_digest:
                return instructions.decode_reply(previous_reply)
            return Refused(codes.DUPLICATE_REQ_NO,
                           "req_no already used with different content").reply
        fired = self._fire(request)
        if fired is not None and fired.then.action == "refuse":
            return transfers.refuse(self._ledger, request, request_digest, _rule_refusal(fired),
                                    self.now())
        return transfers.execute(self._ledger, request, request_digest, self.now(),
                                 lambda: self._fire(request, accepted=True))

    # -- batches ---------------------------------------------------------------------------

    def run_batches(self, *, limit: int = batch_run.CHUNK) -> batch_run.RunReport:
        """Execute up to ``limit`` items of the oldest batch with work (own transaction).

        The server calls this while batches have work; each call is one chunk,
        durable when it returns, so a crash loses nothing that was answered
        and the next call after a restart goes on where the last one ended.
        """
        def work() -> batch_run.RunReport:
            report = batch_run.run(self._ledger, None, self.now(), limit=limit)
            if report.executed:
                self._note("batch_run", batch_id=report.batch_id, executed=report.executed,
                           finished=report.finished)
            return report

        return self._in_transaction(work)

    # -- clearing and end of day -----------------------------------------------------------

    def run_clearing(self, *, force_batch: bool = False, scheduled: bool = False
                     ) -> ClearingReport | None:
        """Settle, return or re-ask the inter-bank payments due now (own transaction).

        A ``scheduled`` run (the core's periodic cycle) does nothing while the
        business clock is frozen, and returns None: no time passes.
        """
        # The setting is read in the transaction: another process may have just changed it.
        return self._in_transaction(
            lambda: None if scheduled and self._ledger.clock_setting.mode == clock.FROZEN
            else self._clear(force_batch))

    def _clear(self, force_batch: bool, now: datetime | None = None) -> ClearingReport:
        now = now or self.now()
        report = clearing.run(self._ledger, self.clearing_policy, force_batch=force_batch,
                              now=now)
        if self._journal is not None and (report.payments or report.batches):
            self._note("clearing", at=now, run_no=report.run_no, batch=report.batch, payments=[
                {"corp_no": p.corp_no, "req_no": p.req_no, "amt": p.amt, "outcome": p.outcome,
                 "reason": p.reason} for p in report.payments],
                batches=[str(b) for b in report.batches])
        return report

    # -- scenario rules ---------------------------------------------------------------

    def load_rules(self, rules: scenario.Scenario) -> None:
        """Replace the scenario rules (:mod:`config.scenario`); their counts start again."""

        def work() -> None:
            scenario.store(self._conn, rules)
            self._ledger.reload_counters()
            self._note("rules", names=[rule.name for rule in rules.rules])

        self._in_transaction(work)

    def rules(self) -> tuple[scenario.Scenario, dict[str, tuple[int, int]]]:
        """The scenario rules in force and each one's (matched, fired) counts."""
        return self._in_transaction(
            lambda: (self._ledger.rules.scenario, scenario.counts(self._conn)))

    # -- the journal -----------------------------------------------------------------------

    def _note(self, kind: str, *, at: datetime | None = None, **fields: object) -> None:
        """A journal line for after the COMMIT; ``at``: the business time it happened."""
        if self._journal is not None:
            self._events.append({"kind": kind, "at": (at or self.now()).isoformat(), **fields})

    def _request_event(self, request: Request, reply: Reply, effects: list) -> dict:
        accounts = self._acnos({leg.account_id for serial_no, _, legs in effects
                                if serial_no is not None for leg in legs})
        effect = []
        for serial_no, kind, legs in effects:
            if serial_no is None:  # a batch's items, posted together
                effect.append({"kind": kind, "count": legs[0], "amount": legs[1]})
            else:
                effect.append({"serial_no": serial_no, "kind": kind, "legs": [
                    {"acno": accounts.get(leg.account_id, ""), "side": leg.side,
                     "amount": leg.amount} for leg in legs]})
        return {"kind": "request", "at": self.now().isoformat(), "tr_code": request.tr_code,
                "corp_no": request.corp_no, "user_no": request.user_no,
                "req_no": request.req_no, "frag_no": request.frag_no,
                "fields": summarize_fields(request.fields),
                "rule": None if self._fired is None else self._fired.rule,
                "reply": {"ret_code": reply.ret_code, "ret_msg": reply.ret_msg,
                          "serial_no": reply.serial_no,
                          "fields": summarize_fields(reply.fields)},
                "sent": reply.sent, "effect": effect}

    def _acnos(self, ids: set[int]) -> dict[int, str]:
        if not ids:
            return {}
        marks = ", ".join("?" * len(ids))
        return dict(self._conn.execute(
            f"SELECT id, acno FROM accounts WHERE id IN ({marks})", tuple(ids)))

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
        self._events = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process (an offline `core clear`, a second core by mistake) may
            # have written since our last transaction: start from what is on disk.
            self._ledger.reload_counters()
            self._catch_up()  # a set clock that ran past midnight closes the day first
            result = work()
            self._ledger.flush()
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self._ledger.forget_cached()
            self._ledger.effects = None
            self._events = []
            raise
        if self._journal is not None and self._events:
            try:
                self._journal.write(self._events)
            except OSError:
                log.exception("journal %s: lines lost", self._journal.path)
        self._events = []
        return result


#: Read-only request families, by tr_code: each has ``execute(ledger, request)``.
_READERS = {code: module
            for module in (queries, batch_queries, approval_queries, audit_queries,
                           receipt_queries)
            for code in module.TR_CODES}


#: The tr_codes that change something (each executed once per req_no).
_INSTRUCTION_CODES = transfers.TR_CODES | batches.TR_CODES | approvals.TR_CODES


class _RunGuarded(Exception):
    """A request failed unexpectedly in a batch run without savepoints: run it with them."""


def _rule_refusal(fired: scenario.Fired) -> Refused:
    known = codes.lookup(fired.then.code)
    code = known or codes.ReturnCode(fired.then.code, "SCENARIO_RULE", "refused")
    return Refused(code, fired.then.message or (known.message if known else
                                                 f"refused by the bank ({fired.rule})"))


def _internal_error() -> Reply:
    return Reply(codes.INTERNAL_ERROR.code, "the bank could not process it; nothing was done")
