"""`directlink core agreements list|add|revoke`, end to end on a temporary home."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from core_sim import agreements as counter
from core_sim.bank import Bank
from directlink.cli import cli

CORP = "0000000001"
RCV = "310066726018010000001"
RCV_2 = "310066726018010000002"
OTHER_CORP_ACNO = "310066726018010000101"
WANG_WU = ("6222600100000000003", "王五")
CLOSED = ("6222600100000000005", "钱七")
ZHAO_LIU = ("6222020200000000004", "Zhao Liu")  # at another bank


@pytest.fixture(scope="module")
def bank_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bank made from the demo seed; tests copy it before they change it."""
    home = tmp_path_factory.mktemp("bank") / "home"
    result = CliRunner().invoke(cli, ["core", "init", "--home", str(home)])
    assert result.exit_code == 0, result.output
    return home


@pytest.fixture
def home(bank_home: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "home"
    (copy / "core").mkdir(parents=True)
    source = sqlite3.connect(bank_home / "core" / "ledger.db")
    target = sqlite3.connect(copy / "core" / "ledger.db")
    source.backup(target)
    source.close()
    target.close()
    return copy


def run(home: Path, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, ["core", "agreements", *args, "--home", str(home)])
    assert result.exit_code == code, result.output
    return result.output


def agreement_lines(output: str) -> list[list[str]]:
    return [line.split() for line in output.splitlines() if line.startswith("AG")]


def test_list_shows_every_demo_agreement_with_its_state(home: Path) -> None:
    output = run(home, "list")
    lines = output.splitlines()
    assert lines[0].split() == ["agreement_no", "corp_no", "rcv_acno", "payer_acno",
                                "payer_name", "payer_bank", "max_amt", "valid_to", "status"]
    rows = {row[0]: row for row in agreement_lines(output)}
    assert len(rows) == 9
    assert rows["AG0000000001"] == ["AG0000000001", CORP, RCV, "6222600100000000001", "张三",
                                    "301290000007", "2000.00", "2030-12-31", "active"]
    assert rows["AG0000000006"][-1] == "revoked"
    assert rows["AG0000000007"][-2:] == ["2020-12-31", "expired"]
    assert rows["AG0000000009"][-2:] == ["102100099996", "active"]  # the payer's bank
    assert lines[-1] == "1-9 of 9 agreements"


def test_list_filters_and_pages(home: Path) -> None:
    assert [r[0] for r in agreement_lines(run(home, "list", "--status", "revoked"))] == [
        "AG0000000006"]
    assert [r[0] for r in agreement_lines(run(home, "list", "--status", "expired"))] == [
        "AG0000000007"]
    assert len(agreement_lines(run(home, "list", "--status", "active"))) == 7
    assert len(agreement_lines(run(home, "list", "--corp-no", CORP, "--rcv-acno", RCV))) == 9
    assert run(home, "list", "--rcv-acno", RCV_2).strip() == "no agreements match"
    payer = agreement_lines(run(home, "list", "--payer-acno", "6222600100000000002"))
    assert [r[0] for r in payer] == ["AG0000000002", "AG0000000007"]
    page = run(home, "list", "--limit", "4", "--offset", "4")
    assert [r[0] for r in agreement_lines(page)] == [f"AG000000000{i}" for i in (5, 6, 7, 8)]
    assert page.splitlines()[-1] == "5-8 of 9 agreements; next page: --offset 8"
    assert "no agreements (of 9 matching, from 20)" in run(home, "list", "--offset", "20")
    run(home, "list", "--status", "gone", code=2)
    run(home, "list", "--limit", "0", code=2)


def test_add_numbers_checks_and_lists_it(home: Path) -> None:
    output = run(home, "add", "--corp-no", CORP, "--rcv-acno", RCV_2, "--payer-acno", WANG_WU[0],
                 "--payer-name", WANG_WU[1], "--max-amt", "50", "--valid-to", "2031-01-31")
    assert output.splitlines()[0] == "added agreement AG0000000010"
    row = agreement_lines(run(home, "list", "--rcv-acno", RCV_2))[0]
    assert row == ["AG0000000010", CORP, RCV_2, WANG_WU[0], WANG_WU[1], "301290000007", "50.00",
                   "2031-01-31", "active"]
    named = run(home, "add", "--agreement-no", "MINE1", "--corp-no", CORP, "--rcv-acno", RCV,
                "--payer-acno", ZHAO_LIU[0], "--payer-name", ZHAO_LIU[1])
    assert "added agreement MINE1" in named
    assert run(home, "list").splitlines()[-1] == "1-11 of 11 agreements"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--agreement-no", "AG0000000001"], "agreement AG0000000001 exists already"),
        (["--agreement-no", "AG-1"], "agreement_no: must be letters and digits only"),
        (["--corp-no", "0000000009"], "no enterprise 0000000009 at this bank"),
        (["--rcv-acno", OTHER_CORP_ACNO],
         f"{OTHER_CORP_ACNO} is not an account of {CORP} (it is 0000000002's)"),
        (["--rcv-acno", "310066726018019999999"], "is not an account of 0000000001"),
        (["--payer-acno", "6222600199999999999"],
         "6222600199999999999 is neither a personal account here nor an external account"),
        (["--payer-acno", RCV], "is neither a personal account here"),
        (["--payer-name", "王六"], f"'王六' is not the name of account {WANG_WU[0]} ('王五')"),
        (["--payer-acno", CLOSED[0], "--payer-name", CLOSED[1]],
         f"the payer's account {CLOSED[0]} is closed"),
        (["--valid-to", "2000-01-01"], "valid_to 2000-01-01 is before the business date"),
    ],
)
def test_add_refuses_with_a_specific_reason(home: Path, args: list[str], message: str) -> None:
    base = {"--corp-no": CORP, "--rcv-acno": RCV, "--payer-acno": WANG_WU[0],
            "--payer-name": WANG_WU[1]}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    output = run(home, "add", *[part for pair in base.items() for part in pair], code=1)
    assert message in output
    assert run(home, "list").splitlines()[-1] == "1-9 of 9 agreements"  # nothing written


def test_add_refuses_a_bad_amount_or_date_before_touching_the_ledger(home: Path) -> None:
    base = ["add", "--corp-no", CORP, "--rcv-acno", RCV, "--payer-acno", WANG_WU[0],
            "--payer-name", WANG_WU[1]]
    assert "more than two decimals" in run(home, *base, "--max-amt", "1.001", code=2)
    assert "amount must be positive" in run(home, *base, "--max-amt", "0", code=2)
    run(home, *base, "--valid-to", "31.01.2031", code=2)


def test_revoke_then_revoke_again_and_unknown(home: Path) -> None:
    assert run(home, "revoke", "AG0000000003").strip() == (
        f"revoked agreement AG0000000003 ({WANG_WU[1]}, {WANG_WU[0]} -> {CORP} {RCV})")
    assert agreement_lines(run(home, "list", "--payer-acno", WANG_WU[0]))[0][-1] == "revoked"
    assert "agreement AG0000000003 was revoked already" in run(home, "revoke", "AG0000000003",
                                                               code=1)
    assert "no agreement 'AG9'" in run(home, "revoke", "AG9", code=1)
    assert "revoked already" in run(home, "revoke", "AG0000000006", code=1)
    run(home, "revoke", "AG0000000007")  # an expired one may still be revoked


def test_the_ledger_still_checks_after_the_counter(home: Path) -> None:
    run(home, "revoke", "AG0000000001")
    run(home, "add", "--corp-no", CORP, "--rcv-acno", RCV, "--payer-acno", WANG_WU[0],
        "--payer-name", WANG_WU[1])
    result = CliRunner().invoke(cli, ["core", "check", "--home", str(home)])
    assert result.exit_code == 0, result.output


def test_a_running_bank_sees_the_counter_at_once(home: Path) -> None:
    """The core reads agreements from the database: a change by the counter is there."""
    bank = Bank.open(home / "core" / "ledger.db")
    try:
        run(home, "revoke", "AG0000000002")
        page = counter.list_agreements(bank.connection, payer_acno="6222600100000000002")
        assert [a.status for a in page.rows] == ["revoked", "active"]
    finally:
        bank.close()


def test_no_bank_here(tmp_path: Path) -> None:
    output = run(tmp_path / "nothing", "list", code=1)
    assert "no bank" in output
    assert not (tmp_path / "nothing").exists()
