"""End to end through ``directlink up``: an ERP's requests over raw TCP and HTTP.

One ``up`` process (demo seed, ports 0) serves the module; every request goes
through the real daemon, signed and encrypted (certflag=1), to the real core
and its ledger. Balances are read back with 310101 (cell 14 = available
balance), so every assertion is about what an ERP would see.
"""

from __future__ import annotations

import re
import signal
import time
from decimal import Decimal

import pytest

from tests.erp_client import (
    ACNAME,
    ACNO_1,
    ACNO_2,
    ACNO_FROZEN,
    WANG_WU,
    ErpClient,
    Running,
    cli,
    parse_reply,
    payment_body,
    request_xml,
    running_up,
    send_tcp,
    transfer_body,
    unique_req_no,
)

ACCOUNT_HEADER = ["户名", "账号", "币种", "余额", "可用余额", "开户日期", "账户类型", "开户行",
                  "错误信息", "成功标志"]
ENTRY_HEADER = ["交易日期", "交易时间", "流水号", "借贷标志", "发生额", "余额", "对方账号",
                "对方户名", "摘要", "企业流水号", "凭证号"]
REPLY_HEAD = ["tr_code", "corp_no", "req_no", "serial_no", "ans_no", "next_no", "tr_acdt",
              "tr_time", "ans_code", "ans_info", "particular_code", "particular_info",
              "atom_tr_count", "reserved"]
#: Fields of a reply that legitimately differ between two answers to one request.
REPLY_CLOCK = ("tr_acdt", "tr_time")


@pytest.fixture(params=["tcp", "http"])
def erp(request: pytest.FixtureRequest, up_system: Running) -> ErpClient:
    return up_system.client(request.param)


def entries(erp: ErpClient, acno: str) -> list[list[str]]:
    reply = erp.send("310201", {"acno": acno}, req_no=unique_req_no("D"))
    assert reply.ok, reply
    rows = reply.table()
    assert rows[0] == ENTRY_HEADER
    return rows[1:]


def entry_for(erp: ErpClient, acno: str, req_no: str) -> list[str]:
    found = [row for row in entries(erp, acno) if row[9] == req_no]
    assert len(found) == 1, (acno, req_no, found)
    return found[0]


def without_clock(reply) -> tuple[dict, dict]:
    head = {k: v for k, v in reply.head.items() if k not in REPLY_CLOCK}
    return head, reply.body


# -- READY and the reply format ----------------------------------------------------


def test_ready_line_names_three_listening_addresses(up_system: Running) -> None:
    assert re.fullmatch(r"READY erp_tcp=127\.0\.0\.1:\d+ erp_http=127\.0\.0\.1:\d+ "
                        r"core=127\.0\.0\.1:\d+", up_system.ready_line)
    ports = {address[1] for address in up_system.addresses.values()}
    assert len(ports) == 3 and 0 not in ports
    # The hints went to stderr, not stdout.
    assert "directlink is up" in up_system.stderr()


def test_310101_one_account(erp: ErpClient) -> None:
    reply = erp.send("310101", {"acno": ACNO_1}, req_no=unique_req_no())
    assert reply.head_order == REPLY_HEAD
    assert reply.head["particular_code"] == "0000" and reply.head["ans_code"] == "0"
    assert reply.head["tr_code"] == "310101" and reply.head["corp_no"] == "0000000001"
    assert reply.body["field_num"] == "10" and reply.body["record_num"] == "1"
    assert reply.body["file_flag"] == "0"
    cells = reply.body["serial_record"].split("|")
    assert len(cells) == 21 and cells[20] == ""
    assert cells[:10] == ACCOUNT_HEADER
    assert cells[10] == ACNAME and cells[11] == ACNO_1 and cells[12] == "CNY"
    assert re.fullmatch(r"\d+\.\d\d", cells[14]), cells[14]
    assert Decimal(cells[14]) <= Decimal(cells[13])
    assert cells[18] == ""
    assert cells[19] == "0"


def test_310101_every_account_of_the_enterprise(erp: ErpClient) -> None:
    reply = erp.send("310101", {"acno": ""}, req_no=unique_req_no())
    assert reply.ok, reply
    rows = reply.table()
    assert rows[0] == ACCOUNT_HEADER
    by_acno = {row[1]: row for row in rows[1:]}
    assert {ACNO_1, ACNO_2, ACNO_FROZEN} <= set(by_acno)
    assert by_acno[ACNO_1][9] == "0"
    # Another enterprise's account is not listed.
    assert not any(acno.endswith("0101") for acno in by_acno)


# -- transfers ---------------------------------------------------------------------


def test_same_bank_transfer_moves_exactly_the_amount(erp: ErpClient) -> None:
    payer, payee = erp.balance(ACNO_1), erp.balance(ACNO_2)
    req_no = unique_req_no()
    reply = erp.send("210201", transfer_body("123.45", cert_no="V-1"), req_no=req_no)
    assert reply.ok and reply.head["ans_code"] == "0", reply
    assert reply.body == {"stat": "1"}
    assert reply.head["req_no"] == req_no
    assert reply.head["serial_no"]
    assert erp.balance(ACNO_1) == payer - Decimal("123.45")
    assert erp.balance(ACNO_2) == payee + Decimal("123.45")

    # 310201: a debit on the payer, a credit on the payee, both naming the req_no.
    debit = entry_for(erp, ACNO_1, req_no)
    assert debit[3] == "D" and debit[4] == "123.45" and debit[6] == ACNO_2
    assert debit[10] == "V-1"
    assert Decimal(debit[5]) == payer - Decimal("123.45")
    credit = entry_for(erp, ACNO_2, req_no)
    assert credit[3] == "C" and credit[4] == "123.45" and credit[6] == ACNO_1
    assert debit[2] == credit[2] == reply.head["serial_no"]

    # 310301 over the entry's business date finds the same entry.
    date = debit[0]
    history = erp.send("310301", {"acno": ACNO_1, "start_date": date, "end_date": date,
                                  "begin_no": "1", "query_num": "500"},
                       req_no=unique_req_no())
    assert history.ok, history
    rows = history.table()
    assert rows[0] == ENTRY_HEADER
    assert debit in rows[1:]
    assert int(history.body["total_num"]) >= len(rows) - 1
    assert history.body["more_flag"] in ("0", "1")

    # 310204 reports it as a success with its details.
    status = erp.status(req_no)
    assert status.body["stat"] == "1"
    assert status.body["amt"] == "123.45"
    assert status.body["pay_acno"] == ACNO_1 and status.body["rcv_acno"] == ACNO_2


def test_interbank_payment_is_processing_then_settles(erp: ErpClient,
                                                     up_system: Running) -> None:
    payer = erp.balance(ACNO_1)
    req_no = unique_req_no()
    reply = erp.send("210224", payment_body("300.00"), req_no=req_no)
    assert reply.ok, reply
    assert reply.body == {"tranStatus": "34"}
    settled = erp.wait_status(req_no, home=up_system.home)
    assert settled.body["stat"] == "1", settled
    assert settled.body["amt"] == "300.00"
    assert settled.body["rcv_bank_no"] == "102100099996"
    assert erp.balance(ACNO_1) == payer - Decimal("300.00")


def test_payment_to_a_closed_account_is_returned(erp: ErpClient, up_system: Running) -> None:
    payer = erp.balance(ACNO_1)
    req_no = unique_req_no()
    reply = erp.send("210224", payment_body("250.00", WANG_WU), req_no=req_no)
    assert reply.ok, reply
    assert reply.body == {"tranStatus": "34"}
    final = erp.wait_status(req_no, home=up_system.home)
    assert final.body["stat"] == "2", final
    assert final.body["err_msg"], final
    assert erp.balance(ACNO_1) == payer
    assert erp.ledger_balance(ACNO_1) == payer


def test_status_of_an_unknown_req_no_is_4(erp: ErpClient) -> None:
    assert erp.status(unique_req_no("NONE")).body["stat"] == "4"


# -- req_no ------------------------------------------------------------------------


def test_empty_req_no_gets_one_assigned(erp: ErpClient) -> None:
    payer = erp.balance(ACNO_1)
    first = erp.send("210201", transfer_body("1.00"), req_no="")
    second = erp.send("210201", transfer_body("1.00"), req_no="")
    assert first.ok and second.ok, (first, second)
    assigned = first.head["req_no"], second.head["req_no"]
    assert all(re.fullmatch(r"DL\d{14}\d{6}[0-9a-f]{8}", r) for r in assigned), assigned
    assert assigned[0] != assigned[1]
    # Two requests, two executions: the assigned req_no identifies each.
    assert erp.balance(ACNO_1) == payer - Decimal("2.00")
    for req_no in assigned:
        status = erp.status(req_no)
        assert status.body["stat"] == "1" and status.body["amt"] == "1.00"


def test_retry_with_the_same_req_no_gets_the_original_answer(up_system: Running) -> None:
    tcp, http = up_system.client("tcp"), up_system.client("http")
    payer = tcp.balance(ACNO_1)
    req_no = unique_req_no()
    original = tcp.send("210201", transfer_body("77.70"), req_no=req_no)
    assert original.ok, original
    # The same request again, once per transport, and once with the same
    # amount written differently: the same answer, executed once.
    retries = [tcp.send("210201", transfer_body("77.70"), req_no=req_no),
               http.send("210201", transfer_body("77.70"), req_no=req_no),
               tcp.send("210201", transfer_body("77.7"), req_no=req_no)]
    for retry in retries:
        assert without_clock(retry) == without_clock(original)
    assert tcp.balance(ACNO_1) == payer - Decimal("77.70")
    assert len([r for r in entries(tcp, ACNO_1) if r[9] == req_no]) == 1


def test_same_req_no_with_other_content_is_refused(erp: ErpClient) -> None:
    payer, payee = erp.balance(ACNO_1), erp.balance(ACNO_2)
    req_no = unique_req_no()
    assert erp.send("210201", transfer_body("10.00"), req_no=req_no).ok
    for body in (transfer_body("10.01"), transfer_body("10.00", summary="other")):
        reply = erp.send("210201", body, req_no=req_no)
        assert reply.code == "E011", reply
        assert reply.head["ans_code"] == "1"
        assert req_no in reply.info or "req_no" in reply.info, reply
        assert reply.body == {}
    assert erp.balance(ACNO_1) == payer - Decimal("10.00")
    assert erp.balance(ACNO_2) == payee + Decimal("10.00")
    assert erp.status(req_no).body["amt"] == "10.00"


def test_amount_with_one_decimal_equals_two_decimals(erp: ErpClient) -> None:
    payer = erp.balance(ACNO_1)
    one, two, whole = unique_req_no(), unique_req_no(), unique_req_no()
    assert erp.send("210201", transfer_body("12.5"), req_no=one).ok
    assert erp.send("210201", transfer_body("12.50"), req_no=two).ok
    assert erp.send("210201", transfer_body("7"), req_no=whole).ok
    assert erp.balance(ACNO_1) == payer - Decimal("32.00")
    assert erp.status(one).body["amt"] == erp.status(two).body["amt"] == "12.50"
    assert erp.status(whole).body["amt"] == "7.00"


# -- encodings ---------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["GBK", "GB18030", "UTF-8"])
def test_chinese_text_round_trips(erp: ErpClient, encoding: str) -> None:
    summary = "货款（测试）张三"
    req_no = unique_req_no()
    reply = erp.send("210201", transfer_body("2.00", summary=summary), req_no=req_no,
                     encoding=encoding)
    assert reply.ok, reply
    assert reply.encoding.upper() == encoding
    assert reply.raw.startswith(f'<?xml version="1.0" encoding="{encoding}"?>'.encode())
    row = entry_for(erp, ACNO_1, req_no)
    assert row[8] == summary


def test_gbk_reply_bytes_are_gbk(up_system: Running) -> None:
    xml = send_tcp(up_system.erp_tcp, request_xml("310201", {"acno": ACNO_1}))
    assert "交易日期".encode("gbk") in xml
    assert "交易日期".encode() not in xml
    assert parse_reply(xml).ok


# -- log, ledger, restart -------------------------------------------------------------


def test_daemon_logs_one_line_per_request_and_no_secrets(up_system: Running) -> None:
    erp = up_system.client()
    req_no = unique_req_no("LOG")
    erp.send("310101", {"acno": ACNO_1}, req_no=req_no)
    log = (up_system.home / "log" / "directlink.log").read_text(encoding="utf-8")
    assert len([line for line in log.splitlines() if f"req_no={req_no} " in line]) == 1
    password = (up_system.home / "etc" / "password").read_text().strip()
    assert password and password not in log
    assert "PRIVATE KEY" not in log


def test_core_check_passes(up_system: Running) -> None:
    result = cli("core", "check", "--home", str(up_system.home), check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout


def test_second_up_keeps_data_and_sigterm_exits_promptly(tmp_path) -> None:
    home = tmp_path / "home"
    req_no = unique_req_no()
    with running_up(home) as first:
        erp = first.client()
        original = erp.send("210201", transfer_body("500.00"), req_no=req_no)
        assert original.ok, original
        balances = erp.balance(ACNO_1), erp.balance(ACNO_2)
        assert balances[0] == Decimal("999500.00")
        started = time.monotonic()
        assert first.stop(signal.SIGTERM) == 0
        assert time.monotonic() - started < 10
    assert cli("core", "check", "--home", str(home), check=False).returncode == 0
    with running_up(home) as second:
        assert "created" not in second.stderr()
        erp = second.client()
        assert (erp.balance(ACNO_1), erp.balance(ACNO_2)) == balances
        # Exactly once survives the restart: the retry gets the original answer.
        retry = erp.send("210201", transfer_body("500.00"), req_no=req_no)
        assert without_clock(retry) == without_clock(original)
        assert erp.balance(ACNO_1) == balances[0]
        started = time.monotonic()
        assert second.stop(signal.SIGINT) == 0
        assert time.monotonic() - started < 10
