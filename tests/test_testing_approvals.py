"""The plugin's ``bank_approvals`` in a generated test module, as an ERP team's suite uses it.

The manual's four-band example (etc/seed-controls.yaml): the ERP's transfer
is answered A001 and waits; the test plays the enterprise's approvers, and
the bank judges their decisions with its own rules.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

SEED = Path(__file__).resolve().parent.parent / "etc" / "seed-controls.yaml"

MODULE = textwrap.dedent('''
    from decimal import Decimal

    import pytest

    from directlink.testing import ApprovalRefused

    TREASURY, DIRECTED = "310066726018010000001", "310066726018010000002"
    SEED = {seed!r}


    @pytest.fixture
    def directlink_seed():
        return open(SEED, encoding="utf-8").read()


    def test_a_band_2_transfer_waits_for_both_levels(erp, bank_approvals, directlink_bank):
        reply = erp.transfer(TREASURY, DIRECTED, "1500000.00", req_no="AP-1")
        assert (reply.code, reply.head["ans_code"], reply["stat"]) == ("A001", "2", "0")
        assert reply.awaiting and not reply.unknown and not reply.ok
        (waiting,) = bank_approvals.waiting()
        assert (waiting.req_no, waiting.level, waiting.levels) == ("AP-1", 1, 2)
        assert waiting.waiting_for == ("B01",)
        assert bank_approvals.waiting("C01") == []
        with pytest.raises(ApprovalRefused) as refused:
            bank_approvals.approve("AP-1", "C01")
        assert refused.value.code == "E036"
        first = bank_approvals.approve("AP-1")
        assert (first.auth_state, first.auth_level, first.waiting_for) == ("1", 1, ("C01",))
        assert erp.status("AP-1")["stat"] == "0"
        last = bank_approvals.approve("AP-1", "C01")
        assert (last.stat, last.auth_state) == ("1", "2")
        assert erp.status("AP-1")["stat"] == "1"
        assert erp.available(TREASURY) == Decimal("48500000.00")
        assert directlink_bank.check().ok


    def test_authorize_approves_every_level_and_reject_cancels(erp, bank_approvals):
        erp.transfer(TREASURY, DIRECTED, "3500000.00", req_no="AP-2")  # B01, C01, D01
        done = bank_approvals.authorize("AP-2")
        assert (done.stat, done.auth_state, done.auth_level) == ("1", "2", 3)
        erp.transfer(TREASURY, DIRECTED, "10.00", req_no="AP-3")
        rejected = bank_approvals.reject("AP-3")
        assert (rejected.stat, rejected.auth_state) == ("2", "3")
        assert erp.status("AP-3")["stat"] == "2"
        with pytest.raises(ApprovalRefused, match="E032"):
            bank_approvals.approve("AP-3")
''')


def test_bank_approvals_in_a_generated_module(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(MODULE.format(seed=str(SEED)))
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
