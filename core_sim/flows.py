"""The rules of authorization: which levels an instruction needs, and who may approve it next.

Pure values, no storage, so the bank can keep the state in its ledger and
rebuild it from there. The rules, as a bank's e-banking applies them:

* An instruction from an account with a transfer flow needs the levels of the
  first band whose ``up_to`` covers its amount; above the last band, that
  band's levels and then a level of every supervisor (:func:`levels_for`). A
  batch collection needs the enterprise's ``collection_flow``. No levels: the
  instruction executes at once.
* Levels are approved in order. Any one operator listed in a level approves
  it; the instruction is authorized when its last level has an approver.
* Nobody approves one instruction twice (not even at another level), the
  maker never approves their own instruction, and a maker (the role) never
  approves at all.
* Whoever may approve the waiting level may instead reject it, which cancels
  the instruction: nothing moves.

:class:`Approval` is that state; :meth:`Approval.may_approve` says why an
operator may not act, as a :class:`Refusal` with a stable machine name for
the bank to map to a reply code.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from config.seed.model import APPROVER_ROLES, OPERATOR_ROLES, Flow, Levels


def levels_for(flow: Flow | None, amount: int, supervisors: tuple[str, ...]) -> Levels:
    """The levels an instruction of ``amount`` fen from the account of ``flow`` needs, in order.

    ``amount`` belongs to the first band with ``amount <= up_to``. Above the
    last band the instruction needs that band's levels, then one of
    ``supervisors`` (the enterprise's supervisors, which a seed with a flow
    always has). No flow: ``()``, the instruction executes at once.
    """
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError(f"amount must be integer fen, not {type(amount).__name__}")
    if amount <= 0:
        raise ValueError(f"an instruction's amount is positive, not {amount} fen")
    if flow is None:
        return ()
    for band in flow.bands:
        if amount <= band.up_to:
            return band.levels
    if not supervisors:
        raise ValueError(f"account {flow.acno}: no supervisor to approve above its last band")
    return (*flow.bands[-1].levels, tuple(supervisors))


class Refusal(StrEnum):
    """Why an operator may not approve (or reject) an instruction, in the order checked.

    The values are stable machine names: the bank maps each to a reply code.
    """

    #: The instruction is authorized or cancelled already.
    NOT_WAITING = "not_waiting"
    #: The operator submitted the instruction.
    SELF_APPROVAL = "self_approval"
    #: The operator's role is maker, which never approves.
    NOT_AN_APPROVER = "not_an_approver"
    #: The operator approved an earlier level of this instruction.
    ALREADY_APPROVED = "already_approved"
    #: The operator belongs to a later level; the waiting level comes first.
    WRONG_ORDER = "wrong_order"
    #: The operator is listed in neither the waiting level nor a later one.
    NOT_IN_LEVEL = "not_in_level"

    @property
    def text(self) -> str:
        """The reason in words, for a reply's message."""
        return _TEXTS[self]


_TEXTS = {
    Refusal.NOT_WAITING: "the instruction is not awaiting authorization",
    Refusal.SELF_APPROVAL: "an operator may not approve their own instruction",
    Refusal.NOT_AN_APPROVER: "a maker may not approve",
    Refusal.ALREADY_APPROVED: "the operator has already approved this instruction",
    Refusal.WRONG_ORDER: "an earlier level must approve first",
    Refusal.NOT_IN_LEVEL: "the operator is not an approver of the waiting level",
}


class ApprovalRefused(Exception):
    """An approval or rejection the rules do not allow; ``reason`` says which rule."""

    def __init__(self, reason: Refusal, code: str) -> None:
        self.reason = reason
        self.code = code
        super().__init__(f"operator {code!r}: {reason.text} ({reason.value})")


class Status(StrEnum):
    WAITING = "waiting"  # awaiting the approval of level next_level
    COMPLETE = "complete"  # every level approved: the instruction may execute
    CANCELLED = "cancelled"  # rejected: nothing moves


@dataclass(frozen=True, slots=True, kw_only=True)
class Approval:
    """An instruction's authorization so far; :meth:`approve` and :meth:`reject` return the next.

    ``levels`` are the levels it needs (:func:`levels_for`), ``maker`` who
    submitted it (a direct-connect user_no or an operator code; "" when
    unknown), ``approvers`` who approved each level so far, in order, and
    ``rejected_by`` who cancelled it. A state that the rules could not have
    reached is refused with ValueError, so one rebuilt from storage is sound.
    """

    levels: Levels
    maker: str = ""
    approvers: tuple[str, ...] = ()
    rejected_by: str | None = None

    def __post_init__(self) -> None:
        levels = tuple(tuple(level) for level in self.levels)
        approvers = tuple(self.approvers)
        object.__setattr__(self, "levels", levels)
        object.__setattr__(self, "approvers", approvers)
        if not all(level and all(isinstance(code, str) for code in level) for level in levels):
            raise ValueError(f"every level lists at least one operator code: {levels!r}")
        if len(approvers) > len(levels):
            raise ValueError(f"{len(approvers)} approvers for {len(levels)} levels")
        for index, code in enumerate(approvers):
            if code not in levels[index]:
                raise ValueError(f"approver {code!r} is not in level {index + 1}")
            if code in approvers[:index] or (self.maker and code == self.maker):
                raise ValueError(f"approver {code!r} may not approve level {index + 1}")
        if self.rejected_by is not None:
            if len(approvers) == len(levels):
                raise ValueError("an authorized instruction cannot have been rejected")
            if self._refusal(self.rejected_by) is not None:
                raise ValueError(f"{self.rejected_by!r} may not reject level {len(approvers) + 1}")

    @property
    def status(self) -> Status:
        if self.rejected_by is not None:
            return Status.CANCELLED
        return Status.COMPLETE if len(self.approvers) == len(self.levels) else Status.WAITING

    @property
    def complete(self) -> bool:
        """Every level approved (at once, for an instruction that needs no levels)."""
        return self.status is Status.COMPLETE

    @property
    def cancelled(self) -> bool:
        return self.status is Status.CANCELLED

    @property
    def next_level(self) -> int | None:
        """The index (from 0) of the level awaiting approval; None when not waiting."""
        return len(self.approvers) if self.status is Status.WAITING else None

    @property
    def waiting_for(self) -> tuple[str, ...]:
        """The operators any one of whom may approve now; () when not waiting."""
        level = self.next_level
        return () if level is None else self.levels[level]

    def may_approve(self, code: str, role: str) -> Refusal | None:
        """None if operator ``code`` with ``role`` may approve (or reject) now, else why not."""
        if role not in OPERATOR_ROLES:
            raise ValueError(f"unknown role {role!r} (expected one of {', '.join(OPERATOR_ROLES)})")
        if self.status is not Status.WAITING:
            return Refusal.NOT_WAITING
        if self.maker and code == self.maker:
            return Refusal.SELF_APPROVAL
        if role not in APPROVER_ROLES:
            return Refusal.NOT_AN_APPROVER
        return self._refusal(code)

    def _refusal(self, code: str) -> Refusal | None:
        """The rules that depend on the levels alone, for the waiting level."""
        if self.maker and code == self.maker:
            return Refusal.SELF_APPROVAL
        if code in self.approvers:
            return Refusal.ALREADY_APPROVED
        waiting = len(self.approvers)
        if code in self.levels[waiting]:
            return None
        if any(code in level for level in self.levels[waiting + 1:]):
            return Refusal.WRONG_ORDER
        return Refusal.NOT_IN_LEVEL

    def approve(self, code: str, role: str) -> Approval:
        """The state after operator ``code`` approves the waiting level; ApprovalRefused if not."""
        self._check(code, role)
        return Approval(levels=self.levels, maker=self.maker,
                        approvers=(*self.approvers, code))

    def reject(self, code: str, role: str) -> Approval:
        """The cancelled state, rejected by ``code``; the same rules as :meth:`approve`."""
        self._check(code, role)
        return Approval(levels=self.levels, maker=self.maker, approvers=self.approvers,
                        rejected_by=code)

    def _check(self, code: str, role: str) -> None:
        refusal = self.may_approve(code, role)
        if refusal is not None:
            raise ApprovalRefused(refusal, code)
