"""Real ERP integrations against the daemon's listeners and an in-process bank core.

What public Java integrations of the bank's client send, byte for byte, over
real sockets: Jakarta Commons-HttpClient 3.1 POSTing the document URL-encoded
in the query string with an empty body; an HTTP POST with an empty body; a
zero-length raw-TCP document; a refusal to a 300 kB bad field, which must
still come back as one framed reply; and 310204 by the bank's serial from an
integration that kept only the reply's ``serial_no``. No subprocess: core,
link, service and listeners run in this process, the clients in threads.
"""

from __future__ import annotations

import functools
import http.client
import socket
import urllib.parse
from dataclasses import dataclass

import pytest
import trio

from daemon.access import AccessList
from daemon.listeners import ErpListeners, serve_erp_tcp
from daemon.service import ErpService
from tests.erp_client import (
    ACNO_1,
    ACNO_2,
    Reply,
    frame,
    parse_reply,
    read_until_eof,
    request_xml,
    send_raw,
    transfer_body,
    unframe,
)
from tests.test_daemon_link import CORP, USER, Bed, wait_connected

MAX_REQUEST = 400_000
Address = tuple[str, int]


@dataclass(frozen=True)
class Daemon:
    erp_tcp: Address
    erp_http: Address

    async def tcp(self, data: bytes) -> Reply:
        """Write ``data`` as it is (framed by the caller); the framed reply, parsed."""
        return parse_reply(unframe(await trio.to_thread.run_sync(send_raw, self.erp_tcp, data)))

    async def http(self, request: bytes) -> Reply:
        """Write a raw HTTP request; the 200 response's body, parsed."""
        return parse_reply(_http_body(await trio.to_thread.run_sync(
            send_raw, self.erp_http, request)))


def _http_body(response: bytes) -> bytes:
    head, _, body = response.partition(b"\r\n\r\n")
    status, *headers = head.decode("latin-1").split("\r\n")
    assert status.startswith("HTTP/1.1 200 "), response[:300]
    length = next(int(line.split(":", 1)[1]) for line in headers
                  if line.lower().startswith("content-length:"))
    assert len(body) == length
    return body


@pytest.fixture
def bed(tmp_path):
    bed = Bed(tmp_path)
    yield bed
    bed.bank.close()


@pytest.fixture
async def daemon(bed, nursery) -> Daemon:
    _, port = await nursery.start(bed.server.serve, "127.0.0.1", 0)
    link = bed.link(port)
    await nursery.start(link.run)
    await wait_connected(link)
    service = ErpService(link, corp_no=CORP, user_no=USER, max_request=MAX_REQUEST,
                         request_timeout=10)
    listeners = ErpListeners(service, AccessList(lambda host: True), client_timeout=10)
    tcp = await nursery.start(functools.partial(
        serve_erp_tcp, listeners.handle_tcp, 0, host="127.0.0.1"))
    http = await nursery.start(functools.partial(
        trio.serve_tcp, listeners.handle_http, 0, host="127.0.0.1"))
    return Daemon(tcp[0].getsockname()[:2], http[0].socket.getsockname()[:2])


def java_url_encoded(xml: bytes) -> bytes:
    """``java.net.URLEncoder.encode(xml, "GBK")``: ``+`` for a space, ``%XX`` per byte."""
    return urllib.parse.quote_plus(xml, safe="*").encode("ascii")


def commons_httpclient_post(address: Address, query: bytes) -> bytes:
    """Exactly what Jakarta Commons-HttpClient 3.1 writes for a PostMethod with no body."""
    host, port = address
    return (b"POST /?" + query + b" HTTP/1.1\r\n"
            b"User-Agent: Jakarta Commons-HttpClient/3.1\r\n"
            b"Host: " + f"{host}:{port}".encode() + b"\r\n"
            b"Content-Length: 0\r\n"
            b"\r\n")


def assert_refused(reply: Reply, code: str, info: str | None = None) -> None:
    assert reply.code == code, reply
    assert reply.head["ans_code"] == "1", reply
    if info is not None:
        assert reply.info == info, reply


# -- the document in the URL's query string ------------------------------------------------


async def test_commons_httpclient_31_posts_the_document_in_the_query_string(daemon):
    # GBK with Chinese text, so that decoding in the wrong encoding would show.
    xml = request_xml("210201", transfer_body("12.34", summary="十一月货款 & 运费"),
                      req_no="JAVA-QS-1")
    reply = await daemon.http(commons_httpclient_post(daemon.erp_http, java_url_encoded(xml)))
    assert reply.ok, reply  # before: D001 "no element found: line 1, column 0"
    assert reply.head["req_no"] == "JAVA-QS-1"
    assert reply.body == {"stat": "1"}
    assert reply.head["serial_no"]
    assert reply.encoding == "GBK"
    # Today's details show the summary as sent, decoded as GBK.
    details = request_xml("310201", {"acno": ACNO_1}, req_no="JAVA-QS-2")
    table = (await daemon.http(commons_httpclient_post(
        daemon.erp_http, java_url_encoded(details)))).table()
    (row,) = [row for row in table[1:] if row[9] == "JAVA-QS-1"]
    assert row[8] == "十一月货款 & 运费" and row[4] == "12.34"


async def test_a_query_string_document_in_utf8_without_a_declaration_uses_the_default(daemon):
    xml = request_xml("310101", {"acno": ACNO_2}, req_no="JAVA-QS-3")
    xml = xml.split(b"?>", 1)[1]  # no declaration: the configured GBK decides
    reply = await daemon.http(commons_httpclient_post(daemon.erp_http, java_url_encoded(xml)))
    assert reply.ok, reply
    assert reply.table()[1][1] == ACNO_2


async def test_a_query_string_document_is_parsed_as_safely_as_a_body(daemon):
    bomb = (b'<?xml version="1.0"?><!DOCTYPE ap [<!ENTITY a "aaaaaaaaaa">]>'
            b"<ap><head><tr_code>310101</tr_code></head><body><acno>&a;</acno></body></ap>")
    reply = await daemon.http(commons_httpclient_post(daemon.erp_http, java_url_encoded(bomb)))
    assert_refused(reply, "D001")
    assert "DTD" in reply.info


async def test_a_query_string_over_the_limit_is_d002_before_decoding(daemon):
    xml = request_xml("310101", {"acno": ACNO_1})
    # Well under the limit once decoded, but not as it arrives.
    query = java_url_encoded(xml.replace(b"<ap>", b"<!--" + b"\xd6\xd0" * 70_000 + b"--><ap>"))
    assert len(query) > MAX_REQUEST > len(urllib.parse.unquote_to_bytes(query))
    reply = await daemon.http(commons_httpclient_post(daemon.erp_http, query))
    assert_refused(reply, "D002")
    assert str(MAX_REQUEST) in reply.info


async def test_a_body_wins_over_a_query_string(daemon):
    body = request_xml("310101", {"acno": ACNO_1}, req_no="BODY-WINS")
    request = (b"POST /?ignored=1 HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n"
               b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    reply = await daemon.http(request)
    assert reply.ok and reply.head["req_no"] == "BODY-WINS", reply


# -- empty requests -------------------------------------------------------------------------


@pytest.mark.parametrize("request_bytes", [
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: 0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /? HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
], ids=["content_length_0", "no_content_length", "empty_query"])
async def test_an_empty_http_body_is_d003_request_body_is_empty(daemon, request_bytes):
    reply = await daemon.http(request_bytes)
    assert_refused(reply, "D003", "request body is empty")  # before: D001 from expat
    assert reply.body == {}


async def test_an_http_client_posting_an_empty_body(daemon):
    def post() -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(*daemon.erp_http, timeout=30)
        try:
            conn.request("POST", "/", body=b"", headers={"Content-Type": "text/xml"})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    status, data = await trio.to_thread.run_sync(post)
    assert status == 200
    assert_refused(parse_reply(data), "D003", "request body is empty")


async def test_an_empty_body_with_a_query_string_that_is_no_document(daemon):
    reply = await daemon.http(b"POST /?foo=bar HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    assert_refused(reply, "D003")
    assert reply.info.startswith("request body is empty")


async def test_a_zero_length_tcp_document_is_d003_request_is_empty(daemon):
    for header in (b"00     ", b"0000000"):
        reply = await daemon.tcp(header)
        assert_refused(reply, "D003", "request is empty: the length header announces 0 bytes")


async def test_a_request_over_the_limit_is_answered_d002_while_the_erp_keeps_writing(daemon):
    # The ERP writes its whole request before it reads, as a Java client does;
    # the daemon answers after the header and must not reset the connection
    # under the reply by closing with the rest unread.
    xml = request_xml("310101", {"acno": ACNO_1}).replace(
        b"<ap>", b"<!--" + b"x" * (MAX_REQUEST + 100_000) + b"--><ap>")

    def send() -> bytes:
        with socket.create_connection(daemon.erp_tcp, timeout=30) as sock:
            sock.sendall(frame(xml))
            return read_until_eof(sock)

    for _ in range(3):
        reply = parse_reply(unframe(await trio.to_thread.run_sync(send)))
        assert_refused(reply, "D002")
        assert str(MAX_REQUEST) in reply.info


# -- a refusal to a huge bad value still comes back ---------------------------------------

HUGE = 300_000


def _with_raw(xml: bytes, placeholder: str, value: bytes) -> bytes:
    # ">" need not be escaped in element text, so a client may send it raw;
    # the reply must escape every one of them (4 bytes each).
    assert placeholder.encode() in xml
    return xml.replace(placeholder.encode(), value)


async def _both(daemon: Daemon, xml: bytes) -> list[Reply]:
    framed = frame(xml)
    http = (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml; charset=GBK\r\n"
            b"Content-Length: " + str(len(xml)).encode() + b"\r\n\r\n" + xml)
    return [await daemon.tcp(framed), await daemon.http(http)]


async def test_a_300_kb_bad_field_is_refused_with_a_short_excerpt(daemon):
    xml = _with_raw(request_xml("210201", transfer_body("1.00", pay_acno="PLACEHOLDER"),
                                req_no="HUGE-FIELD"), "PLACEHOLDER", b">" * HUGE)
    assert len(xml) < MAX_REQUEST
    for reply in await _both(daemon, xml):  # before: TCP closed without a reply
        assert_refused(reply, "E001")
        assert reply.head["req_no"] == "HUGE-FIELD"
        assert reply.info.startswith("pay_acno must be at most 32 letters, digits or '-': "
                                     "'" + ">" * 40 + "'…")
        assert reply.info.endswith(f"({HUGE} characters)")
        assert len(reply.raw) < 2000


async def test_a_300_kb_bad_req_no_is_refused_and_echoed_as_an_excerpt(daemon):
    xml = _with_raw(request_xml("310101", {"acno": ACNO_1}, req_no="PLACEHOLDER"),
                    "PLACEHOLDER", b">" * HUGE)
    for reply in await _both(daemon, xml):
        assert_refused(reply, "E001")
        assert "req_no" in reply.info and f"({HUGE} characters)" in reply.info
        assert reply.head["req_no"] == ">" * 40 + f"… ({HUGE} characters)"
        assert len(reply.raw) < 2000


@pytest.mark.parametrize("where", ["tr_code", "corp_no", "tag"])
async def test_other_huge_values_are_refused_with_short_replies(daemon, where):
    if where == "tag":  # the root element's name, opened and closed
        tag = b"t" * (HUGE // 2)
        xml = b"<" + tag + b"><head><tr_code>310101</tr_code></head><body/></" + tag + b">"
        code = "D003"
    else:
        xml = _with_raw(request_xml("310101", {"acno": ACNO_1}, head={where: "PLACEHOLDER"}),
                        "PLACEHOLDER", b">" * HUGE)
        code = "P005" if where == "tr_code" else "D005"
    for reply in await _both(daemon, xml):
        assert_refused(reply, code)
        assert len(reply.raw) < 2000, reply


# -- 310204 by the bank's serial ------------------------------------------------------------


async def test_310204_by_the_serial_of_a_transfer_sent_without_req_no(daemon):
    sent = await daemon.tcp(frame(request_xml("210201", transfer_body("3.21"))))
    assert sent.ok and sent.body == {"stat": "1"}, sent
    serial, assigned = sent.head["serial_no"], sent.head["req_no"]
    for flag in ("1", "2", ""):
        reply = await daemon.tcp(frame(request_xml(
            "310204", {"query_flag": flag, "ogl_serial_no": serial}, req_no=f"Q-SERIAL-{flag}")))
        assert reply.ok, reply
        assert reply.body["stat"] == "1", (flag, reply)  # before: 4, no such record
        assert reply.body["ogl_serial_no"] == serial
        assert reply.body["amt"] == "3.21" and reply.body["rcv_acno"] == ACNO_2
        assert reply.info == f"instruction success, req_no {assigned}"
    only_req_no = await daemon.tcp(frame(request_xml(
        "310204", {"query_flag": "3", "ogl_serial_no": serial}, req_no="Q-SERIAL-3")))
    assert only_req_no.body["stat"] == "4"


async def test_310204_refuses_an_unknown_query_flag(daemon):
    reply = await daemon.tcp(frame(request_xml(
        "310204", {"query_flag": "4", "ogl_serial_no": "X"}, req_no="Q-FLAG")))
    assert_refused(reply, "E001")
    assert "query_flag" in reply.info

