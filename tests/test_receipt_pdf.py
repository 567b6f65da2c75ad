"""directlink.receipt_pdf: a signed receipt as a one-page PDF, read back with pypdf.

pypdf extracts the STSong-Light (UniGB-UCS2-H) text as the original Unicode,
so the checks below read what a person reads on the page.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pypdf
import pytest

from directlink.receipt_pdf import (
    PdfReceiptError,
    figures,
    page_disagrees,
    render_pdf,
    signed_in_pdf,
)
from protocol.keys import format_fingerprint
from protocol.money import MAX_FEN
from protocol.receipt import ReceiptError, sign_receipt, verify_receipt
from tests.test_receipt_signing import BANK, SIGNED, make_receipt

ROOT = Path(__file__).resolve().parent.parent


def page_text(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    return reader.pages[0].extract_text()


@pytest.fixture(scope="module")
def pdf() -> bytes:
    return render_pdf(SIGNED, bank_name="Simulated Bank")


def test_is_a_pdf(pdf: bytes) -> None:
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")


def test_shows_what_the_receipt_says(pdf: bytes) -> None:
    text = page_text(pdf)
    receipt = SIGNED.receipt
    assert "Simulated Bank 电子回单" in text
    assert "Electronic Receipt" in text
    for expected in ("人民币壹仟贰佰叁拾肆元伍角陆分", "¥1,234.56", receipt.payer_acno,
                     receipt.payee_acno, receipt.serial_no, receipt.receipt_no,
                     receipt.payer_name, receipt.payee_name, receipt.payee_bank, "货款",
                     "2026-11-24", "2026-11-24 10:15:30", receipt.req_no, receipt.corp_no,
                     receipt.tr_code, "付款回单", "回单编号", "金额(大写)", "金额(小写)",
                     "摘要", "交易流水号", "开户行"):
        assert expected in text, expected


def test_shows_the_signing_key_and_how_to_verify(pdf: bytes) -> None:
    text = page_text(pdf)
    assert BANK.key_id in text
    assert format_fingerprint(BANK.public.fingerprint) in text
    assert "directlink receipt verify" in text


def test_a_credit_receipt_says_so() -> None:
    signed = sign_receipt(make_receipt(kind="credit"), BANK)
    assert "收款回单" in page_text(render_pdf(signed, bank_name="Simulated Bank"))


def test_rendering_is_deterministic(pdf: bytes) -> None:
    assert render_pdf(SIGNED, bank_name="Simulated Bank") == pdf


def test_the_largest_amount_fits() -> None:
    signed = sign_receipt(make_receipt(amount=MAX_FEN), BANK)
    text = re.sub(r"\s", "", page_text(render_pdf(signed, bank_name="Simulated Bank")))
    assert "人民币玖拾玖万玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分" in text
    assert "¥99,999,999,999,999.99" in text


def test_values_are_text_not_markup_and_invisible_characters_show() -> None:
    signed = sign_receipt(make_receipt(payee_name="<b>A&B</b> 李四\u202e", summary="a\nb"),
                          BANK)
    text = page_text(render_pdf(signed, bank_name="<Bank & Co>"))
    assert "<b>A&B</b> 李四\\u202e" in text
    assert "a\\u000ab" in text
    assert "<Bank & Co> 电子回单" in text


@pytest.mark.parametrize("fill", ["\x00", "汉", "W", "W "])
def test_extreme_values_still_fit_one_page(fill: str) -> None:
    longest = (fill * 256)[:256]
    signed = sign_receipt(make_receipt(
        payer_name=longest, payer_bank=longest, payee_name=longest, payee_bank=longest,
        summary=longest, serial_no="S" * 64, payer_acno="9" * 64, receipt_no="R" * 64), BANK)
    text = page_text(render_pdf(signed, bank_name="B" * 200))  # asserts one page
    assert "S" * 64 in re.sub(r"\s", "", text)


def test_figures() -> None:
    assert figures(0) == "¥0.00"
    assert figures(5) == "¥0.05"
    assert figures(123456) == "¥1,234.56"
    assert figures(100_000_000_101) == "¥1,000,000,001.01"


def test_bad_arguments() -> None:
    with pytest.raises(TypeError):
        render_pdf(SIGNED.receipt, bank_name="Simulated Bank")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="bank_name"):
        render_pdf(SIGNED, bank_name=" ")


def test_no_font_file_is_read_or_embedded_and_nothing_is_fetched(pdf: bytes) -> None:
    """The CJK font is the PDF standard STSong-Light: named, not embedded or loaded."""
    assert b"/STSong-Light" in pdf
    assert b"/FontFile" not in pdf
    script = textwrap.dedent("""
        import json, sys
        from directlink.receipt_pdf import render_pdf
        from tests.test_receipt_signing import SIGNED
        events = []
        sys.addaudithook(lambda event, args: events.append([event, str(args[0])])
                         if event == "open" or event.startswith(("socket.", "urllib."))
                         else None)
        render_pdf(SIGNED, bank_name="Simulated Bank")
        print(json.dumps(events))
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                            text=True, check=True, timeout=120)
    events = json.loads(result.stdout.splitlines()[-1])
    # Only Python modules imported on first use (e.g. the UTF-16 codec).
    assert all(event == "open" and path.endswith((".py", ".pyc")) for event, path in events), \
        events


# -- the PDF carries its signed receipt -----------------------------------------------


def _swap_attachment(pdf: bytes, name: str, data: bytes) -> bytes:
    """``pdf`` with its attached files replaced by one file ``name`` holding ``data``."""
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(pdf)))
    del writer._root_object[pypdf.generic.NameObject("/Names")]
    writer.add_attachment(name, data)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_the_pdf_carries_its_signed_receipt_and_the_page_agrees(pdf: bytes) -> None:
    signed, page = signed_in_pdf(pdf)
    assert signed == SIGNED
    assert verify_receipt(signed, BANK.public) == SIGNED.receipt
    assert page_disagrees(signed, page) == []
    names = list(pypdf.PdfReader(io.BytesIO(pdf)).attachments)
    assert names == [f"{SIGNED.receipt.receipt_no}.txt"]


def test_a_page_showing_another_amount_is_told_apart_from_the_signed_receipt() -> None:
    # The page of a receipt for 9,234.56 with the genuine 1,234.56 receipt attached.
    other = render_pdf(sign_receipt(make_receipt(amount=923_456), BANK),
                       bank_name="Simulated Bank")
    forged = _swap_attachment(other, f"{SIGNED.receipt.receipt_no}.txt", SIGNED.to_bytes())
    signed, page = signed_in_pdf(forged)
    verify_receipt(signed, BANK.public)  # the attachment itself is intact
    assert page_disagrees(signed, page) == ["amount", "amount in capitals"]


def test_an_altered_attachment_fails_verification(pdf: bytes) -> None:
    payee = SIGNED.receipt.payee_acno.encode()
    text = SIGNED.to_bytes().replace(b"payee_acno=" + payee, b"payee_acno=" + payee[:-1] + b"9")
    assert text != SIGNED.to_bytes()
    signed, _ = signed_in_pdf(_swap_attachment(pdf, "x.txt", text))
    with pytest.raises(ReceiptError):
        verify_receipt(signed, BANK.public)


def test_a_pdf_without_a_receipt_is_refused(pdf: bytes) -> None:
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(pdf)))
    del writer._root_object[pypdf.generic.NameObject("/Names")]
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(PdfReceiptError, match="expected one attached receipt file"):
        signed_in_pdf(out.getvalue())
    with pytest.raises(PdfReceiptError, match="not a readable PDF"):
        signed_in_pdf(b"%PDF-1.4\nnot really")
