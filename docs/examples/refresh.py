"""Replay the worked examples of docs/erp-interface.md and show what the system answers.

Usage (from the repository root, in the project's virtualenv)::

    python docs/examples/refresh.py          # print the reply blocks
    python docs/examples/refresh.py --write  # rewrite them in docs/erp-interface.md

It starts ``directlink up`` on a fresh demo home in a temporary directory
(every port 0), sends every ``<!-- example: CODE request [variant] -->``
block in document order over raw TCP, exactly as tests/test_e2e_docs.py
does, and renders each reply as the indented block of the paired
``<!-- example: CODE reply [variant] -->``. Reply-only examples (the
unknown outcome) are left alone.

Values that differ from run to run keep the sample value the doc already
shows, if it has the right form, so that refreshing changes nothing but real
differences: the head's ``tr_acdt`` and ``tr_time``, a non-empty
``serial_no``, a ``req_no`` the daemon assigned, and the date, time and
serial number cells of the 310201/310301 entry tables.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path
from xml.sax.saxutils import escape

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.erp_client import Reply, parse_reply, running_up, send_tcp  # noqa: E402

DOC = REPO / "docs" / "erp-interface.md"

EXAMPLE = re.compile(
    r"<!-- example: (?P<tr_code>\d{6}) (?P<kind>request|reply)(?: (?P<variant>[a-z]+))? -->\n"
    r"```xml\n(?P<xml>.*?)```",
    re.S,
)
DECLARED = re.compile(r'^<\?xml[^>]*encoding="([A-Za-z0-9_-]+)"')

DATE = re.compile(r"\d{8}")
TIME = re.compile(r"\d{6}")
SERIAL = re.compile(r"\d{16}")  # business date + 8-digit sequence number
ASSIGNED_REQ_NO = re.compile(r"DL\d{20}[0-9a-f]{8}")
#: The varying leading columns of an entry table (交易日期, 交易时间, 流水号).
ENTRY_VARYING = (DATE, TIME, SERIAL)
ENTRY_HEADER = "交易日期"

Key = tuple[str, str]  # (tr_code, variant or "")


def encode(xml: str) -> bytes:
    """The example's bytes as an ERP sends them: encoded as it declares."""
    match = DECLARED.match(xml)
    return xml.encode(match.group(1) if match else "utf-8")


def examples(text: str) -> list[tuple[Key, str, str]]:
    return [((m.group("tr_code"), m.group("variant") or ""), m.group("kind"), m.group("xml"))
            for m in EXAMPLE.finditer(text)]


def replay(text: str) -> dict[Key, Reply]:
    """Every request example sent, in document order, to a fresh ``directlink up``."""
    requests = [(key, xml) for key, kind, xml in examples(text) if kind == "request"]
    with tempfile.TemporaryDirectory(prefix="directlink-docs-") as tmp, \
            running_up(Path(tmp) / "home") as system:
        return {key: parse_reply(send_tcp(system.erp_tcp, encode(xml)))
                for key, xml in requests}


def _keep(live: str, documented: str | None, pattern: re.Pattern[str]) -> str:
    """The documented sample value when both it and the live value have the right form."""
    if documented is not None and pattern.fullmatch(live) and pattern.fullmatch(documented):
        return documented
    return live


def _table(rows: list[list[str]]) -> str:
    return "".join(f"{cell}|" for row in rows for cell in row)


def with_samples(live: Reply, documented: Reply | None, request_req_no: str) -> Reply:
    """``live`` with its varying values replaced by the documented samples."""
    doc_head = documented.head if documented else {}
    doc_body = documented.body if documented else {}
    head = dict(live.head)
    for name, pattern in (("tr_acdt", DATE), ("tr_time", TIME), ("serial_no", SERIAL)):
        head[name] = _keep(head[name], doc_head.get(name), pattern)
    if not request_req_no:
        head["req_no"] = _keep(head["req_no"], doc_head.get("req_no"), ASSIGNED_REQ_NO)
    body = dict(live.body)
    rows = live.table() if "serial_record" in body else []
    if rows and rows[0][0] == ENTRY_HEADER:
        doc_rows = documented.table() if documented and "serial_record" in doc_body else []
        for r, row in enumerate(rows[1:], start=1):
            for c, pattern in enumerate(ENTRY_VARYING):
                sample = doc_rows[r][c] if r < len(doc_rows) else None
                row[c] = _keep(row[c], sample, pattern)
        body["serial_record"] = _table(rows)
    return Reply(head=head, body=body, raw=live.raw, head_order=list(head),
                 body_order=list(body), encoding=live.encoding)


def render(reply: Reply) -> str:
    """A reply as the doc shows it: one field per line, indented."""
    lines = [f'<?xml version="1.0" encoding="{reply.encoding}"?>', "<ap>", "  <head>"]
    lines += [f"    <{k}>{escape(v)}</{k}>" for k, v in reply.head.items()]
    lines.append("  </head>")
    if reply.body:
        lines.append("  <body>")
        lines += [f"    <{k}>{escape(v)}</{k}>" for k, v in reply.body.items()]
        lines.append("  </body>")
    else:
        lines.append("  <body></body>")
    lines.append("</ap>")
    return "\n".join(lines) + "\n"


def refreshed(text: str) -> tuple[str, dict[Key, str]]:
    """The doc with every replayable reply block replaced; and the new blocks by key."""
    found = examples(text)
    requests = {key: xml for key, kind, xml in found if kind == "request"}
    documented = {key: parse_reply(encode(xml)) for key, kind, xml in found if kind == "reply"}
    live = replay(text)
    request_req_nos = {key: parse_reply(encode(xml)).head.get("req_no", "")
                       for key, xml in requests.items()}
    blocks = {key: render(with_samples(reply, documented.get(key), request_req_nos[key]))
              for key, reply in live.items() if key in documented}

    def replace(m: re.Match[str]) -> str:
        key = (m.group("tr_code"), m.group("variant") or "")
        if m.group("kind") != "reply" or key not in blocks:
            return m.group(0)
        return m.group(0)[: m.start("xml") - m.start()] + blocks[key] + "```"

    return EXAMPLE.sub(replace, text), blocks


def main(argv: list[str]) -> int:
    if argv not in ([], ["--write"]):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    text = DOC.read_text(encoding="utf-8")
    new_text, blocks = refreshed(text)
    if argv == ["--write"]:
        if new_text != text:
            DOC.write_text(new_text, encoding="utf-8")
        print(f"{DOC.relative_to(REPO)}: {len(blocks)} reply examples "
              f"{'rewritten' if new_text != text else 'already current'}")
        return 0
    for (tr_code, variant), block in blocks.items():
        label = " ".join(filter(None, (tr_code, "reply", variant)))
        print(f"<!-- example: {label} -->\n```xml\n{block}```\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
