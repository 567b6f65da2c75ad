"""The bank's end of a session: :class:`ServerSession` (see :mod:`protocol.session`)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from protocol import codes
from protocol.bodies import (
    CODECS,
    HANDSHAKE_ACK_CODEC,
    HANDSHAKE_CODEC,
    REQUEST,
    RESPONSE,
)
from protocol.errors import (
    AuthenticationError,
    DecodeError,
    LocalProtocolError,
    RemoteProtocolError,
)
from protocol.events import (
    EnrolledKey,
    ErrorMessage,
    Heartbeat,
    Request,
    Response,
    SessionEstablished,
)
from protocol.framing import DEFAULT_MAX_FRAME
from protocol.header import (
    HEADER_SIZE,
    OFFSETS,
    SIGN_ED25519,
    VERSION_MINOR,
    Header,
    MessageType,
)
from protocol.keys import BankKeyPair
from protocol.security import (
    SIGNATURE_SIZE,
    DirectionCipher,
    derive_session_keys,
    open_secret,
    transcript_hash,
)
from protocol.session_base import (
    DEFAULT_TIME_WINDOW,
    SessionBase,
    State,
    fit_message,
    recoverable,
)


class ServerSession(SessionBase):
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
                        ret_code=event.ret_code, ret_msg=fit_message(event.ret_msg),
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
                raise recoverable(DecodeError("empty req_no", field="req_no",
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
