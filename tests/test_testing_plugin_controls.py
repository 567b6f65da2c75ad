"""The plugin's bank controls (``bank_clock``, ``bank_rules``, ``bank_journal``) in a
generated test module, run as an ERP team's suite runs it: in-process, and
spread over two pytest-xdist workers.
"""

from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ["pytester"]

MODULE = textwrap.dedent('''
    from datetime import date, datetime
    from decimal import Decimal

    import pytest

    from config.seed import DEMO_SEED

    TREASURY, PAYROLL = "310066726018010000001", "310066726018010000002"
    ZHANG_ICBC = "6222020200000000001"


    @pytest.fixture
    def directlink_seed():
        return DEMO_SEED.replace(
            '# business_date: "2026-11-24"    # optional; default: today',
            'business_date: "2026-12-01"')


    def test_clock(bank_clock, erp, bank_journal):
        reading = bank_clock.set("2026-12-01 09:00")
        assert reading.now == datetime(2026, 12, 1, 9, 0)
        assert bank_clock.business_date == date(2026, 12, 1)
        assert erp.transfer(TREASURY, ZHANG_ICBC, "10.00", req_no="CLK-1")["stat"] == "0"
        assert bank_clock.advance(hours=2).now == datetime(2026, 12, 1, 11, 0)
        assert erp.status("CLK-1")["stat"] == "1"  # one clearing cycle ran
        assert bank_clock.end_of_day() == date(2026, 12, 2)
        assert bank_clock.now == datetime(2026, 12, 2, 0, 0)
        bank_journal.assert_called(times=1, req_no="CLK-1", at="2026-12-01T09:00:00")
        bank_journal.assert_called(times=1, kind="end_of_day", business_date="2026-12-02")


    @pytest.mark.parametrize("code", ["E008", "E010"])
    def test_rules(bank_rules, bank_clock, erp, bank_journal, code):
        bank_clock.set("2026-12-01 10:00")
        bank_rules.add(name="refuse", when={"amount": {"min": "100.00"}},
                       then={"action": "refuse", "code": code, "message": "not today"})
        refused = erp.transfer(TREASURY, PAYROLL, Decimal("100.00"), req_no="R-1")
        assert (refused.code, refused.info) == (code, "not today")
        assert erp.transfer(TREASURY, PAYROLL, "99.99", req_no="R-2").ok
        assert bank_rules.counts() == {"refuse": (1, 1)}
        assert bank_rules.fired("refuse") == 1
        bank_rules.clear()
        assert erp.transfer(TREASURY, PAYROLL, "100.00", req_no="R-3").ok
        bank_journal.assert_called(times=1, req_no="R-1", rule="refuse")
        bank_journal.assert_called(times=1, req_no="R-3", rule=None)
        assert erp.available(TREASURY) == Decimal("999800.01")


    def test_journal(bank_journal, erp):
        assert erp.transfer(TREASURY, PAYROLL, "3.00", req_no="J-1").ok
        (event,) = bank_journal.assert_called(req_no="J-1", amt="3.00")
        assert event["effect"][0]["legs"][0] == {"acno": TREASURY, "side": "D", "amount": 300}
        bank_journal.clear()
        bank_journal.assert_not_called(req_no="J-1")
        with pytest.raises(AssertionError, match="expected at least one request event"):
            bank_journal.assert_called(req_no="J-1")
''')


def test_the_controls_in_a_generated_module(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(MODULE)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)


def test_the_controls_under_xdist(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(MODULE)
    result = pytester.runpytest_subprocess("-p", "xdist", "-n", "2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
