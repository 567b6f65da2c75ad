"""The ``directlink`` command: one click group, one module per subcommand group."""

from __future__ import annotations

import click

from directlink import __version__
from directlink.commands.approvals import approvals
from directlink.commands.config import config
from directlink.commands.core import core
from directlink.commands.core_batches import batches
from directlink.commands.core_clock import clock
from directlink.commands.core_rules import rules
from directlink.commands.daemon import daemon_group
from directlink.commands.enroll import enroll
from directlink.commands.keys import keys
from directlink.commands.receipt import receipt
from directlink.commands.send import send
from directlink.commands.send_batch import batch_collect, batch_pay, batch_status
from directlink.commands.send_queries import balance, details, history, status
from directlink.commands.send_transfers import interbank, transfer
from directlink.commands.up import up


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="directlink")
def cli() -> None:
    """directlink: bank-enterprise direct connect.

    A client daemon that ERP systems post XML requests to on localhost, and a
    simulated bank core with a double-entry ledger to test them against.
    Start with `directlink up`.
    """


for _command in (up, core, daemon_group, config, keys, enroll, send, approvals, receipt):
    cli.add_command(_command)
# `send`'s subcommands, one module per family (`raw` is the group's own).
for _command in (balance, details, history, status,  # send_queries
                 transfer, interbank,  # send_transfers
                 batch_pay, batch_collect, batch_status):  # send_batch
    send.add_command(_command)
core.add_command(batches)
core.add_command(clock)
core.add_command(rules)


def main() -> None:
    cli()
