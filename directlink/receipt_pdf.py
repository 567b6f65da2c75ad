"""A signed e-receipt (电子回单) rendered as a one-page PDF for people to keep.

The page is laid out like a Chinese bank's e-receipt: the bank's name and
"电子回单 / Electronic Receipt", the receipt number, date and direction, then
a bordered table with payer and payee (户名, 账号, 开户行), the amount in
capitals (prefixed 人民币, as the payment rules require) and in figures
(¥1,234.56), currency, summary, the bank's serial, the enterprise's corp_no,
req_no and transaction code, the time of issue, and the fingerprint of the key
that signed the receipt, with a note on how to verify it.

The PDF carries the signed receipt itself: its text file form
(:meth:`protocol.receipt.SignedReceipt.to_text`) is attached to the document
as an embedded file, ``<receipt_no>.txt`` (:data:`ATTACHMENT_SUFFIX`). So
``directlink receipt verify FILE.pdf`` verifies the PDF on its own: the
attached receipt against the bank's key (:func:`signed_in_pdf`), then the
printed page against the attached receipt (:func:`page_disagrees`) — a page
edited to show another amount or payee is told apart from the receipt the
bank signed.

Fonts: the Chinese text is set in ``STSong-Light``, one of the standard CJK
fonts of the PDF specification (Adobe-GB1 character collection), through
reportlab's ``UnicodeCIDFont``. It needs no font file at all: reportlab ships
its metrics, the PDF names the font without embedding it, and the text is
encoded with the Unicode CMap ``UniGB-UCS2-H``, so text extractors recover
the characters. Nothing is downloaded and no font file is read when the PDF
is made, so rendering works the same on every machine. The glyphs come from
the viewer, as for every non-embedded standard font: Acrobat's Asian font
support, or a Song/Ming face installed where poppler, pdf.js or a browser
shows the file (any Chinese desktop has one). Runs of ASCII (names, account
numbers, figures) are set in Helvetica, one of the fourteen standard PDF
fonts, whose widths every viewer honours.

Why reportlab and not fpdf2: fpdf2 can only draw non-Latin-1 text with a
TrueType/OpenType font file that it embeds (``add_font(fname=…)``); it has no
CID-keyed standard fonts. Using it would mean shipping a CJK font of several
megabytes with the project, or reading one from the system, which is exactly
what this module must not depend on. reportlab's ``UnicodeCIDFont`` needs
neither. Text extractors read the result (the tests check with pypdf).

The page is drawn by reportlab (invariant mode: no creation time, a fixed
document id); the attachment is added, and read back, with pypdf.
"""

from __future__ import annotations

import io
import re
from xml.sax.saxutils import escape as xml_escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import (
    KeepInFrame,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from protocol.keys import format_fingerprint
from protocol.receipt import SIGNATURE_ALGORITHM, ReceiptError, SignedReceipt, escape_value

#: The attached receipt file is named after the receipt: ``<receipt_no>.txt``.
ATTACHMENT_SUFFIX = ".txt"

CJK_FONT = "STSong-Light"
LATIN_FONT = "Helvetica"
LATIN_BOLD = "Helvetica-Bold"
MONO_FONT = "Courier"

_KIND_TITLES = {"debit": "付款回单 Debit", "credit": "收款回单 Credit"}
_LINE = colors.HexColor("#8a1c1c")  # the red-brown rule of printed bank forms
_SHADE = colors.HexColor("#f6eeee")
_ASCII_RUNS = re.compile(r"[\x20-\x7e]+|[^\x20-\x7e]+")


def _styles() -> dict[str, ParagraphStyle]:
    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    base = ParagraphStyle("receipt", fontName=CJK_FONT, fontSize=9.5, leading=12.5,
                          wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", base, fontSize=17, leading=22, alignment=TA_CENTER),
        "subtitle": ParagraphStyle("subtitle", base, fontName=LATIN_FONT, fontSize=10.5,
                                   leading=14, alignment=TA_CENTER, textColor=colors.grey),
        "label": ParagraphStyle("label", base, fontSize=8.5, leading=11, alignment=TA_CENTER),
        "value": base,
        "latin": ParagraphStyle("latin", base, fontName=LATIN_FONT),
        "capitals": ParagraphStyle("capitals", base, fontSize=10.5, leading=14),
        "figures": ParagraphStyle("figures", base, fontName=LATIN_BOLD, fontSize=11,
                                  leading=14),
        "head": ParagraphStyle("head", base, fontSize=9, leading=12),
        "note": ParagraphStyle("note", base, fontSize=8, leading=11, textColor=colors.grey),
    }


def _mixed(text: str) -> str:
    """Paragraph markup for ``text``: runs of ASCII in Helvetica, the rest in STSong-Light.

    Viewers substitute their own Song face for STSong-Light, whose Latin glyphs
    rarely match the widths the PDF gives them; Helvetica's always do.
    """
    return "".join(
        f"<font name='{LATIN_FONT}'>{xml_escape(run)}</font>" if run.isascii()
        else xml_escape(run)
        for run in _ASCII_RUNS.findall(text))


def _text(value: str) -> str:
    """A field value as markup, escaped as the signed text shows it (nothing invisible)."""
    return _mixed(escape_value(value))


def figures(fen: int) -> str:
    """The amount in figures as printed: '¥' and yuan with thousands separators."""
    whole, cents = divmod(fen, 100)
    return f"¥{whole:,}.{cents:02d}"


def render_pdf(signed: SignedReceipt, *, bank_name: str) -> bytes:
    """The receipt as a one-page A4 PDF, headed with ``bank_name``.

    Renders what ``signed`` holds; check it first with
    :func:`protocol.receipt.verify_receipt` when it comes from outside.
    """
    if not isinstance(signed, SignedReceipt):
        raise TypeError(f"expected a SignedReceipt, not {type(signed).__name__}")
    if not isinstance(bank_name, str) or not bank_name.strip():
        raise ValueError("bank_name must be a non-empty string")
    receipt = signed.receipt
    st = _styles()

    def label(chinese: str, english: str) -> Paragraph:
        return Paragraph(f"{_mixed(chinese)}<br/><font name='{LATIN_FONT}' size='7'>"
                         f"{xml_escape(english)}</font>", st["label"])

    def value(text: str, style: str = "value") -> Paragraph:
        return Paragraph(_text(text) if text else "—", st[style])

    head = Table(
        [[Paragraph(_mixed("回单编号 Receipt No.: ") + _text(receipt.receipt_no), st["head"]),
          Paragraph(_mixed(f"记账日期 Date: {receipt.biz_date.isoformat()}"), st["head"]),
          Paragraph(_mixed(_KIND_TITLES[receipt.kind]), st["head"])]],
        colWidths=[80 * mm, 60 * mm, 40 * mm])
    head.setStyle(TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0),
                              ("ALIGN", (2, 0), (2, 0), "RIGHT")]))

    body = [
        [label("付款人", "Payer"), label("户名", "Name"), value(receipt.payer_name),
         label("收款人", "Payee"), label("户名", "Name"), value(receipt.payee_name)],
        ["", label("账号", "Account"), value(receipt.payer_acno, "latin"),
         "", label("账号", "Account"), value(receipt.payee_acno, "latin")],
        ["", label("开户行", "Bank"), value(receipt.payer_bank),
         "", label("开户行", "Bank"), value(receipt.payee_bank)],
        [label("金额(大写)", "In words"),
         Paragraph("人民币" + receipt.amount_in_capitals, st["capitals"]), "", "", "", ""],
        [label("金额(小写)", "Amount"), Paragraph(figures(receipt.amount), st["figures"]), "",
         label("币种", "Currency"), value(receipt.currency, "latin"), ""],
        [label("摘要", "Summary"), value(receipt.summary), "", "", "", ""],
        [label("交易流水号", "Serial No."), value(receipt.serial_no, "latin"), "",
         label("交易代码", "Tr. code"), value(receipt.tr_code, "latin"), ""],
        [label("企业编号", "Corp. No."), value(receipt.corp_no, "latin"), "",
         label("请求编号", "Req. No."), value(receipt.req_no, "latin"), ""],
        [label("出具时间", "Issued at"),
         value(receipt.issued_at.strftime("%Y-%m-%d %H:%M:%S"), "latin"), "", "", "", ""],
        [label("电子签名", "Signature"),
         Paragraph(_mixed(f"{SIGNATURE_ALGORITHM} 银行签名密钥 Bank key id "
                          f"{signed.signer_key_id}") + "<br/>"
                   + _mixed("指纹 Fingerprint: ")
                   + f"<font name='{LATIN_FONT}' size='8'>"
                   f"{format_fingerprint(signed.signer_fingerprint)}</font>", st["value"]),
         "", "", "", ""],
    ]
    table = Table(body, colWidths=[21 * mm, 19 * mm, 50 * mm, 21 * mm, 19 * mm, 50 * mm])
    table.setStyle(TableStyle([
        ("BOX", (0, 0), (-1, -1), 1.2, _LINE),
        ("INNERGRID", (0, 0), (-1, -1), 0.5, _LINE),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 4),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
        ("SPAN", (0, 0), (0, 2)), ("SPAN", (3, 0), (3, 2)),
        ("SPAN", (1, 3), (5, 3)),
        ("SPAN", (1, 4), (2, 4)), ("SPAN", (4, 4), (5, 4)),
        ("SPAN", (1, 5), (5, 5)),
        ("SPAN", (1, 6), (2, 6)), ("SPAN", (4, 6), (5, 6)),
        ("SPAN", (1, 7), (2, 7)), ("SPAN", (4, 7), (5, 7)),
        ("SPAN", (1, 8), (5, 8)),
        ("SPAN", (1, 9), (5, 9)),
        ("BACKGROUND", (0, 0), (0, -1), _SHADE),
        ("BACKGROUND", (1, 0), (1, 2), _SHADE), ("BACKGROUND", (3, 0), (4, 2), _SHADE),
        ("BACKGROUND", (3, 4), (3, 4), _SHADE), ("BACKGROUND", (3, 6), (3, 7), _SHADE),
    ]))

    command = f"<font name='{MONO_FONT}'>directlink receipt verify</font>"
    note = Paragraph(
        f"本回单由银行电子签名。请用 {command} " + _mixed("<本 PDF 或回单文件> 对照已固定的")
        + _mixed("银行公钥离线验证；本 PDF 附带已签名的回单文件。")
        + "<br/>" + _mixed("This receipt is signed by the bank. Verify this PDF (it carries "
                           "the signed receipt file) or the receipt file offline against the "
                           "pinned bank key with ")
        + f"{command} <font name='{MONO_FONT}'>FILE</font>.", st["note"])

    out = io.BytesIO()
    title = f"{bank_name} 电子回单 {receipt.receipt_no}"
    doc = SimpleDocTemplate(
        out, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=18 * mm,
        bottomMargin=18 * mm, title=title, author=bank_name, subject="电子回单 Electronic Receipt",
        creator="directlink", invariant=True)
    content = [
        Paragraph(_text(bank_name) + _mixed(" 电子回单"), st["title"]),
        Paragraph("Electronic Receipt", st["subtitle"]),
        Spacer(1, 5 * mm), head, Spacer(1, 2 * mm), table, Spacer(1, 4 * mm), note,
    ]
    # One page whatever the values: extreme ones (256-character names, or
    # escapes) scale the whole receipt down rather than spill onto a second page.
    doc.build([KeepInFrame(doc.width, doc.height, content, mode="shrink")])
    return _attach(out.getvalue(), receipt.receipt_no + ATTACHMENT_SUFFIX, signed.to_bytes())


def _attach(pdf: bytes, name: str, data: bytes) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.add_attachment(name, data)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


class PdfReceiptError(ValueError):
    """A PDF that holds no readable receipt (not a PDF, or no attached receipt file)."""


def signed_in_pdf(data: bytes) -> tuple[SignedReceipt, str]:
    """The signed receipt attached to a receipt PDF, and the text of its printed page.

    Not verified: check it with :func:`protocol.receipt.verify_receipt`.
    Raises :class:`PdfReceiptError` when the PDF has no attached receipt, and
    :class:`~protocol.receipt.ReceiptError` when the attached one is malformed.
    """
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        attached = {name: files for name, files in reader.attachments.items()
                    if name.endswith(ATTACHMENT_SUFFIX)}
        page = "".join(page.extract_text() or "" for page in reader.pages)
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise PdfReceiptError(f"not a readable PDF: {exc}") from None
    if len(attached) != 1 or len(next(iter(attached.values()))) != 1:
        raise PdfReceiptError(f"expected one attached receipt file (*{ATTACHMENT_SUFFIX}), "
                              f"found {len(attached)}")
    (files,) = attached.values()
    return SignedReceipt.from_bytes(files[0]), page


def page_disagrees(signed: SignedReceipt, page: str) -> list[str]:
    """What the printed page does not show of the (verified) receipt: [] when it agrees.

    Checked: the receipt number, the amount in figures and in capitals, both
    account numbers, the bank serial and the date — what a reader of the page
    acts on. Spaces are ignored (text extraction may add or drop them).
    """
    receipt = signed.receipt
    flat = "".join(page.split())
    wanted = {
        "receipt no": receipt.receipt_no, "amount": figures(receipt.amount),
        "amount in capitals": receipt.amount_in_capitals, "payer account": receipt.payer_acno,
        "payee account": receipt.payee_acno, "bank serial": receipt.serial_no,
        "date": receipt.biz_date.isoformat(),
    }
    return [name for name, value in wanted.items() if "".join(value.split()) not in flat]


__all__ = ["ATTACHMENT_SUFFIX", "PdfReceiptError", "ReceiptError", "page_disagrees",
           "render_pdf", "signed_in_pdf"]
