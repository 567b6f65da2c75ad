"""The ERP raw-TCP framing: a 7-byte ASCII length header, then the XML.

Bank of Communications direct-connect clients frame every request and reply
as the character ``0`` followed by the decimal byte length of the XML,
space-padded on the right to seven characters (``b"0523   "``); some ERP
integrations zero-pad instead (``b"0000523"``), which is accepted too. The
connection carries one request: the ERP writes header and XML, the daemon
answers with header and XML and closes, and the ERP reads until EOF.

Sans-I/O: :func:`parse_length_header` and :func:`frame_reply` are pure, and
:class:`FrameDecoder` turns received bytes into the request's XML bytes
while the caller does every read. Broken framing is the only failure on which
the daemon may close the connection without a reply, because without a
length it cannot know where the request ends; everything after the framing
is answered with an XML error reply.
"""

from __future__ import annotations

HEADER_LEN = 7

#: The space-padded form has room for six digits after the leading ``0``.
MAX_FRAMED_LENGTH = 10 ** (HEADER_LEN - 1) - 1

_SPACE = b" "


class ErpFramingError(Exception):
    """The peer's length header or framing is broken; ``reason`` says how."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ErpFrameTooLarge(ErpFramingError):
    """A well-formed header announcing more bytes than the configured maximum.

    The length itself is readable, so a listener may still answer with an
    XML_TOO_LARGE (D002) reply instead of just closing; ``length`` and
    ``max_length`` are kept for that and for the log.
    """

    def __init__(self, length: int, max_length: int) -> None:
        super().__init__(f"announced length {length} exceeds the maximum of {max_length} bytes")
        self.length = length
        self.max_length = max_length


def parse_length_header(header: bytes, *, max_length: int) -> int:
    """Return the XML length announced by a 7-byte header.

    Accepted: ``0`` then 1-6 ASCII digits, then only spaces up to seven bytes
    (``b"0523   "``, ``b"0000523"``, ``b"00     "`` for an empty document).
    Lenient about trailing spaces, strict about everything else: a sign, an
    inner space, a non-ASCII digit or a missing length is an error, because a
    guessed length would desynchronise the rest of the stream.
    """
    if len(header) != HEADER_LEN:
        raise ErpFramingError(f"length header must be {HEADER_LEN} bytes, got {len(header)}")
    if header[:1] != b"0":
        raise ErpFramingError(f"length header must start with '0': {header!r}")
    digits = header[1:].rstrip(_SPACE)
    if not digits:
        raise ErpFramingError(f"length header has no length: {header!r}")
    # bytes.isdigit() is ASCII-only, unlike str.isdigit() which accepts "²".
    if not digits.isdigit():
        raise ErpFramingError(
            f"length header must be '0', digits, then spaces: {header!r}"
        )
    length = int(digits)
    if length > max_length:
        raise ErpFrameTooLarge(length, max_length)
    return length


def frame_reply(xml: bytes) -> bytes:
    """Prefix a reply with its length header, space-padded like the bank's client."""
    if len(xml) > MAX_FRAMED_LENGTH:
        # Our own reply cannot be framed: a local bug (callers bound the
        # number of records), not the peer's fault.
        raise ValueError(
            f"reply of {len(xml)} bytes exceeds the {MAX_FRAMED_LENGTH} bytes "
            "a 7-byte header can announce"
        )
    return b"0" + str(len(xml)).encode("ascii").ljust(HEADER_LEN - 1, _SPACE) + xml


class FrameDecoder:
    """Collect one framed request from a byte stream (sans-I/O).

    Feed whatever the socket returned to :meth:`receive_data` (``b""`` at
    EOF) and call :meth:`next_request`, which returns the XML bytes once they
    are complete and ``None`` while more are needed. The buffer never holds
    more than the header plus ``max_length`` bytes. Bytes after the request
    are ignored: one request per connection, and some clients append a
    newline.
    """

    def __init__(self, *, max_length: int) -> None:
        self._max_length = max_length
        self._buffer = bytearray()
        self._length: int | None = None
        self._eof = False
        self._done = False

    @property
    def expected_length(self) -> int | None:
        """The XML length from the header, once the header has been read."""
        return self._length

    def receive_data(self, data: bytes) -> None:
        """Add received bytes; ``b""`` means the peer closed its side."""
        if self._done:
            return
        if not data:
            self._eof = True
            return
        if self._eof:
            raise RuntimeError("receive_data() called after EOF")
        wanted = HEADER_LEN + (self._length if self._length is not None else 0)
        if self._length is None:
            # Until the header is parsed, take only enough to parse it; the
            # rest is re-offered below once the length is known.
            head_room = HEADER_LEN - len(self._buffer)
            self._buffer += data[:head_room]
            data = data[head_room:]
            if len(self._buffer) == HEADER_LEN:
                self._length = parse_length_header(
                    bytes(self._buffer), max_length=self._max_length
                )
                wanted = HEADER_LEN + self._length
        if self._length is not None:
            self._buffer += data[: wanted - len(self._buffer)]

    def next_request(self) -> bytes | None:
        """The request's XML bytes when complete; ``None`` if more data is needed.

        Raises :class:`ErpFramingError` when the peer closed before sending a
        whole header and XML.
        """
        if self._length is not None and len(self._buffer) == HEADER_LEN + self._length:
            self._done = True
            return bytes(self._buffer[HEADER_LEN:])
        if self._eof:
            if self._length is None:
                raise ErpFramingError(
                    f"connection closed after {len(self._buffer)} of {HEADER_LEN} header bytes"
                )
            got = len(self._buffer) - HEADER_LEN
            raise ErpFramingError(
                f"connection closed after {got} of {self._length} announced bytes"
            )
        return None
