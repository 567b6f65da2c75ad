"""`directlink core operators|flows|directed|enroll-operator|revoke-operator-key|log`, on a
bank made by `core init` from the manual's four-band example (etc/seed-controls.yaml).

The business clock is frozen, so every time the commands print is known.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from core_sim.bank import Bank, Request
from directlink.cli import cli
from protocol import codes
from protocol.keys import SigningKey, format_fingerprint

ROOT = Path(__file__).resolve().parent.parent
CORP = "0000000001"
A1, A2 = "310066726018010000001", "310066726018010000002"
ZHANG = "6222020200000000001"
NOW = "2026-11-24 10:00:00"


@pytest.fixture(scope="module")
def bank_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bank from the example seed on 2026-11-24, its clock frozen at 10:00."""
    folder = tmp_path_factory.mktemp("bank")
    seed = (ROOT / "etc" / "seed-controls.yaml").read_text(encoding="utf-8")
    seed = seed.replace('  bank_no: "301290000007"\n',
                        '  bank_no: "301290000007"\n  business_date: "2026-11-24"\n', 1)
    (folder / "seed.yaml").write_text(seed, encoding="utf-8")
    home = folder / "home"
    for args in (["core", "init", "--seed", str(folder / "seed.yaml")],
                 ["core", "clock", "set", "2026-11-24 10:00"]):
        result = CliRunner().invoke(cli, [*args, "--home", str(home)])
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


def run(home: Path, *args: str, code: int = 0, input: str | None = None) -> str:
    result = CliRunner().invoke(cli, ["core", *args, "--home", str(home)], input=input)
    assert result.exit_code == code, result.output
    return result.output


def public_key(folder: Path, name: str) -> tuple[Path, SigningKey]:
    key = SigningKey.generate()
    path = folder / f"{name}.pem"
    path.write_bytes(key.public.to_pem())
    return path, key


def lines(output: str) -> list[list[str]]:
    return [line.split() for line in output.splitlines()]


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if run from a terminal: the commands may ask."""
    monkeypatch.setattr("directlink.commands.common.can_prompt", lambda: True)


# -- operators and keys ---------------------------------------------------------------------


def test_operators_list_add_remove(home: Path) -> None:
    rows = lines(run(home, "operators", "list"))
    assert rows[0] == ["corp_no", "code", "name", "role", "status", "key", "changed"]
    assert [row[1:6] for row in rows[1:]] == [
        ["A01", "甲", "maker", "active", "-"], ["B01", "乙", "checker", "active", "none"],
        ["C01", "丙", "checker", "active", "none"], ["D01", "丁", "deputy", "active", "none"],
        ["S01", "主管", "supervisor", "active", "none"]]

    output = run(home, "operators", "add", "--corp-no", CORP, "--code", "E01", "--name", "戊",
                 "--role", "deputy")
    assert output.splitlines()[0] == f"added operator E01 (戊, deputy) of {CORP}"
    assert "directlink core enroll-operator" in output
    assert run(home, "operators", "remove", "--corp-no", CORP, "E01").strip() == (
        f"removed operator E01 (戊, deputy) of {CORP}")
    rows = lines(run(home, "operators", "list", "--corp-no", CORP))
    assert rows[5] == [CORP, "E01", "戊", "deputy", "removed", "none", *NOW.split()]


@pytest.mark.parametrize(("args", "message"), [
    (["add", "--corp-no", CORP, "--code", "B01", "--name", "x", "--role", "checker"],
     f"Error: {CORP} has an operator B01 already (乙, checker)"),
    (["add", "--corp-no", CORP, "--code", "E-1", "--name", "x", "--role", "checker"],
     "Error: operator: code: must be letters and digits only: 'E-1'"),
    (["add", "--corp-no", "0000000009", "--code", "E01", "--name", "x", "--role", "checker"],
     "Error: no enterprise 0000000009 at this bank"),
    (["remove", "--corp-no", CORP, "C01"],
     "Error: operator C01 approves in flow 1 (transfer, account 310066726018010000001);"),
    (["remove", "--corp-no", CORP, "S01"],
     "Error: removing operator S01 is refused:"),
    (["remove", "--corp-no", CORP, "Z01"], f"Error: {CORP} has no operator Z01"),
])
def test_operator_refusals_are_one_line_and_change_nothing(home: Path, args: list[str],
                                                           message: str) -> None:
    before = run(home, "operators", "list")
    output = run(home, "operators", *args, code=1)
    assert output.startswith(message), output
    assert len(output.strip().splitlines()) == 1
    assert run(home, "operators", "list") == before
    assert run(home, "log").strip() == "no audit rows match"


def test_role_must_be_one_of_the_four(home: Path) -> None:
    output = run(home, "operators", "add", "--corp-no", CORP, "--code", "E01", "--name", "x",
                 "--role", "boss", code=2)
    assert "'maker', 'checker', 'deputy', 'supervisor'" in output


def test_enroll_operator_with_the_fingerprint_read_out(home: Path, tmp_path: Path) -> None:
    path, key = public_key(tmp_path, "b01")
    output = run(home, "enroll-operator", "--corp-no", CORP, "--operator", "B01", "--key",
                 str(path), "--fingerprint", key.public.fingerprint.upper())
    assert output.splitlines() == [
        f"operator B01 (乙, checker) of {CORP}",
        f"  key id:          {key.key_id}",
        f"  key fingerprint: {format_fingerprint(key.public.fingerprint)}",
        f"enrolled key {key.key_id} for operator B01 of {CORP}",
    ]
    assert lines(run(home, "operators", "list"))[2][5:7] == ["enrolled", key.key_id]

    # A new key replaces it (the operator confirms the fingerprint, spaced as shown).
    new_path, new = public_key(tmp_path, "b01-new")
    output = run(home, "enroll-operator", "--corp-no", CORP, "--operator", "B01", "--key",
                 str(new_path), "--fingerprint", format_fingerprint(new.public.fingerprint))
    assert output.splitlines()[-1] == (
        f"enrolled key {new.key_id} for operator B01 of {CORP} (replaces key {key.key_id})")

    assert run(home, "revoke-operator-key", "--corp-no", CORP, "--operator", "B01").strip() \
        == (f"revoked key {new.key_id} of operator B01 of {CORP}: their decisions are refused"
            " from now on")
    assert lines(run(home, "operators", "list"))[2][5:7] == ["revoked", new.key_id]
    output = run(home, "revoke-operator-key", "--corp-no", CORP, "--operator", "B01", code=1)
    assert "Error: operator B01 has no enrolled key to revoke" in output


def test_enroll_operator_refuses_another_fingerprint(home: Path, tmp_path: Path) -> None:
    path, _ = public_key(tmp_path, "c01")
    _, other = public_key(tmp_path, "other")
    output = run(home, "enroll-operator", "--corp-no", CORP, "--operator", "C01", "--key",
                 str(path), "--fingerprint", other.public.fingerprint, code=1)
    assert f"Error: {path} is not the key the operator holds" in output
    assert "nothing enrolled" in output
    assert lines(run(home, "operators", "list"))[3][5] == "none"
    output = run(home, "enroll-operator", "--corp-no", CORP, "--operator", "C01", "--key",
                 str(path), "--fingerprint", "12ab", code=2)
    assert "not a key fingerprint" in output


def test_enroll_operator_asks_to_confirm_the_fingerprint(home: Path, tmp_path: Path,
                                                         terminal: None) -> None:
    path, key = public_key(tmp_path, "d01")
    args = ["enroll-operator", "--corp-no", CORP, "--operator", "D01", "--key", str(path)]
    output = run(home, *args, input="n\n", code=1)
    assert format_fingerprint(key.public.fingerprint) in output
    assert "Does the operator confirm this fingerprint? [y/N]" in output
    assert "Aborted!" in output
    assert lines(run(home, "operators", "list"))[4][5] == "none"
    output = run(home, *args, input="y\n")
    assert output.splitlines()[-1] == f"enrolled key {key.key_id} for operator D01 of {CORP}"


def test_enroll_operator_without_a_terminal_says_how(home: Path, tmp_path: Path) -> None:
    path, key = public_key(tmp_path, "s01")
    args = ["enroll-operator", "--corp-no", CORP, "--operator", "S01", "--key", str(path)]
    output = run(home, *args, code=1)
    assert ("there is no terminal to ask: give --fingerprint FP as the operator read it out,"
            " or --yes") in output
    assert run(home, *args, "--yes").splitlines()[-1].startswith(f"enrolled key {key.key_id}")
    run(home, *args, "--yes", "--fingerprint", key.public.fingerprint, code=2)


def test_enroll_operator_refusals(home: Path, tmp_path: Path) -> None:
    path, _ = public_key(tmp_path, "a01")
    output = run(home, "enroll-operator", "--corp-no", CORP, "--operator", "A01", "--key",
                 str(path), "--yes", code=1)
    assert "Error: operator A01 is a maker: a maker submits and approves nothing" in output
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key", encoding="ascii")
    output = run(home, "enroll-operator", "--corp-no", CORP, "--operator", "B01", "--key",
                 str(bad), "--yes", code=1)
    assert f"Error: {bad}: not a PEM public key" in output
    assert run(home, "log").strip() == "no audit rows match"


# -- flows -------------------------------------------------------------------------------------


def test_flows_list_shows_each_band_readably(home: Path) -> None:
    # The seed's flows were added when `core init` ran, before the clock was set.
    listed = [re.sub(r"added \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", "added (time)", line)
              for line in run(home, "flows", "list").splitlines()]
    assert listed == [
        f"flow 1  {CORP}  transfer  account {A1}  added (time)",
        "  amount            approved by, in order",
        "  up to 1000000.00  B01",
        "  up to 2000000.00  B01, then C01",
        "  up to 3000000.00  B01 or C01, then D01",
        "  up to 4000000.00  B01, then C01, then D01",
        "  above 4000000.00  B01, then C01, then D01, then S01",
        f"flow 2  {CORP}  collection  every batch collection (330010)  added (time)",
        "  amount                  approved by, in order",
        "  every batch collection  B01",
    ]


def test_flows_add_from_a_file_and_from_text(home: Path, tmp_path: Path) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(f'acno: "{A2}"\nbands:\n  - {{up_to: "50000.00", levels: [[C01], [D01]]}}\n',
                    encoding="utf-8")
    output = run(home, "flows", "add", "--corp-no", CORP, "--file", str(flow))
    assert output.splitlines() == [
        f"added flow 3 (transfer, account {A2})",
        f"flow 3  {CORP}  transfer  account {A2}  added {NOW}",
        "  amount          approved by, in order",
        "  up to 50000.00  C01, then D01",
        "  above 50000.00  C01, then D01, then S01",
    ]
    output = run(home, "flows", "add", "--corp-no", CORP, "--flow",
                 '{collection_flow: [[C01]]}', code=1)
    assert "Error: 0000000001 has a collection flow already, flow 2 (collection)" in output
    output = run(home, "flows", "add", "--corp-no", CORP, "--flow",
                 f'{{acno: "{A2}", bands: [{{up_to: "1.00", levels: [[A01]]}}]}}', code=1)
    assert "Error: --flow: bands[0].levels[0][0]: operator 'A01' is a maker" in output
    run(home, "flows", "add", "--corp-no", CORP, code=2)
    run(home, "flows", "add", "--corp-no", CORP, "--file", str(flow), "--flow", "{}", code=2)


def _wait(home: Path, *amounts: int) -> list[str]:
    """Instructions from A1 that wait on flow 1, sent to the bank in process."""
    bank = Bank.open(home / "core" / "ledger.db")
    try:
        req_nos = []
        for n, amt in enumerate(amounts, start=1):
            reply = bank.execute(Request(CORP, "001", "210201", f"W{n}", {
                "pay_acno": A1, "rcv_acno": A2, "amt": amt, "bank_flag": "0"}))
            assert reply.ret_code == codes.AWAITING_AUTHORIZATION.code, reply
            req_nos.append(f"W{n}")
        return req_nos
    finally:
        bank.close()


def test_flows_delete_lists_the_waiting_and_cancels_them_when_confirmed(
        home: Path, terminal: None) -> None:
    _wait(home, 50_000_000, 150_000_000)
    output = run(home, "flows", "delete", "--corp-no", CORP, "1", input="n\n", code=1)
    assert output.splitlines()[:4] == [
        f"2 instructions wait on flow 1 (transfer, account {A1}); deleting it cancels them"
        " (nothing moves):",
        "  req_no  tr_code      amount  maker  biz_date  submitted",
        f"  W1      210201    500000.00  001    20261124  {NOW}",
        f"  W2      210201   1500000.00  001    20261124  {NOW}",
    ]
    assert "Cancel 2 instructions and delete flow 1? [y/N]" in output
    assert run(home, "flows", "list").startswith("flow 1 ")  # still there

    output = run(home, "flows", "delete", "--corp-no", CORP, "1", input="y\n")
    assert output.splitlines()[-3:] == [
        f"deleted flow 1 (transfer, account {A1})",
        "cancelled 2 waiting instructions: W1, W2",
        f"account {A1}'s instructions now execute without approval until a flow is added",
    ]
    assert run(home, "flows", "list").startswith("flow 2 ")
    assert "flow 1 " in run(home, "flows", "list", "--all")
    log = run(home, "log", "--req-no", "W1")
    assert [row[3] for row in lines(log)[1:-1]] == ["awaiting", "cancel"]


def test_flows_delete_without_a_terminal_needs_yes(home: Path) -> None:
    _wait(home, 50_000_000)
    output = run(home, "flows", "delete", "--corp-no", CORP, "1", code=1)
    assert "there is no terminal to ask: give --yes" in output
    output = run(home, "flows", "delete", "--corp-no", CORP, "1", "--yes")
    assert "cancelled 1 waiting instruction: W1" in output
    output = run(home, "flows", "delete", "--corp-no", CORP, "1", code=1)
    assert "Error: flow 1 of 0000000001 was deleted already" in output
    # A flow nobody waits on goes at once.
    assert run(home, "flows", "delete", "--corp-no", CORP, "2").splitlines() == [
        "deleted flow 2 (collection)",
        f"{CORP}'s batch collections now execute without approval until a flow is added"]
    assert run(home, "flows", "list").strip() == "no flows: instructions execute without approval"


# -- directed payees ----------------------------------------------------------------------


def test_directed_list_add_remove(home: Path) -> None:
    assert lines(run(home, "directed", "list")) == [["corp_no", "acno", "payee"],
                                                    [CORP, A2, ZHANG]]
    assert run(home, "directed", "add", "--corp-no", CORP, "--acno", A2, "--payee", A1
               ).strip() == f"account {A2} pays only: {A1}, {ZHANG}"
    assert run(home, "directed", "remove", "--corp-no", CORP, "--acno", A2, "--payee", ZHANG
               ).strip() == f"account {A2} pays only: {A1}"
    assert run(home, "directed", "remove", "--corp-no", CORP, "--acno", A2, "--payee", A1
               ).strip() == f"account {A2} is no longer directed: it pays anyone"
    assert run(home, "directed", "list").strip() == (
        "no directed accounts: every account pays anyone")
    output = run(home, "directed", "remove", "--corp-no", CORP, "--acno", A2, "--payee", A1,
                 code=1)
    assert f"Error: account {A2} has no directed payee {A1}" in output


# -- the audit log ----------------------------------------------------------------------------


def test_log_is_a_table_with_filters_and_pages(home: Path, tmp_path: Path) -> None:
    _wait(home, 50_000_000)
    run(home, "operators", "add", "--corp-no", CORP, "--code", "E01", "--name", "戊",
        "--role", "checker")
    path, key = public_key(tmp_path, "e01")
    run(home, "enroll-operator", "--corp-no", CORP, "--operator", "E01", "--key", str(path),
        "--yes")
    output = run(home, "log")
    rows = output.splitlines()
    assert rows[0].split() == ["time", "corp_no", "event", "tr_code", "req_no", "operator",
                               "amount", "result", "detail"]
    assert rows[1].split()[:9] == [*NOW.split(), CORP, "awaiting", "210201", "W1", "001",
                                   "500000.00", "A001"]
    assert rows[2].split() == [*NOW.split(), CORP, "counter", "E01", "added", "operator",
                               "E01", "(戊,", "checker)", "added"]
    assert rows[3].split()[:6] == [*NOW.split(), CORP, "counter", "E01", "enrolled"]
    assert f"key {key.key_id} enrolled for operator E01" in rows[3]
    assert rows[-1] == "1-3 of 3 rows"

    page = run(home, "log", "--limit", "1", "--offset", "1").splitlines()
    assert page[1].split()[3:5] == ["counter", "E01"]
    assert page[-1] == "2-2 of 3 rows; next page: --offset 2"
    assert run(home, "log", "--operator", "E01").splitlines()[-1] == "1-2 of 2 rows"
    assert run(home, "log", "--req-no", "W1").splitlines()[-1] == "1-1 of 1 row"
    assert run(home, "log", "--corp-no", CORP, "--from", "2026-11-24", "--to", "20261124"
               ).splitlines()[-1] == "1-3 of 3 rows"
    assert run(home, "log", "--from", "2026-11-25").strip() == "no audit rows match"
    assert run(home, "log", "--offset", "5").strip() == "no audit rows (of 3 matching, from 5)"
    assert "is after --to" in run(home, "log", "--from", "2026-11-25", "--to", "2026-11-24",
                                  code=2)
    assert "Error: no enterprise 0000000009" in run(home, "log", "--corp-no", "0000000009",
                                                     code=1)


def test_commands_need_a_bank(tmp_path: Path) -> None:
    output = run(tmp_path / "nowhere", "operators", "list", code=1)
    assert "no such directory, so no bank" in output
