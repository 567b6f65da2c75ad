"""The worked examples of docs/erp-interface.md, replayed against ``directlink up``.

Every ``<!-- example: CODE request [variant] -->`` block is sent, in document
order, to a fresh demo system over raw TCP (exactly the bytes an ERP would
send: the example text encoded in its declared encoding). Each reply must be
the paired ``<!-- example: CODE reply [variant] -->`` block: the same
encoding, the same head and body elements in the same order (the batch
replies' ``<tran><rcd>`` items included), with the same values, except for
the values that vary from run to run, which must only have the documented
form (in the reply and in the doc alike):

* the head's ``tr_acdt`` (8 digits) and ``tr_time`` (6 digits);
* a non-empty ``serial_no`` (a transaction's or a batch's: business date +
  8-digit sequence); an empty one must stay empty;
* ``req_no`` when the request's is empty (the daemon assigns ``DL...``);
* the date, time and serial number cells of the 310201/310301 entry tables;
* a non-empty ``flw`` of a batch item (``<tran><rcd>``, in 330002/330010 and
  310208 replies: the item's serial, business date + 8-digit sequence), and
  the flw column of a result file; an empty one must stay empty.

Batch files: every ``<!-- example file: NAME -->`` block (a ```` ```text ````
block) is written, GBK-encoded, into the demo home's exchange folder
(HOME/files) before the first request, as an ERP drops its file there. A
block named ``NAME.result`` is instead what the system must have written
there by the end of the replay (each line compared, its flw masked).

A file batch runs in the background after its reply, as an ERP polls for it:
a 310207 request whose documented reply shows a final ``state`` (3 finished,
4 refused) is sent again, with the same req_no (a query executes nothing),
every 0.2 s for at most 20 s, while the live reply says 0 or 2.

docs/examples/refresh.py prints (or ``--write``s) the reply and result-file
blocks from a replay; it uses :func:`replay` and :func:`parse` from here.
"""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.erp_client import REPO, running_up, send_tcp, serial_record

DOC = REPO / "docs" / "erp-interface.md"

EXAMPLE = re.compile(
    r"<!-- example: (?P<tr_code>\d{6}) (?P<kind>request|reply)(?: (?P<variant>[a-z]+))? -->\n"
    r"```xml\n(?P<xml>.*?)```",
    re.S,
)
FILE_EXAMPLE = re.compile(
    r"<!-- example file: (?P<name>[^ >]+) -->\n```text\n(?P<text>.*?)```", re.S)
_DECLARED = re.compile(r'^<\?xml[^>]*encoding="([A-Za-z0-9_-]+)"')
_DECLARED_BYTES = re.compile(rb'^\s*<\?xml[^>]*encoding="([A-Za-z0-9_-]+)"[^>]*\?>')

DATE = re.compile(r"\d{8}")
TIME = re.compile(r"\d{6}")
SERIAL = re.compile(r"\d{16}")  # a transaction's: business date + 8-digit sequence
ASSIGNED_REQ_NO = re.compile(r"DL\d{20}[0-9a-f]{8}")  # date, time, sequence, random hex
#: An entry table (310201/310301) and the form of its varying leading columns.
ENTRY_HEADER = "交易日期"
ENTRY_VARYING = (DATE, TIME, SERIAL)  # 交易日期, 交易时间, 流水号
#: Batch files are written in the daemon's configured encoding: the demo's is GBK.
FILE_ENCODING = "gbk"
#: Polling a batch's status until it reaches the documented final state.
POLLED = "310207"
FINAL_STATES = ("3", "4")
POLL_EVERY, POLL_FOR = 0.2, 20.0

Key = tuple[str, str]  # (tr_code, variant or "")
#: A body field: its text, or its child fields (``<tran>``, ``<rcd>``).
Value = str | list[tuple[str, "Value"]]


def examples(text: str) -> list[tuple[Key, str, str]]:
    return [((m.group("tr_code"), m.group("variant") or ""), m.group("kind"), m.group("xml"))
            for m in EXAMPLE.finditer(text)]


def example_files(text: str) -> dict[str, str]:
    """The doc's file blocks by name: batch files, and ``.result`` files expected."""
    return {m.group("name"): m.group("text") for m in FILE_EXAMPLE.finditer(text)}


def encode(xml: str) -> bytes:
    """The example's bytes as an ERP sends them: encoded as it declares."""
    match = _DECLARED.match(xml)
    return xml.encode(match.group(1) if match else "utf-8")


@dataclass
class Parsed:
    """A reply document: head fields, body fields (nested where the reply nests them)."""

    encoding: str
    head: dict[str, str]
    body: list[tuple[str, Value]]

    @property
    def flat_body(self) -> dict[str, str]:
        return {name: value for name, value in self.body if isinstance(value, str)}


def _fields(element: ET.Element) -> list[tuple[str, Value]]:
    return [(child.tag, _fields(child) if len(child) else (child.text or ""))
            for child in element]


def parse(xml: bytes) -> Parsed:
    """A reply's head and body, decoded with its declared encoding.

    Like :func:`tests.erp_client.parse_reply`, but keeps the batch replies'
    nested ``<tran><rcd>`` items (as lists of fields).
    """
    match = _DECLARED_BYTES.match(xml)
    encoding = match.group(1).decode("ascii") if match else "UTF-8"
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", xml.decode(encoding))
    root = ET.fromstring(text)
    head, body = root.find("head"), root.find("body")
    if root.tag != "ap" or head is None or body is None or len(root) != 2:
        raise ValueError(f"reply is not <ap><head/><body/></ap>: {text[:200]!r}")
    if any(len(field) for field in head):
        raise ValueError("nested element in the reply head")
    return Parsed(encoding, {e.tag: (e.text or "") for e in head}, _fields(body))


@dataclass
class Replayed:
    replies: dict[Key, bytes]  # the raw reply to each request example
    files: dict[str, str]  # each expected .result file, as the system wrote it


def _state(xml: bytes) -> str:
    return parse(xml).flat_body.get("state", "")


def replay(text: str, erp_tcp: tuple[str, int], home: Path) -> Replayed:
    """Every request example sent, in document order, to the system at ``erp_tcp``.

    Writes the doc's batch files into ``home``/files first, polls a 310207
    whose documented state is final, and reads back the expected result files.
    """
    found = examples(text)
    documented = {key: xml for key, kind, xml in found if kind == "reply"}
    files = example_files(text)
    folder = home / "files"
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        if not name.endswith(".result"):
            (folder / name).write_bytes(content.encode(FILE_ENCODING))
    replies: dict[Key, bytes] = {}
    for key, kind, xml in found:
        if kind != "request":
            continue
        data = encode(xml)
        reply = send_tcp(erp_tcp, data)
        if key[0] == POLLED and key in documented \
                and _state(encode(documented[key])) in FINAL_STATES:
            deadline = time.monotonic() + POLL_FOR
            while _state(reply) not in FINAL_STATES and time.monotonic() < deadline:
                time.sleep(POLL_EVERY)
                reply = send_tcp(erp_tcp, data)
        replies[key] = reply
    written = {}
    for name in files:
        if name.endswith(".result"):
            path = folder / name
            written[name] = (path.read_bytes().decode(FILE_ENCODING) if path.exists()
                             else "<not written>\n")
    return Replayed(replies, written)


def parse_request_head(xml: str) -> dict[str, str]:
    root = ET.fromstring(re.sub(r"^<\?xml[^>]*\?>", "", xml))
    head = root.find("head")
    return {} if head is None else {e.tag: (e.text or "").strip() for e in head}


def masked_result_lines(text: str) -> tuple[list[str], list[str]]:
    """A result file's lines with each flw masked; and the flw values of the wrong form.

    Each line is the input line, then ``,sucFlg,flw,err_code,err_msg``; an
    err_msg holds no comma (the daemon writes it full-width), so flw is the
    third cell from the end.
    """
    lines, wrong = [], []
    for line in text.splitlines():
        cells = line.split(",")
        if len(cells) >= 4 and cells[-3]:
            if not SERIAL.fullmatch(cells[-3]):
                wrong.append(line)
            cells[-3] = f"<{SERIAL.pattern}>"
        lines.append(",".join(cells))
    return lines, wrong


# -- the test ----------------------------------------------------------------------


def _doc_examples() -> list[tuple[Key, str, str]]:
    return examples(DOC.read_text(encoding="utf-8")) if DOC.exists() else []


EXAMPLES = _doc_examples()
REQUESTS = {key: xml for key, kind, xml in EXAMPLES if kind == "request"}
REPLIES = {key: xml for key, kind, xml in EXAMPLES if kind == "reply"}
PAIRS = [key for key in REQUESTS if key in REPLIES]
FILES = example_files(DOC.read_text(encoding="utf-8")) if DOC.exists() else {}
RESULTS = sorted(name for name in FILES if name.endswith(".result"))

pytestmark = pytest.mark.skipif(not DOC.exists(), reason=f"{DOC} not written yet")


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replayed]:
    """Every request example sent in document order; the replies and result files."""
    home = tmp_path_factory.mktemp("docs") / "home"
    with running_up(home) as system:
        yield replay(DOC.read_text(encoding="utf-8"), system.erp_tcp, home)


def test_the_doc_has_examples_for_every_tr_code() -> None:
    tr_codes = {key[0] for key in PAIRS}
    assert {"310101", "310201", "310301", "210201", "210224", "310204",
            "330002", "330010", "310207", "310208", "310210"} <= tr_codes
    for key, kind, xml in EXAMPLES:
        assert ET.fromstring(re.sub(r"^<\?xml[^>]*\?>", "", xml)).tag == "ap", (key, kind)


def _masked(reply: Parsed, *, req_no_assigned: bool
            ) -> tuple[list[tuple[str, object]], list[tuple[str, object]], list[str]]:
    """Head and body fields in order, each varying value replaced by its form.

    Also returns the varying values that do not have their form.
    """
    wrong: list[str] = []

    def mask(what: str, value: str, form: re.Pattern[str]) -> str:
        if not form.fullmatch(value):
            wrong.append(f"{what} = {value!r} is not {form.pattern}")
        return f"<{form.pattern}>"

    head: dict[str, object] = dict(reply.head)
    for name, form in (("tr_acdt", DATE), ("tr_time", TIME)):
        if name in head:
            head[name] = mask(name, reply.head[name], form)
    if reply.head.get("serial_no"):
        head["serial_no"] = mask("serial_no", reply.head["serial_no"], SERIAL)
    if req_no_assigned and "req_no" in head:
        head["req_no"] = mask("req_no", reply.head["req_no"], ASSIGNED_REQ_NO)

    def fields(values: list[tuple[str, Value]], where: str) -> list[tuple[str, object]]:
        out: list[tuple[str, object]] = []
        for name, value in values:
            if not isinstance(value, str):
                out.append((name, fields(value, f"{where}{name}/")))
            elif name == "flw" and value:
                out.append((name, mask(f"{where}flw", value, SERIAL)))
            else:
                out.append((name, value))
        return out

    body = fields(reply.body, "")
    flat = reply.flat_body
    if "serial_record" in flat:
        rows = serial_record(flat)  # also checks that the table adds up
        if rows and rows[0] and rows[0][0] == ENTRY_HEADER:
            for r, row in enumerate(rows[1:], start=1):
                for c, form in enumerate(ENTRY_VARYING):
                    row[c] = mask(f"serial_record row {r} cell {c}", row[c], form)
        body = [(name, rows if name == "serial_record" else value) for name, value in body]
    return list(head.items()), body, wrong


@pytest.mark.parametrize("key", PAIRS, ids=["-".join(filter(None, k)) for k in PAIRS])
def test_example_reply_is_what_the_system_answers(replayed: Replayed, key: Key) -> None:
    # Exact but for the values that vary between runs. The 310204 example asks
    # about the 210224 payment sent just before it, so it finds it still in
    # clearing (stat 0): the first batch clearing under `up` comes seconds later.
    assigned = not parse_request_head(REQUESTS[key]).get("req_no")
    got, documented = parse(replayed.replies[key]), parse(encode(REPLIES[key]))
    got_head, got_body, got_wrong = _masked(got, req_no_assigned=assigned)
    doc_head, doc_body, doc_wrong = _masked(documented, req_no_assigned=assigned)
    assert not doc_wrong, f"the documented sample values are malformed: {doc_wrong}"
    assert not got_wrong, (got_wrong, got)
    hint = "docs/erp-interface.md is out of date: see python docs/examples/refresh.py"
    assert got.encoding.upper() == documented.encoding.upper(), hint
    assert got_head == doc_head, hint
    assert got_body == doc_body, hint


@pytest.mark.parametrize("name", RESULTS)
def test_example_result_file_is_what_the_system_writes(replayed: Replayed, name: str) -> None:
    got, got_wrong = masked_result_lines(replayed.files[name])
    documented, doc_wrong = masked_result_lines(FILES[name])
    assert not doc_wrong and not got_wrong, (doc_wrong, got_wrong)
    assert got == documented, "docs/erp-interface.md is out of date: see " \
                              "python docs/examples/refresh.py"


def test_reply_only_examples_have_a_documented_structure() -> None:
    # The "unknown outcome" example cannot be replayed without killing the core
    # (tests/test_e2e_restart.py does that); its shape must still be a reply's.
    for key in set(REPLIES) - set(REQUESTS):
        documented = parse(encode(REPLIES[key]))
        plain = parse(encode(REPLIES[(key[0], "")]))
        assert list(documented.head) == list(plain.head)
        assert documented.head["ans_code"] == "2"
        assert documented.head["particular_code"] in ("D006", "D008")
