"""An ERP request to wire fields: identity first, then the body, before anything is sent.

:func:`fill_identity` checks the head against the configured enterprise and
assigns a missing req_no; :func:`request_to_wire` validates the body by its
tr_code's rules (:mod:`.tr_codes`) and converts it to the field dictionaries
declared in :mod:`protocol.bodies` (integer fen, every field present,
``""`` = absent). A refusal here changes nothing at the bank.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from daemon.erp.fields import FieldError, convert_fields
from daemon.erp.replies import CST
from daemon.erp.tr_codes import REQUEST_CHECKS, REQUEST_RULES, SUPPORTED_TR_CODES
from daemon.erp_xml import ErpDocument, ErpRequestError, excerpt
from protocol import codes
from protocol.bodies import REQ_NO
from protocol.codes import ReturnCode

__all__ = ["WireRequest", "fill_identity", "new_req_no", "request_to_wire"]

_REQ_NO = re.compile(r"[0-9A-Za-z_.:-]+")


@dataclass(frozen=True, slots=True, kw_only=True)
class WireRequest:
    """A validated request, ready for the wire: identity plus body fields.

    ``fields`` are exactly the body fields :mod:`protocol.bodies` declares
    for ``tr_code``: amounts and counts are ints, everything else strings.
    """

    tr_code: str
    req_no: str
    corp_no: str
    user_no: str
    fields: dict[str, str | int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.tr_code not in SUPPORTED_TR_CODES:
            raise ValueError(f"unsupported tr_code {self.tr_code!r}")
        for name in ("req_no", "corp_no", "user_no"):
            if not getattr(self, name):
                raise ValueError(f"{name} is empty; call fill_identity() first")


_req_counter = itertools.count()


def new_req_no(now: dt.datetime | None = None) -> str:
    """A fresh req_no for a request that came without one (30 ASCII characters).

    ``DL`` + the time to the second + a per-process counter + 32 random bits:
    the counter keeps numbers unique within a process, the random part across
    restarts within the same second.
    """
    now = now or dt.datetime.now(CST)
    seq = next(_req_counter) % 1_000_000
    return f"DL{now:%Y%m%d%H%M%S}{seq:06d}{secrets.token_hex(4)}"


def fill_identity(
    doc: ErpDocument,
    *,
    corp_no: str,
    user_no: str,
    assign_req_no: Callable[[], str] = new_req_no,
) -> ErpDocument:
    """Check the request's identity against the configuration and fill the gaps.

    An empty ``corp_no``/``user_no`` is filled from the configuration; a
    different one is refused with IDENTITY_MISMATCH (D005). An empty
    ``req_no`` is assigned (:func:`new_req_no`) so the reply can echo it.
    Returns a new document whose head the reply should echo.
    """
    head = dict(doc.head)
    for name, configured in (("corp_no", corp_no), ("user_no", user_no)):
        given = head.get(name, "")
        if not given:
            head[name] = configured
        elif given != configured:
            raise ErpRequestError(
                codes.IDENTITY_MISMATCH,
                f"{name} {excerpt(given, quoted=False)} is not the configured enterprise's "
                f"{name}",
                doc.head,
                encoding=doc.encoding,
            )
    if not head.get("req_no"):
        head["req_no"] = assign_req_no()
    return ErpDocument(head=head, body=doc.body, encoding=doc.encoding)


def request_to_wire(doc: ErpDocument) -> WireRequest:
    """Validate an identified request and convert its body to wire fields.

    Raises :class:`ErpRequestError`: INVALID_FIELD (E001) for a missing or
    malformed field, INVALID_AMOUNT (E002), INVALID_DATE_RANGE (E013) and
    UNKNOWN_TR_CODE (P005); the info always names the field. Body elements
    that the tr_code does not use are ignored, as the bank's client does.
    """
    head = doc.head

    def refuse(code: ReturnCode, info: str) -> ErpRequestError:
        return ErpRequestError(code, info, head, encoding=doc.encoding)

    tr_code = head.get("tr_code", "")
    if not tr_code:
        raise refuse(codes.INVALID_FIELD, "missing field tr_code")
    rules = REQUEST_RULES.get(tr_code)
    if rules is None:
        raise refuse(
            codes.UNKNOWN_TR_CODE,
            f"unknown tr_code {excerpt(tr_code, quoted=False)}; supported: "
            f"{', '.join(sorted(SUPPORTED_TR_CODES))}",
        )
    req_no = head.get("req_no", "")
    if req_no and (len(req_no) > REQ_NO or not _REQ_NO.fullmatch(req_no)):
        raise refuse(
            codes.INVALID_FIELD,
            f"req_no must be 1 to {REQ_NO} letters, digits or '-_.:': {excerpt(req_no)}",
        )
    try:
        fields = convert_fields(rules, doc.body)
        check = REQUEST_CHECKS.get(tr_code)
        if check is not None:
            check(fields)
    except FieldError as exc:
        raise refuse(exc.code, exc.info) from None
    return WireRequest(
        tr_code=tr_code,
        req_no=req_no,
        corp_no=head.get("corp_no", ""),
        user_no=head.get("user_no", ""),
        fields=fields,
    )
