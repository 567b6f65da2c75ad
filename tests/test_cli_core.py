"""`directlink core` administration commands, through click's CliRunner."""

from __future__ import annotations

import re

from click.testing import CliRunner

from directlink.cli import cli
from protocol.keys import BankPublicKeys, SigningKey, format_fingerprint


def init_bank(home) -> str:
    """``directlink core init`` (the demo seed); returns its output."""
    result = CliRunner().invoke(cli, ["core", "init", "--home", str(home)])
    assert result.exit_code == 0, result.output
    return result.output


def test_enroll_then_list_and_export(tmp_path):
    home = tmp_path / "bank"
    key = SigningKey.generate()
    pem = tmp_path / "client.pub"
    pem.write_bytes(key.public.to_pem())
    runner = CliRunner()
    created = init_bank(home)

    assert "no keys enrolled" in runner.invoke(cli, ["core", "enrolled", "--home",
                                                     str(home)]).output
    result = runner.invoke(cli, ["core", "enroll", "--home", str(home), "--corp-no",
                                 "0000000001", "--user-no", "001", str(pem)])
    assert result.exit_code == 0, result.output
    assert key.key_id in result.output

    listing = runner.invoke(cli, ["core", "enrolled", "--home", str(home)])
    assert listing.exit_code == 0
    assert f"0000000001/001  key id {key.key_id}" in listing.output
    assert format_fingerprint(key.public.fingerprint) in listing.output

    exported = runner.invoke(cli, ["core", "export-key", "--home", str(home)])
    assert exported.exit_code == 0
    bank = BankPublicKeys.from_text(exported.output)
    assert format_fingerprint(bank.fingerprint) in result.output  # the key letter matches
    assert format_fingerprint(bank.fingerprint) in created


def test_enroll_refuses_an_unknown_operator(tmp_path):
    pem = tmp_path / "client.pub"
    pem.write_bytes(SigningKey.generate().public.to_pem())
    init_bank(tmp_path / "bank")
    result = CliRunner().invoke(cli, ["core", "enroll", "--home", str(tmp_path / "bank"),
                                      "--corp-no", "0000000001", "--user-no", "999", str(pem)])
    assert result.exit_code == 1
    assert "0000000001/999 is not an operator of this bank" in result.output


def test_offline_clearing_and_end_of_day_then_check(tmp_path):
    home = str(tmp_path / "bank")
    init_bank(home)
    runner = CliRunner()
    cleared = runner.invoke(cli, ["core", "clear", "--home", home])
    assert cleared.exit_code == 0, cleared.output
    assert "clearing run 1: 0 settled, 0 returned, 0 pending" in cleared.output
    eod = runner.invoke(cli, ["core", "eod", "--home", home])
    assert eod.exit_code == 0 and "business date is now" in eod.output
    checked = runner.invoke(cli, ["core", "check", "--home", home])
    assert checked.exit_code == 0
    assert re.search(r"^OK: \d+ checks passed$", checked.output, re.M)


def test_check_without_a_ledger_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(cli, ["core", "check", "--home", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output == (f"Error: {tmp_path}: no bank here ({tmp_path}/core/ledger.db is "
                             f"missing); `directlink core init --home {tmp_path}` creates one\n")


def test_version_and_help():
    runner = CliRunner()
    version = runner.invoke(cli, ["--version"])
    assert version.exit_code == 0 and version.output.startswith("directlink, version ")
    helped = runner.invoke(cli, ["--help"])
    assert helped.exit_code == 0
    for command in ("up", "core", "daemon", "config", "keys", "enroll", "send"):
        assert f"  {command} " in helped.output


def test_removing_an_enrolled_key_file_revokes_it(tmp_path):
    from core_sim.enrollment import KeyRegister

    register = KeyRegister(tmp_path / "enrolled")
    key = SigningKey.generate()
    path = register.enroll("0000000001", "001", key.public)
    assert register.lookup(key.key_id).user_no == "001"
    path.unlink()
    assert register.lookup(key.key_id) is None


def test_a_damaged_bank_key_file_is_one_line_naming_it(tmp_path):
    home = tmp_path / "bank"
    init_bank(home)
    keys = home / "core" / "bank-keys.pem"
    keys.write_text("not a key\n")
    runner = CliRunner()
    for args in (["core", "serve", "--home", str(home), "--port", "0"],
                 ["core", "export-key", "--home", str(home)]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 1, result.output
        assert result.output == (f"Error: {keys}: bank key pair: not PEM; the bank cannot "
                                 "sign without its keys\n"), args
        assert result.exception is None or isinstance(result.exception, SystemExit)
