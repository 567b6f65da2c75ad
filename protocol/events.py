"""The events a session turns bytes into, and turns into bytes.

Small frozen dataclasses with keyword-only constructors that check their own
fields. Body ``fields`` are plain mappings validated against the body
declaration when the message is built (an overflow names the field).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from protocol import codes
from protocol.bodies import BATCH_TR_CODES, TR_CODES
from protocol.errors import LocalProtocolError


def _check_ascii(name: str, value: str, width: int) -> None:
    if not isinstance(value, str) or not value.isascii() or len(value) > width:
        raise LocalProtocolError(f"{name} must be ASCII text of at most {width} characters: "
                                 f"{value!r}", code=codes.INVALID_FIELD)


#: Highest segment number the header's ``frag_no`` (N4) can carry.
MAX_FRAG_NO = 9999


def _check_fragment(tr_code: str, frag_no: int, more: bool) -> None:
    if frag_no == 0 and not more:
        return
    if tr_code not in BATCH_TR_CODES:
        raise LocalProtocolError(f"{tr_code} is not sent in segments", code=codes.INVALID_FIELD)
    if not isinstance(frag_no, int) or not 1 <= frag_no <= MAX_FRAG_NO:
        raise LocalProtocolError(f"segment number must be 1 to {MAX_FRAG_NO}: {frag_no!r}",
                                 code=codes.INVALID_FIELD)


@dataclass(frozen=True, kw_only=True, slots=True)
class Request:
    """A transaction request, enterprise to bank."""

    tr_code: str
    req_no: str
    fields: Mapping = field(default_factory=dict)
    corp_no: str = ""  # filled from the session on receipt
    user_no: str = ""
    #: A batch segment's number (1, 2, …) and whether more follow; 0 / False otherwise.
    frag_no: int = 0
    more: bool = False

    def __post_init__(self) -> None:
        if self.tr_code not in TR_CODES:
            raise LocalProtocolError(f"unknown tr_code {self.tr_code!r}",
                                     code=codes.UNKNOWN_TR_CODE)
        _check_ascii("req_no", self.req_no, 32)
        if not self.req_no:
            raise LocalProtocolError("req_no must not be empty", code=codes.INVALID_FIELD)
        _check_fragment(self.tr_code, self.frag_no, self.more)


@dataclass(frozen=True, kw_only=True, slots=True)
class Response:
    """The bank's answer to a :class:`Request`; a refusal (ret_code != 0000) has no fields."""

    tr_code: str
    req_no: str
    serial_no: str = ""
    ret_code: str = codes.OK.code
    ret_msg: str = ""
    fields: Mapping = field(default_factory=dict)
    #: The answered segment's number, for a batch segment; 0 otherwise.
    frag_no: int = 0

    def __post_init__(self) -> None:
        if self.tr_code not in TR_CODES:
            raise LocalProtocolError(f"unknown tr_code {self.tr_code!r}",
                                     code=codes.UNKNOWN_TR_CODE)
        _check_ascii("req_no", self.req_no, 32)
        _check_ascii("serial_no", self.serial_no, 24)
        _check_ascii("ret_code", self.ret_code, 4)
        _check_fragment(self.tr_code, self.frag_no, False)

    @property
    def ok(self) -> bool:
        return self.ret_code == codes.OK.code


@dataclass(frozen=True, kw_only=True, slots=True)
class ErrorMessage:
    """A message-level or session-level error, in either direction."""

    ret_code: str
    ret_msg: str = ""
    req_no: str = ""
    tr_code: str = ""

    def __post_init__(self) -> None:
        _check_ascii("ret_code", self.ret_code, 4)
        _check_ascii("req_no", self.req_no, 32)
        _check_ascii("tr_code", self.tr_code, 6)


@dataclass(frozen=True, kw_only=True, slots=True)
class Heartbeat:
    """Keep-alive; the bank answers each heartbeat with one of its own."""


@dataclass(frozen=True, kw_only=True, slots=True)
class SessionEstablished:
    """The handshake completed; ``secure`` is False only in certflag=0 test mode."""

    corp_no: str
    user_no: str
    key_id: str
    minor: int
    secure: bool


@dataclass(frozen=True, kw_only=True, slots=True)
class EnrolledKey:
    """What the bank knows of an enterprise operator's key."""

    corp_no: str
    user_no: str
    key: object = field(repr=False)  # protocol.keys.VerifyKey


class NeedData:
    """Sentinel: more bytes are needed before the next event."""

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA = NeedData()

Event = Request | Response | ErrorMessage | Heartbeat | SessionEstablished
