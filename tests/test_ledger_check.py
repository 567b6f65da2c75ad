"""check_ledger finds each kind of corruption, by name, and nothing else.

Each test builds a small healthy ledger, breaks it by hand through a plain
sqlite3 connection (as a bug or an operator with a SQL shell might), and
checks that the right check fails and says where.
"""

from __future__ import annotations

import sqlite3

import pytest

from config.seed import parse_seed
from core_sim.bank import Bank, Request
from core_sim.check import check_ledger
from protocol.keys import SigningKey
from tests.test_approvals import Clock, decide, enroll, seed_text
from tests.test_bank import A1, A2, CLOSED_EXT, FakeClock, make_seed, payment, transfer

ALL_CHECKS = {
    "entries_balanced", "balances_match_postings", "running_balances", "money_conserved",
    "no_overdraft", "executed_once", "entry_references", "clearing_in_transit",
    "instruction_status",
    "batch_totals",
    "authorizations",
}


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "core.db"
    with Bank.open(path, seed=make_seed(), clock=FakeClock()) as bank:
        replies = bank.execute_batch([
            transfer("T1", 10_000),
            transfer("T2", 20_000),
            transfer("REFUSED", 10**9),
            payment("SETTLED", 3_000),
            payment("RETURNED", 4_000, rcv=CLOSED_EXT),
        ])
        assert [r.ret_code for r in replies] == ["0000", "0000", "E009", "0000", "0000"]
        bank.run_clearing()
        assert bank.execute(payment("PENDING", 5_000, urgent="0")).ok
    return path


def failing(path) -> set[str]:
    return {check.name for check in check_ledger(path).failed}


def sql(path, *statements: str, params: tuple = ()) -> None:
    conn = sqlite3.connect(path)
    try:
        for statement in statements:
            conn.execute(statement, params if "?" in statement else ())
        conn.commit()
    finally:
        conn.close()


def test_a_healthy_ledger_passes_every_check(db):
    report = check_ledger(db)
    assert report.ok, str(report)
    assert {check.name for check in report.checks} == ALL_CHECKS
    lines = str(report).splitlines()
    assert len(lines) == len(ALL_CHECKS)
    assert all(line.startswith("ok ") for line in lines)
    assert "5000 fen in transit = 1 payments in clearing" in report["clearing_in_transit"].detail
    name, ok, detail = report.checks[0]  # each check is a (name, ok, detail) tuple
    assert ok and name and detail


def test_unbalanced_entry(db):
    # Credit the payee one fen more than the payer was debited, keeping the
    # payee's cached and running balances in step so only the entry is wrong.
    sql(db,
        "UPDATE postings SET amount = amount + 1, balance_after = balance_after + 1"
        " WHERE side = 'C' AND entry_id = (SELECT e.id FROM entries e JOIN instructions i"
        " ON i.id = e.instruction_id WHERE i.req_no = 'T2')",
        "UPDATE accounts SET balance = balance + 1 WHERE acno = ?",
        params=(A2,))
    report = check_ledger(db)
    assert not report.ok
    assert "entries_balanced" in failing(db)
    assert "debits 20000, credits 20001" in report["entries_balanced"].detail
    assert "FAIL  entries_balanced: 1 unbalanced entries" in str(report)
    assert "money_conserved" in failing(db)  # one fen was created
    assert report["balances_match_postings"].ok


def test_entry_with_a_single_posting(db):
    sql(db,
        "INSERT INTO entries (serial_no, kind, biz_date, created_at, tr_time, instruction_id)"
        " SELECT '2026112499999999', 'transfer', '20261124', '', '000000', id"
        " FROM instructions WHERE req_no = 'REFUSED'")
    assert "entries_balanced" in failing(db)
    assert "0 postings" in check_ledger(db)["entries_balanced"].detail


def test_wrong_cached_balance(db):
    sql(db, "UPDATE accounts SET balance = balance + 100 WHERE acno = ?", params=(A1,))
    report = check_ledger(db)
    assert failing(db) == {"balances_match_postings", "money_conserved"}
    assert f"account {A1}: cached 762100, postings 762000" in report[
        "balances_match_postings"].detail


def test_wrong_balance_after_in_the_details(db):
    sql(db, "UPDATE postings SET balance_after = 42 WHERE id = (SELECT MAX(id) FROM postings"
        " WHERE account_id = (SELECT id FROM accounts WHERE acno = ?))", params=(A2,))
    assert failing(db) == {"running_balances"}
    assert "balance_after 42" in check_ledger(db)["running_balances"].detail


def test_duplicate_execution(db):
    # Run T1 a second time by hand: a perfectly balanced entry whose balances
    # are all kept right, so only the exactly-once checks can see it.
    conn = sqlite3.connect(db)
    instruction_id = conn.execute("SELECT id FROM instructions WHERE req_no = 'T1'").fetchone()[0]
    entry_id = conn.execute(
        "INSERT INTO entries (serial_no, kind, biz_date, created_at, tr_time, instruction_id)"
        " VALUES ('2026112499999999', 'transfer', '20261124', '', '000000', ?)",
        (instruction_id,),
    ).lastrowid
    for acno, side, delta in ((A1, "D", -10_000), (A2, "C", 10_000)):
        account_id, balance = conn.execute(
            "UPDATE accounts SET balance = balance + ? WHERE acno = ? RETURNING id, balance",
            (delta, acno),
        ).fetchone()
        conn.execute(
            "INSERT INTO postings (entry_id, account_id, side, amount, balance_after, biz_date)"
            " VALUES (?, ?, ?, 10000, ?, '20261124')",
            (entry_id, account_id, side, balance),
        )
    conn.commit()
    conn.close()
    report = check_ledger(db)
    assert failing(db) == {"executed_once", "instruction_status"}
    assert "0000000001/T1: 2 executions" in report["executed_once"].detail


def test_settled_twice(db):
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO entries (serial_no, kind, biz_date, created_at, tr_time,"
                 " summary, instruction_id, clearing_run_id)"
                 " SELECT '2026112499999999', kind, biz_date, created_at, tr_time, summary,"
                 " instruction_id, clearing_run_id FROM entries WHERE kind = 'settle'")
    conn.execute("INSERT INTO postings (entry_id, account_id, side, amount, balance_after,"
                 " biz_date) SELECT (SELECT MAX(id) FROM entries), account_id, side, amount,"
                 " balance_after, biz_date FROM postings WHERE entry_id ="
                 " (SELECT id FROM entries WHERE kind = 'settle' ORDER BY id LIMIT 1)")
    conn.commit()
    conn.close()
    report = check_ledger(db)
    assert "executed_once" in failing(db)
    assert "SETTLED: 1 executions, 2 clearing outcomes" in report["executed_once"].detail


def test_status_without_its_entries(db):
    # Mark the pending payment as settled without settling it.
    sql(db, "UPDATE instructions SET status = 'success' WHERE req_no = 'PENDING'")
    report = check_ledger(db)
    assert failing(db) == {"clearing_in_transit", "instruction_status"}
    assert "holds 5000 fen, but the 0 payments" in report["clearing_in_transit"].detail
    assert "PENDING inter_bank success" in report["instruction_status"].detail


def test_refusal_that_moved_money(db):
    sql(db, "UPDATE instructions SET status = 'success' WHERE req_no = 'T1'",
        "UPDATE instructions SET status = 'failed' WHERE req_no = 'T2'")
    detail = check_ledger(db)["instruction_status"].detail
    assert "T2 same_bank failed: entries transfer=1" in detail
    assert "T1" not in detail


def test_entry_without_an_origin(db):
    sql(db, "UPDATE entries SET instruction_id = 9999 WHERE id = (SELECT MAX(id) FROM entries)")
    report = check_ledger(db)
    assert "entry_references" in failing(db)
    assert "instruction 9999 does not exist" in report["entry_references"].detail


def test_overdraft(db):
    sql(db, "UPDATE accounts SET balance = -1 WHERE acno = ?", params=(A1,))
    assert "no_overdraft" in failing(db)
    assert f"account {A1}: balance -1" in check_ledger(db)["no_overdraft"].detail


def test_check_runs_beside_a_live_bank_and_changes_nothing(db):
    with Bank.open(db, clock=FakeClock()) as bank:
        assert bank.execute(transfer("T9", 1)).ok
        assert check_ledger(db).ok  # sees the committed transfer while the bank is open
    before = db.read_bytes()
    assert check_ledger(db).ok
    assert db.read_bytes() == before


def test_missing_database(tmp_path):
    with pytest.raises(FileNotFoundError):
        check_ledger(tmp_path / "nope.db")


def test_the_summary_counts_agree_with_their_nouns():
    from core_sim.check import _n

    assert [_n(n, "instruction") for n in (0, 1, 2)] == [
        "0 instructions", "1 instruction", "2 instructions"]
    assert _n(1, "batch", "batches") == "1 batch" and _n(3, "entry", "entries") == "3 entries"


def test_authorizations_that_disagree_with_their_instruction(tmp_path):
    path = tmp_path / "controls.db"
    signing = {code: SigningKey.generate() for code in ("B01", "C01")}
    with Bank.open(path, seed=parse_seed(seed_text(), "seed"), clock=Clock()) as bank:
        for code, key in signing.items():
            enroll(bank, code, key)
        flow = {"pay_acno": "310066726018010000001", "rcv_acno": "310066726018010000002",
                "bank_flag": "0"}
        for req_no, amt in (("W1", 150_000_000), ("W2", 100_000), ("W3", 100_000)):
            assert bank.execute(Request("0000000001", "001", "210201", req_no,
                                        {**flow, "amt": amt})).ret_code == "A001"
        assert decide(bank, signing, "B01", "W2", level=1, amt=100_000).ok
        assert decide(bank, signing, "B01", "W3", level=1, amt=100_000,
                      decision="reject").ok
    report = check_ledger(path)
    assert report.ok, str(report)
    assert report["authorizations"].detail == \
        "3 authorizations, each agreeing with its instruction"
    # Executed behind its authorization's back: still awaiting, yet success.
    sql(path, "UPDATE instructions SET status = 'success' WHERE req_no = 'W1'")
    # A rejected one that says it was authorized; an authorized one missing a level.
    sql(path, "UPDATE instructions SET status = 'awaiting' WHERE req_no = 'W3'")
    sql(path, "UPDATE authorizations SET approvers = '[]' WHERE state = 'authorized'")
    report = check_ledger(path)
    detail = report["authorizations"].detail
    assert not report["authorizations"].ok
    assert detail.startswith("3 instructions inconsistent with their authorization: ")
    assert "0000000001/W1: authorization awaiting, instruction success" in detail
    assert "0000000001/W2: authorized with 0 of 1 levels approved" in detail
    assert "0000000001/W3: authorization rejected, instruction awaiting" in detail

