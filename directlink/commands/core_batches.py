"""``directlink core batches [list | show REQ_NO]``: the bank counter's view of batches.

Reads the ledger read-only, so it runs beside a live core: each batch with
its state, declared and executed counts and amounts; ``show`` adds the
failure reasons, most frequent first, and the first failed items.
"""

from __future__ import annotations

from pathlib import Path

import click

from core_sim import schema
from directlink.commands.common import home_option, plural
from directlink.commands.core import require_bank
from directlink.commands.send import render_table
from protocol.money import format_yuan


def _open(home: Path):
    return schema.connect_read_only(require_bank(home).ledger)


@click.group("batches", invoke_without_command=True)
@home_option
@click.pass_context
def batches(ctx: click.Context, home: Path) -> None:
    """Batches at the bank (330002 payments, 330010 collections)."""
    ctx.obj = home
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_batches)


@batches.command("list")
@click.option("--corp-no", default=None, help="Only this enterprise's batches.")
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True,
              help="Newest batches shown.")
@click.pass_obj
def list_batches(home: Path, corp_no: str | None = None, limit: int = 50) -> None:
    """The newest batches with their counts and amounts."""
    conn = _open(home)
    try:
        where, args = ("WHERE corp_no = ?", [corp_no]) if corp_no else ("", [])
        (total,) = conn.execute(f"SELECT count(*) FROM batches {where}", args).fetchone()
        rows = conn.execute(
            "SELECT req_no, corp_no, tr_code, state, declared_count, declared_amt, ok_count,"
            f" ok_amt, fail_count, pending_count, biz_date FROM batches {where}"
            " ORDER BY id DESC LIMIT ?", [*args, limit]).fetchall()
    finally:
        conn.close()
    if not rows:
        click.echo("no batches")
        return
    table = [[req_no, corp, code, state, str(count), format_yuan(amt), str(ok),
              format_yuan(ok_amt), str(failed), str(pending), biz]
             for (req_no, corp, code, state, count, amt, ok, ok_amt, failed, pending, biz)
             in rows]
    for line in render_table(["req_no", "corp_no", "tr_code", "state", "items", "amount",
                              "ok", "ok amount", "failed", "pending", "date"], table,
                             right=frozenset({4, 5, 6, 7, 8, 9})):
        click.echo(line)
    if total > len(rows):
        click.echo(f"({len(rows)} of {plural(total, 'batch', 'batches')}; --limit shows more)")


@batches.command("show")
@click.argument("req_no")
@click.option("--corp-no", default=None, help="The enterprise, when several used REQ_NO.")
@click.pass_obj
def show_batch(home: Path, req_no: str, corp_no: str | None) -> None:
    """One batch: its counts, why items failed, and the first failed items."""
    conn = _open(home)
    try:
        args = [req_no] + ([corp_no] if corp_no else [])
        found = conn.execute(
            "SELECT id, corp_no, tr_code, state, declared_count, declared_amt, items, ok_count,"
            " ok_amt, fail_count, fail_amt, pending_count, pending_amt, err_code, err_msg,"
            " next_seq, created_at, updated_at FROM batches WHERE req_no = ?"
            + (" AND corp_no = ?" if corp_no else ""), args).fetchall()
        if not found:
            raise click.ClickException(f"no batch {req_no}")
        if len(found) > 1:
            raise click.ClickException(f"{len(found)} enterprises used req_no {req_no}: "
                                       "give --corp-no")
        (batch_id, corp, code, state, count, amt, items, ok, ok_amt, failed, fail_amt, pending,
         pending_amt, err_code, err_msg, next_seq, created, updated) = found[0]
        reasons = conn.execute(
            "SELECT err_code, count(*), sum(amt) FROM batch_items WHERE batch_id = ?"
            " AND status = 'failed' GROUP BY err_code ORDER BY count(*) DESC",
            (batch_id,)).fetchall()
        first = conn.execute(
            "SELECT seq, busino, acno, amt, err_code, err_msg FROM batch_items"
            " WHERE batch_id = ? AND status = 'failed' ORDER BY seq LIMIT 10",
            (batch_id,)).fetchall()
    finally:
        conn.close()
    kind = "payment (330002)" if code == "330002" else "collection (330010)"
    click.echo(f"batch:      {req_no} of {corp}, {kind}")
    click.echo(f"state:      {state}" + (f" — {err_code} {err_msg}" if err_code else ""))
    click.echo(f"declared:   {plural(count, 'item')}, {format_yuan(amt)}")
    click.echo(f"received:   {plural(items, 'item')}; executed up to item {next_seq - 1}")
    click.echo(f"succeeded:  {plural(ok, 'item')}, {format_yuan(ok_amt)}")
    click.echo(f"failed:     {plural(failed, 'item')}, {format_yuan(fail_amt)}")
    click.echo(f"at other banks: {plural(pending, 'item')}, {format_yuan(pending_amt)}")
    click.echo(f"created:    {created}; last change {updated}")
    if reasons:
        click.echo("")
        for line in render_table(["reason", "items", "amount"],
                                 [[c, str(n), format_yuan(a)] for c, n, a in reasons],
                                 right=frozenset({1, 2})):
            click.echo(line)
    if first:
        click.echo("")
        for line in render_table(["seq", "busino", "account", "amount", "code", "reason"],
                                 [[str(s), b, a, format_yuan(m), c, e]
                                  for s, b, a, m, c, e in first], right=frozenset({0, 3})):
            click.echo(line)
