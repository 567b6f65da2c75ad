"""``directlink send balance | details | history | status``: the single-request queries.

Account information and balance (310101), today's and historical
transaction details (310201, 310301), and the result of an earlier
transfer or payment (310204). Registered on the ``send`` group in
:mod:`directlink.cli`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import click

from directlink.commands.send import (
    SendOptions,
    call,
    field_lines,
    finish,
    pass_options,
    print_head,
    render_table,
    show_table,
    table_or_fail,
)
from directlink.commands.send_transfers import TRANSFER_STAT
from directlink.commands.send_wire import (
    BALANCE,
    DETAILS,
    HISTORY,
    STATUS,
    AccountRow,
    account_rows,
)

#: 310201/310301 column headers in English, for people.
ENTRY_LABELS = {"交易日期": "date", "交易时间": "time", "流水号": "serial_no",
                "借贷标志": "D/C", "发生额": "amount", "余额": "balance",
                "对方账号": "counterparty", "对方户名": "name", "摘要": "summary",
                "企业流水号": "req_no", "凭证号": "cert_no"}
_AMOUNT_HEADERS = {"发生额", "余额", "可用余额"}

#: What 310204's auth_state means (docs/approvals.md).
AUTH_STATE = {"0": "needs no approval", "1": "awaiting authorization", "2": "authorized",
              "3": "rejected", "4": "expired (not authorized by the end of its business day)",
              "5": "cancelled (its flow was deleted)"}

#: What 310204's stat means: a transfer's stat, or a req_no the bank never received.
QUERY_STAT = {**TRANSFER_STAT,
              "4": "no such record: it never arrived; resend it with the same req_no"}


def accounts_table(accounts: Sequence[AccountRow]) -> list[str]:
    """The 310101 accounts for people; an error column only when some row failed."""
    headers = ["account", "name", "currency", "balance", "available"]
    rows = [[a.acno, a.name, a.currency, a.balance, a.available] for a in accounts]
    if any(not a.ok or a.error for a in accounts):
        headers.append("error")
        for row, account in zip(rows, accounts, strict=True):
            row.append(account.error or ("" if account.ok else "failed"))
    return render_table(headers, rows, right=frozenset({3, 4}))


def entries_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A 310201/310301 table for people: English headers, amounts right-aligned."""
    labels = [ENTRY_LABELS.get(text, text) for text in header]
    right = frozenset(i for i, text in enumerate(header) if text in _AMOUNT_HEADERS)
    return render_table(labels, rows, right=right)


@click.command()
@click.argument("acno", required=False, default="")
@pass_options
def balance(options: SendOptions, acno: str) -> None:
    """Account information and balance (310101); every account without ACNO."""
    reply = call(options, BALANCE, {"acno": acno})
    print_head(reply)
    if reply.ok or reply.field("serial_record"):
        header, rows = table_or_fail(reply, 10)
        accounts = account_rows(header, rows)
        show_table(accounts_table(accounts), len(accounts), "account", "accounts")
    finish(reply)


@click.command()
@click.argument("acno")
@pass_options
def details(options: SendOptions, acno: str) -> None:
    """Today's transaction details of an account (310201)."""
    reply = call(options, DETAILS, {"acno": acno})
    print_head(reply)
    if reply.ok or reply.field("serial_record"):
        header, rows = table_or_fail(reply, 11)
        show_table(entries_table(header, rows), len(rows), "entry", "entries")
    finish(reply)


def _date(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        if not (len(value) == 8 and value.isascii() and value.isdigit()):
            raise ValueError
        datetime.strptime(value, "%Y%m%d")
    except ValueError:
        raise click.BadParameter(f"not a date: {value!r} (expected YYYYMMDD)") from None
    return value


@click.command()
@click.argument("acno")
@click.option("--from", "start_date", required=True, callback=_date, metavar="YYYYMMDD",
              help="First business date.")
@click.option("--to", "end_date", required=True, callback=_date, metavar="YYYYMMDD",
              help="Last business date.")
@click.option("--page", type=click.IntRange(1), default=1, show_default=True,
              help="Page number, from 1.")
@click.option("--page-size", type=click.IntRange(1, 500), default=100, show_default=True,
              help="Entries per page.")
@pass_options
def history(options: SendOptions, acno: str, start_date: str, end_date: str, page: int,
            page_size: int) -> None:
    """Historical transaction details of an account (310301)."""
    begin_no = (page - 1) * page_size + 1
    if begin_no > 999999:
        raise click.BadParameter("the page starts beyond entry 999999", param_hint="'--page'")
    reply = call(options, HISTORY, {"acno": acno, "start_date": start_date,
                                     "end_date": end_date, "begin_no": str(begin_no),
                                     "query_num": str(page_size)})
    print_head(reply)
    if reply.ok or reply.field("serial_record"):
        header, rows = table_or_fail(reply, 11)
        show_table(entries_table(header, rows), len(rows), "entry", "entries")
        total = reply.field("total_num")
        if rows and total:
            shown = reply.field("begin_no")
            first = int(shown) if shown.isdigit() else begin_no
            click.echo(f"entries {first}-{first + len(rows) - 1} of {total}")
        if reply.field("more_flag") == "1":
            click.echo(f"more entries follow: --page {page + 1}")
    finish(reply)


@click.command()
@click.argument("original_req_no", metavar="REQ_NO")
@pass_options
def status(options: SendOptions, original_req_no: str) -> None:
    """The result of an earlier transfer or payment, by its req_no (310204)."""
    reply = call(options, STATUS, {"query_flag": "1", "ogl_serial_no": original_req_no})
    print_head(reply)
    for line in field_lines(reply.body, {"stat": QUERY_STAT, "auth_state": AUTH_STATE}):
        click.echo(line)
    finish(reply)
