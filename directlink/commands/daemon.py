"""``directlink daemon serve``: run the client daemon on its own."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click
import trio

from config.ini import ClientConfig
from daemon.home import (
    ClientHome,
    SetupError,
    load_bank_keys,
    load_signing_key,
    make_exchange_folder,
    read_password,
)
from daemon.server import Daemon
from directlink.commands.common import (
    config_option,
    home_option,
    load_client_config,
    prompt_secret,
)
from directlink.commands.config import password_file_option
from directlink.runtime import Listen, ready, run_trio, run_until_signalled, setup_logging
from protocol.keys import BankPublicKeys, SigningKey


@dataclass(frozen=True)
class DaemonKeys:
    """The client's signing key and the pinned bank keys (both None with certflag=0)."""

    signing_key: SigningKey | None = None
    bank_keys: BankPublicKeys | None = None


def load_keys(config: ClientConfig, home: ClientHome, password_file: Path | None) -> DaemonKeys:
    """Open the private key with the security password (asked for only on a terminal)."""
    if not config.cert.secure:
        return DaemonKeys()
    password = read_password(home, password_file)
    if password is None:
        password = prompt_secret(
            "Security password",
            needed="the daemon needs the security password to open its private key")
    try:
        return DaemonKeys(load_signing_key(config, password), load_bank_keys(config))
    except SetupError as exc:
        raise click.ClickException(str(exc)) from None


def exchange_folder(config: ClientConfig) -> None:
    """Create the exchange folder (``[files] dir``, 0700) before the daemon starts."""
    try:
        make_exchange_folder(config)
    except SetupError as exc:
        raise click.ClickException(str(exc)) from None


def erp_listens(config: ClientConfig, erp_port: int | None,
                http_port: int | None) -> list[Listen]:
    """The daemon's two listeners (the options over the config), checked to differ.

    The list is what :func:`run_trio` needs to name the one that cannot listen.
    """
    erp = config.forward.erp_port if erp_port is None else erp_port
    http = config.forward.http_port if http_port is None else http_port
    if erp and erp == http:
        raise click.ClickException(
            f"--erp-port and --http-port: both {erp} (from the options or {config.source}); "
            "the two listeners need different ports")
    listen = config.bind.listen
    return [Listen(listen, erp, "the raw TCP ERP port", "--erp-port"),
            Listen(listen, http, "the HTTP ERP port", "--http-port")]


def build_daemon(config: ClientConfig, keys: DaemonKeys, *, core_host: str | None = None,
                 core_port: int | None = None, erp_port: int | None = None,
                 http_port: int | None = None) -> Daemon:
    return Daemon(config, signing_key=keys.signing_key, bank_keys=keys.bank_keys,
                  core_host=core_host, core_port=core_port, erp_port=erp_port,
                  http_port=http_port)


def port_option(name: str, help: str):
    return click.option(name, type=click.IntRange(0, 65535), default=None,
                        help=help + " (0 = any free port) [default: from the config]")


def _connect_port(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
    # 0 means "any free port" to a listener; there is no port 0 to connect to, and the
    # link would retry it for ever.
    if value == 0:
        raise click.BadParameter(
            "0 is not a port to connect to; give the port the bank core listens on "
            "(`directlink core serve` prints it: READY core=HOST:PORT)")
    return value


@click.group("daemon")
def daemon_group() -> None:
    """The client daemon: ERP listeners forwarding to the bank."""


@daemon_group.command()
@home_option
@config_option
@click.option("--core-host", default=None, help="Bank host [default: from the config].")
@click.option("--core-port", type=click.IntRange(0, 65535), default=None,
              callback=_connect_port, help="Bank port [default: from the config].")
@port_option("--erp-port", "Raw TCP ERP port")
@port_option("--http-port", "HTTP ERP port")
@password_file_option
@click.option("-v", "--verbose", is_flag=True, help="Log INFO to stderr too.")
def serve(home: Path, config_path: Path | None, core_host: str | None, core_port: int | None,
          erp_port: int | None, http_port: int | None, password_file: Path | None,
          verbose: bool) -> None:
    """Run the daemon until SIGINT/SIGTERM; prints READY erp_tcp=… erp_http=…"""
    config = load_client_config(home, config_path)
    client_home = ClientHome(home)
    listens = erp_listens(config, erp_port, http_port)
    keys = load_keys(config, client_home, password_file)
    exchange_folder(config)
    daemon = build_daemon(config, keys, core_host=core_host, core_port=core_port,
                          erp_port=erp_port, http_port=http_port)
    log_file = config.forward.log_file or client_home.log_dir / "directlink.log"
    setup_logging({"directlink": log_file}, verbose=verbose)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            addresses = await nursery.start(daemon.serve)
            ready("READY erp_tcp={}:{} erp_http={}:{}".format(*addresses.erp_tcp,
                                                              *addresses.erp_http))
            nursery.start_soon(run_until_signalled, nursery, daemon.drain)

    run_trio(main, "cannot start the daemon", listens)
