"""Batch files in the exchange folder: reading them as segments, writing their results.

The ERP drops a text file, one item a line, comma-separated, into the
daemon's exchange folder (ini ``[files] dir``) and names it in ``filename``:

* 330002 payment lines: ``card_no,acname,amt,busino``
* 330010 collection lines: ``pay_acno,pay_acname,agreement_no,amt,busino[,pay_bank_no]``

in the configured encoding (GBK by default; GB18030, its superset, is how it
is decoded), amounts in yuan with at most two decimals, no quoting (a comma
is never part of a value), blank lines ignored. ``filename`` is a bare name:
a path, ``..`` or a hidden name is refused (D010) before anything is read.

A file is read twice and never held whole: :func:`scan` checks every line
and adds up count and total (so a bad line or wrong totals refuse the batch
before the bank sees any of it: D011 names the line), then :func:`segments`
yields the items a segment at a time for the upload. After the bank has run
the batch, :class:`ResultWriter` writes ``FILENAME.result`` beside it, a page
of results at a time: each input line followed by
``,sucFlg,flw,err_code,err_msg``, under a temporary name until complete so the
ERP never sees half a result file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from protocol import codes
from protocol.bodies import SEGMENT_ITEMS
from protocol.codes import ReturnCode
from protocol.money import MAX_FEN

PAYMENT = "330002"
COLLECTION = "330010"

#: Columns of a line, by tr_code (the optional last collection column included).
COLUMNS = {
    PAYMENT: ("card_no", "acname", "amt", "busino"),
    COLLECTION: ("pay_acno", "pay_acname", "agreement_no", "amt", "busino", "pay_bank_no"),
}

_NAME = r"[^,\x00-\x1f\x7f|]{1,60}"
_REF = r"[!-+\--~]{1,20}"  # printable ASCII but the comma
_AMOUNT = r"([0-9]{1,14})(?:\.([0-9]{1,2}))?"
_LINES = {
    PAYMENT: re.compile(rf"([0-9A-Za-z-]{{1,21}}),({_NAME}),{_AMOUNT},({_REF})"),
    COLLECTION: re.compile(
        rf"([0-9A-Za-z-]{{1,32}}),({_NAME}),({_REF}),{_AMOUNT},({_REF})(?:,([0-9]{{12}})?)?"),
}
_BARE_NAME = re.compile(r"[0-9A-Za-z_.+-]{1,128}")  # printable ASCII, as filename is


class BatchFileError(Exception):
    """A batch file the daemon refuses: ``code`` is D010 (the file) or D011 (a line)."""

    def __init__(self, code: ReturnCode, info: str) -> None:
        super().__init__(info)
        self.code = code
        self.info = info


@dataclass(frozen=True, slots=True)
class Scan:
    """What :func:`scan` found: the items and their total, in fen."""

    count: int
    total: int


def exchange_path(folder: Path, filename: str) -> Path:
    """The file ``filename`` names in the exchange folder; D010 unless a bare, present name."""
    if (not filename or "/" in filename or "\\" in filename or filename.startswith(".")
            or not _BARE_NAME.fullmatch(filename)):
        raise BatchFileError(codes.BATCH_FILE,
                             f"filename must be a bare file name in the exchange folder, not "
                             f"{_excerpt(filename)!r}")
    path = folder / filename
    if not path.is_file():
        raise BatchFileError(codes.BATCH_FILE, f"no file {filename} in the exchange folder "
                                               f"{folder}")
    return path


def _excerpt(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


#: Bytes read and decoded at once: many lines for one decode call.
_BLOCK = 1 << 20
_BLANK = " \t\n\r\x0b\x0c"  # ASCII whitespace: a line of only these is blank


def _lines(path: Path, encoding: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of every non-blank line, decoded; D011 for undecodable bytes.

    The file is decoded a block of whole lines at a time. A newline byte is
    never part of a multi-byte GBK/GB18030 (or UTF-8) character, so a block
    decodes to exactly its lines; a block that does not decode is read again
    line by line to name the bad line.
    """
    codec = "gb18030" if encoding.upper() in ("GBK", "GB2312", "GB18030") else encoding
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise BatchFileError(codes.BATCH_FILE, f"cannot read {path.name}: {exc.strerror}") \
            from None
    number = 0
    with handle:
        rest = b""
        while True:
            block = handle.read(_BLOCK)
            data = rest + block
            if not block:
                rest = b""
            else:
                cut = data.rfind(b"\n") + 1
                data, rest = data[:cut], data[cut:]
            if number == 0 and data.startswith(b"\xef\xbb\xbf"):
                data = data[3:]
            if data:
                try:
                    lines = data.decode(codec).split("\n")
                except UnicodeDecodeError:
                    lines = None
                raws = data.split(b"\n")
                if data.endswith(b"\n"):  # the split's last piece is after the last newline
                    raws.pop()
                    if lines is not None:
                        lines.pop()
                for index, raw in enumerate(raws):
                    number += 1
                    if lines is not None:
                        line = lines[index].rstrip("\r")
                        if line.strip(_BLANK):  # what bytes.strip() strips, no more
                            yield number, line
                        continue
                    raw = raw.rstrip(b"\r")
                    if not raw.strip():
                        continue
                    try:
                        yield number, raw.decode(codec)
                    except UnicodeDecodeError:
                        raise BatchFileError(codes.BATCH_FILE_LINE,
                                             f"{path.name} line {number}: not {encoding} text") \
                            from None
            if not block:
                return


_AMOUNT_GROUP = {PAYMENT: 2, COLLECTION: 3}  # where yuan and cents start in a match


def _checked(tr_code: str, name: str, number: int, line: str) -> tuple[re.Match[str], int]:
    """The line's match and its amount in fen; D011 naming the line when it is wrong."""
    match = _LINES[tr_code].fullmatch(line)
    if match is None:
        raise BatchFileError(codes.BATCH_FILE_LINE,
                             f"{name} line {number}: {_why(tr_code, line)}")
    at = _AMOUNT_GROUP[tr_code]
    yuan, cents = match.group(at + 1, at + 2)
    amt = int(yuan) * 100 + (int(cents.ljust(2, "0")) if cents else 0)
    if amt <= 0 or amt > MAX_FEN:
        raise BatchFileError(codes.BATCH_FILE_LINE,
                             f"{name} line {number}: amount must be positive, at most "
                             "99999999999999.99")
    acname = match.group(2)
    # At most 4 bytes a character: only a name of more than 15 needs measuring.
    if len(acname) > 15 and not acname.isascii() and len(acname.encode("gb18030")) > 60:
        raise BatchFileError(codes.BATCH_FILE_LINE,
                             f"{name} line {number}: name longer than 60 bytes")
    return match, amt


def _item(tr_code: str, name: str, number: int, line: str) -> dict[str, object]:
    match, amt = _checked(tr_code, name, number, line)
    if tr_code == PAYMENT:
        card_no, acname, _, _, busino = match.groups()
        return {"card_no": card_no, "acname": acname, "card_flag": "0", "amt": amt,
                "busino": busino}
    pay_acno, acname, agreement_no, _, _, busino, bank_no = match.groups()
    return {"pay_acno": pay_acno, "pay_acname": acname, "agreement_no": agreement_no,
            "amt": amt, "busino": busino, "pay_bank_no": bank_no or ""}


def _why(tr_code: str, line: str) -> str:
    """A specific reason a line does not match its format."""
    columns = COLUMNS[tr_code]
    cells = line.split(",")
    required = 5 if tr_code == COLLECTION else 4
    if not required <= len(cells) <= len(columns):
        return (f"{len(cells)} columns, expected {required}"
                + (f" or {len(columns)}" if len(columns) > required else "")
                + f" ({','.join(columns)})")
    checks = {
        "card_no": (r"[0-9A-Za-z-]{1,21}", "at most 21 letters or digits"),
        "pay_acno": (r"[0-9A-Za-z-]{1,32}", "at most 32 letters or digits"),
        "acname": (_NAME, "a name of 1 to 60 bytes without '|' or control characters"),
        "pay_acname": (_NAME, "a name of 1 to 60 bytes without '|' or control characters"),
        "agreement_no": (_REF, "1 to 20 printable ASCII characters"),
        "amt": (_AMOUNT, "yuan with at most two decimals, e.g. 1234.50"),
        "busino": (_REF, "1 to 20 printable ASCII characters"),
        "pay_bank_no": (r"(?:[0-9]{12})?", "a 12-digit bank number or nothing"),
    }
    for column, cell in zip(columns, cells, strict=False):
        pattern, wanted = checks[column]
        if not re.fullmatch(pattern, cell):
            return f"{column} must be {wanted}: {_excerpt(cell)!r}"
    return "does not match the line format"


def scan(path: Path, tr_code: str, encoding: str = "GBK") -> Scan:
    """Check every line of a batch file; its item count and total. D011 at the first bad line."""
    count = total = 0
    name = path.name
    for number, line in _lines(path, encoding):
        total += _checked(tr_code, name, number, line)[1]
        count += 1
    if count == 0:
        raise BatchFileError(codes.BATCH_FILE_LINE, f"{name} holds no items")
    return Scan(count, total)


def segments(path: Path, tr_code: str, encoding: str = "GBK",
             size: int = SEGMENT_ITEMS) -> Iterator[list[dict[str, object]]]:
    """The file's items, ``size`` at a time (the last segment may hold fewer)."""
    name = path.name
    segment: list[dict[str, object]] = []
    for number, line in _lines(path, encoding):
        segment.append(_item(tr_code, name, number, line))
        if len(segment) == size:
            yield segment
            segment = []
    if segment:
        yield segment


def result_path(path: Path) -> Path:
    return path.with_name(path.name + ".result")


def _cell(text: str) -> str:
    return text.replace(",", "，").replace("\r", " ").replace("\n", " ").replace("\0", " ")


class ResultWriter:
    """Write ``FILENAME.result`` as results arrive: each input line, then its result.

    Feed it (suc_flg, flw, err_code, err_msg) tuples in file order, as many at
    a time as come (a page); :meth:`finish` checks that every line got one and
    moves the file into place, so the ERP never sees half a result file. Use
    it as a context manager: leaving it without finishing removes the draft.
    """

    def __init__(self, path: Path, encoding: str = "GBK") -> None:
        self.path = path
        self.target = result_path(path)
        self._temporary = self.target.with_name(f".{self.target.name}.{os.getpid()}.tmp")
        self._codec = "gbk" if encoding.upper() in ("GBK", "GB2312") else encoding
        self._source = None
        self._out = None

    def __enter__(self) -> ResultWriter:
        self._source = self.path.open("rb")
        self._out = self._temporary.open("wb")
        return self

    def __exit__(self, *exc_info: object) -> None:
        for handle in (self._source, self._out):
            if handle is not None:
                handle.close()
        self._temporary.unlink(missing_ok=True)

    def _next_line(self) -> bytes | None:
        assert self._source is not None
        for raw in self._source:
            line = raw.rstrip(b"\r\n")
            if line.strip():
                return line
        return None

    def feed(self, results: Iterable[tuple[str, str, str, str]]) -> None:
        assert self._out is not None
        # The page's tails are encoded at once, NUL-separated (_cell leaves no NUL
        # in a tail, and no GBK character holds a NUL byte).
        tails = "\0".join([f",{suc_flg},{flw},{err_code},{_cell(err_msg)}\r\n"
                            for suc_flg, flw, err_code, err_msg in results])
        if not tails:
            return
        parts = []
        for tail in tails.encode(self._codec, errors="replace").split(b"\0"):
            line = self._next_line()
            if line is None:
                raise ValueError(f"{self.path.name}: the bank has more items than the file "
                                 "has lines")
            parts.append(line + tail)
        self._out.write(b"".join(parts))

    def finish(self) -> Path:
        assert self._out is not None
        if self._next_line() is not None:
            raise ValueError(f"{self.path.name}: more lines than the bank has items")
        self._out.close()
        os.replace(self._temporary, self.target)
        return self.target


def write_result(path: Path, results: Iterable[tuple[str, str, str, str]],
                 encoding: str = "GBK") -> Path:
    """Write ``FILENAME.result`` from ``results`` at once (see :class:`ResultWriter`)."""
    with ResultWriter(path, encoding) as writer:
        writer.feed(results)
        return writer.finish()
