"""Safe parsing of ERP request XML and rendering of reply XML.

ERP systems send ``<ap><head>…</head><body>…</body></ap>`` documents in GBK
(by default), GB18030 or UTF-8, with or without an XML declaration. The XML
comes from outside the daemon, so it is parsed by :mod:`daemon.safe_xml`: no
DTDs, no entity declarations, no external references, and a size limit
checked before any parsing. The parsed document is plain dictionaries of stripped strings;
what the fields mean is :mod:`daemon.erp`'s business.

Every failure is an :class:`ErpRequestError` carrying the return code the ERP
should see and whatever head fields could be recovered, so even the reply to
a broken document can echo ``tr_code`` and ``req_no``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

from daemon import safe_xml
from protocol import codes
from protocol.codes import ReturnCode

DEFAULT_MAX_SIZE = 1 << 20

#: Encodings an ERP may declare or configure, and the Python codec that decodes
#: each. GB2312 and GBK are decoded as GB18030, their superset, so a request
#: labelled GB2312 that uses a GBK-only character is still understood.
_DECODERS = {
    "GBK": "gb18030",
    "GB2312": "gb18030",
    "GB18030": "gb18030",
    "UTF-8": "utf-8",
}

#: How replies are encoded; characters the target cannot hold become XML
#: character references, which every XML parser turns back into the character.
_ENCODERS = {
    "GBK": "gbk",
    "GB2312": "gb2312",
    "GB18030": "gb18030",
    "UTF-8": "utf-8",
}

#: Reply head fields in the order the bank's client writes them.
REPLY_HEAD_FIELDS = (
    "tr_code",
    "corp_no",
    "req_no",
    "serial_no",
    "ans_no",
    "next_no",
    "tr_acdt",
    "tr_time",
    "ans_code",
    "ans_info",
    "particular_code",
    "particular_info",
    "atom_tr_count",
    "reserved",
)

#: Request head fields, as documented (others are kept but not required).
REQUEST_HEAD_FIELDS = (
    "tr_code",
    "corp_no",
    "user_no",
    "req_no",
    "tr_acdt",
    "tr_time",
    "atom_tr_count",
    "channel",
    "reserved",
)

#: Nesting allowed below <body>: batch records are body/tran/rcd/field (3).
_MAX_BODY_DEPTH = 4

_UTF8_BOM = b"\xef\xbb\xbf"
_DECLARATION = re.compile(rb"\A\s*<\?xml\s[^>]*?\?>")
_DECLARED_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
# Used only to echo identifiers in the reply to a document that cannot be
# parsed; the values are ASCII identifiers, so the byte pattern works for
# every supported encoding.
_SALVAGE = {
    name: re.compile(rb"<" + name.encode() + rb">\s*([0-9A-Za-z_.:-]{1,32})\s*</")
    for name in ("tr_code", "corp_no", "user_no", "req_no")
}
_SALVAGE_WINDOW = 4096
# XML 1.0 cannot carry these code points at all, not even as references.
_NOT_XML_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Everything escape_text changes: most reply text has none of it.
_NEEDS_ESCAPE = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

BodyValue = str | dict[str, "BodyValue"] | list["BodyValue"]


@dataclass(frozen=True, slots=True)
class ErpDocument:
    """A parsed ERP request.

    ``head`` maps head field names to stripped text (absent and empty are
    both ``""`` for the documented fields). ``body`` maps body field names to
    stripped text; an element with child elements becomes a dict and an
    element repeated under the same parent becomes a list (room for batch
    records). ``encoding`` is the canonical name the document was decoded
    with (``"GBK"``, ``"GB18030"``, ``"UTF-8"``), so the reply can use it too.
    """

    head: dict[str, str]
    body: dict[str, BodyValue] = field(default_factory=dict)
    encoding: str = "GBK"


class ErpRequestError(Exception):
    """An ERP request refused before it reached the bank.

    ``code`` is the :class:`~protocol.codes.ReturnCode` for the reply's
    ``particular_code``, ``info`` the specific reason for ``particular_info``
    and ``head`` the request head fields known so far, to echo in the reply.
    ``encoding`` is the encoding the reply should use (the request's, once
    known); ``""`` means unknown: use the configured one.
    """

    def __init__(
        self,
        code: ReturnCode,
        info: str,
        head: Mapping[str, str] | None = None,
        *,
        encoding: str = "",
    ) -> None:
        super().__init__(f"{code.code} {info}")
        self.code = code
        self.info = info
        self.head = dict(head or {})
        self.encoding = encoding


#: Characters of a bad value a refusal echoes; the rest is only counted.
EXCERPT_CHARS = 40


def excerpt(value: str, *, quoted: bool = True, limit: int = EXCERPT_CHARS) -> str:
    """``value`` for a refusal message (``repr`` if ``quoted``), cut to ``limit`` characters.

    A refusal names the value it refuses so the ERP's operator can find it,
    but the value comes from outside and may be any size: echoed whole (and
    escaped, ``>`` becoming ``&gt;``) it could make the reply larger than the
    request, and larger than the raw-TCP header can announce.
    """
    shown = repr if quoted else str
    if len(value) <= limit:
        return shown(value)
    return f"{shown(value[:limit])}… ({len(value)} characters)"


def canonical_encoding(name: str) -> str:
    """``"gbk"``, ``"utf8"``, ``"GB2312"`` … → the canonical supported name.

    Raises ValueError for an encoding the ERP interface does not support.
    """
    key = name.strip().upper().replace("_", "-")
    if key == "UTF8":
        key = "UTF-8"
    if key not in _DECODERS:
        raise ValueError(
            f"unsupported ERP encoding {name!r}; use one of {', '.join(_DECODERS)}"
        )
    return key


def parse_request(
    data: bytes, *, encoding: str = "GBK", max_size: int = DEFAULT_MAX_SIZE
) -> ErpDocument:
    """Parse an ERP request document safely.

    ``encoding`` is the configured default, used when the document does not
    declare one of the supported encodings (a UTF-8 byte order mark also
    counts as a declaration). Raises :class:`ErpRequestError` with
    XML_TOO_LARGE (D002), ENCODING_ERROR (D004), XML_MALFORMED (D001, also
    for DTDs and entities) or XML_STRUCTURE (D003, also for an empty or
    blank request).
    """
    configured = canonical_encoding(encoding)
    if len(data) > max_size:
        raise ErpRequestError(
            codes.XML_TOO_LARGE,
            f"request is {len(data)} bytes; the limit is {max_size}",
            _salvage_head(data),
            encoding=configured,
        )
    if not data.strip():
        # Not an expat "no element found" at line 1, column 0: say what it is.
        raise ErpRequestError(codes.XML_STRUCTURE, "request is empty: no XML document", {},
                              encoding=configured)
    used, text = _decode(data, configured)
    try:
        root = safe_xml.parse(text)
    except (safe_xml.Forbidden, safe_xml.ExpatError) as exc:
        raise _malformed(data, used, str(exc)) from None
    except UnicodeError as exc:  # lone surrogates cannot reach the parser
        raise ErpRequestError(
            codes.ENCODING_ERROR, f"not valid {used}: {exc.reason}", _salvage_head(data),
            encoding=used,
        ) from None
    return _to_document(root, used)


def _decode(data: bytes, configured: str) -> tuple[str, str]:
    used, skip = configured, 0
    if data.startswith(_UTF8_BOM):
        used, skip = "UTF-8", len(_UTF8_BOM)
    else:
        declared = _declared_encoding(data)
        if declared is not None:
            used = declared
    try:
        # The parser receives text, so it never applies the declaration itself:
        # the encoding is decided here, once, by the rules above.
        return used, data[skip:].decode(_DECODERS[used])
    except UnicodeDecodeError as exc:
        offset = skip + exc.start
        raise ErpRequestError(
            codes.ENCODING_ERROR,
            f"not valid {used} at byte offset {offset}: {data[offset:offset + 4]!r}",
            _salvage_head(data),
            # Reply in the encoding the ERP declared: that is what it reads.
            encoding=used,
        ) from None


def _declared_encoding(data: bytes) -> str | None:
    match = _DECLARATION.match(data)
    if match is None:
        return None
    enc = _DECLARED_ENCODING.search(match.group(0))
    if enc is None:
        return None
    try:
        return canonical_encoding(enc.group(1).decode("ascii"))
    except ValueError:
        return None  # an unsupported label: the configured encoding decides


def _malformed(data: bytes, used: str, reason: str) -> ErpRequestError:
    return ErpRequestError(
        codes.XML_MALFORMED, f"not well-formed XML: {reason}", _salvage_head(data),
        encoding=used,
    )


def _salvage_head(data: bytes) -> dict[str, str]:
    window = data[:_SALVAGE_WINDOW]
    head = {}
    for name, pattern in _SALVAGE.items():
        match = pattern.search(window)
        if match is not None:
            head[name] = match.group(1).decode("ascii")
    return head


def _tag(name: str) -> str:
    """An element name for a message: ``<name>``, or an excerpt of a very long one."""
    if len(name) <= EXCERPT_CHARS:
        return f"<{name}>"
    return f"<{name[:EXCERPT_CHARS]}…> ({len(name)} characters)"


def _structure(info: str, head: Mapping[str, str], used: str) -> ErpRequestError:
    return ErpRequestError(codes.XML_STRUCTURE, info, head, encoding=used)


def _to_document(root: Element, used: str) -> ErpDocument:
    head_el = root.find("head")
    head: dict[str, str] = {}
    if head_el is not None:
        for child in head_el:
            if len(child):
                raise _structure(f"<head> field {_tag(child.tag)} must be text", head, used)
            if child.tag in head:
                raise _structure(f"<head> field {_tag(child.tag)} appears more than once", head,
                                 used)
            head[child.tag] = (child.text or "").strip()
        for name in REQUEST_HEAD_FIELDS:
            head.setdefault(name, "")
    if root.tag != "ap":
        raise _structure(f"root element must be <ap>, not {_tag(root.tag)}", head, used)
    heads = root.findall("head")
    bodies = root.findall("body")
    if not heads:
        raise _structure("<ap> has no <head>", head, used)
    if not bodies:
        raise _structure("<ap> has no <body>", head, used)
    if len(heads) > 1 or len(bodies) > 1:
        raise _structure("<ap> must have exactly one <head> and one <body>", head, used)
    extra = [child.tag for child in root if child.tag not in ("head", "body")]
    if extra:
        raise _structure(f"unexpected element {_tag(extra[0])} in <ap>", head, used)
    body = _children(bodies[0], 1, head, used)
    return ErpDocument(head=head, body=body, encoding=used)


def _children(
    parent: Element, depth: int, head: Mapping[str, str], used: str
) -> dict[str, BodyValue]:
    out: dict[str, BodyValue] = {}
    repeated: set[str] = set()
    for child in parent:
        value: BodyValue
        if len(child):
            if depth >= _MAX_BODY_DEPTH:
                raise _structure(f"{_tag(child.tag)} is nested too deeply in <body>", head, used)
            value = _children(child, depth + 1, head, used)
        else:
            value = (child.text or "").strip()
        tag = child.tag
        if tag in repeated:
            out[tag].append(value)  # type: ignore[union-attr]
        elif tag in out:
            out[tag] = [out[tag], value]
            repeated.add(tag)
        else:
            out[tag] = value
    return out


def render_reply(
    head: Mapping[str, str],
    body: Mapping[str, object] | None,
    *,
    encoding: str = "GBK",
) -> bytes:
    """Render a reply document, declaration included, in ``encoding``.

    Head fields are written in :data:`REPLY_HEAD_FIELDS` order (missing ones
    as empty elements, others after them). Body values are text, a mapping
    (nested elements) or a list (repeated elements). Characters the encoding
    cannot hold become character references (``&#8364;``); characters XML
    cannot carry at all become U+FFFD.
    """
    name = canonical_encoding(encoding)
    parts = [f'<?xml version="1.0" encoding="{name}"?><ap><head>']
    for key in REPLY_HEAD_FIELDS:
        _element(parts, key, head.get(key, ""))
    for key, value in head.items():
        if key not in REPLY_HEAD_FIELDS:
            _element(parts, key, value)
    parts.append("</head><body>")
    for key, value in (body or {}).items():
        _element(parts, key, value)
    parts.append("</body></ap>")
    return "".join(parts).encode(_ENCODERS[name], errors="xmlcharrefreplace")


def _element(parts: list[str], tag: str, value: object) -> None:
    if isinstance(value, str):
        parts.append(f"<{tag}>{escape_text(value)}</{tag}>")
    elif isinstance(value, Mapping):
        parts.append(f"<{tag}>")
        for key, sub in value.items():
            _element(parts, key, sub)
        parts.append(f"</{tag}>")
    elif isinstance(value, Sequence):
        for item in value:
            _element(parts, tag, item)
    else:
        raise TypeError(f"reply field {tag}: expected text, not {type(value).__name__}")


def escape_text(value: str) -> str:
    """Escape text for element content so that any XML parser reads back ``value``."""
    if not _NEEDS_ESCAPE.search(value):
        return value
    value = _NOT_XML_CHAR.sub("\ufffd", value)
    # "\r" would be normalised to "\n" by the reader; ">" is escaped for "]]>".
    return (
        value.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\r", "&#13;")
    )
