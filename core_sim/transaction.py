"""What a bank transaction takes and returns: Request, Reply, and Refused.

A :class:`Request` is a decoded, authenticated instruction from an enterprise
operator (the server has already checked signatures and parsed the body); a
:class:`Reply` is what goes back. Handlers refuse by raising :class:`Refused`
with the return code and a specific message; the bank turns it into a reply.

Messages travel in the wire header's ``ret_msg`` and in ``err_msg`` body
fields, both 60 bytes of GB18030, so :func:`fit_message` keeps every message
the bank writes within that width instead of letting the encoder refuse it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from protocol import codes
from protocol.codes import OK, ReturnCode

#: Width of ``ret_msg`` (header) and ``err_msg`` (bodies) on the wire, in bytes.
MESSAGE_WIDTH = 60


@dataclass(frozen=True, slots=True)
class Request:
    corp_no: str
    user_no: str
    tr_code: str
    req_no: str
    fields: Mapping[str, object] = field(default_factory=dict)
    frag_no: int = 0  # a batch segment's number (1, 2, ...); 0 for other requests
    more: bool = False  # a batch segment that is not the last


@dataclass(frozen=True, slots=True)
class Reply:
    ret_code: str  # "0000" or a code from protocol.codes
    ret_msg: str  # human-readable and specific, at most MESSAGE_WIDTH bytes
    serial_no: str = ""  # the bank's serial number; "" for queries and refusals
    fields: dict = field(default_factory=dict)  # reply body; {} on refusal
    #: How the answer goes out (a scenario rule may say otherwise): "reply" as it is,
    #: "late" after ``delay_ms``, "unknown" as "outcome unknown" (P020), "dropped"
    #: not at all (the connection is closed). Never stored with the instruction.
    sent: str = "reply"
    delay_ms: int = 0

    @property
    def ok(self) -> bool:
        return self.ret_code == OK.code


class Refused(Exception):
    """A business refusal: nothing was executed; ``reply`` says why."""

    def __init__(self, code: ReturnCode, message: str) -> None:
        super().__init__(f"{code.code} {message}")
        self.code = code
        self.message = fit_message(message)

    @property
    def reply(self) -> Reply:
        return Reply(self.code.code, self.message)


def fit_message(message: str, width: int = MESSAGE_WIDTH) -> str:
    """Shorten ``message`` so that its GB18030 encoding fits in ``width`` bytes."""
    if len(message.encode("gb18030", "replace")) <= width:
        return message
    while len((message + "...").encode("gb18030", "replace")) > width:
        message = message[:-1]
    return message + "..."


# -- reading body fields (strings arrive stripped; "" means absent) -----------------------


def text_field(fields: Mapping[str, object], name: str) -> str:
    """A text field, "" when absent; E001 when it is not text."""
    value = fields.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Refused(codes.INVALID_FIELD, f"field {name}: expected text")
    return value


def required_field(fields: Mapping[str, object], name: str) -> str:
    """A text field that must be present; E001 naming it when it is not."""
    value = text_field(fields, name)
    if not value:
        raise Refused(codes.INVALID_FIELD, f"missing field {name}")
    return value
