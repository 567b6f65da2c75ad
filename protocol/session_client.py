"""The enterprise's end of a session: :class:`ClientSession` (see :mod:`protocol.session`)."""

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
    ErrorMessage,
    Heartbeat,
    Request,
    Response,
    SessionEstablished,
)
from protocol.framing import DEFAULT_MAX_FRAME, encode_frame
from protocol.header import (
    HEADER_SIZE,
    OFFSETS,
    SIGN_ED25519,
    VERSION_MINOR,
    Header,
    MessageType,
)
from protocol.keys import BankPublicKeys, SigningKey
from protocol.security import (
    SIGNATURE_SIZE,
    DirectionCipher,
    derive_session_keys,
    seal_secret,
    transcript_hash,
)
from protocol.session_base import (
    DEFAULT_TIME_WINDOW,
    HANDSHAKE_SIZE,
    SessionBase,
    State,
)


class ClientSession(SessionBase):
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




