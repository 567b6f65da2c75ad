"""The ERP message format the ``directlink send`` commands speak, without I/O.

Building a request document, taking a reply out of its 7-byte length frame,
decoding it (a BOM or the XML declaration wins over the configured encoding),
parsing it safely into head and body fields, and reading its
``serial_record`` pipe tables (the 310101 one as :class:`AccountRow` rows,
which ``balance`` shows and ``transfer`` looks account names up in). Pure
functions, so they are tested without a socket; the connection is
:func:`directlink.commands.send.exchange`.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from daemon.erp_framing import (
    HEADER_LEN,
    MAX_FRAMED_LENGTH,
    ErpFramingError,
    parse_length_header,
)
from daemon.erp_xml import canonical_encoding, escape_text

#: The single-request tr_codes (the batch ones are in send_batch).
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

_UTF8_BOM = b"\xef\xbb\xbf"
_DECLARATION = re.compile(rb"\A\s*<\?xml\s[^>]*?\?>")
_DECLARED_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")

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
    def awaiting(self) -> bool:
        """The bank holds the instruction for the enterprise's approvals (A001): not final."""
        return self.particular_code == "A001"

    @property
    def unknown(self) -> bool:
        """The daemon could not learn the outcome: query with 310204, never resend anew."""
        return self.ans_code == "2" and not self.awaiting


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
