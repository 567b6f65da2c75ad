"""``directlink send batch-pay | batch-collect | batch-status``: batches, as an ERP sends them.

A file batch goes the way an ERP's does: the file is checked and its count
and total worked out here (so ``sum``/``sum_amt`` are right), copied into the
daemon's exchange folder unless it is there already, and submitted with
``file_flag=1``. While the daemon streams it to the bank and the bank runs it,
a progress bar follows the bank's own counts (310207); then a summary table,
and the result file (``FILENAME.result``) is written and named. Items given
on the command line go inline (``--item``, at most 3000) and the reply's
per-item results are shown.

Exit status: 0 when the batch finished (whatever its items' results), 1
refused, 2 when its outcome is not known yet (it is still processing, or the
daemon lost the bank): ask again with ``batch-status``.
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import click

from config.files import make_private_dir
from daemon.batch_files import BatchFileError, scan
from directlink.commands.common import plural
from directlink.commands.send import (
    OutcomeUnknown,
    SendError,
    SendOptions,
    exchange,
    pass_options,
    render_table,
)
from directlink.commands.send_wire import (
    ReplyError,
    build_request,
    new_req_no,
    parse_reply,
    unframe,
)
from protocol.money import AmountError, format_yuan, parse_yuan

PAYMENT, COLLECTION = "330002", "330010"
ITEM_COLUMNS = {
    PAYMENT: ("card_no", "acname", "amt", "busino"),
    COLLECTION: ("pay_acno", "pay_acname", "agreement_no", "amt", "busino", "pay_bank_no"),
}
STATES = {"0": "received", "1": "awaiting authorization", "2": "processing", "3": "finished",
          "4": "refused", "5": "cancelled", "6": "no such batch"}
FINAL_STATES = frozenset({"3", "4", "5", "6"})


def _ask(options: SendOptions, tr_code: str, body: dict[str, str], *, req_no: str,
         items: list[dict[str, str]] | None = None, timeout: float | None = None):
    target = options.target()
    xml = build_request(tr_code, body, req_no=req_no, corp_no=target.corp_no,
                        user_no=target.user_no, encoding=target.encoding)
    if items:
        records = "".join(
            "<rcd>" + "".join(f"<{k}>{_escape(v)}</{k}>" for k, v in item.items()) + "</rcd>"
            for item in items)
        xml = xml.decode(target.encoding).replace(
            "</body>", f"<tran>{records}</tran></body>").encode(target.encoding,
                                                                errors="xmlcharrefreplace")
    try:
        return parse_reply(unframe(exchange(target.host, target.port, xml,
                                            timeout=timeout or target.timeout)),
                           encoding=target.encoding)
    except (SendError, ReplyError) as exc:
        if isinstance(exc, SendError) and not exc.sent:
            raise click.ClickException(str(exc)) from None
        raise OutcomeUnknown(f"{exc}; the batch's outcome is unknown: ask with "
                             f"`directlink send batch-status {req_no}`") from None


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _items(tr_code: str, given: tuple[str, ...]) -> list[dict[str, str]]:
    columns = ITEM_COLUMNS[tr_code]
    out = []
    for n, text in enumerate(given, start=1):
        cells = text.split(",")
        if not len(columns) - (tr_code == COLLECTION) <= len(cells) <= len(columns):
            raise click.BadParameter(f"item {n}: expected {','.join(columns)}", param_hint="--item")
        item = dict(zip(columns, cells, strict=False))
        try:
            parse_yuan(item["amt"])
        except AmountError as exc:
            raise click.BadParameter(f"item {n}: amt {exc}", param_hint="--item") from None
        out.append(item)
    return out


def _exchange_folder(options: SendOptions) -> Path:
    """The daemon's exchange folder: the client config's ``[files] dir``."""
    from directlink.commands.common import load_client_config
    return load_client_config(options.home, options.config_path).files.dir


def _submit(options: SendOptions, tr_code: str, account: tuple[str, str], *,
            file: Path | None, given: tuple[str, ...], req_no: str | None,
            extra: dict[str, str], show_progress: bool) -> None:
    if (file is None) == (not given):
        raise click.UsageError("give either --file FILE or one or more --item")
    req_no = req_no or new_req_no()
    body = {"cert_no": extra.pop("cert_no", "") or req_no[-20:], account[0]: account[1]}
    items: list[dict[str, str]] | None = None
    if file is not None:
        try:
            found = scan(file, tr_code, options.encoding or "GBK")
        except BatchFileError as exc:
            raise click.ClickException(f"{exc.code} {exc.info}") from None
        except OSError as exc:
            raise click.ClickException(f"cannot read {file}: {exc.strerror or exc}") from None
        count, total = found.count, found.total
        folder = _exchange_folder(options)
        target = folder / file.name
        try:
            make_private_dir(folder)  # 0700, as the daemon makes it: payroll data
            if file.resolve() != target.resolve():
                shutil.copyfile(file, target)
        except OSError as exc:
            raise click.ClickException(
                f"cannot copy {file} into the exchange folder {folder} ([files] dir): "
                f"{exc.strerror or exc}") from None
        body.update(sum=str(count), sum_amt=format_yuan(total), **extra, file_flag="1",
                    filename=file.name)
    else:
        items = _items(tr_code, given)
        count = len(items)
        total = sum(parse_yuan(item["amt"]) for item in items)
        body.update(sum=str(count), sum_amt=format_yuan(total), **extra, file_flag="0")
    click.echo(f"batch {req_no}: {plural(count, 'item')}, {format_yuan(total)} yuan", err=True)

    outcome: dict[str, object] = {}

    def submit() -> None:
        try:
            outcome["reply"] = _ask(options, tr_code, body, req_no=req_no, items=items,
                                    timeout=max(options.timeout, 600.0))
        except click.ClickException as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=submit, daemon=True)
    worker.start()
    status = None
    with click.progressbar(length=count, label="sending", show_pos=True,
                           file=None if show_progress else _Null()) as bar:
        done = 0
        while worker.is_alive() or (status is None or status.field("state") not in FINAL_STATES):
            if not worker.is_alive() and "error" in outcome:
                break
            if not worker.is_alive() and not outcome["reply"].ok:
                break
            time.sleep(0.25)
            try:
                status = _ask(options, "310207", {"ogl_serial_no": req_no},
                              req_no=new_req_no())
            except click.ClickException:
                continue
            state = status.field("state")
            if state == "0":
                now = int(status.field("received") or 0)
                bar.label = "sending"
            else:
                bar.label = "executing" if state == "2" else STATES.get(state, state)
                now = int(status.field("ok_count") or 0) + int(status.field("fail_count") or 0)
            bar.update(max(0, now - done))
            done = max(done, now)
    worker.join()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    reply = outcome["reply"]
    click.echo(f"result:    {reply.particular_code} {reply.particular_info}")
    click.echo(f"req_no:    {reply.req_no}")
    click.echo(f"serial_no: {reply.serial_no or '-'}")
    if reply.awaiting:
        click.echo(f"awaiting authorization: nothing runs until the enterprise's approvers "
                   f"approve it (`directlink approvals list`); then follow it with "
                   f"`directlink send batch-status {req_no}`", err=True)
        click.get_current_context().exit(3)
    if not reply.ok:
        click.get_current_context().exit(2 if reply.unknown else 1)
    _summary(status or reply)
    if items is not None:
        records = reply.body.get("tran", {})
        rows = records.get("rcd", []) if isinstance(records, dict) else []
        rows = [rows] if isinstance(rows, dict) else rows
        click.echo("")
        for line in render_table(["busino", "sucFlg", "flw", "err_code", "err_msg"],
                                 [[r.get(k, "") for k in ("busino", "sucFlg", "flw", "err_code",
                                                          "err_msg")] for r in rows]):
            click.echo(line)
    elif status is not None and status.field("state") == "3":
        written = _ask(options, "310207", {"ogl_serial_no": req_no, "file_flag": "1"},
                       req_no=new_req_no(), timeout=max(options.timeout, 600.0))
        if written.ok:
            click.echo(f"results:   {_exchange_folder(options) / written.field('filename')}")
    _exit_for(status or reply, req_no)


class _Null:
    def write(self, _text: str) -> None:
        pass

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def _summary(reply) -> None:
    state = reply.field("state")
    click.echo(f"state:     {state} ({STATES.get(state, '?')})")
    rows = [["succeeded", reply.field("ok_count"), reply.field("ok_amt")],
            ["failed", reply.field("fail_count"), reply.field("fail_amt")],
            ["processing", reply.field("pending_count"), reply.field("pending_amt")]]
    click.echo("")
    for line in render_table(["items", "count", "amount"], rows, right=frozenset({1, 2})):
        click.echo(line)


def _exit_for(reply, req_no: str) -> None:
    state = reply.field("state")
    ctx = click.get_current_context()
    if state == "4":
        ctx.exit(1)
    if state not in FINAL_STATES:
        click.echo(f"not finished yet: ask again with `directlink send batch-status "
                   f"{req_no}`", err=True)
        ctx.exit(2)


_COMMON = [
    click.option("--file", "file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                 help="A batch file, one item a line (see docs/erp-interface.md)."),
    click.option("--item", "given", multiple=True, metavar="CSV",
                 help="One item, as a line of the file would be; repeat for more (inline)."),
    click.option("--req-no", default=None, help="The batch's req_no [default: a new one]; "
                                               "the same one resumes or shows a batch."),
    click.option("--summary", default="", help="Summary (摘要)."),
    click.option("--cert-no", default="", help="The voucher number [default: from req_no]."),
    click.option("--busi-no", default="", help="Agreement or fee code (协议号 / 费项代码)."),
    click.option("--no-progress", is_flag=True, help="No progress bar."),
]


def _common(function):
    for option in reversed(_COMMON):
        function = option(function)
    return function


@click.command("batch-pay")
@click.option("--from", "pay_acno", required=True, metavar="ACNO",
              help="The enterprise's paying account.")
@click.option("--pay-month", default="", metavar="YYYYMM", help="Month paid for.")
@_common
@pass_options
def batch_pay(options: SendOptions, pay_acno: str, pay_month: str, file: Path | None,
              given: tuple[str, ...], req_no: str | None, summary: str, cert_no: str,
              busi_no: str, no_progress: bool) -> None:
    """Pay many personal accounts at this bank (330002, 批量代发).

    Items: card_no,acname,amt,busino
    """
    _submit(options, PAYMENT, ("pay_acno", pay_acno), file=file, given=given, req_no=req_no,
            extra={"cert_no": cert_no, "type": "S", "pay_month": pay_month,
                   "summary": summary, "busi_no": busi_no, "mailflg": "N"},
            show_progress=not no_progress)


@click.command("batch-collect")
@click.option("--to", "rcv_acno", required=True, metavar="ACNO",
              help="The enterprise's collecting account.")
@_common
@pass_options
def batch_collect(options: SendOptions, rcv_acno: str, file: Path | None,
                  given: tuple[str, ...], req_no: str | None, summary: str, cert_no: str,
                  busi_no: str, no_progress: bool) -> None:
    """Collect from many payers under their agreements (330010, 批量代扣).

    Items: pay_acno,pay_acname,agreement_no,amt,busino[,pay_bank_no]
    """
    _submit(options, COLLECTION, ("rcv_acno", rcv_acno), file=file, given=given,
            req_no=req_no, extra={"cert_no": cert_no, "summary": summary, "busi_no": busi_no},
            show_progress=not no_progress)


@click.command("batch-status")
@click.argument("req_no")
@click.option("--result", is_flag=True,
              help="Also write the result file FILENAME.result (file batches).")
@click.option("--failed", is_flag=True, help="List the failed items (first 1000).")
@pass_options
def batch_status(options: SendOptions, req_no: str, result: bool, failed: bool) -> None:
    """A batch's state and counts (310207)."""
    body = {"ogl_serial_no": req_no, **({"file_flag": "1"} if result else {})}
    reply = _ask(options, "310207", body, req_no=new_req_no())
    click.echo(f"result:    {reply.particular_code} {reply.particular_info}")
    if not reply.ok:
        click.get_current_context().exit(1)
    count = reply.field("sum")
    items = plural(int(count), "item") if count.isdigit() else f"{count or '?'} items"
    click.echo(f"batch:     {req_no} ({reply.field('batch_tr_code') or '-'}), "
               f"{items}, {reply.field('sum_amt')} yuan")
    _summary(reply)
    if reply.field("err_code"):
        click.echo(f"refused:   {reply.field('err_code')} {reply.field('err_msg')}")
    if result and reply.field("filename"):
        click.echo(f"results:   {_exchange_folder(options) / reply.field('filename')}")
    if failed:
        page = _ask(options, "310208", {"ogl_serial_no": req_no, "status": "E"},
                    req_no=new_req_no())
        records = page.body.get("tran", {})
        rows = records.get("rcd", []) if isinstance(records, dict) else []
        rows = [rows] if isinstance(rows, dict) else rows
        click.echo("")
        for line in render_table(["seq", "busino", "account", "amount", "err_code", "err_msg"],
                                 [[r.get(k, "") for k in ("seq", "busino", "acno", "amt",
                                                          "err_code", "err_msg")]
                                  for r in rows], right=frozenset({0, 3})):
            click.echo(line)
    _exit_for(reply, req_no)
