"""Parse untrusted XML text into an element tree, refusing DTDs and entities.

The same safety as defusedxml's parser (``defusedxml.ElementTree.fromstring(
text, forbid_dtd=True)``), set up directly on expat: a document type
declaration, an entity declaration or a reference to an external entity stops
the parse with :class:`Forbidden`. Without a DTD nothing can be declared, so
only the five predefined entities and character references are ever expanded,
and expat never opens anything.

Why not defusedxml itself: its parser is the pure-Python ElementTree one, and
its Python callback for every element start and end was half the cost of
parsing an ERP request. Here expat hands elements, text, comments and
processing instructions straight to the C TreeBuilder, with the same expat
settings defusedxml uses (namespace separator ``}``, buffered text), so the
tree is the same; tests/test_safe_xml.py holds the two to that.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element, TreeBuilder
from xml.parsers import expat

#: What expat raises for a document that is not well-formed; ``str()`` names
#: the error with its line and column, as ElementTree's ParseError does.
ExpatError = expat.ExpatError


class Forbidden(ValueError):
    """The document has a DTD, declares an entity or references an external one."""


def parse(text: str) -> Element:
    """The root element of ``text``; raises :class:`Forbidden` or :class:`ExpatError`.

    ``text`` is already decoded, so an encoding named in its XML declaration
    is not applied again.
    """
    builder = TreeBuilder()
    parser = expat.ParserCreate(None, "}")
    start = builder.start

    def start_element(tag: str, attrib: dict[str, str]) -> None:
        # expat writes a namespaced name as "uri}local"; ElementTree as "{uri}local".
        if "}" in tag:
            tag = "{" + tag
        if attrib:
            attrib = {_universal(name): value for name, value in attrib.items()}
        start(tag, attrib)

    parser.StartElementHandler = start_element
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    parser.CommentHandler = builder.comment
    parser.ProcessingInstructionHandler = builder.pi
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_entity
    parser.UnparsedEntityDeclHandler = _refuse_unparsed_entity
    parser.ExternalEntityRefHandler = _refuse_external
    parser.buffer_text = True
    parser.Parse(text, False)
    parser.Parse(b"", True)
    return builder.close()


def _universal(name: str) -> str:
    return "{" + name if "}" in name else name


def _refuse_dtd(name, sysid, pubid, has_internal_subset) -> None:
    raise Forbidden("DTD (<!DOCTYPE ...>) is not allowed")


def _refuse_entity(name, is_parameter_entity, value, base, sysid, pubid, notation) -> None:
    raise Forbidden("entity declarations are not allowed")


def _refuse_unparsed_entity(name, base, sysid, pubid, notation) -> None:
    raise Forbidden("entity declarations are not allowed")


def _refuse_external(context, base, sysid, pubid) -> None:
    raise Forbidden("external references are not allowed")
