"""``directlink send …``: an ERP-like client for admins.

It talks to the client daemon exactly as an ERP system does: raw TCP to
``[forward] erp_port``, one connection per request, the request XML (in the
configured encoding, GBK by default) behind a 7-byte length header, then it
reads the framed reply until the daemon closes the connection.

The XML building and reply parsing are small pure functions
(:func:`build_request`, :func:`unframe`, :func:`parse_reply`,
:func:`parse_table`, :func:`account_rows`, :func:`render_table`) so they can
be tested without a socket; :func:`exchange` is the only I/O. Each command
prints the reply's result, req_no and serial_no, then the table or fields,
and exits 0 on ``0000``, 1 on a refusal and 2 when the outcome is unknown
(``ans_code`` 2: query it with ``directlink send status REQ_NO``).
"""

from __future__ import annotations

import contextlib
import re
import secrets
import socket
import time
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

import click
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from config.errors import ConfigError
from config.ini import ClientConfig, load_config
from daemon.erp_framing import (
    HEADER_LEN,
    MAX_FRAMED_LENGTH,
    ErpFramingError,
    frame_reply,
    parse_length_header,
)
from daemon.erp_xml import canonical_encoding, escape_text
from directlink.commands.common import (
    config_option,
    config_path_for,
    home_option,
    load_client_config,
)
from protocol.money import AmountError, format_yuan, parse_yuan

BALANCE, DETAILS, HISTORY = "310101", "310201", "310301"
TRANSFER, INTERBANK, STATUS = "210201", "210224", "310204"

#: The ERP's clock, like the daemon's replies: China Standard Time.
CST = timezone(timedelta(hours=8), "CST")

REQUEST_HEAD_FIELDS = ("tr_code", "corp_no", "user_no", "req_no", "tr_acdt", "tr_time",
                       "atom_tr_count", "channel", "reserved")

#: How requests are encoded (characters the encoding lacks become references).
_ENCODERS = {"GBK": "gbk", "GB2312": "gb2312", "GB18030": "gb18030", "UTF-8": "utf-8"}
#: How replies are decoded: GBK and GB2312 as their superset GB18030.
_DECODERS = {"GBK": "gb18030", "GB2312": "gb18030", "GB18030": "gb18030", "UTF-8": "utf-8"}

#: A reply larger than this is not an ERP reply (the header can announce 999999 bytes).
MAX_REPLY = HEADER_LEN + MAX_FRAMED_LENGTH + 1024

_UTF8_BOM = b"\xef\xbb\xbf"
_DECLARATION = re.compile(rb"\A\s*<\?xml\s[^>]*?\?>")
_DECLARED_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

# --------------------------------------------------------------------------
# Requests.


def new_req_no(now: datetime | None = None) -> str:
    """A fresh req_no: ``CLI``, the date and time, 8 random hex digits (25 characters)."""
    now = now or datetime.now(CST)
    return f"CLI{now:%Y%m%d%H%M%S}{secrets.token_hex(4)}"


def build_request(
    tr_code: str,
    body: Mapping[str, str],
    *,
    req_no: str,
    corp_no: str = "",
    user_no: str = "",
    encoding: str = "GBK",
    now: datetime | None = None,
) -> bytes:
    """The request document ``<ap><head>…</head><body>…</body></ap>``, encoded.

    Empty ``corp_no``/``user_no`` are filled in by the daemon from its config.
    """
    name = canonical_encoding(encoding)
    now = now or datetime.now(CST)
    head = {
        "tr_code": tr_code, "corp_no": corp_no, "user_no": user_no, "req_no": req_no,
        "tr_acdt": f"{now:%Y%m%d}", "tr_time": f"{now:%H%M%S}", "atom_tr_count": "1",
        "channel": "0", "reserved": "",
    }
    parts = [f'<?xml version="1.0" encoding="{name}"?><ap><head>']
    parts += [f"<{key}>{escape_text(head[key])}</{key}>" for key in REQUEST_HEAD_FIELDS]
    parts.append("</head><body>")
    parts += [f"<{key}>{escape_text(value)}</{key}>" for key, value in body.items()]
    parts.append("</body></ap>")
    return "".join(parts).encode(_ENCODERS[name], errors="xmlcharrefreplace")


# --------------------------------------------------------------------------
# Replies.


class ReplyError(Exception):
    """The daemon's answer cannot be read; the message says why."""


BodyValue = str | dict[str, "BodyValue"] | list["BodyValue"]


@dataclass(frozen=True, slots=True)
class Reply:
    """A parsed reply: head and body fields as stripped text."""

    head: dict[str, str]
    body: dict[str, BodyValue]

    def field(self, name: str) -> str:
        """A body field's text ("" when absent or not plain text)."""
        value = self.body.get(name, "")
        return value if isinstance(value, str) else ""

    @property
    def particular_code(self) -> str:
        return self.head.get("particular_code", "")

    @property
    def particular_info(self) -> str:
        return self.head.get("particular_info", "")

    @property
    def ans_code(self) -> str:
        return self.head.get("ans_code", "")

    @property
    def req_no(self) -> str:
        return self.head.get("req_no", "")

    @property
    def serial_no(self) -> str:
        return self.head.get("serial_no", "")

    @property
    def ok(self) -> bool:
        return self.particular_code == "0000"

    @property
    def unknown(self) -> bool:
        """The daemon could not learn the outcome: query with 310204, never resend anew."""
        return self.ans_code == "2"


def unframe(data: bytes) -> bytes:
    """The reply XML from everything read on the connection (7-byte header + XML)."""
    if not data:
        raise ReplyError("the daemon closed the connection without a reply")
    try:
        length = parse_length_header(data[:HEADER_LEN], max_length=MAX_FRAMED_LENGTH)
    except ErpFramingError as exc:
        raise ReplyError(f"broken reply framing: {exc}") from None
    got = len(data) - HEADER_LEN
    if got < length:
        raise ReplyError(f"reply cut short: {got} of {length} announced bytes")
    return data[HEADER_LEN : HEADER_LEN + length]


def decode_xml(xml: bytes, encoding: str = "GBK") -> tuple[str, str]:
    """``(encoding used, text)``: a BOM or declaration wins over ``encoding``."""
    used = canonical_encoding(encoding)
    if xml.startswith(_UTF8_BOM):
        used, xml = "UTF-8", xml[len(_UTF8_BOM) :]
    else:
        declaration = _DECLARATION.match(xml)
        label = declaration and _DECLARED_ENCODING.search(declaration.group(0))
        # An encoding ERP replies never use keeps the configured one.
        if label:
            with contextlib.suppress(ValueError):
                used = canonical_encoding(label.group(1).decode("ascii"))
    try:
        return used, xml.decode(_DECODERS[used])
    except UnicodeDecodeError as exc:
        raise ReplyError(f"reply is not valid {used} at byte offset {exc.start}") from None


def parse_reply(xml: bytes, *, encoding: str = "GBK") -> Reply:
    """Parse a reply document safely (no DTDs or entities), into head and body fields."""
    _, text = decode_xml(xml, encoding)
    try:
        root = fromstring(text, forbid_dtd=True)
    except (ParseError, DefusedXmlException) as exc:
        raise ReplyError(f"reply is not well-formed XML: {exc}") from None
    head_el, body_el = root.find("head"), root.find("body")
    if root.tag != "ap" or head_el is None:
        raise ReplyError("reply is not an <ap><head>…</head><body>…</body></ap> document")
    head = {child.tag: (child.text or "").strip() for child in head_el if not len(child)}
    body = _children(body_el) if body_el is not None else {}
    return Reply(head=head, body=body)


def _children(parent: Element) -> dict[str, BodyValue]:
    out: dict[str, BodyValue] = {}
    for child in parent:
        value: BodyValue = _children(child) if len(child) else (child.text or "").strip()
        if child.tag not in out:
            out[child.tag] = value
        elif isinstance(out[child.tag], list):
            out[child.tag].append(value)  # type: ignore[union-attr]
        else:
            out[child.tag] = [out[child.tag], value]
    return out


def parse_table(record: str, field_num: int) -> tuple[list[str], list[list[str]]]:
    """A ``serial_record`` pipe table: ``(header, rows)``.

    Every cell is followed by ``|``; the first ``field_num`` cells are the
    header, then each record takes ``field_num`` cells.
    """
    if field_num <= 0:
        raise ReplyError(f"field_num must be positive, not {field_num}")
    if not record:
        return [], []
    cells = record.split("|")
    if cells[-1] == "":
        cells.pop()  # the last cell's terminating "|"
    if len(cells) % field_num:
        raise ReplyError(
            f"serial_record has {len(cells)} cells, not a multiple of field_num {field_num}")
    rows = [cells[i : i + field_num] for i in range(0, len(cells), field_num)]
    return rows[0], rows[1:]


def reply_table(reply: Reply, default_field_num: int) -> tuple[list[str], list[list[str]]]:
    """The reply's ``serial_record`` table, sized by its ``field_num``."""
    raw = reply.field("field_num")
    field_num = int(raw) if raw.isdigit() and int(raw) > 0 else default_field_num
    return parse_table(reply.field("serial_record"), field_num)


@dataclass(frozen=True, slots=True)
class AccountRow:
    """One 310101 row."""

    acno: str
    name: str
    currency: str
    balance: str
    available: str
    error: str
    ok: bool


#: 310101 columns: header text and its position when the header is not as documented.
_ACCOUNT_COLUMNS = {"name": ("户名", 0), "acno": ("账号", 1), "currency": ("币种", 2),
                    "balance": ("余额", 3), "available": ("可用余额", 4),
                    "error": ("错误信息", 8), "flag": ("成功标志", 9)}


def account_rows(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[AccountRow]:
    """The 310101 table as accounts (columns found by header name)."""
    where = {name: header.index(text) if text in header else index
             for name, (text, index) in _ACCOUNT_COLUMNS.items()}

    def cell(row: Sequence[str], name: str) -> str:
        index = where[name]
        return row[index] if index < len(row) else ""

    return [AccountRow(acno=cell(row, "acno"), name=cell(row, "name"),
                       currency=cell(row, "currency"), balance=cell(row, "balance"),
                       available=cell(row, "available"), error=cell(row, "error"),
                       ok=cell(row, "flag") in ("0", ""))
            for row in rows]


#: 310201/310301 column headers in English, for people.
ENTRY_LABELS = {"交易日期": "date", "交易时间": "time", "流水号": "serial_no",
                "借贷标志": "D/C", "发生额": "amount", "余额": "balance",
                "对方账号": "counterparty", "对方户名": "name", "摘要": "summary",
                "企业流水号": "req_no", "凭证号": "cert_no"}
_AMOUNT_HEADERS = {"发生额", "余额", "可用余额"}


def _clean(text: str) -> str:
    # Reply text goes to a terminal: no escape sequences or line breaks.
    return _CONTROL.sub(" ", text)


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal (CJK characters take two)."""
    return sum(0 if unicodedata.combining(ch) else
               2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]], *,
                 right: frozenset[int] = frozenset()) -> list[str]:
    """Lines of an aligned text table; columns in ``right`` are right-aligned."""
    table = [[_clean(cell) for cell in row] for row in [headers, *rows]]
    widths = [max(display_width(row[i]) for row in table) for i in range(len(headers))]
    lines = []
    for row in table:
        cells = []
        for i, cell in enumerate(row):
            pad = " " * (widths[i] - display_width(cell))
            cells.append(pad + cell if i in right else cell + pad)
        lines.append("  ".join(cells).rstrip())
    return lines


def accounts_table(accounts: Sequence[AccountRow]) -> list[str]:
    headers = ["account", "name", "currency", "balance", "available"]
    rows = [[a.acno, a.name, a.currency, a.balance, a.available] for a in accounts]
    if any(not a.ok or a.error for a in accounts):
        headers.append("error")
        for row, account in zip(rows, accounts, strict=True):
            row.append(account.error or ("" if account.ok else "failed"))
    return render_table(headers, rows, right=frozenset({3, 4}))


def entries_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    labels = [ENTRY_LABELS.get(text, text) for text in header]
    right = frozenset(i for i, text in enumerate(header) if text in _AMOUNT_HEADERS)
    return render_table(labels, rows, right=right)


#: What the status codes in payment replies mean.
TRANSFER_STAT = {"0": "processing", "1": "success", "2": "failed",
                 "3": "suspicious: outcome unknown, query with `status`"}
TRAN_STATUS = {"34": "accepted, processing: settles in the next clearing cycle",
               "21": "success", "22": "failed",
               "20": "suspicious: outcome unknown, query with `status`"}
QUERY_STAT = {**TRANSFER_STAT,
              "4": "no such record: it never arrived; resend it with the same req_no"}


def field_lines(body: Mapping[str, BodyValue], meanings: Mapping[str, Mapping[str, str]],
                ) -> list[str]:
    """``name: value`` lines for a body's plain fields, with meanings of status codes."""
    items = [(name, value) for name, value in body.items() if isinstance(value, str)]
    if not items:
        return []
    width = max(len(name) for name, _ in items) + 1
    lines = []
    for name, value in items:
        meaning = meanings.get(name, {}).get(value)
        shown = f"{value} ({meaning})" if meaning else value
        lines.append(f"{name + ':':<{width}} {_clean(shown)}".rstrip())
    return lines


# --------------------------------------------------------------------------
# The connection.


class SendError(Exception):
    """No reply: ``sent`` says whether the whole request reached the daemon."""

    def __init__(self, message: str, *, sent: bool) -> None:
        super().__init__(message)
        self.sent = sent


def exchange(host: str, port: int, xml: bytes, *, timeout: float) -> bytes:
    """Send one framed request and read until EOF; returns every byte read.

    ``timeout`` bounds the whole exchange, connecting included.
    """
    where = f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
    deadline = time.monotonic() + timeout
    try:
        frame = frame_reply(xml)  # request and reply frame alike
    except ValueError as exc:
        raise SendError(f"request too large: {exc}", sent=False) from None
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except TimeoutError:
        raise SendError(f"cannot connect to the daemon at {where}: timed out",
                        sent=False) from None
    except OSError as exc:
        raise SendError(f"cannot connect to the daemon at {where}: {exc.strerror or exc} "
                        "(is `directlink up` or `directlink daemon serve` running?)",
                        sent=False) from None
    with sock:
        try:
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            sock.sendall(frame)
        except OSError as exc:
            raise SendError(f"cannot send the request to {where}: {exc.strerror or exc}",
                            sent=False) from None
        received = bytearray()
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                sock.settimeout(remaining)
                chunk = sock.recv(65536)
                if not chunk:
                    return bytes(received)
                received += chunk
                if len(received) > MAX_REPLY:
                    raise SendError(f"reply from {where} exceeds {MAX_REPLY} bytes", sent=True)
        except TimeoutError:
            raise SendError(f"no reply from {where} within {timeout:g} s", sent=True) from None
        except OSError as exc:
            raise SendError(f"connection to {where} lost: {exc.strerror or exc}",
                            sent=True) from None


class OutcomeUnknown(click.ClickException):
    """The request was sent but its outcome is not known (exit status 2)."""

    exit_code = 2


# --------------------------------------------------------------------------
# The commands.


@dataclass(frozen=True, slots=True)
class Target:
    host: str
    port: int
    timeout: float
    encoding: str
    corp_no: str
    user_no: str


@dataclass(frozen=True, slots=True)
class SendOptions:
    """The group's options; the config is read only when a request is sent."""

    home: Path
    config_path: Path | None
    host: str | None
    port: int | None
    timeout: float
    encoding: str | None

    def target(self) -> Target:
        config = self._config()
        if config is None:
            host, port, encoding, corp_no, user_no = self.host, self.port, "GBK", "", ""
        else:
            host = self.host or _connect_address(config.bind.listen)
            port = self.port or config.forward.erp_port
            encoding, corp_no, user_no = (config.forward.encoding, config.enterprise.corp_no,
                                          config.enterprise.user_no)
            if not port:
                raise click.ClickException(
                    f"{config.source}: [forward] erp_port is 0 (the daemon picks a free port "
                    "at start); give --port (the READY line shows it)")
        assert host is not None and port is not None
        return Target(host=host, port=port, timeout=self.timeout,
                      encoding=self.encoding or encoding, corp_no=corp_no, user_no=user_no)

    def _config(self) -> ClientConfig | None:
        if self.host is None or self.port is None:
            return load_client_config(self.home, self.config_path)
        # --host and --port say where; the config (if any) only adds the
        # encoding and identity, which the daemon fills in when left empty.
        path = config_path_for(self.home, self.config_path)
        if not path.exists():
            return None
        try:
            return load_config(path)
        except ConfigError as exc:
            click.echo(f"warning: ignoring the config: {exc.errors[0]}", err=True)
            return None


def _connect_address(listen: str) -> str:
    """Where to reach a daemon that listens on ``listen`` from this host."""
    if listen in ("", "0.0.0.0"):
        return "127.0.0.1"
    if listen == "::":
        return "::1"
    return listen


pass_options = click.make_pass_decorator(SendOptions)


@click.group("send")
@home_option
@config_option
@click.option("--host", default=None,
              help="The daemon's host [default: from the config's [bind] listen].")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="The daemon's raw TCP ERP port [default: the config's [forward] erp_port].")
@click.option("--timeout", type=click.FloatRange(0, min_open=True), default=60.0,
              show_default=True, help="Seconds to wait for the whole exchange.")
@click.option("--encoding", type=click.Choice(["GBK", "GB18030", "UTF-8"], case_sensitive=False),
              default=None, help="Request encoding [default: the config's, else GBK].")
@click.pass_context
def send(ctx: click.Context, home: Path, config_path: Path | None, host: str | None,
         port: int | None, timeout: float, encoding: str | None) -> None:
    """Send ERP requests to the client daemon, as an ERP system would."""
    ctx.obj = SendOptions(home=home, config_path=config_path, host=host, port=port,
                          timeout=timeout, encoding=encoding.upper() if encoding else None)


def _call(options: SendOptions, tr_code: str, body: Mapping[str, str], *,
          req_no: str | None = None) -> Reply:
    """One request and its parsed reply; no reply is a one-line error."""
    target = options.target()
    req_no = req_no or new_req_no()
    xml = build_request(tr_code, body, req_no=req_no, corp_no=target.corp_no,
                        user_no=target.user_no, encoding=target.encoding)
    try:
        return parse_reply(unframe(_exchange(target, xml)), encoding=target.encoding)
    except (SendError, ReplyError) as exc:
        if isinstance(exc, SendError) and not exc.sent:
            raise click.ClickException(str(exc)) from None
        if tr_code in (TRANSFER, INTERBANK):
            raise OutcomeUnknown(
                f"{exc}; the payment's outcome is unknown: query it with "
                f"`directlink send status {req_no}` (resend only with --req-no {req_no})"
            ) from None
        raise click.ClickException(str(exc)) from None


def _exchange(target: Target, xml: bytes) -> bytes:
    return exchange(target.host, target.port, xml, timeout=target.timeout)


def _print_head(reply: Reply) -> None:
    click.echo(f"result:    {_clean(reply.particular_code)} {_clean(reply.particular_info)}")
    click.echo(f"req_no:    {_clean(reply.req_no)}")
    click.echo(f"serial_no: {_clean(reply.serial_no) or '-'}")


def _finish(reply: Reply) -> None:
    """Exit status from the reply: 0 success, 1 refused, 2 outcome unknown."""
    ctx = click.get_current_context()
    if reply.unknown:
        click.echo(f"outcome unknown: do not treat it as failed; query it with "
                   f"`directlink send status {reply.req_no}`", err=True)
        ctx.exit(2)
    if not reply.ok:
        ctx.exit(1)


def _show_table(lines: list[str], count: int, noun: str, plural: str) -> None:
    if count:
        click.echo("")
        for line in lines:
            click.echo(line)
    click.echo(f"{count} {noun if count == 1 else plural}")


def _table_or_fail(reply: Reply, field_num: int) -> tuple[list[str], list[list[str]]]:
    try:
        return reply_table(reply, field_num)
    except ReplyError as exc:
        raise click.ClickException(str(exc)) from None


@send.command()
@click.argument("acno", required=False, default="")
@pass_options
def balance(options: SendOptions, acno: str) -> None:
    """Account information and balance (310101); every account without ACNO."""
    reply = _call(options, BALANCE, {"acno": acno})
    _print_head(reply)
    if reply.ok or reply.field("serial_record"):
        header, rows = _table_or_fail(reply, 10)
        accounts = account_rows(header, rows)
        _show_table(accounts_table(accounts), len(accounts), "account", "accounts")
    _finish(reply)


@send.command()
@click.argument("acno")
@pass_options
def details(options: SendOptions, acno: str) -> None:
    """Today's transaction details of an account (310201)."""
    reply = _call(options, DETAILS, {"acno": acno})
    _print_head(reply)
    if reply.ok or reply.field("serial_record"):
        header, rows = _table_or_fail(reply, 11)
        _show_table(entries_table(header, rows), len(rows), "entry", "entries")
    _finish(reply)


def _date(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        if not (len(value) == 8 and value.isascii() and value.isdigit()):
            raise ValueError
        datetime.strptime(value, "%Y%m%d")
    except ValueError:
        raise click.BadParameter(f"not a date: {value!r} (expected YYYYMMDD)") from None
    return value


@send.command()
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
    reply = _call(options, HISTORY, {"acno": acno, "start_date": start_date,
                                     "end_date": end_date, "begin_no": str(begin_no),
                                     "query_num": str(page_size)})
    _print_head(reply)
    if reply.ok or reply.field("serial_record"):
        header, rows = _table_or_fail(reply, 11)
        _show_table(entries_table(header, rows), len(rows), "entry", "entries")
        total = reply.field("total_num")
        if rows and total:
            shown = reply.field("begin_no")
            first = int(shown) if shown.isdigit() else begin_no
            click.echo(f"entries {first}-{first + len(rows) - 1} of {total}")
        if reply.field("more_flag") == "1":
            click.echo(f"more entries follow: --page {page + 1}")
    _finish(reply)


def _amount(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        return format_yuan(parse_yuan(value))
    except AmountError as exc:
        raise click.BadParameter(str(exc)) from None


def _own_account_names(options: SendOptions) -> dict[str, str]:
    """The enterprise's account names by number, from a 310101 query of every account."""
    reply = _call(options, BALANCE, {"acno": ""})
    if not reply.ok:
        raise click.ClickException(
            f"cannot look up account names ({reply.particular_code} {reply.particular_info}); "
            "give --from-name and --to-name")
    header, rows = _table_or_fail(reply, 10)
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


@send.command()
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
    reply = _call(options, TRANSFER, {
        "pay_acno": pay_acno, "pay_acname": pay_acname, "rcv_bank_name": bank_name,
        "rcv_acno": rcv_acno, "rcv_acname": rcv_acname, "rcv_exg_code": "",
        "rcv_bank_no": bank_no, "cur_code": "CNY", "amt": amount, "cert_no": cert_no,
        "summary": summary, "bank_flag": "1" if other_bank else "0",
        "area_flag": "1" if other_city else "0",
    }, req_no=req_no)
    _print_head(reply)
    for line in field_lines(reply.body, {"stat": TRANSFER_STAT}):
        click.echo(line)
    _finish(reply)


@send.command()
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
    reply = _call(options, INTERBANK, {
        "pay_acno": pay_acno, "pay_acname": pay_acname, "rcv_acno": rcv_acno,
        "rcv_acname": rcv_acname, "partyid": bank_no, "amt": amount, "cert_no": cert_no,
        "purpose": purpose, "summary": summary, "urgent_flag": "1" if urgent else "0",
    }, req_no=req_no)
    _print_head(reply)
    for line in field_lines(reply.body, {"tranStatus": TRAN_STATUS}):
        click.echo(line)
    _finish(reply)


@send.command()
@click.argument("original_req_no", metavar="REQ_NO")
@pass_options
def status(options: SendOptions, original_req_no: str) -> None:
    """The result of an earlier transfer or payment, by its req_no (310204)."""
    reply = _call(options, STATUS, {"query_flag": "1", "ogl_serial_no": original_req_no})
    _print_head(reply)
    for line in field_lines(reply.body, {"stat": QUERY_STAT}):
        click.echo(line)
    _finish(reply)


@send.command()
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@pass_options
def raw(options: SendOptions, file: Path) -> None:
    """Send an XML request file as it is and print the reply XML."""
    target = options.target()
    try:
        xml = unframe(_exchange(target, file.read_bytes()))
    except SendError as exc:
        if exc.sent:
            raise OutcomeUnknown(f"{exc}; the request was sent, its outcome is unknown") \
                from None
        raise click.ClickException(str(exc)) from None
    except ReplyError as exc:
        raise OutcomeUnknown(f"{exc}; the request was sent, its outcome is unknown") \
            from None
    try:
        _, text = decode_xml(xml, target.encoding)
    except ReplyError:
        text = xml.decode("utf-8", errors="replace")
    click.echo(text)
    try:
        reply = parse_reply(xml, encoding=target.encoding)
    except ReplyError as exc:
        raise click.ClickException(str(exc)) from None
    _finish(reply)
