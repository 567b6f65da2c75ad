"""What the client and server sessions share: state, framing, sealing and opening messages.

The public API is :mod:`protocol.session` (its docstring describes the state
machines); :class:`SessionBase` is their common part, and
:mod:`protocol.session_client` and :mod:`protocol.session_server` each add
one end's handshake and what it may send.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

from protocol import codes
from protocol.bodies import (
    BATCH_TR_CODES,
    CODECS,
    HANDSHAKE_BODY,
)
from protocol.errors import (
    AuthenticationError,
    DecodeError,
    LocalProtocolError,
    MessageTooLarge,
    ProtocolError,
    RemoteProtocolError,
)
from protocol.events import (
    NEED_DATA,
    ErrorMessage,
    Response,
)
from protocol.framing import FrameDecoder, encode_frame
from protocol.header import (
    HEADER_SIZE,
    OFFSETS,
    SIGN_ED25519,
    SIGN_NONE,
    Header,
    MessageType,
)
from protocol.keys import SigningKey, VerifyKey
from protocol.security import (
    SIGNATURE_SIZE,
    TAG_SIZE,
    DirectionCipher,
    Stamper,
)

HANDSHAKE_SIZE = HANDSHAKE_BODY.sizeof()
DEFAULT_TIME_WINDOW = 300.0  # seconds a message's timestamp may differ from our clock


class State(Enum):
    IDLE = "IDLE"
    HANDSHAKING = "HANDSHAKING"
    ESTABLISHED = "ESTABLISHED"
    CLOSED = "CLOSED"  # the peer refused or said goodbye with an error
    ERROR = "ERROR"  # we raised a fatal protocol error


class SessionBase:
    """What both ends share: framing, sequence numbers, message sealing and opening."""

    our_direction: str  # message types this side may send

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        random: Callable[[int], bytes],
        max_frame: int,
        time_window: float,
        minor: int,
    ) -> None:
        self.their_state = State.IDLE
        self.our_state = State.IDLE
        self.end_reason = ""  # why the receiving side ended, for the caller's log
        # Requests handed out by next_event and not answered yet, counted by req_no
        # (a batch's segments share one): what may still be sent once receiving ends.
        self._owed: dict[str, int] = {}
        self.corp_no = ""
        self.user_no = ""
        self.secure = False
        self.minor = minor
        self._own_minor = minor
        self._clock = clock
        self._random = random
        self._max_frame = max_frame
        self._time_window = time_window
        self._decoder = FrameDecoder(max_frame=max_frame)
        self._eof = False  # the peer closed; buffered frames may remain
        self._outgoing = bytearray()
        self._send_seq = 0
        self._recv_seq = 0
        # Set once the handshake completes; from then on every message sent, even an
        # error after a failure, takes the next sequence number (never nonce 0 again).
        self._numbered = False
        self._send_cipher: DirectionCipher | None = None
        self._recv_cipher: DirectionCipher | None = None
        self._own_key: SigningKey | None = None
        self._own_key_id = ""
        self._peer_key: VerifyKey | None = None
        self._peer_key_id = ""
        self._stamper = Stamper()

    # -- public API ----------------------------------------------------------

    @property
    def state(self) -> State:
        """The receiving side's state (``their_state``), under its first name."""
        return self.their_state

    def owes(self, req_no: str) -> bool:
        """Whether a request with ``req_no`` was received and is not answered yet."""
        return req_no in self._owed

    def can_answer(self, req_no: str) -> bool:
        """Whether an answer to ``req_no`` can still be sent (see the module docstring)."""
        return self.our_state is State.ESTABLISHED and (
            self.their_state is State.ESTABLISHED or req_no in self._owed)

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the peer. ``b""`` means the peer closed the connection."""
        if data == b"":
            if not self._decoder.holds_whole_frames:
                error = DecodeError("connection closed in the middle of a frame", part="frame")
                self._receiving_ended(State.ERROR, failure(error))
                raise error
            # Frames that arrived before the close are still handed out by next_event().
            self._eof = True
            if self._decoder.at_frame_boundary:
                self._receiving_ended(State.CLOSED, "the peer closed the connection")
            return
        try:
            self._decoder.feed(data)
        except RemoteProtocolError as exc:
            self._receiving_ended(State.ERROR, failure(exc))
            raise

    def next_event(self):
        """The next event, or NEED_DATA. Raises RemoteProtocolError on invalid input."""
        if self.their_state is State.ERROR:
            raise LocalProtocolError("the session has failed; no more events")
        try:
            message = self._decoder.next_frame()
        except RemoteProtocolError as exc:
            self._receiving_ended(State.ERROR, failure(exc))
            raise
        if message is None:
            if self._eof:
                self._receiving_ended(State.CLOSED, "the peer closed the connection")
            return NEED_DATA
        try:
            return self._handle(message)
        except RemoteProtocolError as exc:
            if exc.fatal:
                self._receiving_ended(State.ERROR, failure(exc))
            raise

    def data_to_send(self) -> bytes:
        data = bytes(self._outgoing)
        self._outgoing.clear()
        return data

    def send_error(self, error: ErrorMessage) -> None:
        """Queue an error message; allowed in any state, including after a failure.

        Once the receiving side has ended, an error that answers no owed request
        is the session's last word: the sending side closes with it.
        """
        body = b""
        self._queue(MessageType.ERROR, body, ret_code=error.ret_code,
                    ret_msg=fit_message(error.ret_msg), req_no=error.req_no,
                    tr_code=error.tr_code)
        if not self._answered(error.req_no) and self.their_state in _ENDED:
            self._owed.clear()
            self.our_state = State.CLOSED

    # -- the two directions --------------------------------------------------

    def _receiving_ended(self, state: State, reason: str) -> None:
        """The peer will send nothing more (CLOSED), or nothing more is read (ERROR)."""
        if self.their_state is State.ERROR:
            return  # the first failure is the one that counts
        if self.their_state is not State.CLOSED or state is State.ERROR:
            self.their_state = state
            self.end_reason = reason
        if self.our_state is not State.ESTABLISHED or not self._owed:
            self.our_state = State.CLOSED

    def _owe(self, req_no: str) -> None:
        self._owed[req_no] = self._owed.get(req_no, 0) + 1

    def _answered(self, req_no: str) -> bool:
        """Count one answer to ``req_no``; whether one was owed."""
        count = self._owed.get(req_no)
        if not count:
            return False
        if count == 1:
            del self._owed[req_no]
            if not self._owed and self.their_state in _ENDED:
                self.our_state = State.CLOSED
        else:
            self._owed[req_no] = count - 1
        return True

    # -- building ------------------------------------------------------------

    def _queue(self, msg_type: str, body: bytes, **fields: object) -> None:
        self._outgoing += encode_frame(self._seal(msg_type, body, **fields),
                                       max_frame=self._max_frame)

    def _seal(self, msg_type: str, body: bytes, **fields: object) -> bytes:
        tr_date, tr_time = self._stamper.stamp(self._clock())
        cipher = self._send_cipher
        key = self._own_key
        size = (HEADER_SIZE + len(body) + (TAG_SIZE if cipher else 0)
                + (SIGNATURE_SIZE if key else 0))
        if size > self._max_frame:
            # Refused before a sequence number is used, so the session stays in step.
            raise MessageTooLarge(f"a {msg_type} message of {size} bytes exceeds the maximum "
                                  f"frame size of {self._max_frame}")
        # Handshake messages, and errors before a session exists, carry 0.
        seq = self._send_seq + 1 if self._numbered else 0
        header = Header(
            msg_type=msg_type,
            corp_no=self.corp_no,
            user_no=self.user_no,
            tr_date=tr_date,
            tr_time=tr_time,
            sign_flag="1" if key else "0",
            encrypt_flag="1" if cipher else "0",
            key_id=self._own_key_id,
            sign_alg=SIGN_ED25519 if key else SIGN_NONE,
            body_len=len(body) + (TAG_SIZE if cipher else 0),
            sig_len=SIGNATURE_SIZE if key else 0,
            seq_no=seq,
            minor=self.minor,
            **fields,
        ).build()
        if self._numbered:
            self._send_seq = seq  # only once the header built: a refused value uses no number
        if cipher is not None:
            body = cipher.seal(seq, body, header)
        signed = header + body
        return signed + key.sign(signed) if key else signed

    # -- opening -------------------------------------------------------------

    def _open(self, message: bytes) -> tuple[Header, bytes]:
        """Check and open one authenticated message; returns its header and plaintext body."""
        header = Header.parse(message)
        expected = HEADER_SIZE + header.body_len + header.sig_len
        if len(message) != expected:
            raise DecodeError(
                f"frame holds {len(message)} bytes, header declares {expected}",
                field="body_len", offset=OFFSETS["body_len"],
            )
        if (header.more_flag == "1" or header.frag_no) and not (
                header.tr_code in BATCH_TR_CODES and header.frag_no
                and header.msg_type in (MessageType.REQUEST, MessageType.RESPONSE)):
            # Only batch segments are numbered, and a segment has a number.
            raise DecodeError(f"message of tr_code {header.tr_code!r} is marked as a segment "
                              f"(frag_no {header.frag_no}, more_flag {header.more_flag})",
                              field="more_flag", offset=OFFSETS["more_flag"])
        signed_end = HEADER_SIZE + header.body_len
        if self.secure:
            if not (header.signed and header.encrypted and header.sign_alg == SIGN_ED25519
                    and header.sig_len == SIGNATURE_SIZE):
                raise AuthenticationError("unsigned or unencrypted message in a secure session")
            peer = self._peer_key
            assert peer is not None
            if header.key_id != self._peer_key_id:
                raise AuthenticationError(f"message signed with key id {header.key_id!r}, "
                                          f"expected {self._peer_key_id!r}")
            if not peer.verify(message[signed_end:], message[:signed_end]):
                raise AuthenticationError("bad signature")
        elif header.signed or header.encrypted:
            raise RemoteProtocolError("signed or encrypted message in a plaintext session",
                                      code=codes.OUT_OF_STATE)
        if header.seq_no != self._recv_seq + 1:
            raise AuthenticationError(
                f"sequence number {header.seq_no}, expected {self._recv_seq + 1} "
                "(replayed or out of order)"
            )
        self._check_time(header)
        body = message[HEADER_SIZE:signed_end]
        if self._recv_cipher is not None:
            body = self._recv_cipher.open(header.seq_no, body, message[:HEADER_SIZE])
        self._recv_seq = header.seq_no
        return header, body

    def _require_established(self, event: object) -> None:
        """Both directions open: what starts an exchange (a request, a heartbeat)."""
        if self.their_state is not State.ESTABLISHED or self.our_state is not State.ESTABLISHED:
            raise LocalProtocolError(f"cannot send {type(event).__name__} in state "
                                     f"{self.state.value}" + self._why_ended(),
                                     code=codes.OUT_OF_STATE)

    def _require_answerable(self, event: Response) -> None:
        """An answer needs our direction open, and after the peer's end, a request owed."""
        if not self.can_answer(event.req_no):
            what = (f"no request {event.req_no!r} is waiting for a Response"
                    if self.our_state is State.ESTABLISHED
                    else f"cannot send Response in state {self.our_state.value}")
            raise LocalProtocolError(what + self._why_ended(), code=codes.OUT_OF_STATE)

    def _why_ended(self) -> str:
        return f": the session has ended ({self.end_reason})" if self.end_reason else ""

    def _open_established(self, message: bytes) -> tuple[Header, bytes]:
        """Open a message of an established session, which must name the session's operator."""
        if self.their_state is not State.ESTABLISHED:
            raise RemoteProtocolError(f"message received in state {self.state.value}",
                                      code=codes.OUT_OF_STATE)
        header, body = self._open(message)
        if header.corp_no != self.corp_no or header.user_no != self.user_no:
            raise RemoteProtocolError("message names another enterprise or operator than "
                                      "the session's", code=codes.NOT_ENROLLED)
        return header, body

    def _check_time(self, header: Header) -> None:
        sent = self._stamper.read(header.tr_date, header.tr_time)
        if sent is None:
            raise AuthenticationError(f"invalid timestamp {header.tr_date!r} {header.tr_time!r}")
        skew = sent - self._clock()
        if abs(skew) > self._time_window:
            raise AuthenticationError(f"stale timestamp: {skew:+.0f} s from our clock")

    def _decode_body(self, header: Header, body: bytes, direction: str) -> dict:
        codec = CODECS.get((header.tr_code, direction))
        if codec is None:
            raise recoverable(RemoteProtocolError(f"unknown tr_code {header.tr_code!r}",
                                                   code=codes.UNKNOWN_TR_CODE), header)
        try:
            return codec.decode(body, allow_trailing=header.minor > self._own_minor)
        except DecodeError as exc:
            raise recoverable(exc, header) from None

    def _error_event(self, header: Header) -> ErrorMessage:
        return ErrorMessage(ret_code=header.ret_code, ret_msg=header.ret_msg,
                            req_no=header.req_no, tr_code=header.tr_code)

    def _handle(self, message: bytes):
        raise NotImplementedError


_ENDED = (State.CLOSED, State.ERROR)


def failure(exc: RemoteProtocolError) -> str:
    """How a fatal error is named in ``end_reason`` (its code; the caller logs the rest)."""
    return f"protocol error {exc.code.code}"


def recoverable(exc: ProtocolError, header: Header) -> ProtocolError:
    exc.fatal = False
    exc.req_no = header.req_no
    exc.tr_code = header.tr_code
    return exc


def fit_message(text: str, width: int = 60) -> str:
    """Shorten a message to fit the header's ret_msg field (GB18030 bytes)."""
    try:
        data = text.encode("gb18030")
    except UnicodeEncodeError:  # lone surrogates: the header field would refuse them
        data = text.encode("gb18030", "replace")
        text = data.decode("gb18030")
    if len(data) <= width:
        return text
    return data[:width].decode("gb18030", "ignore")


