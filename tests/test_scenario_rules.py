"""Scenario rules: the document's checks, and each action at work in the bank.

The document tests call :mod:`config.scenario` directly. The bank tests run a
``core_sim.bank.Bank`` in-process on a SQLite file under ``tmp_path``, from
the demo seed with a fixed business date and the business clock frozen, so
that every timestamp, clearing run and rule count is known in advance.
"""

from __future__ import annotations

import json
import sqlite3
import textwrap
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import config.scenario
from config.errors import ConfigError
from config.scenario import (
    ACTIONS,
    MAX_DELAY_MS,
    Rule,
    Scenario,
    Then,
    When,
    parse_scenario,
    scenario_from_data,
)
from config.seed import DEMO_SEED, parse_seed
from core_sim.bank import Bank, Request
from core_sim.check import check_ledger
from core_sim.ledger import CLEARING_IN_TRANSIT

BUSINESS_DATE = date(2026, 12, 1)
SEED_TEXT = DEMO_SEED.replace(
    '# business_date: "2026-11-24"    # optional; default: today',
    f'business_date: "{BUSINESS_DATE.isoformat()}"')
assert SEED_TEXT != DEMO_SEED

CORP = "0000000001"
TREASURY = "310066726018010000001"  # 1,000,000.00
PAYROLL = "310066726018010000002"  # 250,000.00
ZHANG_ICBC = "6222020200000000001"  # active, at ICBC
LI_ICBC = "6222020200000000002"  # active, at ICBC
ICBC = "102100099996"
ZHANG_CARD, LI_CARD = "6222600100000000001", "6222600100000000002"  # personal, here
OPENED_AT = datetime(2026, 12, 1, 8, 0, 0)  # the machine's clock when the bank is created
MORNING = datetime(2026, 12, 1, 9, 0, 0)


# -- the document -----------------------------------------------------------------------


def docstring_example() -> str:
    text = config.scenario.__doc__
    assert text is not None
    block = text.split("::", 1)[1].split("\nActions (", 1)[0]
    return textwrap.dedent(block)


def test_the_documented_example_parses():
    scenario = parse_scenario(docstring_example(), "rules.yaml")
    assert scenario == Scenario((Rule(
        name="third-payment-returns",
        when=When(tr_codes=("210201", "210224"), corp_no="0000000001",
                  pay_acno="310066726018010000001", rcv_acno="6222*", req_no="ERP-*",
                  min_amt=10_000, max_amt=500_000, between=("09:00:00", "11:30:59"), nth=3),
        then=Then("return", message="account closed at the receiving bank"),
        probability=0.5, times=1),), seed=7)
    assert scenario.source == "rules.yaml"


def test_defaults_and_shorthands():
    scenario = scenario_from_data([
        {"then": {"action": "refuse"}},
        {"when": {"tr_code": "310101"}, "then": {"action": "delay", "ms": 250}},
        {"when": None, "then": {"action": "hold", "after": "1h30m", "settle": False}},
        {"then": {"action": "return_after_settle", "after": "1d2h3m4s"}},
    ])
    assert [rule.name for rule in scenario.rules] == ["rule-1", "rule-2", "rule-3", "rule-4"]
    first, second, third, fourth = scenario.rules
    assert first.when == When() and first.then == Then("refuse", code="E016")
    assert (first.probability, first.times) == (None, None)
    assert second.when.tr_codes == ("310101",) and second.then.ms == 250
    assert (third.then.after_seconds, third.then.settle) == (5400, False)
    assert fourth.then.after_seconds == 86_400 + 2 * 3600 + 3 * 60 + 4
    assert scenario.seed == 0
    # Nothing at all is no rules; a bare list and a document are the same.
    assert parse_scenario("") == Scenario()
    assert parse_scenario("rules:\n") == Scenario()
    assert parse_scenario("- then: {action: unknown}\n") == \
        parse_scenario("rules:\n  - then: {action: unknown}\n")


def errors_of(document) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        scenario_from_data(document, "rules.yaml")
    assert all(error.source == "rules.yaml" for error in caught.value.errors)
    return [(error.path, error.reason) for error in caught.value.errors]


def one_rule(when=None, **then_and_rest):
    """A document of one rule; ``then`` keys given plainly, rule keys as ``rule_*``."""
    rule = {key[5:]: value for key, value in then_and_rest.items() if key.startswith("rule_")}
    rule["then"] = {k: v for k, v in then_and_rest.items() if not k.startswith("rule_")}
    if when is not None:
        rule["when"] = when
    return {"rules": [rule]}


BAD_DOCUMENTS = [
    (one_rule({"tr_cod": "210201"}, action="refuse"),
     "rules[0].when", "unknown key 'tr_cod' (did you mean 'tr_code'?)"),
    ({"rules": [{"when": {}, "then": {"action": "refuse"}, "colour": "red"}]},
     "rules[0]", "unknown key 'colour' (expected then, name, when, probability, times)"),
    ({"seed": 1, "rules": [], "extra": True},
     "", "unknown key 'extra' (expected rules, seed)"),
    (one_rule(action="explode"),
     "rules[0].then.action",
     "must be one of delay, refuse, unknown, drop_after_commit, hold, return, "
     "return_after_settle, fail_item, not 'explode'"),
    (one_rule(action="delay", ms=0),
     "rules[0].then.ms", "expected milliseconds from 1 to 60000, got 0"),
    (one_rule(action="delay", ms=MAX_DELAY_MS + 1),
     "rules[0].then.ms", "expected milliseconds from 1 to 60000, got 60001"),
    (one_rule(action="delay"),
     "rules[0].then.ms", "expected milliseconds from 1 to 60000, got 0"),
    (one_rule(action="delay", ms="500"),
     "rules[0].then.ms", "expected milliseconds from 1 to 60000, got '500'"),
    (one_rule(action="refuse", code="e008"),
     "rules[0].then.code", "expected a return code such as E008, got 'e008'"),
    (one_rule(action="refuse", code="E08"),
     "rules[0].then.code", "expected a return code such as E008, got 'E08'"),
    (one_rule(action="fail_item", code=8),
     "rules[0].then.code", "expected a return code such as E008, got 8"),
    (one_rule({"between": ["11:00"]}, action="refuse"),
     "rules[0].when.between", "expected two times such as [\"09:00\", \"11:30\"], got ['11:00']"),
    (one_rule({"between": "09:00-11:00"}, action="refuse"),
     "rules[0].when.between",
     "expected two times such as [\"09:00\", \"11:30\"], got '09:00-11:00'"),
    (one_rule({"between": ["9:00", "11:00"]}, action="refuse"),
     "rules[0].when.between",
     "expected two times such as [\"09:00\", \"11:30\"], got ['9:00', '11:00']"),
    (one_rule({"between": ["11:00", "09:00"]}, action="refuse"),
     "rules[0].when.between", "the window ends before it starts"),
    (one_rule({"nth": 0}, action="refuse"),
     "rules[0].when.nth", "expected a whole number of at least 1, got 0"),
    (one_rule({"nth": True}, action="refuse"),
     "rules[0].when.nth", "expected a whole number of at least 1, got True"),
    (one_rule(action="refuse", rule_probability=1.5),
     "rules[0].probability", "expected a number greater than 0 and at most 1, got 1.5"),
    (one_rule(action="refuse", rule_probability=0),
     "rules[0].probability", "expected a number greater than 0 and at most 1, got 0"),
    (one_rule(action="refuse", rule_times=0),
     "rules[0].times", "expected a whole number of at least 1, got 0"),
    ({"rules": [{"name": "same", "then": {"action": "refuse"}},
                {"name": "same", "then": {"action": "unknown"}}]},
     "rules[1].name", "name 'same' is used by an earlier rule"),
    (one_rule(action="refuse", ms=5),
     "rules[0].then.ms", "not used by action 'refuse' (it takes code, message)"),
    (one_rule(action="unknown", message="why"),
     "rules[0].then.message", "not used by action 'unknown' (it takes nothing more)"),
    (one_rule(action="return", after="1h"),
     "rules[0].then.after", "not used by action 'return' (it takes message)"),
    (one_rule(action="delay", ms=5, code="E008"),
     "rules[0].then.code", "not used by action 'delay' (it takes ms)"),
    (one_rule(action="hold", after="10"),
     "rules[0].then.after", "expected a duration in whole seconds such as 10m or 1h30m, got '10'"),
    (one_rule(action="hold", settle="no"),
     "rules[0].then.settle", "expected true or false, got the string 'no'"),
    (one_rule(action="refuse", message="x" * 61),
     "rules[0].then.message",
     "expected a text of at most 60 bytes in GB18030, got "
     "'xxxxxxxxxxxxxxxxxxxxxxxxxxx...xxxxxxxxxxxxxxxxxxxxxxxxxxxx'"),
    (one_rule({"tr_code": "2102"}, action="refuse"),
     "rules[0].when.tr_code[0]", "a tr_code is 6 digits, not '2102'"),
    (one_rule({"rcv_acno": "62 22"}, action="refuse"),
     "rules[0].when.rcv_acno", "expected letters, digits and the wildcards * and ?, got '62 22'"),
    (one_rule({"amount": {"min": "10.00", "max": "5.00"}}, action="refuse"),
     "rules[0].when.amount", "min is more than max"),
    (one_rule({"amount": {"min": 10}}, action="refuse"),
     "rules[0].when.amount.min",
     'amounts must be quoted strings such as "1000.00", got the number 10 '
     "(a YAML number may lose precision)"),
    ({"seed": "x", "rules": []}, "seed", "expected a whole number, got the string 'x'"),
    ({"rules": {"then": {"action": "refuse"}}}, "rules", "expected a list of rules, got a mapping"),
]


@pytest.mark.parametrize(("document", "path", "reason"), BAD_DOCUMENTS,
                         ids=[f"{n}-{case[1] or 'top'}" for n, case in enumerate(BAD_DOCUMENTS)])
def test_each_bad_input_is_refused_with_its_path(document, path, reason):
    assert errors_of(document) == [(path, reason)]


@pytest.mark.parametrize(("document", "path", "reason"), [
    ({"rules": [{"when": {}}]}, "rules[0]", "missing required key 'then'"),
    ({"rules": [{"then": {"code": "E008"}}]}, "rules[0].then", "missing required key 'action'"),
], ids=["no-then", "no-action"])
def test_a_missing_required_key_is_refused_with_its_path(document, path, reason):
    assert errors_of(document) == [(path, reason)]


def test_every_problem_is_reported_at_once():
    found = errors_of({"rules": [
        {"when": {"nth": 0}, "then": {"action": "delay", "ms": 0}},
        {"name": "ok", "then": {"action": "refuse", "code": "X"}, "probability": 2},
    ]})
    assert [path for path, _ in found] == ["rules[0].when.nth", "rules[0].then.ms",
                                           "rules[1].then.code", "rules[1].probability"]


def test_yaml_errors_name_the_line():
    with pytest.raises(ConfigError) as caught:
        parse_scenario("rules:\n  - then: {action: refuse\n", "bad.yaml")
    assert caught.value.source == "bad.yaml"
    assert caught.value.path.startswith("line ")
    assert caught.value.reason.startswith("not valid YAML")
    with pytest.raises(ConfigError) as caught:
        parse_scenario("rules:\n  - then:\n      action: refuse\n      code: e1\n", "r.yaml")
    assert str(caught.value) == ("r.yaml: rules[0].then.code: expected a return code such as"
                                 " E008, got 'e1'")


# -- to_json / from_json -------------------------------------------------------------------

_patterns = st.one_of(st.just(""), st.from_regex(r"[0-9A-Za-z*?_.-]{1,12}", fullmatch=True))
_times = st.times().map(lambda t: t.replace(microsecond=0).isoformat())
_whens = st.builds(
    When,
    tr_codes=st.lists(st.from_regex(r"[0-9]{6}", fullmatch=True), max_size=3).map(tuple),
    corp_no=_patterns, pay_acno=_patterns, rcv_acno=_patterns, req_no=_patterns,
    min_amt=st.none() | st.integers(0, 10**16), max_amt=st.none() | st.integers(0, 10**16),
    between=st.none() | st.tuples(_times, _times),
    nth=st.none() | st.integers(1, 10**6),
)
_thens = st.builds(
    Then, action=st.sampled_from(ACTIONS), ms=st.integers(0, MAX_DELAY_MS),
    code=st.from_regex(r"[A-Z][0-9]{3}", fullmatch=True), message=st.text(max_size=20),
    settle=st.booleans(), after_seconds=st.integers(0, 10**7),
)
_rules = st.builds(
    Rule, name=st.text(min_size=1, max_size=60), when=_whens, then=_thens,
    probability=st.none() | st.floats(min_value=1e-9, max_value=1.0),
    times=st.none() | st.integers(1, 10**6),
)
_scenarios = st.builds(Scenario, rules=st.lists(_rules, max_size=4).map(tuple),
                       seed=st.integers(-(2**63), 2**63))


@given(_scenarios)
def test_to_json_and_from_json_round_trip(scenario):
    text = scenario.to_json()
    again = Scenario.from_json(text)
    assert again == scenario
    assert again.to_json() == text
    assert again.source == "<stored>"


@given(st.lists(st.fixed_dictionaries({
    "then": st.sampled_from([{"action": "refuse", "code": "E008", "message": "no"},
                             {"action": "delay", "ms": 10}, {"action": "unknown"},
                             {"action": "hold", "after": "10m", "settle": False},
                             {"action": "fail_item", "code": "E005"}]),
    "when": st.fixed_dictionaries({}, optional={
        "tr_code": st.sampled_from(["210201", ["210201", "210224"]]),
        "amount": st.sampled_from([{"min": "1.00"}, {"max": "9.99"}]),
        "between": st.just(["09:00", "17:30:15"]), "nth": st.integers(1, 9),
        "rcv_acno": st.just("6222*")}),
}, optional={"probability": st.sampled_from([0.25, 1]), "times": st.integers(1, 5)}),
    max_size=4))
def test_checked_documents_survive_storage(rules):
    scenario = scenario_from_data({"seed": 3, "rules": rules})
    assert Scenario.from_json(scenario.to_json()) == scenario


# -- the bank --------------------------------------------------------------------------------


class Machine:
    """The machine's clock: only read while the business clock is not set."""

    def __call__(self) -> datetime:
        return OPENED_AT


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "ledger.db"


def open_bank(path: Path) -> Bank:
    bank = Bank.open(path, seed=parse_seed(SEED_TEXT, "<seed>"), clock=Machine(),
                     journal=path.with_name("journal.jsonl"))
    bank.set_clock(MORNING)
    return bank


@pytest.fixture
def bank(db):
    bank = open_bank(db)
    yield bank
    bank.close()


def assert_ledger_ok(db) -> None:
    report = check_ledger(db)
    assert report.ok, str(report)


def rules(bank: Bank, *rule_list: dict, seed: int = 0) -> Scenario:
    scenario = scenario_from_data({"seed": seed, "rules": list(rule_list)})
    bank.load_rules(scenario)
    return scenario


def transfer(req_no: str, amt: int = 10_000, *, pay: str = TREASURY, rcv: str = PAYROLL
             ) -> Request:
    return Request(CORP, "001", "210201", req_no, {
        "pay_acno": pay, "rcv_acno": rcv, "amt": amt, "cur_code": "CNY", "bank_flag": "0",
        "area_flag": "0", "summary": "goods", "cert_no": f"V{req_no}"})


def inter_bank_transfer(req_no: str, amt: int = 10_000, *, rcv: str = ZHANG_ICBC) -> Request:
    return Request(CORP, "001", "210201", req_no, {
        "pay_acno": TREASURY, "rcv_acno": rcv, "amt": amt, "cur_code": "CNY",
        "bank_flag": "1", "rcv_bank_no": ICBC, "area_flag": "0"})


def payment(req_no: str, amt: int = 10_000, *, urgent: str = "1", rcv: str = ZHANG_ICBC
            ) -> Request:
    return Request(CORP, "001", "210224", req_no, {
        "pay_acno": TREASURY, "rcv_acno": rcv, "rcv_acname": "", "partyid": ICBC, "amt": amt,
        "cert_no": "", "purpose": "salary", "summary": "", "urgent_flag": urgent})


def query(tr_code: str, req_no: str = "", **fields: object) -> Request:
    return Request(CORP, "001", tr_code, req_no, fields)


def batch_pay(req_no: str, items: list[tuple[str, str, int, str]]) -> Request:
    records = [{"card_no": card, "acname": name, "card_flag": "0", "amt": amt, "busino": busino}
               for card, name, amt, busino in items]
    return Request(CORP, "001", "330002", req_no, {
        "cert_no": "P1", "pay_acno": PAYROLL, "type": "S", "sum": len(records),
        "sum_amt": sum(r["amt"] for r in records), "pay_month": "202612", "summary": "工资",
        "busi_no": "PR01", "mailflg": "N", "file_flag": "0", "items": records})


def batch_collect(req_no: str, items: list[tuple[str, str, str, int, str]]) -> Request:
    records = [{"pay_acno": acno, "pay_acname": name, "agreement_no": agreement, "amt": amt,
                "busino": busino, "pay_bank_no": ""}
               for acno, name, agreement, amt, busino in items]
    return Request(CORP, "001", "330010", req_no, {
        "cert_no": "C1", "rcv_acno": TREASURY, "sum": len(records),
        "sum_amt": sum(r["amt"] for r in records), "summary": "保费", "busi_no": "FEE",
        "file_flag": "0", "items": records})


def balance(bank: Bank, acno: str) -> int:
    return bank.connection.execute("SELECT balance FROM accounts WHERE acno = ?",
                                   (acno,)).fetchone()[0]


def in_transit(bank: Bank) -> int:
    return balance(bank, CLEARING_IN_TRANSIT)


def status(bank: Bank, req_no: str) -> tuple[str, str]:
    """(stat, err_msg) as 310204 answers."""
    reply = bank.execute(query("310204", query_flag="1", ogl_serial_no=req_no))
    assert reply.ok, reply
    return reply.fields["stat"], reply.fields["err_msg"]


def entry_count(bank: Bank) -> int:
    return bank.connection.execute("SELECT count(*) FROM entries").fetchone()[0]


def items_of(bank: Bank, req_no: str) -> dict[str, tuple[str, str, str]]:
    reply = bank.execute(query("310208", ogl_serial_no=req_no, status="", begin_no=0,
                               query_num=0))
    assert reply.ok, reply
    return {r["busino"]: (r["suc_flg"], r["err_code"], r["err_msg"])
            for r in reply.fields["records"]}


def journal(db: Path, kind: str | None = None) -> list[dict]:
    lines = db.with_name("journal.jsonl").read_text(encoding="utf-8").splitlines()
    events = [json.loads(line) for line in lines]
    return [e for e in events if kind is None or e["kind"] == kind]


# -- refuse -------------------------------------------------------------------------------------


def test_refuse_moves_nothing_and_a_retry_gets_the_same_refusal(bank, db):
    rules(bank, {"name": "no-money", "when": {"tr_code": "210201", "rcv_acno": PAYROLL},
                 "then": {"action": "refuse", "code": "E008", "message": "no money today"}})
    entries = entry_count(bank)
    reply = bank.execute(transfer("R1", 5_000))
    assert (reply.ret_code, reply.ret_msg, reply.serial_no, reply.fields) == (
        "E008", "no money today", "", {})
    assert reply.sent == "reply"
    assert balance(bank, TREASURY) == 100_000_000 and balance(bank, PAYROLL) == 25_000_000
    assert entry_count(bank) == entries
    assert status(bank, "R1") == ("2", "no money today")
    # Recorded: the same req_no again is answered from the record, even without the rule.
    bank.load_rules(Scenario())
    again = bank.execute(transfer("R1", 5_000))
    assert (again.ret_code, again.ret_msg) == ("E008", "no money today")
    assert balance(bank, TREASURY) == 100_000_000
    # Other content under that req_no is a different instruction: E011.
    assert bank.execute(transfer("R1", 5_001)).ret_code == "E011"
    (event,) = [e for e in journal(db, "request") if e["req_no"] == "R1"][:1]
    assert (event["rule"], event["sent"], event["effect"]) == ("no-money", "reply", [])
    assert_ledger_ok(db)


def test_a_retry_does_not_count_as_a_match(bank, db):
    rules(bank, {"name": "r", "then": {"action": "refuse", "code": "E005"}})
    assert bank.execute(transfer("R1")).ret_code == "E005"
    assert bank.execute(transfer("R1")).ret_code == "E005"
    assert bank.rules()[1] == {"r": (1, 1)}
    assert_ledger_ok(db)


def test_refuse_defaults_and_unknown_codes(bank, db):
    rules(bank, {"name": "plain", "when": {"req_no": "P*"}, "then": {"action": "refuse"}},
          {"name": "odd", "when": {"req_no": "O*"},
           "then": {"action": "refuse", "code": "E099"}})
    plain = bank.execute(transfer("P1"))
    assert (plain.ret_code, plain.ret_msg) == (
        "E016", "the bank could not process it; nothing was done")
    odd = bank.execute(transfer("O1"))
    assert (odd.ret_code, odd.ret_msg) == ("E099", "refused by the bank (odd)")
    assert_ledger_ok(db)


def test_refuse_a_query_and_a_batch_records_nothing(bank, db):
    rules(bank, {"name": "busy", "when": {"tr_code": ["310101", "330002"]},
                 "then": {"action": "refuse", "code": "E016", "message": "try later"}})
    reply = bank.execute(query("310101", "Q1", acno=TREASURY))
    assert (reply.ret_code, reply.ret_msg) == ("E016", "try later")
    refused = bank.execute(batch_pay("B1", [(ZHANG_CARD, "张三", 100, "b1")]))
    assert (refused.ret_code, refused.ret_msg) == ("E016", "try later")
    bank.load_rules(Scenario())
    # Neither was kept: the same batch req_no is a new batch now.
    accepted = bank.execute(batch_pay("B1", [(ZHANG_CARD, "张三", 100, "b1")]))
    assert accepted.ok and accepted.fields["state"] == "3"
    assert bank.execute(query("310101", "Q1", acno=TREASURY)).ok
    assert_ledger_ok(db)


# -- unknown, drop_after_commit, delay: executed, answered otherwise ----------------------------


@pytest.mark.parametrize(("then", "sent", "delay_ms"), [
    ({"action": "unknown"}, "unknown", 0),
    ({"action": "drop_after_commit"}, "dropped", 0),
    ({"action": "delay", "ms": 1500}, "late", 1500),
])
def test_answer_actions_execute_the_transfer(bank, db, then, sent, delay_ms):
    rules(bank, {"name": "odd-answer", "when": {"req_no": "X-*"}, "then": then})
    reply = bank.execute(transfer("X-1", 7_000))
    assert (reply.ret_code, reply.fields, reply.sent, reply.delay_ms) == (
        "0000", {"stat": "1"}, sent, delay_ms)
    assert balance(bank, TREASURY) == 100_000_000 - 7_000
    assert balance(bank, PAYROLL) == 25_000_000 + 7_000
    assert status(bank, "X-1") == ("1", "")
    # The retry is answered from the record, as a plain reply, and moves nothing again.
    again = bank.execute(transfer("X-1", 7_000))
    assert (again.serial_no, again.sent, again.delay_ms) == (reply.serial_no, "reply", 0)
    assert balance(bank, TREASURY) == 100_000_000 - 7_000
    # A request the rule does not match is answered as usual.
    assert bank.execute(transfer("Y-1", 1)).sent == "reply"
    (event,) = [e for e in journal(db, "request") if e["req_no"] == "X-1"][:1]
    assert (event["rule"], event["sent"]) == ("odd-answer", sent)
    assert [leg["amount"] for leg in event["effect"][0]["legs"]] == [7_000, 7_000]
    assert bank.rules()[1] == {"odd-answer": (1, 1)}
    assert_ledger_ok(db)


def test_answer_actions_apply_to_queries(bank, db):
    rules(bank, {"name": "slow", "when": {"tr_code": "310101"},
                 "then": {"action": "delay", "ms": 40}})
    reply = bank.execute(query("310101", "Q1", acno=TREASURY))
    assert reply.ok and (reply.sent, reply.delay_ms) == ("late", 40)
    assert reply.fields["records"][0]["balance"] == 100_000_000


# -- hold -----------------------------------------------------------------------------------------


def test_hold_keeps_a_same_bank_transfer_in_transit_until_after(bank, db):
    rules(bank, {"name": "hold", "when": {"tr_code": "210201"},
                 "then": {"action": "hold", "after": "10m"}})
    reply = bank.execute(transfer("H1", 30_000))
    assert (reply.ret_code, reply.ret_msg, reply.fields) == (
        "0000", "accepted, processing", {"stat": "0"})
    assert balance(bank, TREASURY) == 100_000_000 - 30_000
    assert balance(bank, PAYROLL) == 25_000_000
    assert in_transit(bank) == 30_000
    assert status(bank, "H1") == ("0", "")
    # Not yet due: clearing runs leave it alone.
    assert bank.run_clearing().pending == 1
    bank.advance_clock(timedelta(minutes=9, seconds=59))
    assert status(bank, "H1") == ("0", "") and in_transit(bank) == 30_000
    bank.advance_clock(timedelta(seconds=1))
    assert status(bank, "H1") == ("1", "")
    assert balance(bank, PAYROLL) == 25_000_000 + 30_000
    assert in_transit(bank) == 0
    (clearing,) = [e for e in journal(db, "clearing") if e["payments"]]
    assert clearing["at"] == "2026-12-01T09:10:00"
    assert clearing["payments"] == [{"corp_no": CORP, "req_no": "H1", "amt": 30_000,
                                     "outcome": "settled", "reason": ""}]
    assert_ledger_ok(db)


def test_hold_without_settle_returns_the_transfer(bank, db):
    rules(bank, {"name": "hold", "when": {"rcv_acno": PAYROLL},
                 "then": {"action": "hold", "after": "1h", "settle": False,
                          "message": "payee under review"}})
    assert bank.execute(transfer("H1", 30_000)).fields == {"stat": "0"}
    bank.advance_clock(timedelta(hours=1))
    assert status(bank, "H1") == ("2", "returned: payee under review")
    assert balance(bank, TREASURY) == 100_000_000
    assert balance(bank, PAYROLL) == 25_000_000
    assert in_transit(bank) == 0
    assert_ledger_ok(db)


def test_hold_an_inter_bank_payment(bank, db):
    rules(bank, {"name": "hold", "when": {"tr_code": "210224"},
                 "then": {"action": "hold", "after": "30m"}})
    assert bank.execute(payment("P1", 5_000, urgent="1")).fields == {"tran_status": "34"}
    bank.advance_clock(timedelta(minutes=1))  # urgent, but held
    assert status(bank, "P1") == ("0", "")
    bank.advance_clock(timedelta(minutes=29))
    assert status(bank, "P1") == ("1", "")
    assert in_transit(bank) == 0
    assert_ledger_ok(db)


def test_the_ledger_checks_out_while_a_transfer_is_held(bank, db):
    rules(bank, {"name": "hold", "then": {"action": "hold", "after": "1h"}})
    assert bank.execute(transfer("H1", 30_000)).fields == {"stat": "0"}
    assert_ledger_ok(db)


# -- return and return_after_settle --------------------------------------------------------------


@pytest.mark.parametrize("make", [payment, inter_bank_transfer], ids=["210224", "210201"])
def test_return_sends_an_inter_bank_payment_back_at_its_clearing(bank, db, make):
    rules(bank, {"name": "closed", "then": {"action": "return",
                                            "message": "account closed at ICBC"}})
    assert bank.execute(make("P1", 12_345)).ok
    assert balance(bank, TREASURY) == 100_000_000 - 12_345
    bank.advance_clock(timedelta(minutes=1))
    assert status(bank, "P1") == ("2", "returned: account closed at ICBC")
    assert balance(bank, TREASURY) == 100_000_000
    assert in_transit(bank) == 0
    (clearing,) = journal(db, "clearing")
    assert clearing["payments"] == [{"corp_no": CORP, "req_no": "P1", "amt": 12_345,
                                     "outcome": "returned", "reason": "account closed at ICBC"}]
    assert_ledger_ok(db)


def test_return_of_a_normal_payment_waits_for_the_batch_clearing(bank, db):
    rules(bank, {"name": "closed", "then": {"action": "return", "message": "closed"}})
    assert bank.execute(payment("N1", 5_000, urgent="0")).ok
    report = bank.run_clearing()
    assert not report.batch
    assert status(bank, "N1") == ("0", "")
    assert bank.run_clearing(force_batch=True).returned[0].req_no == "N1"


def test_a_transfer_action_is_not_spent_on_a_refused_payment(bank, db):
    rules(bank, {"name": "once", "times": 1, "when": {"tr_code": "210224"},
                 "then": {"action": "return", "message": "closed"}})
    assert bank.execute(payment("P0", 10**12)).ret_code == "E009"  # over the single limit
    assert bank.execute(payment("P1", 100)).ok
    bank.advance_clock(timedelta(minutes=1))
    assert status(bank, "P1") == ("2", "returned: closed")


def test_return_does_not_apply_to_a_same_bank_transfer(bank, db):
    rules(bank, {"name": "closed", "then": {"action": "return"}})
    assert bank.execute(transfer("T1", 100)).fields == {"stat": "1"}
    assert bank.rules()[1] == {}
    assert_ledger_ok(db)


def test_return_after_settle_settles_then_comes_back(bank, db):
    rules(bank, {"name": "late-return", "when": {"tr_code": "210224"},
                 "then": {"action": "return_after_settle", "after": "2h",
                          "message": "fraud suspected"}})
    assert bank.execute(payment("P1", 40_000, urgent="1")).ok
    bank.advance_clock(timedelta(minutes=1))
    assert status(bank, "P1") == ("1", "")
    assert balance(bank, ZHANG_ICBC) == 40_000
    assert balance(bank, TREASURY) == 100_000_000 - 40_000
    bank.advance_clock(timedelta(hours=1, minutes=59))  # a minute short of 2 h after settling
    assert status(bank, "P1") == ("1", "")
    bank.advance_clock(timedelta(minutes=1))
    assert status(bank, "P1") == ("2", "returned after settlement: fraud suspected")
    assert balance(bank, TREASURY) == 100_000_000
    assert balance(bank, ZHANG_ICBC) == 0
    outcomes = [(e["at"], p["outcome"]) for e in journal(db, "clearing") for p in e["payments"]]
    assert outcomes == [("2026-12-01T09:01:00", "settled"), ("2026-12-01T11:01:00", "returned")]


def test_the_ledger_checks_out_after_return_after_settle(bank, db):
    rules(bank, {"name": "late-return",
                 "then": {"action": "return_after_settle", "after": "1h"}})
    assert bank.execute(payment("P1", 40_000, urgent="1")).ok
    bank.advance_clock(timedelta(minutes=1))
    bank.advance_clock(timedelta(hours=1))
    assert status(bank, "P1")[0] == "2"
    assert_ledger_ok(db)


# -- fail_item ------------------------------------------------------------------------------------


def test_fail_item_fails_the_matching_items_of_a_batch(bank, db):
    rules(bank, {"name": "blocked", "when": {"rcv_acno": LI_CARD},
                 "then": {"action": "fail_item", "code": "E005", "message": "card blocked"}})
    reply = bank.execute(batch_pay("B1", [(ZHANG_CARD, "张三", 10_000, "b1"),
                                          (LI_CARD, "李四", 20_000, "b2"),
                                          (ZHANG_CARD, "张三", 30_000, "b3")]))
    assert reply.ok and reply.fields["state"] == "3"
    assert items_of(bank, "B1") == {"b1": ("F", "", ""), "b2": ("E", "E005", "card blocked"),
                                    "b3": ("F", "", "")}
    assert balance(bank, PAYROLL) == 25_000_000 - 40_000
    assert balance(bank, LI_CARD) == 1_200_000
    assert bank.rules()[1] == {"blocked": (1, 1)}
    (event,) = journal(db, "request")[:1]
    assert event["fields"]["items"] == {"items": 3}
    assert event["effect"] == [{"kind": "batch_item", "count": 2, "amount": 40_000}]
    assert_ledger_ok(db)


def test_fail_item_in_a_collection_reads_the_payer(bank, db):
    rules(bank, {"name": "payer", "when": {"pay_acno": ZHANG_CARD, "amount": {"min": "50.00"}},
                 "then": {"action": "fail_item", "code": "E099"}})
    reply = bank.execute(batch_collect("C1", [
        (ZHANG_CARD, "张三", "AG0000000001", 1_000, "c1"),
        (ZHANG_CARD, "张三", "AG0000000001", 6_000, "c2"),
        (LI_CARD, "李四", "AG0000000002", 6_000, "c3"),
    ]))
    assert reply.ok
    assert items_of(bank, "C1") == {"c1": ("F", "", ""), "c2": ("E", "E099", "failed"),
                                    "c3": ("F", "", "")}
    assert balance(bank, TREASURY) == 100_000_000 + 7_000
    assert_ledger_ok(db)


def test_fail_item_leaves_single_transfers_alone(bank, db):
    rules(bank, {"name": "items-only", "then": {"action": "fail_item"}})
    assert bank.execute(transfer("T1")).fields == {"stat": "1"}
    assert bank.rules()[1] == {}


# -- which rule fires, and when --------------------------------------------------------------------


def test_the_first_rule_that_fires_wins(bank, db):
    rules(bank,
          {"name": "second-refused", "when": {"req_no": "T*", "nth": 2},
           "then": {"action": "refuse", "code": "E008"}},
          {"name": "all-slow", "when": {"req_no": "T*"}, "then": {"action": "delay", "ms": 5}},
          {"name": "never", "then": {"action": "unknown"}})
    answers = [(r.ret_code, r.sent) for r in (bank.execute(transfer(f"T{n}", 100))
                                              for n in range(1, 4))]
    assert answers == [("0000", "late"), ("E008", "reply"), ("0000", "late")]
    # The rules after the one that fired are not consulted: "never" never matched.
    assert bank.rules()[1] == {"second-refused": (3, 1), "all-slow": (2, 2)}
    events = [(e["req_no"], e["rule"]) for e in journal(db, "request")]
    assert events == [("T1", "all-slow"), ("T2", "second-refused"), ("T3", "all-slow")]
    assert_ledger_ok(db)


def test_nth_fires_on_that_match_of_each_business_day(bank, db):
    rules(bank, {"name": "third", "when": {"tr_code": "210201", "nth": 3},
                 "then": {"action": "refuse", "code": "E010"}})
    day_one = [bank.execute(transfer(f"A{n}", 100)).ret_code for n in range(1, 6)]
    assert day_one == ["0000", "0000", "E010", "0000", "0000"]
    bank.execute(query("310101", "Q", acno=TREASURY))  # not a 210201: not a match
    bank.advance_clock(timedelta(days=1))
    day_two = [bank.execute(transfer(f"B{n}", 100)).ret_code for n in range(1, 5)]
    assert day_two == ["0000", "0000", "E010", "0000"]
    assert bank.rules()[1] == {"third": (9, 2)}
    with sqlite3.connect(db) as conn:
        per_day = conn.execute("SELECT biz_date, matched, fired FROM scenario_counts"
                               " ORDER BY biz_date").fetchall()
    assert per_day == [("20261201", 5, 1), ("20261202", 4, 1)]
    assert_ledger_ok(db)


def test_times_limits_how_often_a_rule_fires(bank, db):
    rules(bank, {"name": "twice", "times": 2, "then": {"action": "refuse", "code": "E008"}})
    codes = [bank.execute(transfer(f"T{n}", 100)).ret_code for n in range(1, 5)]
    assert codes == ["E008", "E008", "0000", "0000"]
    bank.advance_clock(timedelta(days=1))  # at most twice in all, not per day
    assert bank.execute(transfer("T5", 100)).ret_code == "0000"
    assert bank.rules()[1] == {"twice": (5, 2)}
    assert_ledger_ok(db)


def test_conditions_amount_patterns_and_between(bank, db):
    rules(bank, {"name": "window", "when": {
        "tr_code": "210201", "rcv_acno": "31006672601801000000?", "req_no": "W-*",
        "amount": {"min": "1.00", "max": "100.00"}, "between": ["09:00", "11:30"]},
        "then": {"action": "refuse", "code": "E009"}})
    cases = [("W-1", 100, "E009"), ("W-2", 10_000, "E009"), ("W-3", 99, "0000"),
             ("W-4", 10_001, "0000"), ("X-1", 500, "0000")]
    assert [(req, bank.execute(transfer(req, amt)).ret_code) for req, amt, _ in cases] == \
        [(req, code) for req, _, code in cases]
    bank.advance_clock(timedelta(hours=2, minutes=30))  # 11:30:00, the last second in
    assert bank.execute(transfer("W-5", 500)).ret_code == "E009"
    bank.advance_clock(timedelta(minutes=1))  # 11:31
    assert bank.execute(transfer("W-6", 500)).ret_code == "0000"
    assert_ledger_ok(db)


def test_between_starts_at_its_first_second(db):
    bank = Bank.open(db, seed=parse_seed(SEED_TEXT, "<seed>"), clock=Machine())
    try:
        bank.set_clock(datetime(2026, 12, 1, 8, 59, 59))
        rules(bank, {"when": {"between": ["09:00", "09:00:30"]},
                     "then": {"action": "refuse", "code": "E009"}})
        assert bank.execute(transfer("T1", 100)).ret_code == "0000"
        bank.advance_clock(timedelta(seconds=1))
        assert bank.execute(transfer("T2", 100)).ret_code == "E009"
    finally:
        bank.close()


def test_loading_rules_resets_their_counts(bank, db):
    document = {"name": "second", "when": {"nth": 2}, "then": {"action": "refuse"}}
    rules(bank, document)
    assert bank.execute(transfer("T1", 100)).ok
    assert bank.rules()[1] == {"second": (1, 0)}
    rules(bank, document)  # the same rules again: counting starts over
    assert bank.rules()[1] == {}
    assert bank.execute(transfer("T2", 100)).ok  # match no. 1 again
    assert bank.execute(transfer("T3", 100)).ret_code == "E016"
    assert bank.rules()[1] == {"second": (2, 1)}
    stored, _ = bank.rules()
    assert stored == scenario_from_data({"seed": 0, "rules": [document]})
    assert_ledger_ok(db)


# -- probability -------------------------------------------------------------------------------


PROBABLE = {"name": "coin", "probability": 0.3, "when": {"tr_code": "310101"},
            "then": {"action": "refuse", "code": "E016"}}


def decisions(bank: Bank, count: int) -> list[bool]:
    return [bank.execute(query("310101", f"Q{n}", acno=TREASURY)).ret_code == "E016"
            for n in range(count)]


def test_probability_with_a_seed_is_reproducible(tmp_path):
    first, second, other = (open_bank(tmp_path / f"{name}.db")
                            for name in ("first", "second", "other"))
    try:
        rules(first, PROBABLE, seed=11)
        rules(second, PROBABLE, seed=11)
        rules(other, PROBABLE, seed=12)
        # What ran before, and does not match, makes no difference.
        for n in range(3):
            assert second.execute(transfer(f"T{n}", 100)).ok
        one, two, three = decisions(first, 60), decisions(second, 60), decisions(other, 60)
        assert one == two
        assert one != three
        assert first.rules()[1] == second.rules()[1] == {"coin": (60, sum(one))}
    finally:
        for bank in (first, second, other):
            bank.close()


def test_probability_fires_on_about_that_share_of_matches(bank):
    rules(bank, PROBABLE, seed=7)
    fired = sum(decisions(bank, 200))
    assert 40 <= fired <= 80  # 0.3 of 200 is 60
    assert bank.rules()[1] == {"coin": (200, fired)}


def test_probability_one_always_fires(bank):
    rules(bank, {**PROBABLE, "probability": 1}, seed=5)
    assert decisions(bank, 20) == [True] * 20


# -- the journal -------------------------------------------------------------------------------


def test_the_journal_notes_each_rule_load(bank, db):
    rules(bank, {"name": "a", "then": {"action": "unknown"}},
          {"name": "b", "then": {"action": "refuse"}})
    bank.load_rules(Scenario())
    loads = [(e["at"], e["names"]) for e in journal(db, "rules")]
    assert loads == [("2026-12-01T09:00:00", ["a", "b"]), ("2026-12-01T09:00:00", [])]


# -- the test fixture's rules (directlink.testing.controls.BankRules) ---------------------------


@pytest.fixture
def bank_rules(tmp_path):
    from core_sim.home import CoreHome
    from directlink.testing.controls import BankRules

    home = CoreHome(tmp_path / "home")
    home.dir.mkdir(parents=True)
    open_bank(home.ledger).close()
    return BankRules(home)


def test_add_appends_to_the_rules_in_force_however_they_were_loaded(bank_rules):
    bank_rules.load("seed: 9\nrules:\n  - name: from-yaml\n    then: {action: unknown}\n")
    scenario = bank_rules.add(when={"tr_code": "310101"}, then={"action": "delay", "ms": 5})
    assert [rule.name for rule in scenario.rules] == ["from-yaml", "rule-2"]
    assert scenario.seed == 9
    assert bank_rules.scenario() == scenario
    bank_rules.clear()
    assert bank_rules.scenario().rules == ()


def test_add_refuses_a_taken_name_and_bad_rules_at_their_place(bank_rules):
    bank_rules.add(name="one", then={"action": "unknown"})
    with pytest.raises(ConfigError) as taken:
        bank_rules.add(name="one", then={"action": "refuse"})
    assert (taken.value.path, taken.value.reason) == (
        "rules[1].name", "name 'one' is used by an earlier rule")
    with pytest.raises(ConfigError) as bad:
        bank_rules.add(then={"action": "delay", "ms": 0})
    assert bad.value.path == "rules[1].then.ms"
    assert [rule.name for rule in bank_rules.scenario().rules] == ["one"]
