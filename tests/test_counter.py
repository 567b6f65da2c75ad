"""The bank counter for an enterprise's controls, in process (core_sim.counter).

Each change against the manual's four-band example (etc/seed-controls.yaml,
with a second enterprise beside it): what it changes, the one audit row it
writes, what the bank then does differently, and each refusal, which
changes nothing at all. 310240 (the enterprise's audit log) is read here too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import pytest

from config.seed import parse_seed
from core_sim import agreements, audit, controls, counter, counter_errors
from core_sim.bank import Bank, Request
from core_sim.check import check_ledger
from core_sim.ledger import Ledger
from protocol import approval, codes
from protocol.keys import SigningKey

ROOT = Path(__file__).resolve().parent.parent
CORP, OTHER = "0000000001", "0000000002"
A1, A2 = "310066726018010000001", "310066726018010000002"
OTHER_ACNO = "310066726018010000101"
ZHANG = "6222020200000000001"  # A2's directed payee in the example
START = datetime(2026, 11, 24, 9, 30, 0)
NOW = datetime(2026, 11, 24, 10, 0, 0)
YUAN = 100
TABLES = ("ebank_operators", "flows", "directed_payees", "audit_log", "authorizations",
          "instructions")

T = TypeVar("T")


def seed_text() -> str:
    text = (ROOT / "etc" / "seed-controls.yaml").read_text(encoding="utf-8")
    text = text.replace('  bank_no: "301290000007"\n',
                        '  bank_no: "301290000007"\n  business_date: "2026-11-24"\n', 1)
    other = f"""  - corp_no: "{OTHER}"
    name: Other Trading Co., Ltd.
    users:
      - user_no: "001"
    accounts:
      - acno: "{OTHER_ACNO}"
        name: Other Trading Co., Ltd.
        balance: "100000.00"

external_accounts:"""
    return text.replace("\nexternal_accounts:", "\n" + other, 1)


@pytest.fixture
def bank(tmp_path: Path):
    bank = Bank.open(tmp_path / "ledger.db", seed=parse_seed(seed_text(), "seed"),
                     clock=lambda: START)
    bank.db_path = tmp_path / "ledger.db"
    yield bank
    bank.close()


def at_counter(bank: Bank, work: Callable[[Ledger], T]) -> T:
    """``work`` in one write transaction of its own, as `directlink core …` runs it."""
    with agreements.counter(bank.db_path) as books:
        return work(books)


def snapshot(bank: Bank) -> dict[str, list[tuple]]:
    conn = bank.connection
    return {table: conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
            for table in TABLES}


def refused(bank: Bank, error: type[counter_errors.CounterError], work: Callable[[Ledger], object],
            *words: str) -> counter_errors.CounterError:
    """``work`` is refused with ``error`` naming ``words``, and nothing changed."""
    before = snapshot(bank)
    with pytest.raises(error) as info:
        at_counter(bank, work)
    for word in words:
        assert word in str(info.value), (word, str(info.value))
    assert snapshot(bank) == before
    return info.value


def counter_rows(bank: Bank, corp_no: str = CORP) -> list[audit.AuditRow]:
    return [row for row in audit.query(bank.connection, corp_no=corp_no)[1]
            if row.event == "counter"]


def only_new_counter_row(bank: Bank, before: int) -> audit.AuditRow:
    rows = counter_rows(bank)
    assert len(rows) == before + 1
    row = rows[-1]
    assert (row.at, row.biz_date, row.corp_no, row.tr_code, row.req_no, row.amt) == (
        NOW.isoformat(), "20261124", CORP, "", "", None)
    return row


# -- instructions and decisions, as the tests of approvals send them -------------------

_seq = iter(range(1, 10**9))


def transfer(bank: Bank, req_no: str, amt: int, *, pay: str = A1, rcv: str = A2,
             corp_no: str = CORP):
    fields = {"pay_acno": pay, "rcv_acno": rcv, "amt": amt, "bank_flag": "0", "summary": "货款"}
    if rcv == ZHANG:  # at ICBC
        fields.update(bank_flag="1", rcv_bank_no="102100099996", rcv_acname="Zhang San")
    return bank.execute(Request(corp_no, "001", "210201", req_no, fields))


def decide(bank: Bank, key: SigningKey, operator: str, req_no: str, *, level: int, amt: int):
    made = approval.Decision(corp_no=CORP, operator=operator, decision=approval.APPROVE,
                             req_no=req_no, level=level, amt=amt, signed_at=START)
    fields = {"ogl_serial_no": req_no, "operator": operator, "decision": "1", "level": level,
              "amt": amt, "signed_at": approval.format_signed_at(START),
              "signature": approval.sign(made, key)}
    return bank.execute(Request(CORP, "001", "210230", f"DEC{next(_seq):08d}", fields))


def status(bank: Bank, req_no: str) -> dict:
    reply = bank.execute(Request(CORP, "001", "310204", f"Q{next(_seq)}",
                                 {"query_flag": "3", "ogl_serial_no": req_no}))
    assert reply.ok, reply
    return reply.fields


def enroll(bank: Bank, code: str, key: SigningKey, corp_no: str = CORP):
    return at_counter(bank, lambda books: counter.enroll_operator_key(
        books, corp_no, code, key.public, now=NOW))


def add_flow(bank: Bank, text: str, corp_no: str = CORP):
    return at_counter(bank, lambda books: counter.add_flow(
        books, corp_no, counter.parse_flow(text), now=NOW))


# -- operators -----------------------------------------------------------------------------


def test_add_operator_writes_it_and_its_audit_row(bank):
    before = len(counter_rows(bank))
    row = at_counter(bank, lambda books: counter.add_operator(
        books, CORP, code="E01", name="戊", role="checker", now=NOW))
    assert (row.code, row.name, row.role, row.status, row.key_status) == (
        "E01", "戊", "checker", "active", "none")
    assert controls.operator(bank.connection, CORP, "E01") == row
    audit_row = only_new_counter_row(bank, before)
    assert (audit_row.operator, audit_row.result) == ("E01", "added")
    assert audit_row.detail == "operator E01 (戊, checker) added"


@pytest.mark.parametrize(("fields", "error", "words"), [
    ({"code": "E-1"}, counter_errors.InvalidInput, ("code", "letters and digits only")),
    ({"code": "E" * 21}, counter_errors.InvalidInput, ("at most 20 characters",)),
    ({"name": " 戊"}, counter_errors.InvalidInput, ("name", "spaces")),
    ({"role": "boss"}, counter_errors.InvalidInput, ("role", "maker, checker, deputy, supervisor")),
    ({"code": "B01"}, counter_errors.DuplicateOperator, ("operator B01 already",)),
    ({"corp_no": "0000000009"}, counter_errors.UnknownEnterprise, ("no enterprise 0000000009",)),
])
def test_add_operator_refusals(bank, fields, error, words):
    values = {"corp_no": CORP, "code": "E01", "name": "戊", "role": "checker", **fields}
    corp_no = values.pop("corp_no")
    refused(bank, error, lambda books: counter.add_operator(books, corp_no, now=NOW, **values),
            *words)


def test_operator_codes_are_per_enterprise_and_never_reused(bank):
    at_counter(bank, lambda books: counter.add_operator(
        books, OTHER, code="B01", name="Li", role="checker", now=NOW))
    at_counter(bank, lambda books: counter.add_operator(
        books, CORP, code="E01", name="戊", role="checker", now=NOW))
    at_counter(bank, lambda books: counter.remove_operator(books, CORP, "E01", now=NOW))
    refused(bank, counter_errors.DuplicateOperator, lambda books: counter.add_operator(
        books, CORP, code="E01", name="己", role="deputy", now=NOW), "was removed", "reused")


def test_remove_refused_while_a_flow_names_the_operator(bank):
    error = refused(bank, counter_errors.OperatorInUse,
                    lambda books: counter.remove_operator(books, CORP, "B01", now=NOW),
                    "flow 1 (transfer, account 310066726018010000001)", "flow 2 (collection)",
                    "delete it first")
    assert "C01" not in str(error)
    # Deleting both flows frees B01.
    for flow_id in (1, 2):
        at_counter(bank, lambda books, flow_id=flow_id: counter.delete_flow(
            books, CORP, flow_id, now=NOW))
    row = at_counter(bank, lambda books: counter.remove_operator(books, CORP, "B01", now=NOW))
    assert row.status == "removed"


def test_remove_refused_when_no_supervisor_would_approve_above_the_last_band(bank):
    refused(bank, counter_errors.OperatorInUse,
            lambda books: counter.remove_operator(books, CORP, "S01", now=NOW),
            "removing operator S01", "supervisor")


def test_removing_an_operator_revokes_their_key_and_they_approve_nothing(bank):
    # Two supervisors: above the last band either approves last, and S02 is
    # named in no flow, so S02 can be removed while an instruction waits.
    at_counter(bank, lambda books: counter.add_operator(
        books, CORP, code="S02", name="副总", role="supervisor", now=NOW))
    keys = {code: SigningKey.generate() for code in ("B01", "C01", "D01", "S02")}
    for code, key in keys.items():
        enroll(bank, code, key)
    amt = 5_000_000 * YUAN
    assert transfer(bank, "BIG", amt).ret_code == codes.AWAITING_AUTHORIZATION.code
    for level, code in enumerate(("B01", "C01", "D01"), start=1):
        assert decide(bank, keys[code], code, "BIG", level=level, amt=amt).ok
    assert status(bank, "BIG")["waiting_for"] == "S01,S02"

    before = len(counter_rows(bank))
    row = at_counter(bank, lambda books: counter.remove_operator(books, CORP, "S02", now=NOW))
    assert (row.status, row.key_status) == ("removed", "revoked")
    audit_row = only_new_counter_row(bank, before)
    assert (audit_row.operator, audit_row.result) == ("S02", "removed")
    assert f"key {keys['S02'].key_id} revoked" in audit_row.detail

    reply = decide(bank, keys["S02"], "S02", "BIG", level=4, amt=amt)
    assert reply.ret_code == codes.NOT_AN_APPROVER.code
    assert status(bank, "BIG")["auth_state"] == "1"  # still awaiting S01


@pytest.mark.parametrize(("code", "error", "words"), [
    ("Z01", counter_errors.UnknownOperator, ("has no operator Z01",)),
])
def test_remove_unknown_operator(bank, code, error, words):
    refused(bank, error, lambda books: counter.remove_operator(books, CORP, code, now=NOW),
            *words)


def test_remove_twice(bank):
    at_counter(bank, lambda books: counter.add_operator(
        books, CORP, code="E01", name="戊", role="maker", now=NOW))
    at_counter(bank, lambda books: counter.remove_operator(books, CORP, "E01", now=NOW))
    refused(bank, counter_errors.OperatorRemoved,
            lambda books: counter.remove_operator(books, CORP, "E01", now=NOW), "was removed")


# -- operators' keys -------------------------------------------------------------------------


def test_enrolled_key_signs_decisions_replaced_and_revoked_keys_do_not(bank):
    old, new = SigningKey.generate(), SigningKey.generate()
    amt = 500_000 * YUAN  # band 1: B01 alone
    assert transfer(bank, "T1", amt).ret_code == codes.AWAITING_AUTHORIZATION.code
    # Never enrolled: refused.
    assert decide(bank, old, "B01", "T1", level=1, amt=amt).ret_code == codes.OPERATOR_KEY.code

    before = len(counter_rows(bank))
    row = enroll(bank, "B01", old)
    assert (row.key_status, row.key_id, row.public_key) == (
        "enrolled", old.key_id, old.public.raw)
    audit_row = only_new_counter_row(bank, before)
    assert (audit_row.operator, audit_row.result) == ("B01", "enrolled")
    assert old.key_id in audit_row.detail and "fingerprint" in audit_row.detail

    row = enroll(bank, "B01", new)  # replaces the old key
    assert row.key_id == new.key_id
    assert f"replaces key {old.key_id}" in counter_rows(bank)[-1].detail
    assert decide(bank, old, "B01", "T1", level=1, amt=amt).ret_code == \
        codes.BAD_SIGNATURE.code

    row = at_counter(bank, lambda books: counter.revoke_operator_key(books, CORP, "B01",
                                                                      now=NOW))
    assert (row.key_status, row.key_id) == ("revoked", new.key_id)
    assert counter_rows(bank)[-1].result == "revoked"
    assert decide(bank, new, "B01", "T1", level=1, amt=amt).ret_code == \
        codes.OPERATOR_KEY.code
    assert status(bank, "T1")["auth_state"] == "1"

    fresh = SigningKey.generate()
    enroll(bank, "B01", fresh)
    assert decide(bank, fresh, "B01", "T1", level=1, amt=amt).ok
    assert status(bank, "T1")["stat"] == "1"


def test_enroll_refusals(bank):
    key = SigningKey.generate()
    refused(bank, counter_errors.NotAnApprover, lambda books: counter.enroll_operator_key(
        books, CORP, "A01", key.public, now=NOW), "A01 is a maker")
    refused(bank, counter_errors.UnknownOperator, lambda books: counter.enroll_operator_key(
        books, CORP, "Z01", key.public, now=NOW), "no operator Z01")
    refused(bank, counter_errors.UnknownEnterprise, lambda books: counter.enroll_operator_key(
        books, "0000000009", "B01", key.public, now=NOW), "no enterprise")
    enroll(bank, "B01", key)
    refused(bank, counter_errors.KeyInUse, lambda books: counter.enroll_operator_key(
        books, CORP, "B01", key.public, now=NOW), "enrolled key already")
    refused(bank, counter_errors.KeyInUse, lambda books: counter.enroll_operator_key(
        books, CORP, "C01", key.public, now=NOW), f"{CORP}/B01", "a key of their own")
    at_counter(bank, lambda books: counter.revoke_operator_key(books, CORP, "B01", now=NOW))
    refused(bank, counter_errors.KeyInUse, lambda books: counter.enroll_operator_key(
        books, CORP, "B01", key.public, now=NOW), "revoked", "never enrolled again")
    at_counter(bank, lambda books: counter.add_operator(
        books, CORP, code="E01", name="戊", role="checker", now=NOW))
    at_counter(bank, lambda books: counter.remove_operator(books, CORP, "E01", now=NOW))
    refused(bank, counter_errors.OperatorRemoved, lambda books: counter.enroll_operator_key(
        books, CORP, "E01", SigningKey.generate().public, now=NOW), "was removed")


def test_revoke_refusals(bank):
    refused(bank, counter_errors.NoKey, lambda books: counter.revoke_operator_key(
        books, CORP, "C01", now=NOW), "never enrolled")
    enroll(bank, "C01", SigningKey.generate())
    at_counter(bank, lambda books: counter.revoke_operator_key(books, CORP, "C01", now=NOW))
    refused(bank, counter_errors.NoKey, lambda books: counter.revoke_operator_key(
        books, CORP, "C01", now=NOW), "revoked already")
    refused(bank, counter_errors.UnknownOperator, lambda books: counter.revoke_operator_key(
        books, CORP, "Z01", now=NOW))


# -- flows --------------------------------------------------------------------------------

A2_FLOW = '{acno: "310066726018010000002", bands: [{up_to: "100000.00", levels: [[C01]]}]}'


def test_add_a_transfer_flow_then_the_account_waits_for_it(bank):
    assert transfer(bank, "BEFORE", 1000 * YUAN, pay=A2, rcv=ZHANG).ok  # no flow yet
    before = len(counter_rows(bank))
    row = add_flow(bank, A2_FLOW)
    assert (row.kind, row.acno, row.status) == ("transfer", A2, "active")
    assert row.flow.bands[0].up_to == 100_000 * YUAN
    assert controls.flow_in_force(bank.connection, CORP, "transfer", A2) == row
    audit_row = only_new_counter_row(bank, before)
    assert audit_row.result == "added"
    assert audit_row.detail == (f"flow {row.id} (transfer, account {A2}) added: up to "
                                "100000.00: C01; above 100000.00: C01, then S01")
    reply = transfer(bank, "AFTER", 1000 * YUAN, pay=A2, rcv=ZHANG)
    assert reply.ret_code == codes.AWAITING_AUTHORIZATION.code
    assert status(bank, "AFTER")["waiting_for"] == "C01"


def test_flow_as_json_and_the_collection_flow(bank):
    at_counter(bank, lambda books: counter.delete_flow(books, CORP, 2, now=NOW))
    row = add_flow(bank, '{"collection_flow": [["C01", "D01"], ["S01"]]}')
    assert (row.kind, row.acno, row.levels) == ("collection", "", (("C01", "D01"), ("S01",)))
    assert counter.band_lines(row, ("S01",)) == [
        ("every batch collection", "C01 or D01, then S01")]


@pytest.mark.parametrize(("text", "error", "words"), [
    # The seed's rules, with the user's own paths.
    ('{acno: "310066726018010000002", bands: [{up_to: "100.00", levels: [[A01]]}]}',
     counter_errors.InvalidInput, ("bands[0].levels[0][0]", "A01", "maker")),
    ('{acno: "310066726018010000002", bands: [{up_to: "100.00", levels: [[Z01]]}]}',
     counter_errors.InvalidInput, ("no operator 'Z01'",)),
    ('{acno: "310066726018010000002", bands: [{up_to: "200.00", levels: [[B01]]},'
     ' {up_to: "100.00", levels: [[C01]]}]}',
     counter_errors.InvalidInput,
     ("bands[1].up_to", "must be above 200.00, the up_to of bands[0]")),
    ('{acno: "310066726018010000002", bands: [{up_to: "100.00", levels: [[B01], [B01]]}]}',
     counter_errors.InvalidInput, ("already in an earlier level",)),
    ('{acno: "310066726018010000002", bands: [{up_to: "100.00", levels: [[S01]]}]}',
     counter_errors.InvalidInput, ("every supervisor",)),
    ('{acno: "310066726018010000002", bands: []}', counter_errors.InvalidInput, ("at least one",)),
    ('{acno: "310066726018010000002", bands: [{up_to: 100, levels: [[B01]]}]}',
     counter_errors.InvalidInput, ("quoted strings",)),
    ('{acno: "310066726018010000002", band: []}', counter_errors.InvalidInput,
     ("unknown key 'band'", "did you mean 'bands'")),
    ('{collection_flow: [[B01]], operators: [{code: X, role: checker}]}',
     counter_errors.InvalidInput, ("unknown key(s) beside it: operators",)),
    ('{collection_flow: []}', counter_errors.InvalidInput, ("at least one level",)),
    ('[[B01]]', counter_errors.InvalidInput, ("expected a transfer flow", "got a list")),
    # Whose account.
    ('{acno: "310066726018019999999", bands: [{up_to: "100.00", levels: [[B01]]}]}',
     counter_errors.UnknownAccount, ("no account 310066726018019999999",)),
    (f'{{acno: "{OTHER_ACNO}", bands: [{{up_to: "100.00", levels: [[B01]]}}]}}',
     counter_errors.NotTheEnterprisesAccount, (f"not an account of {CORP}", OTHER)),
    # A flow in force is never edited.
    ('{acno: "310066726018010000001", bands: [{up_to: "100.00", levels: [[B01]]}]}',
     counter_errors.DuplicateFlow, ("flow 1 (transfer, account 310066726018010000001) is in force",
                             "delete it first")),
    ('{collection_flow: [[C01]]}', counter_errors.DuplicateFlow, ("collection flow already",)),
])
def test_add_flow_refusals(bank, text, error, words):
    refused(bank, error, lambda books: counter.add_flow(books, CORP, counter.parse_flow(text),
                                                        now=NOW), *words)


def test_a_flow_needs_a_supervisor_above_its_last_band(bank):
    at_counter(bank, lambda books: counter.add_operator(
        books, OTHER, code="K01", name="Li", role="checker", now=NOW))
    text = f'{{acno: "{OTHER_ACNO}", bands: [{{up_to: "100.00", levels: [[K01]]}}]}}'
    refused(bank, counter_errors.InvalidInput, lambda books: counter.add_flow(
        books, OTHER, counter.parse_flow(text), now=NOW), "no operator with role supervisor")
    at_counter(bank, lambda books: counter.add_operator(
        books, OTHER, code="M01", name="Wang", role="supervisor", now=NOW))
    row = add_flow(bank, text, OTHER)
    assert row.corp_no == OTHER


def test_a_removed_operator_cannot_be_named_in_a_new_flow(bank):
    at_counter(bank, lambda books: counter.add_operator(
        books, CORP, code="E01", name="戊", role="checker", now=NOW))
    at_counter(bank, lambda books: counter.remove_operator(books, CORP, "E01", now=NOW))
    text = A2_FLOW.replace("C01", "E01")
    refused(bank, counter_errors.InvalidInput, lambda books: counter.add_flow(
        books, CORP, counter.parse_flow(text), now=NOW), "no operator 'E01'")


def test_parse_flow_refuses_bad_yaml_and_duplicate_keys():
    with pytest.raises(counter_errors.InvalidInput, match="not valid YAML"):
        counter.parse_flow("{acno: [", "f.yaml")
    with pytest.raises(counter_errors.InvalidInput, match="duplicate key 'acno'"):
        counter.parse_flow('{acno: "1", acno: "2"}')


def test_delete_a_flow_without_waiting_instructions(bank):
    before = len(counter_rows(bank))
    deleted = at_counter(bank, lambda books: counter.delete_flow(books, CORP, 1, now=NOW))
    assert (deleted.flow.status, deleted.cancelled) == ("deleted", ())
    assert controls.flow_in_force(bank.connection, CORP, "transfer", A1) is None
    audit_row = only_new_counter_row(bank, before)
    assert (audit_row.result, audit_row.detail) == (
        "deleted", f"flow 1 (transfer, account {A1}) deleted")
    # The account's instructions execute at once now; a new flow may be added.
    assert transfer(bank, "NOW", 1_500_000 * YUAN).ok
    row = add_flow(bank, A2_FLOW.replace(A2, A1))
    assert row.id != 1


def test_delete_a_flow_with_waiting_instructions_needs_confirming_then_cancels_them(bank):
    for req_no, amt in (("W1", 500_000 * YUAN), ("W2", 1_500_000 * YUAN)):
        assert transfer(bank, req_no, amt).ret_code == codes.AWAITING_AUTHORIZATION.code
    with agreements.counter(bank.db_path) as books:
        row, waiting = counter.flow_to_delete(books.conn, CORP, 1)
    assert row.id == 1
    assert [(w.req_no, w.tr_code, w.amt, w.maker) for w in waiting] == [
        ("W1", "210201", 500_000 * YUAN, "001"), ("W2", "210201", 1_500_000 * YUAN, "001")]

    error = refused(bank, counter_errors.InstructionsWaiting,
                    lambda books: counter.delete_flow(books, CORP, 1, now=NOW),
                    "2 instructions wait on flow 1", "W1, W2", "confirm")
    assert [w.req_no for w in error.waiting] == ["W1", "W2"]

    balances = [bank.connection.execute("SELECT balance FROM accounts WHERE acno = ?",
                                        (acno,)).fetchone()[0] for acno in (A1, A2)]
    deleted = at_counter(bank, lambda books: counter.delete_flow(books, CORP, 1, now=NOW,
                                                                 confirmed=True))
    assert deleted.cancelled == ("W1", "W2")
    for req_no in ("W1", "W2"):
        assert status(bank, req_no)["auth_state"] == "5"  # cancelled: its flow was deleted
        events = [(r.event, r.operator) for r in audit.query(bank.connection, req_no=req_no)[1]]
        assert events[-1] == ("cancel", counter.COUNTER)
    assert counter_rows(bank)[-1].detail == (f"flow 1 (transfer, account {A1}) deleted;"
                                             " cancelled 2 waiting: W1, W2")
    assert [bank.connection.execute("SELECT balance FROM accounts WHERE acno = ?",
                                    (acno,)).fetchone()[0] for acno in (A1, A2)] == balances
    assert check_ledger(bank.db_path).ok


def test_delete_flow_refusals(bank):
    refused(bank, counter_errors.UnknownFlow, lambda books: counter.delete_flow(
        books, CORP, 99, now=NOW), "has no flow 99")
    refused(bank, counter_errors.UnknownFlow, lambda books: counter.delete_flow(
        books, OTHER, 1, now=NOW), f"{OTHER} has no flow 1")
    at_counter(bank, lambda books: counter.delete_flow(books, CORP, 1, now=NOW))
    refused(bank, counter_errors.UnknownFlow, lambda books: counter.delete_flow(
        books, CORP, 1, now=NOW), "deleted already")


# -- directed payees -----------------------------------------------------------------------


def test_directed_payees_added_and_removed(bank):
    at_counter(bank, lambda books: counter.delete_flow(books, CORP, 1, now=NOW))  # no waiting
    assert transfer(bank, "FREE", 100 * YUAN, rcv=ZHANG).ok  # A1 pays anyone
    before = len(counter_rows(bank))
    payees = at_counter(bank, lambda books: counter.add_directed_payee(
        books, CORP, A1, A2, now=NOW))
    assert payees == [A2]
    audit_row = only_new_counter_row(bank, before)
    assert audit_row.detail == (f"directed payee {A2} added to account {A1}; {A1} now pays"
                                " only its directed payees")
    assert transfer(bank, "NOT-DIRECTED", 100 * YUAN, rcv=ZHANG).ret_code == \
        codes.DIRECTED_PAYEE.code
    assert transfer(bank, "DIRECTED", 100 * YUAN, rcv=A2).ok

    left = at_counter(bank, lambda books: counter.remove_directed_payee(
        books, CORP, A1, A2, now=NOW))
    assert left == []
    assert counter_rows(bank)[-1].detail.endswith("is no longer directed: it pays any payee")
    assert transfer(bank, "FREE-AGAIN", 100 * YUAN, rcv=ZHANG).ok


@pytest.mark.parametrize(("acno", "payee", "error", "words"), [
    (A2, ZHANG, counter_errors.DuplicatePayee, ("pays 6222020200000000001 already",)),
    (A2, A2, counter_errors.InvalidInput, ("the directed account itself",)),
    (A2, "62-22", counter_errors.InvalidInput, ("payee",)),
    (OTHER_ACNO, ZHANG, counter_errors.NotTheEnterprisesAccount, ("not an account of",)),
    ("310066726018019999999", ZHANG, counter_errors.UnknownAccount, ("no account",)),
])
def test_add_directed_payee_refusals(bank, acno, payee, error, words):
    refused(bank, error, lambda books: counter.add_directed_payee(books, CORP, acno, payee,
                                                                  now=NOW), *words)


def test_remove_directed_payee_refusals(bank):
    refused(bank, counter_errors.UnknownPayee, lambda books: counter.remove_directed_payee(
        books, CORP, A2, A1, now=NOW), f"no directed payee {A1}", ZHANG)
    refused(bank, counter_errors.UnknownPayee, lambda books: counter.remove_directed_payee(
        books, CORP, A1, A2, now=NOW), "not a directed account")


# -- 310240: the enterprise's own audit log ---------------------------------------------------


def audit_log(bank: Bank, corp_no: str = CORP, **fields: object):
    return bank.execute(Request(corp_no, "001", "310240", f"L{next(_seq)}", fields))


def test_310240_pages_the_enterprises_own_rows_with_filters(bank):
    enroll(bank, "B01", SigningKey.generate())
    assert transfer(bank, "R1", 1000 * YUAN, rcv="310066726018019999999").ret_code == \
        codes.UNKNOWN_ACCOUNT.code  # a refusal
    assert transfer(bank, "R2", 500_000 * YUAN).ret_code == codes.AWAITING_AUTHORIZATION.code
    at_counter(bank, lambda books: counter.add_operator(
        books, OTHER, code="K01", name="Li", role="checker", now=NOW))

    reply = audit_log(bank)
    assert reply.ok, reply
    records = reply.fields["records"]
    assert reply.fields["total_num"] == len(records) == 3
    assert reply.fields["more_flag"] == "0"
    assert [(r["event"], r["tr_code"], r["req_no"], r["operator"], r["amt"], r["result"])
            for r in records] == [
        ("counter", "", "", "B01", 0, "enrolled"),
        ("refusal", "210201", "R1", "001", 1000 * YUAN, "E003"),
        ("awaiting", "210201", "R2", "001", 500_000 * YUAN, "A001"),
    ]
    assert records[0]["at"] == NOW.isoformat()

    other = audit_log(bank, OTHER)  # sees only its own row
    assert [(r["event"], r["operator"]) for r in other.fields["records"]] == [
        ("counter", "K01")]

    assert [r["req_no"] for r in audit_log(bank, ogl_serial_no="R2").fields["records"]] == [
        "R2"]
    assert audit_log(bank, operator="B01").fields["total_num"] == 1
    page = audit_log(bank, begin_no=2, query_num=1)
    assert (page.fields["total_num"], page.fields["begin_no"], page.fields["more_flag"]) == (
        3, 2, "1")
    assert [r["req_no"] for r in page.fields["records"]] == ["R1"]
    assert audit_log(bank, start_date="20261124", end_date="20261124").fields["total_num"] == 3
    assert audit_log(bank, start_date="20261125").fields["total_num"] == 0
    assert audit_log(bank, end_date="20261123").fields["total_num"] == 0


@pytest.mark.parametrize(("fields", "code"), [
    ({"start_date": "20261125", "end_date": "20261124"}, codes.INVALID_DATE_RANGE),
    ({"start_date": "2026-11-24"}, codes.INVALID_FIELD),
    ({"end_date": "20261331"}, codes.INVALID_FIELD),
    ({"query_num": 1001}, codes.INVALID_FIELD),
])
def test_310240_refusals(bank, fields, code):
    reply = audit_log(bank, **fields)
    assert reply.ret_code == code.code, reply


def test_310240_fits_long_details_to_the_wire(bank):
    from protocol.bodies import CODECS, RESPONSE

    with agreements.counter(bank.db_path) as books:
        audit.record(books.conn, at=NOW, biz_date=books.biz, corp_no=CORP, event="counter",
                     result="r" * 100, detail="细" * 300)
    reply = audit_log(bank)
    codec = CODECS[("310240", RESPONSE)]
    decoded = codec.decode(codec.encode(reply.fields))
    assert decoded["records"][-1]["detail"].endswith("...")
    assert len(decoded["records"][-1]["detail"].encode("gb18030")) <= 200
