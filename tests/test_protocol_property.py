"""Property tests (hypothesis).

* Every body declaration round-trips random valid values -- text within its
  byte width (GB18030 Chinese included), digits within range, choices --
  through a full in-memory client/server session.
* The fast codec (:class:`protocol.codec.RecordCodec`) and construct's own
  parse/build of the same declaration give identical bytes and values.
* Random and mutated bytes fed to the frame decoder, the sessions, the header
  parser and the codecs raise nothing but :class:`RemoteProtocolError`s.
"""

from __future__ import annotations

import contextlib

import pytest
from construct import Struct
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.bodies import (
    BODIES,
    CODECS,
    HANDSHAKE_ACK_BODY,
    HANDSHAKE_ACK_CODEC,
    HANDSHAKE_BODY,
    HANDSHAKE_CODEC,
    REQUEST,
)
from protocol.codec import RecordCodec
from protocol.errors import RemoteProtocolError
from protocol.events import NEED_DATA, Heartbeat, Request, Response
from protocol.fields import Choice, Digits, FixedField, Raw, Signed, Text
from protocol.framing import FrameDecoder
from protocol.header import HEADER, HEADER_SIZE, Header, MessageType
from protocol.session import State
from tests.test_protocol_session import (
    CORP_NO,
    USER_NO,
    connect,
    frame,
    make_pair,
    sample_request,
    sample_response,
    split_frames,
)

FAST = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
KEYS = sorted(BODIES)

# -- strategies derived from the declarations ------------------------------------------------

_CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
_GB18030 = st.characters(codec="gb18030")


def _fit(width: int, encoding: str):
    def fit(text: str) -> str:
        while len(text.encode(encoding)) > width:
            text = text[:-1]
        return text.rstrip(" ")  # trailing spaces are padding, not part of the value
    return fit


def text_values(field: Text) -> st.SearchStrategy[str]:
    if field.encoding == "ascii":
        alphabet = st.characters(max_codepoint=0x7F)
    else:
        alphabet = st.one_of(_CJK, _GB18030)
    return st.text(alphabet, max_size=field.width).map(_fit(field.width, field.encoding))


def field_values(field: FixedField) -> st.SearchStrategy:
    if isinstance(field, Choice):
        return st.sampled_from(field.values)
    if isinstance(field, Digits):
        return st.integers(0, field.maximum)
    if isinstance(field, Signed):
        return st.integers(-field.maximum, field.maximum)
    if isinstance(field, Raw):
        return st.binary(min_size=field.width, max_size=field.width)
    if isinstance(field, Text):
        return text_values(field)
    raise TypeError(field)


def record_values(declaration: Struct, max_records: int = 3) -> st.SearchStrategy[dict]:
    parts = {}
    for sub in declaration.subcons:
        con = sub.subcon
        if isinstance(con, FixedField):
            parts[sub.name] = field_values(con)
        else:
            parts[sub.name] = st.lists(record_values(con.dl_record), max_size=max_records)
    return st.fixed_dictionaries(parts)


def plain(value):
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


ascii_ids = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1,
                    max_size=32)


def test_strategies_cover_every_field_kind():
    def walk(declaration):
        for sub in declaration.subcons:
            if hasattr(sub.subcon, "dl_record"):
                yield from walk(sub.subcon.dl_record)
            else:
                yield sub.subcon

    for declaration in [*BODIES.values(), HEADER, HANDSHAKE_BODY, HANDSHAKE_ACK_BODY]:
        for con in walk(declaration):
            field_values(con)  # raises TypeError for a kind the strategies do not know


# -- round trip through a session -------------------------------------------------------------


@FAST
@pytest.mark.parametrize("key", KEYS, ids=["-".join(k) for k in KEYS])
@given(data=st.data())
def test_every_body_round_trips_through_a_session(key, data):
    tr_code, direction = key
    fields = data.draw(record_values(BODIES[key]), label="fields")
    req_no = data.draw(ascii_ids, label="req_no")
    pair = connect()
    if direction == REQUEST:
        sent = Request(tr_code=tr_code, req_no=req_no, fields=fields, corp_no=CORP_NO,
                       user_no=USER_NO)
        pair.client.send(sent)
        assert pair.to_server() == [sent]
    else:
        ret_msg = data.draw(text_values(Text(60)), label="ret_msg")
        sent = Response(tr_code=tr_code, req_no=req_no, serial_no=req_no[:24],
                        ret_msg=ret_msg, fields=fields)
        pair.server.send(sent)
        assert pair.to_client() == [sent]


@FAST
@given(data=st.data())
def test_plaintext_session_round_trips_too(data):
    key = data.draw(st.sampled_from(KEYS))
    fields = data.draw(record_values(BODIES[key]))
    pair = connect(secure=False, allow_plaintext=True)
    tr_code, direction = key
    if direction == REQUEST:
        sent = Request(tr_code=tr_code, req_no="R1", fields=fields, corp_no=CORP_NO,
                       user_no=USER_NO)
        pair.client.send(sent)
        assert pair.to_server() == [sent]
    else:
        sent = Response(tr_code=tr_code, req_no="R1", fields=fields)
        pair.server.send(sent)
        assert pair.to_client() == [sent]


# -- the fast codec agrees with construct -------------------------------------------------------

DECLARATIONS = {"-".join(k): (BODIES[k], CODECS[k]) for k in KEYS}
DECLARATIONS["handshake"] = (HANDSHAKE_BODY, HANDSHAKE_CODEC)
DECLARATIONS["handshake-ack"] = (HANDSHAKE_ACK_BODY, HANDSHAKE_ACK_CODEC)
DECLARATIONS["header"] = (HEADER, RecordCodec(HEADER))


@FAST
@pytest.mark.parametrize("name", sorted(DECLARATIONS))
@given(data=st.data())
def test_codec_and_construct_agree(name, data):
    declaration, codec = DECLARATIONS[name]
    values = data.draw(record_values(declaration))
    encoded = codec.encode(values)
    assert declaration.build(values) == encoded
    assert codec.decode(encoded) == values
    assert plain(declaration.parse(encoded)) == values


@FAST
@given(data=st.data())
def test_header_dataclass_round_trips(data):
    values = data.draw(record_values(HEADER))
    values.pop("magic")
    values.pop("reserved")
    values["version"] = 1
    head = Header(**values)
    assert Header.parse(head.build()) == head


@FAST
@pytest.mark.parametrize("name", sorted(DECLARATIONS))
@given(raw=st.binary(max_size=700))
def test_codecs_decode_random_bytes_or_raise_remote_errors(name, raw):
    declaration, codec = DECLARATIONS[name]
    for decode in (codec.decode, declaration.parse):
        with contextlib.suppress(RemoteProtocolError):
            decode(raw)


@FAST
@pytest.mark.parametrize("name", sorted(DECLARATIONS))
@given(data=st.data())
def test_codecs_on_mutated_valid_bytes(name, data):
    declaration, codec = DECLARATIONS[name]
    encoded = bytearray(codec.encode(data.draw(record_values(declaration))))
    for index, value in data.draw(_mutations(len(encoded))):
        encoded[index] = value
    cut = data.draw(st.integers(0, len(encoded)))
    for raw in (bytes(encoded), bytes(encoded[:cut])):
        try:
            fast = codec.decode(raw, allow_trailing=True)
        except RemoteProtocolError:
            fast = None
        try:
            slow = plain(declaration.parse(raw))
        except RemoteProtocolError:
            slow = None
        assert fast == slow  # both refuse, or both read the same values


def _mutations(size: int):
    return st.lists(st.tuples(st.integers(0, max(size - 1, 0)), st.integers(0, 255)),
                    min_size=1, max_size=4) if size else st.just([])


# -- robustness against random bytes ------------------------------------------------------------


@FAST
@given(chunks=st.lists(st.binary(max_size=600), max_size=8))
def test_frame_decoder_on_random_bytes(chunks):
    decoder = FrameDecoder(max_frame=1024)
    try:
        for chunk in chunks:
            decoder.feed(chunk)
            while (message := decoder.next_frame()) is not None:
                assert HEADER_SIZE <= len(message) <= 1024
    except RemoteProtocolError:
        pass


@FAST
@given(raw=st.binary(min_size=HEADER_SIZE, max_size=HEADER_SIZE + 8))
def test_header_parse_on_random_bytes(raw):
    with contextlib.suppress(RemoteProtocolError):
        Header.parse(raw)


@FAST
@given(data=st.data())
def test_header_parse_on_mutated_headers(data):
    raw = bytearray(Header(msg_type="RQ", tr_code="210201", req_no="R1", body_len=4).build())
    for index, value in data.draw(_mutations(HEADER_SIZE)):
        raw[index] = value
    with contextlib.suppress(RemoteProtocolError):
        Header.parse(bytes(raw))


def drive(session, data: bytes) -> None:
    """Feed ``data`` and take events until NEED_DATA or a fatal error; any exception
    other than a RemoteProtocolError fails the test."""
    try:
        session.receive_data(data)
    except RemoteProtocolError:
        assert session.state is State.ERROR
        return
    while True:
        try:
            event = session.next_event()
        except RemoteProtocolError as exc:
            if exc.fatal:
                assert session.state is State.ERROR
                return
            continue
        if event is NEED_DATA:
            return


def _mutated_frame(data, message: bytes) -> bytes:
    mutated = bytearray(message)
    for index, value in data.draw(_mutations(len(mutated)), label="mutations"):
        mutated[index] = value
    how = data.draw(st.sampled_from(["keep", "truncate", "extend", "unframed"]))
    if how == "truncate":
        mutated = mutated[: data.draw(st.integers(0, len(mutated)))]
    elif how == "extend":
        mutated += data.draw(st.binary(min_size=1, max_size=40))
    if how == "unframed":
        return bytes(mutated)
    return frame(bytes(mutated))


@FAST
@given(raw=st.binary(max_size=1200), secure=st.booleans())
def test_server_on_random_bytes(raw, secure):
    pair = make_pair(allow_plaintext=not secure)
    drive(pair.server, raw)
    drive(make_pair(allow_plaintext=True).server, frame(raw))


@FAST
@given(data=st.data(), secure=st.booleans())
def test_server_on_mutated_handshakes(data, secure):
    pair = make_pair(secure=secure, allow_plaintext=True)
    pair.client.start()
    [hs] = split_frames(pair.client.data_to_send())
    drive(pair.server, _mutated_frame(data, hs))


@FAST
@given(data=st.data(), secure=st.booleans())
def test_client_on_mutated_handshake_replies(data, secure):
    pair = make_pair(secure=secure, allow_plaintext=True)
    pair.client.start()
    pair.to_server()
    [ha] = split_frames(pair.server.data_to_send())
    drive(pair.client, _mutated_frame(data, ha))


@FAST
@given(raw=st.binary(max_size=1200), secure=st.booleans())
def test_established_sessions_on_random_bytes(raw, secure):
    pair = connect(secure=secure, allow_plaintext=not secure)
    drive(pair.server, raw)
    drive(pair.client, frame(raw))


@FAST
@given(data=st.data(), secure=st.booleans())
def test_established_server_on_mutated_requests(data, secure):
    pair = connect(secure=secure, allow_plaintext=not secure)
    event = data.draw(st.sampled_from(
        [sample_request(code) for code in ("310101", "210201", "310301")] + [Heartbeat()]))
    pair.client.send(event)
    [message] = split_frames(pair.client.data_to_send())
    drive(pair.server, _mutated_frame(data, message))


@FAST
@given(data=st.data(), secure=st.booleans())
def test_established_client_on_mutated_responses(data, secure):
    pair = connect(secure=secure, allow_plaintext=not secure)
    event = data.draw(st.sampled_from(
        [sample_response(code) for code in ("310101", "310201", "210224")]
        + [Heartbeat(), Response(tr_code="210201", req_no="R", ret_code="E008")]))
    pair.server.send(event)
    [message] = split_frames(pair.server.data_to_send())
    drive(pair.client, _mutated_frame(data, message))


@FAST
@given(data=st.data())
def test_plaintext_server_on_hand_built_messages(data):
    # Headers built from random valid field values reach deeper than random bytes:
    # they parse, so the session's own checks (sequence, time, tr_code, body) run.
    pair = connect(secure=False, allow_plaintext=True)
    values = data.draw(record_values(HEADER))
    for name in ("magic", "reserved", "version", "sign_flag", "encrypt_flag"):
        values.pop(name)
    values.update(corp_no=CORP_NO, user_no=USER_NO, seq_no=1, tr_date="20261124",
                  tr_time="103015", sig_len=0, more_flag="0", frag_no=0,
                  msg_type=data.draw(st.sampled_from(MessageType.ALL)),
                  tr_code=data.draw(st.sampled_from(["310101", "210201", "999999", ""])))
    key = data.draw(st.sampled_from(KEYS))
    body = data.draw(st.one_of(st.just(b""), st.binary(max_size=400),
                               record_values(BODIES[key]).map(CODECS[key].encode)))
    values["body_len"] = len(body)
    message = Header(**values).build() + body
    drive(pair.server, frame(message))
    drive(pair.client, frame(message))
