"""Applying the seed's batch lists: personal accounts, agreements, external balances.

What matters: opening balances are real double entry (``core check`` passes
and each balance equals its postings), applying a seed again changes
nothing, and a bad row anywhere — even one found only in the ledger, such as
a repeated account number in a CSV file — leaves nothing behind.
"""

from __future__ import annotations

import csv
import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.errors import ConfigError, ConfigRowError
from config.seed import DEMO_SEED, load_seed, parse_seed
from core_sim import agreements as counter
from core_sim import seeding
from core_sim.bank import Bank
from core_sim.check import check_ledger

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 24, 9, 30)
CORP = "0000000001"
RCV = "310066726018010000001"
PERSONAL_HEADER = ["acno", "name", "id_no", "balance", "status"]
AGREEMENT_HEADER = ["agreement_no", "corp_no", "rcv_acno", "payer_acno", "payer_name",
                    "max_amt", "valid_to", "status"]


def clock() -> datetime:
    return NOW


def open_bank(path: Path, seed) -> Bank:
    return Bank.open(path, seed=seed, clock=clock)


def table(conn: sqlite3.Connection, sql: str, *params: Any) -> list[tuple]:
    return conn.execute(sql, params).fetchall()


def snapshot(db: Path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(db)
    try:
        return {name: table(conn, f"SELECT * FROM {name} ORDER BY 1") for name in
                ("meta", "accounts", "entries", "postings", "agreements")}
    finally:
        conn.close()


def assert_books_balance(db: Path) -> None:
    report = check_ledger(db)
    assert report.ok, str(report)


# -- the demo seed -----------------------------------------------------------------------


def test_demo_seed_opens_personal_accounts_agreements_and_external_balances(tmp_path):
    db = tmp_path / "ledger.db"
    with open_bank(db, parse_seed(DEMO_SEED)) as bank:
        conn = bank.connection
        personal = table(conn, "SELECT acno, name, id_no, bank_no, corp_no, currency, status,"
                               " balance FROM accounts WHERE kind = 'personal' ORDER BY acno")
        assert personal[0] == ("6222600100000000001", "张三", "110101199003070011",
                               "301290000007", None, "CNY", "active", 500_000)
        assert [(row[6], row[7]) for row in personal] == [
            ("active", 500_000), ("active", 1_200_000), ("active", 1_000), ("frozen", 300_000),
            ("closed", 0)]
        externals = dict(table(conn, "SELECT acno, funds_checked || ' ' || balance FROM accounts"
                                     " WHERE kind = 'external'"))
        assert externals == {"6222020200000000001": "0 0", "6222020200000000002": "0 0",
                             "6217000010000000003": "0 0", "6222020200000000004": "1 30000"}
        agreements = table(conn, "SELECT agreement_no, corp_no, rcv_acno, payer_acno, max_amt,"
                                 " valid_to, status, created_at FROM agreements ORDER BY id")
        assert len(agreements) == 9
        assert agreements[0] == ("AG0000000001", CORP, RCV, "6222600100000000001", 200_000,
                                 "20301231", "active", NOW.isoformat())
        assert [row[6] for row in agreements].count("revoked") == 1
        # Personal and external opening balances: one entry each, after the
        # enterprises' (whose serial numbers stay as they were).
        entries = table(conn, "SELECT serial_no, kind, summary, instruction_id FROM entries"
                              " ORDER BY id")
        assert [e[2] for e in entries] == ["opening balance"] * 4 + ["opening balances"] * 2
        assert all(e[1] == "opening" and e[3] is None for e in entries)
        ((legs,),) = table(conn, "SELECT count(*) FROM postings p JOIN entries e"
                              " ON e.id = p.entry_id WHERE e.summary = 'opening balances'")
        assert legs == (1 + 4) + (1 + 1)  # 4 personal accounts with money, 1 external
    assert_books_balance(db)


def test_applying_the_same_seed_again_changes_nothing(tmp_path):
    db = tmp_path / "ledger.db"
    open_bank(db, parse_seed(DEMO_SEED)).close()
    with counter.counter(db) as ledger:  # revoked at the counter since
        counter.revoke_agreement(ledger, "AG0000000001", now=NOW)
    before = snapshot(db)
    open_bank(db, parse_seed(DEMO_SEED)).close()
    assert snapshot(db) == before
    assert_books_balance(db)


def test_a_later_seed_adds_only_what_is_missing(tmp_path):
    db = tmp_path / "ledger.db"
    open_bank(db, parse_seed(DEMO_SEED)).close()
    doc = yaml.safe_load(DEMO_SEED)
    doc["personal_accounts"][0]["balance"] = "99999.00"  # exists: keeps its 5,000.00
    doc["personal_accounts"].append({"acno": "6222600100000000009", "name": "孙九",
                                     "id_no": "110101199909090099", "balance": "9.00"})
    doc["agreements"][1]["max_amt"] = "1.00"  # exists: keeps its maximum
    doc["agreements"].append(dict(doc["agreements"][0], agreement_no="AG0000000099",
                                  payer_acno="6222600100000000009", payer_name="孙九"))
    doc["external_accounts"][0]["balance"] = "5.00"  # exists: stays unchecked
    with open_bank(db, parse_seed(yaml.safe_dump(doc, allow_unicode=True))) as bank:
        conn = bank.connection
        balances = dict(table(conn, "SELECT acno, balance FROM accounts WHERE kind = 'personal'"))
        assert balances["6222600100000000001"] == 500_000
        assert balances["6222600100000000009"] == 900
        assert table(conn, "SELECT max_amt FROM agreements WHERE agreement_no = 'AG0000000002'"
                     ) == [(10_000,)]
        assert table(conn, "SELECT count(*) FROM agreements") == [(10,)]
        assert table(conn, "SELECT funds_checked, balance FROM accounts WHERE acno = ?",
                     "6222020200000000001") == [(0, 0)]
    assert_books_balance(db)


# -- CSV lists at scale ---------------------------------------------------------------------


def write_rows(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)


def person(i: int, **changes: str) -> list[str]:
    row = {"acno": f"62226004{i:011d}", "name": f"王{i}", "id_no": f"110101198001{i:06d}",
           "balance": "" if i % 7 == 0 else f"{i % 500}.{i % 100:02d}", "status": ""}
    row.update(changes)
    return [row[key] for key in PERSONAL_HEADER]


def deal(i: int, **changes: str) -> list[str]:
    row = {"agreement_no": f"AGX{i:010d}", "corp_no": CORP, "rcv_acno": RCV,
           "payer_acno": f"62226004{i:011d}", "payer_name": f"王{i}",
           "max_amt": "300.00" if i % 3 == 0 else "", "valid_to": "", "status": ""}
    row.update(changes)
    return [row[key] for key in AGREEMENT_HEADER]


def csv_seed(directory: Path, people: list[list[str]], deals: list[list[str]]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    write_rows(directory / "people.csv", [PERSONAL_HEADER, *people])
    write_rows(directory / "deals.csv", [AGREEMENT_HEADER, *deals])
    head = DEMO_SEED.split("\n# Individuals' accounts", 1)[0]
    (directory / "seed.yaml").write_text(
        head + "\npersonal_accounts: {file: people.csv}\nagreements: {file: deals.csv}\n",
        encoding="utf-8")
    return directory / "seed.yaml"


COUNT = 2_500  # three chunks of a thousand


def test_csv_lists_open_in_chunks_and_balance(tmp_path):
    people = [person(i) for i in range(COUNT)]
    seed = load_seed(csv_seed(tmp_path, people, [deal(i) for i in range(COUNT)]))
    db = tmp_path / "ledger.db"
    with open_bank(db, seed) as bank:
        conn = bank.connection
        got = dict(table(conn, "SELECT acno, balance FROM accounts WHERE kind = 'personal'"))
        want = {row[0]: int(row[3].replace(".", "")) if row[3] else 0 for row in people}
        assert got == want
        funded = sum(1 for value in want.values() if value)
        # One entry per thousand funded accounts, each one debit and a credit apiece.
        shapes = table(conn, "SELECT count(*) FROM postings p JOIN entries e ON e.id = p.entry_id"
                             " WHERE e.summary = 'opening balances' GROUP BY e.id ORDER BY e.id")
        assert shapes == [(1 + 1,), (1001,), (1001,), (1 + funded - 2000,)]  # external first
        assert table(conn, "SELECT count(*), count(max_amt) FROM agreements") == [
            (COUNT, len(range(0, COUNT, 3)))]
        assert table(conn, "SELECT count(*) FROM accounts WHERE kind = 'personal'"
                           " AND (corp_no IS NOT NULL OR id_no = '')") == [(0,)]
    assert_books_balance(db)
    before = snapshot(db)
    open_bank(db, load_seed(tmp_path / "seed.yaml")).close()
    assert snapshot(db) == before


def assert_nothing_applied(db: Path) -> None:
    conn = sqlite3.connect(db)
    try:
        for name in ("meta", "accounts", "entries", "postings", "agreements"):
            assert table(conn, f"SELECT count(*) FROM {name}") == [(0,)], name
    finally:
        conn.close()


def apply_failure(directory: Path, people, deals) -> ConfigRowError:
    seed = load_seed(csv_seed(directory, people, deals))
    with pytest.raises(ConfigRowError) as info:
        open_bank(directory / "ledger.db", seed)
    assert isinstance(info.value, ValueError)  # what `core serve` reports as one line
    assert_nothing_applied(directory / "ledger.db")
    return info.value


def test_a_bad_row_at_the_end_leaves_nothing(tmp_path):
    people = [person(i) for i in range(COUNT)]
    people[-1] = person(COUNT - 1, balance="1.234")
    error = apply_failure(tmp_path, people, [deal(i) for i in range(COUNT)])
    assert str(error) == (f"{tmp_path / 'people.csv'}, line {COUNT + 1}: "
                          f"personal_accounts[{COUNT - 1}].balance: more than two decimals:"
                          " '1.234'")


def test_an_account_number_repeated_in_the_file(tmp_path):
    people = [person(i) for i in range(COUNT)]
    people[1500] = person(10, name="又一个")  # a later chunk repeats row 10
    people[11] = person(10)  # the same chunk repeats it too
    error = apply_failure(tmp_path, people, [])
    acno = people[10][0]
    assert [(e.path, e.line) for e in error.errors] == [
        ("personal_accounts[11].acno", 13), ("personal_accounts[1500].acno", 1502)]
    assert error.errors[1].reason == (f"duplicate account number {acno!r}"
                                      " (first used at personal_accounts[10], line 12)")


def test_an_agreement_number_repeated_in_the_file(tmp_path):
    deals = [deal(i) for i in range(COUNT)]
    deals[2001] = deal(5)
    error = apply_failure(tmp_path, [person(i) for i in range(COUNT)], deals)
    assert (error.path, error.line) == ("agreements[2001].agreement_no", 2003)
    assert "first used at agreements[5], line 7" in error.reason


def test_agreements_whose_payer_the_ledger_does_not_know(tmp_path):
    deals = [deal(i) for i in range(COUNT)]
    deals[1200] = deal(1200, payer_acno="6222600499999999999")
    deals[1300] = deal(1300, payer_name="李四")
    deals[1400] = deal(1400, payer_acno=RCV, payer_name="Demo Insurance Co., Ltd.")
    error = apply_failure(tmp_path, [person(i) for i in range(COUNT)], deals)
    assert [(e.path, e.line) for e in error.errors] == [
        ("agreements[1200].payer_acno", 1202), ("agreements[1300].payer_name", 1302),
        ("agreements[1400].payer_acno", 1402)]
    reasons = [e.reason for e in error.errors]
    assert "is neither a personal account here nor an external account" in reasons[0]
    assert reasons[1] == f"'李四' is not the name of account {person(1300)[0]!r} ('王1300')"
    assert "is an enterprise's account" in reasons[2]


def test_an_external_payer_in_the_yaml_is_a_payer_for_the_file(tmp_path):
    deals = [deal(0, payer_acno="6222020200000000004", payer_name="Zhao Liu")]
    db = tmp_path / "ledger.db"
    open_bank(db, load_seed(csv_seed(tmp_path, [person(0)], deals))).close()
    assert_books_balance(db)


def test_a_personal_account_that_is_already_an_enterprises(tmp_path):
    first = yaml.safe_load(DEMO_SEED)
    first["enterprises"][1]["accounts"].append({"acno": person(1)[0], "name": "X"})
    db = tmp_path / "ledger.db"
    open_bank(db, parse_seed(yaml.safe_dump(first, allow_unicode=True))).close()
    before = snapshot(db)
    seed = load_seed(csv_seed(tmp_path, [person(0), person(1)], []))
    with pytest.raises(ConfigRowError) as info:
        open_bank(db, seed)
    assert (info.value.path, info.value.line) == ("personal_accounts[1].acno", 3)
    assert "is already an enterprise's account in the ledger" in info.value.reason
    assert snapshot(db) == before


def test_inline_lists_failing_in_the_ledger_name_their_path(tmp_path):
    """An inline agreement whose payer is in a CSV file is checked when applied."""
    directory = tmp_path / "s"
    path = csv_seed(directory, [person(0)], [])
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["agreements"] = [dict(zip(AGREEMENT_HEADER[:5], deal(0)[:5], strict=True)),
                         dict(zip(AGREEMENT_HEADER[:5], deal(1)[:5], strict=True))]
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigRowError) as info:
        open_bank(directory / "ledger.db", load_seed(path))
    assert str(info.value).startswith(f"{path}: agreements[1].payer_acno: ")
    assert info.value.line is None


def test_a_ledger_for_another_bank_is_refused_before_any_row(tmp_path):
    db = tmp_path / "ledger.db"
    open_bank(db, parse_seed(DEMO_SEED)).close()
    other = DEMO_SEED.replace('bank_no: "301290000007"', 'bank_no: "301290000008"', 1)
    with pytest.raises(ValueError, match="seed is for bank 301290000008"):
        open_bank(db, parse_seed(other))


def test_the_chunk_size_is_what_the_design_says():
    assert seeding.CHUNK == 1000


# -- the generator of bench seeds ---------------------------------------------------------------


@pytest.mark.timeout(120)
def test_make_seed_writes_a_seed_that_loads_and_checks(tmp_path):
    result = subprocess.run([sys.executable, str(REPO / "bench" / "make_seed.py"),
                             str(tmp_path / "big"), "-n", "1500", "--load"],
                            capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "core check: ok" in result.stdout and "peak RSS" in result.stdout
    seed = load_seed(tmp_path / "big" / "seed.yaml")
    people = list(seed.personal_accounts)
    deals = list(seed.agreements)
    assert len(people) == len(deals) == 1500
    assert {a.payer_acno for a in deals} == {p.acno for p in people}
    assert {p.status for p in people} == {"active", "frozen", "closed"}


def test_a_config_error_is_what_loading_reports():
    with pytest.raises(ConfigError):
        parse_seed(DEMO_SEED.replace('"AG0000000009"', '"AG-9"'))


def test_a_seed_whose_only_balances_are_personal_accounts_opens_them_all(tmp_path):
    # No enterprise or external balance: every opening entry is a personal chunk's.
    doc = yaml.safe_load(DEMO_SEED.split("\n# Individuals' accounts", 1)[0])
    for enterprise in doc["enterprises"]:
        for account in enterprise["accounts"]:
            account.pop("balance", None)
    people = [person(i, balance="1.00") for i in range(COUNT)]
    write_rows(tmp_path / "people.csv", [PERSONAL_HEADER, *people])
    (tmp_path / "seed.yaml").write_text(
        yaml.safe_dump(doc, allow_unicode=True) + "personal_accounts: {file: people.csv}\n",
        encoding="utf-8")
    db = tmp_path / "ledger.db"
    with open_bank(db, load_seed(tmp_path / "seed.yaml")) as bank:
        conn = bank.connection
        assert table(conn, "SELECT count(*), sum(balance) FROM accounts WHERE kind = 'personal'"
                     ) == [(COUNT, COUNT * 100)]
    assert_books_balance(db)
