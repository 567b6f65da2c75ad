"""Versioning, as implemented.

* The major version must match; any other is :class:`UnsupportedVersion` (P003).
* The bank answers the handshake with min(client minor, bank minor), and both
  ends then write that minor in every header.
* A receiver ignores the header's reserved bytes, and -- for a message whose
  minor is above its own -- bytes after the last body field it knows. The same
  trailing bytes in a message of its own minor (or lower) are a DecodeError.
"""

from __future__ import annotations

import pytest

from protocol import codes, header
from protocol.bodies import CODECS, REQUEST, RESPONSE
from protocol.errors import DecodeError, RemoteProtocolError, UnsupportedVersion
from protocol.events import EnrolledKey, Heartbeat, SessionEstablished
from protocol.header import HEADER_SIZE, OFFSETS, SIGN_ED25519, Header, MessageType
from protocol.security import SIGNATURE_SIZE, seal_secret
from protocol.session import ServerSession, State
from tests.test_protocol_session import (
    BANK_KEYS,
    CLIENT_KEY,
    CORP_NO,
    SAMPLE_FIELDS,
    USER_NO,
    Clock,
    connect,
    enrolled,
    events_of,
    fixed_random,
    forge,
    frame,
    make_pair,
    sample_request,
    sample_response,
    split_frames,
)

TR_DATE, TR_TIME = "20261124", "103015"  # tests.test_protocol_session.NOW in CST
EXTRA = b"NEW FIELD OF A LATER MINOR"


def plaintext_message(msg_type: str, body: bytes, *, seq_no: int, minor: int,
                      reserved: bytes | None = None, **fields) -> bytes:
    """A certflag=0 message built by hand, as a peer of another minor version would."""
    data = Header(msg_type=msg_type, corp_no=CORP_NO, user_no=USER_NO, tr_date=TR_DATE,
                  tr_time=TR_TIME, body_len=len(body), seq_no=seq_no, minor=minor,
                  **fields).build()
    if reserved is not None:
        data = data[: OFFSETS["reserved"]] + reserved
    return frame(data + body)


def request_body(tr_code: str = "210201") -> bytes:
    return CODECS[(tr_code, REQUEST)].encode(SAMPLE_FIELDS[(tr_code, REQUEST)])


def response_body(tr_code: str = "310201") -> bytes:
    return CODECS[(tr_code, RESPONSE)].encode(SAMPLE_FIELDS[(tr_code, RESPONSE)])


# -- negotiation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("client_minor", "server_minor", "agreed"),
    [(1, 0, 0), (0, 1, 0), (1, 1, 1), (0, 0, 0), (7, 3, 3)],
)
@pytest.mark.parametrize("secure", [True, False], ids=["secure", "plaintext"])
def test_bank_negotiates_the_lower_minor(client_minor, server_minor, agreed, secure):
    pair = make_pair(client_minor=client_minor, server_minor=server_minor, secure=secure,
                     allow_plaintext=not secure)
    pair.client.start()
    hs = pair.client.data_to_send()
    assert Header.parse(split_frames(hs)[0]).minor == client_minor
    [server_event] = events_of(pair.server, hs)
    ha = pair.server.data_to_send()
    assert Header.parse(split_frames(ha)[0]).minor == agreed
    [client_event] = events_of(pair.client, ha)
    assert isinstance(server_event, SessionEstablished)
    assert server_event.minor == client_event.minor == agreed
    assert pair.client.minor == pair.server.minor == agreed
    # from now on, both write the agreed minor
    pair.client.send(sample_request("310101"))
    pair.server.send(sample_response("310101"))
    to_server, to_client = pair.client.data_to_send(), pair.server.data_to_send()
    for data in (to_server, to_client):
        assert Header.parse(split_frames(data)[0]).minor == agreed
    assert events_of(pair.server, to_server) == [sample_request("310101")]
    assert events_of(pair.client, to_client) == [sample_response("310101")]


def test_client_refuses_a_bank_that_picks_a_minor_above_its_own():
    pair = make_pair(secure=False, allow_plaintext=True, client_minor=0, server_minor=0)
    pair.client.start()
    pair.to_server()
    [ha] = split_frames(pair.server.data_to_send())
    forged = ha[: OFFSETS["minor"]] + b"01" + ha[OFFSETS["minor"] + 2 :]
    with pytest.raises(RemoteProtocolError) as caught:
        events_of(pair.client, frame(forged))
    assert caught.value.code is codes.UNSUPPORTED_VERSION


# -- major version -------------------------------------------------------------------------


@pytest.mark.parametrize("major", [b"00", b"02", b"99", b"1 "])
def test_major_must_match(major):
    data = bytearray(Header(msg_type="HB").build())
    data[OFFSETS["version"] : OFFSETS["version"] + 2] = major
    with pytest.raises(UnsupportedVersion) as caught:
        Header.parse(bytes(data))
    assert caught.value.code.code == "P003"


def test_any_minor_of_our_major_parses():
    data = bytearray(Header(msg_type="HB").build())
    data[OFFSETS["minor"] : OFFSETS["minor"] + 2] = b"99"
    assert Header.parse(bytes(data)).minor == 99


def test_unknown_major_in_the_handshake_reply():
    pair = make_pair(secure=False, allow_plaintext=True)
    pair.client.start()
    pair.to_server()
    [ha] = split_frames(pair.server.data_to_send())
    with pytest.raises(UnsupportedVersion):
        events_of(pair.client, frame(ha[:4] + b"02" + ha[6:]))


# -- reserved bytes --------------------------------------------------------------------------


def test_reserved_bytes_are_ignored_plaintext():
    pair = connect(secure=False, allow_plaintext=True)
    data = plaintext_message(MessageType.REQUEST, request_body(), seq_no=1, minor=0,
                             reserved=b"later-minor-flags", tr_code="210201", req_no="R1")
    [request] = events_of(pair.server, data)
    assert request.fields == SAMPLE_FIELDS[("210201", REQUEST)]


def test_reserved_bytes_are_ignored_secure(monkeypatch):
    pair = connect()
    monkeypatch.setattr(header, "RESERVED", b"\x00\x01later-flags\xff\xfe\xfd\xfc")
    pair.client.send(sample_request("310301"))
    pair.server.send(sample_response("310301"))
    monkeypatch.undo()
    to_server = pair.client.data_to_send()
    to_client = pair.server.data_to_send()
    assert split_frames(to_server)[0][OFFSETS["reserved"]:HEADER_SIZE].startswith(b"\x00\x01")
    assert events_of(pair.server, to_server) == [sample_request("310301")]
    assert events_of(pair.client, to_client) == [sample_response("310301")]


# -- trailing body bytes -----------------------------------------------------------------------


def test_newer_minor_request_with_trailing_bytes_decodes_plaintext():
    pair = connect(secure=False, allow_plaintext=True)
    data = plaintext_message(MessageType.REQUEST, request_body() + EXTRA, seq_no=1, minor=1,
                             tr_code="210201", req_no="R1")
    [request] = events_of(pair.server, data)
    assert request.fields == SAMPLE_FIELDS[("210201", REQUEST)]
    assert pair.server.minor == 0


def test_same_trailing_bytes_at_our_own_minor_are_a_decode_error_plaintext():
    pair = connect(secure=False, allow_plaintext=True)
    body = request_body()
    data = plaintext_message(MessageType.REQUEST, body + EXTRA, seq_no=1, minor=0,
                             tr_code="210201", req_no="R1")
    with pytest.raises(DecodeError) as caught:
        events_of(pair.server, data)
    exc = caught.value
    assert f"body at offset {len(body)}: {len(EXTRA)} unexpected bytes" in str(exc)
    assert not exc.fatal and exc.req_no == "R1"
    assert pair.server.state is State.ESTABLISHED


def _send_as_minor(session, minor: int, msg_type: str, body: bytes, **fields) -> None:
    """Send one message as a peer of another minor version (sealed with the session keys)."""
    agreed = session.minor
    session.minor = minor
    try:
        forge(session, msg_type, body, **fields)
    finally:
        session.minor = agreed


def test_newer_minor_request_with_trailing_bytes_decodes_secure():
    pair = connect(client_minor=1, server_minor=0)
    _send_as_minor(pair.client, 1, MessageType.REQUEST, request_body() + EXTRA,
                   tr_code="210201", req_no="R1")
    [request] = pair.to_server()
    assert request == sample_request("210201", req_no="R1")


def test_newer_minor_response_with_trailing_bytes_decodes_secure():
    pair = connect(client_minor=0, server_minor=1)
    _send_as_minor(pair.server, 1, MessageType.RESPONSE, response_body() + EXTRA,
                   tr_code="310201", req_no="R1", ret_code="0000")
    [response] = pair.to_client()
    assert response.fields == SAMPLE_FIELDS[("310201", RESPONSE)]


@pytest.mark.parametrize("minor", [0, 1])
def test_trailing_bytes_at_the_receivers_own_minor_are_a_decode_error_secure(minor):
    pair = connect(client_minor=minor, server_minor=minor)
    body = response_body()
    _send_as_minor(pair.server, minor, MessageType.RESPONSE, body + EXTRA,
                   tr_code="310201", req_no="R1", ret_code="0000")
    with pytest.raises(DecodeError, match=f"body at offset {len(body)}: "):
        pair.to_client()
    assert pair.client.state is State.ESTABLISHED  # one bad message; the session goes on
    pair.server.send(Heartbeat())
    assert pair.to_client() == [Heartbeat()]


def _handshake(minor: int, extra: bytes) -> bytes:
    """A signed handshake built by hand with extra bytes after its known fields."""
    body_len = 112 + len(extra)
    head = Header(msg_type=MessageType.HANDSHAKE, corp_no=CORP_NO, user_no=USER_NO,
                  tr_date=TR_DATE, tr_time=TR_TIME, sign_flag="1", key_id=CLIENT_KEY.key_id,
                  sign_alg=SIGN_ED25519, body_len=body_len, sig_len=SIGNATURE_SIZE,
                  minor=minor).build()
    sealed = seal_secret(b"\x5a" * 32, BANK_KEYS.public.kem, head)
    signed = head + b"\x11" * 32 + sealed + extra
    return frame(signed + CLIENT_KEY.sign(signed))


def _server() -> ServerSession:
    return ServerSession(bank_keys=BANK_KEYS, clock=Clock(), random=fixed_random(),
                         lookup_key=enrolled((CLIENT_KEY, CORP_NO, USER_NO)))


def test_newer_minor_handshake_with_trailing_bytes_is_accepted():
    server = _server()
    [established] = events_of(server, _handshake(1, EXTRA))
    assert established.minor == 0 and established.secure
    [ha] = split_frames(server.data_to_send())
    assert Header.parse(ha).minor == 0


def test_handshake_with_trailing_bytes_at_our_minor_is_refused():
    server = _server()
    with pytest.raises(DecodeError, match="unexpected bytes"):
        events_of(server, _handshake(0, EXTRA))
    assert server.state is State.ERROR


def test_enrolled_key_event_hides_the_key():
    assert "key=" not in repr(EnrolledKey(corp_no=CORP_NO, user_no=USER_NO,
                                          key=CLIENT_KEY.public))
