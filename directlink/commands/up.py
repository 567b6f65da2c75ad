"""``directlink up``: the embedded default — a bank core and a client daemon in one go.

On first use it creates the home directory: a ledger from the seed (a demo
seed when none is given), the bank's keys, the client's config with
certflag=1, the client's key (encrypted with a generated security password
kept in etc/password), the client key enrolled with the core and the bank key
pinned in the client's config. Later runs keep all of it.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import click
import trio

import directlink
from config.errors import ConfigError
from config.ini import (
    IniFile,
    hash_password,
    load_config,
    password_bytes,
    render_default_config,
)
from config.seed import load_seed
from core_sim.home import CoreHome
from daemon.home import ClientHome, write_secret
from directlink.commands.common import home_option
from directlink.commands.core import open_bank
from directlink.commands.daemon import build_daemon, erp_listens, load_keys
from directlink.runtime import ready, run_trio, run_until_signalled, setup_logging
from protocol.keys import SigningKey


def ensure_client(home: Path, core_home: CoreHome, corp_no: str, user_no: str) -> bool:
    """Create the client's config and keys and enroll them, unless they exist."""
    client = ClientHome(home)
    if client.config.exists():
        return False
    bank_keys = core_home.bank_keys(create=True)
    password = secrets.token_urlsafe(18)
    write_secret(client.password_file, password.encode() + b"\n")
    key = SigningKey.generate()
    write_secret(client.keys / "client.key", key.to_pem(password_bytes(password)))
    (client.keys / "client.pub").write_bytes(key.public.to_pem())
    shutil.copyfile(core_home.public_keys, client.keys / "bank.pub")
    IniFile.from_text(client.config, render_default_config(
        corp_no=corp_no, user_no=user_no, certflag=1,
        password_hash=hash_password(password),
        bank_fingerprint=bank_keys.public.fingerprint,
    )).save()  # 0600, as `config init` writes it: it holds the password's hash
    core_home.register.enroll(corp_no, user_no, key.public)
    return True


def _hints(erp_tcp, erp_http, home: Path, accounts: tuple[str, ...]) -> str:
    """What to try next, as commands that run when pasted into a new shell."""
    directlink_cmd = _directlink_command()
    send = f"{directlink_cmd} send --home {shlex.quote(str(home))} --port {erp_tcp[1]}"
    lines = ["", f"directlink is up (home {home}).", "Try:", f"  {send} balance"]
    if len(accounts) > 1:
        lines.append(f"  {send} transfer --from {accounts[0]} --to {accounts[1]} "
                     "--amount 12.50")
    example = Path(directlink.__file__).resolve().parent.parent / "docs/examples/310101.xml"
    if example.exists():
        lines.append(f"  curl -s --data-binary @{_shell_path(example)} "
                     f"http://{erp_http[0]}:{erp_http[1]}/")
    lines += [
        f"ERP systems: raw TCP with the 7-byte header on {erp_tcp[0]}:{erp_tcp[1]}, "
        f"HTTP POST on {erp_http[0]}:{erp_http[1]}.",
        f"Check the ledger: {directlink_cmd} core check --home {shlex.quote(str(home))}.  "
        "Stop with Ctrl-C.",
        "",
    ]
    return "\n".join(lines)


def _directlink_command() -> str:
    """How this shell's user runs the ``directlink`` that is running now.

    A bare ``directlink`` only if it is on PATH and is this one (an activated
    venv); else the script's path (``.venv/bin/directlink`` from the checkout,
    as ``./scripts/up`` runs it), else ``python -m directlink``.
    """
    scripts = [Path(sys.argv[0])] if Path(sys.argv[0]).name == "directlink" else []
    scripts.append(Path(sys.executable).parent / "directlink")
    for script in scripts:
        if script.is_file():
            on_path = shutil.which("directlink")
            if on_path and Path(on_path).resolve() == script.resolve():
                return "directlink"
            return _shell_path(script)
    return f"{_shell_path(Path(sys.executable))} -m directlink"


def _shell_path(path: Path) -> str:
    """``path`` relative to the working directory when inside it, quoted for a shell."""
    path = path.absolute()
    try:
        text = str(path.relative_to(Path.cwd()))
    except ValueError:
        text = str(path)
    return shlex.quote(text)


def _port(name: str, help: str):
    return click.option(name, type=click.IntRange(0, 65535), default=None,
                        help=help + " (0 = any free port)")


@click.command()
@home_option
@click.option("--seed", "seed_path", type=click.Path(dir_okay=False, exists=True,
              path_type=Path), help="YAML seed for a new home [default: a demo seed].")
@_port("--erp-port", "Raw TCP ERP port [default: 30010]")
@_port("--http-port", "HTTP ERP port [default: 8899]")
@_port("--core-port", "Bank core port [default: 9003]")
@click.option("--clearing-interval", type=click.FloatRange(0), default=3.0,
              show_default=True, help="Seconds between clearing runs.")
@click.option("-v", "--verbose", is_flag=True, help="Log INFO to stderr too.")
def up(home: Path, seed_path: Path | None, erp_port: int | None, http_port: int | None,
       core_port: int | None, clearing_interval: float, verbose: bool) -> None:
    """Set up (first time) and run the bank core and the client daemon together.

    The core runs in a child process (`directlink core serve`), as it would on
    the bank's side, so the two halves do not share one interpreter; the
    daemon runs in this one. Ctrl-C or SIGTERM stops the daemon first, then
    the core, each finishing what is in flight.
    """
    home = home.absolute()
    core_home = CoreHome(home)
    client = ClientHome(home)
    if client.config.exists() and not core_home.exists():
        # A client's home (`config init`): its key is enrolled with some other bank.
        # A bank made here would not know it; refuse before writing anything.
        raise click.ClickException(
            f"{home}: a client's home ({client.config}) with no bank; `directlink up` "
            "needs a home of its own (give a new --home), and this client runs with "
            f"`directlink daemon serve --home {home}`")
    bank, _ = open_bank(core_home, seed_path)  # creates and seeds the ledger on first use
    bank.close()
    corp_no, user_no, accounts = _first_operator(core_home)
    created = ensure_client(home, core_home, corp_no, user_no)
    try:
        config = load_config(client.config)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    setup_logging({"directlink": client.log_dir / "directlink.log"}, verbose=verbose)
    core_command = [
        sys.executable, "-m", "directlink", "core", "serve", "--home", str(home),
        "--host", "127.0.0.1",
        "--port", str(config.communication.port if core_port is None else core_port),
        "--clearing-interval", str(clearing_interval), "--exit-with-parent",
        "--port-option", "--core-port", *(["--verbose"] if verbose else []),
    ]

    core_exits: list[int] = []  # set when the core dies on its own
    # Ports and keys are checked before the core starts: a problem is one line.
    listens = erp_listens(config, erp_port, http_port)
    keys = load_keys(config, client, None)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            core = await nursery.start(_run_core, core_command, core_home)
            daemon = build_daemon(config, keys, core_host=core.address[0],
                                  core_port=core.address[1], erp_port=erp_port,
                                  http_port=http_port)
            addresses = await nursery.start(daemon.serve)
            with trio.move_on_after(10):
                while not daemon.link.connected:
                    await trio.sleep(0.01)
            if created:
                click.echo(f"created {home}: demo bank, client config and keys", err=True)
            click.echo(_hints(addresses.erp_tcp, addresses.erp_http, home, accounts), err=True)
            ready("READY erp_tcp={}:{} erp_http={}:{} core={}:{}".format(
                *addresses.erp_tcp, *addresses.erp_http, *core.address))

            async def stop() -> None:
                await daemon.drain()
                await core.stop()

            nursery.start_soon(run_until_signalled, nursery, stop)
            nursery.start_soon(core.watch, nursery, core_exits)

    run_trio(main, "cannot start the daemon", listens)
    if core_exits:
        raise click.ClickException(f"the bank core stopped unexpectedly (exit {core_exits[0]}); "
                                   f"see {core_home.dir / 'core.log'}")


class _Core:
    """The core child process: its address, a graceful stop, and a watch on it."""

    def __init__(self, process: trio.Process, address: tuple[str, int]) -> None:
        self.process = process
        self.address = address
        self.stopping = False

    async def stop(self, timeout: float = 15.0) -> None:
        self.stopping = True
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            with trio.move_on_after(timeout):
                await self.process.wait()
            if self.process.returncode is None:
                self.process.kill()
                await self.process.wait()

    async def watch(self, nursery: trio.Nursery, exits: list[int]) -> None:
        """If the core dies on its own, stop everything: a daemon without a bank is no use."""
        code = await self.process.wait()
        if not self.stopping:
            logging.getLogger("directlink").error("bank core exited with %s", code)
            exits.append(code)
            nursery.cancel_scope.cancel()


async def _run_core(command: list[str], core_home: CoreHome, *,
                    task_status=trio.TASK_STATUS_IGNORED) -> None:
    # A session of its own: Ctrl-C reaches `up`, which then stops the core in order.
    process = await trio.lowlevel.open_process(command, stdout=subprocess.PIPE,
                                               stderr=subprocess.PIPE, start_new_session=True)
    relay = _Relay(process.stderr)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(relay.run)
            line = b""
            with trio.move_on_after(60):
                while not line.endswith(b"\n"):
                    chunk = await process.stdout.receive_some(1)
                    if not chunk:
                        break
                    line += chunk
            match = re.fullmatch(rb"READY core=(\S+):(\d+)\s*", line)
            if match is None:
                with trio.move_on_after(10):
                    await process.wait()  # it is failing on its own: let it say why
                if process.returncode is None:
                    process.kill()
                    await process.wait()
                with trio.move_on_after(2):
                    await relay.eof.wait()
                raise click.ClickException(_core_failure(relay, process.returncode, core_home))
            relay.release()
            task_status.started(_Core(process, (match[1].decode(), int(match[2]))))
            await process.wait()
            with trio.move_on_after(2):  # what it wrote last (its ledger child may linger)
                await relay.eof.wait()
            nursery.cancel_scope.cancel()
    finally:
        if process.returncode is None:
            process.kill()
            with trio.CancelScope(shield=True):
                await process.wait()


def _core_failure(relay: _Relay, code: int | None, core_home: CoreHome) -> str:
    """One line for a core child that did not start: its own error, or where to look."""
    errors = [line[len("Error: "):] for line in relay.held.decode(errors="replace").splitlines()
              if line.startswith("Error: ")]
    if errors:
        return errors[-1]
    relay.release()  # not one of our errors (a crash?): show everything it said
    return f"the bank core did not start (exit {code}); see {core_home.log}"


class _Relay:
    """The core child's stderr: held until it is ready (its error becomes ours), then passed on."""

    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self.stream = stream
        self.held = bytearray()
        self.holding = True
        self.eof = trio.Event()

    async def run(self) -> None:
        try:
            while chunk := await self.stream.receive_some(65536):
                if self.holding:
                    self.held += chunk
                else:
                    _write_stderr(chunk)
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            pass
        finally:
            self.eof.set()

    def release(self) -> None:
        self.holding = False
        if self.held:
            _write_stderr(bytes(self.held))


def _write_stderr(data: bytes) -> None:
    with contextlib.suppress(OSError, ValueError):  # nobody reads our stderr any more
        sys.stderr.flush()
        binary = getattr(sys.stderr, "buffer", None)
        if binary is None:
            sys.stderr.write(data.decode(errors="replace"))
        else:
            binary.write(data)
            binary.flush()


def _first_operator(core_home: CoreHome) -> tuple[str, str, tuple[str, ...]]:
    """The seed's first enterprise, its first operator and its accounts."""
    try:
        seed = load_seed(core_home.seed)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    enterprise = seed.enterprises[0]
    return (enterprise.corp_no, enterprise.users[0],
            tuple(account.acno for account in enterprise.accounts))
