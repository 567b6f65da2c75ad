"""In-memory session tests: a ClientSession wired to a ServerSession, no sockets.

As h11's own tests do, every test hands the bytes one side produces to the
other side and checks that the events received equal the events sent. Clock
and randomness are injected, so every run is the same.

The wiring helpers at the top are shared with the other ``test_protocol_*``
modules.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from protocol import codes
from protocol.bodies import REQUEST, RESPONSE, TR_CODES
from protocol.errors import (
    AuthenticationError,
    DecodeError,
    LocalProtocolError,
    RemoteProtocolError,
)
from protocol.events import (
    NEED_DATA,
    EnrolledKey,
    ErrorMessage,
    Heartbeat,
    Request,
    Response,
    SessionEstablished,
)
from protocol.framing import PREFIX_SIZE
from protocol.header import HEADER_SIZE, Header
from protocol.keys import BankKeyPair, SigningKey
from protocol.security import SIGNATURE_SIZE, TAG_SIZE
from protocol.session import ClientSession, ServerSession, State

# -- shared fixtures and wiring --------------------------------------------------------

NOW = 1_795_487_415.0  # 2026-11-24 10:30:15 China Standard Time
CORP_NO = "0000000001"
USER_NO = "001"
CLIENT_KEY = SigningKey.from_seed(bytes(range(32)))
OTHER_KEY = SigningKey.from_seed(bytes(range(100, 132)))
BANK_KEYS = BankKeyPair.from_seeds(bytes(range(32, 64)), bytes(range(64, 96)))


class Clock:
    """A settable clock; ``clock()`` returns ``now``."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def fixed_random(label: bytes = b"") -> Callable[[int], bytes]:
    """Deterministic 'random' bytes: a SHA-256 counter stream."""
    counter = itertools.count()

    def draw(n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += hashlib.sha256(label + next(counter).to_bytes(8, "big")).digest()
        return out[:n]

    return draw


def enrolled(*entries: tuple[SigningKey, str, str]) -> Callable[[str], EnrolledKey | None]:
    """A lookup_key callable for the given (key, corp_no, user_no) enrolments."""
    table = {key.key_id: EnrolledKey(corp_no=corp, user_no=user, key=key.public)
             for key, corp, user in entries}
    return table.get


def events_of(session, data: bytes) -> list:
    """Feed ``data`` and take every event until NEED_DATA."""
    if data:
        session.receive_data(data)
    events = []
    while (event := session.next_event()) is not NEED_DATA:
        events.append(event)
    return events


@dataclass
class Pair:
    client: ClientSession
    server: ServerSession

    def to_server(self) -> list:
        return events_of(self.server, self.client.data_to_send())

    def to_client(self) -> list:
        return events_of(self.client, self.server.data_to_send())


def make_pair(
    *,
    secure: bool = True,
    allow_plaintext: bool = False,
    server_keys: BankKeyPair | None = BANK_KEYS,
    client_key: SigningKey = CLIENT_KEY,
    lookup=None,
    client_clock: Callable[[], float] | None = None,
    server_clock: Callable[[], float] | None = None,
    client_minor: int = 0,
    server_minor: int = 0,
    corp_no: str = CORP_NO,
    user_no: str = USER_NO,
) -> Pair:
    """A client and a server, not yet connected."""
    client = ClientSession(
        corp_no=corp_no, user_no=user_no,
        signing_key=client_key if secure else None,
        bank_keys=BANK_KEYS.public if secure else None,
        clock=client_clock or Clock(), random=fixed_random(b"client"), minor=client_minor,
    )
    server = ServerSession(
        bank_keys=server_keys,
        lookup_key=lookup or enrolled((CLIENT_KEY, CORP_NO, USER_NO)),
        allow_plaintext=allow_plaintext,
        clock=server_clock or Clock(), random=fixed_random(b"server"), minor=server_minor,
    )
    return Pair(client, server)


def connect(**kwargs) -> Pair:
    """A client and a server that have completed the handshake."""
    pair = make_pair(**kwargs)
    pair.client.start()
    [server_event] = pair.to_server()
    [client_event] = pair.to_client()
    assert isinstance(server_event, SessionEstablished)
    assert isinstance(client_event, SessionEstablished)
    return pair


def forge(session, msg_type: str, body: bytes, **header_fields) -> None:
    """Queue a message through the session's own sealing path (numbered, signed,
    encrypted as the session would) -- to send what the public API refuses to."""
    session._queue(msg_type, body, **header_fields)


def frame(message: bytes) -> bytes:
    return len(message).to_bytes(PREFIX_SIZE, "big") + message


def split_frames(data: bytes) -> list[bytes]:
    """The messages in a byte string of frames (without their length prefixes)."""
    frames = []
    while data:
        length = int.from_bytes(data[:PREFIX_SIZE], "big")
        frames.append(data[PREFIX_SIZE : PREFIX_SIZE + length])
        data = data[PREFIX_SIZE + length :]
    return frames


ACNO = "310066726018010000001"
OTHER_ACNO = "6222020200000000001"
ENTRY = {
    "tr_date": "20261124", "tr_time": "101500", "serial_no": "SB2026112400000001",
    "dc_flag": "D", "amt": 1_250_000, "balance": 98_750_000, "opp_acno": OTHER_ACNO,
    "opp_acname": "张三", "summary": "十一月货款", "req_no": "REQ20261124000001",
    "cert_no": "CERT0001",
}
AUTH_SAMPLE = {"auth_state": "1", "auth_level": 1, "auth_levels": 2, "waiting_for": "C01"}
BATCH_STATUS_SAMPLE = {
    "state": "3", "received": 3, "ok_count": 2, "ok_amt": 1_500_000, "fail_count": 1,
    "fail_amt": 30_000, "pending_count": 0, "pending_amt": 0, "err_code": "", "err_msg": "",
}
SAMPLE_FIELDS: dict[tuple[str, str], dict] = {
    ("310101", REQUEST): {"acno": ACNO},
    ("310101", RESPONSE): {"records": [{
        "acname": "示例保险有限公司", "acno": ACNO, "cur_code": "CNY",
        "balance": 100_000_000, "avail_balance": 99_950_000, "open_date": "20200101",
        "acc_type": "01", "open_bank": "模拟银行上海分行", "err_msg": "", "succ_flag": "0",
    }]},
    ("310201", REQUEST): {"acno": ACNO},
    ("310201", RESPONSE): {"acno": ACNO, "records": [
        ENTRY, {**ENTRY, "dc_flag": "C", "amt": 5, "balance": 98_750_005,
                "serial_no": "SB2026112400000002", "req_no": "", "cert_no": ""},
    ]},
    ("310301", REQUEST): {"acno": ACNO, "start_date": "20261101", "end_date": "20261124",
                          "begin_no": 1, "query_num": 100},
    ("310301", RESPONSE): {"acno": ACNO, "total_num": 1, "begin_no": 1, "more_flag": "0",
                           "records": [ENTRY]},
    ("210201", REQUEST): {
        "pay_acno": ACNO, "pay_acname": "示例保险有限公司", "rcv_bank_name": "工商银行北京分行",
        "rcv_acno": OTHER_ACNO, "rcv_acname": "张三", "rcv_exg_code": "",
        "rcv_bank_no": "102100099996", "cur_code": "CNY", "amt": 1_250_000,
        "cert_no": "CERT0001", "summary": "十一月货款", "bank_flag": "1", "area_flag": "1",
    },
    ("210201", RESPONSE): {"stat": "1"},
    ("210224", REQUEST): {
        "pay_acno": ACNO, "pay_acname": "示例保险有限公司", "rcv_acno": OTHER_ACNO,
        "rcv_acname": "张三", "partyid": "102100099996", "amt": 880_000,
        "cert_no": "CERT0002", "purpose": "工资", "summary": "十一月工资", "urgent_flag": "0",
    },
    ("210224", RESPONSE): {"tran_status": "34"},
    ("310204", REQUEST): {"query_flag": "1", "ogl_serial_no": "REQ20261124000001"},
    ("310204", RESPONSE): {
        "ogl_serial_no": "REQ20261124000001", "stat": "1", "err_msg": "",
        "pay_acno": ACNO, "pay_bank_no": "301290000007", "rcv_acno": OTHER_ACNO,
        "rcv_bank_no": "102100099996", "amt": 1_250_000, "cert_no": "CERT0001",
        "auth_state": "2", "auth_level": 2, "auth_levels": 2, "waiting_for": "",
    },
    ("330002", REQUEST): {
        "cert_no": "PAY202611", "pay_acno": ACNO, "type": "S", "sum": 2, "sum_amt": 1_500_000,
        "pay_month": "202611", "summary": "十一月工资", "busi_no": "PR0001", "mailflg": "N",
        "file_flag": "0", "items": [
            {"card_no": "6222600100000000001", "acname": "张三", "card_flag": "0",
             "amt": 1_000_000, "busino": "P0001"},
            {"card_no": "6222600100000000002", "acname": "李四", "card_flag": "1",
             "amt": 500_000, "busino": "P0002"},
        ],
    },
    ("330002", RESPONSE): BATCH_STATUS_SAMPLE,
    ("330010", REQUEST): {
        "cert_no": "COL202611", "rcv_acno": ACNO, "sum": 1, "sum_amt": 30_000,
        "summary": "十一月保费", "busi_no": "FEE01", "file_flag": "1", "items": [
            {"pay_acno": OTHER_ACNO, "pay_acname": "张三", "agreement_no": "AG0000000001",
             "amt": 30_000, "busino": "C0001", "pay_bank_no": "102100099996"},
        ],
    },
    ("330010", RESPONSE): BATCH_STATUS_SAMPLE,
    ("310207", REQUEST): {"ogl_serial_no": "COL202611001"},
    ("310207", RESPONSE): {"ogl_serial_no": "COL202611001", "batch_tr_code": "330010",
                           "sum": 3, "sum_amt": 1_530_000, **BATCH_STATUS_SAMPLE,
                           "auth_state": "0", "auth_level": 0, "auth_levels": 0,
                           "waiting_for": ""},
    ("310208", REQUEST): {"ogl_serial_no": "COL202611001", "status": "E", "begin_no": 1,
                          "query_num": 1000},
    ("310208", RESPONSE): {
        "ogl_serial_no": "COL202611001", "total_num": 1, "begin_no": 1, "more_flag": "0",
        "records": [{"seq": 3, "busino": "C0003", "acno": "6222600100000000003",
                     "acname": "王五", "amt": 30_000, "suc_flg": "E", "flw": "",
                     "err_code": "E021", "err_msg": "no collection agreement AG9"}],
    },
    ("310210", REQUEST): {"rcv_acno": ACNO, "begin_no": 1, "query_num": 100},
    ("310210", RESPONSE): {
        "rcv_acno": ACNO, "total_num": 1, "begin_no": 1, "more_flag": "0",
        "records": [{"agreement_no": "AG0000000001", "payer_acno": "6222600100000000001",
                     "payer_name": "张三", "payer_bank_no": "301290000007",
                     "max_amt": 200_000, "valid_to": "20271231", "status": "0"}],
    },
    ("310220", REQUEST): {"ogl_serial_no": "REQ20261124000001", "serial_no": "", "acno": "",
                          "start_date": "", "end_date": "", "begin_no": 1, "query_num": 100},
    ("310220", RESPONSE): {
        "total_num": 1, "begin_no": 1, "more_flag": "0",
        "records": [{"receipt_no": "2026112400000042-D", "biz_date": "20261124",
                     "dc_flag": "D", "payer_acno": ACNO, "payer_name": "示例保险有限公司",
                     "payer_bank": "模拟银行", "payee_acno": OTHER_ACNO, "payee_name": "张三",
                     "payee_bank": "工商银行北京分行", "cur_code": "CNY", "amt": 1_250_000,
                     "summary": "十一月货款", "serial_no": "2026112400000042",
                     "req_no": "REQ20261124000001", "corp_no": CORP_NO, "tr_code": "210201",
                     "issued_at": "2026-11-24T10:15:00", "signer_key_id": "422452756fca5e2d",
                     "signature": "ab" * 64}],
    },
    ("310230", REQUEST): {"operator": "C01", "ogl_serial_no": "", "begin_no": 1,
                          "query_num": 100},
    ("310230", RESPONSE): {
        "total_num": 1, "begin_no": 1, "more_flag": "0",
        "records": [{"req_no": "REQ20261124000001", "tr_code": "210201", "maker": "001",
                     "amt": 150_000_000, "item_count": 0, "pay_acno": ACNO,
                     "rcv_acno": OTHER_ACNO, "rcv_acname": "张三", "summary": "十一月货款",
                     "biz_date": "20261124", "submitted": "2026-11-24T10:15:00",
                     **AUTH_SAMPLE, "approved_by": "B01"}],
    },
    ("210230", REQUEST): {"ogl_serial_no": "REQ20261124000001", "operator": "C01",
                          "decision": "1", "level": 2, "amt": 150_000_000,
                          "signed_at": "2026-11-24T10:20:00", "signature": "ab" * 64},
    ("210230", RESPONSE): {"ogl_serial_no": "REQ20261124000001", "stat": "1", "err_msg": "",
                           "auth_state": "2", "auth_level": 2, "auth_levels": 2,
                           "waiting_for": ""},
    ("310240", REQUEST): {"start_date": "20261101", "end_date": "20261124",
                          "ogl_serial_no": "", "operator": "", "begin_no": 1,
                          "query_num": 100},
    ("310240", RESPONSE): {
        "total_num": 1, "begin_no": 1, "more_flag": "0",
        "records": [{"at": "2026-11-24T10:20:00", "event": "approval", "tr_code": "210201",
                     "req_no": "REQ20261124000001", "operator": "C01", "amt": 150_000_000,
                     "result": "level 2", "detail": "level 2 of 2 approved"}],
    },
}


def sample_request(tr_code: str, req_no: str = "REQ0001") -> Request:
    return Request(tr_code=tr_code, req_no=req_no, fields=SAMPLE_FIELDS[(tr_code, REQUEST)],
                   corp_no=CORP_NO, user_no=USER_NO)


def sample_response(tr_code: str, req_no: str = "REQ0001") -> Response:
    return Response(tr_code=tr_code, req_no=req_no, serial_no="SB2026112400000001",
                    ret_msg="交易成功", fields=SAMPLE_FIELDS[(tr_code, RESPONSE)])


# -- handshake ---------------------------------------------------------------------------


def test_handshake_establishes_a_secure_session():
    pair = make_pair()
    assert pair.client.state is State.IDLE and pair.server.state is State.IDLE
    pair.client.start()
    assert pair.client.state is State.HANDSHAKING
    [hs] = split_frames(pair.client.data_to_send())
    header = Header.parse(hs)
    assert (header.msg_type, header.corp_no, header.user_no) == ("HS", CORP_NO, USER_NO)
    assert header.signed and header.seq_no == 0 and header.key_id == CLIENT_KEY.key_id
    assert len(hs) == HEADER_SIZE + header.body_len + SIGNATURE_SIZE

    [established] = events_of(pair.server, frame(hs))
    expected = SessionEstablished(corp_no=CORP_NO, user_no=USER_NO, key_id=CLIENT_KEY.key_id,
                                  minor=0, secure=True)
    assert established == expected
    assert pair.server.state is State.ESTABLISHED
    assert pair.to_client() == [expected]
    assert pair.client.state is State.ESTABLISHED
    assert pair.client.secure and pair.server.secure


def test_handshake_ack_is_signed_by_the_bank_and_unnumbered():
    pair = make_pair()
    pair.client.start()
    pair.to_server()
    [ha] = split_frames(pair.server.data_to_send())
    header = Header.parse(ha)
    assert header.msg_type == "HA" and header.ret_code == "0000" and header.seq_no == 0
    assert header.key_id == BANK_KEYS.key_id and not header.encrypted
    assert BANK_KEYS.public.verify.verify(ha[-SIGNATURE_SIZE:], ha[:-SIGNATURE_SIZE])


def test_api_misuse_is_a_local_error():
    pair = make_pair()
    with pytest.raises(LocalProtocolError):
        pair.client.send(sample_request("310101"))  # before the handshake
    pair.client.start()
    with pytest.raises(LocalProtocolError):
        pair.client.start()
    with pytest.raises(LocalProtocolError):
        pair.server.send(sample_response("310101"))  # no session yet
    with pytest.raises(LocalProtocolError):
        make_pair(secure=True).client.send(Response(tr_code="310101", req_no="R"))
    with pytest.raises(LocalProtocolError):
        ClientSession(corp_no=CORP_NO, user_no=USER_NO, signing_key=CLIENT_KEY, bank_keys=None)


# -- requests and responses ------------------------------------------------------------


@pytest.mark.parametrize("tr_code", sorted(TR_CODES))
def test_request_and_response_for_each_tr_code(tr_code):
    pair = connect()
    request = sample_request(tr_code, req_no=f"REQ{tr_code}")
    pair.client.send(request)
    assert pair.to_server() == [request]
    response = sample_response(tr_code, req_no=f"REQ{tr_code}")
    pair.server.send(response)
    assert pair.to_client() == [response]


@pytest.mark.parametrize("tr_code", sorted(TR_CODES))
def test_messages_are_signed_encrypted_and_numbered(tr_code):
    pair = connect()
    for n in (1, 2):
        pair.client.send(sample_request(tr_code, req_no=f"R{n}"))
    first, second = split_frames(pair.client.data_to_send())
    for n, message in ((1, first), (2, second)):
        header = Header.parse(message)
        assert header.seq_no == n and header.signed and header.encrypted
        assert header.tr_code == tr_code and header.req_no == f"R{n}"
        # the plaintext of the body never shows on the wire
        assert "示例".encode("gb18030") not in message


def test_heartbeat_both_ways():
    pair = connect()
    pair.client.send(Heartbeat())
    assert pair.to_server() == [Heartbeat()]
    pair.server.send(Heartbeat())
    assert pair.to_client() == [Heartbeat()]


def test_error_message_both_ways():
    pair = connect()
    to_bank = ErrorMessage(ret_code="D008", ret_msg="处理中", req_no="R1", tr_code="210201")
    pair.client.send(to_bank)
    assert pair.to_server() == [to_bank]
    to_client = ErrorMessage(ret_code="P005", ret_msg="unknown transaction code",
                             req_no="R2", tr_code="999999")
    pair.server.send(to_client)
    assert pair.to_client() == [to_client]
    # the session goes on
    pair.client.send(sample_request("310101"))
    assert pair.to_server() == [sample_request("310101")]


def test_refusal_response_carries_no_body():
    pair = connect()
    refusal = Response(tr_code="210201", req_no="R1", ret_code="E008",
                       ret_msg="可用余额不足")
    pair.server.send(refusal)
    data = pair.server.data_to_send()
    [message] = split_frames(data)
    assert Header.parse(message).body_len == TAG_SIZE  # AES-GCM tag over an empty body
    [received] = events_of(pair.client, data)
    assert received == refusal
    assert received.fields == {} and not received.ok


def test_refusal_in_plaintext_has_an_empty_body():
    pair = connect(secure=False, allow_plaintext=True)
    pair.server.send(Response(tr_code="310204", req_no="R1", ret_code="E003"))
    data = pair.server.data_to_send()
    [message] = split_frames(data)
    assert Header.parse(message).body_len == 0 and len(message) == HEADER_SIZE
    [received] = events_of(pair.client, data)
    assert received.fields == {} and received.ret_code == "E003"


def _conversation() -> tuple[list, list]:
    """A mixed run of events for each direction."""
    to_bank: list = []
    to_client: list = []
    for n, tr_code in enumerate(sorted(TR_CODES) * 4):
        to_bank.append(sample_request(tr_code, req_no=f"REQ{n:04d}"))
        to_client.append(sample_response(tr_code, req_no=f"REQ{n:04d}"))
        if n % 5 == 0:
            to_bank.append(Heartbeat())
            to_client.append(Heartbeat())
    to_bank.append(ErrorMessage(ret_code="D008", req_no="REQ0001"))
    to_client.append(Response(tr_code="210224", req_no="REQ9999", ret_code="E009",
                              ret_msg="超过单笔限额"))
    return to_bank, to_client


def test_many_messages_pipelined_in_one_chunk():
    pair = connect()
    to_bank, to_client = _conversation()
    for event in to_bank:
        pair.client.send(event)
    for event in to_client:
        pair.server.send(event)
    assert pair.to_server() == to_bank
    assert pair.to_client() == to_client


def test_byte_by_byte_delivery():
    pair = make_pair()
    to_bank, to_client = _conversation()
    pair.client.start()
    received_by_server: list = []
    received_by_client: list = []

    def trickle(source, sink, received):
        for byte in source.data_to_send():
            sink.receive_data(bytes([byte]))
            while (event := sink.next_event()) is not NEED_DATA:
                received.append(event)

    trickle(pair.client, pair.server, received_by_server)
    trickle(pair.server, pair.client, received_by_client)
    assert [type(e) for e in received_by_server + received_by_client] == [SessionEstablished] * 2
    received_by_server.clear()
    received_by_client.clear()
    for event in to_bank[:12]:
        pair.client.send(event)
    for event in to_client[:12]:
        pair.server.send(event)
    trickle(pair.client, pair.server, received_by_server)
    trickle(pair.server, pair.client, received_by_client)
    assert received_by_server == to_bank[:12]
    assert received_by_client == to_client[:12]


def test_long_return_message_is_shortened_to_its_field():
    pair = connect()
    pair.server.send(ErrorMessage(ret_code="E001", ret_msg="字段格式错误" * 10, req_no="R1"))
    [received] = pair.to_client()
    assert len(received.ret_msg.encode("gb18030")) <= 60
    assert ("字段格式错误" * 10).startswith(received.ret_msg) and len(received.ret_msg) == 30


def test_field_overflow_on_send_uses_no_sequence_number():
    pair = connect()
    too_long = dict(SAMPLE_FIELDS[("210201", REQUEST)], pay_acname="长" * 31)
    with pytest.raises(LocalProtocolError):
        pair.client.send(Request(tr_code="210201", req_no="R1", fields=too_long))
    assert pair.client.data_to_send() == b""
    pair.client.send(sample_request("210201"))  # still seq 1: the server accepts it
    assert pair.to_server() == [sample_request("210201")]


def test_unencodable_return_message_is_replaced_not_refused():
    pair = connect()
    pair.server.send(ErrorMessage(ret_code="E001", ret_msg="bad \udc80 text", req_no="R1"))
    [received] = pair.to_client()
    assert received.ret_msg == "bad ? text"


# -- closing and errors ----------------------------------------------------------------


def test_clean_close_between_frames():
    pair = connect()
    pair.client.receive_data(b"")
    assert pair.client.state is State.CLOSED
    assert pair.client.next_event() is NEED_DATA


def test_close_in_the_middle_of_a_frame_is_a_decode_error():
    pair = connect()
    pair.client.send(Heartbeat())
    data = pair.client.data_to_send()
    pair.server.receive_data(data[:-1])
    assert pair.server.next_event() is NEED_DATA
    with pytest.raises(DecodeError, match="middle of a frame") as caught:
        pair.server.receive_data(b"")
    assert caught.value.code is codes.MALFORMED_FRAME
    assert pair.server.state is State.ERROR


def test_next_event_after_a_fatal_error_is_a_local_error():
    pair = connect()
    pair.server.receive_data(b"\x00\x00\x01\x00" + b"X" * 256)
    with pytest.raises(DecodeError):
        pair.server.next_event()
    with pytest.raises(LocalProtocolError):
        pair.server.next_event()


def test_errors_after_a_failure_reach_the_peer_with_fresh_sequence_numbers():
    # After a fatal error the session may still tell the peer why, and the peer
    # must accept that message: it takes the next sequence number (and so a fresh
    # AES-GCM nonce), never 0 again.
    pair = connect()
    pair.client.send(sample_request("310101"))
    pair.to_server()
    pair.server.receive_data(b"\x00\x00\x01\x00" + b"X" * 256)
    with pytest.raises(DecodeError) as caught:
        pair.server.next_event()
    assert pair.server.state is State.ERROR
    error = ErrorMessage(ret_code=caught.value.code.code, ret_msg=caught.value.public_message)
    pair.server.send(error)
    pair.server.send(error)
    data = pair.server.data_to_send()
    assert [Header.parse(m).seq_no for m in split_frames(data)] == [1, 2]
    received = events_of(pair.client, data)
    assert [e.ret_code for e in received] == ["P001", "P001"]
    assert received[0].ret_msg.startswith("header field magic at offset 0")


def test_handshake_refusal_reaches_the_client_and_closes_it():
    pair = make_pair(lookup=enrolled())  # nobody enrolled
    pair.client.start()
    with pytest.raises(AuthenticationError) as caught:
        pair.to_server()
    pair.server.send_error(ErrorMessage(ret_code=caught.value.code.code,
                                        ret_msg=caught.value.public_message))
    [error] = pair.to_client()
    assert error == ErrorMessage(ret_code="P010", ret_msg="authentication failed")
    assert pair.client.state is State.CLOSED


# -- certflag=0: plaintext -------------------------------------------------------------


@pytest.mark.parametrize("server_keys", [BANK_KEYS, None], ids=["bank-has-keys", "keyless"])
def test_plaintext_session_works_when_allowed(server_keys):
    pair = make_pair(secure=False, allow_plaintext=True, server_keys=server_keys)
    pair.client.start()
    [established] = pair.to_server()
    assert established == SessionEstablished(corp_no=CORP_NO, user_no=USER_NO, key_id="",
                                             minor=0, secure=False)
    assert pair.to_client() == [established]
    to_bank, to_client = _conversation()
    for event in to_bank:
        pair.client.send(event)
    for event in to_client:
        pair.server.send(event)
    client_data = pair.client.data_to_send()
    server_data = pair.server.data_to_send()
    for message in split_frames(client_data) + split_frames(server_data):
        header = Header.parse(message)
        assert not header.signed and not header.encrypted and header.sig_len == 0
    assert "示例".encode("gb18030") in client_data  # readable: nothing is encrypted
    assert events_of(pair.server, client_data) == to_bank
    assert events_of(pair.client, server_data) == to_client


def test_plaintext_session_still_refuses_replays():
    pair = connect(secure=False, allow_plaintext=True)
    pair.client.send(sample_request("210201"))
    data = pair.client.data_to_send()
    assert events_of(pair.server, data) == [sample_request("210201")]
    with pytest.raises(AuthenticationError) as caught:
        events_of(pair.server, data)
    assert "sequence number 1, expected 2" in caught.value.reason


def test_plaintext_session_refuses_a_signed_message():
    plain = connect(secure=False, allow_plaintext=True)
    secure = connect()
    secure.client.send(Heartbeat())
    with pytest.raises(RemoteProtocolError) as caught:
        events_of(plain.server, secure.client.data_to_send())
    assert caught.value.code is codes.OUT_OF_STATE
