"""The bank's e-receipt (电子回单) as a value, its signature, and its file form.

Every executed debit or credit has a receipt: receipt no., date, payer,
payee, amount in figures and in Chinese capitals, summary and the bank's
serial, signed by the bank with its Ed25519 key. Sans I/O: bytes and text in,
values out; reading and writing files is the caller's business.

Canonical encoding, ``directlink-receipt-v1``
---------------------------------------------
:func:`canonical_bytes` is what the bank signs. It is UTF-8 text of lines,
each ending in LF (never CR LF): first the format tag ``directlink-receipt-v1``
(which also separates these signatures from every other use of the bank's
key), then one ``name=value`` line per field, always all of them, in this order:

=====================  ============================================================
line                   value
=====================  ============================================================
receipt_no             回单编号, the bank's receipt number
biz_date               business date (记账日期), ``YYYY-MM-DD``
kind                   ``debit`` (money left the enterprise's account) or ``credit``
payer_acno             付款人账号
payer_name             付款人户名
payer_bank             付款人开户行 (bank name)
payee_acno             收款人账号
payee_name             收款人户名
payee_bank             收款人开户行 (bank name)
currency               ``CNY`` (the only currency of this version)
amount                 金额(小写): yuan with two decimals, no separators (``1234.56``)
amount_in_capitals     金额(大写), from :func:`protocol.capitals.amount_in_capitals`
summary                摘要; may be empty
serial_no              the bank's transaction serial (交易流水号)
req_no                 the enterprise's request number; empty when none
corp_no                the enterprise code
tr_code                the transaction code that moved the money (e.g. ``210201``)
issued_at              when the receipt was issued, China time, ``YYYY-MM-DDTHH:MM:SS``
=====================  ============================================================

The amount is signed twice, in figures and in capitals, as a person reads it
on paper. A value is written as is, except that a backslash becomes ``\\\\``
and each character of a fixed set becomes ``\\uXXXX`` (four lower-case hex
digits): the C0 and C1 controls and DEL (so a value can never hold a line
break), U+2028 and U+2029, the invisible and bidirectional formatting
characters U+200B–U+200F, U+202A–U+202E, U+2060–U+206F and U+FEFF (so what a
person sees in the file is what was signed), and lone surrogates. The set is
explicit, not a Unicode category, so the encoding does not change with the
Unicode version. With every field present, in a fixed order, one per line,
and no value containing LF, each receipt has exactly one encoding and each
encoding one receipt.

The file form
-------------
:meth:`SignedReceipt.to_text` is the document a person keeps: the canonical
text above, byte for byte, followed by four lines that are not signed::

    signature_algorithm=Ed25519
    signer_key_id=<first 16 hex digits of the fingerprint>
    signer_fingerprint=<64 hex digits in groups of four, as on a key letter>
    signature=<the 64-byte signature in standard base64>

To check it by other means, verify the signature over the file's bytes up to
and including the ``issued_at`` line. :meth:`SignedReceipt.from_text` accepts
only this exact form: it parses, renders again and compares, so a changed
byte anywhere (a case change in hex, a non-canonical base64 tail, a CR, a
stray space) is a :class:`ReceiptFormatError`, and a changed value that still
parses fails :func:`verify_receipt`.

Keys
----
The bank signs with its :class:`~protocol.keys.BankKeyPair`; the receipt then
names the bank's published fingerprint, the one enterprises pin (their ini's
``bank_fingerprint``) and verify with its :class:`~protocol.keys.BankPublicKeys`.
A bare :class:`~protocol.keys.SigningKey` names its own Ed25519 fingerprint
and verifies with its :class:`~protocol.keys.VerifyKey`. The named key is not
part of what is signed: :func:`verify_receipt` requires it to be the key it
is given, then checks the signature with that key.

Errors
------
Every error is a :class:`ReceiptError` (a ValueError) with a message for the
person holding the receipt: :class:`ReceiptFormatError` (a value or a
document that is not well formed; it names the line and field),
:class:`WrongSignerError` (signed by another key than the pinned one) and
:class:`SignatureMismatch` (altered, or not signed by this bank). Values of
the wrong type (a float amount, a datetime as ``biz_date``) are a TypeError.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from protocol.capitals import amount_in_capitals
from protocol.keys import (
    BankKeyPair,
    BankPublicKeys,
    SigningKey,
    VerifyKey,
    format_fingerprint,
)
from protocol.money import MAX_FEN, format_yuan

FORMAT = "directlink-receipt-v1"
SIGNATURE_ALGORITHM = "Ed25519"
SIGNATURE_SIZE = 64
CURRENCY = "CNY"
ReceiptKind = Literal["debit", "credit"]
KINDS: tuple[str, ...] = ("debit", "credit")

#: Longest value of a text field (names, bank names, summary), in characters.
MAX_TEXT_CHARS = 256
#: Longest identifier (account numbers, receipt_no, serial_no, req_no, ...).
MAX_ID_CHARS = 64
#: Largest file form accepted; every valid receipt is far below it.
MAX_FILE_BYTES = 64 * 1024

_ID = re.compile(r"[\x21-\x7e]*")  # printable ASCII, no spaces
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}")
_AMOUNT = re.compile(r"(?:0|[1-9][0-9]{0,13})\.[0-9]{2}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_ESCAPED = re.compile(
    "[\\\\\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2060-\u206f"
    "\ufeff\ud800-\udfff]"
)
_ESCAPE_SEQUENCE = re.compile(r"\\(\\|u[0-9a-f]{4})?")


class ReceiptError(ValueError):
    """A receipt that cannot be built, read or verified; the message says why."""


class ReceiptFormatError(ReceiptError):
    """A field value or a receipt document that is not well formed.

    ``field`` names the field and ``line`` the document line (1-based), when known.
    """

    def __init__(self, reason: str, *, field: str | None = None,
                 line: int | None = None) -> None:
        where = []
        if line is not None:
            where.append(f"line {line}")
        if field is not None:
            where.append(f"field {field}")
        super().__init__(f"{' '.join(where)}: {reason}" if where else reason)
        self.reason = reason
        self.field = field
        self.line = line


class WrongSignerError(ReceiptError):
    """The receipt names a signing key other than the one it is checked against."""


class SignatureMismatch(ReceiptError):
    """The signature does not match the receipt's fields."""


# -- the fields, declared once ------------------------------------------------

# How a field's value is written: identifiers and text as they are (escaped),
# the rest in the fixed formats of the module docstring.
_IDENT, _TEXT, _CHOICE = "identifier", "text", "choice"
_DATE_FORM, _DATETIME_FORM, _AMOUNT_FORM, _CAPITALS_FORM = "date", "datetime", "amount", "capitals"


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    form: str
    required: bool = True


#: The lines of the canonical encoding, in order (amount_in_capitals is derived).
FIELDS: tuple[_Field, ...] = (
    _Field("receipt_no", _IDENT),
    _Field("biz_date", _DATE_FORM),
    _Field("kind", _CHOICE),
    _Field("payer_acno", _IDENT),
    _Field("payer_name", _TEXT),
    _Field("payer_bank", _TEXT),
    _Field("payee_acno", _IDENT),
    _Field("payee_name", _TEXT),
    _Field("payee_bank", _TEXT),
    _Field("currency", _CHOICE),
    _Field("amount", _AMOUNT_FORM),
    _Field("amount_in_capitals", _CAPITALS_FORM),
    _Field("summary", _TEXT, required=False),
    _Field("serial_no", _IDENT),
    _Field("req_no", _IDENT, required=False),
    _Field("corp_no", _IDENT),
    _Field("tr_code", _IDENT),
    _Field("issued_at", _DATETIME_FORM),
)
_SIGNATURE_LINES = ("signature_algorithm", "signer_key_id", "signer_fingerprint", "signature")


@dataclass(frozen=True, slots=True, kw_only=True)
class Receipt:
    """One e-receipt. Fields validate themselves; see the module docstring.

    ``amount`` is integer fen (1 ≤ amount ≤ MAX_FEN); ``biz_date`` a date;
    ``issued_at`` a naive datetime in China time, whole seconds. Identifiers
    are printable ASCII without spaces (at most 64 characters); names, bank
    names and the summary are any text up to 256 characters. Only ``summary``
    and ``req_no`` may be empty. Invalid values raise ReceiptFormatError
    naming the field, values of the wrong type TypeError.
    """

    receipt_no: str
    biz_date: date
    kind: ReceiptKind
    payer_acno: str
    payer_name: str
    payer_bank: str
    payee_acno: str
    payee_name: str
    payee_bank: str
    amount: int
    currency: str = CURRENCY
    summary: str = ""
    serial_no: str
    req_no: str = ""
    corp_no: str
    tr_code: str
    issued_at: datetime

    def __post_init__(self) -> None:
        for spec in FIELDS:
            if spec.form in (_IDENT, _TEXT):
                _check_string(spec, getattr(self, spec.name))
        if not isinstance(self.biz_date, date) or isinstance(self.biz_date, datetime):
            raise TypeError(f"biz_date must be a date, not {type(self.biz_date).__name__}")
        if self.kind not in KINDS:
            raise ReceiptFormatError(f"{self.kind!r} is not 'debit' or 'credit'", field="kind")
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError(f"amount must be an int (fen), not {type(self.amount).__name__}")
        if not 0 < self.amount <= MAX_FEN:
            raise ReceiptFormatError(f"{self.amount} fen is not between 1 and {MAX_FEN}",
                                     field="amount")
        if self.currency != CURRENCY:
            raise ReceiptFormatError(f"{self.currency!r}: only {CURRENCY} receipts exist",
                                     field="currency")
        if not isinstance(self.issued_at, datetime):
            raise TypeError(f"issued_at must be a datetime, not {type(self.issued_at).__name__}")
        if self.issued_at.tzinfo is not None:
            raise ReceiptFormatError("must be naive China time (no tzinfo)", field="issued_at")
        if self.issued_at.microsecond:
            raise ReceiptFormatError("whole seconds only (use .replace(microsecond=0))",
                                     field="issued_at")

    @property
    def amount_in_capitals(self) -> str:
        """The amount in Chinese capitals, as signed (e.g. 壹仟贰佰叁拾肆元伍角陆分)."""
        return amount_in_capitals(self.amount)


def _check_string(spec: _Field, value: object) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{spec.name} must be a str, not {type(value).__name__}")
    if not value and spec.required:
        raise ReceiptFormatError("must not be empty", field=spec.name)
    if spec.form == _IDENT:
        if len(value) > MAX_ID_CHARS:
            raise ReceiptFormatError(f"longer than {MAX_ID_CHARS} characters", field=spec.name)
        if not _ID.fullmatch(value):
            raise ReceiptFormatError(f"{value!r}: only printable ASCII without spaces",
                                     field=spec.name)
    elif len(value) > MAX_TEXT_CHARS:
        raise ReceiptFormatError(f"longer than {MAX_TEXT_CHARS} characters", field=spec.name)


# -- canonical encoding ---------------------------------------------------------


def escape_value(value: str) -> str:
    """``value`` as the canonical encoding writes it (``\\\\`` and ``\\uXXXX`` escapes).

    Also what a person should be shown of a value, so that nothing invisible hides in it.
    """
    return _ESCAPED.sub(
        lambda m: "\\\\" if m[0] == "\\" else f"\\u{ord(m[0]):04x}", value)


def _unescape(value: str, line: int, name: str) -> str:
    def replace(match: re.Match[str]) -> str:
        escaped = match[1]
        if escaped is None:
            raise ReceiptFormatError(
                f"bad escape at column {match.start() + len(name) + 2} "
                "(only \\\\ and \\uXXXX with lower-case hex)", field=name, line=line)
        return "\\" if escaped == "\\" else chr(int(escaped[1:], 16))

    return _ESCAPE_SEQUENCE.sub(replace, value)


def _field_text(receipt: Receipt, spec: _Field) -> str:
    if spec.form == _DATE_FORM:
        return receipt.biz_date.isoformat()
    if spec.form == _DATETIME_FORM:
        return receipt.issued_at.strftime("%Y-%m-%dT%H:%M:%S")
    if spec.form == _AMOUNT_FORM:
        return format_yuan(receipt.amount)
    if spec.form == _CAPITALS_FORM:
        return receipt.amount_in_capitals
    return escape_value(getattr(receipt, spec.name))


def _canonical_text(receipt: Receipt) -> str:
    lines = [FORMAT, *(f"{spec.name}={_field_text(receipt, spec)}" for spec in FIELDS)]
    return "\n".join(lines) + "\n"


def canonical_bytes(receipt: Receipt) -> bytes:
    """The ``directlink-receipt-v1`` encoding of ``receipt``: the bytes the bank signs."""
    if not isinstance(receipt, Receipt):
        raise TypeError(f"expected a Receipt, not {type(receipt).__name__}")
    # Lone surrogates are escaped, so every receipt encodes.
    return _canonical_text(receipt).encode("utf-8")


# -- signing ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedReceipt:
    """A receipt with the bank's signature and the fingerprint of the signing key.

    Read from a file, ``receipt`` is unverified until :func:`verify_receipt`
    has returned it.
    """

    receipt: Receipt
    signature: bytes
    signer_fingerprint: str  # 64 lower-case hex digits

    def __post_init__(self) -> None:
        if not isinstance(self.receipt, Receipt):
            raise TypeError(f"receipt must be a Receipt, not {type(self.receipt).__name__}")
        if not isinstance(self.signature, bytes) or len(self.signature) != SIGNATURE_SIZE:
            raise ReceiptFormatError(f"an {SIGNATURE_ALGORITHM} signature is "
                                     f"{SIGNATURE_SIZE} bytes", field="signature")
        if not isinstance(self.signer_fingerprint, str) or not _HEX64.fullmatch(
                self.signer_fingerprint):
            raise ReceiptFormatError("expected 64 lower-case hex digits",
                                     field="signer_fingerprint")

    @property
    def signer_key_id(self) -> str:
        """The signing key's id: the first sixteen hex digits of its fingerprint."""
        return self.signer_fingerprint[:16]

    def to_text(self) -> str:
        """The file form: the canonical text, then the four signature lines."""
        return _canonical_text(self.receipt) + "".join(
            f"{name}={value}\n" for name, value in zip(_SIGNATURE_LINES, (
                SIGNATURE_ALGORITHM,
                self.signer_key_id,
                format_fingerprint(self.signer_fingerprint),
                base64.b64encode(self.signature).decode("ascii"),
            ), strict=True))

    def to_bytes(self) -> bytes:
        """The file form as UTF-8 bytes, ready to be written as is."""
        return self.to_text().encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> SignedReceipt:
        """Read the file form from bytes (UTF-8). Raises ReceiptFormatError."""
        if not isinstance(data, bytes):
            raise TypeError(f"expected bytes, not {type(data).__name__}")
        if len(data) > MAX_FILE_BYTES:
            raise ReceiptFormatError(f"{len(data)} bytes is too large for a receipt "
                                     f"(at most {MAX_FILE_BYTES})")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise ReceiptFormatError(f"not UTF-8 at byte {exc.start}", line=line) from None
        return cls.from_text(text)

    @classmethod
    def from_text(cls, text: str) -> SignedReceipt:
        """Read the file form. Only the exact form :meth:`to_text` writes is accepted.

        Raises ReceiptFormatError naming the line and field. The result is
        unverified: pass it to :func:`verify_receipt`.
        """
        if not isinstance(text, str):
            raise TypeError(f"expected str, not {type(text).__name__}")
        if len(text) > MAX_FILE_BYTES:
            raise ReceiptFormatError(f"{len(text)} characters is too large for a receipt")
        if not text.endswith("\n"):
            raise ReceiptFormatError("the last line does not end with a line feed")
        crlf = text.find("\r\n")
        if crlf >= 0:
            raise ReceiptFormatError("the line ends in CR LF; a receipt file uses LF only "
                                     "(was it converted by an editor or a mail program?)",
                                     line=text.count("\n", 0, crlf) + 1)
        lines = text[:-1].split("\n")
        if lines[0] != FORMAT:
            if lines[0].startswith("directlink-receipt-"):
                raise ReceiptFormatError(f"unsupported receipt format {lines[0][:40]!r} "
                                         f"(this version reads {FORMAT})", line=1)
            raise ReceiptFormatError(f"not a directlink receipt (the first line is not "
                                     f"{FORMAT!r})", line=1)
        names = [spec.name for spec in FIELDS] + list(_SIGNATURE_LINES)
        if len(lines) != 1 + len(names):
            raise ReceiptFormatError(f"{len(lines)} lines, expected {1 + len(names)}")
        raw: dict[str, tuple[int, str]] = {}
        for number, (name, line) in enumerate(zip(names, lines[1:], strict=True), start=2):
            key, sep, value = line.partition("=")
            if not sep or key != name:
                raise ReceiptFormatError(f"expected '{name}=…', found {line[:40]!r}",
                                         line=number)
            raw[name] = number, value
        signed = cls(receipt=_parse_receipt(raw),
                     signature=_parse_signature(raw),
                     signer_fingerprint=_parse_fingerprint(raw))
        expected = signed.to_text()
        if expected != text:
            number = next((i for i, (a, b) in enumerate(
                zip(lines, expected.split("\n"), strict=False), start=1) if a != b), None)
            raise ReceiptFormatError("not in the canonical form (a character differs from "
                                     "what this receipt's file form has)", line=number)
        return signed


def _parse_receipt(raw: dict[str, tuple[int, str]]) -> Receipt:
    values: dict[str, object] = {}
    for spec in FIELDS:
        number, text = raw[spec.name]
        try:
            if spec.form == _DATE_FORM:
                if not _DATE.fullmatch(text):
                    raise ValueError("expected YYYY-MM-DD")
                values[spec.name] = date.fromisoformat(text)
            elif spec.form == _DATETIME_FORM:
                if not _DATETIME.fullmatch(text):
                    raise ValueError("expected YYYY-MM-DDTHH:MM:SS")
                values[spec.name] = datetime.fromisoformat(text)
            elif spec.form == _AMOUNT_FORM:
                if not _AMOUNT.fullmatch(text):
                    raise ValueError("expected yuan with two decimals, such as 1234.56")
                whole, cents = text.split(".")
                values[spec.name] = int(whole) * 100 + int(cents)
            elif spec.form != _CAPITALS_FORM:
                values[spec.name] = _unescape(text, number, spec.name)
        except ValueError as exc:
            if isinstance(exc, ReceiptError):
                raise
            raise ReceiptFormatError(f"{text[:40]!r}: {exc}", field=spec.name,
                                     line=number) from None
    try:
        receipt = Receipt(**values)  # type: ignore[arg-type]
    except ReceiptFormatError as exc:
        line = raw[exc.field][0] if exc.field in raw else None
        raise ReceiptFormatError(exc.reason, field=exc.field, line=line) from None
    number, capitals = raw["amount_in_capitals"]
    if capitals != receipt.amount_in_capitals:
        raise ReceiptFormatError(f"does not match the amount {format_yuan(receipt.amount)}",
                                 field="amount_in_capitals", line=number)
    return receipt


def _parse_signature(raw: dict[str, tuple[int, str]]) -> bytes:
    number, algorithm = raw["signature_algorithm"]
    if algorithm != SIGNATURE_ALGORITHM:
        raise ReceiptFormatError(f"{algorithm[:40]!r}: only {SIGNATURE_ALGORITHM}",
                                 field="signature_algorithm", line=number)
    number, text = raw["signature"]
    try:
        signature = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise ReceiptFormatError("not base64", field="signature", line=number) from None
    if len(signature) != SIGNATURE_SIZE:
        raise ReceiptFormatError(f"{len(signature)} bytes, an {SIGNATURE_ALGORITHM} "
                                 f"signature is {SIGNATURE_SIZE}", field="signature",
                                 line=number)
    return signature


def _parse_fingerprint(raw: dict[str, tuple[int, str]]) -> str:
    number, text = raw["signer_fingerprint"]
    digits = text.replace(" ", "")
    if not _HEX64.fullmatch(digits):
        raise ReceiptFormatError("expected 64 lower-case hex digits in groups of four",
                                 field="signer_fingerprint", line=number)
    return digits


def _identity(key: SigningKey | BankKeyPair | VerifyKey | BankPublicKeys) -> str:
    if isinstance(key, BankKeyPair):
        return key.public.fingerprint
    if isinstance(key, SigningKey):
        return key.public.fingerprint
    if isinstance(key, (VerifyKey, BankPublicKeys)):
        return key.fingerprint
    raise TypeError(f"not a directlink key: {type(key).__name__}")


def sign_receipt(receipt: Receipt, signer: BankKeyPair | SigningKey) -> SignedReceipt:
    """Sign ``canonical_bytes(receipt)`` with the bank's Ed25519 key.

    With a BankKeyPair (``bank_keys``), the receipt names the bank's published
    fingerprint; with a bare SigningKey (``bank_keys.signing``), that key's own.
    """
    if not isinstance(signer, (BankKeyPair, SigningKey)):
        raise TypeError(f"a receipt is signed with a private key, not {type(signer).__name__}")
    fingerprint = _identity(signer)
    signing = signer.signing if isinstance(signer, BankKeyPair) else signer
    return SignedReceipt(receipt=receipt, signature=signing.sign(canonical_bytes(receipt)),
                         signer_fingerprint=fingerprint)


def verify_receipt(signed: SignedReceipt, key: BankPublicKeys | VerifyKey) -> Receipt:
    """The receipt, once its signature is checked against the bank's pinned key.

    ``key`` is the bank's BankPublicKeys (or a VerifyKey, for receipts signed
    by a bare SigningKey). Raises WrongSignerError when the receipt names
    another key, SignatureMismatch when the signature does not match its
    fields (both ReceiptError).
    """
    if not isinstance(signed, SignedReceipt):
        raise TypeError(f"expected a SignedReceipt, not {type(signed).__name__}")
    expected = _identity(key)
    if signed.signer_fingerprint != expected:
        raise WrongSignerError(
            f"the receipt names signing key id {signed.signer_key_id}, but the key it is "
            f"checked against has key id {expected[:16]}: not signed by this bank's key")
    verify = key.verify if isinstance(key, BankPublicKeys) else key
    if not verify.verify(signed.signature, canonical_bytes(signed.receipt)):
        raise SignatureMismatch("the signature does not match: the receipt was altered or "
                                "not signed by this bank")
    return signed.receipt
