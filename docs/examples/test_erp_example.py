"""An ERP team's tests against a real directlink bank: the example of
docs/testing-with-directlink.md.

With directlink installed (``pip install directlink``), the fixtures
``directlink_bank``, ``directlink_client``, ``erp``, ``bank_clock``,
``bank_rules`` and ``bank_journal`` are there without any import or
conftest.py. Each test gets a fresh bank and client daemon; the bank's
ledger is checked when the test ends. This file runs in directlink's
own CI (pyproject.toml lists docs/examples in ``testpaths``).
"""

from decimal import Decimal

import pytest

TREASURY = "310066726018010000001"  # the demo seed's enterprise: 1,000,000.00
PAYROLL = "310066726018010000002"  # the same enterprise: 250,000.00
ZHANG_SAN_ICBC = "6222020200000000001"  # an account at another bank


def test_balance(erp):
    reply = erp.balance(TREASURY)
    assert reply.ok, reply.info
    (account,) = reply.table()
    assert account["账号"] == TREASURY
    assert Decimal(account["可用余额"]) == Decimal("1000000.00")


def test_transfer_moves_money_once(erp):
    reply = erp.transfer(TREASURY, PAYROLL, Decimal("1250.50"), req_no="ERP-T-0001")
    assert reply.ok and reply["stat"] == "1", reply.info

    # The same req_no again is a retry: answered, not executed twice.
    again = erp.transfer(TREASURY, PAYROLL, Decimal("1250.50"), req_no="ERP-T-0001")
    assert again.ok and again.serial_no == reply.serial_no
    # The same req_no with other content is refused with its own code.
    assert erp.transfer(TREASURY, PAYROLL, "9.99", req_no="ERP-T-0001").code == "E011"

    assert erp.available(TREASURY) == Decimal("998749.50")
    assert erp.status("ERP-T-0001")["stat"] == "1"


def test_inter_bank_payment_settles_in_clearing(erp, directlink_bank):
    reply = erp.payment(TREASURY, ZHANG_SAN_ICBC, "500.00", req_no="ERP-P-0001")
    assert reply.ok and reply["tranStatus"] == "34", reply.info  # accepted, processing
    directlink_bank.clear()  # `directlink core clear`: a clearing run now
    assert erp.wait_status("ERP-P-0001")["stat"] == "1"  # 310204 until final


def test_third_payment_of_the_day_is_returned(erp, bank_rules, bank_clock, bank_journal):
    bank_clock.freeze()  # no clearing runs until the test says so
    bank_rules.add(name="third-returns",
                   when={"tr_code": "210224", "nth": 3},
                   then={"action": "return", "message": "account closed"})
    for n in range(3):
        erp.payment(TREASURY, ZHANG_SAN_ICBC, "100.00", req_no=f"ERP-P-{n}")
    bank_clock.advance("1d")  # past end of day: clearing settles or returns
    assert erp.status("ERP-P-2")["stat"] == "2"  # returned
    assert erp.status("ERP-P-1")["stat"] == "1"  # settled
    bank_journal.assert_called(tr_code="210224", rule="third-returns", times=1)
    bank_journal.assert_called(kind="end_of_day")


def test_payroll_batch_inline(erp):
    reply = erp.batch_pay(PAYROLL, [
        ("6222600100000000001", "张三", "3000.00", "S-001"),
        ("6222600100000000002", "李四", "2000.00", "S-002"),
        ("6222600100000000003", "王伍", "800.00", "S-003"),  # not the holder's name
    ], summary="12月工资", req_no="ERP-B-0001")
    assert reply.ok and reply["state"] == "3", reply.info
    results = {item["busino"]: (item["sucFlg"], item["err_code"]) for item in reply.items}
    assert results == {"S-001": ("F", ""), "S-002": ("F", ""), "S-003": ("E", "E015")}


def test_premium_collection_by_file(erp):
    reply = erp.batch_collect(TREASURY, [
        ("6222600100000000001", "张三", "AG0000000001", "120.00", "P-001"),
        ("6222600100000000003", "王五", "AG0000000003", "100.00", "P-002"),  # 10.00 left
    ], file="premiums.txt", req_no="ERP-C-0001")
    assert reply.ok, reply.info
    status = erp.wait_batch("ERP-C-0001")
    assert (status["ok_count"], status["fail_count"]) == ("1", "1")

    written = erp.batch_status("ERP-C-0001", result_file=True)
    lines = erp.read_result(written["filename"])
    assert [(line[4], line[5]) for line in lines] == [("P-001", "F"), ("P-002", "E")]


def test_http_transport(erp):
    assert erp.over("http").balance(PAYROLL).ok


# A bank of your own: override the seed (YAML text, a pathlib.Path or a dict) for
# a module, a class or a conftest.py; here for one class.
OUR_BANK = """
bank: {name: Test Bank, bank_no: "301290000007"}
enterprises:
  - corp_no: "0000000042"
    name: ACME Trading
    users: [{user_no: "OP1"}]
    accounts:
      - {acno: "6000000001", name: ACME Trading, balance: "100.00"}
      - {acno: "6000000002", name: ACME Trading, balance: "0.00"}
"""


class TestOwnBank:
    @pytest.fixture
    def directlink_seed(self):
        return OUR_BANK

    def test_insufficient_funds_is_refused_and_moves_nothing(self, erp):
        reply = erp.transfer("6000000001", "6000000002", "100.01")
        assert reply.ans_code == "1" and reply.code == "E008", reply
        assert erp.available("6000000001") == Decimal("100.00")
