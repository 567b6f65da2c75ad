"""``directlink send transfer | interbank``: single payments.

A transfer to this bank or another (210201) and an interbank payment
through clearing (210224). When a payment's reply is lost, its outcome is
unknown (exit status 2): query it with ``directlink send status REQ_NO`` and
resend only with the same ``--req-no``. Registered on the ``send`` group in
:mod:`directlink.cli`.
"""

from __future__ import annotations

import click

from directlink.commands.send import (
    SendOptions,
    call,
    field_lines,
    finish,
    pass_options,
    print_head,
    table_or_fail,
)
from directlink.commands.send_wire import BALANCE, INTERBANK, TRANSFER, account_rows
from protocol.money import AmountError, format_yuan, parse_yuan

#: What the status codes in payment replies mean.
TRANSFER_STAT = {"0": "processing", "1": "success", "2": "failed",
                 "3": "suspicious: outcome unknown, query with `status`"}
TRAN_STATUS = {"34": "accepted, processing: settles in the next clearing cycle",
               "21": "success", "22": "failed",
               "20": "suspicious: outcome unknown, query with `status`"}


def _amount(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        return format_yuan(parse_yuan(value))
    except AmountError as exc:
        raise click.BadParameter(str(exc)) from None


def _own_account_names(options: SendOptions) -> dict[str, str]:
    """The enterprise's account names by number, from a 310101 query of every account."""
    reply = call(options, BALANCE, {"acno": ""})
    if not reply.ok:
        raise click.ClickException(
            f"cannot look up account names ({reply.particular_code} {reply.particular_info}); "
            "give --from-name and --to-name")
    header, rows = table_or_fail(reply, 10)
    return {row.acno: row.name for row in account_rows(header, rows) if row.name}


def _names(options: SendOptions, pay_acno: str, from_name: str | None, rcv_acno: str,
           to_name: str | None) -> tuple[str, str]:
    """The payer's and payee's names, looked up among the enterprise's accounts if not given."""
    if from_name and to_name:
        return from_name, to_name
    known = _own_account_names(options)
    if not from_name:
        from_name = known.get(pay_acno)
        if not from_name:
            raise click.ClickException(
                f"{pay_acno} is not one of the enterprise's accounts; give --from-name")
        click.echo(f"payer name: {from_name} (from 310101)", err=True)
    if not to_name:
        to_name = known.get(rcv_acno)
        if not to_name:
            raise click.ClickException(
                f"{rcv_acno} is not one of the enterprise's accounts; "
                "give --to-name (the payee's account name)")
        click.echo(f"payee name: {to_name} (from 310101)", err=True)
    return from_name, to_name


def _payment_options(func):
    for option in reversed([
        click.option("--from", "pay_acno", required=True, help="The payer account (yours)."),
        click.option("--to", "rcv_acno", required=True, help="The payee account."),
        click.option("--amount", required=True, callback=_amount,
                     help="Amount in yuan, up to two decimals (12.50)."),
        click.option("--from-name", default=None,
                     help="The payer account's name [default: looked up with 310101]."),
        click.option("--req-no", default=None,
                     help="The request's req_no; reuse it to retry safely [default: new]."),
        click.option("--cert-no", default="", help="Voucher number (cert_no)."),
        click.option("--summary", default="", help="Summary (附言)."),
    ]):
        func = option(func)
    return func


@click.command()
@_payment_options
@click.option("--to-name", default=None,
              help="The payee account's name [default: looked up among your accounts].")
@click.option("--other-bank", is_flag=True, help="The payee is at another bank (bank_flag=1).")
@click.option("--bank-no", default="", help="The payee bank's 12-digit number.")
@click.option("--bank-name", default="", help="The payee bank's name.")
@click.option("--other-city", is_flag=True, help="The payee is in another city (area_flag=1).")
@pass_options
def transfer(options: SendOptions, pay_acno: str, rcv_acno: str, amount: str,
             from_name: str | None, req_no: str | None, cert_no: str, summary: str,
             to_name: str | None, other_bank: bool, bank_no: str, bank_name: str,
             other_city: bool) -> None:
    """Transfer money, to this bank or another (210201)."""
    if other_bank and not bank_no:
        raise click.UsageError("--other-bank needs --bank-no (the payee bank's number)")
    pay_acname, rcv_acname = _names(options, pay_acno, from_name, rcv_acno, to_name)
    reply = call(options, TRANSFER, {
        "pay_acno": pay_acno, "pay_acname": pay_acname, "rcv_bank_name": bank_name,
        "rcv_acno": rcv_acno, "rcv_acname": rcv_acname, "rcv_exg_code": "",
        "rcv_bank_no": bank_no, "cur_code": "CNY", "amt": amount, "cert_no": cert_no,
        "summary": summary, "bank_flag": "1" if other_bank else "0",
        "area_flag": "1" if other_city else "0",
    }, req_no=req_no)
    print_head(reply)
    for line in field_lines(reply.body, {"stat": TRANSFER_STAT}):
        click.echo(line)
    finish(reply)


@click.command()
@_payment_options
@click.option("--to-name", required=True, help="The payee account's name.")
@click.option("--bank-no", required=True, help="The receiving bank's 12-digit number.")
@click.option("--urgent", is_flag=True, help="Urgent payment (urgent_flag=1).")
@click.option("--purpose", default="", help="Purpose (用途).")
@pass_options
def interbank(options: SendOptions, pay_acno: str, rcv_acno: str, amount: str,
              from_name: str | None, req_no: str | None, cert_no: str, summary: str,
              to_name: str, bank_no: str, urgent: bool, purpose: str) -> None:
    """Pay an account at another bank through clearing (210224)."""
    pay_acname, rcv_acname = _names(options, pay_acno, from_name, rcv_acno, to_name)
    reply = call(options, INTERBANK, {
        "pay_acno": pay_acno, "pay_acname": pay_acname, "rcv_acno": rcv_acno,
        "rcv_acname": rcv_acname, "partyid": bank_no, "amt": amount, "cert_no": cert_no,
        "purpose": purpose, "summary": summary, "urgent_flag": "1" if urgent else "0",
    }, req_no=req_no)
    print_head(reply)
    for line in field_lines(reply.body, {"tranStatus": TRAN_STATUS}):
        click.echo(line)
    finish(reply)
