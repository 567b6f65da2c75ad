"""Replay the worked examples of docs/erp-interface.md and show what the system answers.

Usage (from the repository root, in the project's virtualenv)::

    python docs/examples/refresh.py          # print the reply blocks
    python docs/examples/refresh.py --write  # rewrite them in docs/erp-interface.md

It starts ``directlink up`` on a fresh demo home in a temporary directory
(every port 0), writes the doc's sample batch files (``<!-- example file:
NAME -->``) into its exchange folder, sends every ``<!-- example: CODE
request [variant] -->`` block in document order over raw TCP, exactly as
tests/test_e2e_docs.py does (its :func:`~tests.test_e2e_docs.replay`), and
renders each reply as the indented block of the paired ``<!-- example: CODE
reply [variant] -->``, and each result file the system wrote as its
``<!-- example file: NAME.result -->`` block. Reply-only examples (the
unknown outcome) are left alone.

Values that differ from run to run keep the sample value the doc already
shows, if it has the right form, so that refreshing changes nothing but real
differences: the head's ``tr_acdt`` and ``tr_time``, a non-empty
``serial_no``, a ``req_no`` the daemon assigned, the date, time and serial
number cells of the 310201/310301 entry tables, and a batch item's non-empty
``flw`` (in replies and result files).
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

from tests.erp_client import running_up, serial_record  # noqa: E402
from tests.test_e2e_docs import (  # noqa: E402
    ASSIGNED_REQ_NO,
    DATE,
    ENTRY_HEADER,
    ENTRY_VARYING,
    EXAMPLE,
    FILE_EXAMPLE,
    SERIAL,
    TIME,
    Parsed,
    Replayed,
    Value,
    encode,
    examples,
    parse,
    parse_request_head,
    replay,
)

DOC = REPO / "docs" / "erp-interface.md"

Key = tuple[str, str]  # (tr_code, variant or "")


def replay_fresh(text: str) -> Replayed:
    """Every request example sent, in document order, to a fresh ``directlink up``."""
    with tempfile.TemporaryDirectory(prefix="directlink-docs-") as tmp:
        home = Path(tmp) / "home"
        with running_up(home) as system:
            return replay(text, system.erp_tcp, home)


def _keep(live: str, documented: str | None, pattern: re.Pattern[str]) -> str:
    """The documented sample value when both it and the live value have the right form."""
    if documented is not None and pattern.fullmatch(live) and pattern.fullmatch(documented):
        return documented
    return live


def _table(rows: list[list[str]]) -> str:
    return "".join(f"{cell}|" for row in rows for cell in row)


def _flws(values: list[tuple[str, Value]]) -> list[str]:
    """Every flw value of a body, in document order."""
    out: list[str] = []
    for name, value in values:
        if isinstance(value, str):
            if name == "flw":
                out.append(value)
        else:
            out += _flws(value)
    return out


def _with_flws(values: list[tuple[str, Value]], samples: list[str | None]
               ) -> list[tuple[str, Value]]:
    """``values`` with each flw replaced by the next of ``samples`` (kept if right)."""
    out: list[tuple[str, Value]] = []
    for name, value in values:
        if not isinstance(value, str):
            out.append((name, _with_flws(value, samples)))
        elif name == "flw":
            sample = samples.pop(0) if samples else None
            out.append((name, _keep(value, sample, SERIAL) if value else value))
        else:
            out.append((name, value))
    return out


def with_samples(live: Parsed, documented: Parsed | None, request_req_no: str) -> Parsed:
    """``live`` with its varying values replaced by the documented samples."""
    doc_head = documented.head if documented else {}
    head = dict(live.head)
    for name, pattern in (("tr_acdt", DATE), ("tr_time", TIME), ("serial_no", SERIAL)):
        head[name] = _keep(head[name], doc_head.get(name), pattern)
    if not request_req_no:
        head["req_no"] = _keep(head["req_no"], doc_head.get("req_no"), ASSIGNED_REQ_NO)
    body = _with_flws(live.body, _flws(documented.body) if documented else [])
    flat = live.flat_body
    rows = serial_record(flat) if "serial_record" in flat else []
    if rows and rows[0][0] == ENTRY_HEADER:
        doc_flat = documented.flat_body if documented else {}
        doc_rows = serial_record(doc_flat) if "serial_record" in doc_flat else []
        for r, row in enumerate(rows[1:], start=1):
            for c, pattern in enumerate(ENTRY_VARYING):
                sample = doc_rows[r][c] if r < len(doc_rows) else None
                row[c] = _keep(row[c], sample, pattern)
        body = [(name, _table(rows) if name == "serial_record" else value)
                for name, value in body]
    return Parsed(live.encoding, head, body)


def _render_fields(values: list[tuple[str, Value]], indent: str) -> list[str]:
    lines = []
    for name, value in values:
        if isinstance(value, str):
            lines.append(f"{indent}<{name}>{escape(value)}</{name}>")
        else:
            lines.append(f"{indent}<{name}>")
            lines += _render_fields(value, indent + "  ")
            lines.append(f"{indent}</{name}>")
    return lines


def render(reply: Parsed) -> str:
    """A reply as the doc shows it: one field per line, indented (items nested)."""
    lines = [f'<?xml version="1.0" encoding="{reply.encoding}"?>', "<ap>", "  <head>"]
    lines += [f"    <{k}>{escape(v)}</{k}>" for k, v in reply.head.items()]
    lines.append("  </head>")
    if reply.body:
        lines.append("  <body>")
        lines += _render_fields(reply.body, "    ")
        lines.append("  </body>")
    else:
        lines.append("  <body></body>")
    lines.append("</ap>")
    return "\n".join(lines) + "\n"


def result_with_samples(live: str, documented: str) -> str:
    """A result file's text, each flw the documented sample where both have the form."""
    doc_lines = documented.splitlines()
    out = []
    for n, line in enumerate(live.splitlines()):
        cells = line.split(",")
        doc_cells = doc_lines[n].split(",") if n < len(doc_lines) else []
        if len(cells) >= 4 and cells[-3] and len(doc_cells) >= 4:
            cells[-3] = _keep(cells[-3], doc_cells[-3], SERIAL)
        out.append(",".join(cells))
    return "\n".join(out) + "\n"


def refreshed(text: str) -> tuple[str, dict[Key, str], dict[str, str]]:
    """The doc with every replayable reply and result-file block replaced; the new blocks."""
    found = examples(text)
    documented = {key: parse(encode(xml)) for key, kind, xml in found if kind == "reply"}
    request_req_nos = {key: parse_request_head(xml).get("req_no", "")
                       for key, kind, xml in found if kind == "request"}
    live = replay_fresh(text)
    blocks = {key: render(with_samples(parse(raw), documented.get(key), request_req_nos[key]))
              for key, raw in live.replies.items() if key in documented}
    doc_files = {m.group("name"): m.group("text") for m in FILE_EXAMPLE.finditer(text)}
    files = {name: result_with_samples(written, doc_files[name])
             for name, written in live.files.items()}

    def replace(m: re.Match[str]) -> str:
        key = (m.group("tr_code"), m.group("variant") or "")
        if m.group("kind") != "reply" or key not in blocks:
            return m.group(0)
        return m.group(0)[: m.start("xml") - m.start()] + blocks[key] + "```"

    def replace_file(m: re.Match[str]) -> str:
        name = m.group("name")
        if name not in files:
            return m.group(0)
        return m.group(0)[: m.start("text") - m.start()] + files[name] + "```"

    return FILE_EXAMPLE.sub(replace_file, EXAMPLE.sub(replace, text)), blocks, files


def main(argv: list[str]) -> int:
    if argv not in ([], ["--write"]):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    text = DOC.read_text(encoding="utf-8")
    new_text, blocks, files = refreshed(text)
    if argv == ["--write"]:
        if new_text != text:
            DOC.write_text(new_text, encoding="utf-8")
        print(f"{DOC.relative_to(REPO)}: {len(blocks)} reply examples and {len(files)} "
              f"result files {'rewritten' if new_text != text else 'already current'}")
        return 0
    for (tr_code, variant), block in blocks.items():
        label = " ".join(filter(None, (tr_code, "reply", variant)))
        print(f"<!-- example: {label} -->\n```xml\n{block}```\n")
    for name, content in files.items():
        print(f"<!-- example file: {name} -->\n```text\n{content}```\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
