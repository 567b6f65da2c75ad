"""Fixed-format message bodies, one declaration per transaction and direction.

Each body is a construct ``Struct`` of fixed-width fields
(:mod:`protocol.fields`); repeated records are a count then the records. Money
is integer fen (``amt``: ``N16`` holds every ``N14.2`` amount; balances are
signed). Text is GB18030 in fixed byte widths; a value that does not fit is
refused when building, never truncated.

``BODIES[(tr_code, REQUEST | RESPONSE)]`` is the registry the sessions use;
the handshake bodies are binary and live beside them.

Batches (330002 payments, 330010 collections) travel in *segments*: every
segment is a request of its own with the batch's tr_code and req_no, its
header's ``frag_no`` the segment number (1, 2, …) and ``more_flag`` 1 on all
but the last; its body repeats the batch's header fields and carries at most
:data:`SEGMENT_ITEMS` items. So no frame grows with the batch. The bank
answers each segment with the batch's status (:data:`BATCH_STATUS`).
"""

from __future__ import annotations

from construct import Struct

from protocol import bodies_approvals, bodies_audit, bodies_receipts
from protocol.bodies_approvals import AUTHORIZATION
from protocol.codec import RecordCodec
from protocol.fields import Choice, Digits, Raw, Signed, Text, field, records

REQUEST = "request"
RESPONSE = "response"

# Widths shared by several bodies, so one change reaches them all.
ACNO = 32
ACNAME = 60
BANK_NAME = 80
BANK_NO = 12
CERT_NO = 32
SUMMARY = 60
AMT = 16
BALANCE = 17
SERIAL = 24
REQ_NO = 32
ERR_MSG = 60


def _acno(name: str = "acno", doc: str = "account number") -> object:
    return field(name, Text(ACNO, "ascii"), doc)


def _date(name: str, doc: str) -> object:
    return field(name, Text(8, "ascii"), doc + ", YYYYMMDD")


ACCOUNT_RECORD = Struct(
    field("acname", Text(ACNAME), "account name (户名)"),
    _acno("acno", "account number (账号)"),
    field("cur_code", Text(3, "ascii"), "currency (币种), e.g. CNY"),
    field("balance", Signed(BALANCE), "balance in fen (余额)"),
    field("avail_balance", Signed(BALANCE), "available balance in fen: balance less holds"),
    _date("open_date", "date opened (开户日期)"),
    field("acc_type", Text(2, "ascii"), "account type (账户类型): 01 current"),
    field("open_bank", Text(BANK_NAME), "bank and branch (开户行)"),
    field("err_msg", Text(ERR_MSG), "error message for this row (错误信息)"),
    field("succ_flag", Choice(1, ("0", "1")), "0 = success (成功标志)"),
)

ENTRY_RECORD = Struct(
    _date("tr_date", "business date of the entry"),
    field("tr_time", Text(6, "ascii"), "time of the entry, hhmmss"),
    field("serial_no", Text(SERIAL, "ascii"), "bank serial number"),
    field("dc_flag", Choice(1, ("D", "C")), "D = debit (money out), C = credit (money in)"),
    field("amt", Digits(AMT), "amount in fen"),
    field("balance", Signed(BALANCE), "account balance after the entry, fen"),
    _acno("opp_acno", "counterparty account"),
    field("opp_acname", Text(ACNAME), "counterparty name"),
    field("summary", Text(SUMMARY), "summary / purpose"),
    field("req_no", Text(REQ_NO, "ascii"), "the enterprise's req_no of the instruction"),
    field("cert_no", Text(CERT_NO, "ascii"), "the enterprise's voucher number"),
)

_FLAG01 = ("0", "1")

#: Most items in one batch segment, and most records in one page of items.
SEGMENT_ITEMS = 1000
PAGE_RECORDS = 1000
BUSINO = 20
AGREEMENT_NO = 20
COUNT = 8  # item counts: a batch holds at most 99,999,999 items

#: Batch states (310207 ``state``).
BATCH_STATES = ("0", "1", "2", "3", "4", "5", "6")

#: The batch status every segment reply and 310207 carry.
BATCH_STATUS = (
    field("state", Choice(1, BATCH_STATES),
          "0 received (segments arriving), 1 awaiting authorization, 2 processing, "
          "3 finished, 4 refused, 5 cancelled, 6 no such batch"),
    field("received", Digits(COUNT), "items the bank holds"),
    field("ok_count", Digits(COUNT), "items succeeded"),
    field("ok_amt", Digits(AMT), "amount succeeded, fen"),
    field("fail_count", Digits(COUNT), "items failed"),
    field("fail_amt", Digits(AMT), "amount failed, fen"),
    field("pending_count", Digits(COUNT), "items not final yet (executing, or at other banks)"),
    field("pending_amt", Digits(AMT), "amount not final yet, fen"),
    field("err_code", Text(4, "ascii"), "why the batch was refused (state 4), else blank"),
    field("err_msg", Text(ERR_MSG), "the reason, when refused"),
)

PAYMENT_ITEM = Struct(
    field("card_no", Text(21, "ascii"), "payee's card or passbook number (卡号)"),
    field("acname", Text(ACNAME), "payee name (户名)"),
    field("card_flag", Choice(1, _FLAG01), "0 card, 1 passbook"),
    field("amt", Digits(AMT), "amount in fen"),
    field("busino", Text(BUSINO, "ascii"), "the item's reference, unique in the batch"),
)

COLLECTION_ITEM = Struct(
    _acno("pay_acno", "payer account"),
    field("pay_acname", Text(ACNAME), "payer name"),
    field("agreement_no", Text(AGREEMENT_NO, "ascii"), "collection agreement (协议号)"),
    field("amt", Digits(AMT), "amount in fen"),
    field("busino", Text(BUSINO, "ascii"), "the item's reference, unique in the batch"),
    field("pay_bank_no", Text(BANK_NO, "ascii"), "payer's bank number; blank = this bank"),
)

ITEM_RESULT = Struct(
    field("seq", Digits(COUNT), "the item's position in the batch, 1-based"),
    field("busino", Text(BUSINO, "ascii"), "the item's reference"),
    _acno("acno", "payee card (330002) or payer account (330010)"),
    field("acname", Text(ACNAME), "payee or payer name"),
    field("amt", Digits(AMT), "amount in fen"),
    field("suc_flg", Choice(1, ("F", "E", "P", "3")),
          "F success, E failed, P processing (settles later), 3 unknown"),
    field("flw", Text(SERIAL, "ascii"), "the bank's serial for the item"),
    field("err_code", Text(4, "ascii"), "why it failed, blank on success"),
    field("err_msg", Text(ERR_MSG), "the reason, when failed"),
)

AGREEMENT_RECORD = Struct(
    field("agreement_no", Text(AGREEMENT_NO, "ascii"), "agreement number (协议号)"),
    _acno("payer_acno", "payer account"),
    field("payer_name", Text(ACNAME), "payer name"),
    field("payer_bank_no", Text(BANK_NO, "ascii"), "payer's bank number"),
    field("max_amt", Digits(AMT), "most per collection, fen; 0 = no maximum"),
    _date("valid_to", "last day the agreement is valid; blank = open-ended"),
    field("status", Choice(1, _FLAG01), "0 active, 1 revoked"),
)

BODIES: dict[tuple[str, str], Struct] = {
    ("310101", REQUEST): Struct(
        _acno("acno", "account number; blank = every account of the enterprise"),
    ),
    ("310101", RESPONSE): Struct(
        records("records", ACCOUNT_RECORD, "one record per account"),
    ),
    ("310201", REQUEST): Struct(
        _acno(),
    ),
    ("310201", RESPONSE): Struct(
        _acno(),
        records("records", ENTRY_RECORD, "today's entries, oldest first"),
    ),
    ("310301", REQUEST): Struct(
        _acno(),
        _date("start_date", "first business date"),
        _date("end_date", "last business date"),
        field("begin_no", Digits(6), "first record wanted, 1-based (0 = 1)"),
        field("query_num", Digits(4), "records wanted (0 = 100; at most 500)"),
    ),
    ("310301", RESPONSE): Struct(
        _acno(),
        field("total_num", Digits(8), "entries in the date range"),
        field("begin_no", Digits(6), "number of the first record returned"),
        field("more_flag", Choice(1, _FLAG01), "1 = more records follow this page"),
        records("records", ENTRY_RECORD, "entries, oldest first"),
    ),
    ("210201", REQUEST): Struct(
        _acno("pay_acno", "payer account"),
        field("pay_acname", Text(ACNAME), "payer name"),
        field("rcv_bank_name", Text(BANK_NAME), "payee bank name"),
        _acno("rcv_acno", "payee account"),
        field("rcv_acname", Text(ACNAME), "payee name"),
        field("rcv_exg_code", Text(12, "ascii"), "payee bank exchange code"),
        field("rcv_bank_no", Text(BANK_NO, "ascii"), "payee bank number (routing number)"),
        field("cur_code", Text(3, "ascii"), "currency"),
        field("amt", Digits(AMT), "amount in fen"),
        field("cert_no", Text(CERT_NO, "ascii"), "enterprise voucher number"),
        field("summary", Text(SUMMARY), "summary"),
        field("bank_flag", Choice(1, _FLAG01), "0 = same bank, 1 = other bank"),
        field("area_flag", Choice(1, _FLAG01), "0 = same city, 1 = other city"),
    ),
    ("210201", RESPONSE): Struct(
        field("stat", Choice(1, ("0", "1", "2", "3")),
              "0 processing, 1 success, 2 failed, 3 suspicious"),
    ),
    ("210224", REQUEST): Struct(
        _acno("pay_acno", "payer account"),
        field("pay_acname", Text(ACNAME), "payer name"),
        _acno("rcv_acno", "payee account"),
        field("rcv_acname", Text(ACNAME), "payee name"),
        field("partyid", Text(BANK_NO, "ascii"), "receiving bank number"),
        field("amt", Digits(AMT), "amount in fen"),
        field("cert_no", Text(CERT_NO, "ascii"), "enterprise voucher number"),
        field("purpose", Text(SUMMARY), "purpose"),
        field("summary", Text(SUMMARY), "summary"),
        field("urgent_flag", Choice(1, _FLAG01), "1 = urgent (next clearing cycle), 0 = normal"),
    ),
    ("210224", RESPONSE): Struct(
        field("tran_status", Choice(2, ("34", "21", "22", "20")),
              "34 accepted/processing, 21 success, 22 failed, 20 suspicious"),
    ),
    ("310204", REQUEST): Struct(
        field("query_flag", Choice(1, ("1", "2", "3")),
              "what ogl_serial_no is: 1 the original req_no, else the bank serial of "
              "the instruction's reply; 2 the bank serial only; 3 the req_no only"),
        field("ogl_serial_no", Text(REQ_NO, "ascii"), "the original req_no or bank serial"),
    ),
    ("310204", RESPONSE): Struct(
        field("ogl_serial_no", Text(REQ_NO, "ascii"), "the req_no or serial asked about"),
        field("stat", Choice(1, ("0", "1", "2", "3", "4")),
              "0 processing, 1 success, 2 failed, 3 suspicious, 4 no such record"),
        field("err_msg", Text(ERR_MSG), "reason, when failed"),
        _acno("pay_acno", "payer account"),
        field("pay_bank_no", Text(BANK_NO, "ascii"), "payer bank number"),
        _acno("rcv_acno", "payee account"),
        field("rcv_bank_no", Text(BANK_NO, "ascii"), "payee bank number"),
        field("amt", Digits(AMT), "amount in fen"),
        field("cert_no", Text(CERT_NO, "ascii"), "enterprise voucher number"),
        *AUTHORIZATION,
    ),
    ("330002", REQUEST): Struct(
        field("cert_no", Text(CERT_NO, "ascii"), "enterprise voucher number"),
        _acno("pay_acno", "the enterprise's paying account"),
        field("type", Text(1, "ascii"), "batch type (BoCom: S)"),
        field("sum", Digits(COUNT), "number of items in the whole batch"),
        field("sum_amt", Digits(AMT), "total of the whole batch, fen"),
        field("pay_month", Text(6, "ascii"), "month paid for, YYYYMM"),
        field("summary", Text(SUMMARY), "summary"),
        field("busi_no", Text(10, "ascii"), "payroll agreement number"),
        field("mailflg", Text(1, "ascii"), "Y/N: notify payees"),
        field("file_flag", Choice(1, _FLAG01), "0 inline (executed at once), 1 file"),
        records("items", PAYMENT_ITEM, "this segment's items, at most 1000"),
    ),
    ("330002", RESPONSE): Struct(*BATCH_STATUS),
    ("330010", REQUEST): Struct(
        field("cert_no", Text(CERT_NO, "ascii"), "enterprise voucher number"),
        _acno("rcv_acno", "the enterprise's collecting account"),
        field("sum", Digits(COUNT), "number of items in the whole batch"),
        field("sum_amt", Digits(AMT), "total of the whole batch, fen"),
        field("summary", Text(SUMMARY), "summary"),
        field("busi_no", Text(10, "ascii"), "fee item code"),
        field("file_flag", Choice(1, _FLAG01), "0 inline (executed at once), 1 file"),
        records("items", COLLECTION_ITEM, "this segment's items, at most 1000"),
    ),
    ("330010", RESPONSE): Struct(*BATCH_STATUS),
    ("310207", REQUEST): Struct(
        field("ogl_serial_no", Text(REQ_NO, "ascii"), "the batch's req_no"),
    ),
    ("310207", RESPONSE): Struct(
        field("ogl_serial_no", Text(REQ_NO, "ascii"), "the batch's req_no"),
        field("batch_tr_code", Text(6, "ascii"), "330002 or 330010; blank when no such batch"),
        field("sum", Digits(COUNT), "items declared"),
        field("sum_amt", Digits(AMT), "total declared, fen"),
        *BATCH_STATUS,
        *AUTHORIZATION,
    ),
    ("310208", REQUEST): Struct(
        field("ogl_serial_no", Text(REQ_NO, "ascii"), "the batch's req_no"),
        field("status", Text(1, "ascii"),
              "only items with this sucFlg (F, E or P); blank = every item"),
        field("begin_no", Digits(COUNT), "first matching item wanted, 1-based (0 = 1)"),
        field("query_num", Digits(4), "items wanted (0 = 1000; at most 1000)"),
    ),
    ("310208", RESPONSE): Struct(
        field("ogl_serial_no", Text(REQ_NO, "ascii"), "the batch's req_no"),
        field("total_num", Digits(COUNT), "items matching the filter"),
        field("begin_no", Digits(COUNT), "number of the first item returned"),
        field("more_flag", Choice(1, _FLAG01), "1 = more items follow this page"),
        records("records", ITEM_RESULT, "items in batch order"),
    ),
    ("310210", REQUEST): Struct(
        _acno("rcv_acno", "the enterprise's collecting account"),
        field("begin_no", Digits(COUNT), "first record wanted, 1-based (0 = 1)"),
        field("query_num", Digits(4), "records wanted (0 = 1000; at most 1000)"),
    ),
    ("310210", RESPONSE): Struct(
        _acno("rcv_acno", "the enterprise's collecting account"),
        field("total_num", Digits(COUNT), "agreements for the account"),
        field("begin_no", Digits(COUNT), "number of the first record returned"),
        field("more_flag", Choice(1, _FLAG01), "1 = more records follow this page"),
        records("records", AGREEMENT_RECORD, "agreements, oldest first"),
    ),
    **bodies_approvals.BODIES,
    **bodies_audit.BODIES,
    **bodies_receipts.BODIES,
}

#: The tr_codes whose requests travel in segments (header frag_no / more_flag).
BATCH_TR_CODES: frozenset[str] = frozenset({"330002", "330010"})

TR_CODES: frozenset[str] = frozenset(code for code, _ in BODIES)

#: Handshake bodies (binary). See docs/protocol.md, "Handshake".
HANDSHAKE_BODY = Struct(
    field("client_nonce", Raw(32), "client's random nonce"),
    field("sealed_secret", Raw(80), "HPKE(X25519, HKDF-SHA256, AES-256-GCM) enc (32) || "
          "ciphertext of the 32-byte session secret (48)"),
)
HANDSHAKE_ACK_BODY = Struct(
    field("server_nonce", Raw(32), "bank's random nonce"),
    field("transcript", Raw(32), "SHA-256 of the complete handshake message received"),
)

CODECS: dict[tuple[str, str], RecordCodec] = {key: RecordCodec(s) for key, s in BODIES.items()}
HANDSHAKE_CODEC = RecordCodec(HANDSHAKE_BODY)
HANDSHAKE_ACK_CODEC = RecordCodec(HANDSHAKE_ACK_BODY)
