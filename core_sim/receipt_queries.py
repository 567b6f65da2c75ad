"""310220: an enterprise fetches its e-receipts (电子回单), signed by the bank.

Read-only like :mod:`core_sim.queries`: nothing is recorded. One of three
ways to ask, each paged (``begin_no``, ``query_num``: 0 = 100, at most 500):

* ``ogl_serial_no``: the enterprise's instruction with that req_no — a
  transfer's or payment's debit (and its return), a batch's items, one
  receipt each, in batch order;
* ``serial_no``: a bank serial — an entry's (a detail line's 流水号, a
  reply's serial_no) or a batch item's ``flw``;
* ``acno`` with ``start_date`` and ``end_date``: every receipt of one of the
  enterprise's accounts over those business dates (at most 366 days).

The receipts are derived from the ledger (:mod:`core_sim.receipts`) and
signed here with the bank's key (``ledger.receipt_keys``) over their
canonical encoding (:mod:`protocol.receipt`): signing is deterministic, so a
receipt fetched twice is the same bytes. An enterprise sees only receipts
of its own accounts. Refusals: E001 (not exactly one way, or a bad page),
E003/E004 (the account), E013 (the dates), E039 (nothing matches: no such
req_no or serial, an instruction that moved no money, no receipt in the
range) and E016 when the bank was started without its signing key.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from core_sim.ledger import Ledger
from core_sim.receipts import Page, ReceiptReader
from core_sim.transaction import Refused, Reply, Request, text_field
from protocol import codes
from protocol.bodies_receipts import PAGE_RECEIPTS
from protocol.receipt import sign_receipt

RECEIPTS = "310220"
TR_CODES = frozenset({RECEIPTS})

DEFAULT_PAGE = 100
MAX_PAGE = PAGE_RECEIPTS
MAX_RANGE_DAYS = 366


def execute(ledger: Ledger, request: Request) -> Reply:
    keys = ledger.receipt_keys
    if keys is None:
        raise Refused(codes.INTERNAL_ERROR,
                      "e-receipts unavailable: the bank has no signing key")
    fields = request.fields
    req_no = text_field(fields, "ogl_serial_no")
    serial_no = text_field(fields, "serial_no")
    acno = text_field(fields, "acno")
    start, end = text_field(fields, "start_date"), text_field(fields, "end_date")
    begin, wanted = _page(fields)
    if [bool(req_no), bool(serial_no), bool(acno or start or end)].count(True) != 1:
        raise Refused(codes.INVALID_FIELD, "give one of ogl_serial_no, serial_no, or acno "
                                           "with start_date and end_date")
    reader = ReceiptReader(ledger, request.corp_no)
    if req_no:
        page = reader.by_req_no(req_no, begin, wanted)
    elif serial_no:
        page = reader.by_serial(serial_no, begin, wanted)
    else:
        page = _by_account(ledger, reader, request.corp_no, acno, start, end, begin, wanted)
    records = []
    for receipt in page.receipts:
        signed = sign_receipt(receipt, keys)
        records.append({
            "receipt_no": receipt.receipt_no, "biz_date": f"{receipt.biz_date:%Y%m%d}",
            "dc_flag": "D" if receipt.kind == "debit" else "C",
            "payer_acno": receipt.payer_acno, "payer_name": receipt.payer_name,
            "payer_bank": receipt.payer_bank, "payee_acno": receipt.payee_acno,
            "payee_name": receipt.payee_name, "payee_bank": receipt.payee_bank,
            "cur_code": receipt.currency, "amt": receipt.amount, "summary": receipt.summary,
            "serial_no": receipt.serial_no, "req_no": receipt.req_no,
            "corp_no": receipt.corp_no, "tr_code": receipt.tr_code,
            "issued_at": receipt.issued_at.strftime("%Y-%m-%dT%H:%M:%S"),
            "signer_key_id": signed.signer_key_id, "signature": signed.signature.hex(),
        })
    more = "1" if begin - 1 + len(records) < page.total else "0"
    return Reply(codes.OK.code, f"{len(records)} of {page.total} receipts", "",
                 {"total_num": page.total, "begin_no": begin, "more_flag": more,
                  "records": records})


def _by_account(ledger: Ledger, reader: ReceiptReader, corp_no: str, acno: str, start: str,
                end: str, begin: int, wanted: int) -> Page:
    if not acno:
        raise Refused(codes.INVALID_FIELD, "missing field acno (with start_date and end_date)")
    first, last = _date(start, "start_date"), _date(end, "end_date")
    if first > last:
        raise Refused(codes.INVALID_DATE_RANGE, f"start_date {start} after end_date {end}")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise Refused(codes.INVALID_DATE_RANGE, f"date range longer than {MAX_RANGE_DAYS} days")
    account = ledger.customer_account(acno)
    if account is None:
        raise Refused(codes.UNKNOWN_ACCOUNT, f"account {acno} not found")
    if account.corp_no != corp_no:
        raise Refused(codes.NOT_OWN_ACCOUNT, f"not this enterprise's account: {acno}")
    page = reader.by_account(account.id, start, end, begin, wanted)
    if page.total == 0:
        raise Refused(codes.NO_SUCH_RECEIPT, f"no receipt for {acno} from {start} to {end}")
    return page


def _date(text: str, name: str) -> datetime:
    if not text:
        raise Refused(codes.INVALID_FIELD, f"missing field {name}")
    try:
        if len(text) != 8 or not text.isascii() or not text.isdigit():
            raise ValueError(text)
        return datetime.strptime(text, "%Y%m%d")
    except ValueError:
        raise Refused(codes.INVALID_DATE_RANGE,
                      f"field {name}: {text!r} is not a date (YYYYMMDD)") from None


def _page(fields: Mapping[str, object]) -> tuple[int, int]:
    begin = fields.get("begin_no") or 1
    wanted = fields.get("query_num") or DEFAULT_PAGE
    if isinstance(begin, bool) or isinstance(wanted, bool) or not isinstance(begin, int) \
            or not isinstance(wanted, int) or begin < 1 or wanted < 1:
        raise Refused(codes.INVALID_FIELD, "begin_no and query_num must be counts")
    if wanted > MAX_PAGE:
        raise Refused(codes.INVALID_FIELD, f"query_num must be at most {MAX_PAGE}")
    return begin, wanted
