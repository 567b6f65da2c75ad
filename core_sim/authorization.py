"""Instructions that wait for the enterprise's approvals: holding, deciding, expiring.

An instruction from direct connect (210201, 210224, 330002, 330010) whose
approval flow has levels (:func:`levels_needed`, the rules in
:mod:`core_sim.flows`) is not executed when it arrives: it is checked as any
other (a refusal is a refusal), then *held* — its ``instructions`` row says
``awaiting``, an ``authorizations`` row keeps the levels it needs, who made
it and the request itself — and the enterprise is answered A001 (awaiting
authorization: not final, nothing moved). Funds are checked when the last
level approves, not before.

Then, one signed decision at a time (:mod:`core_sim.approvals`):

* an approval of the waiting level moves it on; the last one *authorizes*
  it, and the instruction executes there and then, exactly as it would have
  on arrival (it may still fail, e.g. for lack of funds: status failed);
* a rejection cancels it (status ``cancelled``; a batch's state cancelled):
  nothing moves;
* not authorized by the end of its business day, it *expires*
  (:func:`expire`, run by the end of day): status ``expired``, nothing moved;
* deleting its flow at the counter cancels it (:func:`cancel_waiting_on_flow`).

Every step writes its audit row (:mod:`core_sim.audit`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from config.seed.model import Levels
from core_sim import audit, controls, flows
from core_sim.ledger_types import ymd
from core_sim.transaction import Request

TRANSFER_CODES = frozenset({"210201", "210224"})
BATCH_PAYMENT, BATCH_COLLECTION = "330002", "330010"

AWAITING, AUTHORIZED, REJECTED, EXPIRED, CANCELLED = (
    "awaiting", "authorized", "rejected", "expired", "cancelled")
#: ``auth_state`` on the wire (310204, 310207, 310230, 210230); "0": needed no approval.
STATE_NUMBER = {None: "0", AWAITING: "1", AUTHORIZED: "2", REJECTED: "3", EXPIRED: "4",
                CANCELLED: "5"}
#: The AUTHORIZATION fields of an instruction that needed no approval (or of none).
NO_APPROVAL = {"auth_state": "0", "auth_level": 0, "auth_levels": 0, "waiting_for": ""}


@dataclass(frozen=True, slots=True)
class Needed:
    """The levels an instruction needs (``()``: none) and the flow they come from."""

    levels: Levels = ()
    flow_id: int | None = None


@dataclass(frozen=True, slots=True)
class Authorization:
    instruction_id: int
    corp_no: str
    flow_id: int | None
    maker: str
    tr_code: str
    request: dict
    levels: Levels
    approvers: tuple[str, ...]
    state: str
    closed_by: str
    biz_date: str
    updated_at: str

    @property
    def approval(self) -> flows.Approval:
        """The state as :class:`core_sim.flows.Approval` (the rules' own value)."""
        return flows.Approval(levels=self.levels, maker=self.maker, approvers=self.approvers)

    @property
    def waiting_for(self) -> tuple[str, ...]:
        return self.approval.waiting_for if self.state == AWAITING else ()

    @property
    def level(self) -> int:
        """The waiting level, 1-based (0 when not waiting)."""
        return len(self.approvers) + 1 if self.state == AWAITING else 0

    def fields(self) -> dict[str, object]:
        """The wire's AUTHORIZATION fields (protocol.bodies_approvals)."""
        return {"auth_state": STATE_NUMBER[self.state], "auth_level": len(self.approvers),
                "auth_levels": len(self.levels),
                "waiting_for": _codes(self.waiting_for)}

    def describe(self) -> str:
        """In words, for a message: e.g. "awaiting authorization: level 2 of 3 (C01)"."""
        if self.state == AWAITING:
            return (f"awaiting authorization: level {self.level} of {len(self.levels)} "
                    f"({', '.join(self.waiting_for)})")
        if self.state == AUTHORIZED:
            return f"authorized ({', '.join(self.approvers)})"
        if self.state == REJECTED:
            return f"rejected by {self.closed_by}"
        if self.state == EXPIRED:
            return "expired: not authorized by the end of its business day"
        return f"cancelled: {self.closed_by}"


@dataclass(frozen=True, slots=True)
class WaitingInstruction:
    """One instruction awaiting authorization, as 310230 and the counter show it."""

    authorization: Authorization
    req_no: str
    tr_code: str
    maker: str
    amt: int
    item_count: int
    pay_acno: str
    rcv_acno: str
    rcv_acname: str
    summary: str
    biz_date: str
    submitted: str


_COLUMNS = ("instruction_id, corp_no, flow_id, maker, tr_code, request, levels, approvers,"
            " state, closed_by, biz_date, updated_at")


def _codes(codes: tuple[str, ...]) -> str:
    return ",".join(codes)


def _row(row: tuple) -> Authorization:
    (instruction_id, corp_no, flow_id, maker, tr_code, request, levels, approvers, state,
     closed_by, biz_date, updated_at) = row
    return Authorization(instruction_id, corp_no, flow_id, maker, tr_code, json.loads(request),
                         controls.levels_from_json(json.loads(levels)),
                         tuple(json.loads(approvers)), state, closed_by, biz_date, updated_at)


# -- what an instruction needs ----------------------------------------------------


def levels_needed(conn: sqlite3.Connection, corp_no: str, tr_code: str,
                  fields: Mapping[str, object]) -> Needed:
    """The levels ``tr_code`` with ``fields`` needs before it may execute.

    A transfer (210201, 210224) and a batch payment (330002, by its
    ``sum_amt``) follow the flow of the paying account; a batch collection
    (330010) the enterprise's collection flow. Fields the bank would refuse
    (no account, no amount) need nothing here: the instruction's own checks
    refuse it.
    """
    if tr_code == BATCH_COLLECTION:
        row = controls.flow_in_force(conn, corp_no, controls.COLLECTION)
        return Needed() if row is None else Needed(row.levels, row.id)
    amount = fields.get("sum_amt" if tr_code == BATCH_PAYMENT else "amt")
    acno = fields.get("pay_acno")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0 or not acno:
        return Needed()
    row = controls.flow_in_force(conn, corp_no, controls.TRANSFER, str(acno))
    if row is None:
        return Needed()
    levels = flows.levels_for(row.flow, amount, controls.supervisors(conn, corp_no))
    return Needed(levels, row.id) if levels else Needed()


# -- holding ----------------------------------------------------------------------


def hold(conn: sqlite3.Connection, instruction_id: int, request: Request, needed: Needed,
         *, amt: int | None, biz_date: str, now: datetime) -> Authorization:
    """Keep ``request`` (instruction ``instruction_id``) until ``needed.levels`` approve it."""
    stamp = now.isoformat()
    fields = {key: value for key, value in request.fields.items() if key != "items"}
    conn.execute(
        f"INSERT INTO authorizations ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, '[]',"
        " 'awaiting', '', ?, ?)",
        (instruction_id, request.corp_no, needed.flow_id, request.user_no, request.tr_code,
         json.dumps(fields, ensure_ascii=False, sort_keys=True),
         json.dumps(controls.levels_to_json(needed.levels)), biz_date, stamp))
    held = load(conn, instruction_id)
    assert held is not None
    audit.record(conn, at=now, biz_date=biz_date, corp_no=request.corp_no, event="awaiting",
                 tr_code=request.tr_code, req_no=request.req_no, operator=request.user_no,
                 amt=amt, result="A001", detail=held.describe())
    return held


def load(conn: sqlite3.Connection, instruction_id: int) -> Authorization | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM authorizations WHERE instruction_id = ?",
                       (instruction_id,)).fetchone()
    return None if row is None else _row(row)


def report(conn: sqlite3.Connection, instruction_id: int) -> dict[str, object]:
    """The AUTHORIZATION fields of an instruction (all "none" when it needed no approval)."""
    held = load(conn, instruction_id)
    return dict(NO_APPROVAL) if held is None else held.fields()


def record_step(conn: sqlite3.Connection, held: Authorization, *, approvers: tuple[str, ...],
                state: str, closed_by: str, now: datetime) -> Authorization:
    """Store the authorization's next state; return it."""
    conn.execute(
        "UPDATE authorizations SET approvers = ?, state = ?, closed_by = ?, updated_at = ?"
        " WHERE instruction_id = ?",
        (json.dumps(list(approvers)), state, closed_by, now.isoformat(), held.instruction_id))
    reloaded = load(conn, held.instruction_id)
    assert reloaded is not None
    return reloaded


# -- what waits -------------------------------------------------------------------


_WAITING_SELECT = (
    f"SELECT {', '.join('a.' + c.strip() for c in _COLUMNS.split(','))},"
    " i.req_no, i.amt, i.pay_acno, i.rcv_acno, i.rcv_acname, i.created_at,"
    " b.declared_count, b.declared_amt"
    " FROM authorizations a JOIN instructions i ON i.id = a.instruction_id"
    " LEFT JOIN batches b ON b.instruction_id = a.instruction_id"
)


def _waiting(row: tuple) -> WaitingInstruction:
    held = _row(row[:12])
    req_no, amt, pay_acno, rcv_acno, rcv_acname, created_at, count, batch_amt = row[12:]
    request = held.request
    if held.tr_code == BATCH_COLLECTION:
        pay_acno, rcv_acno = "", str(request.get("rcv_acno") or "")
    elif held.tr_code == BATCH_PAYMENT:
        rcv_acno = ""
    return WaitingInstruction(
        held, req_no, held.tr_code, held.maker, batch_amt if count is not None else amt or 0,
        count or 0, pay_acno, rcv_acno, rcv_acname, str(request.get("summary") or ""),
        held.biz_date, created_at[:19])  # biz_date: YYYYMMDD


def waiting(conn: sqlite3.Connection, corp_no: str, *, operator: str | None = None,
            req_no: str | None = None) -> list[WaitingInstruction]:
    """The enterprise's instructions awaiting authorization, oldest first.

    ``operator``: only those that operator may approve now (their level is the
    waiting one, they made none of them, approved none of them).
    """
    sql = _WAITING_SELECT + " WHERE a.corp_no = ? AND a.state = 'awaiting'"
    params: list[object] = [corp_no]
    if req_no:
        sql += " AND i.req_no = ?"
        params.append(req_no)
    found = [_waiting(row) for row in conn.execute(sql + " ORDER BY a.instruction_id", params)]
    if operator:
        row = controls.operator(conn, corp_no, operator)
        if row is None or row.status != "active":
            return []
        found = [w for w in found
                 if w.authorization.approval.may_approve(operator, row.role) is None]
    return found


def waiting_on_flow(conn: sqlite3.Connection, flow_id: int) -> list[WaitingInstruction]:
    """The instructions awaiting authorization under flow ``flow_id``, oldest first."""
    return [_waiting(row) for row in conn.execute(
        _WAITING_SELECT + " WHERE a.flow_id = ? AND a.state = 'awaiting'"
        " ORDER BY a.instruction_id", (flow_id,))]


# -- closing without executing ----------------------------------------------------


def close(conn: sqlite3.Connection, held: Authorization, state: str, closed_by: str,
          now: datetime, *, biz_date: str, event: str, operator: str = "") -> Authorization:
    """Reject, expire or cancel ``held``: nothing moves; the instruction says why."""
    closed = record_step(conn, held, approvers=held.approvers, state=state,
                         closed_by=closed_by, now=now)
    status = {REJECTED: "cancelled", CANCELLED: "cancelled", EXPIRED: "expired"}[state]
    message = closed.describe()[:60]
    conn.execute("UPDATE instructions SET status = ?, err_msg = ?, updated_at = ? WHERE id = ?",
                 (status, message, now.isoformat(), held.instruction_id))
    conn.execute("UPDATE batches SET state = 'cancelled', err_msg = ?, updated_at = ?"
                 " WHERE instruction_id = ?", (message, now.isoformat(), held.instruction_id))
    req_no, amt = conn.execute("SELECT req_no, amt FROM instructions WHERE id = ?",
                               (held.instruction_id,)).fetchone()
    audit.record(conn, at=now, biz_date=biz_date, corp_no=held.corp_no, event=event,
                 tr_code=held.tr_code, req_no=req_no, operator=operator, amt=amt,
                 result=status, detail=closed.describe())
    return closed


def expire(conn: sqlite3.Connection, closing_day: date, now: datetime) -> list[str]:
    """Expire every instruction still awaiting authorization from ``closing_day`` or before.

    The end of day runs this before the business date moves; returns the
    req_nos expired.
    """
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM authorizations WHERE state = 'awaiting' AND biz_date <= ?"
        " ORDER BY instruction_id", (ymd(closing_day),)).fetchall()
    expired = []
    for row in rows:
        held = _row(row)
        close(conn, held, EXPIRED, "end of day", now, biz_date=ymd(closing_day),
              event="expiry")
        expired.append(conn.execute("SELECT req_no FROM instructions WHERE id = ?",
                                    (held.instruction_id,)).fetchone()[0])
    return expired


def cancel_waiting_on_flow(ledger, flow_id: int, now: datetime, *, by: str) -> list[str]:
    """Cancel every instruction awaiting authorization under ``flow_id``; their req_nos.

    The counter does this when it deletes a flow (confirmed): ``by`` says who,
    for the audit log and the instructions' message.
    """
    conn = ledger.conn
    cancelled = []
    for item in waiting_on_flow(conn, flow_id):
        close(conn, item.authorization, CANCELLED, f"flow deleted by {by}", now,
              biz_date=ledger.biz, event="cancel", operator=by)
        cancelled.append(item.req_no)
    return cancelled
