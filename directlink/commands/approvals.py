"""``directlink approvals``: operators approve or reject what waits, with their own keys.

An instruction whose flow has levels waits at the bank until the
enterprise's checkers and supervisors approve it (docs/approvals.md). Each of
them has an Ed25519 key of their own, kept in a file encrypted by their own
password (``approvals keygen``); the bank holds the public half
(``directlink core enroll-operator``). These commands go through the
client daemon, like ``directlink send``:

* ``list`` — what awaits authorization (310230), all of it or what one
  operator may approve now;
* ``show REQ_NO`` — one instruction: amount, payer, payee, batch totals,
  the level it waits at and who approved before;
* ``approve REQ_NO`` / ``reject REQ_NO`` — reads the instruction, shows it,
  signs the decision (:mod:`protocol.approval`) and sends it (210230).

Exit status: 0 done, 1 refused (the message and code say why), 2 the
outcome is unknown (ask with ``show``).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click

from config.files import write_atomically
from directlink.commands.common import config_option, home_option
from directlink.commands.send import (
    SendOptions,
    call,
    field_lines,
    print_head,
    render_table,
    show_table,
)
from directlink.commands.send_queries import AUTH_STATE
from directlink.commands.send_wire import Reply
from protocol import approval
from protocol.keys import KeyFileError, SigningKey, format_fingerprint
from protocol.money import parse_yuan

LIST, DECIDE = "310230", "210230"
PASSWORD_ENV = "DIRECTLINK_OPERATOR_PASSWORD"
CHINA = timezone(timedelta(hours=8))

STAT = {"0": "processing, not final", "1": "success", "2": "failed: nothing moved",
        "3": "suspicious: query with `directlink send status`"}
WHAT = {"210201": "transfer", "210224": "inter-bank payment", "330002": "batch payment",
        "330010": "batch collection"}


@click.group("approvals")
@home_option
@config_option
@click.option("--host", default=None, help="The daemon's host [default: from the config].")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="The daemon's raw TCP ERP port [default: from the config].")
@click.option("--timeout", type=click.FloatRange(0, min_open=True), default=60.0,
              show_default=True, help="Seconds to wait for each exchange.")
@click.pass_context
def approvals(ctx: click.Context, home: Path, config_path: Path | None, host: str | None,
              port: int | None, timeout: float) -> None:
    """Approve or reject instructions that await the enterprise's authorization."""
    ctx.obj = SendOptions(home=home, config_path=config_path, host=host, port=port,
                          timeout=timeout, encoding=None)


pass_options = click.make_pass_decorator(SendOptions)


def _operator_option(required: bool):
    return click.option("--operator", required=required,
                        help="The operator's code (e.g. B01)" +
                        ("" if required else ": only what they may approve now") + ".")


# -- keys ---------------------------------------------------------------------------


@approvals.command("keygen")
@click.option("--operator", required=True, help="The operator's code (e.g. B01).")
@click.option("--out", "out", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="The private key file to write (encrypted); the public key goes to "
                   "OUT.pub.")
@click.option("--password-file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, help=f"File holding the key's password [default: ${PASSWORD_ENV}, "
                                 "else a prompt, typed twice].")
def keygen(operator: str, out: Path, password_file: Path | None) -> None:
    """Make an operator's own key pair, the private half encrypted by their own password.

    Hand OUT.pub to the bank: `directlink core enroll-operator --operator CODE
    --key OUT.pub`, confirming the fingerprint printed here.
    """
    password = _password(password_file, confirm=True)
    key = SigningKey.generate()
    public = out.with_name(out.name + ".pub")
    try:
        write_atomically(out, key.to_pem(password.encode("utf-8")), replace=False)
        write_atomically(public, key.public.to_pem(), mode=0o644)
    except FileExistsError:
        raise click.ClickException(f"{out}: exists; choose another file") from None
    except OSError as exc:
        raise click.ClickException(f"{out}: cannot write: {exc.strerror or exc}") from None
    click.echo(f"operator {operator}: private key {out} (encrypted), public key {public}")
    click.echo(f"fingerprint: {format_fingerprint(key.public.fingerprint)}")


def _password(password_file: Path | None, *, confirm: bool = False) -> str:
    if password_file is not None:
        lines = password_file.read_text(encoding="utf-8").splitlines()
        password = lines[0] if lines else ""
    elif os.environ.get(PASSWORD_ENV):
        password = os.environ[PASSWORD_ENV]
    else:
        password = click.prompt("Operator key password", hide_input=True,
                                confirmation_prompt=confirm)
    if not password:
        raise click.ClickException("the operator key's password is empty")
    return password


def _load_key(path: Path, password_file: Path | None) -> SigningKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise click.ClickException(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return SigningKey.from_pem(data, _password(password_file).encode("utf-8"))
    except KeyFileError as exc:
        raise click.ClickException(f"{path}: {exc}") from None


# -- reading ---------------------------------------------------------------------------


def _waiting(options: SendOptions, *, operator: str = "", req_no: str = "") -> tuple[Reply, list]:
    reply = call(options, LIST, {"operator": operator, "ogl_serial_no": req_no})
    if not reply.ok:
        print_head(reply)
        raise click.exceptions.Exit(2 if reply.unknown else 1)
    tran = reply.body.get("tran")
    records = tran.get("rcd", []) if isinstance(tran, dict) else []
    if isinstance(records, dict):
        records = [records]
    return reply, [r for r in records if isinstance(r, dict)]


def _level(record: dict) -> str:
    return f"{int(record.get('auth_level') or 0) + 1} of {record.get('auth_levels', '?')}"


@approvals.command("list")
@_operator_option(required=False)
@pass_options
def list_(options: SendOptions, operator: str | None) -> None:
    """What awaits authorization, oldest first (with --operator: what they may approve now)."""
    reply, records = _waiting(options, operator=operator or "")
    rows = [[r.get("req_no", ""), WHAT.get(r.get("tr_code", ""), r.get("tr_code", "")),
             r.get("amt", ""), r.get("pay_acno", "") or "-",
             (r.get("rcv_acno", "") or (f"{r.get('item_count')} items" if
                                         r.get("item_count") not in ("", "0") else "-")),
             _level(r), r.get("waiting_for", ""), r.get("maker", "")] for r in records]
    lines = render_table(["req_no", "what", "amount", "payer", "payee", "level",
                          "waiting for", "maker"], rows, right=frozenset({2}))
    show_table(lines, len(rows), "instruction awaiting authorization",
               "instructions awaiting authorization")
    total = reply.field("total_num")
    if total and total.isdigit() and int(total) > len(rows):
        click.echo(f"(first {len(rows)} of {total})")


@approvals.command("show")
@click.argument("req_no")
@pass_options
def show(options: SendOptions, req_no: str) -> None:
    """One instruction that awaits authorization, as an approver sees it."""
    record = _one(options, req_no)
    for line in _describe(record):
        click.echo(line)


def _one(options: SendOptions, req_no: str) -> dict:
    _, records = _waiting(options, req_no=req_no)
    if not records:
        raise click.ClickException(
            f"{req_no}: nothing with this req_no awaits authorization "
            f"(`directlink send status {req_no}` tells how it stands)")
    return records[0]


def _describe(record: dict) -> list[str]:
    lines = [
        f"req_no:      {record.get('req_no', '')}",
        f"what:        {WHAT.get(record.get('tr_code', ''), '')} ({record.get('tr_code', '')})",
        f"amount:      {record.get('amt', '')}",
    ]
    if record.get("item_count") not in ("", "0", None):
        lines.append(f"items:       {record['item_count']}")
    for label, name in (("payer", "pay_acno"), ("payee", "rcv_acno"),
                        ("payee name", "rcv_acname"), ("summary", "summary")):
        if record.get(name):
            lines.append(f"{label + ':':<13}{record[name]}")
    lines += [
        f"made by:     {record.get('maker', '')} on {record.get('submitted', '')}",
        f"level:       {_level(record)}, waiting for {record.get('waiting_for', '')}",
        f"approved by: {record.get('approved_by', '') or '-'}",
    ]
    return lines


# -- deciding --------------------------------------------------------------------------


def _decide(options: SendOptions, req_no: str, operator: str, key_file: Path,
            password_file: Path | None, decision: str, yes: bool) -> None:
    key = _load_key(key_file, password_file)
    record = _one(options, req_no)
    for line in _describe(record):
        click.echo(line)
    waiting_for = record.get("waiting_for", "").split(",")
    if operator not in waiting_for:
        click.echo(f"note: level {_level(record)} waits for {', '.join(waiting_for)}; "
                   f"the bank will refuse {operator} and say why", err=True)
    if not yes:
        click.confirm(f"{operator}: {decision} {req_no}?", abort=True)
    target = options.target()
    made = approval.Decision(
        corp_no=target.corp_no, operator=operator, decision=decision, req_no=req_no,
        level=int(record.get("auth_level") or 0) + 1, amt=parse_yuan(record["amt"]),
        signed_at=datetime.now(CHINA).replace(tzinfo=None, microsecond=0))
    reply = call(options, DECIDE, {
        "ogl_serial_no": req_no, "operator": operator,
        "decision": approval.WIRE_DECISION[decision], "level": str(made.level),
        "amt": record["amt"], "signed_at": approval.format_signed_at(made.signed_at),
        "signature": approval.sign(made, key)})
    print_head(reply)
    for line in field_lines(reply.body, {"stat": STAT, "auth_state": AUTH_STATE}):
        click.echo(line)
    if reply.unknown:
        click.echo(f"outcome unknown: `directlink approvals show {req_no}` or "
                   f"`directlink send status {req_no}` tells whether it counted", err=True)
        raise click.exceptions.Exit(2)
    if not reply.ok:
        raise click.exceptions.Exit(1)


def _decision_command(name: str, decision: str, help_text: str):
    @approvals.command(name, help=help_text)
    @click.argument("req_no")
    @_operator_option(required=True)
    @click.option("--key", "key_file", required=True,
                  type=click.Path(dir_okay=False, exists=True, path_type=Path),
                  help="The operator's private key file (from `approvals keygen`).")
    @click.option("--password-file", type=click.Path(dir_okay=False, exists=True,
                  path_type=Path), default=None,
                  help=f"File holding the key's password [default: ${PASSWORD_ENV}, else a "
                       "prompt].")
    @click.option("--yes", is_flag=True, help="Do not ask to confirm.")
    @pass_options
    def command(options: SendOptions, req_no: str, operator: str, key_file: Path,
                password_file: Path | None, yes: bool) -> None:
        _decide(options, req_no, operator, key_file, password_file, decision, yes)

    return command


approve = _decision_command(
    "approve", approval.APPROVE,
    "Approve the waiting level of REQ_NO, signed with the operator's key. The last level's "
    "approval executes it (funds are checked then).")
reject = _decision_command(
    "reject", approval.REJECT,
    "Reject REQ_NO, signed with the operator's key: it is cancelled and nothing moves.")
