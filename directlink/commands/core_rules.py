"""``directlink core rules [list | load FILE | clear]``: the bank's scenario rules.

Rules make the simulated bank misbehave on purpose (delays, refusals,
unknown outcomes, dropped connections, holds and returns, failed batch
items); the document format is in :mod:`config.scenario` and
docs/testing-with-directlink.md. They are kept in the bank's database, so a
running core applies new rules from its next request on.
"""

from __future__ import annotations

from pathlib import Path

import click

from config.errors import ConfigError
from config.scenario import Scenario, parse_scenario
from directlink.commands.common import nested_home_option, plural
from directlink.commands.core import open_bank, require_bank
from protocol.money import format_yuan


@click.group("rules", invoke_without_command=True)
@nested_home_option
@click.pass_context
def rules(ctx: click.Context, home: Path) -> None:
    """Scenario rules: make the bank delay, refuse, drop or return on purpose."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_rules, home=home)


@rules.command("list")
@nested_home_option
def list_rules(home: Path) -> None:
    """The rules in force, in order, with how often each matched and fired."""
    bank, _ = open_bank(require_bank(home), None)
    try:
        scenario, counts = bank.rules()
    finally:
        bank.close()
    if not scenario.rules:
        click.echo("no rules: the bank behaves as usual")
        return
    click.echo(f"{plural(len(scenario.rules), 'rule')}, seed {scenario.seed}"
               " (the first whose conditions hold fires):")
    for number, rule in enumerate(scenario.rules, 1):
        matched, fired = counts.get(rule.name, (0, 0))
        click.echo(f"{number}. {rule.name}: {_describe(rule)}"
                   f" — matched {matched}, fired {fired}")


@rules.command()
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@nested_home_option
def load(file: Path, home: Path) -> None:
    """Replace the rules with those in FILE (YAML); counts start again."""
    try:
        scenario = parse_scenario(file.read_text(encoding="utf-8"), str(file))
    except (ConfigError, UnicodeDecodeError) as exc:
        raise click.ClickException(str(exc)) from None
    _store(home, scenario)
    click.echo(f"loaded {plural(len(scenario.rules), 'rule')} from {file}")


@rules.command()
@nested_home_option
def clear(home: Path) -> None:
    """Remove every rule: the bank behaves as usual again."""
    _store(home, Scenario())
    click.echo("rules cleared")


def _store(home: Path, scenario: Scenario) -> None:
    bank, _ = open_bank(require_bank(home), None)
    try:
        bank.load_rules(scenario)
    finally:
        bank.close()


def _describe(rule) -> str:
    when, then = rule.when, rule.then
    parts = []
    if when.tr_codes:
        parts.append("tr_code " + "/".join(when.tr_codes))
    for name in ("corp_no", "pay_acno", "rcv_acno", "req_no"):
        if getattr(when, name):
            parts.append(f"{name} {getattr(when, name)}")
    if when.min_amt is not None or when.max_amt is not None:
        low = format_yuan(when.min_amt) if when.min_amt is not None else ""
        high = format_yuan(when.max_amt) if when.max_amt is not None else ""
        parts.append(f"amount {low}..{high}")
    if when.between:
        parts.append(f"between {when.between[0]} and {when.between[1]}")
    if when.nth:
        parts.append(f"match no. {when.nth} of the day")
    action = then.action
    detail = {"delay": f" {then.ms} ms", "refuse": f" {then.code}",
              "fail_item": f" {then.code}"}.get(action, "")
    if then.after_seconds:
        detail += f" after {then.after_seconds} s"
    extra = []
    if rule.probability is not None:
        extra.append(f"probability {rule.probability:g}")
    if rule.times is not None:
        extra.append(f"at most {plural(rule.times, 'time')}")
    condition = ", ".join(parts) or "every request"
    return f"{condition} → {action}{detail}" + (f" ({', '.join(extra)})" if extra else "")
