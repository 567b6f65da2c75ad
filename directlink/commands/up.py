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
from config.ini import load_config
from config.seed import load_seed
from core_sim.home import CoreHome
from daemon.home import ClientHome, write_secret
from directlink.commands.common import home_option
from directlink.commands.core import bank_keys, open_bank
from directlink.commands.daemon import build_daemon, erp_listens, exchange_folder, load_keys
from directlink.provisioning import provision_client
from directlink.runtime import ready, run_trio, run_until_signalled, setup_logging


def ensure_client(home: Path, core_home: CoreHome, corp_no: str, user_no: str) -> bool:
    """Create the client's config and keys and enroll them, unless they exist."""
    client = ClientHome(home)
    if client.config.exists():
        return False
    bank_pair = bank_keys(core_home)
    password = secrets.token_urlsafe(18)
    write_secret(client.password_file, password.encode() + b"\n")
    provision_client(client, core_home, bank_pair, corp_no=corp_no, user_no=user_no,
                     password=password)
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

    core_failed: list[str] = []  # why the core could not be kept running, if it could not
    # Ports and keys are checked before the core starts: a problem is one line.
    listens = erp_listens(config, erp_port, http_port)
    keys = load_keys(config, client, None)
    exchange_folder(config)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            core = _Core(core_command, core_home)
            await nursery.start(core.supervise, nursery.cancel_scope, core_failed)
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

    run_trio(main, "cannot start the daemon", listens)
    if core_failed:
        raise click.ClickException(core_failed[0])


#: Consecutive starts that fail (the core exits before it is ready) before ``up`` gives up.
START_ATTEMPTS = 5
#: Seconds to wait before a restart, by how many times in a row the core has just
#: failed to start or died soon after starting; the first restart is immediate.
RESTART_DELAYS = (0.0, 0.5, 1.0, 2.0, 4.0)
#: A core that dies sooner than this after it was ready counts as dying soon.
SOON = 10.0


class _CoreFailed(Exception):
    """The core child did not become ready; the message is one line saying why."""


class _Core:
    """The core child process, kept running: started, restarted when it dies, stopped.

    A core that dies on its own (kill -9, a crash) is started again on the
    same address, so that the daemon reconnects and a harness that kills the
    bank gets it back: what the core acknowledged is in its ledger, and the
    batches it was executing resume. Each restart is said on stderr and in the
    log. A core that keeps dying as soon as it starts is restarted with
    growing pauses; one that cannot start :data:`START_ATTEMPTS` times in a
    row ends ``up``, saying why.
    """

    def __init__(self, command: list[str], core_home: CoreHome) -> None:
        self.command = command
        self.core_home = core_home
        self.process: trio.Process | None = None
        self.relay: _Relay | None = None
        self.address: tuple[str, int] = ("", 0)
        self.stopping = False
        self._stop_requested = trio.Event()
        self._done = trio.Event()

    async def supervise(self, cancel_scope: trio.CancelScope, failed: list[str], *,
                        task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Start the core, report it started, and keep it running until :meth:`stop`.

        A first start that fails is a :class:`click.ClickException`. If it cannot
        be started again later, the reason goes into ``failed`` and
        ``cancel_scope`` (all of ``up``) is cancelled: a daemon without a bank
        is no use.
        """
        try:
            async with trio.open_nursery() as nursery:
                try:
                    await self._start(nursery)
                except _CoreFailed as exc:
                    raise click.ClickException(str(exc)) from None
                task_status.started()
                soon = 0  # deaths in a row soon after starting
                while True:
                    ready_at = trio.current_time()
                    code = await self._wait()
                    if self.stopping:
                        break
                    soon = soon + 1 if trio.current_time() - ready_at < SOON else 0
                    host, port = self.address
                    _announce(f"the bank core exited ({_exit_status(code)}); "
                              f"restarting it on {host}:{port}", error=True)
                    try:
                        await self._restart(nursery, soon)
                    except _CoreFailed as exc:
                        failed.append(f"the bank core stopped ({_exit_status(code)}) and could "
                                      f"not be started again: {exc}")
                        cancel_scope.cancel()
                        break
                    if self.stopping:
                        await self._terminate()
                        break
                    _announce(f"the bank core is back on {host}:{port} "
                              f"(pid {self.process.pid})")
                nursery.cancel_scope.cancel()  # the relay of a core that has exited
        finally:
            with trio.CancelScope(shield=True):
                if self.process is not None and self.process.returncode is None:
                    self.process.kill()
                    await self.process.wait()
            self._done.set()

    async def stop(self, timeout: float = 15.0) -> None:
        """Stop the core gracefully (SIGTERM, then SIGKILL after ``timeout``); no restart."""
        self.stopping = True
        self._stop_requested.set()
        await self._terminate(timeout)
        with trio.move_on_after(timeout):
            await self._done.wait()

    async def _terminate(self, timeout: float = 15.0) -> None:
        process = self.process
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGTERM)
        with trio.move_on_after(timeout):
            await process.wait()
        if process.returncode is None:
            process.kill()
            await process.wait()

    async def _start(self, nursery: trio.Nursery) -> None:
        """Start a core child and wait for its READY line; :class:`_CoreFailed` if none."""
        # A session of its own: Ctrl-C reaches `up`, which then stops the core in order.
        process = await trio.lowlevel.open_process(
            self.command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True)
        self.process = process
        self.relay = relay = _Relay(process.stderr)
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
            raise _CoreFailed(_core_failure(relay, process.returncode, self.core_home))
        relay.release()
        self.address = (match[1].decode(), int(match[2]))
        # A restart listens where the first core did, even if that one was given port 0.
        self.command = _with_port(self.command, self.address[1])

    async def _wait(self) -> int:
        """Wait for the running core to exit; its exit code (negative: the signal)."""
        assert self.process is not None and self.relay is not None
        code = await self.process.wait()
        with trio.move_on_after(2):  # what it wrote last (its ledger child may linger)
            await self.relay.eof.wait()
        return code

    async def _restart(self, nursery: trio.Nursery, soon: int) -> None:
        failures: list[str] = []
        while len(failures) < START_ATTEMPTS:
            delay = RESTART_DELAYS[min(soon + len(failures), len(RESTART_DELAYS) - 1)]
            with trio.move_on_after(delay):
                await self._stop_requested.wait()
            if self.stopping:
                return
            try:
                await self._start(nursery)
                return
            except _CoreFailed as exc:
                failures.append(str(exc))
                _announce(f"the bank core did not start again: {exc}", error=True)
        raise _CoreFailed(f"{START_ATTEMPTS} attempts; the last: {failures[-1]}")


def _with_port(command: list[str], port: int) -> list[str]:
    index = command.index("--port") + 1
    return [*command[:index], str(port), *command[index + 1:]]


def _exit_status(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def _announce(message: str, *, error: bool = False) -> None:
    """Say ``message`` in the log, which shows it on stderr too (WARNING and above)."""
    logger = logging.getLogger("directlink")
    (logger.error if error else logger.warning)("%s", message)


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
