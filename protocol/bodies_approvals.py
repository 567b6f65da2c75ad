"""Wire bodies of the enterprise's approvals: 310230 (what waits) and 210230 (a decision).

An instruction whose approval flow has levels waits at the bank
(:data:`AUTHORIZATION` in the 310204 and 310207 replies says how far it
got). 310230 lists the instructions that wait, for one operator or all;
210230 carries one operator's signed decision on one of them: the operator
signs, with their own enrolled Ed25519 key, the canonical text of
:mod:`protocol.approval`, and the bank verifies it before anything else.
Merged into :data:`protocol.bodies.BODIES`.
"""

from __future__ import annotations

from construct import Struct

from protocol.fields import Choice, Digits, Text, field, records

# The widths of protocol.bodies, repeated here to keep this module free of
# a circular import; tests/test_protocol_docs.py renders both.
ACNO, ACNAME, AMT, REQ_NO, ERR_MSG, SUMMARY, COUNT = 32, 60, 16, 32, 60, 60, 8
OPERATOR = 20
CODES = 60  # operator codes joined by ","

#: Authorization states (``auth_state``).
AUTH_STATES = ("0", "1", "2", "3", "4", "5")

#: How far an instruction's authorization got; 310204 and 310207 carry these.
AUTHORIZATION = (
    field("auth_state", Choice(1, AUTH_STATES),
          "0 needs no approval, 1 awaiting authorization, 2 authorized, 3 rejected, "
          "4 expired (not authorized by the end of its business day), 5 cancelled "
          "(its flow was deleted)"),
    field("auth_level", Digits(2), "levels approved so far"),
    field("auth_levels", Digits(2), "levels the instruction needs"),
    field("waiting_for", Text(CODES, "ascii"),
          "operators any one of whom may approve next, comma-separated"),
)

DECISIONS = ("1", "2")  # 1 approve, 2 reject

WAITING_RECORD = Struct(
    field("req_no", Text(REQ_NO, "ascii"), "the instruction's req_no"),
    field("tr_code", Text(6, "ascii"), "210201, 210224, 330002 or 330010"),
    field("maker", Text(OPERATOR, "ascii"), "who submitted it (the direct-connect user_no)"),
    field("amt", Digits(AMT), "amount (a batch: its total), fen"),
    field("item_count", Digits(COUNT), "a batch's items; 0 for a single instruction"),
    field("pay_acno", Text(ACNO, "ascii"), "payer account (a collection: blank)"),
    field("rcv_acno", Text(ACNO, "ascii"), "payee account (a batch payment: blank)"),
    field("rcv_acname", Text(ACNAME), "payee name"),
    field("summary", Text(SUMMARY), "summary"),
    field("biz_date", Text(8, "ascii"), "business date submitted, YYYYMMDD"),
    field("submitted", Text(19, "ascii"), "when submitted, YYYY-MM-DDThh:mm:ss"),
    *AUTHORIZATION,
    field("approved_by", Text(CODES, "ascii"), "who approved each level so far, in order"),
)

BODIES = {
    ("310230", "request"): Struct(
        field("operator", Text(OPERATOR, "ascii"),
              "only what this operator may approve now; blank = everything waiting"),
        field("ogl_serial_no", Text(REQ_NO, "ascii"), "only this instruction; blank = all"),
        field("begin_no", Digits(COUNT), "first record wanted, 1-based (0 = 1)"),
        field("query_num", Digits(4), "records wanted (0 = 1000; at most 1000)"),
    ),
    ("310230", "response"): Struct(
        field("total_num", Digits(COUNT), "instructions matching"),
        field("begin_no", Digits(COUNT), "number of the first record returned"),
        field("more_flag", Choice(1, ("0", "1")), "1 = more records follow this page"),
        records("records", WAITING_RECORD, "instructions waiting, oldest first"),
    ),
    ("210230", "request"): Struct(
        field("ogl_serial_no", Text(REQ_NO, "ascii"), "req_no of the instruction decided on"),
        field("operator", Text(OPERATOR, "ascii"), "the deciding operator's code"),
        field("decision", Choice(1, DECISIONS), "1 approve, 2 reject"),
        field("level", Digits(2), "the level decided, 1-based (the one waiting)"),
        field("amt", Digits(AMT), "the instruction's amount as the operator saw it, fen"),
        field("signed_at", Text(19, "ascii"), "when signed, YYYY-MM-DDThh:mm:ss (China time)"),
        field("signature", Text(128, "ascii"),
              "Ed25519 signature of the decision's canonical text, 128 hex digits"),
    ),
    ("210230", "response"): Struct(
        field("ogl_serial_no", Text(REQ_NO, "ascii"), "req_no of the instruction"),
        field("stat", Choice(1, ("0", "1", "2", "3", "4")),
              "the instruction's 310204 stat after the decision"),
        field("err_msg", Text(ERR_MSG), "why it failed, when the last approval could not "
              "execute it (e.g. insufficient funds)"),
        *AUTHORIZATION,
    ),
}
