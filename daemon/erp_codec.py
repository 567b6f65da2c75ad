"""ERP requests to wire fields and wire replies to ERP replies, per ``tr_code``.

The ERP side speaks the Bank of Communications direct-connect XML conventions
(yuan strings, optional fields, pipe-delimited ``serial_record`` tables); the
wire side towards the bank core speaks the field dictionaries declared in
:mod:`protocol.bodies` (integer fen, every field present, ``""`` = absent).
This module is the translation between the two, and it validates everything
an ERP can get wrong before anything is sent, so a refusal here changes
nothing at the bank.

Each request body is declared once, as data (:data:`REQUEST_RULES`); the same
declaration validates requests and is checked against docs/erp-interface.md.

Typical use by a listener::

    doc = parse_request(xml, encoding=cfg.encoding)          # erp_xml
    doc = fill_identity(doc, corp_no=cfg.corp_no, user_no=cfg.user_no)
    wire = request_to_wire(doc)
    ...                                                      # ask the core
    head, body = reply_to_erp(wire.tr_code, doc.head, wire_reply)
    xml = render_reply(head, body, encoding=doc.encoding)    # erp_xml

with every :class:`ErpRequestError` answered by :func:`error_reply` and a
lost or unreadable answer from the core by :func:`outcome_unknown_reply`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from daemon.erp_xml import EXCERPT_CHARS, ErpDocument, ErpRequestError, excerpt
from protocol import codes
from protocol.bodies import ACNAME, ACNO, BANK_NAME, BANK_NO, CERT_NO, REQ_NO, SUMMARY
from protocol.codes import ReturnCode
from protocol.money import AmountError, format_yuan, parse_yuan

__all__ = [
    "ACCOUNT_COLUMNS",
    "CST",
    "ENTRY_COLUMNS",
    "REQUEST_RULES",
    "SUPPORTED_TR_CODES",
    "UNKNOWN_OUTCOME_CODES",
    "ErpRequestError",
    "FieldRule",
    "Kind",
    "WireReply",
    "WireReplyError",
    "WireReplyLike",
    "WireRequest",
    "ans_code_for",
    "error_reply",
    "fill_identity",
    "new_req_no",
    "outcome_unknown_reply",
    "reply_to_erp",
    "request_to_wire",
]

#: China Standard Time: the bank's clock, as in the wire header.
CST = dt.timezone(dt.timedelta(hours=8), "CST")

Clock = Callable[[], dt.datetime]


def _now() -> dt.datetime:
    return dt.datetime.now(CST)


# -- request field declarations ------------------------------------------------


class Kind(Enum):
    """How an ERP field is checked and converted."""

    ACNO = "account number: letters, digits, '-'"
    TEXT = "text, at most {width} bytes in GB18030 (a Chinese character is 2)"
    ASCII = "printable ASCII, at most {width} characters"
    BANK_NO = "12-digit bank number (联行号)"
    CURRENCY = "3-letter currency code"
    DATE = "date YYYYMMDD"
    AMOUNT = "yuan, up to two decimals, positive"
    FLAG = "one of the listed values"
    COUNT = "non-negative integer, at most {width} digits"


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldRule:
    """One ERP request body field: its checks, default and documentation."""

    name: str
    kind: Kind
    doc: str
    width: int = 0
    required: bool = False
    default: str = ""
    choices: tuple[str, ...] = ()
    maximum: int | None = None
    aliases: tuple[str, ...] = ()
    hint: str = ""

    def describe(self) -> str:
        """The format column of the docs' field tables."""
        if self.kind in (Kind.TEXT, Kind.ASCII, Kind.COUNT):
            text = self.kind.value.format(width=self.width)
        elif self.kind is Kind.ACNO:
            text = f"{self.kind.value}, at most {self.width}"
        elif self.kind is Kind.FLAG:
            text = "one of " + ", ".join(f"`{c}`" for c in self.choices)
        else:
            text = self.kind.value
        if self.maximum is not None:
            text += f", at most {self.maximum}"
        return text


def _acno(name: str, doc: str, *, required: bool = True) -> FieldRule:
    return FieldRule(name=name, kind=Kind.ACNO, width=ACNO, required=required, doc=doc)


def _text(name: str, width: int, doc: str, *, required: bool = False) -> FieldRule:
    return FieldRule(name=name, kind=Kind.TEXT, width=width, required=required, doc=doc)


def _flag(name: str, doc: str, choices: tuple[str, ...] = ("0", "1"), **kw) -> FieldRule:
    return FieldRule(name=name, kind=Kind.FLAG, choices=choices, default=choices[0], doc=doc,
                     **kw)


_AMT = FieldRule(name="amt", kind=Kind.AMOUNT, required=True, doc="amount in yuan (金额)")
_CERT_NO = FieldRule(name="cert_no", kind=Kind.ASCII, width=CERT_NO,
                     doc="the enterprise's voucher number (企业凭证号)")

#: Request body fields per tr_code, in wire order. Every wire field is listed:
#: optional ones default to ``""`` (or 0 for counts) as the wire expects.
REQUEST_RULES: dict[str, tuple[FieldRule, ...]] = {
    "310101": (
        _acno("acno", "account (账号); empty = every account of the enterprise",
              required=False),
    ),
    "310201": (
        _acno("acno", "account (账号)"),
    ),
    "310301": (
        _acno("acno", "account (账号)"),
        FieldRule(name="start_date", kind=Kind.DATE, required=True,
                  doc="first business date (起始日期)"),
        FieldRule(name="end_date", kind=Kind.DATE, required=True,
                  doc="last business date (终止日期), not before start_date"),
        FieldRule(name="begin_no", kind=Kind.COUNT, width=6,
                  doc="first record wanted, 1-based; empty or 0 = 1"),
        FieldRule(name="query_num", kind=Kind.COUNT, width=4, maximum=500,
                  doc="records wanted; empty or 0 = 100"),
    ),
    "210201": (
        _acno("pay_acno", "payer account (付款人账号), the enterprise's"),
        _text("pay_acname", ACNAME, "payer name (付款人户名)", required=True),
        _text("rcv_bank_name", BANK_NAME, "payee bank name (收款方行名)"),
        _acno("rcv_acno", "payee account (收款人账号)"),
        _text("rcv_acname", ACNAME, "payee name (收款人户名)", required=True),
        FieldRule(name="rcv_exg_code", kind=Kind.ASCII, width=12,
                  doc="payee exchange code (收款方交换号)"),
        FieldRule(name="rcv_bank_no", kind=Kind.BANK_NO,
                  doc="payee bank number (收款方联行号)"),
        FieldRule(name="cur_code", kind=Kind.CURRENCY, default="CNY",
                  doc="currency (币种); empty = CNY"),
        _AMT,
        _CERT_NO,
        _text("summary", SUMMARY, "summary (附言)"),
        _flag("bank_flag", "0 = payee at this bank, 1 = other bank (银行标志); empty = 0"),
        _flag("area_flag", "0 = same city, 1 = other city (同城异地标志); empty = 0"),
    ),
    "210224": (
        _acno("pay_acno", "payer account (付款人账号), the enterprise's"),
        _text("pay_acname", ACNAME, "payer name (付款人户名)", required=True),
        _acno("rcv_acno", "payee account (收款人账号)"),
        _text("rcv_acname", ACNAME, "payee name (收款人户名)", required=True),
        FieldRule(name="partyid", kind=Kind.BANK_NO, required=True, aliases=("partyId",),
                  doc="receiving bank number (收款行行号); `partyId` is accepted too"),
        _AMT,
        _CERT_NO,
        _text("purpose", SUMMARY, "purpose (用途)"),
        _text("summary", SUMMARY, "summary (附言)"),
        _flag("urgent_flag", "1 = urgent, 0 = normal (加急标志); empty = 0"),
    ),
    "310204": (
        _flag("query_flag", "what ogl_serial_no is (查询标志): 1 = the original req_no, "
              "else the bank serial_no of its reply; 2 = the bank serial_no only; "
              "3 = the req_no only; empty = 1",
              choices=("1", "2", "3"),
              hint="1 req_no then bank serial, 2 bank serial, 3 req_no"),
        FieldRule(name="ogl_serial_no", kind=Kind.ASCII, width=REQ_NO, required=True,
                  doc="the original request's req_no, or the serial_no of its reply "
                      "(原流水号)"),
    ),
}

SUPPORTED_TR_CODES: frozenset[str] = frozenset(REQUEST_RULES)

_ACNO_CHARS = re.compile(r"[0-9A-Za-z-]+")
_REQ_NO = re.compile(r"[0-9A-Za-z_.:-]+")
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DATE = re.compile(r"[0-9]{8}")
_CURRENCY = re.compile(r"[A-Za-z]{3}")


# -- requests ------------------------------------------------------------------


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
    now = now or _now()
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
    fields: dict[str, str | int] = {}
    for rule in rules:
        try:
            fields[rule.name] = _convert(rule, _raw_value(doc.body, rule))
        except _FieldError as exc:
            raise refuse(exc.code, exc.info) from None
    if tr_code == "310301" and fields["start_date"] > fields["end_date"]:
        raise refuse(
            codes.INVALID_DATE_RANGE,
            f"start_date {fields['start_date']} is after end_date {fields['end_date']}",
        )
    return WireRequest(
        tr_code=tr_code,
        req_no=req_no,
        corp_no=head.get("corp_no", ""),
        user_no=head.get("user_no", ""),
        fields=fields,
    )


class _FieldError(Exception):
    def __init__(self, info: str, code: ReturnCode = codes.INVALID_FIELD) -> None:
        super().__init__(info)
        self.info = info
        self.code = code


def _raw_value(body: Mapping[str, object], rule: FieldRule) -> str:
    if not rule.aliases:
        # The common case, checked first: one name, given as text or absent.
        value = body.get(rule.name, "")
        if isinstance(value, str):
            return value
    found: list[tuple[str, str]] = []
    for name in (rule.name, *rule.aliases):
        if name not in body:
            continue
        value = body[name]
        if isinstance(value, list):
            raise _FieldError(f"{name} appears {len(value)} times; expected one value")
        if not isinstance(value, str):
            raise _FieldError(f"{name} must be text, not nested elements")
        if value:
            found.append((name, value))
    if len({value for _, value in found}) > 1:
        names = " and ".join(name for name, _ in found)
        raise _FieldError(f"{names} give different values")
    return found[0][1] if found else ""


def _convert(rule: FieldRule, value: str) -> str | int:
    if not value:
        if rule.required:
            raise _FieldError(f"missing field {rule.name}")
        return 0 if rule.kind is Kind.COUNT else rule.default
    return _CHECKS[rule.kind](rule, value)


def _check_amount(rule: FieldRule, value: str) -> int:
    if len(value) > EXCERPT_CHARS:
        # No amount is this long (14 digits, 2 decimals); parse_yuan would echo it whole.
        raise _FieldError(f"{rule.name}: not an amount: {excerpt(value)}",
                          codes.INVALID_AMOUNT)
    try:
        return parse_yuan(value)
    except AmountError as exc:
        raise _FieldError(f"{rule.name}: {exc}", codes.INVALID_AMOUNT) from None


def _check_acno(rule: FieldRule, value: str) -> str:
    if len(value) > rule.width or not _ACNO_CHARS.fullmatch(value):
        raise _FieldError(
            f"{rule.name} must be at most {rule.width} letters, digits or '-': {excerpt(value)}"
        )
    return value


def _check_text(rule: FieldRule, value: str) -> str:
    name = rule.name
    if _CONTROL.search(value):
        raise _FieldError(f"{name} contains control characters (line breaks, tabs)")
    if "|" in value:
        # '|' separates the cells of the serial_record tables this text
        # later appears in (details, status queries).
        raise _FieldError(f"{name} must not contain '|'")
    # ASCII takes one byte per character in GB18030: no need to encode it.
    size = len(value) if value.isascii() else len(value.encode("gb18030"))
    if size > rule.width:
        raise _FieldError(
            f"{name} is {size} bytes in GB18030; at most {rule.width} "
            "(a Chinese character takes 2)"
        )
    return value


def _check_ascii(rule: FieldRule, value: str) -> str:
    if not _PRINTABLE_ASCII.fullmatch(value) or "|" in value:
        raise _FieldError(
            f"{rule.name} must be printable ASCII (letters, digits, punctuation except '|'): "
            f"{excerpt(value)}"
        )
    if len(value) > rule.width:
        raise _FieldError(f"{rule.name} is {len(value)} characters; at most {rule.width}")
    return value


def _check_bank_no(rule: FieldRule, value: str) -> str:
    if len(value) != BANK_NO or not value.isascii() or not value.isdigit():
        raise _FieldError(f"{rule.name} must be {BANK_NO} digits: {excerpt(value)}")
    return value


def _check_currency(rule: FieldRule, value: str) -> str:
    if not _CURRENCY.fullmatch(value):
        raise _FieldError(
            f"{rule.name} must be a 3-letter currency code such as CNY: {excerpt(value)}")
    return value.upper()


def _check_date(rule: FieldRule, value: str) -> str:
    if not _DATE.fullmatch(value):
        raise _FieldError(f"{rule.name} must be a date YYYYMMDD: {excerpt(value)}")
    try:
        dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        raise _FieldError(f"{rule.name} is not a calendar date: {value!r}") from None
    return value


def _check_flag(rule: FieldRule, value: str) -> str:
    if value not in rule.choices:
        allowed = " or ".join(rule.choices)
        hint = f" ({rule.hint})" if rule.hint else ""
        raise _FieldError(f"{rule.name} must be {allowed}{hint}: {excerpt(value)}")
    return value


def _check_count(rule: FieldRule, value: str) -> int:
    if not value.isascii() or not value.isdigit() or len(value) > rule.width:
        raise _FieldError(f"{rule.name} must be at most {rule.width} digits: {excerpt(value)}")
    number = int(value)
    if rule.maximum is not None and number > rule.maximum:
        raise _FieldError(f"{rule.name} must be at most {rule.maximum}: {value}")
    return number


#: How a non-empty value of each kind is checked and converted.
_CHECKS: dict[Kind, Callable[[FieldRule, str], str | int]] = {
    Kind.AMOUNT: _check_amount,
    Kind.ACNO: _check_acno,
    Kind.TEXT: _check_text,
    Kind.ASCII: _check_ascii,
    Kind.BANK_NO: _check_bank_no,
    Kind.CURRENCY: _check_currency,
    Kind.DATE: _check_date,
    Kind.FLAG: _check_flag,
    Kind.COUNT: _check_count,
}


# -- replies -------------------------------------------------------------------

#: Codes after which the ERP must not assume the transaction failed: the
#: outcome is unknown (D008), or the same req_no is still being executed
#: (D006). Both answer ans_code "2": query with 310204.
UNKNOWN_OUTCOME_CODES: frozenset[str] = frozenset(
    {codes.OUTCOME_UNKNOWN.code, codes.DUPLICATE_IN_FLIGHT.code}
)

#: The 310101 serial_record columns: header text and wire field.
ACCOUNT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("户名", "acname"),
    ("账号", "acno"),
    ("币种", "cur_code"),
    ("余额", "balance"),
    ("可用余额", "avail_balance"),
    ("开户日期", "open_date"),
    ("账户类型", "acc_type"),
    ("开户行", "open_bank"),
    ("错误信息", "err_msg"),
    ("成功标志", "succ_flag"),
)

#: The 310201/310301 serial_record columns: header text and wire field.
ENTRY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("交易日期", "tr_date"),
    ("交易时间", "tr_time"),
    ("流水号", "serial_no"),
    ("借贷标志", "dc_flag"),
    ("发生额", "amt"),
    ("余额", "balance"),
    ("对方账号", "opp_acno"),
    ("对方户名", "opp_acname"),
    ("摘要", "summary"),
    ("企业流水号", "req_no"),
    ("凭证号", "cert_no"),
)

_AMOUNT_COLUMNS = frozenset({"balance", "avail_balance", "amt"})

# Status bodies that tell the ERP "not known yet, query": transfer stat 3
# (suspicious) and inter-bank tranStatus 20 (suspicious).
_UNKNOWN_STATUS_BODY: dict[str, dict[str, str]] = {
    "210201": {"stat": "3"},
    "210224": {"tranStatus": "20"},
}


class WireReplyLike(Protocol):
    """What :func:`reply_to_erp` needs from the core's answer."""

    @property
    def ret_code(self) -> str | ReturnCode: ...
    @property
    def ret_msg(self) -> str: ...
    @property
    def serial_no(self) -> str: ...
    @property
    def fields(self) -> Mapping[str, object]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class WireReply:
    """A plain :class:`WireReplyLike`: the core's return code, message, serial and body."""

    ret_code: str | ReturnCode
    ret_msg: str = ""
    serial_no: str = ""
    fields: Mapping[str, object] = field(default_factory=dict)


class WireReplyError(ValueError):
    """The core's reply lacks a field this tr_code needs, or has the wrong type.

    A local fault (the core and daemon disagree), never the ERP's: the caller
    should log it and answer :func:`outcome_unknown_reply`, because the core
    may have executed the request.
    """


def ans_code_for(particular_code: str) -> str:
    """``"0"`` success, ``"2"`` outcome unknown (query later), ``"1"`` refused."""
    if particular_code == codes.OK.code:
        return "0"
    if particular_code in UNKNOWN_OUTCOME_CODES:
        return "2"
    return "1"


def reply_to_erp(
    tr_code: str,
    head_in: Mapping[str, str],
    wire_reply: WireReplyLike,
    *,
    clock: Clock = _now,
) -> tuple[dict[str, str], dict[str, str]]:
    """The ERP reply (head, body) for the core's answer to a request.

    ``head_in`` is the request head after :func:`fill_identity`, so an
    assigned req_no is echoed. A refusal has an empty body, except that a
    transfer whose outcome is unknown reports stat 3 / tranStatus 20. Raises
    :class:`WireReplyError` if the core's fields are not what ``tr_code``
    needs.
    """
    if tr_code not in _BODY_BUILDERS:
        raise ValueError(f"unsupported tr_code {tr_code!r}")
    code = str(wire_reply.ret_code)
    info = wire_reply.ret_msg or _default_message(code)
    if code == codes.OK.code:
        body = _BODY_BUILDERS[tr_code](wire_reply.fields)
    else:
        body = dict(_UNKNOWN_STATUS_BODY.get(tr_code, {})) if code in UNKNOWN_OUTCOME_CODES \
            else {}
    return _head(tr_code, head_in, code, info, wire_reply.serial_no, clock), body


def outcome_unknown_reply(
    tr_code: str, head_in: Mapping[str, str], *, clock: Clock = _now
) -> tuple[dict[str, str], dict[str, str]]:
    """The reply when the request may have reached the bank but no answer came back.

    OUTCOME_UNKNOWN (D008), ans_code ``"2"``; a transfer says stat ``3`` and
    an inter-bank payment tranStatus ``20`` (suspicious) — never "failed".
    The ERP resolves it with 310204.
    """
    code = codes.OUTCOME_UNKNOWN
    body = dict(_UNKNOWN_STATUS_BODY.get(tr_code, {}))
    return _head(tr_code, head_in, code.code, code.message, "", clock), body


def error_reply(
    code: ReturnCode,
    info: str,
    head_in: Mapping[str, str],
    *,
    clock: Clock = _now,
) -> tuple[dict[str, str], dict[str, str]]:
    """The reply for a request the daemon refused itself (parse, validation, identity…).

    ``info`` (the specific reason) becomes particular_info, falling back to
    the code's message. The tr_code echoed is the request's own, if known.
    """
    tr_code = head_in.get("tr_code", "")
    body = dict(_UNKNOWN_STATUS_BODY.get(tr_code, {})) if code.code in UNKNOWN_OUTCOME_CODES \
        else {}
    return _head(tr_code, head_in, code.code, info or code.message, "", clock), body


def _default_message(code: str) -> str:
    known = codes.lookup(code)
    return known.message if known is not None else ""


def _head(
    tr_code: str,
    head_in: Mapping[str, str],
    code: str,
    info: str,
    serial_no: str,
    clock: Clock,
) -> dict[str, str]:
    now = clock()
    return {
        "tr_code": tr_code,
        "corp_no": head_in.get("corp_no", ""),
        "req_no": head_in.get("req_no", ""),
        "serial_no": serial_no,
        "ans_no": "",
        "next_no": "",
        # Formatted by hand: strftime costs several times as much.
        "tr_acdt": f"{now.year:04d}{now.month:02d}{now.day:02d}",
        "tr_time": f"{now.hour:02d}{now.minute:02d}{now.second:02d}",
        "ans_code": ans_code_for(code),
        # Left empty as the bank's client does: integrations read the reason
        # from particular_info and some show ans_info only when that is empty.
        "ans_info": "",
        "particular_code": code,
        "particular_info": info,
        "atom_tr_count": "1",
        "reserved": "",
    }


def _cell(value: object) -> str:
    # A '|' or line break inside a cell would shift every later column.
    text = "" if value is None else str(value)
    return re.sub(r"[\r\n\t]", " ", text).replace("|", "｜")


def _serial_record(columns: tuple[tuple[str, str], ...], rows: Iterable[Iterable[str]]) -> str:
    parts = ["".join(f"{title}|" for title, _ in columns)]
    parts.extend("".join(f"{_cell(value)}|" for value in row) for row in rows)
    return "".join(parts)


def _records(fields: Mapping[str, object]) -> list[Mapping[str, object]]:
    records = fields.get("records")
    if not isinstance(records, list | tuple) or not all(
        isinstance(r, Mapping) for r in records
    ):
        raise WireReplyError("wire reply field records: expected a list of records")
    return list(records)


def _yuan(record: Mapping[str, object], name: str) -> str:
    value = record.get(name)
    if value.__class__ is not int:
        raise WireReplyError(f"wire reply field {name}: expected integer fen, got {value!r}")
    return format_yuan(value)  # type: ignore[arg-type]


def _str_field(record: Mapping[str, object], name: str) -> str:
    value = record.get(name, "")
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if value.__class__ is int:
        return str(value)
    raise WireReplyError(f"wire reply field {name}: expected text, got {value!r}")


def _row(record: Mapping[str, object], columns: tuple[tuple[str, str], ...],
         *, blank_amounts: bool = False) -> list[str]:
    row = []
    for _, name in columns:
        if name in _AMOUNT_COLUMNS:
            row.append("" if blank_amounts else _yuan(record, name))
        else:
            row.append(_str_field(record, name))
    return row


def _table_body(columns: tuple[tuple[str, str], ...], rows: list[list[str]]) -> dict[str, str]:
    return {
        "serial_record": _serial_record(columns, rows),
        "field_num": str(len(columns)),
        "record_num": str(len(rows)),
        "file_flag": "0",
        "filename": "",
    }


def _body_310101(fields: Mapping[str, object]) -> dict[str, str]:
    rows = []
    for record in _records(fields):
        # A row the bank could not serve (succ_flag 1) carries no balances,
        # as the bank's client shows it, rather than a misleading 0.00.
        failed = _str_field(record, "succ_flag") != "0"
        rows.append(_row(record, ACCOUNT_COLUMNS, blank_amounts=failed))
    return _table_body(ACCOUNT_COLUMNS, rows)


def _body_310201(fields: Mapping[str, object]) -> dict[str, str]:
    rows = [_row(record, ENTRY_COLUMNS) for record in _records(fields)]
    return _table_body(ENTRY_COLUMNS, rows)


def _body_310301(fields: Mapping[str, object]) -> dict[str, str]:
    body = _body_310201(fields)
    for name in ("total_num", "begin_no"):
        value = fields.get(name)
        if value.__class__ is not int:
            raise WireReplyError(f"wire reply field {name}: expected an integer, got {value!r}")
        body[name] = str(value)
    body["more_flag"] = _str_field(fields, "more_flag") or "0"
    return body


def _body_210201(fields: Mapping[str, object]) -> dict[str, str]:
    return {"stat": _str_field(fields, "stat")}


def _body_210224(fields: Mapping[str, object]) -> dict[str, str]:
    return {"tranStatus": _str_field(fields, "tran_status")}


_STATUS_FIELDS = ("ogl_serial_no", "stat", "err_msg", "pay_acno", "pay_bank_no", "rcv_acno",
                  "rcv_bank_no", "amt", "cert_no")


def _body_310204(fields: Mapping[str, object]) -> dict[str, str]:
    return {
        name: _yuan(fields, name) if name == "amt" else _str_field(fields, name)
        for name in _STATUS_FIELDS
    }


_BODY_BUILDERS: dict[str, Callable[[Mapping[str, object]], dict[str, str]]] = {
    "310101": _body_310101,
    "310201": _body_310201,
    "310301": _body_310301,
    "210201": _body_210201,
    "210224": _body_210224,
    "310204": _body_310204,
}
