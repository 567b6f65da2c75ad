"""An operator's decision on a waiting instruction, and the text they sign.

A checker or supervisor approves or rejects with their own Ed25519 key
(enrolled with the bank, like the client's). What they sign is the
canonical text of :class:`Decision`: UTF-8, one ``name=value`` line per
field in a fixed order after a first line naming the format::

    directlink-approval-v1
    corp_no=0000000001
    operator=B01
    decision=approve
    req_no=ERP20261124000001
    level=1
    amt=150000000
    signed_at=2026-11-24T10:15:00

So a signature binds the operator to this decision, on this instruction of
this enterprise, at this level, for this amount: it cannot be replayed for
another instruction, another level or a changed amount. The bank rebuilds
the text from the 210230 request and verifies the signature against the
operator's enrolled key before it looks at anything else. Pure functions;
the key objects are :mod:`protocol.keys`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from protocol.keys import SigningKey, VerifyKey
from protocol.money import MAX_FEN

FORMAT = "directlink-approval-v1"
APPROVE, REJECT = "approve", "reject"
DECISIONS = (APPROVE, REJECT)
#: The wire's ``decision`` digit for each decision (210230).
WIRE_DECISION = {APPROVE: "1", REJECT: "2"}
SIGNATURE_HEX = 128

_IDENT = re.compile(r"[\x21-\x7e]{1,32}")
_SIGNED_AT = "%Y-%m-%dT%H:%M:%S"


class DecisionError(ValueError):
    """A decision that cannot be signed or checked as given (names the field)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """One operator's approve or reject of one instruction's waiting level."""

    corp_no: str
    operator: str
    decision: str  # approve | reject
    req_no: str  # the instruction's req_no
    level: int  # 1-based
    amt: int  # fen, as the operator saw it
    signed_at: datetime  # naive China time, whole seconds

    def __post_init__(self) -> None:
        for name in ("corp_no", "operator", "req_no"):
            value = getattr(self, name)
            if not isinstance(value, str) or not _IDENT.fullmatch(value):
                raise DecisionError(f"{name}: 1-32 printable ASCII characters, got {value!r}")
        if self.decision not in DECISIONS:
            raise DecisionError(f"decision: 'approve' or 'reject', got {self.decision!r}")
        if isinstance(self.level, bool) or not isinstance(self.level, int) \
                or not 1 <= self.level <= 99:
            raise DecisionError(f"level: 1 to 99, got {self.level!r}")
        if isinstance(self.amt, bool) or not isinstance(self.amt, int) \
                or not 0 < self.amt <= MAX_FEN:
            raise DecisionError(f"amt: 1 to {MAX_FEN} fen, got {self.amt!r}")
        if not isinstance(self.signed_at, datetime) or self.signed_at.tzinfo is not None \
                or self.signed_at.microsecond:
            raise DecisionError("signed_at: a naive datetime in whole seconds")

    def canonical_bytes(self) -> bytes:
        """The exact bytes the operator signs."""
        lines = [FORMAT, f"corp_no={self.corp_no}", f"operator={self.operator}",
                 f"decision={self.decision}", f"req_no={self.req_no}", f"level={self.level}",
                 f"amt={self.amt}", f"signed_at={self.signed_at.strftime(_SIGNED_AT)}"]
        return ("\n".join(lines) + "\n").encode("utf-8")


def sign(decision: Decision, key: SigningKey) -> str:
    """The operator's signature of ``decision``, as 128 lowercase hex digits."""
    return key.sign(decision.canonical_bytes()).hex()


def verify(decision: Decision, signature_hex: str, key: VerifyKey) -> bool:
    """True when ``signature_hex`` is ``key``'s signature of ``decision``."""
    if not isinstance(signature_hex, str) or len(signature_hex) != SIGNATURE_HEX \
            or not re.fullmatch(r"[0-9a-f]+", signature_hex):
        return False
    return key.verify(bytes.fromhex(signature_hex), decision.canonical_bytes())


def format_signed_at(moment: datetime) -> str:
    return moment.strftime(_SIGNED_AT)


def parse_signed_at(text: str) -> datetime:
    """``YYYY-MM-DDThh:mm:ss`` as a naive datetime; DecisionError when it is not that."""
    try:
        moment = datetime.strptime(text, _SIGNED_AT)
    except ValueError:
        raise DecisionError(f"signed_at: expected YYYY-MM-DDThh:mm:ss, got {text!r}") from None
    if format_signed_at(moment) != text:
        raise DecisionError(f"signed_at: expected YYYY-MM-DDThh:mm:ss, got {text!r}")
    return moment
