"""The bank counter's refusals: one :class:`CounterError` subclass per reason.

Each carries a message for the teller; :mod:`core_sim.counter` raises them
before it writes anything.
"""

from __future__ import annotations

from core_sim import authorization
from core_sim.controls import FlowRow


class CounterError(ValueError):
    """The counter cannot do it; the message says why. Nothing was written."""


class InvalidInput(CounterError):
    """A value that breaks the seed's rules (a code with a dash, a maker in a level)."""


class UnknownEnterprise(CounterError):
    """No enterprise with this corp_no at this bank."""


class UnknownAccount(CounterError):
    """No account with this number at this bank."""


class NotTheEnterprisesAccount(CounterError):
    """The account belongs to another enterprise (or to nobody's e-banking)."""


class UnknownOperator(CounterError):
    """The enterprise has no operator with this code."""


class DuplicateOperator(CounterError):
    """The enterprise has (or had) an operator with this code."""


class OperatorRemoved(CounterError):
    """The operator was removed: nothing more is changed for them."""


class OperatorInUse(CounterError):
    """Removing the operator would leave an active flow without its approvers."""


class NotAnApprover(CounterError):
    """A maker: submits and approves nothing, so has no key."""


class KeyInUse(CounterError):
    """The key is (or was) another operator's, or was revoked: one key, one person."""


class NoKey(CounterError):
    """The operator has no enrolled key to revoke."""


class DuplicateFlow(CounterError):
    """A flow is in force for that account (or the collection flow exists): delete it first."""


class UnknownFlow(CounterError):
    """No active flow with this id for the enterprise."""


class InstructionsWaiting(CounterError):
    """Instructions wait on the flow: deleting it cancels them, so it must be confirmed."""

    def __init__(self, message: str, flow: FlowRow,
                 waiting: list[authorization.WaitingInstruction]) -> None:
        super().__init__(message)
        self.flow = flow
        self.waiting = waiting


class DuplicatePayee(CounterError):
    """The account already pays this payee."""


class UnknownPayee(CounterError):
    """The account has no such directed payee."""
