"""``directlink core clock [show | set | advance | release]``: the bank's business clock.

The setting lives in the bank's database (:mod:`core_sim.clock`), so these
commands work the same whether the core is running or not: a running core
reads the clock at its next transaction. Moving the clock past midnight runs
end of day for each day crossed.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from core_sim.bank import Bank, ClockError, ClockReading
from core_sim.clock import parse_duration, parse_moment
from directlink.commands.common import DEFAULT_HOME, HOME_ENV, plural
from directlink.commands.core import open_bank, require_bank


def _home(ctx: click.Context, home: Path | None) -> Path:
    """``--home`` given to the subcommand, else to ``core clock``, else the default."""
    return home or ctx.obj or Path(os.environ.get(HOME_ENV, DEFAULT_HOME))


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
        click.echo(f"end of day run {plural(reading.days_closed, 'time')}")


_home_option = click.option(
    "--home", type=click.Path(file_okay=False, path_type=Path), default=None,
    help=f"The directlink home directory (default: ${HOME_ENV} or ./{DEFAULT_HOME}).")


@click.group("clock", invoke_without_command=True)
@_home_option
@click.pass_context
def clock(ctx: click.Context, home: Path | None) -> None:
    """The bank's business clock: show it, set it, move it forward."""
    ctx.obj = home
    if ctx.invoked_subcommand is None:
        ctx.invoke(show)


@clock.command()
@_home_option
@click.pass_context
def show(ctx: click.Context, home: Path | None = None) -> None:
    """The business time, date and how the clock runs."""
    _with_bank(_home(ctx, home), Bank.clock_reading)


@clock.command("set")
@click.argument("moment", metavar="DATETIME")
@click.option("--running", is_flag=True,
              help="Let time run on from DATETIME (default: frozen there).")
@_home_option
@click.pass_context
def set_clock(ctx: click.Context, moment: str, running: bool, home: Path | None) -> None:
    """Set the clock to DATETIME (2026-12-01 09:00, or a date for its start), China time.

    The clock stays frozen there unless --running. It never goes back before
    the business date; days crossed are closed (end of day for each).
    """
    try:
        when = parse_moment(moment)
    except ClockError as exc:
        raise click.BadParameter(str(exc), param_hint="DATETIME") from None
    _with_bank(_home(ctx, home), lambda bank: bank.set_clock(when, running=running))


@clock.command()
@click.argument("span", metavar="DURATION")
@_home_option
@click.pass_context
def advance(ctx: click.Context, span: str, home: Path | None) -> None:
    """Move the clock forward by DURATION (1d, 2h30m, 90s): one clearing cycle, then ends of day.

    A clock that follows the machine is frozen at its time plus DURATION.
    """
    try:
        delta = parse_duration(span)
    except ClockError as exc:
        raise click.BadParameter(str(exc), param_hint="DURATION") from None
    _with_bank(_home(ctx, home), lambda bank: bank.advance_clock(delta))


@clock.command()
@_home_option
@click.pass_context
def release(ctx: click.Context, home: Path | None) -> None:
    """Let the clock follow this machine again (the business date stays)."""
    _with_bank(_home(ctx, home), Bank.release_clock)
