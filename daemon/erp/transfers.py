"""The ERP's payments: 210201 transfer, 210224 inter-bank payment, 310204 result query.

Each code is declared here once: its request body (:data:`REQUEST_RULES`),
how the core's answer becomes the ERP's reply body (:data:`REPLY_BODIES`),
and, for the two that move money, the body that tells the ERP "not known
yet, query with 310204" when the outcome is unknown
(:data:`UNKNOWN_OUTCOME_BODIES`).
"""

from __future__ import annotations

from collections.abc import Mapping

from daemon.erp.approvals import authorization_body
from daemon.erp.fields import (
    FieldRule,
    Kind,
    ReplyBody,
    acno_rule,
    flag_rule,
    text_rule,
    wire_text,
    wire_yuan,
)
from protocol.bodies import ACNAME, BANK_NAME, CERT_NO, REQ_NO, SUMMARY

__all__ = ["REPLY_BODIES", "REQUEST_RULES", "UNKNOWN_OUTCOME_BODIES"]

_AMT = FieldRule(name="amt", kind=Kind.AMOUNT, required=True, doc="amount in yuan (金额)")
_CERT_NO = FieldRule(name="cert_no", kind=Kind.ASCII, width=CERT_NO,
                     doc="the enterprise's voucher number (企业凭证号)")

#: Request body fields per tr_code, in wire order. Every wire field is listed:
#: optional ones default to ``""`` as the wire expects.
REQUEST_RULES: dict[str, tuple[FieldRule, ...]] = {
    "210201": (
        acno_rule("pay_acno", "payer account (付款人账号), the enterprise's"),
        text_rule("pay_acname", ACNAME, "payer name (付款人户名)", required=True),
        text_rule("rcv_bank_name", BANK_NAME, "payee bank name (收款方行名)"),
        acno_rule("rcv_acno", "payee account (收款人账号)"),
        text_rule("rcv_acname", ACNAME, "payee name (收款人户名)", required=True),
        FieldRule(name="rcv_exg_code", kind=Kind.ASCII, width=12,
                  doc="payee exchange code (收款方交换号)"),
        FieldRule(name="rcv_bank_no", kind=Kind.BANK_NO,
                  doc="payee bank number (收款方联行号)"),
        FieldRule(name="cur_code", kind=Kind.CURRENCY, default="CNY",
                  doc="currency (币种); empty = CNY"),
        _AMT,
        _CERT_NO,
        text_rule("summary", SUMMARY, "summary (附言)"),
        flag_rule("bank_flag", "0 = payee at this bank, 1 = other bank (银行标志); empty = 0"),
        flag_rule("area_flag", "0 = same city, 1 = other city (同城异地标志); empty = 0"),
    ),
    "210224": (
        acno_rule("pay_acno", "payer account (付款人账号), the enterprise's"),
        text_rule("pay_acname", ACNAME, "payer name (付款人户名)", required=True),
        acno_rule("rcv_acno", "payee account (收款人账号)"),
        text_rule("rcv_acname", ACNAME, "payee name (收款人户名)", required=True),
        FieldRule(name="partyid", kind=Kind.BANK_NO, required=True, aliases=("partyId",),
                  doc="receiving bank number (收款行行号); `partyId` is accepted too"),
        _AMT,
        _CERT_NO,
        text_rule("purpose", SUMMARY, "purpose (用途)"),
        text_rule("summary", SUMMARY, "summary (附言)"),
        flag_rule("urgent_flag", "1 = urgent, 0 = normal (加急标志); empty = 0"),
    ),
    "310204": (
        flag_rule("query_flag", "what ogl_serial_no is (查询标志): 1 = the original req_no, "
                  "else the bank serial_no of its reply; 2 = the bank serial_no only; "
                  "3 = the req_no only; empty = 1",
                  choices=("1", "2", "3"),
                  hint="1 req_no then bank serial, 2 bank serial, 3 req_no"),
        FieldRule(name="ogl_serial_no", kind=Kind.ASCII, width=REQ_NO, required=True,
                  doc="the original request's req_no, or the serial_no of its reply "
                      "(原流水号)"),
    ),
}

#: The reply body when the outcome is unknown: transfer stat 3 and inter-bank
#: tranStatus 20 (suspicious) tell the ERP to query, never that it failed.
UNKNOWN_OUTCOME_BODIES: dict[str, dict[str, str]] = {
    "210201": {"stat": "3"},
    "210224": {"tranStatus": "20"},
}


def _body_210201(fields: Mapping[str, object]) -> dict[str, str]:
    return {"stat": wire_text(fields, "stat")}


def _body_210224(fields: Mapping[str, object]) -> dict[str, str]:
    return {"tranStatus": wire_text(fields, "tran_status")}


_STATUS_FIELDS = ("ogl_serial_no", "stat", "err_msg", "pay_acno", "pay_bank_no", "rcv_acno",
                  "rcv_bank_no", "amt", "cert_no")


def _body_310204(fields: Mapping[str, object]) -> dict[str, str]:
    return {
        **{name: wire_yuan(fields, name) if name == "amt" else wire_text(fields, name)
           for name in _STATUS_FIELDS},
        **authorization_body(fields),
    }


#: The ERP reply body for the core's successful answer, per tr_code.
REPLY_BODIES: dict[str, ReplyBody] = {
    "210201": _body_210201,
    "210224": _body_210224,
    "310204": _body_310204,
}
