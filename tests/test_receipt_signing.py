"""protocol.receipt: the e-receipt's canonical encoding, signature and file form."""

from __future__ import annotations

import ast
import base64
import dataclasses
import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given
from hypothesis import strategies as st

import protocol.receipt
from protocol.keys import BankKeyPair, SigningKey
from protocol.money import MAX_FEN
from protocol.receipt import (
    FIELDS,
    FORMAT,
    MAX_FILE_BYTES,
    Receipt,
    ReceiptError,
    ReceiptFormatError,
    SignatureMismatch,
    SignedReceipt,
    WrongSignerError,
    canonical_bytes,
    sign_receipt,
    verify_receipt,
)

BANK = BankKeyPair.from_seeds(bytes(range(32)), bytes(range(32, 64)))
OTHER_BANK = BankKeyPair.from_seeds(bytes(range(64, 96)), bytes(range(96, 128)))


def make_receipt(**changes: object) -> Receipt:
    values: dict[str, object] = dict(
        receipt_no="R2026112400000001",
        biz_date=date(2026, 11, 24),
        kind="debit",
        payer_acno="310066726018010000001",
        payer_name="Demo Insurance Co., Ltd.",
        payer_bank="Simulated Bank",
        payee_acno="6222020200000000001",
        payee_name="张三",
        payee_bank="ICBC Beijing Branch",
        amount=123456,
        summary="货款",
        serial_no="20261124000123",
        req_no="ERP0000000042",
        corp_no="0000000001",
        tr_code="210201",
        issued_at=datetime(2026, 11, 24, 10, 15, 30),
    )
    values.update(changes)
    return Receipt(**values)  # type: ignore[arg-type]


RECEIPT = make_receipt()
SIGNED = sign_receipt(RECEIPT, BANK)

CANONICAL = """\
directlink-receipt-v1
receipt_no=R2026112400000001
biz_date=2026-11-24
kind=debit
payer_acno=310066726018010000001
payer_name=Demo Insurance Co., Ltd.
payer_bank=Simulated Bank
payee_acno=6222020200000000001
payee_name=张三
payee_bank=ICBC Beijing Branch
currency=CNY
amount=1234.56
amount_in_capitals=壹仟贰佰叁拾肆元伍角陆分
summary=货款
serial_no=20261124000123
req_no=ERP0000000042
corp_no=0000000001
tr_code=210201
issued_at=2026-11-24T10:15:30
"""


# -- the canonical encoding ------------------------------------------------------------


def test_canonical_bytes_are_the_documented_lines() -> None:
    assert canonical_bytes(RECEIPT) == CANONICAL.encode("utf-8")


def test_the_amount_is_signed_in_figures_and_in_capitals() -> None:
    lines = canonical_bytes(RECEIPT).decode().splitlines()
    assert "amount=1234.56" in lines
    assert "amount_in_capitals=壹仟贰佰叁拾肆元伍角陆分" in lines


def test_docstring_table_lists_the_fields_in_order() -> None:
    doc = protocol.receipt.__doc__ or ""
    _, header, rows, _ = re.split(r"^=+ +=+$", doc, flags=re.MULTILINE)
    assert header.split() == ["line", "value"]
    names = re.findall(r"^([a-z_]+) {2,}", rows, flags=re.MULTILINE)
    assert names == [spec.name for spec in FIELDS]


def test_every_field_is_in_the_signed_bytes() -> None:
    """Changing any one field changes what is signed, so the old signature fails."""
    changes: dict[str, object] = dict(
        receipt_no="R2026112400000002", biz_date=date(2026, 11, 25), kind="credit",
        payer_acno="310066726018010000002", payer_name="Demo Insurance Co., Ltd",
        payer_bank="Simulated Bank ", payee_acno="6222020200000000002", payee_name="张四",
        payee_bank="ICBC", amount=123457, summary="货款 ", serial_no="20261124000124",
        req_no="", corp_no="0000000002", tr_code="210224",
        issued_at=datetime(2026, 11, 24, 10, 15, 31),
    )
    names = {field.name for field in dataclasses.fields(Receipt)} - {"currency"}
    assert set(changes) == names
    for name, value in changes.items():
        forged = dataclasses.replace(SIGNED, receipt=make_receipt(**{name: value}))
        with pytest.raises(SignatureMismatch):
            verify_receipt(forged, BANK.public)


def test_escaping_keeps_one_value_per_line() -> None:
    tricky = "a\nb\r\\c\\u000a=\u202e\u2028\ufeff\x00\x85\ud800end"
    receipt = make_receipt(payee_name=tricky, summary="\\")
    encoded = canonical_bytes(receipt).decode()
    assert encoded.count("\n") == 1 + len(FIELDS)
    assert "payee_name=a\\u000ab\\u000d\\\\c\\\\u000a=\\u202e\\u2028\\ufeff\\u0000\\u0085" \
        "\\ud800end\n" in encoded
    assert "summary=\\\\\n" in encoded
    signed = sign_receipt(receipt, BANK)
    assert SignedReceipt.from_text(signed.to_text()) == signed
    assert verify_receipt(SignedReceipt.from_bytes(signed.to_bytes()), BANK.public) == receipt


texts = st.text(max_size=40)
ids = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20)


@given(payer_name=texts.filter(bool), payee_bank=texts.filter(bool), summary=texts,
       req_no=ids | st.just(""), serial_no=ids, amount=st.integers(1, MAX_FEN),
       issued_at=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1)))
def test_file_form_round_trips(payer_name: str, payee_bank: str, summary: str, req_no: str,
                               serial_no: str, amount: int, issued_at: datetime) -> None:
    """Parsing gives back exactly what was encoded, so the encoding is unambiguous."""
    receipt = make_receipt(payer_name=payer_name, payee_bank=payee_bank, summary=summary,
                           req_no=req_no, serial_no=serial_no, amount=amount,
                           issued_at=issued_at.replace(microsecond=0))
    signed = sign_receipt(receipt, BANK)
    assert SignedReceipt.from_bytes(signed.to_bytes()) == signed
    assert verify_receipt(signed, BANK.public) == receipt


# -- signing and verifying ---------------------------------------------------------------


def test_the_bank_key_pair_signs_under_its_published_fingerprint() -> None:
    assert SIGNED.signer_fingerprint == BANK.public.fingerprint
    assert SIGNED.signer_key_id == BANK.key_id
    assert verify_receipt(SIGNED, BANK.public) is RECEIPT


def test_a_bare_signing_key_signs_under_its_own_fingerprint() -> None:
    signed = sign_receipt(RECEIPT, BANK.signing)
    assert signed.signer_fingerprint == BANK.signing.public.fingerprint
    assert verify_receipt(signed, BANK.signing.public) == RECEIPT
    with pytest.raises(WrongSignerError):
        verify_receipt(signed, BANK.public)


def test_the_signature_is_ed25519_over_the_file_up_to_issued_at() -> None:
    """What the module docstring tells others who check receipts by other means."""
    data = SIGNED.to_bytes()
    signed_part = data[: data.index(b"\nsignature_algorithm=") + 1]
    assert signed_part == CANONICAL.encode("utf-8")
    signature = base64.b64decode(re.search(rb"^signature=(.*)$", data, re.M)[1])  # type: ignore[index]
    Ed25519PublicKey.from_public_bytes(BANK.public.verify.raw).verify(signature, signed_part)


def test_another_bank_key_is_refused_by_key_id() -> None:
    with pytest.raises(WrongSignerError, match=f"names signing key id {BANK.key_id}.*"
                       f"key id {OTHER_BANK.key_id}"):
        verify_receipt(SIGNED, OTHER_BANK.public)


def test_a_receipt_signed_by_another_key_under_this_banks_name_is_refused() -> None:
    forged = dataclasses.replace(sign_receipt(RECEIPT, OTHER_BANK),
                                 signer_fingerprint=BANK.public.fingerprint)
    with pytest.raises(SignatureMismatch, match="altered or not signed by this bank"):
        verify_receipt(forged, BANK.public)


def test_signature_errors_are_receipt_errors_and_value_errors() -> None:
    for cls in (ReceiptFormatError, WrongSignerError, SignatureMismatch):
        assert issubclass(cls, ReceiptError)
    assert issubclass(ReceiptError, ValueError)


def test_verify_refuses_what_is_not_a_key() -> None:
    with pytest.raises(TypeError):
        verify_receipt(SIGNED, BANK.public.fingerprint)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        verify_receipt(SIGNED.to_text(), BANK.public)  # type: ignore[arg-type]


# -- the file form ---------------------------------------------------------------------------


def test_file_form() -> None:
    text = SIGNED.to_text()
    assert text.startswith(CANONICAL)
    tail = text[len(CANONICAL):].splitlines()
    assert tail[0] == "signature_algorithm=Ed25519"
    assert tail[1] == f"signer_key_id={BANK.key_id}"
    assert tail[2].replace(" ", "") == f"signer_fingerprint={BANK.public.fingerprint}"
    assert len(base64.b64decode(tail[3].removeprefix("signature="))) == 64
    assert len(tail) == 4
    assert SignedReceipt.from_text(text) == SIGNED


def test_file_form_is_deterministic() -> None:
    assert sign_receipt(RECEIPT, BANK).to_bytes() == SIGNED.to_bytes()


def _outcome(data: bytes) -> str:
    try:
        signed = SignedReceipt.from_bytes(data)
    except ReceiptError:
        return "unreadable"
    try:
        verify_receipt(signed, BANK.public)
    except ReceiptError:
        return "refused"
    return "verified"


def test_every_single_byte_change_is_detected() -> None:
    """Each bit of each byte flipped, and each byte inverted, dropped or doubled."""
    data = SIGNED.to_bytes()
    assert _outcome(data) == "verified"
    outcomes: dict[str, int] = {}
    for position in range(len(data)):
        byte = data[position]
        variants = [bytes([byte ^ (1 << bit)]) for bit in range(8)]
        variants += [bytes([byte ^ 0xFF]), b"", bytes([byte, byte])]
        for variant in variants:
            changed = data[:position] + variant + data[position + 1:]
            outcome = _outcome(changed)
            assert outcome != "verified", (position, variant)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    # Both defences are exercised: the strict reader and the signature.
    assert outcomes["unreadable"] and outcomes["refused"]


@given(st.data())
def test_random_substitutions_are_detected(data: st.DataObject) -> None:
    original = SIGNED.to_bytes()
    position = data.draw(st.integers(0, len(original) - 1))
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != original[position]))
    changed = original[:position] + bytes([byte]) + original[position + 1:]
    assert _outcome(changed) != "verified"


@pytest.mark.parametrize(("old", "new", "message"), [
    ("amount=1234.56", "amount=1234.5", r"line 12 field amount: .*two decimals"),
    ("amount=1234.56", "amount=01234.56", r"line 12 field amount"),
    ("壹仟贰佰叁拾肆元伍角陆分", "壹仟贰佰叁拾肆元伍角柒分",
     r"line 13 field amount_in_capitals: does not match the amount 1234.56"),
    ("biz_date=2026-11-24", "biz_date=2026-11-31", r"line 3 field biz_date"),
    ("kind=debit", "kind=refund", r"line 4 field kind"),
    ("currency=CNY", "currency=USD", r"line 11 field currency: .*only CNY"),
    ("issued_at=2026-11-24T10:15:30", "issued_at=2026-11-24 10:15:30",
     r"line 19 field issued_at"),
    ("payee_name=张三", "payee_name=张\\x三", r"line 9 field payee_name: bad escape"),
    ("payee_name=张三", "payee_name=张\\u000A三", r"line 9 field payee_name: bad escape"),
    ("payee_name=张三", "payee_name=张\r三", r"line 9: not in the canonical form"),
    ("serial_no=", "serial_no =", r"line 15: expected 'serial_no="),
    ("\nreq_no=ERP0000000042", "", r"lines, expected"),
    ("directlink-receipt-v1", "directlink-receipt-v2", r"line 1: unsupported .*v2"),
    ("directlink-receipt-v1", "hello", r"line 1: not a directlink receipt"),
    ("signature_algorithm=Ed25519", "signature_algorithm=RSA",
     r"line 20 field signature_algorithm"),
    ("signer_key_id=", "signer_key_id=0", r"line 21: not in the canonical form"),
    ("signature=", "signature=!", r"line 23 field signature: not base64"),
])
def test_format_errors_name_the_line_and_field(old: str, new: str, message: str) -> None:
    text = SIGNED.to_text()
    assert old in text
    with pytest.raises(ReceiptFormatError, match=message):
        SignedReceipt.from_text(text.replace(old, new, 1))


def test_non_canonical_base64_and_hex_are_refused() -> None:
    text = SIGNED.to_text()
    signature_line = re.search(r"^signature=.*$", text, re.M)[0]  # type: ignore[index]
    body = signature_line.removeprefix("signature=").rstrip("=")
    # The last character before the padding carries 4 unused bits: setting
    # one decodes to the same 64 bytes, but is not the file's canonical form.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    loose = body[:-1] + alphabet[alphabet.index(body[-1]) ^ 1] + "=="
    assert base64.b64decode(loose) == SIGNED.signature
    with pytest.raises(ReceiptFormatError, match="canonical"):
        SignedReceipt.from_text(text.replace(signature_line, "signature=" + loose))
    upper = text.replace(f"signer_key_id={BANK.key_id}", f"signer_key_id={BANK.key_id.upper()}")
    if upper != text:
        with pytest.raises(ReceiptFormatError, match="canonical"):
            SignedReceipt.from_text(upper)


def test_line_endings_and_encoding() -> None:
    text = SIGNED.to_text()
    with pytest.raises(ReceiptFormatError, match=r"line 1: .*CR LF.*LF only"):
        SignedReceipt.from_text(text.replace("\n", "\r\n"))
    with pytest.raises(ReceiptFormatError, match=r"line 17: .*CR LF"):
        SignedReceipt.from_text(text.replace("corp_no=0000000001\n", "corp_no=0000000001\r\n"))
    with pytest.raises(ReceiptFormatError, match="line feed"):
        SignedReceipt.from_text(text.rstrip("\n"))
    with pytest.raises(ReceiptFormatError, match="lines, expected"):
        SignedReceipt.from_text(text + "\n")
    with pytest.raises(ReceiptFormatError, match=r"line 9: not UTF-8 at byte \d+"):
        SignedReceipt.from_bytes(text.encode("gb18030"))
    with pytest.raises(ReceiptFormatError, match="too large"):
        SignedReceipt.from_bytes(b"x" * (MAX_FILE_BYTES + 1))
    with pytest.raises(TypeError):
        SignedReceipt.from_bytes(text)  # type: ignore[arg-type]


# -- the receipt value ------------------------------------------------------------------------


@pytest.mark.parametrize(("changes", "message"), [
    ({"amount": 0}, "field amount: 0 fen is not between 1"),
    ({"amount": -5}, "field amount"),
    ({"amount": MAX_FEN + 1}, "field amount"),
    ({"kind": "refund"}, "field kind"),
    ({"currency": "USD"}, "field currency"),
    ({"receipt_no": ""}, "field receipt_no: must not be empty"),
    ({"payer_name": ""}, "field payer_name: must not be empty"),
    ({"serial_no": "2026 1124"}, r"field serial_no: .*printable ASCII without spaces"),
    ({"payer_acno": "６２２２"}, "field payer_acno"),
    ({"corp_no": "0" * 65}, "field corp_no: longer than 64"),
    ({"summary": "x" * 257}, "field summary: longer than 256"),
    ({"issued_at": datetime(2026, 11, 24, 10, 15, 30, 5)}, "field issued_at: whole seconds"),
    ({"issued_at": datetime(2026, 11, 24, tzinfo=timezone(timedelta(hours=8)))},
     "field issued_at: must be naive"),
])
def test_invalid_values_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ReceiptFormatError, match=message):
        make_receipt(**changes)


@pytest.mark.parametrize("changes", [
    {"amount": 1234.56}, {"amount": Decimal("1234.56")}, {"amount": True},
    {"biz_date": datetime(2026, 11, 24)}, {"biz_date": "2026-11-24"},
    {"issued_at": date(2026, 11, 24)}, {"payer_name": None}, {"req_no": 42},
])
def test_values_of_the_wrong_type_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(TypeError):
        make_receipt(**changes)


def test_empty_summary_and_req_no_are_allowed() -> None:
    receipt = make_receipt(summary="", req_no="")
    signed = sign_receipt(receipt, BANK)
    assert verify_receipt(SignedReceipt.from_text(signed.to_text()), BANK.public) == receipt


def test_signed_receipt_checks_its_own_fields() -> None:
    with pytest.raises(ReceiptFormatError, match="signature"):
        SignedReceipt(receipt=RECEIPT, signature=b"\x00" * 63,
                      signer_fingerprint=BANK.public.fingerprint)
    with pytest.raises(ReceiptFormatError, match="signer_fingerprint"):
        SignedReceipt(receipt=RECEIPT, signature=SIGNED.signature,
                      signer_fingerprint=BANK.public.fingerprint.upper())


def test_receipts_are_frozen_values() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        RECEIPT.amount = 1  # type: ignore[misc]
    assert make_receipt() == RECEIPT
    assert hash(make_receipt()) == hash(RECEIPT)


def test_format_tag() -> None:
    assert FORMAT == "directlink-receipt-v1"
    assert SIGNED.to_text().splitlines()[0] == FORMAT


def test_signing_accepts_only_keys() -> None:
    with pytest.raises(TypeError):
        sign_receipt(RECEIPT, BANK.public)  # type: ignore[arg-type]
    assert isinstance(BANK.signing, SigningKey)


@pytest.mark.parametrize("module", ["protocol/receipt.py", "protocol/capitals.py"])
def test_protocol_modules_do_no_io(module: str) -> None:
    """protocol/ stays sans-I/O: only pure standard modules and protocol's own."""
    tree = ast.parse((Path(__file__).parent.parent / module).read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= {"__future__", "base64", "binascii", "dataclasses", "datetime", "re",
                        "typing", "protocol"}
