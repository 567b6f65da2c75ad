"""A command that needs an existing home refuses a missing or wrong one, writing nothing.

Before, `core enroll`, `core export-key`, `core clear`/`eod` and `core serve`
on a mistyped --home quietly created a whole demo bank there, and `up` on a
client's home (made by `config init`) created a bank inside it before
failing. Only `up`, `core init`, `core serve --seed` and `config init` make
homes; everything else says what is missing and which command creates it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from directlink.cli import cli
from protocol.keys import SigningKey
from tests.erp_client import REPO, cli_command

PASSWORD = "correct horse battery staple"


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``root`` with its size and mtime: to show nothing was written."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in [root, *root.rglob("*")]}


@pytest.fixture
def client(tmp_path: Path) -> Path:
    """A client's home, as `config init` makes it."""
    home = tmp_path / "client"
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["config", "init", "--home", str(home), "--corp-no",
                                      "0000000001", "--user-no", "001", "--password-file",
                                      str(pw)])
    assert result.exit_code == 0, result.output
    return home


@pytest.fixture
def public_key(tmp_path: Path) -> Path:
    path = tmp_path / "operator.pub"
    path.write_bytes(SigningKey.generate().public.to_pem())
    return path


BANK_COMMANDS = {
    "enroll": ["core", "enroll", "--corp-no", "0000000001", "--user-no", "001", "{key}"],
    "enrolled": ["core", "enrolled"],
    "export-key": ["core", "export-key"],
    "check": ["core", "check"],
    "clear": ["core", "clear"],
    "eod": ["core", "eod"],
    "serve": ["core", "serve", "--port", "0"],
    "batches": ["core", "batches"],
    "agreements": ["core", "agreements", "list"],
}


def bank_command(name: str, home: Path, key: Path) -> list[str]:
    return [arg.replace("{key}", str(key)) for arg in BANK_COMMANDS[name]] + ["--home",
                                                                             str(home)]


def run_bank_command(name: str, home: Path, key: Path) -> tuple[int, str]:
    """Exit status and output; `core serve` in a subprocess, in case it does serve."""
    args = bank_command(name, home, key)
    if name != "serve":
        result = CliRunner().invoke(cli, args)
        return result.exit_code, result.output
    try:
        done = subprocess.run(cli_command(*args), cwd=REPO, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=30)
    except subprocess.TimeoutExpired:
        return -1, "core serve is serving"
    return done.returncode, done.stderr


@pytest.mark.parametrize("name", BANK_COMMANDS)
def test_a_bank_command_on_a_missing_home_creates_nothing(name: str, tmp_path: Path,
                                                          public_key: Path) -> None:
    home = tmp_path / "bank"
    code, output = run_bank_command(name, home, public_key)
    assert code == 1, output
    assert output == (
        f"Error: {home}: no such directory, so no bank; `directlink core init --home {home}` "
        f"creates one (or `directlink up --home {home}`, a bank with its client)\n")
    assert not home.exists()


@pytest.mark.parametrize("name", BANK_COMMANDS)
def test_a_bank_command_on_a_clients_home_writes_nothing(name: str, client: Path,
                                                         public_key: Path) -> None:
    before = snapshot(client)
    code, output = run_bank_command(name, client, public_key)
    assert code == 1, output
    assert output.count("\n") == 1
    assert "no bank here" in output and "only a client's config" in output
    assert f"`directlink core init --home {client}` creates one" in output
    assert snapshot(client) == before


def test_up_on_a_clients_home_writes_nothing(client: Path) -> None:
    before = snapshot(client)
    result = subprocess.run(cli_command("up", "--home", str(client), "--erp-port", "0",
                                        "--http-port", "0", "--core-port", "0"),
                            cwd=REPO, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                            timeout=60)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"Error: {client}: a client's home"), result.stderr
    assert f"`directlink daemon serve --home {client}`" in result.stderr
    assert snapshot(client) == before
    assert not (client / "core").exists()


@pytest.mark.parametrize("command", [["daemon", "serve", "--core-port", "9"],
                                     ["config", "show"], ["config", "validate"],
                                     ["keys", "show"], ["keys", "export"]])
def test_a_client_command_on_a_missing_home_creates_nothing(command: list[str],
                                                            tmp_path: Path) -> None:
    home = tmp_path / "client"
    result = CliRunner().invoke(cli, [*command, "--home", str(home)])
    assert result.exit_code == 1, result.output
    assert result.output == (f"Error: {home / 'etc' / 'directlink.ini'}: no client config; "
                             "create one with `directlink config init` (or run `directlink up`)"
                             "\n")
    assert not home.exists()


def test_core_init_creates_a_bank_once(tmp_path: Path, public_key: Path) -> None:
    home = tmp_path / "bank"
    runner = CliRunner()
    created = runner.invoke(cli, ["core", "init", "--home", str(home)])
    assert created.exit_code == 0, created.output
    assert (home / "core" / "ledger.db").exists() and (home / "core" / "bank.pub").exists()
    assert "bank key fingerprint:" in created.output
    enrolled = runner.invoke(cli, bank_command("enroll", home, public_key))
    assert enrolled.exit_code == 0, enrolled.output

    before = snapshot(home)
    again = runner.invoke(cli, ["core", "init", "--home", str(home)])
    assert again.exit_code == 1
    assert "a bank already exists here" in again.output
    assert snapshot(home) == before


def test_core_init_on_a_clients_home_makes_one_home_for_both(client: Path) -> None:
    """As `up` lays it out: deliberate, so allowed (unlike a bank made by accident)."""
    result = CliRunner().invoke(cli, ["core", "init", "--home", str(client)])
    assert result.exit_code == 0, result.output
    assert (client / "core" / "ledger.db").exists()
