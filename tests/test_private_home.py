"""What ``directlink up``, ``config init`` and ``core init`` create is private to its owner.

The home holds the security password's hash (the ini), private keys, the
ledger and logs that name accounts and amounts. Every directory they create
is 0700 and every file 0600 — public keys, meant to be handed out, may be
0644 — whatever the umask: each command runs here under a umask of 022, which
left to itself makes files 0644 and directories 0755.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.files import create_private, make_private_dir, write_atomically
from config.seed import DEMO_SEED, parse_seed
from core_sim.bank import Bank
from core_sim.bank_process import BankProcess
from tests.erp_client import cli, running_up

PERMISSIVE_UMASK = 0o022
PASSWORD = "correct horse battery staple"


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    """Run the block (and the processes it starts, which inherit it) under ``mask``."""
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def is_public_key(path: Path, home: Path) -> bool:
    relative = path.relative_to(home)
    return path.suffix == ".pub" or relative.parent.name == "enrolled"


def modes(home: Path) -> dict[str, int]:
    """Every directory and file under ``home`` (itself included) and its permission bits."""
    found = {".": stat.S_IMODE(home.stat().st_mode)}
    for path in sorted(home.rglob("*")):
        found[str(path.relative_to(home))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def assert_private(home: Path) -> dict[str, int]:
    found = modes(home)
    wrong = {}
    for name, mode in found.items():
        path = home / name
        if path.is_dir():
            expected = {0o700}
        elif is_public_key(path, home):
            expected = {0o600, 0o644}
        else:
            expected = {0o600}
        if mode not in expected:
            wrong[name] = oct(mode)
    assert not wrong, f"not private: {wrong}"
    return found


def test_up_creates_its_home_private(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with umask(PERMISSIVE_UMASK), running_up(home):
        # While it runs: the ledger's -wal and -shm exist, and are the ledger's mode.
        running = assert_private(home)
    assert {"core/ledger.db", "core/ledger.db-wal", "core/ledger.db-shm"} <= running.keys()
    stopped = assert_private(home)
    for name in ("etc", "etc/directlink.ini", "etc/password", "keys", "keys/client.key",
                 "log", "log/directlink.log", "files", "core", "core/ledger.db",
                 "core/seed.yaml", "core/bank-keys.pem", "core/core.log", "core/enrolled"):
        assert name in stopped, f"{name} missing: {sorted(stopped)}"


def test_config_init_creates_its_home_private(tmp_path: Path) -> None:
    home = tmp_path / "client"
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD)
    with umask(PERMISSIVE_UMASK):
        cli("config", "init", "--home", str(home), "--corp-no", "0000000001",
            "--user-no", "001", "--password-file", str(password_file))
    found = assert_private(home)
    assert {"etc", "etc/directlink.ini", "keys", "keys/client.key", "log"} <= found.keys()


def test_core_init_creates_its_bank_private(tmp_path: Path) -> None:
    home = tmp_path / "bank"
    with umask(PERMISSIVE_UMASK):
        cli("core", "init", "--home", str(home))
    found = assert_private(home)
    assert {"core", "core/ledger.db", "core/seed.yaml", "core/bank-keys.pem"} <= found.keys()


# -- the one writing path ------------------------------------------------------------


def test_write_atomically_creates_missing_directories_0700(tmp_path: Path) -> None:
    with umask(PERMISSIVE_UMASK):
        write_atomically(tmp_path / "a" / "b" / "secret", b"x")
        write_atomically(tmp_path / "a" / "b" / "public", b"y", mode=0o644)
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "a" / "b").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "a" / "b" / "secret").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "a" / "b" / "public").stat().st_mode) == 0o644


def test_an_existing_directory_keeps_its_mode(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o750)
    make_private_dir(shared / "inner")
    assert stat.S_IMODE(shared.stat().st_mode) == 0o750
    assert stat.S_IMODE((shared / "inner").stat().st_mode) == 0o700


def test_write_without_replace_leaves_the_first_file(tmp_path: Path) -> None:
    target = tmp_path / "keys.pem"
    write_atomically(target, b"first", replace=False)
    with pytest.raises(FileExistsError):
        write_atomically(target, b"second", replace=False)
    assert target.read_bytes() == b"first"
    assert [p.name for p in tmp_path.iterdir()] == ["keys.pem"]  # no temporary left


def test_sqlite_gives_wal_and_shm_the_ledgers_mode(tmp_path: Path) -> None:
    # What core_sim.home relies on: a ledger created 0600 before SQLite opens it
    # keeps its journal files 0600 too, whatever the umask.
    ledger = tmp_path / "core" / "ledger.db"
    with umask(PERMISSIVE_UMASK):
        create_private(ledger)
        bank = Bank.open(ledger, seed=parse_seed(DEMO_SEED, "<demo seed>"))
        try:
            for name in ("ledger.db", "ledger.db-wal", "ledger.db-shm"):
                assert stat.S_IMODE((ledger.parent / name).stat().st_mode) == 0o600, name
        finally:
            bank.close()


def test_create_private_keeps_an_existing_file(tmp_path: Path) -> None:
    log = tmp_path / "core.log"
    log.write_text("earlier lines\n")
    log.chmod(0o640)
    create_private(log)
    assert log.read_text() == "earlier lines\n"
    assert stat.S_IMODE(log.stat().st_mode) == 0o640


async def test_the_ledger_process_creates_its_log_0600(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.db"
    Bank.open(ledger, seed=parse_seed(DEMO_SEED, "<demo seed>")).close()
    log = tmp_path / "core.log"
    with umask(PERMISSIVE_UMASK):  # the child inherits it
        process = BankProcess(ledger, log_file=log)
        await process.start()
    await process.aclose()
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
