"""An ERP's view of directlink, for the end-to-end tests and the benchmark.

Everything here talks to the running system from outside, the way an
enterprise's ERP does, and deliberately uses none of the project's own
codecs:

* :func:`send_tcp` frames like a Java ERP integration of the bank's client:
  a 7-byte header (``"0"`` + the byte length, space-padded on the right),
  the GBK-encoded XML, one request per connection, then read until EOF;
* :func:`send_http` POSTs the XML with :mod:`http.client`;
* :func:`request_xml` builds a request document, :func:`parse_reply` turns a
  reply into head/body dicts, :func:`serial_record` splits the pipe table;
* :func:`start_process` / :func:`running` start ``directlink up`` (or
  ``core serve`` / ``daemon serve``) as a subprocess and parse its READY line;
  :func:`cli` runs a one-shot ``directlink`` command.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import count
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CORP_NO = "0000000001"
USER_NO = "001"
ACNO_1 = "310066726018010000001"  # Demo Insurance Co., Ltd., 1,000,000.00
ACNO_2 = "310066726018010000002"  # same enterprise, 250,000.00
ACNO_FROZEN = "310066726018010000003"
ACNO_OTHER_CORP = "310066726018010000101"  # enterprise 0000000002
ACNAME = "Demo Insurance Co., Ltd."
ZHANG_SAN = ("6222020200000000001", "Zhang San", "102100099996")  # active, ICBC
WANG_WU = ("6217000010000000003", "Wang Wu", "105100000017")  # closed

Address = tuple[str, int]

HEADER_LEN = 7
_READY = re.compile(r"^READY( [a-z_]+=\S+:\d+)+$")
_DECLARATION = re.compile(rb'^\s*<\?xml[^>]*encoding="([A-Za-z0-9_-]+)"[^>]*\?>')
_req_counter = count(1)


# -- building requests ------------------------------------------------------------


def unique_req_no(prefix: str = "T") -> str:
    """A req_no no other test (or earlier run on the same home) has used."""
    return f"{prefix}{time.time_ns():x}{os.getpid() % 10000:04d}{next(_req_counter):05d}"


def _escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def request_xml(
    tr_code: str,
    body: Mapping[str, str] | None = None,
    *,
    req_no: str = "",
    corp_no: str = CORP_NO,
    user_no: str = USER_NO,
    encoding: str = "GBK",
    head: Mapping[str, str] | None = None,
) -> bytes:
    """A request document as an ERP writes it, encoded in ``encoding``.

    ``head`` overrides or adds head fields (a value of ``None`` drops one).
    """
    fields: dict[str, str | None] = {
        "tr_code": tr_code, "corp_no": corp_no, "user_no": user_no, "req_no": req_no,
        "tr_acdt": time.strftime("%Y%m%d"), "tr_time": time.strftime("%H%M%S"),
        "atom_tr_count": "1", "channel": "0", "reserved": "",
    }
    fields.update(head or {})
    parts = [f'<?xml version="1.0" encoding="{encoding}"?><ap><head>']
    parts += [f"<{k}>{_escape(v)}</{k}>" for k, v in fields.items() if v is not None]
    parts.append("</head><body>")
    parts += [f"<{k}>{_escape(v)}</{k}>" for k, v in (body or {}).items()]
    parts.append("</body></ap>")
    return "".join(parts).encode(encoding)


def transfer_body(amt: str, *, pay_acno: str = ACNO_1, rcv_acno: str = ACNO_2,
                  rcv_acname: str = ACNAME, summary: str = "e2e", **extra: str) -> dict:
    """A same-bank 210201 body."""
    return {"pay_acno": pay_acno, "pay_acname": ACNAME, "rcv_bank_name": "Simulated Bank",
            "rcv_acno": rcv_acno, "rcv_acname": rcv_acname, "cur_code": "CNY", "amt": amt,
            "summary": summary, "bank_flag": "0", "area_flag": "0", **extra}


def payment_body(amt: str, payee: tuple[str, str, str] = ZHANG_SAN, *,
                 pay_acno: str = ACNO_1, **extra: str) -> dict:
    """A 210224 inter-bank payment body to ``payee`` = (acno, name, bank_no)."""
    acno, name, bank_no = payee
    return {"pay_acno": pay_acno, "pay_acname": ACNAME, "rcv_acno": acno,
            "rcv_acname": name, "partyid": bank_no, "amt": amt, "purpose": "e2e",
            "summary": "e2e", **extra}


# -- transports -------------------------------------------------------------------


class FramingError(Exception):
    """The daemon's reply is not framed as the bank's client frames it."""


def frame(xml: bytes) -> bytes:
    """The 7-byte header as Java ERP code writes it: ``"0" + len``, space-padded."""
    header = ("0" + str(len(xml))).ljust(HEADER_LEN).encode("ascii")
    assert len(header) == HEADER_LEN
    return header + xml


def read_until_eof(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        data = sock.recv(65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def unframe(data: bytes) -> bytes:
    """The XML of a framed reply; raises :class:`FramingError` if it does not add up."""
    header = data[:HEADER_LEN]
    if len(header) < HEADER_LEN:
        raise FramingError(f"reply shorter than its header: {data!r}")
    digits = header.decode("ascii").rstrip(" ")
    if not digits.startswith("0") or not digits[1:].isdigit():
        raise FramingError(f"bad reply header {header!r}")
    xml = data[HEADER_LEN:]
    if len(xml) != int(digits):
        raise FramingError(f"header announces {int(digits)} bytes, got {len(xml)}")
    return xml


def send_raw(address: Address, data: bytes, *, timeout: float = 60.0) -> bytes:
    """Write ``data`` as is, half-close, return everything read until EOF."""
    with socket.create_connection(address, timeout=timeout) as sock:
        sock.sendall(data)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)
        return read_until_eof(sock)


def send_tcp(address: Address, xml: bytes, *, timeout: float = 60.0) -> bytes:
    """One ERP request over raw TCP; returns the reply XML (header checked, stripped).

    Like the bank client's Java sample it does not half-close: it writes the
    framed request and reads until the daemon closes.
    """
    with socket.create_connection(address, timeout=timeout) as sock:
        sock.sendall(frame(xml))
        return unframe(read_until_eof(sock))


def send_http(address: Address, xml: bytes, *, timeout: float = 60.0,
              content_type: str = "text/xml; charset=GBK") -> tuple[int, bytes]:
    """One ERP request as an HTTP POST; returns (status, response body)."""
    conn = http.client.HTTPConnection(*address, timeout=timeout)
    try:
        conn.request("POST", "/", body=xml, headers={"Content-Type": content_type})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# -- replies ----------------------------------------------------------------------


@dataclass(repr=False)
class Reply:
    head: dict[str, str]
    body: dict[str, str]
    raw: bytes
    head_order: list[str] = field(default_factory=list)
    body_order: list[str] = field(default_factory=list)
    encoding: str = "GBK"

    @property
    def code(self) -> str:
        return self.head.get("particular_code", "")

    @property
    def info(self) -> str:
        return self.head.get("particular_info", "")

    @property
    def ok(self) -> bool:
        return self.code == "0000"

    def table(self) -> list[list[str]]:
        return serial_record(self.body)

    def __repr__(self) -> str:
        return f"<Reply {self.code} {self.info!r} head={self.head} body={self.body}>"


def parse_reply(xml: bytes) -> Reply:
    """Head and body of a reply document, decoded with its declared encoding.

    expat cannot decode multi-byte encodings such as GBK, so decode first and
    parse the text, as an ERP's XML library would after reading the declaration.
    """
    match = _DECLARATION.match(xml)
    encoding = match.group(1).decode("ascii") if match else "UTF-8"
    text = xml.decode(encoding)
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)
    root = ET.fromstring(text)
    if root.tag != "ap":
        raise ValueError(f"reply root is <{root.tag}>, not <ap>")
    head_el, body_el = root.find("head"), root.find("body")
    if head_el is None or body_el is None or len(root) != 2:
        raise ValueError(f"reply is not <ap><head/><body/></ap>: {text[:200]!r}")
    for element in (*head_el, *body_el):
        if len(element):
            raise ValueError(f"nested element in reply field <{element.tag}>")
    return Reply(
        head={e.tag: (e.text or "") for e in head_el},
        body={e.tag: (e.text or "") for e in body_el},
        raw=xml,
        head_order=[e.tag for e in head_el],
        body_order=[e.tag for e in body_el],
        encoding=encoding,
    )


def serial_record(body: Mapping[str, str]) -> list[list[str]]:
    """The ``serial_record`` table as rows of cells, header row first."""
    text = body.get("serial_record", "")
    width = int(body["field_num"])
    cells = text.split("|")
    if cells[-1] != "":
        raise ValueError("serial_record does not end with '|'")
    cells = cells[:-1]
    if len(cells) % width:
        raise ValueError(f"{len(cells)} cells is not a multiple of field_num {width}")
    rows = [cells[i:i + width] for i in range(0, len(cells), width)]
    if len(rows) - 1 != int(body["record_num"]):
        raise ValueError(f"{len(rows) - 1} records but record_num {body['record_num']}")
    return rows


class ErpClient:
    """Requests to one running daemon, over raw TCP (default) or HTTP."""

    def __init__(self, erp_tcp: Address, erp_http: Address, *, transport: str = "tcp",
                 timeout: float = 60.0) -> None:
        self.erp_tcp = erp_tcp
        self.erp_http = erp_http
        self.transport = transport
        self.timeout = timeout

    def over(self, transport: str) -> ErpClient:
        return ErpClient(self.erp_tcp, self.erp_http, transport=transport,
                         timeout=self.timeout)

    def send_xml(self, xml: bytes) -> Reply:
        if self.transport == "tcp":
            return parse_reply(send_tcp(self.erp_tcp, xml, timeout=self.timeout))
        status, data = send_http(self.erp_http, xml, timeout=self.timeout)
        if status != 200:
            raise AssertionError(f"HTTP {status}: {data[:300]!r}")
        return parse_reply(data)

    def send(self, tr_code: str, body: Mapping[str, str] | None = None, **kw) -> Reply:
        return self.send_xml(request_xml(tr_code, body, **kw))

    def account_row(self, acno: str) -> list[str]:
        """The 310101 row of one account (cells 10-19 of the table)."""
        reply = self.send("310101", {"acno": acno}, req_no=unique_req_no("B"))
        assert reply.ok, reply
        cells = reply.body["serial_record"].split("|")
        assert cells[19] == "0", reply
        return cells[10:20]

    def balance(self, acno: str) -> Decimal:
        """The available balance of ``acno`` (cell 14 of the 310101 table)."""
        return Decimal(self.account_row(acno)[4])

    def ledger_balance(self, acno: str) -> Decimal:
        return Decimal(self.account_row(acno)[3])

    def status(self, req_no: str) -> Reply:
        reply = self.send("310204", {"query_flag": "1", "ogl_serial_no": req_no},
                          req_no=unique_req_no("Q"))
        assert reply.ok, reply
        return reply

    def wait_status(self, req_no: str, final: tuple[str, ...] = ("1", "2", "4"), *,
                    timeout: float = 30.0, home: Path | None = None) -> Reply:
        """Query 310204 until ``stat`` is in ``final``; with ``home``, force clearing."""
        deadline = time.monotonic() + timeout
        while True:
            reply = self.status(req_no)
            if reply.body.get("stat") in final:
                return reply
            if time.monotonic() > deadline:
                raise AssertionError(f"{req_no} still not final after {timeout} s: {reply}")
            if home is not None:
                cli("core", "clear", "--home", str(home), check=False)
            time.sleep(0.3)


# -- processes --------------------------------------------------------------------


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-c", "from directlink.cli import main; main()", *args]


def cli(*args: str, check: bool = True, timeout: float = 60.0
        ) -> subprocess.CompletedProcess[str]:
    """Run one ``directlink`` command to completion."""
    result = subprocess.run(cli_command(*args), cwd=REPO, capture_output=True, text=True,
                            timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"directlink {' '.join(args)} exited {result.returncode}:\n"
                             f"{result.stdout}\n{result.stderr}")
    return result


def parse_ready(line: str) -> dict[str, Address]:
    """``READY erp_tcp=H:P erp_http=H:P core=H:P`` -> {name: (host, port)}."""
    if not _READY.match(line):
        raise ValueError(f"not a READY line: {line!r}")
    found: dict[str, Address] = {}
    for item in line.split()[1:]:
        name, _, address = item.partition("=")
        host, _, port = address.rpartition(":")
        found[name] = (host, int(port))
    return found


@dataclass
class Running:
    """A started ``directlink`` process and the addresses from its READY line."""

    proc: subprocess.Popen
    ready_line: str
    addresses: dict[str, Address]
    home: Path
    stderr_path: Path

    @property
    def erp_tcp(self) -> Address:
        return self.addresses["erp_tcp"]

    @property
    def erp_http(self) -> Address:
        return self.addresses["erp_http"]

    @property
    def core(self) -> Address:
        return self.addresses["core"]

    def client(self, transport: str = "tcp") -> ErpClient:
        return ErpClient(self.erp_tcp, self.erp_http, transport=transport)

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Send ``sig`` and wait; returns the exit status (kills it if it hangs)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"{self.proc.args[3:]} did not exit within {timeout} s "
                                 f"of signal {sig}:\n{self.stderr()[-3000:]}") from None
        finally:
            if self.proc.stdout is not None and self.proc.returncode is not None:
                self.proc.stdout.close()


def start_process(args: list[str], home: Path, *, timeout: float = 60.0,
                  log_name: str | None = None) -> Running:
    """Start ``directlink ARGS`` and wait for its READY line on stdout."""
    home = Path(home)
    log_dir = home.parent
    log_dir.mkdir(parents=True, exist_ok=True)
    stderr_path = log_dir / f"{log_name or home.name + '-' + args[0]}.{time.time_ns()}.stderr"
    with open(stderr_path, "wb") as err:
        proc = subprocess.Popen(cli_command(*args), cwd=REPO, stdout=subprocess.PIPE,
                                stderr=err, stdin=subprocess.DEVNULL)
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    deadline = time.monotonic() + timeout
    buffered = b""
    while b"\n" not in buffered:
        left = deadline - time.monotonic()
        readable, _, _ = select.select([fd], [], [], max(left, 0))
        chunk = os.read(fd, 4096) if readable else b""
        if not chunk:
            proc.kill()
            proc.wait()
            why = "exited" if readable else f"no READY line within {timeout} s"
            raise AssertionError(
                f"directlink {' '.join(args)}: {why} (status {proc.returncode}); "
                f"stdout {buffered!r}\nstderr:\n"
                f"{stderr_path.read_text(errors='replace')[-3000:]}")
        buffered += chunk
    line = buffered.split(b"\n", 1)[0].decode("ascii")
    return Running(proc, line, parse_ready(line), home, stderr_path)


def up_args(home: Path, *extra: str) -> list[str]:
    return ["up", "--home", str(home), "--erp-port", "0", "--http-port", "0",
            "--core-port", "0", *extra]


@contextlib.contextmanager
def running(args: list[str], home: Path, **kw) -> Iterator[Running]:
    """Start a ``directlink`` process for the ``with`` block, then stop it (SIGTERM)."""
    proc = start_process(args, home, **kw)
    try:
        yield proc
    finally:
        proc.stop()


@contextlib.contextmanager
def running_up(home: Path, *extra: str, **kw) -> Iterator[Running]:
    """``directlink up`` on ``home`` with every port 0, for the ``with`` block."""
    with running(up_args(home, *extra), home, **kw) as proc:
        yield proc
