"""A port already in use: one line naming the address and the option that moves it.

Each test holds a port with a listening socket of its own, then starts the
real CLI (as a subprocess) on it and reads its stderr: exactly one line, no
traceback, naming ``127.0.0.1:PORT`` and e.g. ``--erp-port 0``. Under ``up``
the core is a child process; its failure is reported by ``up`` in that one
line too.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from directlink.cli import cli as directlink_cli
from tests.erp_client import REPO, cli_command, running_up


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home made by `up` (bank, client config, keys, etc/password), then stopped."""
    path = tmp_path_factory.mktemp("ports") / "home"
    with running_up(path):
        pass
    return path


@pytest.fixture
def taken() -> Iterator[int]:
    """A port on 127.0.0.1 that something else listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def fails(*args: str, timeout: float = 60) -> str:
    """Run ``directlink ARGS``, expect exit 1 within ``timeout``; its stderr."""
    result = subprocess.run(cli_command(*args), cwd=REPO, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=timeout)
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""  # no READY line
    return result.stderr


def assert_one_line(stderr: str, port: int, option: str) -> None:
    assert stderr.count("\n") == 1 and stderr.endswith("\n"), stderr
    assert stderr.startswith("Error: "), stderr
    assert f"127.0.0.1:{port} " in stderr, stderr
    assert "address already in use" in stderr, stderr
    assert f"{option} 0 picks a free port" in stderr, stderr


@pytest.mark.parametrize("option, what", [("--erp-port", "raw TCP ERP port"),
                                          ("--http-port", "HTTP ERP port")])
def test_up_with_an_erp_port_in_use(home: Path, taken: int, option: str, what: str) -> None:
    ports = {"--erp-port": "0", "--http-port": "0", "--core-port": "0", option: str(taken)}
    stderr = fails("up", "--home", str(home), *[x for kv in ports.items() for x in kv])
    assert_one_line(stderr, taken, option)
    assert what in stderr


def test_up_with_the_core_port_in_use(home: Path, taken: int) -> None:
    """The core child cannot listen: `up` says so in one line, naming --core-port."""
    stderr = fails("up", "--home", str(home), "--erp-port", "0", "--http-port", "0",
                   "--core-port", str(taken))
    assert_one_line(stderr, taken, "--core-port")
    assert "bank core" in stderr


def test_up_core_port_0_with_the_configured_erp_port_in_use(home: Path, taken: int) -> None:
    """The ERP port comes from the config: the line still names it and the option."""
    set_port = subprocess.run(
        cli_command("config", "set", "--home", str(home), "forward.erp_port", str(taken)),
        cwd=REPO, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert set_port.returncode == 0, set_port.stderr
    try:
        stderr = fails("up", "--home", str(home), "--http-port", "0", "--core-port", "0")
        assert_one_line(stderr, taken, "--erp-port")
    finally:
        subprocess.run(cli_command("config", "set", "--home", str(home), "forward.erp_port",
                                   "0"), cwd=REPO, capture_output=True, timeout=60, check=True)


@pytest.mark.parametrize("option", ["--erp-port", "--http-port"])
def test_daemon_serve_with_a_port_in_use(home: Path, taken: int, option: str) -> None:
    # The bank "core" is a socket that accepts and never answers: the link neither
    # connects nor complains before the listener fails.
    with socket.socket() as bank:
        bank.bind(("127.0.0.1", 0))
        bank.listen()
        ports = {"--erp-port": "0", "--http-port": "0", option: str(taken)}
        stderr = fails("daemon", "serve", "--home", str(home), "--core-port",
                       str(bank.getsockname()[1]), *[x for kv in ports.items() for x in kv])
    assert_one_line(stderr, taken, option)


def test_core_serve_with_its_port_in_use(home: Path, taken: int) -> None:
    stderr = fails("core", "serve", "--home", str(home), "--port", str(taken))
    assert_one_line(stderr, taken, "--port")


def test_the_same_port_for_both_erp_listeners_is_refused(home: Path) -> None:
    result = CliRunner().invoke(directlink_cli, [
        "daemon", "serve", "--home", str(home), "--core-port", "9", "--erp-port", "40123",
        "--http-port", "40123"])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: --erp-port and --http-port: both 40123 (from the options or "
        f"{home / 'etc' / 'directlink.ini'}); the two listeners need different ports\n")
