"""``directlink send …``: the pure XML helpers, and the commands against a fake daemon.

The fake is a thread on 127.0.0.1 (port 0) that reads one 7-byte framed
request per connection, answers a canned framed reply chosen by tr_code and
closes, as the daemon's raw TCP listener does.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from daemon.erp_framing import HEADER_LEN, frame_reply, parse_length_header
from daemon.erp_xml import parse_request, render_reply
from directlink.cli import send
from directlink.commands.send import display_width, render_table
from directlink.commands.send_queries import accounts_table
from directlink.commands.send_wire import (
    CST,
    ReplyError,
    account_rows,
    build_request,
    new_req_no,
    parse_reply,
    parse_table,
    unframe,
)

ACNO = "310066726018010000001"
ACNO2 = "310066726018010000002"
ACCOUNTS = ("户名|账号|币种|余额|可用余额|开户日期|账户类型|开户行|错误信息|成功标志|"
            f"Demo Insurance Co., Ltd.|{ACNO}|CNY|1000000.00|999000.00|20200101|01|"
            "Simulated Bank||0|"
            f"示范保险|{ACNO2}|CNY|5.00|5.00|20200101|01|Simulated Bank||0|")
ENTRIES = ("交易日期|交易时间|流水号|借贷标志|发生额|余额|对方账号|对方户名|摘要|企业流水号|凭证号|"
           f"20261124|101500|2026112400000102|D|1000.00|999000.00|{ACNO2}|示范保险|货款|"
           "ERP1|PAY-0001|")


# -- pure helpers --------------------------------------------------------------


def test_build_request_is_a_gbk_erp_document() -> None:
    now = datetime(2026, 11, 24, 10, 15, 0, tzinfo=CST)
    xml = build_request("210201", {"pay_acno": ACNO, "summary": "货款 <&>"}, req_no="R1",
                        corp_no="0000000001", user_no="001", now=now)
    assert xml.startswith(b'<?xml version="1.0" encoding="GBK"?><ap><head><tr_code>210201<')
    assert "货款".encode("gbk") in xml
    doc = parse_request(xml)  # the daemon's own parser accepts it
    assert doc.encoding == "GBK"
    assert doc.head["tr_code"] == "210201"
    assert doc.head["req_no"] == "R1"
    assert doc.head["corp_no"] == "0000000001" and doc.head["user_no"] == "001"
    assert doc.head["tr_acdt"] == "20261124" and doc.head["tr_time"] == "101500"
    assert doc.body == {"pay_acno": ACNO, "summary": "货款 <&>"}


def test_build_request_in_utf8_with_characters_gbk_lacks() -> None:
    xml = build_request("310101", {"acno": "€"}, req_no="R2", encoding="utf8")
    assert xml.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    assert parse_request(xml, encoding="GBK").body["acno"] == "€"
    gbk = build_request("310101", {"acno": "€"}, req_no="R2")
    assert b"&#8364;" in gbk and parse_request(gbk).body["acno"] == "€"


def test_new_req_no_is_unique_and_valid() -> None:
    numbers = {new_req_no() for _ in range(100)}
    assert len(numbers) == 100
    assert all(len(n) == 25 and n.isalnum() for n in numbers)


def test_parse_table_splits_header_and_rows() -> None:
    header, rows = parse_table(ACCOUNTS, 10)
    assert header[1] == "账号" and len(header) == 10
    assert len(rows) == 2 and all(len(row) == 10 for row in rows)
    cells = ACCOUNTS.split("|")
    assert cells[14] == "999000.00" and cells[19] == "0"  # as DESIGN.md numbers them
    assert rows[0][4] == cells[14]
    assert parse_table("", 10) == ([], [])
    with pytest.raises(ReplyError, match="not a multiple of field_num"):
        parse_table("a|b|c|", 2)


def test_account_rows_and_table() -> None:
    header, rows = parse_table(ACCOUNTS, 10)
    accounts = account_rows(header, rows)
    assert [a.acno for a in accounts] == [ACNO, ACNO2]
    first = accounts[0]
    assert (first.name, first.currency, first.balance, first.available, first.ok) == (
        "Demo Insurance Co., Ltd.", "CNY", "1000000.00", "999000.00", True)
    lines = accounts_table(accounts)
    assert lines[0].split() == ["account", "name", "currency", "balance", "available"]
    # Columns line up in a terminal even with CJK names (two columns each).
    assert len({display_width(line[: line.index("CNY")]) for line in lines[1:]}) == 1
    assert lines[1].endswith("1000000.00  999000.00")

    failed = "|".join([*header, "", "9999", "", "", "", "", "", "", "no such account", "1"]) + "|"
    (row,) = account_rows(*parse_table(failed, 10))
    assert not row.ok and row.error == "no such account"
    assert accounts_table([row])[0].split()[-1] == "error"


def test_render_table_right_aligns() -> None:
    assert render_table(["a", "amount"], [["x", "1.00"], ["yy", "100.00"]],
                        right=frozenset({1})) == ["a   amount", "x     1.00", "yy  100.00"]


def test_parse_reply_and_unframe() -> None:
    xml = render_reply({"tr_code": "310101", "req_no": "R1", "serial_no": "S1",
                        "ans_code": "0", "particular_code": "0000",
                        "particular_info": "success"},
                       {"serial_record": ACCOUNTS, "field_num": "10", "record_num": "2"})
    reply = parse_reply(unframe(frame_reply(xml) + b"\n"))
    assert reply.ok and not reply.unknown
    assert (reply.req_no, reply.serial_no) == ("R1", "S1")
    assert reply.field("serial_record") == ACCOUNTS  # GBK decoded from the declaration

    with pytest.raises(ReplyError, match="without a reply"):
        unframe(b"")
    with pytest.raises(ReplyError, match="cut short"):
        unframe(frame_reply(xml)[:-5])
    with pytest.raises(ReplyError, match="framing"):
        unframe(b"X12    <ap/>")
    with pytest.raises(ReplyError, match="well-formed"):
        parse_reply(b"<ap><head>")
    with pytest.raises(ReplyError, match="well-formed"):
        parse_reply(b'<!DOCTYPE ap [<!ENTITY x "y">]><ap><head/><body>&x;</body></ap>')


# -- against a fake daemon -------------------------------------------------------


def reply_xml(tr_code: str, req_no: str, *, code: str = "0000", info: str = "success",
              ans_code: str = "0", body: dict[str, str] | None = None) -> bytes:
    return render_reply({"tr_code": tr_code, "corp_no": "0000000001", "req_no": req_no,
                         "serial_no": "2026112400000101" if code == "0000" else "",
                         "ans_code": ans_code, "particular_code": code,
                         "particular_info": info}, body or {})


Answer = Callable[[dict[str, str], dict[str, object]], bytes | None]


class FakeErpServer:
    """Answers each framed request with ``answer(head, body)`` (None: close silently)."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[bytes] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.05)  # so that the loop sees close() promptly
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                try:
                    self._handle(conn)
                except OSError:
                    continue  # the client went away; serve the next one

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        header = self._read(conn, HEADER_LEN)
        xml = self._read(conn, parse_length_header(header, max_length=1 << 20))
        self.requests.append(xml)
        doc = parse_request(xml)
        reply = self.answer(doc.head, doc.body)
        if reply is not None:
            conn.sendall(frame_reply(reply))

    @staticmethod
    def _read(conn: socket.socket, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = conn.recv(size - len(data))
            if not chunk:
                raise ConnectionError("client closed early")
            data += chunk
        return data

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


def canned(head: dict[str, str], body: dict[str, object]) -> bytes:
    tr_code, req_no = head["tr_code"], head["req_no"]
    if tr_code == "310101":
        return reply_xml(tr_code, req_no, body={"serial_record": ACCOUNTS, "field_num": "10",
                                                "record_num": "2", "file_flag": "0",
                                                "filename": ""})
    if tr_code in ("310201", "310301"):
        return reply_xml(tr_code, req_no, body={"serial_record": ENTRIES, "field_num": "11",
                                                "record_num": "1", "total_num": "3",
                                                "begin_no": "1", "more_flag": "1"})
    if tr_code == "210201":
        if body["amt"] == "999.00":
            return reply_xml(tr_code, req_no, code="E008",
                             info="insufficient available funds", ans_code="1")
        return reply_xml(tr_code, req_no, body={"stat": "1"})
    if tr_code == "210224":
        return reply_xml(tr_code, req_no, code="D008", ans_code="2",
                         info="processing: outcome unknown, query with 310204",
                         body={"tranStatus": "20"})
    if tr_code == "310204":
        return reply_xml(tr_code, req_no, body={"ogl_serial_no": str(body["ogl_serial_no"]),
                                                "stat": "1", "amt": "12.50"})
    return reply_xml(tr_code, req_no, code="P005", info="unknown transaction code",
                     ans_code="1")


@pytest.fixture
def fake() -> Iterator[FakeErpServer]:
    server = FakeErpServer(canned)
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DIRECTLINK_PASSWORD", raising=False)
    monkeypatch.setenv("DIRECTLINK_HOME", str(tmp_path / "no-home"))


def invoke(server: FakeErpServer, *args: str) -> Result:
    return CliRunner().invoke(send, ["--host", "127.0.0.1", "--port", str(server.port),
                                     "--timeout", "5", *args])


def sent(server: FakeErpServer, index: int = -1):
    return parse_request(server.requests[index])


def test_balance_prints_the_accounts_table(fake: FakeErpServer) -> None:
    result = invoke(fake, "balance")
    assert result.exit_code == 0, result.output
    assert "result:    0000 success" in result.output
    assert "serial_no: 2026112400000101" in result.output
    assert ACNO in result.output and "999000.00" in result.output and "示范保险" in result.output
    assert "2 accounts" in result.output
    request = sent(fake)
    assert request.head["tr_code"] == "310101" and request.body == {"acno": ""}
    assert request.head["req_no"] in result.output
    assert request.head["corp_no"] == ""  # no config: the daemon fills it in
    assert request.encoding == "GBK"

    invoke(fake, "balance", ACNO)
    assert sent(fake).body == {"acno": ACNO}


def test_details_and_history(fake: FakeErpServer) -> None:
    result = invoke(fake, "details", ACNO)
    assert result.exit_code == 0, result.output
    assert "serial_no" in result.output and "D/C" in result.output
    assert "2026112400000102" in result.output and "1 entry" in result.output

    result = invoke(fake, "history", ACNO, "--from", "20261101", "--to", "20261124",
                    "--page", "3", "--page-size", "10")
    assert result.exit_code == 0, result.output
    assert sent(fake).body == {"acno": ACNO, "start_date": "20261101", "end_date": "20261124",
                               "begin_no": "21", "query_num": "10"}
    assert "more entries follow: --page 4" in result.output

    bad = invoke(fake, "history", ACNO, "--from", "20261399", "--to", "20261124")
    assert bad.exit_code == 2 and "not a date" in bad.output


def test_transfer_looks_up_names_and_succeeds(fake: FakeErpServer) -> None:
    result = invoke(fake, "transfer", "--from", ACNO, "--to", ACNO2, "--amount", "12.5",
                    "--req-no", "PAY-42", "--summary", "货款")
    assert result.exit_code == 0, result.output
    assert "stat: 1 (success)" in result.output
    assert "req_no:    PAY-42" in result.output
    assert [parse_request(x).head["tr_code"] for x in fake.requests] == ["310101", "210201"]
    request = sent(fake)
    assert request.head["req_no"] == "PAY-42"
    assert request.body["amt"] == "12.50"
    assert request.body["pay_acname"] == "Demo Insurance Co., Ltd."
    assert request.body["rcv_acname"] == "示范保险"
    assert request.body["summary"] == "货款"
    assert request.body["bank_flag"] == "0"


def test_transfer_refused_exits_1(fake: FakeErpServer) -> None:
    result = invoke(fake, "transfer", "--from", ACNO, "--to", "6222020200000000001",
                    "--to-name", "Zhang San", "--from-name", "Demo", "--other-bank",
                    "--bank-no", "102100099996", "--bank-name", "ICBC", "--amount", "999")
    assert result.exit_code == 1
    assert "result:    E008 insufficient available funds" in result.output
    assert len(fake.requests) == 1  # both names given: no lookup
    assert sent(fake).body["bank_flag"] == "1"
    assert sent(fake).body["rcv_bank_no"] == "102100099996"


def test_transfer_checks_its_options(fake: FakeErpServer) -> None:
    bad = invoke(fake, "transfer", "--from", ACNO, "--to", ACNO2, "--amount", "1.005")
    assert bad.exit_code == 2 and "more than two decimals" in bad.output
    unknown_payee = invoke(fake, "transfer", "--from", ACNO, "--to", "999", "--amount", "1")
    assert unknown_payee.exit_code == 1 and "--to-name" in unknown_payee.output
    assert not any(parse_request(x).head["tr_code"] == "210201" for x in fake.requests)


def test_interbank_with_unknown_outcome_exits_2(fake: FakeErpServer) -> None:
    result = invoke(fake, "interbank", "--from", ACNO, "--from-name", "Demo",
                    "--to", "6222020200000000001", "--to-name", "Zhang San",
                    "--bank-no", "102100099996", "--amount", "500", "--urgent")
    assert result.exit_code == 2
    assert "D008" in result.output
    assert "tranStatus: 20 (suspicious" in result.output
    assert "directlink send status" in result.output
    body = sent(fake).body
    assert body["partyid"] == "102100099996" and body["urgent_flag"] == "1"
    assert body["amt"] == "500.00"


def test_status(fake: FakeErpServer) -> None:
    result = invoke(fake, "status", "PAY-42")
    assert result.exit_code == 0, result.output
    assert sent(fake).body == {"query_flag": "1", "ogl_serial_no": "PAY-42"}
    assert "ogl_serial_no: PAY-42" in result.output
    assert "stat:          1 (success)" in result.output


def test_raw_sends_the_file_as_is(fake: FakeErpServer, tmp_path: Path) -> None:
    request = (b'<?xml version="1.0" encoding="GBK"?>\n<ap><head><tr_code>999999</tr_code>'
               b"<req_no>RAW1</req_no></head><body/></ap>\n")
    path = tmp_path / "request.xml"
    path.write_bytes(request)
    result = invoke(fake, "raw", str(path))
    assert fake.requests == [request]
    assert "<particular_code>P005</particular_code>" in result.output
    assert result.exit_code == 1


def test_uses_the_config_for_address_encoding_and_identity(fake: FakeErpServer,
                                                           tmp_path: Path) -> None:
    from tests.test_cli_config import init_home

    home = init_home(tmp_path, "--erp-port", str(fake.port))
    ini = home / "etc" / "directlink.ini"
    ini.write_text(ini.read_text().replace("encoding = GBK", "encoding = UTF-8"))
    result = CliRunner().invoke(send, ["--home", str(home), "balance"])
    assert result.exit_code == 0, result.output
    request = sent(fake)
    assert request.encoding == "UTF-8"
    assert (request.head["corp_no"], request.head["user_no"]) == ("0000000001", "001")


def test_connection_failures_are_one_line_errors(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    result = CliRunner().invoke(send, ["--host", "127.0.0.1", "--port", str(port), "balance"])
    assert result.exit_code == 1
    assert "cannot connect to the daemon at 127.0.0.1" in result.output
    assert "Traceback" not in result.output

    no_config = CliRunner().invoke(send, ["--home", str(tmp_path / "none"), "balance"])
    assert no_config.exit_code == 1 and "config init" in no_config.output


def test_lost_reply_to_a_payment_is_an_unknown_outcome() -> None:
    server = FakeErpServer(lambda head, body: None)  # reads the request, closes silently
    try:
        result = invoke(server, "transfer", "--from", ACNO, "--from-name", "A", "--to", ACNO2,
                        "--to-name", "B", "--amount", "1", "--req-no", "PAY-7")
        assert result.exit_code == 2
        assert "without a reply" in result.output
        assert "directlink send status PAY-7" in result.output

        query = invoke(server, "balance")
        assert query.exit_code == 1 and "without a reply" in query.output
    finally:
        server.close()


def test_timeout_is_reported() -> None:
    listener = socket.create_server(("127.0.0.1", 0))  # accepts (backlog), never answers
    try:
        result = CliRunner().invoke(send, [
            "--host", "127.0.0.1", "--port", str(listener.getsockname()[1]),
            "--timeout", "0.3", "status", "X"])
        assert result.exit_code == 1
        assert "no reply from 127.0.0.1" in result.output and "0.3 s" in result.output
    finally:
        listener.close()

