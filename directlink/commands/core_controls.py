"""The bank counter for an enterprise's controls, and the audit log.

``directlink core operators|flows|directed list|add|…``,
``core enroll-operator``, ``core revoke-operator-key`` and ``core log``:
what a bank's e-banking admin does for an enterprise (:mod:`core_sim.counter`
has the rules). Like ``core agreements`` they work on the ledger file
directly, whether or not the core is running: lists read it read-only, each
change is one short write transaction, and a running core applies the
change from its next instruction, since it reads the controls from the
database as it executes.

The commands register themselves under ``directlink core``;
directlink/commands/core.py imports this module (its last lines) so that they do.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import click

from config.seed import OPERATOR_ROLES
from core_sim import agreements, audit, controls, counter, schema
from core_sim.agreements import AgreementError
from core_sim.controls import FlowRow, OperatorRow
from core_sim.counter_errors import CounterError
from core_sim.ledger import Ledger
from directlink.commands.common import confirm, home_option, plural
from directlink.commands.core import core, require_bank
from directlink.commands.send import render_table
from protocol.keys import KeyFileError, VerifyKey, format_fingerprint, normalize_fingerprint
from protocol.money import format_yuan

T = TypeVar("T")

#: What ``core log`` shows unless told otherwise.
DEFAULT_LIMIT = 50
LOG_HEADERS = ["time", "corp_no", "event", "tr_code", "req_no", "operator", "amount", "result",
               "detail"]
_DATE = click.DateTime(["%Y-%m-%d", "%Y%m%d"])


# -- opening the ledger -----------------------------------------------------------------


@contextmanager
def _reading(home: Path) -> Iterator[Ledger]:
    """The ledger, read-only, in one snapshot (WAL lets it beside a running core)."""
    path = require_bank(home).ledger
    try:
        conn = schema.connect_read_only(path)
    except (OSError, sqlite3.Error) as exc:
        raise click.ClickException(f"{path}: {exc}") from None
    try:
        conn.execute("BEGIN")
        yield Ledger(conn)
    except (CounterError, sqlite3.Error) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        conn.close()


def _change(home: Path, work: Callable[[Ledger, datetime], T]) -> T:
    """``work(ledger, now)`` in one short write transaction, at the bank's business time."""
    path = require_bank(home).ledger
    try:
        with agreements.counter(path) as books:
            return work(books, books.clock_setting.now())
    except (CounterError, AgreementError, sqlite3.Error) as exc:
        raise click.ClickException(str(exc)) from None


def _corp_option(required: bool = True, help: str = "The enterprise's corp_no."):
    return click.option("--corp-no", required=required, help=help)


def _stamp(text: str) -> str:
    return text[:19].replace("T", " ")


# -- operators ----------------------------------------------------------------------------


@core.group("operators")
def operators() -> None:
    """An enterprise's e-banking operators: list, add and remove them at the bank counter."""


def _key(row: OperatorRow) -> str:
    if row.key_status == "none":
        return "-" if row.role == "maker" else "none"
    return f"{row.key_status} {row.key_id}"


def operator_table(rows: list[OperatorRow], changed: dict[tuple[str, str], str]) -> list[str]:
    cells = [[row.corp_no, row.code, row.name, row.role, row.status, _key(row),
              _stamp(changed.get((row.corp_no, row.code), ""))] for row in rows]
    return render_table(["corp_no", "code", "name", "role", "status", "key", "changed"], cells)


@operators.command("list")
@home_option
@_corp_option(required=False, help="Only this enterprise's operators.")
def list_operators(home: Path, corp_no: str | None) -> None:
    """List operators with their role, status and key."""
    with _reading(home) as ledger:
        if corp_no is not None:
            counter.require_enterprise(ledger, corp_no)
        rows = controls.operators(ledger.conn, corp_no)
        changed = {(corp, code): at for corp, code, at in ledger.conn.execute(
            "SELECT corp_no, code, changed_at FROM ebank_operators")}
    if not rows:
        click.echo("no operators")
        return
    for line in operator_table(rows, changed):
        click.echo(line)


@operators.command("add")
@home_option
@_corp_option()
@click.option("--code", required=True, help="The operator's code: 1-20 letters or digits.")
@click.option("--name", required=True, help="The operator's name.")
@click.option("--role", required=True, type=click.Choice(OPERATOR_ROLES),
              help="maker (submits), checker, deputy or supervisor (approve).")
def add_operator(home: Path, corp_no: str, code: str, name: str, role: str) -> None:
    """Add an operator; a checker, deputy or supervisor then enrolls a key."""
    row = _change(home, lambda books, now: counter.add_operator(
        books, corp_no, code=code, name=name, role=role, now=now))
    click.echo(f"added operator {row.code} ({row.name}, {row.role}) of {row.corp_no}")
    if row.role != "maker":
        click.echo(f"next: `directlink core enroll-operator --corp-no {corp_no} --operator "
                   f"{code} --key PUBLIC.pem` with the key the operator generated")


@operators.command("remove")
@home_option
@_corp_option()
@click.argument("code")
def remove_operator(home: Path, corp_no: str, code: str) -> None:
    """Remove an operator: they approve nothing from now on, and their key is revoked."""
    row = _change(home, lambda books, now: counter.remove_operator(books, corp_no, code,
                                                                   now=now))
    revoked = f"; key {row.key_id} revoked" if row.key_status == "revoked" else ""
    click.echo(f"removed operator {row.code} ({row.name}, {row.role}) of {row.corp_no}"
               f"{revoked}")


# -- operators' keys ---------------------------------------------------------------------


@core.command("enroll-operator")
@home_option
@_corp_option()
@click.option("--operator", "code", required=True, help="The operator's code.")
@click.option("--key", "key_path", required=True,
              type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="The operator's public key (PEM); the private key stays with them.")
@click.option("--fingerprint", help="The fingerprint the operator read out, to compare.")
@click.option("--yes", is_flag=True, help="Do not ask to confirm the fingerprint.")
def enroll_operator(home: Path, corp_no: str, code: str, key_path: Path,
                    fingerprint: str | None, yes: bool) -> None:
    """Enroll a checker's, deputy's or supervisor's Ed25519 key for their approvals.

    Shows the key's fingerprint, which the operator confirms from their own
    copy (give it with --fingerprint, or answer the question); the key
    replaces any earlier one.
    """
    if fingerprint is not None and yes:
        raise click.UsageError("give --fingerprint or --yes, not both")
    try:
        key = VerifyKey.from_pem(key_path.read_bytes())
    except (OSError, KeyFileError) as exc:
        raise click.ClickException(f"{key_path}: {exc}") from None
    with _reading(home) as ledger:
        counter.require_enterprise(ledger, corp_no)
        row = counter.check_key_holder(ledger.conn, corp_no, code)
    click.echo(f"operator {code} ({row.name}, {row.role}) of {corp_no}")
    click.echo(f"  key id:          {key.key_id}")
    click.echo(f"  key fingerprint: {format_fingerprint(key.fingerprint)}")
    if fingerprint is not None:
        try:
            given = normalize_fingerprint(fingerprint)
        except KeyFileError as exc:
            raise click.BadParameter(str(exc), param_hint="--fingerprint") from None
        if given != key.fingerprint:
            raise click.ClickException(
                f"{key_path} is not the key the operator holds: its fingerprint is not the"
                f" one given ({format_fingerprint(given)}); nothing enrolled")
    elif not yes:
        confirm("Does the operator confirm this fingerprint?",
                needed="enrolling a key needs its fingerprint confirmed",
                how="give --fingerprint FP as the operator read it out, or --yes")
    enrolled = _change(home, lambda books, now: counter.enroll_operator_key(
        books, corp_no, code, key, now=now))
    replaced = f" (replaces key {row.key_id})" if row.key_status == "enrolled" else ""
    click.echo(f"enrolled key {enrolled.key_id} for operator {code} of {corp_no}{replaced}")


@core.command("revoke-operator-key")
@home_option
@_corp_option()
@click.option("--operator", "code", required=True, help="The operator's code.")
def revoke_operator_key(home: Path, corp_no: str, code: str) -> None:
    """Revoke an operator's key: their decisions are refused until a new key is enrolled."""
    row = _change(home, lambda books, now: counter.revoke_operator_key(books, corp_no, code,
                                                                       now=now))
    click.echo(f"revoked key {row.key_id} of operator {code} of {corp_no}: their decisions"
               " are refused from now on")


# -- flows ----------------------------------------------------------------------------------


@core.group("flows")
def flows() -> None:
    """Approval flows (转账流程, 批量收款流程): list, add and delete them; never edited."""


def flow_lines(row: FlowRow, supervisors: tuple[str, ...]) -> list[str]:
    what = (f"transfer  account {row.acno}" if row.kind == controls.TRANSFER
            else "collection  every batch collection (330010)")
    state = "" if row.status == "active" else "  (deleted)"
    lines = [f"flow {row.id}  {row.corp_no}  {what}  added {_stamp(row.created_at)}{state}"]
    bands = counter.band_lines(row, supervisors)
    lines += [f"  {line}" for line in render_table(["amount", "approved by, in order"], bands)]
    return lines


@flows.command("list")
@home_option
@_corp_option(required=False, help="Only this enterprise's flows.")
@click.option("--all", "include_deleted", is_flag=True, help="Deleted flows too.")
def list_flows(home: Path, corp_no: str | None, include_deleted: bool) -> None:
    """List flows with the levels of each band: any one operator of a level approves it."""
    with _reading(home) as ledger:
        if corp_no is not None:
            counter.require_enterprise(ledger, corp_no)
        rows = controls.flows(ledger.conn, corp_no, include_deleted=include_deleted)
        lines = [line for row in rows
                 for line in flow_lines(row, controls.supervisors(ledger.conn, row.corp_no))]
    if not rows:
        click.echo("no flows: instructions execute without approval")
        return
    for line in lines:
        click.echo(line)


@flows.command("add")
@home_option
@_corp_option()
@click.option("--file", "flow_file", type=click.Path(dir_okay=False, exists=True,
              path_type=Path), help="The flow in YAML (or JSON), in the seed's format.")
@click.option("--flow", "flow_text", help="The flow as YAML text, e.g. "
              "'{acno: \"3100…\", bands: [{up_to: \"1000000.00\", levels: [[B01]]}]}' or "
              "'{collection_flow: [[B01]]}'.")
def add_flow(home: Path, corp_no: str, flow_file: Path | None, flow_text: str | None) -> None:
    """Add a transfer flow for an account of the enterprise, or its collection flow.

    The flow is written as in the seed: a transfer flow as an item of its
    `flows` ({acno: ..., bands: [{up_to: ..., levels: [[...]]}, ...]}), the
    collection flow as {collection_flow: [[...]]}. A flow in force is never
    edited: delete it first.
    """
    if (flow_file is None) == (flow_text is None):
        raise click.UsageError("give the flow with --file FILE or --flow TEXT (one of them)")
    if flow_file is not None:
        try:
            text, source = flow_file.read_text(encoding="utf-8-sig"), str(flow_file)
        except (OSError, UnicodeDecodeError) as exc:
            raise click.ClickException(f"{flow_file}: {exc}") from None
    else:
        text, source = str(flow_text), "--flow"
    try:
        spec = counter.parse_flow(text, source)
    except CounterError as exc:
        raise click.ClickException(str(exc)) from None

    def work(books: Ledger, now: datetime) -> tuple[FlowRow, list[str]]:
        row = counter.add_flow(books, corp_no, spec, now=now, source=source)
        return row, flow_lines(row, controls.supervisors(books.conn, corp_no))

    row, lines = _change(home, work)
    click.echo(f"added {counter.describe_flow(row)}")
    for line in lines:
        click.echo(line)


def waiting_table(waiting) -> list[str]:
    cells = [[item.req_no, item.tr_code, format_yuan(item.amt), item.maker, item.biz_date,
              item.submitted.replace("T", " ")] for item in waiting]
    return render_table(["req_no", "tr_code", "amount", "maker", "biz_date", "submitted"],
                        cells, right=frozenset({2}))


@flows.command("delete")
@home_option
@_corp_option()
@click.argument("flow_id", type=int)
@click.option("--yes", is_flag=True,
              help="Do not ask before cancelling the instructions waiting on the flow.")
def delete_flow(home: Path, corp_no: str, flow_id: int, yes: bool) -> None:
    """Delete flow FLOW_ID; instructions waiting on it are listed, and cancelled if confirmed."""
    with _reading(home) as ledger:
        counter.require_enterprise(ledger, corp_no)
        row, waiting = counter.flow_to_delete(ledger.conn, corp_no, flow_id)
    listed = [item.req_no for item in waiting]
    if waiting:
        click.echo(f"{plural(len(waiting), 'instruction')} wait on "
                   f"{counter.describe_flow(row)}; deleting it cancels them (nothing moves):")
        for line in waiting_table(waiting):
            click.echo(f"  {line}")
        if not yes:
            confirm(f"Cancel {plural(len(waiting), 'instruction')} and delete flow {flow_id}?",
                    needed=f"deleting flow {flow_id} cancels instructions waiting on it",
                    how="give --yes")

    def work(books: Ledger, now: datetime) -> counter.Deleted:
        _, now_waiting = counter.flow_to_delete(books.conn, corp_no, flow_id)
        if [item.req_no for item in now_waiting] != listed and not yes:
            raise click.ClickException(
                f"the instructions waiting on flow {flow_id} changed meanwhile; nothing"
                " deleted: run the command again")
        return counter.delete_flow(books, corp_no, flow_id, now=now, confirmed=True)

    deleted = _change(home, work)
    click.echo(f"deleted {counter.describe_flow(deleted.flow)}")
    if deleted.cancelled:
        click.echo(f"cancelled {plural(len(deleted.cancelled), 'waiting instruction')}: "
                   f"{', '.join(deleted.cancelled)}")
    what = (f"account {row.acno}'s instructions" if row.kind == controls.TRANSFER
            else f"{corp_no}'s batch collections")
    click.echo(f"{what} now execute without approval until a flow is added")


# -- directed payees ----------------------------------------------------------------------


@core.group("directed")
def directed() -> None:
    """Directed accounts (定向汇款): the only payees an account may pay."""


@directed.command("list")
@home_option
@_corp_option(required=False, help="Only this enterprise's accounts.")
def list_directed(home: Path, corp_no: str | None) -> None:
    """List directed accounts and their payees."""
    with _reading(home) as ledger:
        if corp_no is not None:
            counter.require_enterprise(ledger, corp_no)
        corps = [corp_no] if corp_no is not None else [corp for (corp,) in ledger.conn.execute(
            "SELECT corp_no FROM enterprises ORDER BY corp_no")]
        cells = [[corp, acno, payee] for corp in corps
                 for acno, payees in controls.directed(ledger.conn, corp).items()
                 for payee in payees]
    if not cells:
        click.echo("no directed accounts: every account pays anyone")
        return
    for line in render_table(["corp_no", "acno", "payee"], cells):
        click.echo(line)


def _payee_options(func):
    func = click.option("--payee", required=True, help="The payee's account number.")(func)
    func = click.option("--acno", required=True, help="The enterprise's account.")(func)
    return _corp_option()(home_option(func))


@directed.command("add")
@_payee_options
def add_directed(home: Path, corp_no: str, acno: str, payee: str) -> None:
    """Let an account pay a payee; its first payee makes it pay only its payees."""
    payees = _change(home, lambda books, now: counter.add_directed_payee(
        books, corp_no, acno, payee, now=now))
    click.echo(f"account {acno} pays only: {', '.join(payees)}")


@directed.command("remove")
@_payee_options
def remove_directed(home: Path, corp_no: str, acno: str, payee: str) -> None:
    """Stop an account paying a payee; without payees it pays anyone again."""
    payees = _change(home, lambda books, now: counter.remove_directed_payee(
        books, corp_no, acno, payee, now=now))
    click.echo(f"account {acno} pays only: {', '.join(payees)}" if payees
               else f"account {acno} is no longer directed: it pays anyone")


# -- the audit log ------------------------------------------------------------------------


def log_table(rows: list[audit.AuditRow]) -> list[str]:
    cells = [[_stamp(row.at), row.corp_no, row.event, row.tr_code, row.req_no, row.operator,
              "" if row.amt is None else format_yuan(row.amt), row.result, row.detail]
             for row in rows]
    return render_table(LOG_HEADERS, cells, right=frozenset({6}))


@core.command("log")
@home_option
@_corp_option(required=False, help="Only this enterprise's rows.")
@click.option("--from", "start", type=_DATE, help="From this business date (YYYY-MM-DD).")
@click.option("--to", "end", type=_DATE, help="To this business date (YYYY-MM-DD).")
@click.option("--req-no", help="Only this instruction's rows.")
@click.option("--operator", help="Only this operator's rows.")
@click.option("--limit", type=click.IntRange(1), default=DEFAULT_LIMIT, show_default=True,
              help="At most this many rows.")
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True,
              help="Skip this many matching rows first (the next page).")
def log(home: Path, corp_no: str | None, start: datetime | None, end: datetime | None,
        req_no: str | None, operator: str | None, limit: int, offset: int) -> None:
    """The audit log: every instruction, approval, rejection, expiry, refusal and counter
    change, with operator, time and result, oldest first."""
    if start is not None and end is not None and start > end:
        raise click.BadParameter(f"{start:%Y-%m-%d} is after --to {end:%Y-%m-%d}",
                                 param_hint="--from")
    with _reading(home) as ledger:
        if corp_no is not None:
            counter.require_enterprise(ledger, corp_no)
        total, rows = audit.query(ledger.conn, corp_no=corp_no,
                                  start=start.date() if start else None,
                                  end=end.date() if end else None, req_no=req_no,
                                  operator=operator, offset=offset, limit=limit)
    if not rows:
        click.echo(f"no audit rows (of {total} matching, from {offset})" if total
                   else "no audit rows match")
        return
    for line in log_table(rows):
        click.echo(line)
    last = offset + len(rows)
    footer = f"{offset + 1}-{last} of {plural(total, 'row')}"
    if last < total:
        footer += f"; next page: --offset {last}"
    click.echo(footer)
