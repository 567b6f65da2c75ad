"""Client and server session state machines (sans-I/O).

The caller feeds received bytes with :meth:`receive_data`, takes events with
:meth:`next_event` until it returns :data:`NEED_DATA`, queues events with
:meth:`send`, and writes whatever :meth:`data_to_send` returns. No sockets,
no clock and no randomness of its own: ``clock`` and ``random`` are injected.

Each direction has a state of its own, as in h11: ``their_state`` for what
the peer sends us, ``our_state`` for what we send. ::

    client: IDLE --start()--> HANDSHAKING --HA--> ESTABLISHED
    server: IDLE --HS--> ESTABLISHED
    their_state: any --EOF--> CLOSED;  any --error received or raised--> CLOSED / ERROR
    our_state:   ESTABLISHED --receiving has ended and no reply is owed--> CLOSED

A :class:`RemoteProtocolError` from :meth:`next_event` whose ``fatal`` is true
ends the receiving side (``their_state`` ERROR): no more events. A non-fatal
one (an authenticated request whose body does not decode, or names an unknown
tr_code) leaves the session usable: answer it with an :class:`ErrorMessage`
for its ``req_no``.

The receiving side ending does not end the sending side at once. A bank owes
an answer to every request it has handed out, and the peer that closed its
half of the connection, or whose next frame was replayed, still reads what
was sent before: requests authenticated before the end were genuine. So after
``their_state`` leaves ESTABLISHED, ``our_state`` stays ESTABLISHED for
exactly those answers (a :class:`Response` or an :class:`ErrorMessage` naming
an owed ``req_no``); nothing else is sent except errors, and once nothing is
owed ``our_state`` is CLOSED. The error that reports a fatal failure goes out
last (:meth:`send_error` is allowed in any state): an error naming no owed
request, sent after the receiving side ended, ends the sending side too, and
the answers still owed at that point are given up.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from enum import Enum

from protocol import codes
from protocol.bodies import (
    BATCH_TR_CODES,
    CODECS,
    HANDSHAKE_ACK_CODEC,
    HANDSHAKE_BODY,
    HANDSHAKE_CODEC,
    REQUEST,
    RESPONSE,
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
    EnrolledKey,
    ErrorMessage,
    Heartbeat,
    NeedData,
    Request,
    Response,
    SessionEstablished,
)
from protocol.framing import DEFAULT_MAX_FRAME, FrameDecoder, encode_frame
from protocol.header import (
    HEADER_SIZE,
    OFFSETS,
    SIGN_ED25519,
    SIGN_NONE,
    VERSION_MINOR,
    Header,
    MessageType,
)
from protocol.keys import BankKeyPair, BankPublicKeys, SigningKey, VerifyKey
from protocol.security import (
    SIGNATURE_SIZE,
    TAG_SIZE,
    DirectionCipher,
    Stamper,
    derive_session_keys,
    open_secret,
    seal_secret,
    transcript_hash,
)

HANDSHAKE_SIZE = HANDSHAKE_BODY.sizeof()
DEFAULT_TIME_WINDOW = 300.0  # seconds a message's timestamp may differ from our clock


class State(Enum):
    IDLE = "IDLE"
    HANDSHAKING = "HANDSHAKING"
    ESTABLISHED = "ESTABLISHED"
    CLOSED = "CLOSED"  # the peer refused or said goodbye with an error
    ERROR = "ERROR"  # we raised a fatal protocol error


class _Session:
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
                self._receiving_ended(State.ERROR, _failure(error))
                raise error
            # Frames that arrived before the close are still handed out by next_event().
            self._eof = True
            if self._decoder.at_frame_boundary:
                self._receiving_ended(State.CLOSED, "the peer closed the connection")
            return
        try:
            self._decoder.feed(data)
        except RemoteProtocolError as exc:
            self._receiving_ended(State.ERROR, _failure(exc))
            raise

    def next_event(self):
        """The next event, or NEED_DATA. Raises RemoteProtocolError on invalid input."""
        if self.their_state is State.ERROR:
            raise LocalProtocolError("the session has failed; no more events")
        try:
            message = self._decoder.next_frame()
        except RemoteProtocolError as exc:
            self._receiving_ended(State.ERROR, _failure(exc))
            raise
        if message is None:
            if self._eof:
                self._receiving_ended(State.CLOSED, "the peer closed the connection")
            return NEED_DATA
        try:
            return self._handle(message)
        except RemoteProtocolError as exc:
            if exc.fatal:
                self._receiving_ended(State.ERROR, _failure(exc))
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
                    ret_msg=_fit_message(error.ret_msg), req_no=error.req_no,
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
            raise _recoverable(RemoteProtocolError(f"unknown tr_code {header.tr_code!r}",
                                                   code=codes.UNKNOWN_TR_CODE), header)
        try:
            return codec.decode(body, allow_trailing=header.minor > self._own_minor)
        except DecodeError as exc:
            raise _recoverable(exc, header) from None

    def _error_event(self, header: Header) -> ErrorMessage:
        return ErrorMessage(ret_code=header.ret_code, ret_msg=header.ret_msg,
                            req_no=header.req_no, tr_code=header.tr_code)

    def _handle(self, message: bytes):
        raise NotImplementedError


_ENDED = (State.CLOSED, State.ERROR)


def _failure(exc: RemoteProtocolError) -> str:
    """How a fatal error is named in ``end_reason`` (its code; the caller logs the rest)."""
    return f"protocol error {exc.code.code}"


def _recoverable(exc: ProtocolError, header: Header) -> ProtocolError:
    exc.fatal = False
    exc.req_no = header.req_no
    exc.tr_code = header.tr_code
    return exc


def _fit_message(text: str, width: int = 60) -> str:
    """Shorten a message to fit the header's ret_msg field (GB18030 bytes)."""
    try:
        data = text.encode("gb18030")
    except UnicodeEncodeError:  # lone surrogates: the header field would refuse them
        data = text.encode("gb18030", "replace")
        text = data.decode("gb18030")
    if len(data) <= width:
        return text
    return data[:width].decode("gb18030", "ignore")


class ClientSession(_Session):
    """The enterprise's end: handshakes, sends requests and heartbeats, receives responses."""

    def __init__(
        self,
        *,
        corp_no: str,
        user_no: str,
        signing_key: SigningKey | None,
        bank_keys: BankPublicKeys | None,
        clock: Callable[[], float] = time.time,
        random: Callable[[int], bytes] = os.urandom,
        max_frame: int = DEFAULT_MAX_FRAME,
        time_window: float = DEFAULT_TIME_WINDOW,
        minor: int = VERSION_MINOR,
    ) -> None:
        super().__init__(clock=clock, random=random, max_frame=max_frame,
                         time_window=time_window, minor=minor)
        if (signing_key is None) != (bank_keys is None):
            raise LocalProtocolError("signing needs both the client key and the bank's keys")
        self.corp_no = corp_no
        self.user_no = user_no
        self._own_key = signing_key
        self._own_key_id = signing_key.key_id if signing_key else ""
        self._bank = bank_keys
        self._handshake: tuple[bytes, bytes, bytes] | None = None  # nonce, secret, transcript

    def start(self) -> None:
        """Queue the handshake."""
        if self.state is not State.IDLE:
            raise LocalProtocolError(f"start() in state {self.state.value}")
        if self._bank is None:
            header = Header(msg_type=MessageType.HANDSHAKE, corp_no=self.corp_no,
                            user_no=self.user_no, minor=self._own_minor,
                            **dict(zip(("tr_date", "tr_time"),
                                       self._stamper.stamp(self._clock()), strict=True)))
            message = header.build()
            self._handshake = (b"", b"", transcript_hash(message))
        else:
            assert self._own_key is not None
            nonce, secret = self._random(32), self._random(32)
            tr_date, tr_time = self._stamper.stamp(self._clock())
            header = Header(
                msg_type=MessageType.HANDSHAKE, corp_no=self.corp_no, user_no=self.user_no,
                tr_date=tr_date, tr_time=tr_time, sign_flag="1", key_id=self._own_key.key_id,
                sign_alg=SIGN_ED25519, body_len=HANDSHAKE_SIZE, sig_len=SIGNATURE_SIZE,
                minor=self._own_minor,
            ).build()
            body = HANDSHAKE_CODEC.encode({
                "client_nonce": nonce,
                "sealed_secret": seal_secret(secret, self._bank.kem, header),
            })
            signed = header + body
            message = signed + self._own_key.sign(signed)
            self._handshake = (nonce, secret, transcript_hash(message))
        self._outgoing += encode_frame(message, max_frame=self._max_frame)
        self.their_state = self.our_state = State.HANDSHAKING

    def send(self, event: Request | Heartbeat | ErrorMessage) -> None:
        if isinstance(event, ErrorMessage):
            self.send_error(event)
            return
        self._require_established(event)
        if isinstance(event, Request):
            body = CODECS[(event.tr_code, REQUEST)].encode(event.fields)
            self._queue(MessageType.REQUEST, body, tr_code=event.tr_code, req_no=event.req_no,
                        frag_no=event.frag_no, more_flag="1" if event.more else "0")
        elif isinstance(event, Heartbeat):
            self._queue(MessageType.HEARTBEAT, b"")
        else:
            raise LocalProtocolError(f"a client cannot send {type(event).__name__}")

    def _handle(self, message: bytes):
        if self.their_state is State.HANDSHAKING:
            return self._handle_handshake_reply(message)
        header, body = self._open_established(message)
        kind = header.msg_type
        if kind == MessageType.RESPONSE:
            # A refusal has no body; an unknown tr_code is P005 even without one
            # (the Response event itself would refuse it as a local error).
            known = (header.tr_code, RESPONSE) in CODECS
            fields = self._decode_body(header, body, RESPONSE) if body or not known else {}
            return Response(tr_code=header.tr_code, req_no=header.req_no,
                            serial_no=header.serial_no, ret_code=header.ret_code,
                            ret_msg=header.ret_msg, fields=fields, frag_no=header.frag_no)
        if kind == MessageType.HEARTBEAT:
            return Heartbeat()
        if kind == MessageType.ERROR:
            return self._error_event(header)
        raise RemoteProtocolError(f"a bank does not send {kind} after the handshake",
                                  code=codes.OUT_OF_STATE)

    def _handle_handshake_reply(self, message: bytes):
        header = Header.parse(message)
        assert self._handshake is not None
        nonce, secret, transcript = self._handshake
        if len(message) != HEADER_SIZE + header.body_len + header.sig_len:
            raise DecodeError("frame length does not match the header", field="body_len",
                              offset=OFFSETS["body_len"])
        signed_end = HEADER_SIZE + header.body_len
        # Everything the bank says before keys exist must carry its signature.
        if self._bank is not None and (
                header.key_id != self._bank.key_id or header.sig_len != SIGNATURE_SIZE
                or not self._bank.verify.verify(message[signed_end:], message[:signed_end])):
            raise AuthenticationError("handshake reply not signed by the pinned bank key")
        if header.msg_type == MessageType.ERROR:
            self._receiving_ended(State.CLOSED, "the bank refused the handshake")
            return self._error_event(header)
        if header.msg_type != MessageType.HANDSHAKE_ACK:
            raise RemoteProtocolError(f"expected a handshake reply, got {header.msg_type}",
                                      code=codes.OUT_OF_STATE)
        self._check_time(header)
        if header.minor > self._own_minor:
            raise RemoteProtocolError(f"bank chose minor version {header.minor}, above ours",
                                      code=codes.UNSUPPORTED_VERSION)
        ack = HANDSHAKE_ACK_CODEC.decode(message[HEADER_SIZE:signed_end])
        if ack["transcript"] != transcript:
            raise AuthenticationError("handshake reply does not match our handshake")
        self.minor = header.minor
        if self._bank is not None:
            c2s, s2c = derive_session_keys(secret, nonce, ack["server_nonce"], transcript)
            self._send_cipher = DirectionCipher(c2s)
            self._recv_cipher = DirectionCipher(s2c)
            self._peer_key = self._bank.verify
            self._peer_key_id = self._bank.key_id
            self.secure = True
        self._handshake = None
        self.their_state = self.our_state = State.ESTABLISHED
        self._numbered = True
        return SessionEstablished(
            corp_no=self.corp_no, user_no=self.user_no,
            key_id=self._own_key.key_id if self._own_key else "",
            minor=self.minor, secure=self.secure,
        )




class ServerSession(_Session):
    """The bank's end: accepts a handshake, receives requests, sends responses."""

    def __init__(
        self,
        *,
        bank_keys: BankKeyPair | None,
        lookup_key: Callable[[str], EnrolledKey | None],
        allow_plaintext: bool = False,
        operator_known: Callable[[str, str], bool] | None = None,
        clock: Callable[[], float] = time.time,
        random: Callable[[int], bytes] = os.urandom,
        max_frame: int = DEFAULT_MAX_FRAME,
        time_window: float = DEFAULT_TIME_WINDOW,
        minor: int = VERSION_MINOR,
    ) -> None:
        super().__init__(clock=clock, random=random, max_frame=max_frame,
                         time_window=time_window, minor=minor)
        self._bank = bank_keys
        self._lookup_key = lookup_key
        self._allow_plaintext = allow_plaintext
        self._operator_known = operator_known
        self._own_key = bank_keys.signing if bank_keys else None
        self._own_key_id = bank_keys.key_id if bank_keys else ""
        self.key_id = ""

    def send(self, event: Response | Heartbeat | ErrorMessage) -> None:
        if isinstance(event, ErrorMessage):
            self.send_error(event)
            return
        if isinstance(event, Response):
            self._require_answerable(event)
            body = (CODECS[(event.tr_code, RESPONSE)].encode(event.fields)
                    if event.ok or event.fields else b"")
            self._queue(MessageType.RESPONSE, body, tr_code=event.tr_code,
                        req_no=event.req_no, serial_no=event.serial_no,
                        ret_code=event.ret_code, ret_msg=_fit_message(event.ret_msg),
                        frag_no=event.frag_no)
            self._answered(event.req_no)  # only once queued: a refused reply is still owed
        elif isinstance(event, Heartbeat):
            self._require_established(event)
            self._queue(MessageType.HEARTBEAT, b"")
        else:
            raise LocalProtocolError(f"a bank cannot send {type(event).__name__}")

    def _handle(self, message: bytes):
        if self.their_state is State.IDLE:
            return self._handle_handshake(message)
        header, body = self._open_established(message)
        kind = header.msg_type
        if kind == MessageType.REQUEST:
            # Authentic and in sequence: owed an answer from here on, even when its body
            # does not decode (the caller answers that with an ErrorMessage for req_no).
            self._owe(header.req_no)
            fields = self._decode_body(header, body, REQUEST)
            if not header.req_no:
                raise _recoverable(DecodeError("empty req_no", field="req_no",
                                                   offset=OFFSETS["req_no"]),
                                   header)
            return Request(tr_code=header.tr_code, req_no=header.req_no, fields=fields,
                           corp_no=header.corp_no, user_no=header.user_no,
                           frag_no=header.frag_no, more=header.more_flag == "1")
        if kind == MessageType.HEARTBEAT:
            return Heartbeat()
        if kind == MessageType.ERROR:
            return self._error_event(header)
        raise RemoteProtocolError(f"a client does not send {kind} after the handshake",
                                  code=codes.OUT_OF_STATE)

    def _handle_handshake(self, message: bytes):
        header = Header.parse(message)
        if header.msg_type != MessageType.HANDSHAKE:
            raise RemoteProtocolError(f"expected a handshake, got {header.msg_type}",
                                      code=codes.OUT_OF_STATE)
        if len(message) != HEADER_SIZE + header.body_len + header.sig_len:
            raise DecodeError("frame length does not match the header", field="body_len",
                              offset=OFFSETS["body_len"])
        self.corp_no, self.user_no = header.corp_no, header.user_no
        self.minor = min(header.minor, self._own_minor)
        transcript = transcript_hash(message)
        signed_end = HEADER_SIZE + header.body_len
        if header.signed:
            if self._bank is None:
                raise RemoteProtocolError("this bank has no keys; signed sessions unavailable",
                                          code=codes.OUT_OF_STATE)
            enrolled = self._lookup_key(header.key_id)
            if enrolled is None:
                raise AuthenticationError(f"key id {header.key_id!r} is not enrolled")
            if (enrolled.corp_no, enrolled.user_no) != (header.corp_no, header.user_no):
                raise AuthenticationError(
                    f"key id {header.key_id!r} is enrolled for {enrolled.corp_no}/"
                    f"{enrolled.user_no}, not {header.corp_no}/{header.user_no}")
            if header.sign_alg != SIGN_ED25519 or header.sig_len != SIGNATURE_SIZE:
                raise AuthenticationError("unsupported signature algorithm")
            if not enrolled.key.verify(message[signed_end:], message[:signed_end]):
                raise AuthenticationError("bad handshake signature")
            self._check_time(header)
            hello = HANDSHAKE_CODEC.decode(message[HEADER_SIZE:signed_end],
                                           allow_trailing=header.minor > self._own_minor)
            secret = open_secret(hello["sealed_secret"], self._bank.kem, message[:HEADER_SIZE])
            server_nonce = self._random(32)
            c2s, s2c = derive_session_keys(secret, hello["client_nonce"], server_nonce,
                                           transcript)
            self._peer_key = enrolled.key
            self._peer_key_id = header.key_id
            self.key_id = header.key_id
        else:
            if not self._allow_plaintext:
                raise RemoteProtocolError(codes.PLAINTEXT_REFUSED.message,
                                          code=codes.PLAINTEXT_REFUSED)
            if self._operator_known and not self._operator_known(header.corp_no,
                                                                 header.user_no):
                raise RemoteProtocolError(f"{header.corp_no}/{header.user_no} is not a "
                                          "known operator", code=codes.NOT_ENROLLED)
            self._check_time(header)
            server_nonce = self._random(32)
            # certflag=0: nothing in this session is signed (the client refuses signed
            # messages in a plaintext session), even when this bank has keys.
            self._own_key = None
            self._own_key_id = ""
        # The acknowledgement is sent before the ciphers exist and before the state
        # changes: signed, not encrypted, sequence number 0.
        ack = HANDSHAKE_ACK_CODEC.encode({"server_nonce": server_nonce,
                                          "transcript": transcript})
        self._queue(MessageType.HANDSHAKE_ACK, ack, ret_code=codes.OK.code,
                    ret_msg=codes.OK.message)
        if header.signed:
            self._send_cipher = DirectionCipher(s2c)
            self._recv_cipher = DirectionCipher(c2s)
            self.secure = True
        self.their_state = self.our_state = State.ESTABLISHED
        self._numbered = True
        return SessionEstablished(corp_no=self.corp_no, user_no=self.user_no,
                                  key_id=self.key_id, minor=self.minor, secure=self.secure)


__all__ = ["NEED_DATA", "ClientSession", "NeedData", "ServerSession", "State"]
