"""Wire bodies of the e-receipts (电子回单): 310220 fetches them, signed by the bank.

Each record carries every field of a :class:`protocol.receipt.Receipt` (the
amount in capitals excepted: it is the amount's, by
:func:`protocol.capitals.amount_in_capitals`) and the bank's Ed25519
signature over the receipt's canonical encoding (``directlink-receipt-v1``),
so the receiver rebuilds the receipt and verifies it with the bank key it
pinned. Merged into :data:`protocol.bodies.BODIES`.
"""

from __future__ import annotations

from construct import Struct

from protocol.fields import Choice, Digits, Text, field, records

# The widths of protocol.bodies, repeated here to keep this module free of
# a circular import; tests/test_protocol_docs.py renders both.
ACNO, ACNAME, BANK_NAME, AMT, SERIAL, REQ_NO, SUMMARY, COUNT = 32, 60, 80, 16, 24, 32, 60, 8
CORP_NO = 20  # as the header's

#: Most receipts in one page: a thousand would not fit in one ERP reply (999,999 bytes).
PAGE_RECEIPTS = 500

RECEIPT_RECORD = Struct(
    field("receipt_no", Text(32, "ascii"), "receipt number (回单编号): the serial, -D or -C"),
    field("biz_date", Text(8, "ascii"), "business date of the movement (记账日期), YYYYMMDD"),
    field("dc_flag", Choice(1, ("D", "C")),
          "D debit (money left the enterprise's account), C credit"),
    field("payer_acno", Text(ACNO, "ascii"), "payer account (付款人账号)"),
    field("payer_name", Text(ACNAME), "payer name (付款人户名)"),
    field("payer_bank", Text(BANK_NAME), "payer's bank (付款人开户行)"),
    field("payee_acno", Text(ACNO, "ascii"), "payee account (收款人账号)"),
    field("payee_name", Text(ACNAME), "payee name (收款人户名)"),
    field("payee_bank", Text(BANK_NAME), "payee's bank (收款人开户行)"),
    field("cur_code", Text(3, "ascii"), "currency: CNY"),
    field("amt", Digits(AMT), "amount in fen"),
    field("summary", Text(SUMMARY), "summary (摘要)"),
    field("serial_no", Text(SERIAL, "ascii"), "bank serial (交易流水号): the entry's, or "
          "a collection item's flw"),
    field("req_no", Text(REQ_NO, "ascii"), "the enterprise's req_no; blank on a receipt of "
          "another enterprise's instruction"),
    field("corp_no", Text(CORP_NO, "ascii"), "the enterprise the receipt is for"),
    field("tr_code", Text(6, "ascii"), "the transaction that moved the money"),
    field("issued_at", Text(19, "ascii"), "when the movement was posted, China time, "
          "YYYY-MM-DDThh:mm:ss"),
    field("signer_key_id", Text(16, "ascii"), "the signing bank key's id (16 hex digits)"),
    field("signature", Text(128, "ascii"),
          "Ed25519 signature of the canonical receipt, 128 lower-case hex digits"),
)

BODIES = {
    ("310220", "request"): Struct(
        field("ogl_serial_no", Text(REQ_NO, "ascii"),
              "an instruction's req_no: its receipts (a batch's: one per item); else blank"),
        field("serial_no", Text(SERIAL, "ascii"),
              "a bank serial (an entry's, or a batch item's flw): its receipts; else blank"),
        field("acno", Text(ACNO, "ascii"),
              "an account of the enterprise: its receipts from start_date to end_date"),
        field("start_date", Text(8, "ascii"), "first business date (with acno), YYYYMMDD"),
        field("end_date", Text(8, "ascii"), "last business date (with acno), YYYYMMDD"),
        field("begin_no", Digits(COUNT), "first receipt wanted, 1-based (0 = 1)"),
        field("query_num", Digits(4), f"receipts wanted (0 = 100; at most {PAGE_RECEIPTS})"),
    ),
    ("310220", "response"): Struct(
        field("total_num", Digits(COUNT), "receipts matching"),
        field("begin_no", Digits(COUNT), "number of the first receipt returned"),
        field("more_flag", Choice(1, ("0", "1")), "1 = more receipts follow this page"),
        records("records", RECEIPT_RECORD, "receipts, in posting order (a batch: item order)"),
    ),
}
