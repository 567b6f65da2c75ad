"""A test's hands on the enterprise's approvers: what waits, and their decisions.

An instruction whose approval flow has levels waits at the bank (A001) until
the enterprise's operators approve it (docs/approvals.md). In a test, the
``bank_approvals`` fixture (a :class:`BankApprovals` on ``directlink_bank``,
also ``Bank.approvals``) plays those operators::

    reply = erp.transfer(...)                       # answered A001
    bank_approvals.authorize(reply.req_no)           # every level, in order
    bank_approvals.reject(req_no)                    # or cancel it

Each decision is what an operator's would be: signed with an Ed25519 key of
that operator's over the canonical text (:mod:`protocol.approval`) and
judged by the bank's own 210230 rules (order, no self-approval, nobody
twice…), so a refusal raises :class:`ApprovalRefused` with the bank's code.
The keys are the test's own: the first decision of an operator enrolls a
fresh key for them at the bank counter (replacing any other), as
``directlink core enroll-operator`` would. Like the other controls, the work
is done on the bank's database from the test's process; a running core acts
on it at its next transaction (a batch the last approval releases runs
within the core's batch poll).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from core_sim import authorization, counter
from core_sim.agreements import counter as counter_transaction
from core_sim.bank import Bank as Ledger
from core_sim.bank import Request
from core_sim.clock import china_time
from core_sim.counter_errors import CounterError
from core_sim.home import CoreHome
from protocol import approval
from protocol.keys import SigningKey


class ApprovalRefused(AssertionError):
    """The bank refused a decision: ``code`` (e.g. E036) and ``message`` say why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Waiting:
    """An instruction awaiting authorization, as an approver sees it (amounts in fen)."""

    req_no: str
    tr_code: str
    corp_no: str
    maker: str
    amt: int
    item_count: int
    level: int  # the waiting level, 1-based
    levels: int
    waiting_for: tuple[str, ...]
    approved_by: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Decided:
    """Where the instruction stands after a decision (the 210230 reply)."""

    req_no: str
    message: str
    stat: str  # 310204's: 0 not final, 1 success, 2 failed / cancelled
    auth_state: str  # 1 awaiting, 2 authorized, 3 rejected, ...
    auth_level: int
    waiting_for: tuple[str, ...]
    err_msg: str = ""


class BankApprovals:
    """The enterprise's approvers in a test: waiting, approve, authorize, reject."""

    def __init__(self, home: CoreHome) -> None:
        self._home = home
        self._keys: dict[tuple[str, str], SigningKey] = {}

    def waiting(self, operator: str | None = None, *, corp_no: str | None = None
                ) -> list[Waiting]:
        """What awaits authorization, oldest first (``operator``: what they may approve now)."""
        def read(bank: Ledger) -> list[Waiting]:
            corps = [corp_no] if corp_no else [row[0] for row in bank.connection.execute(
                "SELECT DISTINCT corp_no FROM authorizations WHERE state = 'awaiting'")]
            found = [item for corp in corps for item in authorization.waiting(
                bank.connection, corp, operator=operator)]
            found.sort(key=lambda item: item.authorization.instruction_id)
            return [Waiting(item.req_no, item.tr_code, item.authorization.corp_no, item.maker,
                            item.amt, item.item_count, item.authorization.level,
                            len(item.authorization.levels), item.authorization.waiting_for,
                            item.authorization.approvers) for item in found]

        return self._run(read)

    def approve(self, req_no: str, operator: str | None = None) -> Decided:
        """Approve the waiting level of ``req_no`` as ``operator`` (default: the level's first
        operator who may). The last level's approval executes the instruction."""
        return self._decide(req_no, operator, approval.APPROVE)

    def authorize(self, req_no: str) -> Decided:
        """Approve every level still waiting, in order, each by the first operator who may."""
        decided = self.approve(req_no)
        while decided.auth_state == "1":
            decided = self.approve(req_no)
        return decided

    def reject(self, req_no: str, operator: str | None = None) -> Decided:
        """Reject ``req_no`` as ``operator`` (default: the waiting level's first): it is
        cancelled and nothing moves."""
        return self._decide(req_no, operator, approval.REJECT)

    # -- the decision ---------------------------------------------------------------

    def _decide(self, req_no: str, operator: str | None, decision: str) -> Decided:
        item = self._one(req_no)
        if operator is None:
            free = [code for code in item.waiting_for if code != item.maker]
            if not free:
                raise ApprovalRefused("E034", f"{req_no}: only its maker is in the waiting level")
            operator = free[0]
        key = self._key(item.corp_no, operator)

        def send(bank: Ledger) -> Decided:
            signed_at = bank.now().replace(microsecond=0)
            made = approval.Decision(corp_no=item.corp_no, operator=operator,
                                     decision=decision, req_no=req_no, level=item.level,
                                     amt=item.amt, signed_at=signed_at)
            reply = bank.execute(Request(item.corp_no, item.maker, "210230",
                                         f"TEST{secrets.token_hex(8)}", {
                "ogl_serial_no": req_no, "operator": operator,
                "decision": approval.WIRE_DECISION[decision], "level": item.level,
                "amt": item.amt, "signed_at": approval.format_signed_at(signed_at),
                "signature": approval.sign(made, key)}))
            if not reply.ok:
                raise ApprovalRefused(reply.ret_code, reply.ret_msg)
            fields = reply.fields
            return Decided(req_no, reply.ret_msg, str(fields["stat"]),
                           str(fields["auth_state"]), int(fields["auth_level"]),
                           tuple(code for code in str(fields["waiting_for"]).split(",")
                                 if code), str(fields["err_msg"]))

        return self._run(send)

    def _one(self, req_no: str) -> Waiting:
        found = [item for item in self.waiting() if item.req_no == req_no]
        if not found:
            raise ApprovalRefused("E032", f"no instruction {req_no} awaits authorization")
        return found[0]

    def _key(self, corp_no: str, operator: str) -> SigningKey:
        """The test's key for ``operator``, enrolled at the bank if it is not already."""
        key = self._keys.get((corp_no, operator))
        if key is None:
            key = self._keys[corp_no, operator] = SigningKey.generate()
        with counter_transaction(self._home.ledger) as books:
            row = books.conn.execute(
                "SELECT key_id, key_status FROM ebank_operators WHERE corp_no = ? AND code = ?",
                (corp_no, operator)).fetchone()
            if row is None or row != (key.key_id, "enrolled"):
                try:
                    counter.enroll_operator_key(books, corp_no, operator, key.public,
                                                now=books.clock_setting.now(china_time))
                except CounterError as exc:
                    raise ApprovalRefused("E033", str(exc)) from None
        return key

    def _run(self, work):
        journal = self._home.journal if self._home.journal.exists() else None
        with Ledger.open(self._home.ledger, journal=journal) as bank:
            return work(bank)
