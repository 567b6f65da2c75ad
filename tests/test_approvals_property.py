"""Any sequence of signed decisions keeps the approval rules and the ledger whole.

Hypothesis drives random decisions — any operator, any level, approve or
reject, correctly signed or not — at instructions of every band of the
manual's example, and checks after each step that money moved exactly when
the instruction was authorized (once, for its amount), that a refused decision
changed nothing, and that ``core check`` holds.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.seed import parse_seed
from core_sim.bank import Bank, Request
from core_sim.check import check_ledger
from protocol import approval
from protocol.keys import BankKeyPair, SigningKey
from tests.test_approvals import A1, A2, BANDS, CORP, Clock, balance, decide, enroll, seed_text

OPERATORS = ("A01", "B01", "C01", "D01", "S01", "Z99")
#: "the next one who may": an operator of the waiting level, at that level (so that
#: sequences often get somewhere, and the rules are exercised after approvals too).
NEXT = "NEXT"
KEYS = {code: SigningKey.generate() for code in ("A01", "B01", "C01", "D01", "S01", "Z99")}

decisions = st.lists(st.tuples(
    st.sampled_from((*OPERATORS, NEXT, NEXT, NEXT)),
    st.integers(min_value=1, max_value=5),  # the level signed (NEXT: the waiting one)
    st.sampled_from((approval.APPROVE, approval.APPROVE, approval.APPROVE, approval.REJECT)),
    st.booleans(),  # signed by the operator's own key (else by another's)
), max_size=12)


OUTCOMES: dict[str | None, int] = {}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(band=st.sampled_from(range(len(BANDS))), steps=decisions)
def test_random_decisions_keep_the_rules(band, steps):
    amt, levels = BANDS[band]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ledger.db"
        bank = Bank.open(path, seed=parse_seed(seed_text(), "seed"), clock=Clock(),
                         receipt_keys=BankKeyPair.generate())
        try:
            for code in ("B01", "C01", "D01", "S01"):
                enroll(bank, code, KEYS[code])
            reply = bank.execute(Request(CORP, "001", "210201", "T1", {
                "pay_acno": A1, "rcv_acno": A2, "amt": amt, "bank_flag": "0"}))
            assert reply.ret_code == "A001"
            before = balance(bank, A1), balance(bank, A2)
            approved: list[str] = []
            closed = None  # "authorized" or "rejected"
            for operator, level, decision, own_key in steps:
                if operator == NEXT:
                    waiting = min(len(approved), len(levels) - 1)
                    operator, level = levels[waiting][-1], waiting + 1
                signer = operator if own_key else ("C01" if operator != "C01" else "B01")
                answer = decide(bank, KEYS, operator, "T1", level=level, amt=amt,
                                decision=decision, signer=signer)
                waiting = len(approved)
                allowed = (closed is None and own_key and operator in levels[waiting]
                           and operator not in approved and level == waiting + 1)
                assert answer.ok == allowed, (operator, level, decision, own_key, answer)
                if allowed and decision == approval.REJECT:
                    closed = "rejected"
                elif allowed:
                    approved.append(operator)
                    if len(approved) == len(levels):
                        closed = "authorized"
                moved = (balance(bank, A1), balance(bank, A2))
                if closed == "authorized":
                    assert moved == (before[0] - amt, before[1] + amt)
                else:
                    assert moved == before
            assert check_ledger(path).ok
            OUTCOMES[closed] = OUTCOMES.get(closed, 0) + 1
        finally:
            bank.close()


def test_the_random_sequences_reached_every_outcome():
    # Runs after the property in this module: it got somewhere, both ways, not only refusals.
    if not OUTCOMES:
        test_random_decisions_keep_the_rules()
    assert set(OUTCOMES) == {None, "authorized", "rejected"}, OUTCOMES



# -- bad input to the new codes never breaks the bank ------------------------------------

_TEXT = st.one_of(st.just(""), st.text(max_size=40),
                  st.sampled_from(("T1", "B01", "C01", "A01", "1", "2", "ab" * 64,
                                   "2026-11-24T09:30:00", "20261124", "0000000001")))
_VALUE = st.one_of(_TEXT, st.integers(min_value=-5, max_value=10**17), st.none(),
                   st.booleans())
_FIELDS = {
    "210230": ("ogl_serial_no", "operator", "decision", "level", "amt", "signed_at",
               "signature"),
    "310230": ("operator", "ogl_serial_no", "begin_no", "query_num"),
    "310220": ("ogl_serial_no", "serial_no", "acno", "start_date", "end_date", "begin_no",
               "query_num"),
    "310240": ("start_date", "end_date", "ogl_serial_no", "operator", "begin_no",
               "query_num"),
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_fields_get_an_answer_and_change_no_money(data, tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "ledger.db"
    bank = Bank.open(path, seed=parse_seed(seed_text(), "seed"), clock=Clock(),
                     receipt_keys=BankKeyPair.generate())
    try:
        enroll(bank, "B01", KEYS["B01"])
        assert bank.execute(Request(CORP, "001", "210201", "T1", {
            "pay_acno": A1, "rcv_acno": A2, "amt": 150_000_000, "bank_flag": "0"})).ret_code \
            == "A001"
        before = balance(bank, A1), balance(bank, A2)
        for n in range(3):
            tr_code = data.draw(st.sampled_from(sorted(_FIELDS)))
            fields = {name: data.draw(_VALUE) for name in _FIELDS[tr_code]
                      if data.draw(st.booleans())}
            reply = bank.execute(Request(CORP, "001", tr_code, f"F{n}", fields))
            assert reply.ret_code != "E016", (tr_code, fields, reply)
            assert (balance(bank, A1), balance(bank, A2)) == before
        assert check_ledger(path).ok
    finally:
        bank.close()
