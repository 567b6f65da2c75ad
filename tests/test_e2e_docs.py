"""The worked examples of docs/erp-interface.md, replayed against ``directlink up``.

Every ``<!-- example: CODE request [variant] -->`` block is sent, in document
order, to a fresh demo system over raw TCP (exactly the bytes an ERP would
send: the example text encoded in its declared encoding). Each reply must
have the structure of the paired ``<!-- example: CODE reply [variant] -->``
block: the same head and body element names in the same order, the same
tr_code, req_no, ans_code and particular_code, and the same serial_record
header row. Values that depend on the day (serial_no, times, balances) may
differ.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest

from tests.erp_client import REPO, Reply, parse_reply, running_up, send_tcp

DOC = REPO / "docs" / "erp-interface.md"

_EXAMPLE = re.compile(
    r"<!-- example: (?P<tr_code>\d{6}) (?P<kind>request|reply)(?: (?P<variant>[a-z]+))? -->\n"
    r"```xml\n(?P<xml>.*?)```",
    re.S,
)
_DECLARED = re.compile(r'^<\?xml[^>]*encoding="([A-Za-z0-9_-]+)"')

#: Body fields whose documented value must be reproduced exactly.
STABLE_BODY_FIELDS = ("field_num", "file_flag", "tranStatus")

Key = tuple[str, str]  # (tr_code, variant or "")


def _examples() -> list[tuple[Key, str, str]]:
    if not DOC.exists():
        return []
    text = DOC.read_text(encoding="utf-8")
    return [((m.group("tr_code"), m.group("variant") or ""), m.group("kind"), m.group("xml"))
            for m in _EXAMPLE.finditer(text)]


EXAMPLES = _examples()
REQUESTS = {key: xml for key, kind, xml in EXAMPLES if kind == "request"}
REPLIES = {key: xml for key, kind, xml in EXAMPLES if kind == "reply"}
PAIRS = [key for key in REQUESTS if key in REPLIES]

pytestmark = pytest.mark.skipif(not DOC.exists(), reason=f"{DOC} not written yet")


def _encode(xml: str) -> bytes:
    match = _DECLARED.match(xml)
    return xml.encode(match.group(1) if match else "utf-8")


def _doc_reply(key: Key) -> Reply:
    return parse_reply(_encode(REPLIES[key]))


@pytest.fixture(scope="module")
def replies(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[Key, Reply]]:
    """Every request example sent in document order; the replies by example key."""
    home = tmp_path_factory.mktemp("docs") / "home"
    with running_up(home) as system:
        got = {key: parse_reply(send_tcp(system.erp_tcp, _encode(xml)))
               for key, xml in REQUESTS.items()}
        yield got


def test_the_doc_has_examples_for_every_tr_code() -> None:
    tr_codes = {key[0] for key in PAIRS}
    assert {"310101", "310201", "310301", "210201", "210224", "310204"} <= tr_codes
    for key, kind, xml in EXAMPLES:
        assert ET.fromstring(re.sub(r"^<\?xml[^>]*\?>", "", xml)).tag == "ap", (key, kind)


@pytest.mark.parametrize("key", PAIRS, ids=["-".join(filter(None, k)) for k in PAIRS])
def test_example_reply_structure(replies: dict[Key, Reply], key: Key) -> None:
    got, documented = replies[key], _doc_reply(key)
    assert got.head_order == documented.head_order
    assert got.body_order == documented.body_order, (got, documented)
    for name in ("tr_code", "corp_no", "req_no", "ans_code", "particular_code"):
        assert got.head[name] == documented.head[name], (name, got)
    assert got.encoding.upper() == documented.encoding.upper()
    for name in STABLE_BODY_FIELDS:
        if name in documented.body:
            assert got.body[name] == documented.body[name], (name, got)
    if "serial_record" in documented.body:
        width = int(documented.body["field_num"])
        documented_rows = documented.table()  # also checks the documented table adds up
        assert len(documented_rows[0]) == width
        assert got.table()[0] == documented_rows[0]
    if key[0] == "210201" and got.ok:
        assert got.body["stat"] == documented.body["stat"]
    if key[0] == "310204":
        # It asks about the 210224 example, which the replay sent before it.
        for name in ("ogl_serial_no", "pay_acno", "pay_bank_no", "rcv_acno", "rcv_bank_no",
                     "amt", "cert_no"):
            assert got.body[name] == documented.body[name], (name, got)
        assert got.body["stat"] in ("0", documented.body["stat"])
    if not got.ok:
        # A refusal names the same field as the documented one.
        field = documented.info.split(":")[0]
        assert got.info.startswith(field), (got.info, documented.info)


def test_reply_only_examples_have_a_documented_structure() -> None:
    # The "unknown outcome" example cannot be replayed without killing the core
    # (tests/test_e2e_restart.py does that); its shape must still be a reply's.
    for key in set(REPLIES) - set(REQUESTS):
        documented = _doc_reply(key)
        plain = _doc_reply((key[0], ""))
        assert documented.head_order == plain.head_order
        assert documented.head["ans_code"] == "2"
        assert documented.code in ("D006", "D008")
