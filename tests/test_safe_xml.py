"""daemon.safe_xml: what it refuses, and that it builds the trees defusedxml builds."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as defused_fromstring
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon import safe_xml


def _refused(text: str) -> str:
    with pytest.raises(safe_xml.Forbidden) as info:
        safe_xml.parse(text)
    return str(info.value)


def test_plain_document() -> None:
    root = safe_xml.parse("<ap><head><tr_code> 310101 </tr_code></head><body/></ap>")
    assert root.tag == "ap"
    assert root.find("head/tr_code").text == " 310101 "


def test_predefined_entities_and_character_references_are_expanded() -> None:
    assert safe_xml.parse("<a>&lt;&amp;&gt;&quot;&apos;&#65;&#x42;</a>").text == "<&>\"'AB"


def test_namespaced_names_are_written_as_elementtree_does() -> None:
    root = safe_xml.parse('<ap xmlns="urn:x" xmlns:p="urn:p"><p:head p:a="1" b="2"/></ap>')
    assert root.tag == "{urn:x}ap"
    assert root[0].tag == "{urn:p}head"
    assert root[0].attrib == {"{urn:p}a": "1", "b": "2"}


def test_dtd_is_refused() -> None:
    assert "DTD" in _refused("<!DOCTYPE ap><ap/>")
    assert "DTD" in _refused('<!DOCTYPE ap SYSTEM "http://example.invalid/ap.dtd"><ap/>')


def test_entity_bomb_is_refused_before_any_expansion() -> None:
    lol = "".join(f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    assert "DTD" in _refused(f'<!DOCTYPE ap [<!ENTITY l0 "lol">{lol}]><ap>&l9;</ap>')


def test_external_entity_is_refused_and_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET")
    text = f'<!DOCTYPE ap [<!ENTITY x SYSTEM "{secret.as_uri()}">]><ap>&x;</ap>'
    assert "SECRET" not in _refused(text)


def test_without_the_dtd_guard_declarations_and_references_are_still_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Defence in depth: the entity handlers hold even if a DTD got through.
    monkeypatch.setattr(safe_xml, "_refuse_dtd", lambda *args: None)
    assert "entity declarations" in _refused('<!DOCTYPE ap [<!ENTITY x "y">]><ap>&x;</ap>')
    assert "entity declarations" in _refused(
        '<!DOCTYPE ap [<!NOTATION n SYSTEM "n"><!ENTITY u SYSTEM "u" NDATA n>]><ap/>')
    monkeypatch.setattr(safe_xml, "_refuse_entity", lambda *args: None)
    assert "external references" in _refused(
        '<!DOCTYPE ap [<!ENTITY x SYSTEM "x.xml">]><ap>&x;</ap>')


def test_malformed_documents_raise_expat_errors_with_a_position() -> None:
    with pytest.raises(safe_xml.ExpatError) as info:
        safe_xml.parse("<ap>\n<head></ap>")
    assert "mismatched tag: line 2, column 8" in str(info.value)


# -- the same trees and errors as defusedxml ---------------------------------------------

_FRAGMENTS = st.sampled_from(
    [
        "<ap>", "</ap>", "<head>", "</head>", "<body>", "</body>", "<a>", "</a>", "<a/>",
        "<p:a>", "</p:a>", '<b xmlns="urn:b">', "</b>", '<c xmlns:p="urn:p" p:x="1" y="2">',
        "</c>", "x", " ", "\n", "\r\n", "\t", "货款", "&amp;", "&lt;", "&#65;", "&#0;", "&x;",
        "<!-- c -->", "<?pi data?>", "<![CDATA[<x>]]>", "<!DOCTYPE ap>",
        '<!DOCTYPE ap [<!ENTITY e "v">]>', '<?xml version="1.0"?>', "<", ">", "&", '"',
        "'", "=", "\x00", "\ufeff",
    ]
)


def _outcome(parse, text: str) -> tuple:
    try:
        root = parse(text)
    except (safe_xml.ExpatError, ET.ParseError) as exc:
        return ("malformed", str(exc))
    except (safe_xml.Forbidden, DefusedXmlException):
        return ("forbidden",)
    return ("tree", ET.tostring(root, encoding="unicode"))


@settings(max_examples=1000)
@given(st.lists(_FRAGMENTS, max_size=25))
def test_same_outcome_as_defusedxml(parts: list[str]) -> None:
    text = "".join(parts)
    expected = _outcome(lambda t: defused_fromstring(t, forbid_dtd=True), text)
    assert _outcome(safe_xml.parse, text) == expected


_NAMES = st.sampled_from(["ap", "head", "body", "a", "p:a", "b"])
_TEXT = st.sampled_from(
    ["", "x", " ", "\n", "\r\n", "货款", "&amp;", "&#65;", "<!-- c -->", "<?pi d?>",
     "<![CDATA[<x>]]>", "]]>"]
)
_ATTRS = st.sampled_from(["", ' xmlns="urn:d"', ' xmlns:p="urn:p"', ' xmlns:p="urn:p" p:x="1"',
                          ' y="&lt;2"'])


@st.composite
def _element(draw, depth: int = 0) -> str:
    name = draw(_NAMES)
    parts = [draw(_TEXT)]
    if depth < 3:
        for child in draw(st.lists(_element(depth + 1), max_size=3)):
            parts += [child, draw(_TEXT)]
    return f"<{name}{draw(_ATTRS)}>{''.join(parts)}</{name}>"


@settings(max_examples=500)
@given(st.sampled_from(["", '<?xml version="1.0"?>', "<!-- c -->", "<!DOCTYPE ap>"]),
       _element())
def test_same_trees_as_defusedxml_for_well_formed_looking_documents(prolog: str,
                                                                    root: str) -> None:
    text = prolog + root
    expected = _outcome(lambda t: defused_fromstring(t, forbid_dtd=True), text)
    assert _outcome(safe_xml.parse, text) == expected


@settings(max_examples=300)
@given(st.text(max_size=200))
def test_same_outcome_as_defusedxml_for_any_text(text: str) -> None:
    try:
        expected = _outcome(lambda t: defused_fromstring(t, forbid_dtd=True), text)
    except UnicodeError:  # lone surrogates cannot be handed to expat
        with pytest.raises(UnicodeError):
            safe_xml.parse(text)
        return
    assert _outcome(safe_xml.parse, text) == expected
