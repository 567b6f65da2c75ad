"""Small things a new user trips over: a port 0 to connect to, help texts, plurals, log modes."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from directlink.cli import cli
from directlink.commands.common import plural
from tests.erp_client import REPO, cli_command


def test_daemon_serve_refuses_core_port_0(tmp_path: Path) -> None:
    """Port 0 is "any free port" to a listener; the link would retry port 0 for ever."""
    home, pw = tmp_path / "client", tmp_path / "pw"
    pw.write_text("a password\n", encoding="utf-8")
    made = CliRunner().invoke(cli, ["config", "init", "--home", str(home), "--corp-no", "1",
                                    "--user-no", "1", "--certflag", "0", "--password-file",
                                    str(pw)])
    assert made.exit_code == 0, made.output
    try:
        result = subprocess.run(
            cli_command("daemon", "serve", "--home", str(home), "--core-port", "0",
                        "--erp-port", "0", "--http-port", "0"),
            cwd=REPO, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail("daemon serve --core-port 0 was accepted (and kept connecting to port 0)")
    assert result.returncode == 2
    assert "Invalid value for '--core-port': 0 is not a port to connect to" in result.stderr
    assert result.stdout == ""


def test_daemon_serve_still_takes_0_for_its_listeners() -> None:
    result = CliRunner().invoke(cli, ["daemon", "serve", "--help"])
    text = " ".join(result.output.split())
    assert "--erp-port INTEGER RANGE Raw TCP ERP port (0 = any free port)" in text
    assert "--core-port INTEGER RANGE Bank port [default: from the config]" in text


def test_core_export_key_output_has_help() -> None:
    result = CliRunner().invoke(cli, ["core", "export-key", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "-o, --output FILE Write the key file here [default: standard output]." in text


@pytest.mark.parametrize("count, text", [(0, "0 checks"), (1, "1 check"), (2, "2 checks")])
def test_plural(count: int, text: str) -> None:
    assert plural(count, "check") == text
    assert plural(count, "entry", "entries").split()[1] == ("entry" if count == 1 else "entries")


def test_log_files_are_private(tmp_path: Path) -> None:
    """The logs name accounts and amounts: 0600 files in a 0700 directory, when created here."""
    log = tmp_path / "log" / "directlink.log"
    script = ("import sys, logging; from pathlib import Path; "
              "from directlink.runtime import setup_logging; "
              "setup_logging({'directlink': Path(sys.argv[1])}); "
              "logging.getLogger('directlink').warning('hello')")
    subprocess.run([sys.executable, "-c", script, str(log)], check=True, capture_output=True,
                   timeout=60, cwd=Path(__file__).resolve().parent.parent)
    assert "hello" in log.read_text()
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700
