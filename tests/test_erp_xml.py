"""Safe parsing of ERP request XML, and rendering of reply XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.erp_xml import (
    REPLY_HEAD_FIELDS,
    REQUEST_HEAD_FIELDS,
    ErpDocument,
    ErpRequestError,
    canonical_encoding,
    escape_text,
    parse_request,
    render_reply,
)
from protocol import codes

HEAD = (
    "<head><tr_code>310101</tr_code><corp_no>0000000001</corp_no><user_no>001</user_no>"
    "<req_no>R1</req_no><tr_acdt>20261124</tr_acdt><tr_time>093000</tr_time>"
    "<atom_tr_count>1</atom_tr_count><channel>0</channel><reserved></reserved></head>"
)


def _doc(body: str = "<acno>310066726018010000001</acno>", *, head: str = HEAD) -> str:
    return f"<ap>{head}<body>{body}</body></ap>"


def _refused(data: bytes, code: codes.ReturnCode, **kw) -> ErpRequestError:
    with pytest.raises(ErpRequestError) as info:
        parse_request(data, **kw)
    assert info.value.code == code, info.value.info
    return info.value


# -- accepted documents ------------------------------------------------------------


def test_without_declaration() -> None:
    doc = parse_request(_doc().encode("ascii"))
    assert doc.head["tr_code"] == "310101"
    assert doc.head["req_no"] == "R1"
    assert doc.body == {"acno": "310066726018010000001"}
    assert doc.encoding == "GBK"


def test_with_gbk_declaration_chinese_round_trips() -> None:
    name = "北京某某保险股份有限公司"
    data = ('<?xml version="1.0" encoding="GBK"?>' + _doc(f"<rcv_acname>{name}</rcv_acname>"))
    doc = parse_request(data.encode("gbk"))
    assert doc.body["rcv_acname"] == name
    assert doc.encoding == "GBK"


def test_gbk_without_declaration_uses_the_configured_default() -> None:
    doc = parse_request(_doc("<summary>货款</summary>").encode("gbk"))
    assert doc.body["summary"] == "货款"


def test_gb2312_declared_is_decoded_as_gb18030() -> None:
    # 镕 is in GBK but not in GB2312: ERPs that label GBK text GB2312 still work.
    with pytest.raises(UnicodeEncodeError):
        "镕".encode("gb2312")
    data = '<?xml version="1.0" encoding="gb2312"?>' + _doc("<rcv_acname>朱镕</rcv_acname>")
    doc = parse_request(data.encode("gbk"))
    assert doc.body["rcv_acname"] == "朱镕"
    assert doc.encoding == "GB2312"


def test_gb18030_four_byte_characters() -> None:
    data = "<?xml version='1.0' encoding='GB18030'?>" + _doc("<summary>𠀀€</summary>")
    doc = parse_request(data.encode("gb18030"))
    assert doc.body["summary"] == "𠀀€"
    assert doc.encoding == "GB18030"


def test_utf8_declared_overrides_the_gbk_default() -> None:
    data = '<?xml version="1.0" encoding="UTF-8"?>' + _doc("<summary>货款</summary>")
    doc = parse_request(data.encode("utf-8"))
    assert doc.body["summary"] == "货款"
    assert doc.encoding == "UTF-8"


def test_utf8_byte_order_mark() -> None:
    doc = parse_request(b"\xef\xbb\xbf" + _doc("<summary>货款</summary>").encode("utf-8"))
    assert doc.body["summary"] == "货款"
    assert doc.encoding == "UTF-8"


def test_configured_utf8_default() -> None:
    doc = parse_request(_doc("<summary>货款</summary>").encode("utf-8"), encoding="utf8")
    assert doc.body["summary"] == "货款"
    assert doc.encoding == "UTF-8"


def test_unsupported_declared_encoding_falls_back_to_the_configured_one() -> None:
    data = '<?xml version="1.0" encoding="ISO-8859-1"?>' + _doc("<summary>货款</summary>")
    doc = parse_request(data.encode("gbk"))
    assert doc.body["summary"] == "货款"
    assert doc.encoding == "GBK"


def test_whitespace_is_stripped_and_absent_equals_empty() -> None:
    head = "<head>\n  <tr_code> 310101 </tr_code>\n  <corp_no>\n\t\t</corp_no><req_no/>\n</head>"
    doc = parse_request(_doc("\n  <acno>  6222 </acno>\n  <cert_no></cert_no>", head=head)
                        .encode())
    assert doc.head["tr_code"] == "310101"
    assert doc.head["corp_no"] == ""
    assert doc.head["req_no"] == ""
    # Documented head fields that were absent read as empty.
    for name in REQUEST_HEAD_FIELDS:
        assert name in doc.head
    assert doc.body == {"acno": "6222", "cert_no": ""}


def test_empty_body_and_self_closing_body() -> None:
    assert parse_request(_doc("").encode()).body == {}
    assert parse_request(f"<ap>{HEAD}<body/></ap>".encode()).body == {}


def test_repeated_elements_become_lists_and_nesting_becomes_dicts() -> None:
    body = (
        "<acno>1</acno><acno>2</acno><acno>3</acno>"
        "<tran><rcd><card_no>A</card_no><amt>1.00</amt></rcd>"
        "<rcd><card_no>B</card_no><amt>2.00</amt></rcd></tran>"
    )
    doc = parse_request(_doc(body).encode())
    assert doc.body["acno"] == ["1", "2", "3"]
    assert doc.body["tran"] == {
        "rcd": [{"card_no": "A", "amt": "1.00"}, {"card_no": "B", "amt": "2.00"}]
    }


def test_predefined_entities_and_character_references_work() -> None:
    doc = parse_request(_doc("<summary>A&amp;B &lt;1&gt; &#36135;&#x6B3E;</summary>").encode())
    assert doc.body["summary"] == "A&B <1> 货款"


def test_unknown_head_fields_are_kept() -> None:
    head = "<head><tr_code>310101</tr_code><extra>x</extra></head>"
    assert parse_request(_doc(head=head).encode()).head["extra"] == "x"


def test_canonical_encoding() -> None:
    assert canonical_encoding("gbk") == "GBK"
    assert canonical_encoding("utf_8") == "UTF-8"
    assert canonical_encoding(" utf8 ") == "UTF-8"
    with pytest.raises(ValueError, match="unsupported ERP encoding"):
        canonical_encoding("latin-1")


# -- refused documents ---------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "not xml",
        "<ap><head></ap>",
        "<ap><head><tr_code>310101</tr_code></head><body></body>",
        "<ap><head/><body/></ap><ap/>",
        "<ap><head/><body><amt>1 & 2</amt></body></ap>",
        "<ap><head/><body><amt>&nbsp;</amt></body></ap>",
        "<ap><head/><body>\x01</body></ap>",
        "<ap><head/><body>&#0;</body></ap>",
    ],
)
def test_malformed_xml_is_d001_with_a_position(text: str) -> None:
    error = _refused(text.encode(), codes.XML_MALFORMED)
    assert "not well-formed XML" in error.info
    assert "line 1, column" in error.info


@pytest.mark.parametrize("data", [b"", b"   ", b"\r\n\t "], ids=["empty", "spaces", "blank"])
def test_an_empty_request_is_d003_saying_so(data: bytes) -> None:
    # Not expat's "no element found: line 1, column 0".
    error = _refused(data, codes.XML_STRUCTURE)
    assert error.info == "request is empty: no XML document"


def test_a_refusal_names_a_huge_element_by_an_excerpt() -> None:
    tag = "x" * 300_000
    error = _refused(f"<{tag}><head/><body/></{tag}>".encode(), codes.XML_STRUCTURE)
    assert error.info.startswith("root element must be <ap>, not <xxxx")
    assert "(300000 characters)" in error.info
    assert len(error.info) < 120


def test_malformed_xml_reports_line_and_column() -> None:
    error = _refused(b"<ap>\n<head>\n<tr_code>1</tr_cod>\n", codes.XML_MALFORMED)
    assert "line 3, column" in error.info


def test_malformed_xml_still_echoes_tr_code_and_req_no() -> None:
    data = b"<ap><head><tr_code>210201</tr_code><req_no>ERP-1</req_no></head><body><amt>1<"
    error = _refused(data, codes.XML_MALFORMED)
    assert error.head == {"tr_code": "210201", "req_no": "ERP-1"}


def test_dtd_is_refused() -> None:
    data = b'<?xml version="1.0"?><!DOCTYPE ap><ap><head/><body/></ap>'
    error = _refused(data, codes.XML_MALFORMED)
    assert "DTD" in error.info


def test_entity_bomb_is_refused_without_expansion() -> None:
    lol = "".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
    )
    data = (
        f'<?xml version="1.0"?><!DOCTYPE ap [<!ENTITY lol0 "lol">{lol}]>'
        "<ap><head/><body><summary>&lol9;</summary></body></ap>"
    )
    error = _refused(data.encode(), codes.XML_MALFORMED)
    assert "DTD" in error.info


def test_external_entity_is_refused() -> None:
    data = (
        '<?xml version="1.0"?><!DOCTYPE ap [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        "<ap><head/><body><summary>&x;</summary></body></ap>"
    )
    error = _refused(data.encode(), codes.XML_MALFORMED)
    assert "passwd" not in error.info


def test_undeclared_entity_is_malformed() -> None:
    error = _refused(_doc("<summary>&x;</summary>").encode(), codes.XML_MALFORMED)
    assert "undefined entity" in error.info


def test_oversize_is_d002_and_checked_before_parsing() -> None:
    data = _doc("<summary>" + "x" * 2000 + "</summary>").encode()
    error = _refused(data, codes.XML_TOO_LARGE, max_size=1000)
    assert str(len(data)) in error.info and "1000" in error.info
    assert error.head["tr_code"] == "310101"
    # Exactly at the limit is fine; the limit counts bytes, not characters.
    assert parse_request(data, max_size=len(data)).body["summary"] == "x" * 2000
    # Oversize garbage is still D002, not D001: the size is checked first.
    _refused(b"\xff" * 1001, codes.XML_TOO_LARGE, max_size=1000)


def test_undecodable_gbk_is_d004_with_the_offset() -> None:
    data = _doc("<summary>").encode() + b"\xff\xfe" + b"</summary></body></ap>"
    error = _refused(data, codes.ENCODING_ERROR)
    assert "GBK" in error.info
    bad_at = data.index(b"\xff")
    assert f"offset {bad_at}" in error.info
    assert error.head["req_no"] == "R1"


def test_gbk_bytes_declared_utf8_are_d004() -> None:
    data = '<?xml version="1.0" encoding="UTF-8"?>' + _doc("<summary>货款</summary>")
    error = _refused(data.encode("gbk"), codes.ENCODING_ERROR)
    assert "UTF-8" in error.info
    assert error.encoding == "UTF-8"  # the reply goes back in what the ERP declared


def test_bad_bytes_after_a_byte_order_mark_report_the_offset_in_the_request() -> None:
    data = b"\xef\xbb\xbf<ap>\xff</ap>"
    error = _refused(data, codes.ENCODING_ERROR)
    assert "offset 7" in error.info


def test_errors_carry_the_encoding_for_the_reply() -> None:
    assert _refused(b"<ap>", codes.XML_MALFORMED).encoding == "GBK"
    assert _refused(b"<ap>", codes.XML_MALFORMED, encoding="utf-8").encoding == "UTF-8"
    assert _refused(b"<x/>", codes.XML_STRUCTURE, encoding="GB18030").encoding == "GB18030"
    assert _refused(b"x" * 11, codes.XML_TOO_LARGE, max_size=10).encoding == "GBK"


@pytest.mark.parametrize(
    ("text", "info"),
    [
        ("<root><head/><body/></root>", "root element must be <ap>"),
        ("<ap><body/></ap>", "no <head>"),
        ("<ap><head/></ap>", "no <body>"),
        ("<ap/>", "no <head>"),
        ("<ap><head/><body/><body/></ap>", "exactly one <head> and one <body>"),
        ("<ap><head/><head/><body/></ap>", "exactly one <head> and one <body>"),
        ("<ap><head/><body/><tail/></ap>", "unexpected element <tail>"),
        ("<ap><head><tr_code><x/></tr_code></head><body/></ap>", "must be text"),
        (
            "<ap><head><tr_code>1</tr_code><tr_code>2</tr_code></head><body/></ap>",
            "more than once",
        ),
        (
            "<ap><head/><body><a><b><c><d><e>1</e></d></c></b></a></body></ap>",
            "nested too deeply",
        ),
        ('<ap xmlns="urn:x"><head/><body/></ap>', "root element must be <ap>"),
    ],
)
def test_wrong_structure_is_d003(text: str, info: str) -> None:
    error = _refused(text.encode(), codes.XML_STRUCTURE)
    assert info in error.info


def test_structure_error_keeps_the_parsed_head() -> None:
    error = _refused(f"<ap>{HEAD}</ap>".encode(), codes.XML_STRUCTURE)
    assert error.head["tr_code"] == "310101"
    assert error.head["req_no"] == "R1"


@settings(max_examples=500)
@given(st.binary(max_size=600))
def test_random_bytes_only_ever_raise_erp_request_error(data: bytes) -> None:
    try:
        doc = parse_request(data, max_size=500)
    except ErpRequestError as exc:
        assert exc.code in codes.ALL
        return
    assert isinstance(doc, ErpDocument)


_FRAGMENTS = st.sampled_from(
    [
        "<ap>", "</ap>", "<head>", "</head>", "<body>", "</body>", "<tr_code>", "</tr_code>",
        "310101", "<acno>", "</acno>", "<a>", "</a>", "<a/>", "&amp;", "&x;", "&#0;", "&#65;",
        "<!DOCTYPE ap>", '<?xml version="1.0" encoding="UTF-8"?>', "<!-- c -->", "<![CDATA[x]]>",
        "货款", "\x00", "\ufeff", " ", "\n", "<", ">", "'", '"', "<?pi x?>",
    ]
)


@settings(max_examples=500)
@given(
    st.lists(_FRAGMENTS, max_size=30),
    st.sampled_from(["gbk", "utf-8", "gb18030"]),
)
def test_random_xmlish_documents_only_ever_raise_erp_request_error(
    parts: list[str], encoding: str
) -> None:
    data = "".join(parts).encode(encoding, errors="replace")
    try:
        parse_request(data)
    except ErpRequestError as exc:
        assert exc.code in codes.ALL


# -- rendering -----------------------------------------------------------------------


def _reply_head(**over: str) -> dict[str, str]:
    head = {name: "" for name in REPLY_HEAD_FIELDS}
    head.update(tr_code="310101", corp_no="0000000001", req_no="R1", ans_code="0",
                particular_code="0000", particular_info="success", atom_tr_count="1")
    head.update(over)
    return head


def _parse_reply(data: bytes, encoding: str) -> ET.Element:
    # expat cannot decode GBK itself; ERP parsers (Java, .NET) can.
    return ET.fromstring(data.decode(encoding))


def test_render_writes_declaration_and_head_in_order() -> None:
    shuffled = dict(reversed(list(_reply_head().items())))
    data = render_reply(shuffled, {"stat": "1"})
    assert data.startswith(b'<?xml version="1.0" encoding="GBK"?><ap><head><tr_code>')
    root = _parse_reply(data, "gbk")
    assert [child.tag for child in root.find("head")] == list(REPLY_HEAD_FIELDS)
    assert root.findtext("body/stat") == "1"


def test_render_fills_missing_head_fields_and_keeps_extra_ones_last() -> None:
    root = _parse_reply(render_reply({"tr_code": "310101", "extra": "x"}, None), "gbk")
    tags = [child.tag for child in root.find("head")]
    assert tags == [*REPLY_HEAD_FIELDS, "extra"]
    assert root.find("body") is not None and len(root.find("body")) == 0


def test_render_escapes_markup() -> None:
    text = "A&B <x> ]]> \"q\" 'a' \r\n end"
    data = render_reply(_reply_head(particular_info=text), {"err_msg": text})
    root = _parse_reply(data, "gbk")
    assert root.findtext("head/particular_info") == text
    assert root.findtext("body/err_msg") == text


def test_render_gbk_chinese_and_character_references() -> None:
    data = render_reply(_reply_head(), {"acname": "北京某某公司", "sym": "€ 𠀀 ☃"})
    assert "北京某某公司".encode("gbk") in data
    assert b"&#" in data  # 𠀀 and ☃ are not in GBK
    root = _parse_reply(data, "gbk")
    assert root.findtext("body/acname") == "北京某某公司"
    assert root.findtext("body/sym") == "€ 𠀀 ☃"


@pytest.mark.parametrize(("name", "codec"), [("UTF-8", "utf-8"), ("GB18030", "gb18030"),
                                             ("GBK", "gbk"), ("gb2312", "gb2312")])
def test_render_other_encodings(name: str, codec: str) -> None:
    data = render_reply(_reply_head(), {"acname": "张三 𠀀"}, encoding=name)
    assert data.startswith(f'<?xml version="1.0" encoding="{canonical_encoding(name)}"?>'
                           .encode())
    assert _parse_reply(data, codec).findtext("body/acname") == "张三 𠀀"


def test_render_replaces_characters_xml_cannot_carry() -> None:
    data = render_reply(_reply_head(), {"x": "a\x00b\x1fc\ud800d"}, encoding="UTF-8")
    assert _parse_reply(data, "utf-8").findtext("body/x") == "a\ufffdb\ufffdc\ufffdd"


def test_render_nested_and_repeated_body_values() -> None:
    body = {"tran": {"rcd": [{"card_no": "A"}, {"card_no": "B"}]}, "flag": ["1", "2"]}
    root = _parse_reply(render_reply(_reply_head(), body), "gbk")
    assert [rcd.findtext("card_no") for rcd in root.findall("body/tran/rcd")] == ["A", "B"]
    assert [f.text for f in root.findall("body/flag")] == ["1", "2"]


def test_render_refuses_non_text_values() -> None:
    with pytest.raises(TypeError, match="amt"):
        render_reply(_reply_head(), {"amt": 1250})


def test_rendered_reply_parses_back_with_parse_request() -> None:
    # A reply is an <ap><head><body> document too: our own parser reads it back.
    data = render_reply(_reply_head(particular_info="交易成功"), {"stat": "1"})
    doc = parse_request(data)
    assert doc.head["particular_info"] == "交易成功"
    assert doc.body == {"stat": "1"}


_XML_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Cn")) | st.sampled_from("\t\n\r"),
    max_size=40,
)


@given(
    st.dictionaries(st.sampled_from(REPLY_HEAD_FIELDS), _XML_TEXT),
    st.dictionaries(st.from_regex(r"[a-z][a-z_]{0,11}", fullmatch=True), _XML_TEXT,
                    max_size=6),
    st.sampled_from([("GBK", "gbk"), ("GB18030", "gb18030"), ("UTF-8", "utf-8")]),
)
def test_render_round_trips_any_text(head: dict, body: dict, encoding: tuple) -> None:
    data = render_reply(head, body, encoding=encoding[0])
    root = _parse_reply(data, encoding[1])
    for name in REPLY_HEAD_FIELDS:
        assert (root.findtext(f"head/{name}") or "") == head.get(name, "")
    for name, value in body.items():
        assert (root.findtext(f"body/{name}") or "") == value


def test_escape_text() -> None:
    assert escape_text("a<b>&c\r") == "a&lt;b&gt;&amp;c&#13;"
