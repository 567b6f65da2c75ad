"""``directlink core agreements list|add|revoke``: the bank counter for collection agreements.

These work on the ledger file directly, whether or not the core is running:
``list`` reads it read-only (WAL lets it beside a running core), ``add`` and
``revoke`` write it in one short transaction, and a running core sees the
change at its next batch, since it reads agreements from the database when
it executes them (see :mod:`core_sim.agreements`).

The group registers itself under ``directlink core``; directlink/commands/core.py
imports this module (its last line) so that it does.
"""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import click

from core_sim import agreements as counter
from core_sim import schema
from core_sim.agreements import DEFAULT_LIMIT, STATES, AgreementError, AgreementRow
from core_sim.bank import china_time
from directlink.commands.common import home_option, plural
from directlink.commands.core import core, require_bank
from directlink.commands.send import render_table
from protocol.money import AmountError, format_yuan, parse_yuan

HEADERS = ["agreement_no", "corp_no", "rcv_acno", "payer_acno", "payer_name", "payer_bank",
           "max_amt", "valid_to", "status"]


@core.group("agreements")
def agreements() -> None:
    """Collection agreements (代扣协议): list, sign and revoke them at the bank counter."""


def _ledger(home: Path) -> Path:
    return require_bank(home).ledger


def rows_table(rows: tuple[AgreementRow, ...], today: date) -> list[str]:
    cells = [[a.agreement_no, a.corp_no, a.rcv_acno, a.payer_acno, a.payer_name,
              a.payer_bank_no, "" if a.max_amt is None else format_yuan(a.max_amt),
              a.valid_to.isoformat() if a.valid_to else "", a.state(today)] for a in rows]
    return render_table(HEADERS, cells, right=frozenset({6}))


@agreements.command("list")
@home_option
@click.option("--corp-no", help="Only this enterprise's agreements.")
@click.option("--rcv-acno", help="Only those collecting into this account.")
@click.option("--payer-acno", help="Only this payer's agreements.")
@click.option("--status", type=click.Choice(STATES),
              help="Only active, expired (active, past valid_to) or revoked ones.")
@click.option("--limit", type=click.IntRange(1), default=DEFAULT_LIMIT, show_default=True,
              help="At most this many rows.")
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True,
              help="Skip this many matching rows first (the next page).")
def list_agreements(home: Path, corp_no: str | None, rcv_acno: str | None,
                    payer_acno: str | None, status: str | None, limit: int,
                    offset: int) -> None:
    """List agreements, oldest first, a page at a time, with the total that match."""
    ledger = _ledger(home)
    try:
        conn = schema.connect_read_only(ledger)
    except (OSError, sqlite3.Error) as exc:
        raise click.ClickException(f"{ledger}: {exc}") from None
    try:
        conn.execute("BEGIN")  # the count and the page from one snapshot
        page = counter.list_agreements(conn, corp_no=corp_no, rcv_acno=rcv_acno,
                                       payer_acno=payer_acno, state=status, limit=limit,
                                       offset=offset)
    except AgreementError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        conn.close()
    if not page.rows:
        click.echo(f"no agreements (of {page.total} matching, from {offset})" if page.total
                   else "no agreements match")
        return
    for line in rows_table(page.rows, page.business_date):
        click.echo(line)
    last = offset + len(page.rows)
    footer = f"{offset + 1}-{last} of {plural(page.total, 'agreement')}"
    if last < page.total:
        footer += f"; next page: --offset {last}"
    click.echo(footer)


def _amount(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return parse_yuan(value)
    except AmountError as exc:
        raise click.BadParameter(str(exc)) from None


@agreements.command("add")
@home_option
@click.option("--agreement-no", help="The agreement's number [default: the next free AG…].")
@click.option("--corp-no", required=True, help="The collecting enterprise.")
@click.option("--rcv-acno", required=True, help="The enterprise's account collected into.")
@click.option("--payer-acno", required=True,
              help="The payer's account: a personal account here or an external account.")
@click.option("--payer-name", required=True, help="The payer's name, as on the account.")
@click.option("--max-amt", callback=_amount, help="At most this much per collection, yuan.")
@click.option("--valid-to", type=click.DateTime(["%Y-%m-%d"]),
              help="The last day it is valid (YYYY-MM-DD) [default: open-ended].")
def add(home: Path, agreement_no: str | None, corp_no: str, rcv_acno: str, payer_acno: str,
        payer_name: str, max_amt: int | None, valid_to) -> None:
    """Sign a collection agreement between a payer and an enterprise."""
    ledger = _ledger(home)
    try:
        with counter.counter(ledger) as books:
            row = counter.add_agreement(
                books, agreement_no=agreement_no, corp_no=corp_no, rcv_acno=rcv_acno,
                payer_acno=payer_acno, payer_name=payer_name, max_amt=max_amt,
                valid_to=valid_to.date() if valid_to else None, now=china_time())
            today = books.business_date
    except (AgreementError, sqlite3.Error) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"added agreement {row.agreement_no}")
    for line in rows_table((row,), today):
        click.echo(line)


@agreements.command("revoke")
@home_option
@click.argument("agreement_no")
def revoke(home: Path, agreement_no: str) -> None:
    """Revoke an agreement: the enterprise can no longer collect with it."""
    ledger = _ledger(home)
    try:
        with counter.counter(ledger) as books:
            row = counter.revoke_agreement(books, agreement_no, now=china_time())
    except (AgreementError, sqlite3.Error) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"revoked agreement {row.agreement_no} ({row.payer_name}, {row.payer_acno}"
               f" -> {row.corp_no} {row.rcv_acno})")
