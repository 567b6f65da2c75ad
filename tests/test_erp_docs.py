"""docs/erp-interface.md agrees with the code: fields, codes, columns and examples.

The field tables and the return-code table are generated from
``daemon.erp.REQUEST_RULES`` (the six single-request codes),
``daemon.erp.batches.REQUEST_RULES`` and ``ITEM_RULES`` (the five batch codes
and the ``<tran><rcd>`` items of 330002 and 330010) and ``protocol.codes``;
after changing any of them, regenerate them with
``python -m tests.test_erp_docs --write``. Every worked request example must
parse and validate as the daemon checks it (a batch's items and totals, and
the sample batch file it names, included), or be refused with the code its
paired reply shows, and every reply example must be a well-formed reply for
its tr_code.
"""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from daemon import batch_files
from daemon.batch_files import BatchFileError
from daemon.erp import (
    REQUEST_RULES,
    SUPPORTED_TR_CODES,
    ans_code_for,
    batches,
    fill_identity,
    request_to_wire,
)
from daemon.erp.fields import FieldError, FieldRule, Kind, convert_fields
from daemon.erp.queries import ACCOUNT_COLUMNS, ENTRY_COLUMNS
from daemon.erp_xml import REPLY_HEAD_FIELDS, ErpRequestError, parse_request
from protocol import codes

DOC = Path(__file__).resolve().parent.parent / "docs" / "erp-interface.md"

_GENERATED = re.compile(
    r"(<!-- BEGIN GENERATED: (?P<what>[^>]+?) -->\n)(?P<content>.*?)(<!-- END GENERATED -->)",
    re.S,
)
_EXAMPLE = re.compile(
    r"<!-- example: (?P<tr_code>\d{6}) (?P<kind>request|reply)(?: (?P<variant>[a-z]+))? -->\n"
    r"```xml\n(?P<xml>.*?)```",
    re.S,
)
#: A sample batch file (or the result file the system writes for it).
_FILE = re.compile(r"<!-- example file: (?P<name>[^ >]+) -->\n```text\n(?P<text>.*?)```", re.S)

#: Every tr_code the ERP interface serves: the single-request codes and the batch codes.
ALL_TR_CODES = SUPPORTED_TR_CODES | batches.TR_CODES
#: Field rules per tr_code (batch codes from their own module; the package-level
#: REQUEST_RULES holds the single-request codes only).
ALL_REQUEST_RULES: dict[str, tuple[FieldRule, ...]] = {**REQUEST_RULES, **batches.REQUEST_RULES}


# -- generators ------------------------------------------------------------------


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def _format(rule: FieldRule) -> str:
    """The format column: the rule's own description, said for a reader."""
    text = rule.describe()
    if rule.kind is Kind.FLAG and "" in rule.choices:
        text = text.replace("``, ", "empty, ")
    return text.replace("at most 1 characters", "at most 1 character")


def fields_table(tr_code: str, rules: tuple[FieldRule, ...] | None = None) -> str:
    lines = ["| field | required | format | meaning |", "|---|---|---|---|"]
    for rule in ALL_REQUEST_RULES[tr_code] if rules is None else rules:
        required = "yes" if rule.required else f"no (empty = `{rule.default}`)" \
            if rule.default else "no"
        lines.append(
            f"| `{rule.name}` | {required} | {_md(_format(rule))} | {_md(rule.doc)} |"
        )
    return "\n".join(lines) + "\n"


def return_codes_table() -> str:
    lines = [
        "| particular_code | name | particular_info | ans_code |",
        "|---|---|---|---|",
    ]
    for rc in codes.ALL:
        lines.append(f"| `{rc.code}` | {rc.name} | `{rc.message}` | {ans_code_for(rc.code)} |")
    return "\n".join(lines) + "\n"


def generate(what: str) -> str:
    if what == "return codes":
        return return_codes_table()
    kind, _, tr_code = what.partition(" ")
    if kind == "fields" and tr_code in ALL_REQUEST_RULES:
        return fields_table(tr_code)
    if kind == "items" and tr_code in batches.ITEM_RULES:
        return fields_table(tr_code, batches.ITEM_RULES[tr_code])
    raise KeyError(f"unknown generated block {what!r}")


def regenerate(text: str) -> str:
    return _GENERATED.sub(
        lambda m: m.group(1) + generate(m.group("what")) + m.group(4), text
    )


# -- tests -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


def _examples(text: str) -> list[re.Match[str]]:
    return list(_EXAMPLE.finditer(text))


def test_generated_blocks_are_current(doc_text: str) -> None:
    blocks = {m.group("what") for m in _GENERATED.finditer(doc_text)}
    assert blocks == ({"return codes"} | {f"fields {c}" for c in ALL_TR_CODES}
                      | {f"items {c}" for c in batches.ITEM_RULES})
    assert regenerate(doc_text) == doc_text, (
        "docs/erp-interface.md is out of date: run python -m tests.test_erp_docs --write"
    )


def test_every_return_code_is_in_the_table_with_its_message(doc_text: str) -> None:
    table = _GENERATED.search(doc_text.split("## Return codes", 1)[1])
    assert table is not None
    rows = {
        cells[1].strip("` "): cells[3].strip("` ")
        for cells in (line.split("|") for line in table.group("content").splitlines())
        if len(cells) > 4 and cells[1].strip().startswith("`")
    }
    for rc in codes.ALL:
        assert rows.get(rc.code) == rc.message, rc


def _section(doc_text: str, tr_code: str) -> str:
    return doc_text.split(f"### {tr_code} ", 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]


def test_every_field_of_every_tr_code_is_documented(doc_text: str) -> None:
    for tr_code, rules in ALL_REQUEST_RULES.items():
        section = _section(doc_text, tr_code)
        for rule in (*rules, *batches.ITEM_RULES.get(tr_code, ())):
            assert f"| `{rule.name}` |" in section, (tr_code, rule.name)


def _reply_fields(element: ET.Element) -> set[str]:
    """Every field name of a reply body, nested ``<tran><rcd>`` fields included."""
    return {child.tag for child in element} | {
        name for child in element for name in _reply_fields(child)}


def test_every_batch_reply_field_is_documented(doc_text: str) -> None:
    # The batch replies' bodies are built in code, not declared: each field the
    # examples show must have its row in a table of the Batches part (the item
    # results, shared by 330002, 330010 and 310208, have theirs once).
    part = doc_text.split("\n## Batches\n", 1)[1].split("\n## ", 1)[0]
    for (tr_code, _), reply in _replies(doc_text).items():
        if tr_code in batches.TR_CODES:
            section = _section(doc_text, tr_code)
            for name in _reply_fields(reply.find("body")) - {"rcd"}:
                assert f"| `{name}` |" in part, (tr_code, name)
            assert "The reply body" in section, tr_code


def test_serial_record_columns_are_documented(doc_text: str) -> None:
    for columns in (ACCOUNT_COLUMNS, ENTRY_COLUMNS):
        header = "".join(f"{title}|" for title, _ in columns)
        assert header in doc_text
        width = len(columns)
        for index, (title, _) in enumerate(columns, start=1):
            # The documented cell index of each column for the first record.
            assert f"| {index} | {title} | {width + index - 1} |" in doc_text, title
    assert "cell 14 is the available balance, cell 18 the error message" in doc_text
    assert "cell 19 the success flag" in doc_text


def test_every_tr_code_has_a_request_and_reply_example(doc_text: str) -> None:
    pairs = {(m.group("tr_code"), m.group("kind")) for m in _examples(doc_text)}
    for tr_code in ALL_TR_CODES:
        assert (tr_code, "request") in pairs
        assert (tr_code, "reply") in pairs


def _replies(text: str) -> dict[tuple[str, str | None], ET.Element]:
    return {
        (m.group("tr_code"), m.group("variant")): _parse_gbk_example(m.group("xml"))
        for m in _examples(text)
        if m.group("kind") == "reply"
    }


def _parse_gbk_example(xml: str) -> ET.Element:
    # The examples declare GBK, so they must be expressible in it; expat itself
    # cannot decode multi-byte encodings, hence parsing the text.
    xml.encode("gbk")
    return ET.fromstring(xml)


def _example_files(text: str) -> dict[str, str]:
    return {m.group("name"): m.group("text") for m in _FILE.finditer(text)}


def _batch_refusal(doc, files: dict[str, str], folder: Path) -> str | None:
    """The code the daemon refuses a batch request with before the bank sees it, or None.

    The daemon's own checks, in its order: the batch fields, then the items
    (inline, or the named file, written here from the doc's sample), then
    whether ``sum`` and ``sum_amt`` add up (E017).
    """
    tr_code = doc.head["tr_code"]
    try:
        fields = convert_fields(batches.REQUEST_RULES[tr_code], doc.body)
        if tr_code not in batches.SUBMIT_CODES:
            return None
        if fields["file_flag"] == "1":
            name = str(fields["filename"])
            assert name in files, f"{name} is named but not shown as an example file"
            (folder / name).write_bytes(files[name].encode("gbk"))
            scan = batch_files.scan(batch_files.exchange_path(folder, name), tr_code)
            count, total = scan.count, scan.total
        else:
            items = batches._inline_items(tr_code, doc.body)
            count, total = len(items), sum(int(item["amt"]) for item in items)
    except FieldError as exc:
        return exc.code.code
    except BatchFileError as exc:
        return exc.code.code
    if (count, total) != (fields["sum"], fields["sum_amt"]):
        return codes.BATCH_TOTALS.code
    return None


def test_request_examples_parse_and_validate(doc_text: str, tmp_path: Path) -> None:
    replies = _replies(doc_text)
    files = _example_files(doc_text)
    checked = 0
    for m in _examples(doc_text):
        if m.group("kind") != "request":
            continue
        data = m.group("xml").encode("gbk")
        doc = fill_identity(
            parse_request(data), corp_no="0000000001", user_no="001"
        )
        reply = replies.get((m.group("tr_code"), m.group("variant")))
        if m.group("tr_code") in batches.TR_CODES:
            # The batch codes are served by their own handler, not request_to_wire.
            refused = _batch_refusal(doc, files, tmp_path)
            code = reply.findtext("head/particular_code") if reply is not None else "0000"
            if refused is not None or m.group("variant") == "refused":
                assert refused == code, (m.group("tr_code"), m.group("variant"))
        elif m.group("variant") is None:
            wire = request_to_wire(doc)
            assert wire.tr_code == m.group("tr_code")
            assert wire.req_no == doc.head["req_no"]
        else:
            # A refused example: refused with the code its paired reply shows.
            assert reply is not None
            with pytest.raises(ErpRequestError) as info:
                request_to_wire(doc)
            assert info.value.code.code == reply.findtext("head/particular_code")
            assert info.value.info == reply.findtext("head/particular_info")
        checked += 1
    assert checked >= len(ALL_TR_CODES)


def test_example_result_files_answer_their_batch_files(doc_text: str) -> None:
    # FILENAME.result: each line of FILENAME, then ,sucFlg,flw,err_code,err_msg.
    files = _example_files(doc_text)
    for name, text in files.items():
        if not name.endswith(".result"):
            continue
        source = files[name.removesuffix(".result")].splitlines()
        result = text.splitlines()
        assert len(result) == len(source), name
        for line, answered in zip(source, result, strict=True):
            assert answered.startswith(line + ","), (name, answered)
            suc_flg, flw, err_code, _ = answered[len(line) + 1:].split(",", 3)
            assert suc_flg in ("F", "E", "P", "3"), answered
            assert bool(err_code) == (suc_flg == "E"), answered
            assert re.fullmatch(r"(\d{16})?", flw), answered


def test_reply_examples_are_well_formed_replies(doc_text: str) -> None:
    requests = {
        (m.group("tr_code"), m.group("variant")): _parse_gbk_example(m.group("xml"))
        for m in _examples(doc_text)
        if m.group("kind") == "request"
    }
    for (tr_code, variant), root in _replies(doc_text).items():
        assert root.tag == "ap"
        head = root.find("head")
        assert head is not None and root.find("body") is not None
        assert [child.tag for child in head] == list(REPLY_HEAD_FIELDS)
        assert head.findtext("tr_code") == tr_code
        code = head.findtext("particular_code")
        assert code in codes.BY_CODE
        assert head.findtext("ans_code") == ans_code_for(code)
        # The reply echoes its request's req_no (the unknown-outcome reply
        # answers the plain request of the same tr_code).
        request = requests.get((tr_code, variant)) or requests[(tr_code, None)]
        assert head.findtext("req_no") == request.findtext("head/req_no")


def test_reply_example_cells_match_the_documented_indices(doc_text: str) -> None:
    reply = _replies(doc_text)[("310101", None)]
    cells = (reply.findtext("body/serial_record") or "").split("|")
    assert cells[14] == "1000000.00"
    assert cells[18] == ""
    assert cells[19] == "0"


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        DOC.write_text(regenerate(DOC.read_text(encoding="utf-8")), encoding="utf-8")
        print(f"regenerated {DOC}")
    else:
        print("usage: python -m tests.test_erp_docs --write")
        sys.exit(2)
