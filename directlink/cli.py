"""The ``directlink`` command: one click group, one module per subcommand group."""

from __future__ import annotations

import click

from directlink import __version__
from directlink.commands.core import core
from directlink.commands.daemon import daemon_group
from directlink.commands.up import up


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="directlink")
def cli() -> None:
    """directlink: bank-enterprise direct connect.

    A client daemon that ERP systems post XML requests to on localhost, and a
    simulated bank core with a double-entry ledger to test them against.
    Start with `directlink up`.
    """


cli.add_command(up)
cli.add_command(core)
cli.add_command(daemon_group)

for _module, _name in (("directlink.commands.config", "config"),
                       ("directlink.commands.keys", "keys"),
                       ("directlink.commands.enroll", "enroll"),
                       ("directlink.commands.send", "send")):
    try:
        _mod = __import__(_module, fromlist=[_name])
    except ImportError:  # pragma: no cover - while a command group is being written
        continue
    cli.add_command(getattr(_mod, _name))


def main() -> None:
    cli()
