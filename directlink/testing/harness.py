"""Start and stop a bank core and a client daemon in subprocesses, for tests.

The harness does what ``directlink core init``, ``config init``, ``core
enroll``, ``core export-key`` and ``enroll --bank-key`` do, with the same
library calls and the same files, but in the test's own process: each of
those commands would cost a Python start and the CLI's imports (about 0.4 s
each). Then it runs the two long-lived halves as real ``directlink core
serve`` and ``directlink daemon serve`` processes, each in a home of its own,
every port 0:

    ROOT/seed.yaml        the seed, when it was given as text or a dict
    ROOT/bank/core/       the bank's home (ledger, keys, enrolled client key, log)
    ROOT/client/          the client's home (etc/directlink.ini, keys/, log/, files/)
    ROOT/bank.stderr      what each process wrote on stderr
    ROOT/client.stderr

The client acts for the seed's first enterprise and its first user, with
certflag=1: its key is generated, encrypted with a security password and
enrolled with the bank, and the bank's key is pinned by fingerprint. The
daemon gets the password through ``$DIRECTLINK_PASSWORD``, never a prompt.

Both processes start at once: the daemon's process (:mod:`directlink.testing.launcher`)
imports the CLI while the bank starts, and is handed its command line, with
the bank's port, when the bank prints READY.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache, cached_property
from pathlib import Path
from typing import Any, TypeAlias

import yaml

from config.errors import ConfigError
from config.files import make_private_dir
from config.ini import hash_password
from config.seed import DEMO_SEED, Seed, parse_seed
from core_sim.check import CheckReport, check_ledger
from core_sim.home import CoreHome
from daemon.home import PASSWORD_ENV, ClientHome
from directlink.provisioning import provision_client
from directlink.testing.approvals import BankApprovals
from directlink.testing.controls import BankClock, BankJournal, BankRules
from directlink.testing.erp import Address, ErpClient

#: A seed: YAML text (``str``), a file (``pathlib.Path`` or any path-like), a dict
#: shaped like the YAML document, or None for the demo seed.
SeedSpec: TypeAlias = "str | os.PathLike[str] | Mapping[str, Any] | None"

#: Seconds to wait for a READY line.
START_TIMEOUT = 60.0
#: Seconds between SIGTERM and SIGKILL when stopping.
STOP_TIMEOUT = 15.0


class HarnessError(Exception):
    """A bank or a daemon could not be started or stopped; the message says why."""


class SeedError(HarnessError):
    """The seed is not valid: the message names the path in it (``enterprises[0]…``)."""


# -- seeds ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeedInfo:
    """What the harness and the ERP client need to know of a seed."""

    text: str
    #: The seed file, if it was given as one (lists in CSV files are found beside it).
    path: Path | None
    seed: Seed = field(repr=False)

    @property
    def corp_no(self) -> str:
        """The first enterprise's corp_no: the client acts for it."""
        return self.seed.enterprises[0].corp_no

    @property
    def user_no(self) -> str:
        """The first enterprise's first user_no: the client's operator."""
        return self.seed.enterprises[0].users[0]

    @property
    def accounts(self) -> tuple[str, ...]:
        """The first enterprise's account numbers, in seed order."""
        return tuple(account.acno for account in self.seed.enterprises[0].accounts)

    def names(self) -> dict[str, str]:
        """Account holder by account number, for every account the seed lists inline."""
        names = {a.acno: a.name for e in self.seed.enterprises for a in e.accounts}
        names.update((a.acno, a.name) for a in self.seed.external_accounts)
        if isinstance(self.seed.personal_accounts, tuple):  # not a CSV of a million rows
            names.update((a.acno, a.name) for a in self.seed.personal_accounts)
        return names

    def other_banks(self) -> dict[str, str]:
        """The bank number of each account at another bank."""
        return {a.acno: a.bank_no for a in self.seed.external_accounts}


def load_seed_spec(seed: SeedSpec) -> SeedInfo:
    """Read and validate a seed given as YAML text, a path, a dict, or None (the demo).

    A ``str`` is always YAML text; give a file as a :class:`pathlib.Path`.
    Raises :class:`SeedError` with the seed's own error message.
    """
    path: Path | None = None
    if seed is None:
        text, source = DEMO_SEED, "<demo seed>"
    elif isinstance(seed, os.PathLike):
        path = Path(seed).absolute()
        try:
            text = path.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise SeedError(f"{path}: cannot read the seed: {exc.strerror or exc}") from None
        source = str(path)
    elif isinstance(seed, Mapping):
        text, source = yaml.safe_dump(_plain(seed, "seed"), allow_unicode=True,
                                      sort_keys=False), "<seed dict>"
    elif isinstance(seed, str):
        text, source = seed, "<seed text>"
    else:
        raise TypeError(f"a seed is YAML text, a path or a dict, not {type(seed).__name__}")
    try:
        parsed = parse_seed(text, source, base_dir=None if path is None else path.parent)
    except ConfigError as exc:
        raise SeedError(str(exc)) from None
    return SeedInfo(text=text, path=path, seed=parsed)


def _plain(value: Any, where: str) -> Any:
    """A dict seed as YAML can hold it: Decimal amounts and dates become strings."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, float):
        raise TypeError(f"{where}: {value!r} is a float; give amounts as str or Decimal")
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


# -- processes --------------------------------------------------------------------------


class _Process:
    """One ``directlink`` subprocess, started through the launcher, and its READY line."""

    def __init__(self, name: str, group: str, cwd: Path, *,
                 env: Mapping[str, str] | None = None) -> None:
        self.name = name
        self.group = group
        self.stderr_path = cwd / f"{name}.stderr"
        self.args: list[str] = []
        environment = {k: v for k, v in os.environ.items()
                       if k not in ("DIRECTLINK_HOME", PASSWORD_ENV)}
        environment.update(env or {})
        with open(self.stderr_path, "wb") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "directlink.testing.launcher", group], cwd=cwd,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=environment)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def run(self, args: list[str]) -> None:
        """Hand the launcher its command line: ``directlink ARGS``."""
        assert self.proc.stdin is not None
        self.args = args
        with contextlib.suppress(BrokenPipeError):  # it died already: wait_ready says why
            self.proc.stdin.write(json.dumps(args).encode("utf-8") + b"\n")
            self.proc.stdin.close()

    def wait_ready(self, timeout: float = START_TIMEOUT) -> dict[str, Address]:
        """Wait for the READY line; its addresses by name (``core``, ``erp_tcp``, …)."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        buffered = b""
        while b"\n" not in buffered:
            readable, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0))
            chunk = os.read(fd, 4096) if readable else b""
            if not chunk:
                why = "exited" if readable else f"printed no READY line within {timeout:g} s"
                self.kill()
                raise HarnessError(
                    f"directlink {self.group} {' '.join(self.args)}: {why} (exit status "
                    f"{self.proc.returncode}); its stderr ({self.stderr_path}):\n"
                    f"{self.stderr()[-3000:]}")
            buffered += chunk
        line = buffered.split(b"\n", 1)[0].decode("ascii", "replace").strip()
        return _parse_ready(line, [self.group, *self.args])

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM, then SIGKILL after ``timeout`` s; the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._close_pipes()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._close_pipes()

    def _close_pipes(self) -> None:
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None and not pipe.closed:
                with contextlib.suppress(BrokenPipeError):
                    pipe.close()


def _parse_ready(line: str, args: list[str]) -> dict[str, Address]:
    """``READY core=H:P`` / ``READY erp_tcp=H:P erp_http=H:P`` → {name: (host, port)}."""
    words = line.split()
    found: dict[str, Address] = {}
    for word in words[1:]:
        name, _, address = word.partition("=")
        host, _, port = address.rpartition(":")
        if not (name and host and port.isdigit()):
            break
        found[name] = (host, int(port))
    else:
        if words[:1] == ["READY"] and found:
            return found
    raise HarnessError(f"directlink {' '.join(args)}: not a READY line: {line!r}")


# -- the bank ---------------------------------------------------------------------------


@dataclass(eq=False)
class Bank:
    """A running ``directlink core serve``: its home, address and seed."""

    root: Path  #: the bank's --home (its files are in ROOT/core)
    seed: SeedInfo
    address: Address
    process: _Process = field(repr=False)
    #: A daemon process already importing the CLI, for this bank's client (see start_client).
    _spare: _Process | None = field(default=None, repr=False)
    stopped: bool = False

    @property
    def home(self) -> CoreHome:
        return CoreHome(self.root)

    @property
    def host(self) -> str:
        return self.address[0]

    @property
    def port(self) -> int:
        return self.address[1]

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def log(self) -> Path:
        """The core's log file (core.log)."""
        return self.home.log

    @cached_property
    def clock(self) -> BankClock:
        """The bank's business clock, under the test's control."""
        return BankClock(self.home)

    @cached_property
    def rules(self) -> BankRules:
        """The bank's scenario rules: delays, refusals, drops, holds, returns on purpose."""
        return BankRules(self.home)

    @cached_property
    def approvals(self) -> BankApprovals:
        """The enterprise's approvers: decide what waits for authorization (A001)."""
        return BankApprovals(self.home)

    @cached_property
    def journal(self) -> BankJournal:
        """Every request the bank received, the rule that fired, its reply and entries."""
        return BankJournal(self.home.journal)

    def stderr(self) -> str:
        """What the core wrote on stderr so far."""
        return self.process.stderr()

    def clear(self) -> None:
        """Ask the core for a clearing run now, as ``directlink core clear`` does (SIGUSR1).

        It returns at once; the run follows within milliseconds. Poll 310204 or
        310207 for the outcome.
        """
        os.kill(self.process.pid, signal.SIGUSR1)

    def end_of_day(self) -> None:
        """Ask the core for an end of day, as ``directlink core eod`` does (SIGUSR2)."""
        os.kill(self.process.pid, signal.SIGUSR2)

    def check(self) -> CheckReport:
        """The ledger's invariants, as ``directlink core check`` checks them."""
        return check_ledger(self.home.ledger)

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """Stop the core (SIGTERM, then SIGKILL after ``timeout``); its exit status."""
        if self._spare is not None:
            self._spare.stop()
            self._spare = None
        self.stopped = True
        return self.process.stop(timeout)


def start_bank(root: Path, seed: SeedSpec = None, *, clearing_interval: float = 3.0,
               prewarm_client: bool = False, timeout: float = START_TIMEOUT) -> Bank:
    """Start a bank core from ``seed`` in ``root/bank`` on a free port; wait until READY.

    With ``prewarm_client``, a process for the client daemon starts importing
    at the same time, and :func:`start_client` uses it.
    """
    root = Path(root).absolute()
    info = seed if isinstance(seed, SeedInfo) else load_seed_spec(seed)
    make_private_dir(root)
    seed_path = info.path
    if seed_path is None:
        seed_path = root / "seed.yaml"
        seed_path.write_text(info.text, encoding="utf-8")
    bank_root = root / "bank"
    core_home = CoreHome(bank_root)
    core_home.bank_keys(create=True)  # here, so that the client can pin it at once
    process = _Process("bank", "core", root)
    process.run(["serve", "--home", str(bank_root), "--seed", str(seed_path),
                 "--host", "127.0.0.1", "--port", "0",
                 "--clearing-interval", repr(float(clearing_interval)), "--journal"])
    spare = None
    if prewarm_client:
        spare = _Process("client", "daemon", root, env={PASSWORD_ENV: _security_password()[0]})
    try:
        addresses = process.wait_ready(timeout)
    except BaseException:
        if spare is not None:
            spare.kill()
        raise
    return Bank(root=bank_root, seed=info, address=addresses["core"], process=process,
                _spare=spare)


# -- the client ---------------------------------------------------------------------------


@cache
def _security_password() -> tuple[str, str]:
    """One security password and its scrypt hash for every client of this process.

    The hash costs about 50 ms; a test home needs no password of its own.
    """
    password = os.urandom(18).hex()
    return password, hash_password(password)


@dataclass(eq=False)
class Client:
    """A running ``directlink daemon serve``, enrolled with a :class:`Bank`."""

    root: Path  #: the client's --home
    bank: Bank = field(repr=False)
    erp_tcp: Address
    erp_http: Address
    process: _Process = field(repr=False)
    stopped: bool = False

    @property
    def home(self) -> ClientHome:
        return ClientHome(self.root)

    @property
    def corp_no(self) -> str:
        return self.bank.seed.corp_no

    @property
    def user_no(self) -> str:
        return self.bank.seed.user_no

    @property
    def config(self) -> Path:
        """The client's ini file."""
        return self.home.config

    @property
    def exchange_dir(self) -> Path:
        """The exchange folder (``[files] dir``): batch files go here."""
        return self.home.files

    @property
    def password(self) -> str:
        """The security password that opens the client's private key."""
        return _security_password()[0]

    @property
    def pid(self) -> int:
        return self.process.pid

    def stderr(self) -> str:
        """What the daemon wrote on stderr so far."""
        return self.process.stderr()

    def erp(self, *, transport: str = "tcp", encoding: str = "GBK",
            timeout: float = 60.0) -> ErpClient:
        """An ERP client for this daemon."""
        return ErpClient(self.erp_tcp, self.erp_http, corp_no=self.corp_no,
                         user_no=self.user_no, transport=transport, encoding=encoding,
                         timeout=timeout, exchange_dir=self.exchange_dir,
                         names=self.bank.seed.names(),
                         other_banks=self.bank.seed.other_banks())

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """Stop the daemon (SIGTERM, then SIGKILL after ``timeout``); its exit status."""
        self.stopped = True
        return self.process.stop(timeout)


def prepare_client(root: Path, bank: Bank) -> ClientHome:
    """A client home for the bank's first enterprise and user, enrolled with the bank.

    What ``directlink config init`` (certflag=1), ``core enroll``, ``core
    export-key`` and ``enroll --bank-key`` would do (:func:`provision_client`),
    with this process's one security password.
    """
    client = ClientHome(Path(root).absolute())
    password, password_hash = _security_password()
    provision_client(client, bank.home, bank.home.bank_keys(), corp_no=bank.seed.corp_no,
                     user_no=bank.seed.user_no, password=password,
                     password_hash=password_hash)
    return client


def start_client(bank: Bank, root: Path | None = None, *,
                 timeout: float = START_TIMEOUT) -> Client:
    """Start a daemon for ``bank``'s first enterprise in ``root`` (default: beside the bank)."""
    root = Path(root).absolute() if root is not None else bank.root.parent / "client"
    client_home = prepare_client(root, bank)
    process, bank._spare = bank._spare, None
    if process is None or process.proc.poll() is not None:
        process = _Process("client", "daemon", root.parent,
                           env={PASSWORD_ENV: _security_password()[0]})
    process.run(["serve", "--home", str(client_home.root),
                 "--core-host", bank.host, "--core-port", str(bank.port),
                 "--erp-port", "0", "--http-port", "0"])
    addresses = process.wait_ready(timeout)
    return Client(root=client_home.root, bank=bank, erp_tcp=addresses["erp_tcp"],
                  erp_http=addresses["erp_http"], process=process)


# -- both -------------------------------------------------------------------------------


@dataclass(eq=False)
class Pair:
    """A bank and its client daemon, started together by :func:`start_pair`."""

    bank: Bank
    client: Client

    def erp(self, **kw: Any) -> ErpClient:
        """An ERP client for the daemon (see :meth:`Client.erp`)."""
        return self.client.erp(**kw)

    def stop(self) -> None:
        """Stop the daemon, then the bank."""
        try:
            self.client.stop()
        finally:
            self.bank.stop()


def start_pair(root: Path, seed: SeedSpec = None, *, clearing_interval: float = 3.0,
               timeout: float = START_TIMEOUT) -> Pair:
    """A bank from ``seed`` and a daemon enrolled with it, both READY, in ``root``."""
    bank = start_bank(root, seed, clearing_interval=clearing_interval, prewarm_client=True,
                      timeout=timeout)
    try:
        client = start_client(bank, timeout=timeout)
    except BaseException:
        bank.stop()
        raise
    return Pair(bank, client)
