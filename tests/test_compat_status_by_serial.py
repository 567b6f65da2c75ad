"""310204 by the bank's serial, at the bank: an integration that kept only ``serial_no``.

An ERP that sends a transfer with an empty ``req_no`` (the daemon assigns
one) often keeps only the reply's ``serial_no`` and later asks 310204 with
``ogl_serial_no`` = that serial. ``query_flag`` 1 (the default) tries the
enterprise's req_no first, then its bank serials; 2 is the serial only, 3
the req_no only. Another enterprise's serial is never found.
"""

from __future__ import annotations

import pytest

from core_sim import instructions
from core_sim.bank import Bank
from core_sim.check import check_ledger
from protocol import codes
from tests.test_bank import (
    A1,
    A2,
    B1,
    CORP,
    OTHER_CORP,
    FakeClock,
    make_seed,
    payment,
    query,
    transfer,
)


@pytest.fixture
def bank(tmp_path):
    db = tmp_path / "core.db"
    bank = Bank.open(db, seed=make_seed(), clock=FakeClock())
    yield bank
    bank.close()
    report = check_ledger(db)
    assert report.ok, str(report)


def status(bank: Bank, key: str, flag: str = "1", corp: str = CORP):
    reply = bank.execute(query("310204", corp, query_flag=flag, ogl_serial_no=key))
    assert reply.ret_code == codes.OK.code, reply
    return reply


def executed(bank: Bank, request) -> str:
    reply = bank.execute(request)
    assert reply.ret_code == codes.OK.code and reply.serial_no, reply
    return reply.serial_no


def test_the_default_finds_a_transfer_by_its_bank_serial(bank):
    serial = executed(bank, transfer("DL-ASSIGNED-1", 12_345))
    by_req_no = status(bank, "DL-ASSIGNED-1")
    by_serial = status(bank, serial)
    assert by_serial.fields["stat"] == "1"  # today: 4, no such record
    assert by_serial.fields["ogl_serial_no"] == serial
    assert {k: v for k, v in by_serial.fields.items() if k != "ogl_serial_no"} == \
        {k: v for k, v in by_req_no.fields.items() if k != "ogl_serial_no"}
    assert by_serial.fields["amt"] == 12_345
    # The body has no field for the req_no: the message gives it back.
    assert by_serial.ret_msg == "instruction success, req_no DL-ASSIGNED-1"
    # An empty query_flag is the default.
    assert status(bank, serial, flag="").fields["stat"] == "1"


def test_flag_2_is_the_serial_only_and_flag_3_the_req_no_only(bank):
    serial = executed(bank, transfer("R-FLAGS", 100))
    assert status(bank, serial, flag="2").fields["stat"] == "1"
    assert status(bank, "R-FLAGS", flag="2").fields["stat"] == "4"
    assert status(bank, "R-FLAGS", flag="3").fields["stat"] == "1"
    reply = status(bank, serial, flag="3")
    assert reply.fields["stat"] == "4"
    assert reply.ret_msg == f"no such req_no: {serial}"


def test_another_enterprises_serial_is_no_such_record(bank):
    theirs = executed(bank, transfer("THEIRS", 100, pay=B1, rcv=A1, corp=OTHER_CORP))
    assert status(bank, theirs, corp=OTHER_CORP).fields["stat"] == "1"
    for flag in ("1", "2"):
        reply = status(bank, theirs, flag=flag)
        assert reply.fields["stat"] == "4", flag
        assert reply.fields["pay_acno"] == "" and reply.fields["amt"] == 0


def test_the_req_no_comes_first(bank):
    first = executed(bank, transfer("R-FIRST", 100))
    # An ERP whose own req_no happens to equal the first transfer's serial.
    executed(bank, transfer(first, 200, pay=A2, rcv=A1))
    assert status(bank, first).fields["amt"] == 200
    assert status(bank, first, flag="2").fields["amt"] == 100


def test_an_inter_bank_payment_keeps_its_serial_through_clearing(bank):
    serial = executed(bank, payment("P-CLEAR", 5_000, urgent="1"))
    assert status(bank, serial).fields["stat"] == "0"
    bank.run_clearing(force_batch=True)
    assert status(bank, serial).fields["stat"] == "1"
    # The settling entry's serial is the clearing run's, not the payment's.
    (settle,) = bank.connection.execute(
        "SELECT serial_no FROM entries WHERE kind = 'settle'").fetchone()
    assert status(bank, settle).fields["stat"] == "4"


def test_a_refused_transfer_has_no_serial_and_is_found_by_req_no(bank):
    reply = bank.execute(transfer("R-REFUSED", 10**12))
    assert reply.ret_code != codes.OK.code and reply.serial_no == ""
    assert status(bank, "R-REFUSED").fields["stat"] == "2"


def test_the_serial_lookup_is_an_index_search(bank):
    executed(bank, transfer("R-PLAN", 100))
    conn = bank.connection
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    try:
        instructions.find_by_serial(conn, CORP, "2026112400000001")
    finally:
        conn.set_trace_callback(None)
    (sql,) = [s for s in statements if "FROM entries" in s]
    plan = " ".join(row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + sql))
    assert "SCAN" not in plan, plan  # by entries.serial_no (unique), then instructions.id


def test_an_unknown_query_flag_is_refused(bank):
    reply = bank.execute(query("310204", query_flag="4", ogl_serial_no="X"))
    assert reply.ret_code == codes.INVALID_FIELD.code and "query_flag" in reply.ret_msg
