"""``directlink core clock [show | set | advance | release]``: the bank's business clock.

The setting lives in the bank's database (:mod:`core_sim.clock`), so these
commands work the same whether the core is running or not: a running core
reads the clock at its next transaction. Moving the clock past midnight runs
end of day for each day crossed.
"""

from __future__ import annotations

from pathlib import Path

import click

from core_sim.bank import Bank, ClockError, ClockReading
from core_sim.clock import parse_duration, parse_moment
from directlink.commands.common import nested_home_option, plural
from directlink.commands.core import open_bank, require_bank


def _with_bank(home: Path, change) -> None:
    bank, _ = open_bank(require_bank(home), None)
    try:
        reading = change(bank)
    except ClockError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        bank.close()
    _show(reading)


def _show(reading: ClockReading) -> None:
    mode = reading.setting.mode
    how = {"system": "follows this machine's clock (China time)",
           "frozen": "frozen", "running": "set, running"}[mode]
    click.echo(f"business time {reading.now.replace(microsecond=0).isoformat(sep=' ')} ({how})")
    click.echo(f"business date {reading.business_date.isoformat()}")
    if reading.days_closed:
        click.echo(f"closed {plural(reading.days_closed, 'business day')}")


@click.group("clock", invoke_without_command=True)
@nested_home_option
@click.pass_context
def clock(ctx: click.Context, home: Path) -> None:
    """The bank's business clock: show it, set it, move it forward."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(show, home=home)


@clock.command()
@nested_home_option
def show(home: Path) -> None:
    """The business time, date and how the clock runs."""
    _with_bank(home, Bank.clock_reading)


@clock.command("set")
@click.argument("moment", metavar="DATETIME")
@click.option("--running", is_flag=True,
              help="Let time run on from DATETIME (default: frozen there).")
@nested_home_option
def set_clock(moment: str, running: bool, home: Path) -> None:
    """Set the clock to DATETIME (2026-12-01 09:00, or a date for its start), China time.

    The clock stays frozen there unless --running. It never goes back before
    the business date; days crossed are closed (end of day for each).
    """
    try:
        when = parse_moment(moment)
    except ClockError as exc:
        raise click.BadParameter(str(exc), param_hint="DATETIME") from None
    _with_bank(home, lambda bank: bank.set_clock(when, running=running))


@clock.command()
@click.argument("span", metavar="DURATION")
@nested_home_option
def advance(span: str, home: Path) -> None:
    """Move the clock forward by DURATION (1d, 2h30m, 90s).

    The days crossed close (end of day for each), then one clearing run. A
    clock that follows the machine is frozen at its time plus DURATION.
    """
    try:
        delta = parse_duration(span)
    except ClockError as exc:
        raise click.BadParameter(str(exc), param_hint="DURATION") from None
    _with_bank(home, lambda bank: bank.advance_clock(delta))


@clock.command()
@nested_home_option
def release(home: Path) -> None:
    """Let the clock follow this machine again (the business date stays)."""
    _with_bank(home, Bank.release_clock)
