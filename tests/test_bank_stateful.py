"""A hypothesis state machine drives the bank and compares it with a simple model.

Random same-bank transfers and inter-bank payments (amounts including too
large ones), retries with the same and with different content, batches,
clearing runs and ends of day. After every step: ``check_ledger`` passes,
money is conserved, every req_no executed at most once with the status the
model expects, and 310101 shows the balances the model predicts.
"""

from __future__ import annotations

import sqlite3
import tempfile
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from config.seed import Account, BankInfo, Enterprise, ExternalAccount, Limits, Seed
from core_sim.bank import Bank, Request
from core_sim.check import check_ledger
from core_sim.ledger import CLEARING_IN_TRANSIT

BANK_NO = "301290000007"
ICBC = "102100099996"
CORP, OTHER = "0000000001", "0000000002"
OWN = ("6001", "6002", "6003")  # the enterprise's accounts
THEIRS = "7001"  # another enterprise's account, a possible payee
OPENING = {"6001": 500_000, "6002": 300_000, "6003": 0, THEIRS: 100_000}
GOOD_EXT, CLOSED_EXT, UNKNOWN_EXT = "9001", "9002", "9009"
SINGLE, DAILY, BATCH_EVERY = 300_000, 800_000, 3
TOTAL = sum(OPENING.values())

SEED = Seed(
    bank=BankInfo("Simulated Bank", BANK_NO, date(2026, 11, 24)),
    enterprises=(
        Enterprise(CORP, "Corp", ("001",),
                   tuple(Account(acno, "Corp", balance=OPENING[acno]) for acno in OWN),
                   Limits(single=SINGLE, daily=DAILY)),
        Enterprise(OTHER, "Other", ("001",), (Account(THEIRS, "Other", balance=100_000),)),
    ),
    external_accounts=(
        ExternalAccount(GOOD_EXT, "Zhang San", ICBC, "ICBC"),
        ExternalAccount(CLOSED_EXT, "Li Si", ICBC, "ICBC", status="closed"),
    ),
)

amounts = st.one_of(
    st.integers(min_value=-2, max_value=2_000),
    st.integers(min_value=1, max_value=600_000),
    st.sampled_from([SINGLE, SINGLE + 1, DAILY]),
)


@dataclass
class Sent:
    request: Request
    reply: object
    status: str  # what 310204 should say: processing | success | failed


@dataclass
class Pending:
    req_no: str
    payer: str
    amt: int
    urgent: bool
    target: str


class BankMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.TemporaryDirectory()
        self.path = Path(self.dir.name) / "core.db"
        self.bank = Bank.open(self.path, seed=SEED, clock=lambda: datetime(2026, 11, 24, 10))
        self.balance = dict(OPENING)
        self.transit = 0
        self.paid_out = 0
        self.used_today = 0
        self.runs = 0
        self.pending: list[Pending] = []
        self.sent: dict[str, Sent] = {}
        self.counter = 0

    def teardown(self) -> None:
        self.bank.close()
        self.dir.cleanup()

    # -- the model -------------------------------------------------------------------

    def _next_req_no(self) -> str:
        self.counter += 1
        return f"REQ{self.counter:05d}"

    def _expected_refusal(self, payer: str, payee: str | None, amt: int) -> str | None:
        if amt <= 0:
            return "E002"
        if payer == payee:
            return "E012"
        if amt > SINGLE:
            return "E009"
        if self.used_today + amt > DAILY:
            return "E010"
        if amt > self.balance[payer]:
            return "E008"
        return None

    def _same_bank(self, payer: str, payee: str, amt: int) -> Request:
        return Request(CORP, "001", "210201", self._next_req_no(), {
            "pay_acno": payer, "rcv_acno": payee, "amt": amt, "cur_code": "CNY",
            "bank_flag": "0", "summary": "model",
        })

    def _apply(self, request: Request, reply, expected: str | None) -> None:
        assert reply.ret_code == (expected or "0000"), (request, reply)
        fields = request.fields
        if expected is not None:
            self.sent[request.req_no] = Sent(request, reply, "failed")
            return
        amt = fields["amt"]
        self.used_today += amt
        self.balance[fields["pay_acno"]] -= amt
        if request.tr_code == "210201":
            self.balance[fields["rcv_acno"]] += amt
            self.sent[request.req_no] = Sent(request, reply, "success")
        else:
            self.transit += amt
            self.pending.append(Pending(request.req_no, fields["pay_acno"], amt,
                                        fields["urgent_flag"] == "1", fields["rcv_acno"]))
            self.sent[request.req_no] = Sent(request, reply, "processing")

    def _clear(self, report, batch: bool) -> None:
        self.runs += 1
        batch = batch or self.runs % BATCH_EVERY == 0
        assert report.batch == batch
        due = [p for p in self.pending if p.urgent or batch]
        outcomes = {p.req_no: p.outcome for p in report.payments}
        assert set(outcomes) == {p.req_no for p in due}
        for payment in due:
            self.transit -= payment.amt
            if payment.target == GOOD_EXT:
                assert outcomes[payment.req_no] == "settled"
                self.paid_out += payment.amt
                self.sent[payment.req_no].status = "success"
            else:
                assert outcomes[payment.req_no] == "returned"
                self.balance[payment.payer] += payment.amt
                self.sent[payment.req_no].status = "failed"
        self.pending = [p for p in self.pending if p not in due]

    # -- rules -----------------------------------------------------------------------------

    @rule(payer=st.sampled_from(OWN), payee=st.sampled_from((*OWN, THEIRS)), amt=amounts)
    def same_bank_transfer(self, payer, payee, amt):
        expected = self._expected_refusal(payer, payee, amt)
        request = self._same_bank(payer, payee, amt)
        self._apply(request, self.bank.execute(request), expected)

    @rule(transfers=st.lists(
        st.tuples(st.sampled_from(OWN), st.sampled_from((*OWN, THEIRS)), amounts),
        min_size=1, max_size=8))
    def batch_of_transfers(self, transfers):
        requests = [self._same_bank(*transfer) for transfer in transfers]
        replies = self.bank.execute_batch(requests)
        # The model replays the batch in order: each sees the ones before it.
        for (payer, payee, amt), request, reply in zip(transfers, requests, replies, strict=True):
            self._apply(request, reply, self._expected_refusal(payer, payee, amt))

    @rule(payer=st.sampled_from(OWN),
          beneficiary=st.sampled_from((GOOD_EXT, CLOSED_EXT, UNKNOWN_EXT)),
          amt=amounts, urgent=st.booleans())
    def inter_bank_payment(self, payer, beneficiary, amt, urgent):
        req_no = self._next_req_no()
        request = Request(CORP, "001", "210224", req_no, {
            "pay_acno": payer, "rcv_acno": beneficiary, "partyid": ICBC, "amt": amt,
            "urgent_flag": "1" if urgent else "0", "purpose": "model",
        })
        expected = self._expected_refusal(payer, None, amt)
        self._apply(request, self.bank.execute(request), expected)

    @precondition(lambda self: self.sent)
    @rule(data=st.data())
    def retry_same_content(self, data):
        sent = self.sent[data.draw(st.sampled_from(sorted(self.sent)))]
        before = self._db_balances()
        assert self.bank.execute(sent.request) == sent.reply
        assert self._db_balances() == before

    @precondition(lambda self: self.sent)
    @rule(data=st.data())
    def retry_other_content(self, data):
        sent = self.sent[data.draw(st.sampled_from(sorted(self.sent)))]
        fields = dict(sent.request.fields)
        fields["amt"] = fields["amt"] + 1
        before = self._db_balances()
        reply = self.bank.execute(replace(sent.request, fields=fields))
        assert reply.ret_code == "E011"
        assert self._db_balances() == before

    @rule(force_batch=st.booleans())
    def clearing_run(self, force_batch):
        self._clear(self.bank.run_clearing(force_batch=force_batch), force_batch)

    @rule()
    def end_of_day(self):
        before = self.bank.business_date
        pending_before = list(self.pending)
        assert self.bank.end_of_day() == date.fromordinal(before.toordinal() + 1)
        # end_of_day makes one batch run; the model replays it from the database.
        self.runs += 1
        for payment in pending_before:
            self.transit -= payment.amt
            if payment.target == GOOD_EXT:
                self.paid_out += payment.amt
                self.sent[payment.req_no].status = "success"
            else:
                self.balance[payment.payer] += payment.amt
                self.sent[payment.req_no].status = "failed"
        self.pending = []
        self.used_today = 0

    # -- invariants ---------------------------------------------------------------------------

    def _db_balances(self) -> dict[str, int]:
        with sqlite3.connect(self.path) as conn:
            return dict(conn.execute("SELECT acno, balance FROM accounts"))

    @invariant()
    def ledger_checks_pass(self):
        report = check_ledger(self.path)
        assert report.ok, str(report)

    @invariant()
    def money_is_conserved_and_where_the_model_says(self):
        db = self._db_balances()
        assert db[CLEARING_IN_TRANSIT] == self.transit
        assert db[GOOD_EXT] == self.paid_out
        assert db[CLOSED_EXT] == 0
        customers = sum(db[acno] for acno in OPENING)
        assert customers + self.transit + self.paid_out == TOTAL

    @invariant()
    def balance_query_matches_the_model(self):
        mine = self.bank.execute(Request(CORP, "001", "310101", "", {"acno": ""}))
        theirs = self.bank.execute(Request(OTHER, "001", "310101", "", {"acno": THEIRS}))
        shown = {r["acno"]: r["balance"] for r in mine.fields["records"] + theirs.fields["records"]}
        assert shown == self.balance

    @invariant()
    def each_req_no_executed_at_most_once_with_the_expected_status(self):
        with sqlite3.connect(self.path) as conn:
            executions = dict(conn.execute(
                "SELECT i.req_no, COUNT(e.id) FROM instructions i LEFT JOIN entries e"
                " ON e.instruction_id = i.id AND e.kind IN ('transfer', 'interbank_debit')"
                " GROUP BY i.id"))
        assert set(executions) == set(self.sent)
        for req_no, sent in self.sent.items():
            assert executions[req_no] == (0 if sent.reply.ret_code != "0000" else 1)
            reply = self.bank.execute(Request(CORP, "001", "310204", "",
                                              {"query_flag": "1", "ogl_serial_no": req_no}))
            stat = reply.fields["stat"]
            assert stat == {"processing": "0", "success": "1", "failed": "2"}[sent.status]


BankMachine.TestCase.settings = settings(max_examples=30, stateful_step_count=30,
                                         deadline=None)
TestBankMachine = BankMachine.TestCase
