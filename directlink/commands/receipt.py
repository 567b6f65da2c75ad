"""``directlink receipt fetch | verify``: the bank's e-receipts (电子回单), kept and checked.

``fetch`` asks the running client daemon for receipts with ERP code 310220,
exactly as an ERP does (raw TCP, like ``directlink send``), by the
instruction's req_no, by a bank serial, or by account and date range, page
after page. Each receipt is rebuilt from its reply fields and verified
against the bank key pinned in the client's config before it is written as
its file form (:meth:`protocol.receipt.SignedReceipt.to_text`),
``OUT/<receipt_no>.txt``; one that does not verify is reported and not
written. ``--pdf FILE`` also renders the receipts as PDFs for people
(:mod:`directlink.receipt_pdf`): FILE itself when there is one receipt, else
one file per receipt beside it, ``FILE-stem-<receipt_no>.pdf``.

``verify FILE`` checks a receipt file offline against the pinned bank key
(the client's config, or ``--bank-key`` as exported by the bank) and says
plainly whether it is intact, altered, signed by another key or not a
receipt at all; it exits 0 only for an intact receipt.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import click

from config.files import make_private_dir
from daemon.home import ClientHome, SetupError, load_bank_keys
from directlink.commands.common import config_option, home_option, load_client_config
from directlink.commands.send import SendOptions, call, print_head
from directlink.commands.send_wire import Reply
from protocol.keys import BankPublicKeys, KeyFileError, format_fingerprint
from protocol.money import AmountError, format_yuan, parse_yuan
from protocol.receipt import (
    Receipt,
    ReceiptError,
    ReceiptFormatError,
    SignatureMismatch,
    SignedReceipt,
    WrongSignerError,
    verify_receipt,
)

RECEIPTS = "310220"
PAGE = 500  # receipts per request: the most 310220 gives
_HEX_SIGNATURE = re.compile(r"[0-9a-f]{128}")
#: Receipt numbers this bank gives (``2026112400000042-D``) are safe file names; others not.
_FILE_NAME = re.compile(r"[0-9A-Za-z][0-9A-Za-z_.-]{0,63}")


# -- from a reply record to a verified receipt --------------------------------------


def signed_from_record(record: Mapping[str, object], bank: BankPublicKeys) -> SignedReceipt:
    """The receipt a 310220 ``<rcd>`` carries, verified against the pinned bank key.

    Raises :class:`~protocol.receipt.ReceiptError`: WrongSignerError when
    another key signed it, SignatureMismatch when the fields are not what
    the bank signed, ReceiptFormatError when a field is malformed.
    """
    def text(name: str) -> str:
        value = record.get(name, "")
        if not isinstance(value, str):
            raise ReceiptFormatError("expected text", field=name)
        return value

    key_id = text("signer_key_id")
    if key_id != bank.key_id:
        raise WrongSignerError(f"signed by key id {key_id or '(none)'}, not by the pinned "
                               f"bank key (key id {bank.key_id})")
    signature = text("signature")
    if not _HEX_SIGNATURE.fullmatch(signature):
        raise ReceiptFormatError("expected 128 lower-case hex digits", field="signature")
    try:
        biz_date = datetime.strptime(text("biz_date"), "%Y%m%d").date()
    except ValueError:
        raise ReceiptFormatError("expected YYYYMMDD", field="biz_date") from None
    try:
        issued_at = datetime.strptime(text("issued_at"), "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        raise ReceiptFormatError("expected YYYY-MM-DDThh:mm:ss", field="issued_at") from None
    try:
        amount = parse_yuan(text("amt"))
    except AmountError as exc:
        raise ReceiptFormatError(str(exc), field="amt") from None
    kinds = {"D": "debit", "C": "credit"}
    if text("dc_flag") not in kinds:
        raise ReceiptFormatError("expected D or C", field="dc_flag")
    receipt = Receipt(
        receipt_no=text("receipt_no"), biz_date=biz_date, kind=kinds[text("dc_flag")],
        payer_acno=text("payer_acno"), payer_name=text("payer_name"),
        payer_bank=text("payer_bank"), payee_acno=text("payee_acno"),
        payee_name=text("payee_name"), payee_bank=text("payee_bank"), amount=amount,
        currency=text("cur_code"), summary=text("summary"), serial_no=text("serial_no"),
        req_no=text("req_no"), corp_no=text("corp_no"), tr_code=text("tr_code"),
        issued_at=issued_at)
    if text("amt_in_capitals") != receipt.amount_in_capitals:
        raise ReceiptFormatError(f"does not match the amount {format_yuan(amount)}",
                                 field="amt_in_capitals")
    signed = SignedReceipt(receipt=receipt, signature=bytes.fromhex(signature),
                           signer_fingerprint=bank.fingerprint)
    verify_receipt(signed, bank)
    return signed


def bank_of(receipt: Receipt) -> str:
    """The bank the receipt is from: the one that holds the enterprise's account."""
    return receipt.payer_bank if receipt.kind == "debit" else receipt.payee_bank


def describe(receipt: Receipt) -> str:
    """One line for people: number, date, direction, amount, counterparty."""
    other = (f"to {receipt.payee_name} {receipt.payee_acno}" if receipt.kind == "debit"
             else f"from {receipt.payer_name} {receipt.payer_acno}")
    return (f"receipt no {receipt.receipt_no}  {receipt.biz_date:%Y-%m-%d}  {receipt.kind}  "
            f"{format_yuan(receipt.amount)} {receipt.currency} ({receipt.amount_in_capitals})  "
            f"{other}")


# -- the commands ---------------------------------------------------------------------


@click.group("receipt")
def receipt() -> None:
    """E-receipts (电子回单): fetch them from the bank, verify them offline."""


def _date(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        if not (len(value) == 8 and value.isascii() and value.isdigit()):
            raise ValueError
        datetime.strptime(value, "%Y%m%d")
    except ValueError:
        raise click.BadParameter(f"not a date: {value!r} (expected YYYYMMDD)") from None
    return value


@receipt.command()
@home_option
@config_option
@click.option("--req-no", default=None, help="The instruction's req_no: its receipts "
              "(a batch's: one per succeeded item).")
@click.option("--serial", default=None,
              help="A bank serial: a reply's serial_no, a detail's serial or an item's flw.")
@click.option("--acno", default=None, help="An account: its receipts from --from to --to.")
@click.option("--from", "start_date", default=None, callback=_date, metavar="YYYYMMDD",
              help="First business date (with --acno).")
@click.option("--to", "end_date", default=None, callback=_date, metavar="YYYYMMDD",
              help="Last business date (with --acno).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the receipt files [default: HOME/receipts].")
@click.option("--pdf", "pdf", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also render PDF: this file for one receipt, FILE-stem-<receipt_no>.pdf "
              "beside it for each of several.")
@click.option("--host", default=None,
              help="The daemon's host [default: from the config's [bind] listen].")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="The daemon's raw TCP ERP port [default: the config's [forward] erp_port].")
@click.option("--timeout", type=click.FloatRange(0, min_open=True), default=60.0,
              show_default=True, help="Seconds to wait for each reply.")
def fetch(home: Path, config_path: Path | None, req_no: str | None, serial: str | None,
          acno: str | None, start_date: str | None, end_date: str | None, out: Path | None,
          pdf: Path | None, host: str | None, port: int | None, timeout: float) -> None:
    """Fetch receipts through the daemon (310220), verify them, write them to files."""
    body = _query(req_no, serial, acno, start_date, end_date)
    config = load_client_config(home, config_path)
    try:
        bank = load_bank_keys(config)
    except SetupError as exc:
        raise click.ClickException(f"{exc}; receipts are verified against the pinned bank "
                                   "key") from None
    options = SendOptions(home=home, config_path=config_path, host=host, port=port,
                          timeout=timeout, encoding=None)
    folder = out if out is not None else ClientHome(home).root / "receipts"
    try:
        make_private_dir(folder)
    except OSError as exc:
        raise click.ClickException(f"{folder}: cannot create: {exc.strerror or exc}") from None
    verified: list[SignedReceipt] = []
    failed = 0
    begin = 1
    while True:
        reply = call(options, RECEIPTS, {**body, "begin_no": str(begin), "query_num": str(PAGE)})
        if not reply.ok:
            print_head(reply)
            raise SystemExit(2 if reply.unknown else 1)
        records = _records(reply)
        for record in records:
            number = str(record.get("receipt_no", "?"))
            try:
                signed = signed_from_record(record, bank)
            except ReceiptError as exc:
                failed += 1
                click.echo(f"NOT VERIFIED: receipt no {number}: {_why(exc)}; not written",
                           err=True)
                continue
            if not _FILE_NAME.fullmatch(signed.receipt.receipt_no):
                failed += 1
                click.echo(f"NOT WRITTEN: receipt no {number}: not usable as a file name",
                           err=True)
                continue
            path = folder / f"{signed.receipt.receipt_no}.txt"
            try:
                path.write_bytes(signed.to_bytes())
            except OSError as exc:
                raise click.ClickException(f"{path}: cannot write: {exc.strerror or exc}") \
                    from None
            verified.append(signed)
            click.echo(f"verified: {describe(signed.receipt)}")
            click.echo(f"  -> {path}")
        begin += len(records)
        if reply.field("more_flag") != "1" or not records:
            break
    if pdf is not None and verified:
        _write_pdfs(pdf, verified)
    click.echo(f"{len(verified)} receipt{'s' if len(verified) != 1 else ''} verified against "
               f"bank key {format_fingerprint(bank.fingerprint)}"
               + (f"; {failed} did not verify" if failed else ""))
    if failed:
        raise SystemExit(1)


def _query(req_no: str | None, serial: str | None, acno: str | None, start_date: str | None,
           end_date: str | None) -> dict[str, str]:
    by_range = acno is not None or start_date is not None or end_date is not None
    if [req_no is not None, serial is not None, by_range].count(True) != 1:
        raise click.UsageError("give one of --req-no, --serial, or --acno with --from and --to")
    if by_range and not (acno and start_date and end_date):
        raise click.UsageError("--acno, --from and --to go together")
    if start_date and end_date and start_date > end_date:
        raise click.BadParameter(f"{start_date} is after --to {end_date}",
                                 param_hint="'--from'")
    return {"ogl_serial_no": req_no or "", "serial_no": serial or "", "acno": acno or "",
            "start_date": start_date or "", "end_date": end_date or ""}


def _records(reply: Reply) -> list[Mapping[str, object]]:
    tran = reply.body.get("tran", "")
    found = tran.get("rcd", []) if isinstance(tran, dict) else []
    records = found if isinstance(found, list) else [found]
    if not all(isinstance(record, dict) for record in records):
        raise click.ClickException("the reply's <tran> holds something other than <rcd> "
                                   "receipts")
    return records  # type: ignore[return-value]


def _write_pdfs(pdf: Path, verified: list[SignedReceipt]) -> None:
    from directlink.receipt_pdf import render_pdf  # reportlab: only when asked for

    for signed in verified:
        path = pdf if len(verified) == 1 else pdf.with_name(
            f"{pdf.stem}-{signed.receipt.receipt_no}{pdf.suffix or '.pdf'}")
        try:
            path.write_bytes(render_pdf(signed, bank_name=bank_of(signed.receipt)))
        except OSError as exc:
            raise click.ClickException(f"{path}: cannot write: {exc.strerror or exc}") \
                from None
        click.echo(f"  PDF -> {path}")


@receipt.command()
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@home_option
@config_option
@click.option("--bank-key", "bank_key", type=click.Path(dir_okay=False, exists=True,
              path_type=Path), default=None,
              help="The bank's public key file (`directlink core export-key`) instead of the "
              "key pinned in the client's config.")
@click.pass_context
def verify(ctx: click.Context, file: Path, home: Path, config_path: Path | None,
           bank_key: Path | None) -> None:
    """Check a receipt offline against the bank's key; exit 0 only if intact.

    FILE is a receipt file (<receipt_no>.txt) or a receipt PDF from `receipt
    fetch --pdf`, which carries its receipt file attached: the attached receipt
    is verified, then the printed page is compared with it.
    """
    bank = _bank_key(home, config_path, bank_key)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise click.ClickException(f"{file}: cannot read: {exc.strerror or exc}") from None
    page = None
    try:
        if data.startswith(b"%PDF-"):
            from directlink.receipt_pdf import PdfReceiptError, signed_in_pdf

            try:
                signed, page = signed_in_pdf(data)
            except PdfReceiptError as exc:
                click.echo(f"NOT A RECEIPT PDF: {file}: {exc}", err=True)
                ctx.exit(1)
        else:
            signed = SignedReceipt.from_bytes(data)
        receipt_value = verify_receipt(signed, bank)
    except ReceiptError as exc:
        click.echo(f"{_verdict(exc)}: {file}: {_why(exc)}", err=True)
        ctx.exit(1)
    if page is not None:
        from directlink.receipt_pdf import page_disagrees

        wrong = page_disagrees(signed, page)
        if wrong:
            click.echo(f"ALTERED: {file}: the printed page does not show the signed receipt's "
                       f"{', '.join(wrong)} (the attached receipt itself is intact)", err=True)
            ctx.exit(1)
    click.echo(f"valid: receipt no {receipt_value.receipt_no} amount "
               f"{format_yuan(receipt_value.amount)} {receipt_value.currency} "
               f"({receipt_value.amount_in_capitals}) signed by bank key "
               f"{format_fingerprint(signed.signer_fingerprint)}")
    click.echo(f"  {describe(receipt_value)}")
    click.echo(f"  bank serial {receipt_value.serial_no}, {receipt_value.tr_code}"
               + (f", req_no {receipt_value.req_no}" if receipt_value.req_no else "")
               + f", issued {receipt_value.issued_at:%Y-%m-%d %H:%M:%S}")


def _bank_key(home: Path, config_path: Path | None, bank_key: Path | None) -> BankPublicKeys:
    if bank_key is not None:
        try:
            return BankPublicKeys.from_text(bank_key.read_text(encoding="ascii"))
        except (OSError, UnicodeDecodeError, KeyFileError) as exc:
            raise click.ClickException(f"{bank_key}: not a bank key file: {exc}") from None
    try:
        return load_bank_keys(load_client_config(home, config_path))
    except SetupError as exc:
        raise click.ClickException(f"{exc} (or give --bank-key FILE)") from None


def _verdict(exc: ReceiptError) -> str:
    if isinstance(exc, SignatureMismatch):
        return "ALTERED"
    if isinstance(exc, WrongSignerError):
        return "NOT SIGNED BY THE PINNED BANK KEY"
    if isinstance(exc, ReceiptFormatError) and exc.line in (None, 1) and exc.field is None \
            and "lines" not in exc.reason:
        return "NOT A RECEIPT FILE"
    return "ALTERED OR DAMAGED"


def _why(exc: ReceiptError) -> str:
    if isinstance(exc, SignatureMismatch):
        return ("the bank's signature does not match the receipt: it was changed after the "
                "bank signed it, or the bank never signed it")
    return str(exc)


__all__ = ["bank_of", "describe", "receipt", "signed_from_record"]
