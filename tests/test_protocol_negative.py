"""Negative tests: each bad input raises its own error class with its own return code.

Authentication failures of every kind look the same to the peer (one code, one
opaque message) and differ only in ``AuthenticationError.reason``, which is
for the local log.
"""

from __future__ import annotations

import pytest

from protocol import codes
from protocol.bodies import CODECS, REQUEST, RESPONSE
from protocol.errors import (
    AuthenticationError,
    DecodeError,
    FieldOverflow,
    FrameTooLarge,
    LocalProtocolError,
    ProtocolError,
    RemoteProtocolError,
    UnsupportedVersion,
)
from protocol.events import NEED_DATA, ErrorMessage, Heartbeat, Request, Response
from protocol.framing import PREFIX_SIZE, FrameDecoder
from protocol.header import HEADER_SIZE, OFFSETS, Header, MessageType
from protocol.security import SIGNATURE_SIZE
from protocol.session import ServerSession, State
from tests.test_protocol_session import (
    CLIENT_KEY,
    CORP_NO,
    NOW,
    OTHER_KEY,
    SAMPLE_FIELDS,
    USER_NO,
    Clock,
    connect,
    enrolled,
    events_of,
    forge,
    frame,
    make_pair,
    sample_request,
    sample_response,
    split_frames,
)


def tampered(data: bytes, index: int, value: int | None = None) -> bytes:
    """A one-frame byte string with the message byte at ``index`` changed
    (``index`` counts from the start of the message, after the length prefix)."""
    [message] = split_frames(data)
    changed = bytearray(message)
    changed[index] = value if value is not None else changed[index] ^ 0x01
    return frame(bytes(changed))


def replaced(data: bytes, offset: int, new: bytes) -> bytes:
    [message] = split_frames(data)
    return frame(message[:offset] + new + message[offset + len(new):])


def handshake_bytes(**kwargs) -> tuple:
    pair = make_pair(**kwargs)
    pair.client.start()
    return pair, pair.client.data_to_send()


# -- framing -----------------------------------------------------------------------------


def test_connection_closed_mid_frame_is_a_decode_error():
    pair = connect()
    pair.client.send(sample_request("210201"))
    data = pair.client.data_to_send()
    for cut in (1, PREFIX_SIZE, PREFIX_SIZE + 100, len(data) - 1):
        server = connect().server
        server.receive_data(data[:cut])
        assert server.next_event() is NEED_DATA
        with pytest.raises(DecodeError) as caught:
            server.receive_data(b"")
        assert caught.value.code is codes.MALFORMED_FRAME
        assert caught.value.fatal
        assert server.state is State.ERROR


def test_oversize_frame_is_refused_as_soon_as_its_prefix_arrives():
    pair = make_pair()
    server = ServerSession(bank_keys=None, lookup_key=enrolled(), max_frame=4096,
                           clock=Clock())
    with pytest.raises(FrameTooLarge) as caught:
        server.receive_data((4097).to_bytes(PREFIX_SIZE, "big"))  # nothing but the prefix
    assert caught.value.code is codes.FRAME_TOO_LARGE
    assert server.state is State.ERROR
    # the client side too, at the default limit
    pair.client.start()
    with pytest.raises(FrameTooLarge):
        pair.client.receive_data(b"\xff\xff\xff\xff")


def test_oversize_prefix_arriving_byte_by_byte():
    decoder = FrameDecoder(max_frame=1024)
    for byte in (1025).to_bytes(PREFIX_SIZE, "big")[:-1]:
        decoder.feed(bytes([byte]))
    with pytest.raises(FrameTooLarge):
        decoder.feed((1025).to_bytes(PREFIX_SIZE, "big")[-1:])
    assert decoder.buffered == PREFIX_SIZE  # nothing of the body was waited for


def test_frame_shorter_than_a_header():
    server = connect().server
    with pytest.raises(DecodeError, match="shorter than a header") as caught:
        server.receive_data((HEADER_SIZE - 1).to_bytes(PREFIX_SIZE, "big"))
    assert caught.value.code is codes.MALFORMED_FRAME


def test_frame_length_disagreeing_with_the_header():
    pair = connect()
    pair.client.send(Heartbeat())
    data = pair.client.data_to_send()
    [message] = split_frames(data)
    with pytest.raises(DecodeError) as caught:
        events_of(pair.server, frame(message + b"x"))
    assert "field body_len at offset 215" in str(caught.value)
    assert caught.value.offset == OFFSETS["body_len"]


# -- header ------------------------------------------------------------------------------


def test_wrong_magic():
    _, data = handshake_bytes()
    server = make_pair().server
    with pytest.raises(DecodeError) as caught:
        events_of(server, replaced(data, 0, b"DLNX"))
    assert caught.value.code is codes.MALFORMED_FRAME
    assert (caught.value.field, caught.value.offset) == ("magic", 0)
    assert "header field magic at offset 0" in str(caught.value)


def test_unknown_major_version_in_the_handshake():
    _, data = handshake_bytes()
    server = make_pair().server
    with pytest.raises(UnsupportedVersion) as caught:
        events_of(server, replaced(data, OFFSETS["version"], b"02"))
    assert caught.value.code is codes.UNSUPPORTED_VERSION
    assert caught.value.code.code == "P003"
    assert "02.00" in str(caught.value)


def test_unknown_major_version_in_a_session():
    pair = connect()
    pair.client.send(Heartbeat())
    data = replaced(pair.client.data_to_send(), OFFSETS["version"], b"00")
    with pytest.raises(UnsupportedVersion):
        events_of(pair.server, data)
    assert pair.server.state is State.ERROR


def test_truncated_header():
    with pytest.raises(DecodeError, match="truncated header"):
        Header.parse(b"DLNK0100")


def test_fragmented_message_is_refused_naming_more_flag():
    pair = connect()
    forge(pair.client, MessageType.REQUEST, b"", tr_code="310101", req_no="R1", more_flag="1")
    with pytest.raises(DecodeError) as caught:
        pair.to_server()
    assert "field more_flag at offset 192" in str(caught.value)


def test_empty_req_no_is_a_recoverable_decode_error():
    pair = connect()
    body = CODECS[("310101", REQUEST)].encode(SAMPLE_FIELDS[("310101", REQUEST)])
    forge(pair.client, MessageType.REQUEST, body, tr_code="310101", req_no="")
    with pytest.raises(DecodeError) as caught:
        pair.to_server()
    assert "field req_no at offset 56" in str(caught.value)
    assert not caught.value.fatal
    assert pair.server.state is State.ESTABLISHED


# -- unknown tr_code: non-fatal ------------------------------------------------------------


def test_unknown_tr_code_in_a_request_leaves_the_session_usable():
    pair = connect()
    forge(pair.client, MessageType.REQUEST, b"whatever", tr_code="999999", req_no="R1")
    with pytest.raises(RemoteProtocolError) as caught:
        pair.to_server()
    exc = caught.value
    assert exc.code is codes.UNKNOWN_TR_CODE and exc.code.code == "P005"
    assert not exc.fatal
    assert (exc.req_no, exc.tr_code) == ("R1", "999999")
    assert pair.server.state is State.ESTABLISHED
    pair.server.send(ErrorMessage(ret_code=exc.code.code, ret_msg=exc.public_message,
                                  req_no=exc.req_no, tr_code=exc.tr_code))
    assert pair.to_client() == [ErrorMessage(ret_code="P005", ret_msg="unknown tr_code "
                                             "'999999'", req_no="R1", tr_code="999999")]
    pair.client.send(sample_request("310101"))
    assert pair.to_server() == [sample_request("310101")]


@pytest.mark.parametrize("body", [b"", b"0"], ids=["refusal-without-body", "with-body"])
def test_unknown_tr_code_in_a_response_is_p005_for_the_client(body):
    pair = connect()
    forge(pair.server, MessageType.RESPONSE, body, tr_code="999999", req_no="R1",
          ret_code="E003")
    with pytest.raises(RemoteProtocolError) as caught:
        pair.to_client()
    assert not isinstance(caught.value, LocalProtocolError)
    assert caught.value.code is codes.UNKNOWN_TR_CODE and not caught.value.fatal
    assert pair.client.state is State.ESTABLISHED
    pair.server.send(sample_response("310101"))
    assert pair.to_client() == [sample_response("310101")]


# -- field overflow when building ------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("pay_acname", "长" * 31),  # 62 bytes of GB18030 in a 60-byte field
        ("pay_acno", "1" * 33),
        ("amt", 10**16),
        ("amt", -1),
        ("amt", "100.00"),
        ("bank_flag", "2"),
        ("rcv_bank_no", "１０２"),  # full-width digits are not ASCII
    ],
)
def test_field_overflow_names_the_field_and_sends_nothing(name, value):
    pair = connect()
    fields = dict(SAMPLE_FIELDS[("210201", REQUEST)], **{name: value})
    with pytest.raises(FieldOverflow) as caught:
        pair.client.send(Request(tr_code="210201", req_no="R1", fields=fields))
    assert caught.value.field == name
    assert str(caught.value).startswith(f"field {name}: ")
    assert caught.value.code is codes.INVALID_FIELD
    assert pair.client.data_to_send() == b""  # refused, not truncated


def test_field_overflow_in_a_response_and_a_missing_field():
    pair = connect()
    fields = dict(SAMPLE_FIELDS[("310204", RESPONSE)])
    fields["err_msg"] = "失败" * 16  # 64 bytes
    with pytest.raises(FieldOverflow, match="64 bytes do not fit in 60"):
        pair.server.send(Response(tr_code="310204", req_no="R1", fields=fields))
    del fields["err_msg"]
    with pytest.raises(FieldOverflow) as caught:
        pair.server.send(Response(tr_code="310204", req_no="R1", fields=fields))
    assert (caught.value.field, caught.value.reason) == ("err_msg", "missing")


def test_fitting_value_is_accepted_exactly_at_the_width():
    pair = connect()
    fields = dict(SAMPLE_FIELDS[("210201", REQUEST)], pay_acname="长" * 30)
    pair.client.send(Request(tr_code="210201", req_no="R1", fields=fields))
    [received] = pair.to_server()
    assert received.fields["pay_acname"] == "长" * 30


# -- authentication failures -------------------------------------------------------------


def _assert_opaque(exc: AuthenticationError) -> None:
    assert exc.code is codes.AUTHENTICATION_FAILED and exc.code.code == "P010"
    assert str(exc) == exc.public_message == "authentication failed"
    assert exc.fatal
    assert exc.reason not in str(exc)


def _request_frame():
    pair = connect()
    pair.client.send(sample_request("210201"))
    return pair, pair.client.data_to_send()


def _auth_failure(pair, data, *, to="server") -> AuthenticationError:
    session = pair.server if to == "server" else pair.client
    with pytest.raises(AuthenticationError) as caught:
        events_of(session, data)
    _assert_opaque(caught.value)
    assert session.state is State.ERROR
    return caught.value


def test_tampered_header_byte():
    pair, data = _request_frame()
    exc = _auth_failure(pair, tampered(data, OFFSETS["req_no"] + 3))  # still valid ASCII
    assert exc.reason == "bad signature"


def test_tampered_body_byte():
    pair, data = _request_frame()
    exc = _auth_failure(pair, tampered(data, HEADER_SIZE + 5))
    assert exc.reason == "bad signature"


def test_tampered_signature():
    pair, data = _request_frame()
    [message] = split_frames(data)
    exc = _auth_failure(pair, tampered(data, len(message) - 1))
    assert exc.reason == "bad signature"


def test_tampered_ciphertext_with_a_valid_signature_fails_its_tag():
    # Someone holding the client's signing key but not the session key.
    pair, data = _request_frame()
    [message] = split_frames(data)
    signed = bytearray(message[:-SIGNATURE_SIZE])
    signed[HEADER_SIZE] ^= 0x01
    resigned = bytes(signed) + CLIENT_KEY.sign(bytes(signed))
    exc = _auth_failure(pair, frame(resigned))
    assert "AES-GCM" in exc.reason


def test_tampered_handshake_reply():
    pair = make_pair()
    pair.client.start()
    pair.to_server()
    exc = _auth_failure(pair, tampered(pair.server.data_to_send(), HEADER_SIZE), to="client")
    assert "pinned bank key" in exc.reason


def test_client_key_not_enrolled():
    pair, data = handshake_bytes(lookup=enrolled())
    exc = _auth_failure(pair, data)
    assert "not enrolled" in exc.reason


def test_client_key_enrolled_for_another_enterprise():
    pair, data = handshake_bytes(lookup=enrolled((CLIENT_KEY, "0000000002", USER_NO)))
    exc = _auth_failure(pair, data)
    assert "enrolled for 0000000002/001" in exc.reason


def test_client_signs_with_a_key_enrolled_for_someone_else():
    lookup = enrolled((CLIENT_KEY, CORP_NO, USER_NO), (OTHER_KEY, "0000000002", "009"))
    pair, data = handshake_bytes(client_key=OTHER_KEY, lookup=lookup)
    exc = _auth_failure(pair, data)
    assert "enrolled for 0000000002/009" in exc.reason


def test_message_signed_under_another_key_id():
    pair, data = _request_frame()
    exc = _auth_failure(pair, replaced(data, OFFSETS["key_id"], b"0" * 16))
    assert "key id" in exc.reason


def test_replayed_sequence_number():
    pair, data = _request_frame()
    assert events_of(pair.server, data) == [sample_request("210201")]
    exc = _auth_failure(pair, data)
    assert exc.reason.startswith("sequence number 1, expected 2")


def test_replayed_response():
    pair = connect()
    pair.server.send(sample_response("210224"))
    data = pair.server.data_to_send()
    pair.server.send(Heartbeat())
    assert events_of(pair.client, data) == [sample_response("210224")]
    exc = _auth_failure(pair, data, to="client")
    assert "replayed" in exc.reason


def test_out_of_order_delivery():
    pair = connect()
    pair.client.send(Heartbeat())
    pair.client.send(Heartbeat())
    _first, second = split_frames(pair.client.data_to_send())
    exc = _auth_failure(pair, frame(second))
    assert exc.reason.startswith("sequence number 2, expected 1")


@pytest.mark.parametrize("skew", [-301.0, 301.0])
def test_stale_handshake(skew):
    pair, data = handshake_bytes(client_clock=Clock(NOW + skew))
    exc = _auth_failure(pair, data)
    assert exc.reason.startswith("stale timestamp")


def test_stale_message_after_the_handshake():
    client_clock = Clock()
    pair = connect(client_clock=client_clock)
    client_clock.now += 299  # within the window: accepted
    pair.client.send(Heartbeat())
    assert pair.to_server() == [Heartbeat()]
    client_clock.now += 2
    pair.client.send(Heartbeat())
    exc = _auth_failure(pair, pair.client.data_to_send())
    assert exc.reason == "stale timestamp: +301 s from our clock"


def test_authentication_failures_are_indistinguishable_to_the_peer():
    reasons: list[str] = []
    failures = []

    pair, data = _request_frame()
    failures.append((pair, tampered(data, HEADER_SIZE + 1)))
    pair, data = _request_frame()
    events_of(pair.server, data)
    failures.append((pair, data))
    failures.append(handshake_bytes(lookup=enrolled()))
    failures.append(handshake_bytes(lookup=enrolled((CLIENT_KEY, "0000000009", USER_NO))))
    failures.append(handshake_bytes(client_clock=Clock(NOW - 3600)))
    pair, data = _request_frame()
    failures.append((pair, replaced(data, OFFSETS["key_id"], b"f" * 16)))

    for pair, data in failures:
        exc = _auth_failure(pair, data)
        reasons.append(exc.reason)
        # what the bank would tell the client
        error = ErrorMessage(ret_code=exc.code.code, ret_msg=exc.public_message)
        assert error == ErrorMessage(ret_code="P010", ret_msg="authentication failed")
    assert len(set(reasons)) == len(reasons), reasons
    assert "AuthenticationError(" in repr(exc)


def test_plaintext_handshake_refused_unless_allowed():
    pair, data = handshake_bytes(secure=False)
    with pytest.raises(RemoteProtocolError) as caught:
        events_of(pair.server, data)
    exc = caught.value
    assert not isinstance(exc, AuthenticationError)
    assert exc.code is codes.PLAINTEXT_REFUSED and exc.code.code == "P011"
    assert exc.fatal and pair.server.state is State.ERROR
    pair.server.send_error(ErrorMessage(ret_code=exc.code.code, ret_msg=exc.public_message))
    [error] = pair.to_client()
    assert error.ret_code == "P011"
    assert pair.client.state is State.CLOSED


def test_message_naming_another_enterprise_after_the_handshake():
    pair = connect()
    pair.client.corp_no = "0000000002"  # the session's identity changed under it
    pair.client.send(Heartbeat())
    with pytest.raises(RemoteProtocolError) as caught:
        pair.to_server()
    assert caught.value.code is codes.NOT_ENROLLED


def test_secure_session_refuses_an_unsigned_message():
    plain = connect(secure=False, allow_plaintext=True)
    secure = connect()
    plain.client.send(Heartbeat())
    with pytest.raises(AuthenticationError) as caught:
        events_of(secure.server, plain.client.data_to_send())
    assert "unsigned or unencrypted" in caught.value.reason


# -- decode errors name the field and offset ---------------------------------------------


def test_body_decode_error_names_field_and_offset():
    pair = connect()
    body = bytearray(CODECS[("210201", REQUEST)].encode(SAMPLE_FIELDS[("210201", REQUEST)]))
    body[291 + 3] = ord("x")  # amt starts at byte 291 of the 210201 request body
    forge(pair.client, MessageType.REQUEST, bytes(body), tr_code="210201", req_no="R7")
    with pytest.raises(DecodeError) as caught:
        pair.to_server()
    exc = caught.value
    assert "field amt at offset 291" in str(exc)
    assert str(exc).startswith("body field amt at offset 291: expected 16 digits")
    assert (exc.field, exc.offset, exc.part) == ("amt", 291, "body")
    assert not exc.fatal and exc.req_no == "R7" and exc.code is codes.MALFORMED_FRAME
    assert pair.server.state is State.ESTABLISHED


def test_decode_error_inside_a_record_counts_from_the_body_start():
    codec = CODECS[("310201", RESPONSE)]
    body = bytearray(codec.encode(SAMPLE_FIELDS[("310201", RESPONSE)]))
    # acno (32) + count (4) + one entry (8+6+24+1 = 39 bytes before its amt)
    record_size = len(body[36:]) // 2
    offset = 36 + record_size + 39
    body[offset] = ord(" ")
    with pytest.raises(DecodeError, match=f"body field amt at offset {offset}:"):
        codec.decode(bytes(body))


def test_truncated_body_names_the_field_it_stops_in():
    codec = CODECS[("310204", REQUEST)]
    with pytest.raises(DecodeError, match="field ogl_serial_no at offset 1: truncated"):
        codec.decode(b"1REQ")


def test_header_decode_error_names_field_and_offset():
    _, data = handshake_bytes()
    server = make_pair().server
    with pytest.raises(DecodeError) as caught:
        events_of(server, replaced(data, OFFSETS["seq_no"], b"00000000000x"))
    assert "header field seq_no at offset 227" in str(caught.value)


def test_invalid_gb18030_names_the_byte():
    codec = CODECS[("210224", RESPONSE)]
    assert codec.decode(b"34") == {"tran_status": "34"}
    entry = CODECS[("310204", RESPONSE)]
    body = bytearray(entry.encode(SAMPLE_FIELDS[("310204", RESPONSE)]))
    body[33 + 2] = 0xFF  # err_msg starts at 33; 0xFF never starts a GB18030 character
    with pytest.raises(DecodeError, match="field err_msg at offset 35: not valid gb18030"):
        entry.decode(bytes(body))


def test_every_remote_error_is_a_protocol_error():
    for cls in (DecodeError, FrameTooLarge, UnsupportedVersion, AuthenticationError):
        assert issubclass(cls, RemoteProtocolError) and issubclass(cls, ProtocolError)
    assert issubclass(FieldOverflow, LocalProtocolError)


def test_unknown_message_type_has_its_own_code():
    from protocol import codes as _codes
    from protocol.errors import DecodeError as _DecodeError
    from protocol.header import OFFSETS, Header

    data = bytearray(Header(msg_type="RQ").build())
    data[OFFSETS["msg_type"]:OFFSETS["msg_type"] + 2] = b"ZZ"
    with pytest.raises(_DecodeError) as info:
        Header.parse(bytes(data))
    assert info.value.code is _codes.UNKNOWN_MESSAGE_TYPE
    assert info.value.field == "msg_type"
