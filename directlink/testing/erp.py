"""An ERP's client for the directlink daemon: requests as XML, replies as objects.

It talks to the daemon from outside, as an enterprise's ERP does: raw TCP
with the 7-byte length header (``"0"`` + the byte length, space-padded), one
request per connection, read until the daemon closes; or an HTTP POST. GBK by
default. :meth:`ErpClient.send` sends any tr_code; the typed helpers build the
bodies of docs/erp-interface.md for every transaction the daemon knows.

Amounts are ``Decimal`` or ``str`` yuan (an ``int`` is whole yuan); a float
is refused, because binary floating point cannot hold most amounts in fen.
"""

from __future__ import annotations

import http.client
import itertools
import os
import socket
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeAlias

from daemon.erp_framing import (
    HEADER_LEN,
    MAX_FRAMED_LENGTH,
    ErpFramingError,
    frame_reply,
    parse_length_header,
)
from daemon.erp_xml import escape_text
from directlink.commands import send_wire

Address: TypeAlias = tuple[str, int]
Amount: TypeAlias = "Decimal | str | int"

_counter = itertools.count(1)


class ErpError(Exception):
    """The daemon's answer is not a reply an ERP can read (framing, HTTP status, XML)."""


def new_req_no(prefix: str = "T") -> str:
    """A req_no unique across tests, processes and runs (at most 32 characters)."""
    return f"{prefix}{time.time_ns():x}{os.getpid() % 100000:05d}{next(_counter) % 10**6:06d}"


def amount(value: Amount) -> str:
    """Yuan as the request writes them: ``Decimal("12.5")`` → ``"12.50"``; a str as is.

    A str is sent as given, so that a test can send a malformed amount on
    purpose; a Decimal with more than two decimals is sent as it is too (the
    daemon refuses it with E002).
    """
    if isinstance(value, bool | float):
        raise TypeError(f"amount {value!r}: give yuan as Decimal or str, never float")
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        value = Decimal(value)
    if isinstance(value, Decimal):
        if value.is_finite() and value == value.quantize(Decimal("0.01")):
            return f"{value:.2f}"
        return str(value)
    raise TypeError(f"amount {value!r}: give yuan as Decimal or str")


# -- replies ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """A parsed reply: its head and body fields, and the items of ``<tran><rcd>``."""

    head: dict[str, str]
    body: dict[str, str]
    items: list[dict[str, str]] = field(default_factory=list)
    raw: bytes = field(default=b"", repr=False)

    @property
    def tr_code(self) -> str:
        return self.head.get("tr_code", "")

    @property
    def req_no(self) -> str:
        """The request's req_no (the daemon's, if the request had none)."""
        return self.head.get("req_no", "")

    @property
    def serial_no(self) -> str:
        """The bank's serial for the request; empty if the bank did not answer."""
        return self.head.get("serial_no", "")

    @property
    def ans_code(self) -> str:
        """``0`` answered, ``1`` refused (nothing executed), ``2`` outcome unknown."""
        return self.head.get("ans_code", "")

    @property
    def code(self) -> str:
        """``particular_code``: ``0000`` or the 4-character return code."""
        return self.head.get("particular_code", "")

    @property
    def info(self) -> str:
        """``particular_info``: what happened, in words."""
        return self.head.get("particular_info", "")

    @property
    def ok(self) -> bool:
        """The bank answered with success (``particular_code`` 0000)."""
        return self.code == "0000"

    @property
    def awaiting(self) -> bool:
        """Held for the enterprise's approvals (A001, ``ans_code`` 2): not final, nothing
        moved yet; ``bank_approvals`` decides it (docs/approvals.md)."""
        return self.code == "A001"

    @property
    def unknown(self) -> bool:
        """The outcome is unknown (``ans_code`` 2, D006/D008): never treat as failed.

        A001 has ``ans_code`` 2 too, but its outcome is known: see :attr:`awaiting`.
        """
        return self.ans_code == "2" and not self.awaiting

    def __getitem__(self, name: str) -> str:
        """A body field: ``reply["stat"]``."""
        return self.body[name]

    def get(self, name: str, default: str = "") -> str:
        return self.body.get(name, default)

    def rows(self) -> list[list[str]]:
        """The ``serial_record`` table as rows of cells, the header row first.

        Checks the table against ``field_num`` and ``record_num``.
        """
        text = self.body.get("serial_record", "")
        width = int(self.body.get("field_num") or 0)
        cells = text.split("|")
        if cells[-1] != "":
            raise ErpError("serial_record does not end with '|'")
        cells = cells[:-1]
        if not width or len(cells) % width:
            raise ErpError(f"serial_record: {len(cells)} cells for field_num {width}")
        rows = [cells[i:i + width] for i in range(0, len(cells), width)]
        if len(rows) - 1 != int(self.body.get("record_num") or 0):
            raise ErpError(f"serial_record: {len(rows) - 1} records, record_num "
                           f"{self.body.get('record_num')}")
        return rows

    def table(self) -> list[dict[str, str]]:
        """The ``serial_record`` records as dicts keyed by the header (``余额``, ``账号``…)."""
        header, *records = self.rows()
        return [dict(zip(header, record, strict=True)) for record in records]

    def __str__(self) -> str:
        return f"{self.tr_code} {self.code} {self.info!r} req_no={self.req_no}"


def parse_reply(xml: bytes) -> Reply:
    """A reply document, decoded and parsed safely as ``directlink send`` reads it.

    The items of ``<tran><rcd>`` become :attr:`Reply.items`; the other body
    fields :attr:`Reply.body`.
    """
    try:
        parsed = send_wire.parse_reply(xml)
    except send_wire.ReplyError as exc:
        raise ErpError(f"{exc}: {xml[:300]!r}") from None
    tran = parsed.body.get("tran")
    records = tran.get("rcd", []) if isinstance(tran, dict) else []
    if not isinstance(records, list):
        records = [records]
    items = [{k: v for k, v in record.items() if isinstance(v, str)}
             for record in records if isinstance(record, dict)]
    body = {k: v for k, v in parsed.body.items() if isinstance(v, str) and k != "tran"}
    return Reply(head=parsed.head, body=body, items=items, raw=xml)


# -- requests ----------------------------------------------------------------------------


def _fields(values: Mapping[str, Any]) -> str:
    return "".join(f"<{k}>{escape_text(str(v))}</{k}>" for k, v in values.items()
                   if v is not None)


def request_xml(tr_code: str, body: Mapping[str, Any] | None = None, *,
                items: Iterable[Mapping[str, Any]] | None = None, req_no: str = "",
                corp_no: str = "", user_no: str = "", encoding: str = "GBK",
                head: Mapping[str, Any] | None = None) -> bytes:
    """A request document as an ERP writes it, encoded in ``encoding``.

    ``items`` become ``<tran><rcd>…</rcd></tran>`` at the end of the body;
    ``head`` adds or overrides head fields (``None`` drops one). A body value
    of ``None`` leaves its element out.
    """
    now = time.localtime()
    fields: dict[str, Any] = {
        "tr_code": tr_code, "corp_no": corp_no, "user_no": user_no, "req_no": req_no,
        "tr_acdt": time.strftime("%Y%m%d", now), "tr_time": time.strftime("%H%M%S", now),
        "atom_tr_count": "1", "channel": "0", "reserved": "",
    }
    fields.update(head or {})
    parts = [f'<?xml version="1.0" encoding="{encoding}"?><ap><head>', _fields(fields),
             "</head><body>", _fields(body or {})]
    if items is not None:
        parts += ["<tran>", *(f"<rcd>{_fields(item)}</rcd>" for item in items), "</tran>"]
    parts.append("</body></ap>")
    # A character the encoding lacks goes as a character reference, as ERPs send it.
    return "".join(parts).encode(encoding, errors="xmlcharrefreplace")


def frame(xml: bytes) -> bytes:
    """The raw TCP request: ``"0" + length``, space-padded to 7 bytes, then the XML.

    Requests and replies are framed alike; ValueError if the 7 bytes cannot
    announce ``xml``'s length.
    """
    return frame_reply(xml)


def unframe(data: bytes) -> bytes:
    """The XML of a framed reply; :class:`ErpError` unless the header announces all of it."""
    try:
        length = parse_length_header(data[:HEADER_LEN], max_length=MAX_FRAMED_LENGTH)
    except ErpFramingError as exc:
        raise ErpError(f"bad reply header {data[:40]!r}: {exc}") from None
    xml = data[HEADER_LEN:]
    if len(xml) != length:
        raise ErpError(f"reply header announces {length} bytes, got {len(xml)}")
    return xml


def send_tcp(address: Address, xml: bytes, *, timeout: float = 60.0) -> bytes:
    """One request over raw TCP; the reply's XML (framing checked and stripped)."""
    chunks = []
    with socket.create_connection(address, timeout=timeout) as sock:
        sock.sendall(frame(xml))
        while data := sock.recv(65536):
            chunks.append(data)
    return unframe(b"".join(chunks))


def send_http(address: Address, xml: bytes, *, timeout: float = 60.0,
              encoding: str = "GBK") -> bytes:
    """One request as an HTTP POST; the response body (an error status is an ErpError)."""
    conn = http.client.HTTPConnection(*address, timeout=timeout)
    try:
        conn.request("POST", "/", body=xml,
                     headers={"Content-Type": f"text/xml; charset={encoding}"})
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    if response.status != 200:
        raise ErpError(f"HTTP {response.status} {response.reason}: {data[:300]!r}")
    return data


# -- the client --------------------------------------------------------------------------


Item: TypeAlias = "Mapping[str, Any] | Sequence[Any]"

_PAY_ITEM = ("card_no", "acname", "amt", "busino")
_COLLECT_ITEM = ("pay_acno", "pay_acname", "agreement_no", "amt", "busino", "pay_bank_no")


class ErpClient:
    """Requests to one daemon, over raw TCP (``transport="tcp"``) or HTTP (``"http"``).

    ``names`` (account number → holder) and ``other_banks`` (account number →
    bank number) let the helpers fill in the names and bank numbers a body
    needs; the fixtures pass those of the seed. Every helper takes ``req_no``
    (default: a new unique one) and returns the parsed :class:`Reply`.
    """

    def __init__(self, erp_tcp: Address, erp_http: Address, *, corp_no: str = "",
                 user_no: str = "", transport: str = "tcp", encoding: str = "GBK",
                 timeout: float = 60.0, exchange_dir: Path | None = None,
                 names: Mapping[str, str] | None = None,
                 other_banks: Mapping[str, str] | None = None) -> None:
        if transport not in ("tcp", "http"):
            raise ValueError(f"transport is 'tcp' or 'http', not {transport!r}")
        self.erp_tcp = erp_tcp
        self.erp_http = erp_http
        self.corp_no = corp_no
        self.user_no = user_no
        self.transport = transport
        self.encoding = encoding
        self.timeout = timeout
        self.exchange_dir = exchange_dir
        #: Batch and result files are in the daemon's configured encoding, whatever
        #: the requests' own (the harness configures GBK, the default).
        self.file_encoding = "GBK"
        self.names = dict(names or {})
        self.other_banks = dict(other_banks or {})

    def over(self, transport: str | None = None, *, encoding: str | None = None) -> ErpClient:
        """The same client over another transport and/or encoding: ``erp.over("http")``."""
        return ErpClient(self.erp_tcp, self.erp_http, corp_no=self.corp_no,
                         user_no=self.user_no, transport=transport or self.transport,
                         encoding=encoding or self.encoding, timeout=self.timeout,
                         exchange_dir=self.exchange_dir, names=self.names,
                         other_banks=self.other_banks)

    # -- any request ----------------------------------------------------------------------

    def send_xml(self, xml: bytes) -> Reply:
        """Send a whole request document as it is; the parsed reply."""
        if self.transport == "tcp":
            return parse_reply(send_tcp(self.erp_tcp, xml, timeout=self.timeout))
        return parse_reply(send_http(self.erp_http, xml, timeout=self.timeout,
                                     encoding=self.encoding))

    def send(self, tr_code: str, body: Mapping[str, Any] | None = None, *,
             req_no: str | None = None, items: Iterable[Mapping[str, Any]] | None = None,
             head: Mapping[str, Any] | None = None) -> Reply:
        """Send ``tr_code`` with ``body`` (and ``<tran>`` ``items``); the parsed reply.

        ``req_no`` None makes a new unique one; ``""`` leaves it to the daemon.
        """
        xml = request_xml(tr_code, body, items=items,
                          req_no=new_req_no() if req_no is None else req_no,
                          corp_no=self.corp_no, user_no=self.user_no,
                          encoding=self.encoding, head=head)
        return self.send_xml(xml)

    # -- queries --------------------------------------------------------------------------

    def balance(self, acno: str, **kw: Any) -> Reply:
        """310101: account information and balance (``reply.table()`` has the row)."""
        return self.send("310101", {"acno": acno}, **kw)

    def available(self, acno: str) -> Decimal:
        """The available balance of ``acno`` (310101's 可用余额); raises unless answered."""
        reply = self.balance(acno)
        if not reply.ok:
            raise ErpError(f"310101 {acno}: {reply.code} {reply.info}")
        row = reply.table()[0]
        if row["成功标志"] != "0":
            raise ErpError(f"310101 {acno}: {row['错误信息']}")
        return Decimal(row["可用余额"])

    def today(self, acno: str, **kw: Any) -> Reply:
        """310201: today's transaction details (``reply.table()``: one dict per entry)."""
        return self.send("310201", {"acno": acno}, **kw)

    def history(self, acno: str, start_date: str | Any, end_date: str | Any, *,
                begin_no: int | None = None, query_num: int | None = None,
                **kw: Any) -> Reply:
        """310301: historical details between two dates (YYYYMMDD or ``datetime.date``)."""
        return self.send("310301", {
            "acno": acno, "start_date": _date(start_date), "end_date": _date(end_date),
            "begin_no": begin_no, "query_num": query_num}, **kw)

    def status(self, ogl_serial_no: str, *, query_flag: str = "1", **kw: Any) -> Reply:
        """310204: a transfer's or payment's result by its req_no (or the reply's serial_no)."""
        return self.send("310204", {"query_flag": query_flag,
                                    "ogl_serial_no": ogl_serial_no}, **kw)

    # -- payments -------------------------------------------------------------------------

    def transfer(self, pay_acno: str, rcv_acno: str, amt: Amount, *,
                 pay_acname: str | None = None, rcv_acname: str | None = None,
                 bank_flag: str | None = None, rcv_bank_no: str | None = None,
                 rcv_bank_name: str = "", cur_code: str = "CNY", cert_no: str = "",
                 summary: str = "", area_flag: str = "0", req_no: str | None = None,
                 **extra: Any) -> Reply:
        """210201: a transfer. Names and, for another bank's account, ``bank_flag`` 1
        and ``rcv_bank_no`` come from the seed when not given."""
        other_bank = self.other_banks.get(rcv_acno)
        body = {
            "pay_acno": pay_acno, "pay_acname": self._name(pay_acno, pay_acname),
            "rcv_bank_name": rcv_bank_name, "rcv_acno": rcv_acno,
            "rcv_acname": self._name(rcv_acno, rcv_acname), "rcv_exg_code": "",
            "rcv_bank_no": rcv_bank_no if rcv_bank_no is not None else other_bank or "",
            "cur_code": cur_code, "amt": amount(amt), "cert_no": cert_no, "summary": summary,
            "bank_flag": bank_flag if bank_flag is not None else ("1" if other_bank else "0"),
            "area_flag": area_flag, **extra}
        return self.send("210201", body, req_no=req_no)

    def payment(self, pay_acno: str, rcv_acno: str, amt: Amount, *,
                partyid: str | None = None, pay_acname: str | None = None,
                rcv_acname: str | None = None, cert_no: str = "", purpose: str = "",
                summary: str = "", req_no: str | None = None, **extra: Any) -> Reply:
        """210224: an inter-bank payment; ``partyid`` (the payee's bank) from the seed."""
        body = {
            "pay_acno": pay_acno, "pay_acname": self._name(pay_acno, pay_acname),
            "rcv_acno": rcv_acno, "rcv_acname": self._name(rcv_acno, rcv_acname),
            "partyid": partyid if partyid is not None else self.other_banks.get(rcv_acno, ""),
            "amt": amount(amt), "cert_no": cert_no, "purpose": purpose, "summary": summary,
            **extra}
        return self.send("210224", body, req_no=req_no)

    # -- batches --------------------------------------------------------------------------

    def batch_pay(self, pay_acno: str, items: Iterable[Item], *, file: str | bool = False,
                  cert_no: str = "", summary: str = "", pay_month: str = "",
                  busi_no: str = "", mailflg: str = "N", sum: int | None = None,
                  sum_amt: Amount | None = None, req_no: str | None = None,
                  **extra: Any) -> Reply:
        """330002: pay personal accounts. Items are dicts or
        ``(card_no, acname, amt, busino)`` tuples; ``sum``/``sum_amt`` are computed
        unless given. ``file=True`` (or a file name) writes the items into the
        exchange folder and sends the batch by file."""
        rows = [_item(item, _PAY_ITEM) for item in items]
        for row in rows:
            row.setdefault("card_flag", "0")
        batch = {"cert_no": cert_no, "pay_acno": pay_acno, "type": "S",
                 **self._totals(rows, sum, sum_amt), "pay_month": pay_month,
                 "summary": summary, "busi_no": busi_no, "mailflg": mailflg, **extra}
        return self._batch("330002", batch, rows, _PAY_ITEM[:4], file, req_no)

    def batch_collect(self, rcv_acno: str, items: Iterable[Item], *,
                      file: str | bool = False, cert_no: str = "", summary: str = "",
                      busi_no: str = "", sum: int | None = None,
                      sum_amt: Amount | None = None, req_no: str | None = None,
                      **extra: Any) -> Reply:
        """330010: collect under agreements. Items are dicts or ``(pay_acno, pay_acname,
        agreement_no, amt, busino[, pay_bank_no])`` tuples; otherwise as :meth:`batch_pay`."""
        rows = [_item(item, _COLLECT_ITEM) for item in items]
        batch = {"cert_no": cert_no, "rcv_acno": rcv_acno,
                 **self._totals(rows, sum, sum_amt), "summary": summary, "busi_no": busi_no,
                 **extra}
        return self._batch("330010", batch, rows, _COLLECT_ITEM, file, req_no)

    def batch_status(self, ogl_serial_no: str, *, result_file: bool = False,
                     filename: str = "", **kw: Any) -> Reply:
        """310207: a batch's state and counts; ``result_file=True`` has the daemon write
        ``FILENAME.result`` into the exchange folder (read it with :meth:`read_result`)."""
        return self.send("310207", {"ogl_serial_no": ogl_serial_no,
                                    "file_flag": "1" if result_file else "0",
                                    "filename": filename}, **kw)

    def batch_items(self, ogl_serial_no: str, *, status: str = "",
                    begin_no: int | None = None, query_num: int | None = None,
                    **kw: Any) -> Reply:
        """310208: a page of a batch's items (``reply.items``), optionally by sucFlg."""
        return self.send("310208", {"ogl_serial_no": ogl_serial_no, "status": status,
                                    "begin_no": begin_no, "query_num": query_num}, **kw)

    def agreements(self, rcv_acno: str, *, begin_no: int | None = None,
                   query_num: int | None = None, **kw: Any) -> Reply:
        """310210: a page of the payers with a collection agreement (``reply.items``)."""
        return self.send("310210", {"rcv_acno": rcv_acno, "begin_no": begin_no,
                                    "query_num": query_num}, **kw)

    def wait_status(self, ogl_serial_no: str, *, timeout: float = 30.0,
                    interval: float = 0.1) -> Reply:
        """310204 until the payment is final (stat 1, 2 or 4); the last reply.

        Under the fixtures the clearing cycle runs every 3 s; ``bank.clear()``
        asks for a run at once.
        """
        deadline = time.monotonic() + timeout
        while True:
            reply = self.status(ogl_serial_no)
            if reply.get("stat") in ("1", "2", "4"):
                return reply
            if time.monotonic() > deadline:
                raise ErpError(f"{ogl_serial_no} not final after {timeout:g} s: {reply}")
            time.sleep(interval)

    def wait_batch(self, ogl_serial_no: str, *, timeout: float = 30.0,
                   interval: float = 0.1) -> Reply:
        """310207 until the batch is final (state 3, 4 or 6); the last reply."""
        deadline = time.monotonic() + timeout
        while True:
            reply = self.batch_status(ogl_serial_no)
            if reply.get("state") in ("3", "4", "6"):
                return reply
            if time.monotonic() > deadline:
                raise ErpError(f"batch {ogl_serial_no} not final after {timeout:g} s: {reply}")
            time.sleep(interval)

    def read_result(self, filename: str) -> list[list[str]]:
        """A result file from the exchange folder, as lines of comma-separated cells."""
        text = self._exchange(filename).read_text(encoding=self.file_encoding)
        return [line.split(",") for line in text.splitlines() if line]

    # -- plumbing -------------------------------------------------------------------------

    def _name(self, acno: str, given: str | None) -> str:
        if given is not None:
            return given
        try:
            return self.names[acno]
        except KeyError:
            raise ValueError(f"no name known for account {acno}: pass it") from None

    def _totals(self, rows: list[dict[str, str]], count: int | None,
                total: Amount | None) -> dict[str, str]:
        computed = sum((Decimal(row["amt"]) for row in rows), Decimal(0)) if all(
            _is_decimal(row["amt"]) for row in rows) else Decimal(0)
        return {"sum": str(len(rows) if count is None else count),
                "sum_amt": amount(computed if total is None else total)}

    def _batch(self, tr_code: str, batch: dict[str, Any], rows: list[dict[str, str]],
               columns: Sequence[str], file: str | bool, req_no: str | None) -> Reply:
        req_no = new_req_no("B") if req_no is None else req_no
        if not file:
            return self.send(tr_code, {**batch, "file_flag": "0", "filename": ""},
                             items=rows, req_no=req_no)
        filename = file if isinstance(file, str) else f"{req_no or new_req_no('F')}.txt"
        lines = []
        for row in rows:
            cells = [row.get(column, "") for column in columns]
            while len(cells) > 4 and not cells[-1]:  # an optional last column
                cells.pop()
            lines.append(",".join(cells) + "\r\n")
        self._exchange(filename).write_bytes("".join(lines).encode(self.file_encoding))
        return self.send(tr_code, {**batch, "file_flag": "1", "filename": filename},
                         req_no=req_no)

    def _exchange(self, filename: str) -> Path:
        if self.exchange_dir is None:
            raise ValueError("this client knows no exchange folder (pass exchange_dir)")
        return Path(self.exchange_dir) / filename


def _item(item: Item, columns: Sequence[str]) -> dict[str, str]:
    values = dict(item) if isinstance(item, Mapping) else dict(zip(columns, item, strict=False))
    if isinstance(item, Sequence) and len(item) > len(columns):
        raise ValueError(f"item {item!r}: at most {len(columns)} values ({', '.join(columns)})")
    return {k: amount(v) if k == "amt" else ("" if v is None else str(v))
            for k, v in values.items()}


def _is_decimal(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True


def _date(value: Any) -> str:
    return value if isinstance(value, str) else value.strftime("%Y%m%d")
