"""``directlink send …``: an ERP-like client for admins, and what its commands share.

It talks to the client daemon exactly as an ERP system does: raw TCP to
``[forward] erp_port``, one connection per request, the request XML (in the
configured encoding, GBK by default) behind a 7-byte length header, then it
reads the framed reply until the daemon closes the connection.

This module holds the ``send`` group and its options, the connection
(:func:`exchange`, the only I/O), how a reply is shown (:func:`render_table`,
:func:`field_lines`) and the exit status it gives, and the ``raw`` command,
which has no tr_code of its own. The message format is
:mod:`~directlink.commands.send_wire`; the subcommands are one module per
family, registered on the group in :mod:`directlink.cli`:

* :mod:`~directlink.commands.send_queries`: balance (310101), details
  (310201), history (310301), status (310204);
* :mod:`~directlink.commands.send_transfers`: transfer (210201), interbank
  (210224);
* :mod:`~directlink.commands.send_batch`: batch-pay (330002), batch-collect
  (330010), batch-status (310207).

Each command prints the reply's result, req_no and serial_no, then the table
or fields, and exits 0 on ``0000``, 1 on a refusal and 2 when the outcome is
unknown (``ans_code`` 2: query it with ``directlink send status REQ_NO``).
"""

from __future__ import annotations

import re
import socket
import time
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import click

from config.errors import ConfigError
from config.ini import ClientConfig, load_config
from daemon.erp_framing import HEADER_LEN, MAX_FRAMED_LENGTH, frame_reply
from directlink.commands.common import (
    config_option,
    config_path_for,
    home_option,
    load_client_config,
)
from directlink.commands.send_wire import (
    INTERBANK,
    TRANSFER,
    BodyValue,
    Reply,
    ReplyError,
    build_request,
    decode_xml,
    new_req_no,
    parse_reply,
    reply_table,
    unframe,
)

#: A reply larger than this is not an ERP reply (the header can announce 999999 bytes).
MAX_REPLY = HEADER_LEN + MAX_FRAMED_LENGTH + 1024

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

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
# Showing replies.


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
# The group and what its commands share.


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


def call(options: SendOptions, tr_code: str, body: Mapping[str, str], *,
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


def print_head(reply: Reply) -> None:
    """The reply's result, req_no and serial_no, as every command starts its output."""
    click.echo(f"result:    {_clean(reply.particular_code)} {_clean(reply.particular_info)}")
    click.echo(f"req_no:    {_clean(reply.req_no)}")
    click.echo(f"serial_no: {_clean(reply.serial_no) or '-'}")


def finish(reply: Reply) -> None:
    """Exit status from the reply: 0 success, 1 refused, 2 outcome unknown, 3 awaiting
    authorization."""
    ctx = click.get_current_context()
    if reply.awaiting:
        click.echo(f"awaiting authorization: nothing moves until the enterprise's approvers "
                   f"approve it (`directlink approvals list`); then query it with "
                   f"`directlink send status {reply.req_no}`", err=True)
        ctx.exit(3)
    if reply.unknown:
        click.echo(f"outcome unknown: do not treat it as failed; query it with "
                   f"`directlink send status {reply.req_no}`", err=True)
        ctx.exit(2)
    if not reply.ok:
        ctx.exit(1)


def show_table(lines: list[str], count: int, noun: str, plural: str) -> None:
    """A table's lines after a blank line (none when empty), then how many rows it has."""
    if count:
        click.echo("")
        for line in lines:
            click.echo(line)
    click.echo(f"{count} {noun if count == 1 else plural}")


def table_or_fail(reply: Reply, field_num: int) -> tuple[list[str], list[list[str]]]:
    """The reply's ``serial_record`` table; an unreadable one is a one-line error."""
    try:
        return reply_table(reply, field_num)
    except ReplyError as exc:
        raise click.ClickException(str(exc)) from None


# --------------------------------------------------------------------------
# A request file as it is.


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
    finish(reply)
