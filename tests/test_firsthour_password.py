"""No password and no terminal: one line saying a password is needed and how to give it.

As under a service manager or in a script: the CLI runs as a subprocess in a
session of its own (no controlling terminal, so getpass has no /dev/tty),
stdin is /dev/null and $DIRECTLINK_PASSWORD is unset. Before, each command
printed a GetPassWarning, an echoed prompt and "Aborted!".
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from directlink.cli import cli as directlink_cli
from protocol.keys import BankKeyPair
from tests.erp_client import REPO, cli_command

PASSWORD = "correct horse battery staple"


def unattended(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DIRECTLINK_PASSWORD",
                                                             "DIRECTLINK_HOME")}
    return subprocess.run(cli_command(*args), cwd=REPO, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, start_new_session=True, env=env,
                          timeout=60)


def assert_needs(result: subprocess.CompletedProcess[str], needed: str, how: str) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stderr == (f"Error: {needed}, and there is no terminal to ask for it: "
                             f"{how}\n")


PASSWORD_HOW = "give --password-file FILE or set $DIRECTLINK_PASSWORD"


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "pw"
    path.write_text(PASSWORD + "\n", encoding="utf-8")
    return path


@pytest.fixture
def client(tmp_path: Path, password_file: Path) -> Path:
    """A home made by `config init` (no etc/password: the password is the admin's)."""
    home = tmp_path / "client"
    result = unattended("config", "init", "--home", str(home), "--corp-no", "0000000001",
                        "--user-no", "001", "--password-file", str(password_file))
    assert result.returncode == 0, result.stderr
    return home


def test_config_init_writes_nothing(tmp_path: Path) -> None:
    home = tmp_path / "client"
    result = unattended("config", "init", "--home", str(home), "--corp-no", "0000000001",
                        "--user-no", "001")
    assert_needs(result, "a new security password is needed", PASSWORD_HOW)
    assert not home.exists()


def test_daemon_serve(client: Path) -> None:
    result = unattended("daemon", "serve", "--home", str(client), "--core-port", "9",
                        "--erp-port", "0", "--http-port", "0")
    assert_needs(result, "the daemon needs the security password to open its private key",
                 PASSWORD_HOW)
    assert not (client / "log" / "directlink.log").exists()


def test_config_set_changes_nothing(client: Path) -> None:
    ini = client / "etc" / "directlink.ini"
    before = ini.read_bytes()
    result = unattended("config", "set", "--home", str(client), "communication.port", "9100")
    assert_needs(result, "the security password is needed", PASSWORD_HOW)
    assert ini.read_bytes() == before


def test_config_passwd_needs_the_old_then_the_new_password(client: Path,
                                                           password_file: Path) -> None:
    ini = client / "etc" / "directlink.ini"
    before = ini.read_bytes()
    assert_needs(unattended("config", "passwd", "--home", str(client)),
                 "the security password is needed", PASSWORD_HOW)
    assert_needs(unattended("config", "passwd", "--home", str(client), "--password-file",
                            str(password_file)),
                 "a new security password is needed", "give --new-password-file FILE")
    assert ini.read_bytes() == before


def test_keys_generate(client: Path) -> None:
    key = client / "keys" / "client.key"
    before = key.read_bytes()
    assert_needs(unattended("keys", "generate", "--home", str(client), "--force"),
                 "the security password is needed", PASSWORD_HOW)
    assert key.read_bytes() == before


def test_enroll_without_a_fingerprint_to_check(client: Path, tmp_path: Path,
                                               password_file: Path) -> None:
    letter = tmp_path / "bank.pub"
    letter.write_text(BankKeyPair.generate().public.to_text(), encoding="ascii")
    result = unattended("enroll", "--home", str(client), "--password-file", str(password_file),
                        "--bank-key", str(letter))
    assert result.returncode == 1
    assert result.stderr == ("Error: the bank key's fingerprint must be checked, and there is "
                             "no terminal to ask: give --fingerprint (from the bank's key "
                             "letter) or --yes\n")
    assert not (client / "keys" / "bank.pub").exists()


def test_with_the_password_given_the_commands_need_no_terminal(client: Path,
                                                               password_file: Path) -> None:
    result = unattended("config", "set", "--home", str(client), "--password-file",
                        str(password_file), "communication.port", "9100")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("command", [["daemon", "serve"], ["config", "set"],
                                     ["config", "passwd"], ["keys", "generate"], ["enroll"]])
def test_password_file_help_says_where_the_default_comes_from(command: list[str]) -> None:
    result = CliRunner().invoke(directlink_cli, [*command, "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    start = text.index("--password-file FILE")
    help_text = text[start:text.index(" -", start + 20)]
    assert "$DIRECTLINK_PASSWORD" in help_text and "HOME/etc/password" in help_text, help_text
