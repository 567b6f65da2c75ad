"""Instructions that wait for the enterprise's approvals, decided with operators' own keys.

The manual's four-band example (etc/seed-controls.yaml) end to end, in
process: each band needs exactly its levels, in order; every refusal of a
decision has its own code and moves nothing; rejection and expiry move
nothing; funds are checked when the last level approves; batches wait too.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from config.seed import parse_seed
from core_sim import audit
from core_sim.bank import Bank, Request
from core_sim.check import check_ledger
from protocol import approval, codes
from protocol.keys import BankKeyPair, SigningKey

ROOT = Path(__file__).resolve().parent.parent
CORP = "0000000001"
A1, A2 = "310066726018010000001", "310066726018010000002"
START = datetime(2026, 11, 24, 9, 30, 0)
YUAN = 100

#: The levels of each band of the example, by an amount in it (fen).
BANDS = [
    (500_000 * YUAN, [["B01"]]),
    (1_500_000 * YUAN, [["B01"], ["C01"]]),
    (2_500_000 * YUAN, [["B01", "C01"], ["D01"]]),
    (3_500_000 * YUAN, [["B01"], ["C01"], ["D01"]]),
    (5_000_000 * YUAN, [["B01"], ["C01"], ["D01"], ["S01"]]),
]


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def seed_text() -> str:
    text = (ROOT / "etc" / "seed-controls.yaml").read_text(encoding="utf-8")
    text = text.replace('  bank_no: "301290000007"\n',
                        '  bank_no: "301290000007"\n  business_date: "2026-11-24"\n', 1)
    # B01 also submits through direct connect: the maker of what it sends.
    return text.replace('      - user_no: "001"',
                        '      - user_no: "001"\n      - user_no: "B01"', 1)


@pytest.fixture
def keys() -> dict[str, SigningKey]:
    return {code: SigningKey.generate() for code in ("B01", "C01", "D01", "S01", "A01")}


@pytest.fixture
def bank(tmp_path, keys):
    clock = Clock()
    bank = Bank.open(tmp_path / "ledger.db", seed=parse_seed(seed_text(), "seed"), clock=clock,
                     receipt_keys=BankKeyPair.generate())
    bank.clock_for_tests = clock
    bank.db_path = tmp_path / "ledger.db"
    for code in ("B01", "C01", "D01", "S01"):
        enroll(bank, code, keys[code])
    yield bank
    bank.close()


def enroll(bank: Bank, code: str, key: SigningKey) -> None:
    conn = bank.connection
    conn.execute("UPDATE ebank_operators SET public_key = ?, key_id = ?, key_status = 'enrolled'"
                 " WHERE corp_no = ? AND code = ?",
                 (key.public.raw, key.public.key_id, CORP, code))


_seq = iter(range(1, 10**9))


def transfer(bank: Bank, req_no: str, amt: int, *, user_no: str = "001", rcv: str = A2):
    return bank.execute(Request(CORP, user_no, "210201", req_no, {
        "pay_acno": A1, "rcv_acno": rcv, "amt": amt, "bank_flag": "0", "summary": "货款"}))


def decide(bank: Bank, keys, operator: str, req_no: str, *, level: int, amt: int,
           decision: str = approval.APPROVE, signer: str | None = None, tamper=None,
           decision_req_no: str | None = None):
    signed_at = START.replace(microsecond=0)
    made = approval.Decision(corp_no=CORP, operator=operator, decision=decision, req_no=req_no,
                             level=level, amt=amt, signed_at=signed_at)
    signature = approval.sign(made, keys[signer or operator])
    fields = {"ogl_serial_no": req_no, "operator": operator,
              "decision": approval.WIRE_DECISION[decision], "level": level, "amt": amt,
              "signed_at": approval.format_signed_at(signed_at), "signature": signature}
    if tamper is not None:
        fields = tamper(fields)
    return bank.execute(Request(CORP, "001", "210230",
                                decision_req_no or f"DEC{next(_seq):08d}", fields))


def status(bank: Bank, req_no: str) -> dict:
    reply = bank.execute(Request(CORP, "001", "310204", f"Q{next(_seq)}",
                                 {"query_flag": "3", "ogl_serial_no": req_no}))
    assert reply.ok, reply
    return reply.fields


def balance(bank: Bank, acno: str) -> int:
    return bank.connection.execute("SELECT balance FROM accounts WHERE acno = ?",
                                   (acno,)).fetchone()[0]


@pytest.mark.parametrize(("amt", "levels"), BANDS,
                         ids=["band1", "band2", "band3", "band4", "above"])
def test_each_band_needs_exactly_its_levels_in_order(bank, keys, amt, levels):
    before = balance(bank, A1), balance(bank, A2)
    reply = transfer(bank, "T1", amt)
    assert reply.ret_code == codes.AWAITING_AUTHORIZATION.code
    assert reply.fields == {"stat": "0"}
    for index, level in enumerate(levels):
        fields = status(bank, "T1")
        assert (fields["stat"], fields["auth_state"]) == ("0", "1")
        assert (fields["auth_level"], fields["auth_levels"]) == (index, len(levels))
        assert fields["waiting_for"] == ",".join(level)
        assert (balance(bank, A1), balance(bank, A2)) == before  # nothing moves before
        answer = decide(bank, keys, level[-1], "T1", level=index + 1, amt=amt)
        assert answer.ok, answer
    fields = status(bank, "T1")
    assert (fields["stat"], fields["auth_state"], fields["auth_level"]) == ("1", "2", len(levels))
    assert (balance(bank, A1), balance(bank, A2)) == (before[0] - amt, before[1] + amt)
    assert check_ledger(bank.db_path).ok


def test_a_retry_of_the_instruction_gets_its_first_answer_and_executes_nothing(bank, keys):
    first = transfer(bank, "T1", 100 * YUAN)
    assert decide(bank, keys, "B01", "T1", level=1, amt=100 * YUAN).ok
    again = transfer(bank, "T1", 100 * YUAN)
    assert again == first
    assert status(bank, "T1")["stat"] == "1"
    assert transfer(bank, "T1", 200 * YUAN).ret_code == codes.DUPLICATE_REQ_NO.code


def _unchanged(bank: Bank, req_no: str):
    return status(bank, req_no), balance(bank, A1), balance(bank, A2)


@pytest.mark.parametrize("case", ["wrong_order", "self", "double", "maker", "no_key", "revoked",
                                  "tampered", "other_key", "amount", "level", "unknown"])
def test_a_refused_decision_has_its_own_code_and_moves_nothing(bank, keys, case):
    amt = 1_500_000 * YUAN  # band 2: B01, then C01
    user = "B01" if case == "self" else "001"
    assert transfer(bank, "T1", amt, user_no=user).ret_code == "A001"
    if case == "double":
        assert transfer(bank, "T2", 2_500_000 * YUAN).ret_code == "A001"  # [B01|C01], [D01]
        assert decide(bank, keys, "B01", "T2", level=1, amt=2_500_000 * YUAN).ok
    before = _unchanged(bank, "T1")
    expected, answer = {
        "wrong_order": (codes.WRONG_ORDER, lambda: decide(bank, keys, "C01", "T1", level=1,
                                                          amt=amt)),
        "self": (codes.SELF_APPROVAL, lambda: decide(bank, keys, "B01", "T1", level=1,
                                                     amt=amt)),
        "double": (codes.ALREADY_APPROVED, lambda: decide(bank, keys, "B01", "T2", level=2,
                                                          amt=2_500_000 * YUAN)),
        "maker": (codes.NOT_AN_APPROVER, lambda: decide(bank, keys, "A01", "T1", level=1,
                                                     amt=amt)),
        "no_key": (codes.OPERATOR_KEY, lambda: (_revoke(bank, "B01", "none"),
                                                decide(bank, keys, "B01", "T1", level=1,
                                                       amt=amt))[1]),
        "revoked": (codes.OPERATOR_KEY, lambda: (_revoke(bank, "B01", "revoked"),
                                                 decide(bank, keys, "B01", "T1", level=1,
                                                        amt=amt))[1]),
        "tampered": (codes.BAD_SIGNATURE, lambda: decide(
            bank, keys, "B01", "T1", level=1, amt=amt,
            tamper=lambda f: {**f, "signature": _flip(f["signature"])})),
        "other_key": (codes.BAD_SIGNATURE, lambda: decide(bank, keys, "B01", "T1", level=1,
                                                          amt=amt, signer="C01")),
        "amount": (codes.BAD_SIGNATURE, lambda: decide(
            bank, keys, "B01", "T1", level=1, amt=amt, tamper=lambda f: {**f, "amt": 1})),
        "level": (codes.INVALID_FIELD, lambda: decide(bank, keys, "B01", "T1", level=2,
                                                      amt=amt)),
        "unknown": (codes.NOT_AWAITING, lambda: decide(bank, keys, "B01", "NOPE", level=1,
                                                       amt=amt)),
    }[case]
    reply = answer()
    assert reply.ret_code == expected.code, reply
    if case == "double":
        assert status(bank, "T2")["auth_level"] == 1
    assert _unchanged(bank, "T1") == before
    assert check_ledger(bank.db_path).ok


def _revoke(bank: Bank, code: str, state: str) -> None:
    bank.connection.execute("UPDATE ebank_operators SET key_status = ? WHERE code = ?",
                            (state, code))


def _flip(signature: str) -> str:
    return ("0" if signature[0] != "0" else "1") + signature[1:]


def test_rejection_cancels_and_moves_nothing(bank, keys):
    amt = 1_500_000 * YUAN
    before = balance(bank, A1), balance(bank, A2)
    transfer(bank, "T1", amt)
    assert decide(bank, keys, "B01", "T1", level=1, amt=amt).ok
    reply = decide(bank, keys, "C01", "T1", level=2, amt=amt, decision=approval.REJECT)
    assert reply.ok and reply.fields["auth_state"] == "3" and reply.fields["stat"] == "2"
    fields = status(bank, "T1")
    assert (fields["stat"], fields["auth_state"]) == ("2", "3")
    assert "rejected by C01" in fields["err_msg"]
    assert (balance(bank, A1), balance(bank, A2)) == before
    late = decide(bank, keys, "C01", "T1", level=2, amt=amt)
    assert late.ret_code == codes.NOT_AWAITING.code


def test_not_authorized_by_the_end_of_its_business_day_it_expires(bank, keys):
    amt = 500_000 * YUAN
    before = balance(bank, A1)
    transfer(bank, "T1", amt)
    bank.end_of_day()
    fields = status(bank, "T1")
    assert (fields["stat"], fields["auth_state"]) == ("2", "4")
    assert balance(bank, A1) == before
    assert decide(bank, keys, "B01", "T1", level=1, amt=amt).ret_code == \
        codes.NOT_AWAITING.code
    events = [row.event for row in audit.query(bank.connection, req_no="T1")[1]]
    assert events == ["awaiting", "expiry", "decision_refused"]


def test_funds_are_checked_when_the_last_level_approves(bank, keys):
    # More than the account has available is accepted to wait; it fails at the last approval.
    amt = 900_000 * YUAN
    bank.connection.execute("UPDATE accounts SET hold = balance - 100 WHERE acno = ?", (A1,))
    assert transfer(bank, "T0", amt).ret_code == "A001"
    bank.connection.execute("UPDATE accounts SET hold = 0 WHERE acno = ?", (A1,))
    assert transfer(bank, "T1", amt).ret_code == "A001"
    moved = bank.connection.execute(
        "UPDATE accounts SET hold = balance - 100 WHERE acno = ?", (A1,))
    assert moved.rowcount == 1
    before = balance(bank, A1), balance(bank, A2)
    reply = decide(bank, keys, "B01", "T1", level=1, amt=amt)
    assert reply.ok and reply.fields["stat"] == "2"
    assert "insufficient funds" in status(bank, "T1")["err_msg"]
    assert (balance(bank, A1), balance(bank, A2)) == before
    assert check_ledger(bank.db_path).ok


def test_a_decision_is_executed_once_per_req_no(bank, keys):
    transfer(bank, "T1", 1_500_000 * YUAN)
    first = decide(bank, keys, "B01", "T1", level=1, amt=1_500_000 * YUAN,
                   decision_req_no="D1")
    again = decide(bank, keys, "B01", "T1", level=1, amt=1_500_000 * YUAN,
                   decision_req_no="D1")
    assert first.ok and again == first
    other = decide(bank, keys, "B01", "T1", level=1, amt=1_500_000 * YUAN,
                   decision=approval.REJECT, decision_req_no="D1")
    assert other.ret_code == codes.DUPLICATE_REQ_NO.code
    assert status(bank, "T1")["auth_level"] == 1


def test_the_waiting_list_shows_each_operator_what_they_may_approve_now(bank, keys):
    transfer(bank, "T1", 1_500_000 * YUAN)  # B01 then C01
    transfer(bank, "T2", 500_000 * YUAN)  # B01

    def waiting(operator: str = "") -> list[str]:
        reply = bank.execute(Request(CORP, "001", "310230", f"L{next(_seq)}",
                                     {"operator": operator, "ogl_serial_no": "",
                                      "begin_no": 0, "query_num": 0}))
        assert reply.ok, reply
        return [r["req_no"] for r in reply.fields["records"]]

    assert waiting() == ["T1", "T2"]
    assert waiting("B01") == ["T1", "T2"]
    assert waiting("C01") == []
    assert decide(bank, keys, "B01", "T1", level=1, amt=1_500_000 * YUAN).ok
    assert waiting("B01") == ["T2"]
    assert waiting("C01") == ["T1"]
    assert waiting("A01") == []  # a maker approves nothing


def _payment(req_no: str, amt: int) -> Request:
    items = [{"card_no": "6222600100000000001", "acname": "张三", "card_flag": "0",
              "amt": amt, "busino": "b1"}]
    return Request(CORP, "001", "330002", req_no, {
        "cert_no": "P1", "pay_acno": A1, "type": "S", "sum": 1, "sum_amt": amt,
        "pay_month": "202611", "summary": "工资", "busi_no": "PR01", "mailflg": "N",
        "file_flag": "0", "items": items})


def _collection(req_no: str, amt: int) -> Request:
    items = [{"pay_acno": "6222600100000000001", "pay_acname": "张三",
              "agreement_no": "AG0000000001", "amt": amt, "busino": "c1", "pay_bank_no": ""}]
    return Request(CORP, "001", "330010", req_no, {
        "cert_no": "C1", "rcv_acno": A1, "sum": 1, "sum_amt": amt, "summary": "保费",
        "busi_no": "FEE", "file_flag": "0", "items": items})


@pytest.mark.parametrize("make", [_payment, _collection], ids=["payment", "collection"])
def test_a_batch_waits_in_state_1_and_runs_when_authorized(bank, keys, make):
    amt = 1000 * YUAN
    before = balance(bank, A1)
    reply = bank.execute(make("B1", amt))
    assert reply.ret_code == "A001" and reply.fields["state"] == "1"
    state = bank.execute(Request(CORP, "001", "310207", "S1", {"ogl_serial_no": "B1"}))
    assert (state.fields["state"], state.fields["auth_state"]) == ("1", "1")
    assert balance(bank, A1) == before
    assert decide(bank, keys, "B01", "B1", level=1, amt=amt).ok
    state = bank.execute(Request(CORP, "001", "310207", "S2", {"ogl_serial_no": "B1"}))
    assert (state.fields["state"], state.fields["ok_count"]) == ("3", 1)
    assert state.fields["auth_state"] == "2"
    assert balance(bank, A1) == before + (amt if make is _collection else -amt)
    assert check_ledger(bank.db_path).ok


def test_a_rejected_batch_is_cancelled_and_moves_nothing(bank, keys):
    before = balance(bank, A1)
    bank.execute(_payment("B1", 1000 * YUAN))
    assert decide(bank, keys, "B01", "B1", level=1, amt=1000 * YUAN,
                  decision=approval.REJECT).ok
    state = bank.execute(Request(CORP, "001", "310207", "S1", {"ogl_serial_no": "B1"}))
    assert (state.fields["state"], state.fields["auth_state"]) == ("5", "3")
    assert balance(bank, A1) == before
    assert bank.run_batches().batch_id is None


def test_the_audit_log_follows_an_instruction_from_submission_to_execution(bank, keys):
    amt = 1_500_000 * YUAN
    transfer(bank, "T1", amt)
    decide(bank, keys, "C01", "T1", level=1, amt=amt)  # refused: wrong order
    decide(bank, keys, "B01", "T1", level=1, amt=amt)
    decide(bank, keys, "C01", "T1", level=2, amt=amt)
    rows = audit.query(bank.connection, corp_no=CORP, req_no="T1")[1]
    assert [(r.event, r.operator, r.result) for r in rows] == [
        ("awaiting", "001", "A001"),
        ("decision_refused", "C01", "E036"),
        ("approval", "B01", "level 1"),
        ("approval", "C01", "level 2"),
        ("authorized", "C01", "success"),
    ]


def test_an_account_without_a_flow_executes_at_once(bank):
    # 310066726018010000002 has no flow (it is directed: it pays Zhang San only).
    reply = bank.execute(Request(CORP, "001", "210201", "T9", {
        "pay_acno": A2, "rcv_acno": "6222020200000000001", "rcv_acname": "Zhang San",
        "rcv_bank_no": "102100099996", "amt": 100 * YUAN, "bank_flag": "1"}))
    assert reply.ok and reply.fields == {"stat": "0"}
    assert status(bank, "T9")["auth_state"] == "0"


def test_expiry_closes_the_day_it_was_submitted_only(bank, keys):
    bank.clock_for_tests.now = START + timedelta(hours=1)
    transfer(bank, "T1", 500_000 * YUAN)
    bank.end_of_day()
    transfer(bank, "T2", 500_000 * YUAN)
    assert status(bank, "T2")["auth_state"] == "1"
    assert decide(bank, keys, "B01", "T2", level=1, amt=500_000 * YUAN).ok


def test_an_inter_bank_payment_waits_then_goes_to_clearing(bank, keys):
    amt = 500_000 * YUAN
    fields = {"pay_acno": A1, "rcv_acno": "6222020200000000001", "rcv_acname": "Zhang San",
              "partyid": "102100099996", "amt": amt, "purpose": "货款", "urgent_flag": "1"}
    reply = bank.execute(Request(CORP, "001", "210224", "P1", fields))
    assert reply.ret_code == "A001" and reply.fields == {"tran_status": "34"}
    before = balance(bank, A1)
    assert decide(bank, keys, "B01", "P1", level=1, amt=amt).fields["stat"] == "0"
    assert balance(bank, A1) == before - amt  # debited into clearing in transit
    bank.run_clearing()
    assert status(bank, "P1")["stat"] == "1"
    assert check_ledger(bank.db_path).ok
