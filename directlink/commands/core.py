"""``directlink core …``: run and administer the simulated bank core."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import click
import trio

from config.errors import ConfigError
from config.files import write_atomically
from config.seed import DEMO_SEED, Seed, load_seed, parse_seed
from core_sim.bank import Bank, china_time
from core_sim.bank_process import BankProcess, BankProcessError
from core_sim.check import check_ledger
from core_sim.home import CoreHome
from core_sim.server import CoreServer
from daemon.home import ClientHome
from directlink.commands.common import home_option, plural
from directlink.runtime import Listen, ready, run_trio, run_until_signalled, setup_logging
from protocol.keys import BankKeyPair, KeyFileError, VerifyKey, format_fingerprint


def open_bank(home: CoreHome, seed_path: Path | None) -> tuple[Bank, Seed | None]:
    """Open the ledger, creating it from the seed (or the demo seed) on first use.

    An existing ledger keeps its data: a seed given again adds only what is
    new (see core_sim.seeding); it never re-funds an account.
    """
    seed: Seed | None = None
    try:
        if seed_path is not None:
            seed = load_seed(seed_path)
        elif not home.exists():
            seed = parse_seed(DEMO_SEED, "<demo seed>")
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if not home.exists():
        home.create(seed_path.read_text(encoding="utf-8") if seed_path else DEMO_SEED,
                    seed.files if seed is not None else ())
    try:
        # A journal kept by `core serve --journal` also records what commands do offline.
        journal = home.journal if home.journal.exists() else None
        bank = Bank.open(home.ledger, seed=seed, clock=china_time, journal=journal)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    return bank, seed


def require_bank(home: Path) -> CoreHome:
    """The bank at ``home``, or a one-line error (nothing written) saying how to make one.

    Only ``core init``, ``core serve --seed`` and ``up`` create a bank: an
    administrative command given a mistyped or a client's ``--home`` must not
    quietly start a demo bank there.
    """
    core_home = CoreHome(home)
    if core_home.exists():
        return core_home
    create = f"`directlink core init --home {home}` creates one"
    if not home.exists():
        raise click.ClickException(
            f"{home}: no such directory, so no bank; {create} "
            f"(or `directlink up --home {home}`, a bank with its client)")
    if ClientHome(home).config.exists():
        raise click.ClickException(
            f"{home}: no bank here ({core_home.ledger} is missing), only a client's config; "
            f"give the bank's --home, or {create}")
    raise click.ClickException(f"{home}: no bank here ({core_home.ledger} is missing); {create}")


def bank_keys(home: CoreHome) -> BankKeyPair:
    """The bank's key pair (made on first use); a bad key file is one line naming it."""
    try:
        return home.bank_keys(create=True)
    except KeyFileError as exc:
        raise click.ClickException(f"{exc}; the bank cannot sign without its keys") from None


def core_server(home: CoreHome, bank: Bank | BankProcess, *, allow_plaintext: bool,
                clearing_interval: float) -> CoreServer:
    keys = bank_keys(home)
    return CoreServer(bank, keys, home.register.lookup, allow_plaintext=allow_plaintext,
                      clearing_interval=clearing_interval or None)


def signal_handlers(server: CoreServer) -> dict:
    """SIGUSR1 forces a clearing run (batch included); SIGUSR2 runs end of day."""
    async def clearing() -> None:
        await server.run_clearing(force_batch=True)

    async def end_of_day() -> None:
        await server.end_of_day()

    return {signal.SIGUSR1: clearing, signal.SIGUSR2: end_of_day}


@click.group()
def core() -> None:
    """The simulated bank core: serve, check the ledger, enroll client keys."""


@core.command()
@home_option
@click.option("--seed", "seed_path", type=click.Path(dir_okay=False, exists=True,
              path_type=Path), help="YAML seed for the ledger [default: the demo seed].")
def init(home: Path, seed_path: Path | None) -> None:
    """Create a bank in HOME/core: a ledger from the seed, and the bank's keys."""
    core_home = CoreHome(home)
    if core_home.exists():
        raise click.ClickException(
            f"{core_home.ledger}: a bank already exists here; `directlink core serve "
            f"--home {home} --seed FILE` adds a seed's new enterprises and accounts")
    open_bank(core_home, seed_path)[0].close()
    keys = bank_keys(core_home)
    click.echo(f"created a bank in {core_home.dir} from "
               f"{seed_path if seed_path else 'the demo seed'}")
    click.echo(f"  bank key fingerprint: {format_fingerprint(keys.public.fingerprint)}")
    click.echo("next: enroll each client's key with `directlink core enroll`, hand out "
               "`directlink core export-key`, then `directlink core serve`")


@core.command()
@home_option
@click.option("--seed", "seed_path", type=click.Path(dir_okay=False, exists=True,
              path_type=Path),
              help="YAML seed: creates the ledger if there is none, else adds what is new "
              "[default: none; a new bank needs `directlink core init` or this].")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=9003, show_default=True,
              help="Port to listen on (0 = any free port).")
@click.option("--allow-plaintext", is_flag=True,
              help="Test mode: also accept unsigned, unencrypted (certflag=0) clients.")
@click.option("--clearing-interval", type=click.FloatRange(0), default=3.0,
              show_default=True, help="Seconds between clearing runs (0 = only on demand).")
@click.option("--exit-with-parent", is_flag=True, hidden=True,
              help="Shut down when the parent process goes away (used by `up`).")
@click.option("--port-option", default="--port", hidden=True,
              help="The option that sets the port, for errors (`up` says --core-port).")
@click.option("--journal", is_flag=True,
              help="Keep the bank's journal: every request, rule fired, reply and entry, as "
              "JSON lines in HOME/core/journal.jsonl.")
@click.option("-v", "--verbose", is_flag=True, help="Log INFO to stderr too.")
def serve(home: Path, seed_path: Path | None, host: str, port: int, allow_plaintext: bool,
          clearing_interval: float, exit_with_parent: bool, port_option: str, journal: bool,
          verbose: bool) -> None:
    """Run the bank core until SIGINT/SIGTERM; prints READY core=HOST:PORT."""
    core_home = CoreHome(home) if seed_path is not None else require_bank(home)
    # Seed (or check) the ledger here, so that a bad seed is a one-line error; the
    # ledger itself then runs in a process of its own.
    open_bank(core_home, seed_path)[0].close()
    setup_logging({"directlink": core_home.log}, verbose=verbose)
    bank_keys(core_home)  # made on first use: the ledger process signs e-receipts with them
    ledger = BankProcess(core_home.ledger, log_file=core_home.log,
                         journal=core_home.journal if journal else None,
                         keys=core_home.private_keys)
    server = core_server(core_home, ledger, allow_plaintext=allow_plaintext,
                         clearing_interval=clearing_interval)
    pidfile = core_home.dir / "core.pid"

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            address = await nursery.start(server.serve, host, port)
            write_atomically(pidfile, f"{os.getpid()}\n".encode("ascii"))
            ready(f"READY core={address[0]}:{address[1]}")
            nursery.start_soon(run_until_signalled, nursery, server.drain,
                               signal_handlers(server))
            if exit_with_parent:
                nursery.start_soon(_exit_with_parent, nursery, server)

    try:
        run_trio(main, "cannot start the bank core",
                 [Listen(host, port, "the bank core's port", port_option)])
    except* BankProcessError as group:
        raise click.ClickException(f"the ledger: {group.exceptions[0]}") from None
    finally:
        pidfile.unlink(missing_ok=True)


async def _exit_with_parent(nursery: trio.Nursery, server: CoreServer) -> None:
    """Stop (gracefully) once the parent is gone, e.g. `up` was killed with -9."""
    parent = os.getppid()
    while os.getppid() == parent:
        await trio.sleep(1)
    await server.drain()
    nursery.cancel_scope.cancel()


@core.command()
@home_option
def check(home: Path) -> None:
    """Verify the ledger's invariants; exit 1 on any violation."""
    core_home = require_bank(home)
    report = check_ledger(core_home.ledger)
    click.echo(str(report))
    if not report.ok:
        click.echo(f"FAILED: {len(report.failed)} of {plural(len(report.checks), 'check')}",
                   err=True)
        raise SystemExit(1)
    click.echo(f"OK: {plural(len(report.checks), 'check')} passed")


@core.command()
@home_option
@click.option("--corp-no", required=True, help="The enterprise's corp_no.")
@click.option("--user-no", required=True, help="The operator's user_no.")
@click.argument("public_key", type=click.Path(dir_okay=False, exists=True, path_type=Path))
def enroll(home: Path, corp_no: str, user_no: str, public_key: Path) -> None:
    """Enroll an enterprise operator's public key (PEM) with the bank."""
    core_home = require_bank(home)
    bank, _ = open_bank(core_home, None)
    try:
        known = bank.has_operator(corp_no, user_no)
    finally:
        bank.close()
    if not known:
        raise click.ClickException(f"{corp_no}/{user_no} is not an operator of this bank")
    try:
        key = VerifyKey.from_pem(public_key.read_bytes())
    except KeyFileError as exc:
        raise click.ClickException(f"{public_key}: {exc}") from None
    core_home.register.enroll(corp_no, user_no, key)
    keys = bank_keys(core_home)
    click.echo(f"enrolled {corp_no}/{user_no}, key id {key.key_id}")
    click.echo(f"  client key fingerprint: {format_fingerprint(key.fingerprint)}")
    click.echo(f"  bank key fingerprint:   {format_fingerprint(keys.public.fingerprint)}")
    click.echo(f"give the client {core_home.public_keys} and the bank fingerprint above")


@core.command()
@home_option
def enrolled(home: Path) -> None:
    """List the enterprise keys enrolled with the bank."""
    keys = require_bank(home).register.all()
    if not keys:
        click.echo("no keys enrolled")
        return
    for entry in keys:
        click.echo(f"{entry.corp_no}/{entry.user_no}  key id {entry.key.key_id}  "
                   f"fingerprint {format_fingerprint(entry.key.fingerprint)}")


@core.command("export-key")
@home_option
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the key file here [default: standard output].")
def export_key(home: Path, output: Path | None) -> None:
    """Write the bank's public key file (for clients to pin)."""
    text = bank_keys(require_bank(home)).public.to_text()
    if output:
        output.write_text(text, encoding="ascii")
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


def _running_core(core_home: CoreHome) -> int | None:
    try:
        pid = int((core_home.dir / "core.pid").read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def _signal_or_run(core_home: CoreHome, signum: int, what: str, run) -> None:
    """Ask a running core (by signal) to do ``what``, or do it on the ledger directly."""
    pid = _running_core(core_home)
    if pid:
        os.kill(pid, signum)
        click.echo(f"{what} requested from the running core (pid {pid})")
        return
    bank, _ = open_bank(core_home, None)
    try:
        click.echo(run(bank))
    finally:
        bank.close()


@core.command()
@home_option
def clear(home: Path) -> None:
    """Force a clearing run now (urgent and normal payments)."""
    def run(bank: Bank) -> str:
        report = bank.run_clearing(force_batch=True)
        return (f"clearing run {report.run_no}: {len(report.settled)} settled, "
                f"{len(report.returned)} returned, {report.pending} pending")

    _signal_or_run(require_bank(home), signal.SIGUSR1, "clearing run", run)


@core.command()
@home_option
def eod(home: Path) -> None:
    """End of day: settle everything due and advance the business date."""
    def run(bank: Bank) -> str:
        return f"business date is now {bank.end_of_day():%Y-%m-%d}"

    _signal_or_run(require_bank(home), signal.SIGUSR2, "end of day", run)
from directlink.commands import agreements as _agreements  # noqa: E402, F401 (registers `core agreements`)
from directlink.commands import core_controls as _controls  # noqa: E402, F401 (registers `core operators|flows|directed|log`)
