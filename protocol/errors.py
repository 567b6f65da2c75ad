"""The protocol's exceptions: one root, and errors that say whose fault they are.

* :class:`LocalProtocolError` — this side misused the API or tried to send
  something the protocol cannot carry (a value too wide for its field).
* :class:`RemoteProtocolError` — the peer sent something invalid.
  :class:`DecodeError` names the field and byte offset; :class:`AuthenticationError`
  is deliberately opaque towards the peer (one code, one message for bad
  signatures, bad tags, replays and stale timestamps) and keeps the precise
  reason in :attr:`AuthenticationError.reason` for the local log only.

Every error carries the :class:`~protocol.codes.ReturnCode` the peer should see.
"""

from __future__ import annotations

from protocol import codes
from protocol.codes import ReturnCode


class ProtocolError(Exception):
    """Root of every error raised by the protocol package."""

    code: ReturnCode = codes.MALFORMED_FRAME
    #: False when the session survives the error (one bad message, answered with an error).
    fatal: bool = True
    #: The offending message's req_no and tr_code, when known.
    req_no: str = ""
    tr_code: str = ""

    def __init__(self, message: str, *, code: ReturnCode | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def public_message(self) -> str:
        """What may be told to the peer."""
        return str(self)


class LocalProtocolError(ProtocolError):
    """This side tried something the protocol does not allow."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol does not allow."""


class FieldOverflow(LocalProtocolError):
    """A value does not fit its fixed-width field; it is refused, never truncated."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"field {field}: {reason}", code=codes.INVALID_FIELD)
        self.field = field
        self.reason = reason


class MessageTooLarge(LocalProtocolError):
    """A message this side tried to send does not fit the maximum frame size."""

    code = codes.RESULT_TOO_LARGE


class DecodeError(RemoteProtocolError):
    """Bytes from the peer that do not decode; names the field and byte offset."""

    def __init__(
        self,
        reason: str,
        *,
        field: str | None = None,
        offset: int | None = None,
        part: str = "header",
        code: ReturnCode | None = None,
    ) -> None:
        where = part
        if field is not None:
            where += f" field {field}"
        if offset is not None:
            where += f" at offset {offset}"
        super().__init__(f"{where}: {reason}", code=code or codes.MALFORMED_FRAME)
        self.reason = reason
        self.field = field
        self.offset = offset
        self.part = part


class FrameTooLarge(RemoteProtocolError):
    code = codes.FRAME_TOO_LARGE


class UnsupportedVersion(RemoteProtocolError):
    code = codes.UNSUPPORTED_VERSION


class AuthenticationError(RemoteProtocolError):
    """Any authentication failure. The peer learns only that authentication failed."""

    code = codes.AUTHENTICATION_FAILED

    def __init__(self, reason: str) -> None:
        super().__init__(codes.AUTHENTICATION_FAILED.message)
        self.reason = reason

    @property
    def public_message(self) -> str:
        return codes.AUTHENTICATION_FAILED.message

    def __repr__(self) -> str:
        return f"AuthenticationError({self.reason!r})"
