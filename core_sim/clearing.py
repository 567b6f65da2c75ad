"""The simulated inter-bank clearing cycle: settling or returning payments to other banks.

Model. An accepted inter-bank payment has already moved the money from the
payer into ``#CLEARING-IN-TRANSIT`` (status *processing*). Each clearing run
looks at the payments still in clearing, oldest first:

* *urgent* payments are due at every run; *normal* ones only at a batch run:
  every ``ClearingPolicy.batch_every``-th run (counting runs since the bank
  was created), a run with ``force_batch=True``, and the run that
  :meth:`Bank.end_of_day` makes;
* a due payment to a beneficiary that exists among the seed's external
  accounts at the receiving bank (``bank_no == partyid``), is ``active`` and
  whose name matches (when the payer gave one) *settles*: one entry debits
  clearing in transit and credits the beneficiary's external account
  (status *success*: ``stat`` 1 / ``tranStatus`` 21);
* otherwise the receiving bank *returns* it — unknown account, account held
  at another bank, closed account, name mismatch — and one entry debits
  clearing in transit and credits the payer back (status *failed*: ``stat``
  2 / ``tranStatus`` 22, the reason in ``err_msg``);
* a payment to a bank listed in ``ClearingPolicy.unanswered_banks`` gets no
  answer: it becomes *suspicious* (``stat`` 3), the money stays in transit,
  and every later run asks again until the bank answers.

So the balance of clearing in transit always equals the amounts of the
processing and suspicious payments. Each run with work to do leaves a
``clearing_runs`` row that its entries reference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from core_sim import batch_run, instructions, scenario
from core_sim.batch_run import SettledBatch
from core_sim.instructions import Instruction
from core_sim.ledger import Ledger, Leg
from core_sim.transaction import fit_message

BATCH_TR_CODES = frozenset({"330002", "330010"})

SETTLED = "settled"
RETURNED = "returned"
SUSPICIOUS = "suspicious"


@dataclass(frozen=True, slots=True)
class ClearingPolicy:
    """How the simulated clearing system behaves."""

    batch_every: int = 3  # every n-th run is a batch run, settling normal payments too
    unanswered_banks: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.batch_every < 1:
            raise ValueError(f"batch_every must be at least 1, not {self.batch_every}")


@dataclass(frozen=True, slots=True)
class ClearedPayment:
    corp_no: str
    req_no: str
    amt: int
    outcome: str  # settled | returned | suspicious
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ClearingReport:
    run_no: int
    business_date: date
    batch: bool
    payments: tuple[ClearedPayment, ...] = ()
    pending: int = 0  # payments left in clearing after the run (not due, or suspicious)
    batches: tuple[SettledBatch, ...] = ()  # batches whose other-bank items it answered

    def _with(self, outcome: str) -> tuple[ClearedPayment, ...]:
        return tuple(p for p in self.payments if p.outcome == outcome)

    @property
    def settled(self) -> tuple[ClearedPayment, ...]:
        return self._with(SETTLED)

    @property
    def returned(self) -> tuple[ClearedPayment, ...]:
        return self._with(RETURNED)

    @property
    def suspicious(self) -> tuple[ClearedPayment, ...]:
        return self._with(SUSPICIOUS)

    def __str__(self) -> str:
        kind = "batch" if self.batch else "urgent"
        return (
            f"clearing run {self.run_no} ({kind}, {self.business_date:%Y-%m-%d}): "
            f"{len(self.settled)} settled, {len(self.returned)} returned, "
            f"{len(self.suspicious)} suspicious, {self.pending} pending"
            + "".join(f"; batch {b.batch_id}: {b.settled} items settled, {b.returned} returned"
                      for b in self.batches)
        )


def run(ledger: Ledger, policy: ClearingPolicy, *, force_batch: bool, now: datetime
        ) -> ClearingReport:
    """Run one clearing cycle inside the caller's transaction."""
    run_no = ledger.next_clearing_run_no()
    batch = force_batch or run_no % policy.batch_every == 0
    conn = ledger.conn
    run_id: int | None = None
    payments: list[ClearedPayment] = []
    pending = 0

    def run_id_for() -> int:
        nonlocal run_id
        if run_id is None:
            run_id = conn.execute(
                "INSERT INTO clearing_runs (run_no, biz_date, batch, created_at)"
                " VALUES (?, ?, ?, ?)",
                (run_no, ledger.biz, int(batch), now.isoformat()),
            ).lastrowid
        return run_id

    ruled = scenario.pending(conn)  # what scenario rules left to happen (usually nothing)
    for payment in instructions.in_clearing(conn):
        if payment.tr_code in BATCH_TR_CODES:
            continue  # a batch's other-bank items are settled below, item by item
        rule = ruled.get(payment.id)
        if rule is not None and rule.action in ("hold", "return"):
            # A returned payment goes back at the clearing it would have settled in.
            in_its_run = rule.action == "hold" or batch or payment.urgent
            if not rule.is_due(now) or not in_its_run:
                pending += 1
                continue
            scenario.done(conn, payment.id)
            reason = rule.message or "returned by the receiving bank"
            if rule.action == "hold" and rule.settle:
                reason = ""
            payments.append(_clear(ledger, payment, run_id_for(), now, forced_return=reason))
            continue
        due = batch or payment.urgent or payment.status == "suspicious"
        if not due:
            pending += 1
            continue
        if payment.rcv_bank_no in policy.unanswered_banks:
            pending += 1
            if payment.status != "suspicious":
                instructions.set_status(conn, payment.id, "suspicious",
                                        "no answer from the receiving bank", now)
                payments.append(_cleared(payment, SUSPICIOUS, "no answer from the receiving bank"))
            continue
        cleared = _clear(ledger, payment, run_id_for(), now)
        payments.append(cleared)
        if rule is not None and cleared.outcome == SETTLED:  # return_after_settle
            scenario.settled(conn, rule, now)
    for rule in ruled.values():
        if rule.action == "return_after_settle" and rule.is_due(now):
            scenario.done(conn, rule.instruction_id)
            returned = _return_after_settlement(ledger, rule, run_id_for(), now)
            if returned is not None:
                payments.append(returned)
    # Collections from payers at other banks go with the batch clearing (批量).
    batches = tuple(batch_run.settle_in_clearing(ledger, run_id_for, now)) if batch else ()
    if run_id is not None:
        counts = [sum(p.outcome == o for p in payments) for o in (SETTLED, RETURNED, SUSPICIOUS)]
        conn.execute(
            "UPDATE clearing_runs SET settled = ?, returned = ?, suspicious = ? WHERE id = ?",
            (*counts, run_id),
        )
    return ClearingReport(run_no, ledger.business_date, batch, tuple(payments), pending,
                          batches)


def _clear(ledger: Ledger, payment: Instruction, run_id: int, now: datetime,
           forced_return: str | None = None) -> ClearedPayment:
    """Settle the payment, or return it; ``forced_return``: a scenario rule decided.

    A rule's ``""`` settles (a held transfer released), a reason returns it.
    """
    assert payment.amt is not None
    transit = ledger.clearing_in_transit_id()
    if payment.route == "same_bank":  # only a held transfer passes through clearing
        beneficiary = ledger.customer_account(payment.rcv_acno)
        reason = "" if beneficiary else f"no account {payment.rcv_acno} at this bank"
    else:
        beneficiary, reason = _beneficiary(ledger, payment)
    if forced_return:
        beneficiary, reason = None, forced_return
    serial_no = ledger.next_serial()
    if beneficiary is not None:
        payer_name = ""
        payer = ledger.customer_account(payment.pay_acno)
        if payer is not None:
            payer_name = payer.name
        legs = (
            Leg(transit, "D", payment.amt, beneficiary.acno, beneficiary.name),
            Leg(beneficiary.id, "C", payment.amt, payment.pay_acno, payer_name),
        )
        ledger.post(serial_no=serial_no, kind="settle", legs=legs, now=now,
                    summary="inter-bank payment settled", instruction_id=payment.id,
                    clearing_run_id=run_id)
        instructions.set_status(ledger.conn, payment.id, "success", "", now)
        return _cleared(payment, SETTLED)
    payer = ledger.customer_account(payment.pay_acno)
    if payer is None:  # accounts are never deleted, so this is a broken database
        raise RuntimeError(f"payer account {payment.pay_acno} of a payment in clearing is gone")
    legs = (
        Leg(transit, "D", payment.amt, payer.acno, payer.name),
        Leg(payer.id, "C", payment.amt, payment.rcv_acno, payment.rcv_acname),
    )
    ledger.post(serial_no=serial_no, kind="return", legs=legs, now=now,
                summary=fit_message(f"returned: {reason}"), instruction_id=payment.id,
                clearing_run_id=run_id)
    instructions.set_status(ledger.conn, payment.id, "failed",
                            fit_message(f"returned: {reason}"), now)
    return _cleared(payment, RETURNED, reason)


def _return_after_settlement(ledger: Ledger, rule: scenario.Pending, run_id: int,
                             now: datetime) -> ClearedPayment | None:
    """The receiving bank sends a settled payment back: beneficiary to payer, status failed."""
    payment = instructions.by_id(ledger.conn, rule.instruction_id)
    if payment is None or payment.status != "success" or payment.amt is None:
        return None
    beneficiary, _ = _beneficiary(ledger, payment)
    payer = ledger.customer_account(payment.pay_acno)
    if beneficiary is None or payer is None:
        return None
    reason = fit_message(f"returned after settlement: {rule.message or 'by the receiving bank'}")
    legs = (
        Leg(beneficiary.id, "D", payment.amt, payer.acno, payer.name),
        Leg(payer.id, "C", payment.amt, beneficiary.acno, beneficiary.name),
    )
    ledger.post(serial_no=ledger.next_serial(), kind="return", legs=legs, now=now,
                summary=reason, instruction_id=payment.id, clearing_run_id=run_id)
    instructions.set_status(ledger.conn, payment.id, "failed", reason, now)
    return _cleared(payment, RETURNED, reason)


def _beneficiary(ledger: Ledger, payment: Instruction):
    """The external account the payment settles to, or (None, why it is returned)."""
    candidates = ledger.external_accounts(payment.rcv_acno)
    at_bank = [account for account in candidates if account.bank_no == payment.rcv_bank_no]
    if not at_bank:
        if candidates:
            return None, f"account held at bank {candidates[0].bank_no}"
        return None, f"no account {payment.rcv_acno} at the receiving bank"
    account = at_bank[0]
    if account.status != "active":
        return None, f"beneficiary account {account.acno} is {account.status}"
    if payment.rcv_acname and payment.rcv_acname != account.name:
        return None, "beneficiary name does not match the account"
    return account, ""


def _cleared(payment: Instruction, outcome: str, reason: str = "") -> ClearedPayment:
    return ClearedPayment(payment.corp_no, payment.req_no, payment.amt or 0, outcome, reason)
