"""Receiving batches: 330002 payments and 330010 collections, segment by segment.

A batch arrives as numbered segments (docs/protocol.md, "Batches in
segments"), each a request of its own with the batch's req_no. The first
segment creates the batch's exactly-once record — an ``instructions`` row
whose digest covers the batch's own fields (everything but the items) — and
its ``batches`` row; each segment's items are stored as ``batch_items`` in the
transaction that answers it, so a stored segment is durable before the
enterprise hears of it. Rules, in the order they are checked:

1. segment 1 with batch fields that do not describe a valid batch is refused
   and the refusal recorded, like a transfer's (E001, E003, E004, E005,
   E006): a retry gets the same answer; an inline batch (``file_flag`` 0)
   holds at most :data:`INLINE_MAX` items;
2. a later segment's batch fields must equal segment 1's, else E011;
3. segment *n* is stored only when the bank holds 1 … *n*−1 (else E019,
   naming the segment expected); every segment but the last holds exactly
   :data:`~protocol.bodies.SEGMENT_ITEMS` items;
4. a segment already held is answered again if its items are the same
   (a retransmission), else E011;
5. a ``busino`` seen before in the batch refuses the whole batch (E018);
   the last segment (``more`` false) checks the count and total against
   ``sum`` and ``sum_amt`` (E017). A refused batch keeps no items and
   executes nothing; it answers state 4 from then on.

A complete batch whose flow has levels *awaits authorization*
(:mod:`core_sim.authorization`; answered A001, state 1) and runs once its
last level approves, or is cancelled (state 5) when rejected or not approved
by the end of its business day. Otherwise a complete batch is *processing*:
:mod:`core_sim.batch_run` executes its items, at once for an inline batch
(in the transaction of its last segment, so the answer already holds every
item's result), in the background for a file batch.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from core_sim import audit, authorization, batch_run, instructions
from core_sim.instructions import Described
from core_sim.ledger import Ledger
from core_sim.transaction import (
    Refused,
    Reply,
    Request,
    fit_message,
    required_field,
    text_field,
)
from protocol import codes
from protocol.bodies import SEGMENT_ITEMS
from protocol.money import MAX_FEN, format_yuan

PAYMENT = "330002"
COLLECTION = "330010"
TR_CODES = frozenset({PAYMENT, COLLECTION})

#: Most items of an inline batch (``file_flag`` 0), executed while the ERP waits.
INLINE_MAX = 3000
#: Most items of any batch: the header's frag_no (N4) times the segment size.
BATCH_MAX = 9999 * SEGMENT_ITEMS

#: The batch's own account field, by tr_code.
ACCOUNT_FIELD = {PAYMENT: "pay_acno", COLLECTION: "rcv_acno"}

# The state numbers 310207 and every segment answer report.
STATE_NUMBER = {"receiving": "0", "awaiting": "1", "processing": "2", "finished": "3",
                "refused": "4", "cancelled": "5"}
NO_SUCH_BATCH = "6"

_CANONICAL = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


@dataclass(slots=True)
class BatchRow:
    id: int
    instruction_id: int
    tr_code: str
    account_id: int
    inline: bool
    declared_count: int
    declared_amt: int
    header_digest: bytes
    state: str
    segments: int
    items: int
    items_amt: int


_BATCH_COLUMNS = ("id, instruction_id, tr_code, account_id, inline, declared_count,"
                  " declared_amt, header_digest, state, segments, items, items_amt")


def find(conn: sqlite3.Connection, corp_no: str, req_no: str) -> BatchRow | None:
    row = conn.execute(f"SELECT {_BATCH_COLUMNS} FROM batches WHERE corp_no = ? AND req_no = ?",
                       (corp_no, req_no)).fetchone()
    if row is None:
        return None
    batch = BatchRow(*row)
    batch.inline = bool(batch.inline)
    return batch


def status_fields(conn: sqlite3.Connection, batch_id: int) -> dict[str, object]:
    """The BATCH_STATUS fields of one batch, as every segment answer and 310207 give them."""
    (state, items, ok_count, ok_amt, fail_count, fail_amt, pending_count, pending_amt,
     err_code, err_msg) = conn.execute(
        "SELECT state, items, ok_count, ok_amt, fail_count, fail_amt, pending_count,"
        " pending_amt, err_code, err_msg FROM batches WHERE id = ?", (batch_id,)).fetchone()
    not_run = items - ok_count - fail_count - pending_count
    return {
        "state": STATE_NUMBER[state], "received": items, "ok_count": ok_count,
        "ok_amt": ok_amt, "fail_count": fail_count, "fail_amt": fail_amt,
        # Items not executed yet are not final either.
        "pending_count": pending_count + (not_run if state == "processing" else 0),
        "pending_amt": pending_amt + (_not_run_amt(conn, batch_id) if state == "processing"
                                      and not_run else 0),
        "err_code": err_code, "err_msg": err_msg,
    }


def _not_run_amt(conn: sqlite3.Connection, batch_id: int) -> int:
    (amt,) = conn.execute(
        "SELECT items_amt - ok_amt - fail_amt - pending_amt FROM batches WHERE id = ?",
        (batch_id,)).fetchone()
    return amt


def header_digest(tr_code: str, fields: Mapping[str, object]) -> bytes:
    """The digest of a batch's own fields: every field but the items."""
    return instructions.digest(tr_code, {k: v for k, v in fields.items() if k != "items"})


def segment_digest(tr_code: str, items: list[Mapping[str, object]]) -> bytes:
    """The digest of a segment's items, to recognise the same segment sent again.

    The items as the wire decoded them: every field, in the body's declared
    order, so the same segment always encodes the same way.
    """
    return hashlib.sha256(_CANONICAL([tr_code, items]).encode("utf-8")).digest()


# -- a segment arrives -----------------------------------------------------------------


def receive(ledger: Ledger, request: Request, now: datetime) -> Reply:
    """Store or refuse one segment of a batch; the reply carries the batch's status."""
    if not request.req_no:
        return Refused(codes.INVALID_FIELD, "missing req_no").reply
    if ledger.enterprise(request.corp_no) is None:
        return Refused(codes.NOT_ENROLLED, f"unknown enterprise {request.corp_no}").reply
    frag_no = request.frag_no or 1  # an unsegmented batch request is a batch of one segment
    conn = ledger.conn
    digest = header_digest(request.tr_code, request.fields)
    batch = find(conn, request.corp_no, request.req_no)
    if batch is None:
        previous = instructions.find_for_retry(conn, request.corp_no, request.req_no)
        if previous is not None:
            # The req_no names a transfer, or a batch refused at its first segment.
            previous_digest, previous_reply = previous
            if previous_digest == digest and frag_no == 1:
                return instructions.decode_reply(previous_reply)
            return Refused(codes.DUPLICATE_REQ_NO,
                           "req_no already used with different content").reply
        if frag_no != 1:
            return Refused(codes.SEGMENT_OUT_OF_ORDER,
                           f"no such batch yet: expected segment 1, got {frag_no}").reply
        try:
            batch = _create(ledger, request, digest, now)
        except Refused as refusal:
            described = _describe(request)
            instructions.record(
                conn, request, digest, described, status="failed",
                reply=refusal.reply, pay_bank_no=ledger.bank_no, biz_date=ledger.biz, now=now)
            _audit(ledger, request, "refusal", described.amt, refusal.code.code,
                   refusal.message, now)
            return refusal.reply
    elif batch.header_digest != digest or batch.tr_code != request.tr_code:
        return Refused(codes.DUPLICATE_REQ_NO,
                       "req_no already used with different content").reply
    items = request.fields.get("items") or []
    if batch.state == "refused":
        # The segments it held are kept as digests: the same one again is answered
        # with the refusal, another (a corrected item) is other content.
        stored = conn.execute(
            "SELECT digest FROM batch_segments WHERE batch_id = ? AND seg_no = ?",
            (batch.id, frag_no)).fetchone()
        if stored is not None and stored[0] != segment_digest(batch.tr_code, items):
            return Refused(codes.DUPLICATE_REQ_NO,
                           f"req_no already used with different content (segment {frag_no} "
                           "of a refused batch)").reply
        return _answer(ledger, batch, frag_no)
    if frag_no <= batch.segments:
        stored = conn.execute(
            "SELECT digest FROM batch_segments WHERE batch_id = ? AND seg_no = ?",
            (batch.id, frag_no)).fetchone()
        if stored is None or stored[0] != segment_digest(batch.tr_code, items):
            return Refused(codes.DUPLICATE_REQ_NO,
                           f"segment {frag_no} already held with different content").reply
        return _answer(ledger, batch, frag_no)
    if batch.state != "receiving" or frag_no != batch.segments + 1:
        expected = batch.segments + 1
        what = ("the batch is complete" if batch.state != "receiving"
                else f"expected segment {expected}")
        return Refused(codes.SEGMENT_OUT_OF_ORDER, f"{what}, got segment {frag_no}").reply
    try:
        _store(ledger, batch, frag_no, items, last=not request.more, now=now)
    except Refused as refusal:
        _refuse(ledger, batch, refusal, now, frag_no, items)
        _audit(ledger, request, "refusal", batch.declared_amt, refusal.code.code,
               refusal.message, now)
        return _answer(ledger, batch, frag_no)
    if not request.more:
        needed = authorization.levels_needed(conn, request.corp_no, batch.tr_code,
                                             request.fields)
        if needed.levels:
            _await(ledger, batch, request, needed, now)
        else:
            _audit(ledger, request, "instruction", batch.declared_amt, "processing",
                   f"batch of {batch.items} items received", now)
            if batch.inline:
                batch_run.run(ledger, batch.id, now, limit=INLINE_MAX)
    return _answer(ledger, batch, frag_no)


def _audit(ledger: Ledger, request: Request, event: str, amt: int | None, result: str,
           detail: str, now: datetime) -> None:
    audit.record(ledger.conn, at=now, biz_date=ledger.biz, corp_no=request.corp_no,
                 event=event, tr_code=request.tr_code, req_no=request.req_no,
                 operator=request.user_no, amt=amt, result=result, detail=detail)


def _await(ledger: Ledger, batch: BatchRow, request: Request, needed: authorization.Needed,
           now: datetime) -> None:
    """The complete batch waits for its approvals (:mod:`core_sim.authorization`)."""
    conn = ledger.conn
    stamp = now.isoformat()
    conn.execute("UPDATE batches SET state = 'awaiting', updated_at = ? WHERE id = ?",
                 (stamp, batch.id))
    conn.execute("UPDATE instructions SET status = 'awaiting', updated_at = ? WHERE id = ?",
                 (stamp, batch.instruction_id))
    batch.state = "awaiting"
    authorization.hold(conn, batch.instruction_id, request, needed, amt=batch.declared_amt,
                       biz_date=ledger.biz, now=now)


def _describe(request: Request) -> Described:
    fields = request.fields
    amt = fields.get("sum_amt")
    return Described(pay_acno=str(fields.get(ACCOUNT_FIELD[request.tr_code]) or ""),
                     amt=amt if isinstance(amt, int) and not isinstance(amt, bool) else None,
                     cert_no=str(fields.get("cert_no") or ""))


def _create(ledger: Ledger, request: Request, digest: bytes, now: datetime) -> BatchRow:
    """Judge a new batch's own fields and open its records; Refused if they are wrong."""
    fields = request.fields
    tr_code = request.tr_code
    acno = required_field(fields, ACCOUNT_FIELD[tr_code])
    count = _count(fields, "sum")
    amount = _count(fields, "sum_amt")
    if count < 1:
        raise Refused(codes.INVALID_FIELD, "sum: a batch holds at least one item")
    if count > BATCH_MAX:
        raise Refused(codes.INVALID_FIELD, f"sum: a batch holds at most {BATCH_MAX} items")
    if amount < 1 or amount > MAX_FEN * count:
        raise Refused(codes.INVALID_AMOUNT, "sum_amt must be positive")
    file_flag = text_field(fields, "file_flag") or "0"
    if file_flag not in ("0", "1"):
        raise Refused(codes.INVALID_FIELD, f"file_flag must be 0 or 1, got {file_flag!r}")
    inline = file_flag == "0"
    if inline and count > INLINE_MAX:
        raise Refused(codes.INVALID_FIELD, f"an inline batch holds at most {INLINE_MAX} items; "
                                           "send it as a file (file_flag=1)")
    account = ledger.customer_account(acno)
    role = "paying" if tr_code == PAYMENT else "collecting"
    if account is None:
        raise Refused(codes.UNKNOWN_ACCOUNT, f"{role} account {acno} not found")
    if account.corp_no != request.corp_no:
        raise Refused(codes.NOT_OWN_ACCOUNT, f"not this enterprise's account: {acno}")
    if account.status == "closed":
        raise Refused(codes.ACCOUNT_CLOSED, f"{role} account {acno} is closed")
    if account.status == "frozen" and tr_code == PAYMENT:
        raise Refused(codes.ACCOUNT_FROZEN, f"{role} account {acno} is frozen")
    serial_no = ledger.next_serial()
    reply = Reply(codes.OK.code, "batch received", serial_no, {})
    instruction_id = instructions.record(
        ledger.conn, request, digest, _describe(request), status="processing", reply=reply,
        pay_bank_no=ledger.bank_no, biz_date=ledger.biz, now=now)
    stamp = now.isoformat()
    batch_id = ledger.conn.execute(
        "INSERT INTO batches (instruction_id, corp_no, req_no, tr_code, account_id, inline,"
        " summary, cert_no, busi_no, declared_count, declared_amt, header_digest, state,"
        " biz_date, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'receiving', ?, ?, ?)",
        (instruction_id, request.corp_no, request.req_no, tr_code, account.id, int(inline),
         text_field(fields, "summary"), text_field(fields, "cert_no"),
         text_field(fields, "busi_no"), count, amount, digest, ledger.biz, stamp, stamp),
    ).lastrowid
    return BatchRow(batch_id, instruction_id, tr_code, account.id, inline, count, amount,
                    digest, "receiving", 0, 0, 0)


def _count(fields: Mapping[str, object], name: str) -> int:
    value = fields.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Refused(codes.INVALID_FIELD, f"missing field {name}")
    return value


def _store(ledger: Ledger, batch: BatchRow, frag_no: int, items: list, *, last: bool,
           now: datetime) -> None:
    """Add one segment's items to the batch; Refused (E001/E017/E018) refuses the batch."""
    if not last and len(items) != SEGMENT_ITEMS:
        raise Refused(codes.INVALID_FIELD, f"segment {frag_no} holds {len(items)} items; every "
                                           f"segment but the last holds {SEGMENT_ITEMS}")
    if len(items) > SEGMENT_ITEMS:
        raise Refused(codes.INVALID_FIELD, f"segment {frag_no} holds more than {SEGMENT_ITEMS}")
    seq = batch.items
    rows = []
    amount = 0
    payment = batch.tr_code == PAYMENT
    for item in items:
        seq += 1
        amt = item["amt"]
        if not isinstance(amt, int) or amt <= 0:
            raise Refused(codes.INVALID_AMOUNT, f"item {seq}: amount must be positive")
        busino = item["busino"]
        if not busino:
            raise Refused(codes.INVALID_FIELD, f"item {seq}: missing busino")
        amount += amt
        if payment:
            rows.append((batch.id, seq, busino, item["card_no"], item["acname"], amt,
                         item["card_flag"], "", ""))
        else:
            rows.append((batch.id, seq, busino, item["pay_acno"], item["pay_acname"], amt, "",
                         item["agreement_no"], item["pay_bank_no"]))
    if seq > batch.declared_count:
        raise Refused(codes.BATCH_TOTALS,
                      f"more items than sum {batch.declared_count}: item {seq}")
    conn = ledger.conn
    try:
        conn.executemany(
            "INSERT INTO batch_items (batch_id, seq, busino, acno, acname, amt, card_flag,"
            " agreement_no, bank_no) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    except sqlite3.IntegrityError:
        duplicate = _first_duplicate(conn, batch.id, rows)
        raise Refused(codes.DUPLICATE_BUSINO, f"busino {duplicate} repeated in the batch") from None
    batch.segments, batch.items, batch.items_amt = frag_no, seq, batch.items_amt + amount
    if last and (batch.items != batch.declared_count or batch.items_amt != batch.declared_amt):
        raise Refused(codes.BATCH_TOTALS,
                      f"items {batch.items} totalling {format_yuan(batch.items_amt)}; sum "
                      f"{batch.declared_count}, sum_amt {format_yuan(batch.declared_amt)}")
    conn.execute("INSERT INTO batch_segments (batch_id, seg_no, digest) VALUES (?, ?, ?)",
                 (batch.id, frag_no, segment_digest(batch.tr_code, items)))
    batch.state = "processing" if last else "receiving"
    conn.execute(
        "UPDATE batches SET segments = ?, items = ?, items_amt = ?, state = ?, updated_at = ?"
        " WHERE id = ?",
        (batch.segments, batch.items, batch.items_amt, batch.state, now.isoformat(), batch.id))


def _first_duplicate(conn: sqlite3.Connection, batch_id: int, rows: list[tuple]) -> str:
    """The busino of the row that stopped an insert of ``rows`` (those before it went in)."""
    (inserted,) = conn.execute("SELECT count(*) FROM batch_items WHERE batch_id = ? AND seq >= ?",
                               (batch_id, rows[0][1])).fetchone()
    return rows[inserted][2]


def _refuse(ledger: Ledger, batch: BatchRow, refusal: Refused, now: datetime, frag_no: int,
            items: list) -> None:
    """Refuse the whole batch: drop its items; nothing of it was executed.

    The digests of its segments, the refused one included, stay: a retry of
    the same req_no is told apart from other content (E011) by them.
    """
    conn = ledger.conn
    conn.execute("DELETE FROM batch_items WHERE batch_id = ?", (batch.id,))
    conn.execute("INSERT OR IGNORE INTO batch_segments (batch_id, seg_no, digest)"
                 " VALUES (?, ?, ?)", (batch.id, frag_no, segment_digest(batch.tr_code, items)))
    conn.execute(
        "UPDATE batches SET state = 'refused', items = 0, items_amt = 0, err_code = ?,"
        " err_msg = ?, updated_at = ? WHERE id = ?",
        (refusal.code.code, refusal.message, now.isoformat(), batch.id))
    instructions.set_status(conn, batch.instruction_id, "failed", refusal.message, now)
    batch.state = "refused"


def _answer(ledger: Ledger, batch: BatchRow, frag_no: int) -> Reply:
    """The batch's status as it stands, as the answer to segment ``frag_no``.

    The same segment sent again gets the same answer (with the counts as they
    are now); a refused batch answers its refusal, which has no body.
    """
    fields = status_fields(ledger.conn, batch.id)
    state = fields["state"]
    if state == STATE_NUMBER["refused"]:
        return Reply(str(fields["err_code"]), str(fields["err_msg"]))
    serial_no = ledger.conn.execute("SELECT serial_no FROM instructions WHERE id = ?",
                                    (batch.instruction_id,)).fetchone()[0]
    held = authorization.load(ledger.conn, batch.instruction_id)
    if state == STATE_NUMBER["awaiting"] and held is not None:
        return Reply(codes.AWAITING_AUTHORIZATION.code, fit_message(f"batch {held.describe()}"),
                     serial_no, fields)
    if state == STATE_NUMBER["cancelled"] and held is not None:
        return Reply(codes.OK.code, fit_message(f"batch {held.describe()}"), serial_no, fields)
    if state == STATE_NUMBER["receiving"]:
        message = f"segment {frag_no} stored"
    elif state == STATE_NUMBER["processing"]:
        message = f"batch accepted: {fields['pending_count']} items processing"
    else:
        message = "batch finished"
    return Reply(codes.OK.code, message, serial_no, fields)
