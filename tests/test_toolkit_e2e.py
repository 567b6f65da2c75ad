"""The test toolkit end to end: scenario rules, the business clock and the journal,
seen from the ERP through a real client daemon and bank core.

Each test gets a bank core and a client daemon from the plugin's fixtures (a
second each), from the demo seed with a fixed business date; the business
clock is frozen first, so the core's periodic clearing does not run and every
timestamp in the journal is known.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from config.seed import DEMO_SEED

BUSINESS_DATE = "2026-12-01"
SEED = DEMO_SEED.replace('# business_date: "2026-11-24"    # optional; default: today',
                         f'business_date: "{BUSINESS_DATE}"')
assert SEED != DEMO_SEED

TREASURY = "310066726018010000001"  # 1,000,000.00
PAYROLL = "310066726018010000002"  # 250,000.00
ZHANG_ICBC = "6222020200000000001"  # at ICBC, active
START = Decimal("1000000.00")
PAYROLL_START = Decimal("250000.00")

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def directlink_seed():
    return SEED


@pytest.fixture
def frozen(bank_clock):
    """The business clock frozen at 09:00 on the seed's business date."""
    reading = bank_clock.set(f"{BUSINESS_DATE} 09:00")
    assert str(reading.now) == "2026-12-01 09:00:00"
    return bank_clock


def money_moved_once(erp, amount: str, *, times: int = 1) -> None:
    moved = Decimal(amount) * times
    assert erp.available(TREASURY) == START - moved
    assert erp.available(PAYROLL) == PAYROLL_START + moved


# -- each action as the ERP sees it ----------------------------------------------------------


@pytest.mark.parametrize(("action", "sent"), [("drop_after_commit", "dropped"),
                                              ("unknown", "unknown")])
def test_a_lost_answer_is_outcome_unknown_then_310204_says_success(
        erp, bank_rules, bank_journal, frozen, action, sent):
    bank_rules.add(name="lose-it", when={"req_no": "LOST-*"}, then={"action": action})
    reply = erp.transfer(TREASURY, PAYROLL, "12.34", req_no="LOST-1")
    assert (reply.ans_code, reply.code) == ("2", "D008"), reply
    assert reply.info == "processing: outcome unknown, query with 310204"
    assert reply.unknown and reply.get("stat") == "3" and reply.serial_no == ""

    status = erp.status("LOST-1")
    assert status.ok and status["stat"] == "1" and status["amt"] == "12.34", status
    money_moved_once(erp, "12.34")

    # The ERP's retry of the same req_no is answered from the bank's record.
    retry = erp.transfer(TREASURY, PAYROLL, "12.34", req_no="LOST-1")
    assert retry.ok and retry["stat"] == "1", retry
    money_moved_once(erp, "12.34")

    (first, second) = bank_journal.assert_called(times=2, tr_code="210201", req_no="LOST-1")
    assert (first["rule"], first["sent"]) == ("lose-it", sent)
    assert (second["rule"], second["sent"], second["effect"]) == (None, "reply", [])
    assert second["reply"]["serial_no"] == first["reply"]["serial_no"] == retry.serial_no
    assert bank_rules.counts() == {"lose-it": (1, 1)}


def test_a_delayed_answer_comes_at_least_ms_late(erp, bank_rules, bank_journal, frozen):
    bank_rules.add(name="slow", when={"tr_code": "210201"}, then={"action": "delay", "ms": 800})
    started = time.monotonic()
    reply = erp.transfer(TREASURY, PAYROLL, "1.00", req_no="SLOW-1")
    elapsed = time.monotonic() - started
    assert reply.ok and reply["stat"] == "1", reply
    assert elapsed >= 0.8
    money_moved_once(erp, "1.00")
    bank_journal.assert_called(times=1, req_no="SLOW-1", rule="slow", sent="late")
    # A request the rule does not match is answered as usual.
    assert erp.balance(TREASURY, req_no="BAL-1").ok
    bank_journal.assert_called(times=1, req_no="BAL-1", rule=None, sent="reply")


@pytest.mark.parametrize(("code", "message"), [("E008", "no money today"),
                                               ("E099", "blocked by the test")])
def test_a_refusal_reaches_the_erp_with_its_code(erp, bank_rules, bank_journal, frozen,
                                                 code, message):
    bank_rules.add(name="no", when={"rcv_acno": PAYROLL},
                   then={"action": "refuse", "code": code, "message": message})
    reply = erp.transfer(TREASURY, PAYROLL, "5.00", req_no="NO-1")
    assert (reply.ans_code, reply.code, reply.info) == ("1", code, message), reply
    assert erp.available(TREASURY) == START
    status = erp.status("NO-1")
    assert (status["stat"], status["err_msg"]) == ("2", message)
    bank_journal.assert_called(times=1, req_no="NO-1", rule="no", effect=[])


# -- the scenario of the documentation ---------------------------------------------------------


def test_the_third_transfer_of_the_day_comes_back_at_end_of_day(erp, bank_rules, bank_clock,
                                                                bank_journal, frozen):
    bank_rules.load("""
        rules:
          - name: third-comes-back
            when: {tr_code: "210201", nth: 3}
            then: {action: return, message: "account closed at the receiving bank"}
    """)
    req_nos = ["DAY-1", "DAY-2", "DAY-3", "DAY-4"]
    for req_no in req_nos:
        reply = erp.transfer(TREASURY, ZHANG_ICBC, "100.00", req_no=req_no)
        assert reply.ok and reply["stat"] == "0", reply  # to another bank: processing
    assert erp.available(TREASURY) == START - Decimal("400.00")
    # Frozen: no clearing has run, whatever the core's cycle.
    assert [erp.status(r)["stat"] for r in req_nos] == ["0", "0", "0", "0"]
    bank_journal.assert_not_called(kind="clearing")

    reading = bank_clock.advance("15h")  # 2026-12-02 00:00 is crossed
    assert (str(reading.now), str(reading.business_date), reading.days_closed) == (
        "2026-12-02 00:00:00", "2026-12-02", 1)

    statuses = {r: (erp.status(r)["stat"], erp.status(r)["err_msg"]) for r in req_nos}
    assert statuses == {"DAY-1": ("1", ""), "DAY-2": ("1", ""),
                        "DAY-3": ("2", "returned: account closed at the receiving bank"),
                        "DAY-4": ("1", "")}
    assert erp.available(TREASURY) == START - Decimal("300.00")

    (third,) = bank_journal.assert_called(times=1, rule="third-comes-back")
    assert third["req_no"] == "DAY-3" and third["at"] == "2026-12-01T09:00:00"
    outcomes = {p["req_no"]: (p["outcome"], p["reason"])
                for event in bank_journal.find(kind="clearing") for p in event["payments"]}
    assert outcomes == {"DAY-1": ("settled", ""), "DAY-2": ("settled", ""),
                        "DAY-3": ("returned", "account closed at the receiving bank"),
                        "DAY-4": ("settled", "")}
    bank_journal.assert_called(times=1, kind="end_of_day", business_date="2026-12-02")
    assert bank_rules.counts() == {"third-comes-back": (4, 1)}


# -- the journal ------------------------------------------------------------------------------


def test_the_journal_records_requests_with_their_effect(erp, bank_rules, bank_journal, frozen):
    bank_rules.add(name="slow", when={"req_no": "J-*"}, then={"action": "delay", "ms": 10})
    reply = erp.transfer(TREASURY, PAYROLL, "12.50", req_no="J-1", summary="goods")
    assert reply.ok
    (event,) = bank_journal.assert_called(times=1, tr_code="210201", amt="12.50",
                                          pay_acno=TREASURY)
    assert event["at"] == "2026-12-01T09:00:00"
    assert (event["corp_no"], event["user_no"], event["req_no"]) == ("0000000001", "001", "J-1")
    assert event["fields"]["amt"] == 1250 and event["fields"]["summary"] == "goods"
    assert event["fields"]["rcv_acno"] == PAYROLL and event["fields"]["bank_flag"] == "0"
    assert (event["rule"], event["sent"]) == ("slow", "late")
    assert event["reply"] == {"ret_code": "0000", "ret_msg": "transfer completed",
                              "serial_no": reply.serial_no, "fields": {"stat": "1"}}
    assert event["effect"] == [{"serial_no": reply.serial_no, "kind": "transfer", "legs": [
        {"acno": TREASURY, "side": "D", "amount": 1250},
        {"acno": PAYROLL, "side": "C", "amount": 1250}]}]
    # Amounts match as yuan text, Decimal or fen.
    assert bank_journal.find(amt=Decimal("12.50")) == bank_journal.find(amt=1250) == [event]
    bank_journal.assert_not_called(amt="12.51")


def test_journal_clear_forgets_what_was_journaled(erp, bank_journal, frozen):
    assert erp.transfer(TREASURY, PAYROLL, "1.00", req_no="C-1").ok
    assert len(bank_journal.find(req_no="C-1")) == 1
    bank_journal.clear()
    assert len(bank_journal) == 0 and bank_journal.events() == []
    bank_journal.assert_not_called(req_no="C-1")
    assert erp.transfer(TREASURY, PAYROLL, "2.00", req_no="C-2").ok
    assert [e["req_no"] for e in bank_journal.requests()] == ["C-2"]


# -- the command line against a running core ---------------------------------------------------


def directlink_command() -> list[str]:
    executable = Path(sys.executable).with_name("directlink")
    if executable.exists():
        return [str(executable)]
    return [sys.executable, "-c", "from directlink.cli import main; main()"]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DIRECTLINK_HOME"}
    result = subprocess.run([*directlink_command(), *args], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result


def test_core_clock_and_core_rules_change_a_running_core(erp, directlink_bank, bank_journal,
                                                         tmp_path):
    home = str(directlink_bank.root)
    shown = run_cli("core", "clock", "set", f"{BUSINESS_DATE} 09:00", "--home", home)
    assert shown.stdout.splitlines() == ["business time 2026-12-01 09:00:00 (frozen)",
                                         "business date 2026-12-01"]
    assert erp.transfer(TREASURY, PAYROLL, "1.00", req_no="CLI-1").ok
    bank_journal.assert_called(times=1, req_no="CLI-1", at="2026-12-01T09:00:00")

    rules = tmp_path / "rules.yaml"
    rules.write_text('rules:\n  - name: cli-refusal\n    when: {rcv_acno: "3100*"}\n'
                     '    then: {action: refuse, code: E005, message: "frozen by the CLI"}\n',
                     encoding="utf-8")
    loaded = run_cli("core", "rules", "load", str(rules), "--home", home)
    assert loaded.stdout.strip() == f"loaded 1 rule from {rules}"
    refused = erp.transfer(TREASURY, PAYROLL, "1.00", req_no="CLI-2")
    assert (refused.code, refused.info) == ("E005", "frozen by the CLI"), refused
    listing = run_cli("core", "rules", "list", "--home", home).stdout
    assert "1. cli-refusal: rcv_acno 3100* → refuse E005 — matched 1, fired 1" in listing

    advanced = run_cli("core", "clock", "advance", "1d2h", "--home", home)
    assert advanced.stdout.splitlines() == ["business time 2026-12-02 11:00:00 (frozen)",
                                            "business date 2026-12-02",
                                            "closed 1 business day"]
    assert run_cli("core", "rules", "clear", "--home", home).stdout.strip() == "rules cleared"
    reply = erp.transfer(TREASURY, PAYROLL, "1.00", req_no="CLI-3")
    assert reply.ok and reply.serial_no.startswith("20261202"), reply
    bank_journal.assert_called(times=1, req_no="CLI-3", at="2026-12-02T11:00:00", rule=None)
    assert erp.available(TREASURY) == START - Decimal("2.00")
    released = run_cli("core", "clock", "release", "--home", home).stdout
    assert "(follows this machine's clock (China time))" in released
    assert "business date 2026-12-02" in released


# -- determinism -------------------------------------------------------------------------------


DETERMINISM_RULES = {
    "seed": 20261201,
    "rules": [
        {"name": "coin", "probability": 0.5, "when": {"tr_code": "210201", "req_no": "D-*"},
         "then": {"action": "refuse", "code": "E008", "message": "heads"}},
        {"name": "second-balance", "when": {"tr_code": "310101", "nth": 2},
         "then": {"action": "delay", "ms": 20}},
        {"name": "return-one", "times": 1, "when": {"tr_code": "210224"},
         "then": {"action": "return", "message": "closed"}},
    ],
}


def run_the_day(pair) -> list[dict]:
    bank, erp = pair.bank, pair.erp()
    bank.clock.set(f"{BUSINESS_DATE} 09:30")
    bank.rules.load(DETERMINISM_RULES)
    replies = []
    for n in range(1, 13):
        replies.append(erp.transfer(TREASURY, PAYROLL, f"{n}.00", req_no=f"D-{n}"))
        if n % 4 == 0:
            replies.append(erp.balance(TREASURY, req_no=f"Q-{n}"))
    replies.append(erp.payment(TREASURY, ZHANG_ICBC, "50.00", req_no="P-1"))
    replies.append(erp.payment(TREASURY, ZHANG_ICBC, "60.00", req_no="P-2"))
    bank.clock.advance("30m")
    replies.append(erp.status("P-1", req_no="S-1"))
    replies.append(erp.today(TREASURY, req_no="T-1"))
    assert sum(r.code == "E008" for r in replies) > 0
    bank.clock.end_of_day()  # the batch clearing: the normal payments settle or go back
    return [e for e in bank.journal.events() if e["kind"] in ("request", "clearing")]


def test_same_seed_rules_and_requests_give_the_same_journal(directlink_factory):
    first = directlink_factory.start(SEED)
    second = directlink_factory.start(SEED)
    one, two = run_the_day(first), run_the_day(second)
    directlink_factory.stop(first)
    directlink_factory.stop(second)
    # 12 transfers, 3 balances, 2 payments, a status, a day's details. The payments are
    # normal (not urgent): the 30-minute cycle leaves them, the returned one included,
    # for the batch clearing of end of day.
    assert [e["kind"] for e in one].count("request") == 19
    assert [e["kind"] for e in one].count("clearing") == 1
    assert one == two
    # The end of day's clearing is stamped with the last second of the day it closes.
    assert {e["at"] for e in one} == {"2026-12-01T09:30:00", "2026-12-01T10:00:00",
                                      "2026-12-01T23:59:59"}
    refused = [e["req_no"] for e in one if e.get("rule") == "coin"]
    assert 0 < len(refused) < 12
    assert all(e["reply"]["ret_code"] == ("E008" if e["req_no"] in refused else "0000")
               for e in one if e["kind"] == "request" and e["tr_code"] == "210201")
    assert [e["req_no"] for e in one if e.get("rule") == "second-balance"] == ["Q-8"]
    (clearing,) = [e for e in one if e["kind"] == "clearing"]
    assert clearing["payments"] == [
        {"corp_no": "0000000001", "req_no": "P-1", "amt": 5000, "outcome": "returned",
         "reason": "closed"},
        {"corp_no": "0000000001", "req_no": "P-2", "amt": 6000, "outcome": "settled",
         "reason": ""}]
