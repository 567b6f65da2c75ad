"""Bad ERP input against a running ``directlink up``: refused, specific, harmless.

Every bad request gets a reply whose particular_code is not 0000 and whose
particular_info says what is wrong, and no balance moves. Broken framing may
just close the connection. Stalled and numerous clients do not hold anyone up.

The module's ``up`` runs with ``max_request = 65536`` and
``client_timeout = 5`` in its ini file, so an oversize request can be
announced in the 7-byte header and a stalled client is dropped quickly.
"""

from __future__ import annotations

import http.client
import re
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from tests.erp_client import (
    ACNO_1,
    ACNO_2,
    ACNO_FROZEN,
    ACNO_OTHER_CORP,
    ErpClient,
    Running,
    frame,
    parse_reply,
    payment_body,
    read_until_eof,
    request_xml,
    running_up,
    send_raw,
    transfer_body,
    unframe,
    unique_req_no,
)
from tests.test_compat_erp_integrations import commons_httpclient_post, java_url_encoded

MAX_REQUEST = 65536
CLIENT_TIMEOUT = 5


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    home = tmp_path_factory.mktemp("bad") / "home"
    with running_up(home):
        pass  # first run: create the home, config and keys
    ini = home / "etc" / "directlink.ini"
    text = ini.read_text(encoding="utf-8")
    text, n1 = re.subn(r"(?m)^max_request = .*$", f"max_request = {MAX_REQUEST}", text)
    text, n2 = re.subn(r"(?m)^client_timeout = .*$", f"client_timeout = {CLIENT_TIMEOUT}",
                       text)
    assert n1 == n2 == 1
    ini.write_text(text, encoding="utf-8")
    with running_up(home) as running:
        yield running


@pytest.fixture(params=["tcp", "http"])
def erp(request: pytest.FixtureRequest, system: Running) -> ErpClient:
    return system.client(request.param)


def balances(erp: ErpClient) -> dict[str, tuple[str, str]]:
    """(balance, available) of every account of the enterprise."""
    reply = erp.send("310101", {"acno": ""}, req_no=unique_req_no("S"))
    assert reply.ok, reply
    return {row[1]: (row[3], row[4]) for row in reply.table()[1:]}


@pytest.fixture
def unchanged(erp: ErpClient) -> Iterator[None]:
    """The test must leave every balance as it found it."""
    before = balances(erp)
    yield
    assert balances(erp) == before


def assert_refused(reply, code: str, *info_words: str) -> None:
    assert reply.code == code, reply
    assert reply.head["ans_code"] == "1", reply
    assert reply.info, reply
    for word in info_words:
        assert word in reply.info, (word, reply)
    assert reply.body == {}, reply
    assert reply.head["serial_no"] == "", reply


# -- documents ---------------------------------------------------------------------

GOOD = request_xml("310101", {"acno": ACNO_1})

BAD_DOCUMENTS = {
    "not_xml": (b"hello, bank", "D001", "well-formed"),
    "unclosed": (b"<ap><head><tr_code>310101</tr_code></head><body>", "D001",
                 "well-formed"),
    "empty": (b"", "D003", "empty"),
    "entity_bomb": (
        b'<?xml version="1.0"?><!DOCTYPE ap [<!ENTITY a "aaaaaaaaaa">'
        + b"".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode()
                   for i in range(8))
        + b"]><ap><head><tr_code>310101</tr_code></head><body><acno>&i;</acno></body></ap>",
        "D001", "DTD"),
    "external_entity": (
        b'<?xml version="1.0"?><!DOCTYPE ap [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<ap><head><tr_code>310101</tr_code></head><body><acno>&x;</acno></body></ap>",
        "D001", "DTD"),
    "bad_gbk_bytes": (GOOD.replace(ACNO_1.encode(), b"\x81\x20\xff"), "D004", "GBK"),
    "missing_head": (b"<ap><body><acno>310066726018010000001</acno></body></ap>", "D003",
                     "head"),
    "wrong_root": (b"<req><head><tr_code>310101</tr_code></head><body/></req>", "D003",
                   "ap"),
    "two_bodies": (b"<ap><head><tr_code>310101</tr_code></head><body/><body/></ap>", "D003",
                   "body"),
}


@pytest.mark.parametrize("case", sorted(BAD_DOCUMENTS))
@pytest.mark.usefixtures("unchanged")
def test_bad_document(erp: ErpClient, case: str) -> None:
    xml, code, word = BAD_DOCUMENTS[case]
    started = time.monotonic()
    reply = erp.send_xml(xml)
    assert time.monotonic() - started < 5  # the bomb is refused, not expanded
    assert_refused(reply, code, word)
    assert "root:" not in reply.info


@pytest.mark.usefixtures("unchanged")
def test_oversize_request_over_tcp_is_answered_d002(system: Running) -> None:
    # A readable header announcing more than max_request: D002, before the bytes.
    with socket.create_connection(system.erp_tcp, timeout=10) as sock:
        sock.sendall(f"0{MAX_REQUEST + 1}".ljust(7).encode())
        reply = parse_reply(unframe(read_until_eof(sock)))
    assert_refused(reply, "D002", str(MAX_REQUEST))


@pytest.mark.usefixtures("unchanged")
def test_oversize_request_over_http_is_answered_d002(system: Running) -> None:
    padding = b"<!--" + b"x" * MAX_REQUEST + b"-->"
    xml = GOOD.replace(b"<ap>", padding + b"<ap>")
    reply = system.client("http").send_xml(xml)
    assert_refused(reply, "D002", str(MAX_REQUEST))


# -- head ----------------------------------------------------------------------------


@pytest.mark.parametrize(("head", "code", "word"), [
    ({"tr_code": "999999"}, "P005", "999999"),
    ({"tr_code": ""}, "E001", "tr_code"),
    ({"corp_no": "0000000002"}, "D005", "corp_no"),
    ({"user_no": "002"}, "D005", "user_no"),
    ({"req_no": "bad req no!"}, "E001", "req_no"),
    ({"req_no": "R" * 33}, "E001", "req_no"),
], ids=["unknown_tr_code", "no_tr_code", "other_corp_no", "other_user_no", "req_no_chars",
        "req_no_long"])
@pytest.mark.usefixtures("unchanged")
def test_bad_head(erp: ErpClient, head: dict, code: str, word: str) -> None:
    xml = request_xml("210201", transfer_body("1.00"), req_no=unique_req_no(), head=head)
    assert_refused(erp.send_xml(xml), code, word)


# -- body ----------------------------------------------------------------------------


def _without(body: dict, name: str) -> dict:
    return {k: v for k, v in body.items() if k != name}


BAD_BODIES = {
    "missing_pay_acno": ("210201", _without(transfer_body("1.00"), "pay_acno"), "E001",
                         "pay_acno"),
    "missing_amt": ("210201", _without(transfer_body("1.00"), "amt"), "E001", "amt"),
    "missing_partyid": ("210224", _without(payment_body("1.00"), "partyid"), "E001",
                        "partyid"),
    "amt_3_decimals": ("210201", transfer_body("1.005"), "E002", "amt"),
    "amt_letters": ("210201", transfer_body("12a"), "E002", "amt"),
    "amt_exponent": ("210201", transfer_body("1e3"), "E002", "amt"),
    "amt_negative": ("210201", transfer_body("-1.00"), "E002", "amt"),
    "amt_zero": ("210201", transfer_body("0.00"), "E002", "amt"),
    "amt_too_wide": ("210224", payment_body("123456789012345.00"), "E002", "amt"),
    "bad_bank_flag": ("210201", transfer_body("1.00", bank_flag="7"), "E001", "bank_flag"),
    "bad_partyid": ("210224", payment_body("1.00", partyid="12345"), "E001", "partyid"),
    "acno_chars": ("310101", {"acno": "3100'; DROP TABLE accounts"}, "E001", "acno"),
    "date_month_13": ("310301", {"acno": ACNO_1, "start_date": "20261301",
                                 "end_date": "20261130"}, "E001", "start_date"),
    "date_feb_30": ("310301", {"acno": ACNO_1, "start_date": "20260101",
                               "end_date": "20260230"}, "E001", "end_date"),
    "date_short": ("310301", {"acno": ACNO_1, "start_date": "2026111",
                              "end_date": "20261130"}, "E001", "start_date"),
    "dates_reversed": ("310301", {"acno": ACNO_1, "start_date": "20261130",
                                  "end_date": "20261101"}, "E013", "start_date"),
    "summary_pipe": ("210201", transfer_body("1.00", summary="a|b"), "E001", "summary"),
    "missing_ogl_serial_no": ("310204", {"query_flag": "1"}, "E001", "ogl_serial_no"),
}


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
@pytest.mark.usefixtures("unchanged")
def test_bad_body(erp: ErpClient, case: str) -> None:
    tr_code, body, code, word = BAD_BODIES[case]
    req_no = unique_req_no()
    reply = erp.send(tr_code, body, req_no=req_no)
    assert_refused(reply, code, word)
    assert reply.head["req_no"] == req_no
    if tr_code in ("210201", "210224"):
        # Refused before the bank: it has no record of the req_no.
        assert erp.status(req_no).body["stat"] == "4"


# -- refused by the bank -----------------------------------------------------------


BANK_REFUSALS = {
    "frozen_payer": ("210201", transfer_body("1.00", pay_acno=ACNO_FROZEN), "E005"),
    "other_enterprise_account": ("210201", transfer_body("1.00", pay_acno=ACNO_OTHER_CORP),
                                 "E004"),
    "unknown_payer": ("210201", transfer_body("1.00", pay_acno="310066726018019999999"),
                      "E003"),
    "insufficient_funds": ("210201", transfer_body("4000000.00", pay_acno=ACNO_2,
                                                   rcv_acno=ACNO_1), "E008"),
    "over_single_limit": ("210201", transfer_body("999999999.00"), "E009"),
    "same_account": ("210201", transfer_body("1.00", rcv_acno=ACNO_1), "E012"),
    "payee_name_mismatch": ("210201", transfer_body("1.00", rcv_acname="李四"), "E015"),
    "query_other_enterprise": ("310101", {"acno": ACNO_OTHER_CORP}, "E004"),
}


@pytest.mark.parametrize("case", sorted(BANK_REFUSALS))
@pytest.mark.usefixtures("unchanged")
def test_refused_by_the_bank(erp: ErpClient, case: str) -> None:
    tr_code, body, code = BANK_REFUSALS[case]
    reply = erp.send(tr_code, body, req_no=unique_req_no())
    assert reply.code == code, reply
    assert reply.head["ans_code"] == "1" and reply.info, reply


# -- framing -------------------------------------------------------------------------


@pytest.mark.parametrize("header", [b" 523   ", b"1523   ", b"0 523  ", b"0-52   ",
                                    b"052a   ", b"0      ", b"\x00\x00\x00\x00\x00\x00\x00"])
def test_broken_framing_closes_or_refuses(system: Running, header: bytes) -> None:
    data = send_raw(system.erp_tcp, header + GOOD, timeout=15)
    if data:  # a reply is allowed, but then a framed refusal
        assert not parse_reply(unframe(data)).ok
    # The listener is still there for the next ERP.
    assert system.client().send_xml(GOOD).ok


def test_connection_closed_mid_request_gets_no_reply(system: Running) -> None:
    framed_half = f"0{len(GOOD)}".ljust(7).encode() + GOOD[: len(GOOD) // 2]
    assert send_raw(system.erp_tcp, framed_half, timeout=15) == b""
    assert system.client().send_xml(GOOD).ok


def test_a_document_in_the_query_string_under_the_configured_limit(system: Running) -> None:
    # Commons-HttpClient 3.1 integrations: POST /?<URL-encoded document>, empty body.
    # The daemon's HTTP parser must take a request line as long as max_request.
    xml = GOOD.replace(b"<ap>", b"<!--" + b"x" * (MAX_REQUEST // 2) + b"--><ap>")
    request = commons_httpclient_post(system.erp_http, java_url_encoded(xml))
    head, _, body = send_raw(system.erp_http, request, timeout=15).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), head
    reply = parse_reply(body)
    assert reply.ok, reply
    over = java_url_encoded(GOOD.replace(b"<ap>", b"<!--" + b"x" * MAX_REQUEST + b"--><ap>"))
    head, _, body = send_raw(system.erp_http, commons_httpclient_post(system.erp_http, over),
                             timeout=15).partition(b"\r\n\r\n")
    assert_refused(parse_reply(body), "D002", str(MAX_REQUEST))


def test_http_other_methods_are_refused(system: Running) -> None:
    conn = http.client.HTTPConnection(*system.erp_http, timeout=10)
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
        assert response.status == 405
        response.read()
    finally:
        conn.close()


# -- stalled and numerous clients -----------------------------------------------------


def test_stalled_clients_do_not_block_others(system: Running) -> None:
    erp = system.client()
    tcp_stalled = socket.create_connection(system.erp_tcp, timeout=30)
    http_stalled = socket.create_connection(system.erp_http, timeout=30)
    silent = socket.create_connection(system.erp_tcp, timeout=30)
    try:
        tcp_stalled.sendall(f"0{len(GOOD)}".ljust(7).encode() + GOOD[:40])
        http_stalled.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n<ap>")
        started = time.monotonic()
        for transport in ("tcp", "http"):
            reply = erp.over(transport).send("310101", {"acno": ACNO_2},
                                             req_no=unique_req_no())
            assert reply.ok, reply
        assert time.monotonic() - started < 2
        # After the client timeout the daemon drops them, without a reply.
        for sock in (tcp_stalled, http_stalled, silent):
            sock.settimeout(CLIENT_TIMEOUT + 10)
            assert read_until_eof(sock) == b""
        assert time.monotonic() - started < CLIENT_TIMEOUT + 5
    finally:
        for sock in (tcp_stalled, http_stalled, silent):
            sock.close()


def test_hundreds_of_concurrent_erp_connections_are_all_answered(system: Running) -> None:
    tcp, http = system.client("tcp"), system.client("http")
    count = 240
    gate = threading.Barrier(count)

    def one(i: int):
        client = http if i % 4 == 0 else tcp
        gate.wait(timeout=30)
        return client.send("310101", {"acno": ACNO_1 if i % 2 else ACNO_2},
                           req_no=unique_req_no("C"))

    with ThreadPoolExecutor(max_workers=count) as pool:
        replies = list(pool.map(one, range(count)))
    assert len(replies) == count
    assert all(reply.ok for reply in replies), [r for r in replies if not r.ok][:3]
    assert len({reply.head["req_no"] for reply in replies}) == count


def test_concurrent_transfers_conserve_money(system: Running) -> None:
    erp = system.client()
    before = erp.balance(ACNO_1) + erp.balance(ACNO_2)
    payer = erp.balance(ACNO_1)
    count = 100
    with ThreadPoolExecutor(max_workers=50) as pool:
        replies = list(pool.map(
            lambda _: erp.send("210201", transfer_body("0.01"), req_no=unique_req_no("X")),
            range(count)))
    assert all(reply.ok and reply.body["stat"] == "1" for reply in replies)
    assert erp.balance(ACNO_1) == payer - count * Decimal("0.01")
    assert erp.balance(ACNO_1) + erp.balance(ACNO_2) == before


# -- [bind] allow ------------------------------------------------------------------------

def _from_stranger(address: tuple[str, int], data: bytes) -> bytes:
    """Connect from 127.0.0.2 (loopback, but not in the default allow-list), send, read."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.bind(("127.0.0.2", 0))
        sock.connect(address)
        try:
            sock.sendall(data)
            return read_until_eof(sock)
        except ConnectionResetError:
            return b""


@pytest.mark.parametrize("listener", ["erp_tcp", "erp_http"])
def test_a_source_address_outside_bind_allow_is_refused_and_logged(system: Running,
                                                                   listener: str) -> None:
    xml = request_xml("310101", {"acno": ACNO_1}, req_no=unique_req_no("B"))
    if listener == "erp_tcp":
        request = frame(xml)
    else:
        request = (b"POST / HTTP/1.1\r\nHost: bank\r\nContent-Type: text/xml\r\n"
                   b"Content-Length: " + str(len(xml)).encode() + b"\r\n\r\n" + xml)
    log = system.home / "log" / "directlink.log"
    # The default allow-list is 127.0.0.1 alone: 127.0.0.2 gets no reply at all.
    assert _from_stranger(system.addresses[listener], request) == b""
    deadline = time.monotonic() + 10
    line = f"{listener}: refused connection from 127.0.0.2 (not in [bind] allow)"
    while line not in log.read_text(encoding="utf-8"):
        assert time.monotonic() < deadline, f"no log line {line!r}"
        time.sleep(0.05)
    # Everyone else is served as before.
    assert system.client("tcp" if listener == "erp_tcp" else "http").send(
        "310101", {"acno": ACNO_1}, req_no=unique_req_no("B")).ok
