"""210230: an operator's signed decision on an instruction awaiting authorization.

The checks, in order; the first that fails is the answer, recorded with the
decision (so a retry of its req_no gets the same answer) and in the audit
log, and nothing else changes:

1. E001 a missing or malformed field (named);
2. E033 no such operator of the enterprise, one removed, or a maker (who
   never approves); E037 the operator has no enrolled key (never enrolled,
   or revoked);
3. E038 the signature over the decision's canonical text
   (:mod:`protocol.approval`) does not verify with that key — so whatever
   else the request says, a decision nobody signed is never looked at;
4. E032 no instruction with that req_no awaits authorization (none, or it
   was authorized, rejected, expired or cancelled already — the message says which);
5. E001 the signed amount or level is not the instruction's / the waiting
   level (the operator saw something else);
6. the rules of :mod:`core_sim.flows`: E034 the maker approving their own,
   E033 an operator of no level of this instruction, E035 someone who
   approved an earlier level, E036 an operator of a later level.

An approval moves the instruction to its next level; the last one
authorizes it, and it executes in the same transaction
(:func:`core_sim.transfers.execute_authorized`; a batch starts processing).
A rejection cancels it. The reply's body says where the instruction stands.
Exactly once: a decision's own ``(corp_no, req_no)`` is answered the same
every time; the same req_no with other content is E011.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from config.seed.model import APPROVER_ROLES
from core_sim import audit, authorization, batch_run, controls, flows, instructions, transfers
from core_sim.authorization import AUTHORIZED, REJECTED, Authorization
from core_sim.batches import INLINE_MAX
from core_sim.ledger import Ledger
from core_sim.transaction import Refused, Reply, Request, fit_message, required_field
from protocol import approval, codes
from protocol.keys import KeyFileError, VerifyKey
from protocol.money import format_yuan

DECISION = "210230"
TR_CODES = frozenset({DECISION})

#: The reply code for each of the rules' refusals.
REFUSAL_CODES = {
    flows.Refusal.NOT_WAITING: codes.NOT_AWAITING,
    flows.Refusal.SELF_APPROVAL: codes.SELF_APPROVAL,
    flows.Refusal.NOT_AN_APPROVER: codes.NOT_AN_APPROVER,
    flows.Refusal.ALREADY_APPROVED: codes.ALREADY_APPROVED,
    flows.Refusal.WRONG_ORDER: codes.WRONG_ORDER,
    flows.Refusal.NOT_IN_LEVEL: codes.NOT_AN_APPROVER,
}
_DECISION_NAMES = {wire: name for name, wire in approval.WIRE_DECISION.items()}


def execute(ledger: Ledger, request: Request, now: datetime) -> Reply:
    """Judge and apply one decision (inside the caller's transaction); the reply."""
    conn = ledger.conn
    if not request.req_no:
        return Refused(codes.INVALID_FIELD, "missing req_no").reply
    request_digest = instructions.digest(request.tr_code, request.fields)
    previous = conn.execute(
        "SELECT digest, reply FROM approval_decisions WHERE corp_no = ? AND req_no = ?",
        (request.corp_no, request.req_no)).fetchone()
    if previous is not None:
        if previous[0] == request_digest:
            return instructions.decode_reply(previous[1])
        return Refused(codes.DUPLICATE_REQ_NO, "req_no already used with different content").reply
    fields = request.fields
    operator = str(fields.get("operator") or "")
    signature = str(fields.get("signature") or "")
    held: Authorization | None = None
    level = None
    try:
        decision = _decision(request)
        level = decision.level
        held, role = _check(ledger, request, decision, signature)
        reply = _apply(ledger, held, role, decision, request, now)
    except Refused as refusal:
        reply = refusal.reply
        audit.record(conn, at=now, biz_date=ledger.biz, corp_no=request.corp_no,
                     event="decision_refused", tr_code=DECISION,
                     req_no=str(fields.get("ogl_serial_no") or ""), operator=operator,
                     result=refusal.code.code, detail=refusal.message)
    conn.execute(
        "INSERT INTO approval_decisions (corp_no, req_no, digest, instruction_id, operator,"
        " decision, level, signature, ret_code, reply, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?,"
        " ?, ?)",
        (request.corp_no, request.req_no, request_digest,
         None if held is None else held.instruction_id, operator,
         _DECISION_NAMES.get(str(fields.get("decision") or ""), ""), level,
         bytes.fromhex(signature) if _is_hex(signature) else signature.encode("utf-8",
                                                                              "replace"),
         reply.ret_code, instructions.encode_reply(reply), now.isoformat()))
    return reply


def _is_hex(text: str) -> bool:
    return len(text) % 2 == 0 and all(c in "0123456789abcdefABCDEF" for c in text)


def _decision(request: Request) -> approval.Decision:
    fields = request.fields
    req_no = required_field(fields, "ogl_serial_no")
    operator = required_field(fields, "operator")
    wire = required_field(fields, "decision")
    if wire not in _DECISION_NAMES:
        raise Refused(codes.INVALID_FIELD, f"field decision: 1 approve or 2 reject, got {wire!r}")
    level, amt = fields.get("level"), fields.get("amt")
    if not isinstance(level, int) or isinstance(level, bool) or level < 1:
        raise Refused(codes.INVALID_FIELD, "field level: the waiting level, 1 or more")
    if not isinstance(amt, int) or isinstance(amt, bool) or amt < 1:
        raise Refused(codes.INVALID_FIELD, "field amt: the instruction's amount in fen")
    required_field(fields, "signature")
    try:
        signed_at = approval.parse_signed_at(required_field(fields, "signed_at"))
        return approval.Decision(corp_no=request.corp_no, operator=operator,
                                 decision=_DECISION_NAMES[wire], req_no=req_no, level=level,
                                 amt=amt, signed_at=signed_at)
    except approval.DecisionError as exc:
        raise Refused(codes.INVALID_FIELD, fit_message(str(exc))) from None


def _check(ledger: Ledger, request: Request, decision: approval.Decision,
           signature: str) -> tuple[Authorization, str]:
    """The waiting authorization the decision may act on, and the operator's role."""
    conn = ledger.conn
    operator = controls.operator(conn, request.corp_no, decision.operator)
    if operator is None or operator.status != "active":
        raise Refused(codes.NOT_AN_APPROVER,
                      fit_message(f"no operator {decision.operator} of this enterprise"))
    if operator.role not in APPROVER_ROLES:
        raise Refused(codes.NOT_AN_APPROVER,
                      fit_message(f"{decision.operator} is a {operator.role}: never approves"))
    if operator.key_status != "enrolled" or operator.public_key is None:
        state = "revoked" if operator.key_status == "revoked" else "not enrolled"
        raise Refused(codes.OPERATOR_KEY,
                      fit_message(f"operator {decision.operator}: key {state}"))
    try:
        key = VerifyKey(operator.public_key)
    except (KeyFileError, ValueError):
        raise Refused(codes.OPERATOR_KEY,
                      fit_message(f"operator {decision.operator}: unusable key")) from None
    if not approval.verify(decision, signature, key):
        raise Refused(codes.BAD_SIGNATURE, fit_message(
            f"signature of {decision.operator} does not verify; nothing decided"))
    found = instructions.find(conn, request.corp_no, decision.req_no)
    held = None if found is None else authorization.load(conn, found.id)
    if found is None or held is None:
        raise Refused(codes.NOT_AWAITING,
                      fit_message(f"no instruction {decision.req_no} awaits authorization"))
    if held.state != authorization.AWAITING:
        raise Refused(codes.NOT_AWAITING, fit_message(f"{decision.req_no}: {held.describe()}"))
    amount = _amount(conn, held, found.amt)
    if decision.amt != amount:
        raise Refused(codes.INVALID_FIELD, fit_message(
            f"amt: signed {format_yuan(decision.amt)}, instruction {format_yuan(amount)}"))
    refusal = held.approval.may_approve(decision.operator, operator.role)
    if refusal is not None:
        raise Refused(REFUSAL_CODES[refusal], fit_message(
            f"{decision.operator}: {refusal.text}"))
    if decision.level != held.level:
        raise Refused(codes.INVALID_FIELD, fit_message(
            f"level: signed {decision.level}, waiting level is {held.level}"))
    return held, operator.role


def _amount(conn: sqlite3.Connection, held: Authorization, amt: int | None) -> int:
    """The amount an operator signs: a transfer's, or a batch's declared total."""
    if held.tr_code in (authorization.BATCH_PAYMENT, authorization.BATCH_COLLECTION):
        row = conn.execute("SELECT declared_amt FROM batches WHERE instruction_id = ?",
                           (held.instruction_id,)).fetchone()
        return row[0] if row else 0
    return amt or 0


def _apply(ledger: Ledger, held: Authorization, role: str, decision: approval.Decision,
           request: Request, now: datetime) -> Reply:
    conn = ledger.conn
    req_no = decision.req_no
    if decision.decision == approval.REJECT:
        held.approval.reject(decision.operator, role)  # the rules, once more
        closed = authorization.close(conn, held, REJECTED, decision.operator, now,
                                     biz_date=ledger.biz, event="rejection",
                                     operator=decision.operator)
        return _reply(ledger, closed, "rejected: nothing moved")
    after = held.approval.approve(decision.operator, role)
    audit.record(conn, at=now, biz_date=ledger.biz, corp_no=request.corp_no, event="approval",
                 tr_code=held.tr_code, req_no=req_no, operator=decision.operator,
                 amt=decision.amt, result=f"level {decision.level}",
                 detail=f"level {decision.level} of {len(held.levels)} approved")
    if not after.complete:
        moved = authorization.record_step(conn, held, approvers=after.approvers,
                                          state=authorization.AWAITING, closed_by="", now=now)
        return _reply(ledger, moved, fit_message(moved.describe()))
    done = authorization.record_step(conn, held, approvers=after.approvers, state=AUTHORIZED,
                                     closed_by="", now=now)
    status, err_msg = _execute(ledger, done, req_no, now)
    audit.record(conn, at=now, biz_date=ledger.biz, corp_no=request.corp_no,
                 event="authorized", tr_code=held.tr_code, req_no=req_no,
                 operator=decision.operator, amt=decision.amt, result=status,
                 detail=err_msg or f"executed after {len(after.approvers)} approvals")
    message = f"authorized: {status}" + (f" ({err_msg})" if err_msg else "")
    return _reply(ledger, done, fit_message(message))


def _execute(ledger: Ledger, held: Authorization, req_no: str, now: datetime
             ) -> tuple[str, str]:
    """Execute the authorized instruction: a transfer now, a batch from now on."""
    conn = ledger.conn
    if held.tr_code in authorization.TRANSFER_CODES:
        user_no = conn.execute("SELECT user_no FROM instructions WHERE id = ?",
                               (held.instruction_id,)).fetchone()[0]
        original = Request(held.corp_no, user_no, held.tr_code, req_no, dict(held.request))
        return transfers.execute_authorized(ledger, held.instruction_id, original, now)
    stamp = now.isoformat()
    conn.execute("UPDATE instructions SET status = 'processing', updated_at = ? WHERE id = ?",
                 (stamp, held.instruction_id))
    batch_id, inline = conn.execute(
        "SELECT id, inline FROM batches WHERE instruction_id = ?",
        (held.instruction_id,)).fetchone()
    conn.execute("UPDATE batches SET state = 'processing', updated_at = ? WHERE id = ?",
                 (stamp, batch_id))
    if inline:
        batch_run.run(ledger, batch_id, now, limit=INLINE_MAX)
    return "processing", ""


def _reply(ledger: Ledger, held: Authorization, message: str) -> Reply:
    found = instructions.by_id(ledger.conn, held.instruction_id)
    assert found is not None
    return Reply(codes.OK.code, message, "", {
        "ogl_serial_no": found.req_no, "stat": instructions.STAT_BY_STATUS[found.status],
        "err_msg": found.err_msg if found.status not in ("awaiting",) else "",
        **held.fields()})
