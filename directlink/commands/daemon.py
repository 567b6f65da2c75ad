"""``directlink daemon serve``: run the client daemon on its own."""

from __future__ import annotations

from pathlib import Path

import click
import trio

from config.ini import ClientConfig
from daemon.home import ClientHome, SetupError, load_bank_keys, load_signing_key, read_password
from daemon.server import Daemon
from directlink.commands.common import config_option, home_option, load_client_config
from directlink.runtime import ready, run_trio, run_until_signalled, setup_logging


def build_daemon(config: ClientConfig, home: ClientHome, password_file: Path | None, *,
                 core_host: str | None = None, core_port: int | None = None,
                 erp_port: int | None = None, http_port: int | None = None) -> Daemon:
    signing_key = bank_keys = None
    if config.cert.secure:
        password = read_password(home, password_file)
        if password is None:
            password = click.prompt("security password", hide_input=True)
        try:
            signing_key = load_signing_key(config, password)
            bank_keys = load_bank_keys(config)
        except SetupError as exc:
            raise click.ClickException(str(exc)) from None
    return Daemon(config, signing_key=signing_key, bank_keys=bank_keys, core_host=core_host,
                  core_port=core_port, erp_port=erp_port, http_port=http_port)


def port_option(name: str, help: str):
    return click.option(name, type=click.IntRange(0, 65535), default=None,
                        help=help + " (0 = any free port) [default: from the config]")


@click.group("daemon")
def daemon_group() -> None:
    """The client daemon: ERP listeners forwarding to the bank."""


@daemon_group.command()
@home_option
@config_option
@click.option("--core-host", default=None, help="Bank host [default: from the config].")
@port_option("--core-port", "Bank port")
@port_option("--erp-port", "Raw TCP ERP port")
@port_option("--http-port", "HTTP ERP port")
@click.option("--password-file", type=click.Path(dir_okay=False, exists=True,
              path_type=Path), help="File holding the security password.")
@click.option("-v", "--verbose", is_flag=True, help="Log INFO to stderr too.")
def serve(home: Path, config_path: Path | None, core_host: str | None, core_port: int | None,
          erp_port: int | None, http_port: int | None, password_file: Path | None,
          verbose: bool) -> None:
    """Run the daemon until SIGINT/SIGTERM; prints READY erp_tcp=… erp_http=…"""
    config = load_client_config(home, config_path)
    client_home = ClientHome(home)
    daemon = build_daemon(config, client_home, password_file, core_host=core_host,
                          core_port=core_port, erp_port=erp_port, http_port=http_port)
    log_file = config.forward.log_file or client_home.log_dir / "directlink.log"
    setup_logging({"directlink": log_file}, verbose=verbose)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            addresses = await nursery.start(daemon.serve)
            ready("READY erp_tcp={}:{} erp_http={}:{}".format(*addresses.erp_tcp,
                                                              *addresses.erp_http))
            nursery.start_soon(run_until_signalled, nursery, daemon.drain)

    run_trio(main, "cannot start the daemon")
