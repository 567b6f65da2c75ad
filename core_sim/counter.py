"""The bank counter for an enterprise's controls: operators and their keys, flows, directed payees.

What a bank's e-banking admin changes for an enterprise after the seed set
it up (:mod:`core_sim.controls` stores and reads them), checked by the
seed's own rules (:class:`config.seed.controls.ControlsChecker`), so the
counter accepts exactly what a seed would:

* **operators** are added and removed, never edited. A removed operator
  approves nothing (their key is revoked with them) and keeps their code, so
  the audit log still names one person; an operator named in an active flow
  is removed only once that flow is deleted.
* a checker's, deputy's or supervisor's Ed25519 **public key** is enrolled
  (replacing an earlier one) or revoked; the private key stays with the
  operator, encrypted by their own password. A maker approves nothing and
  has no key. A key belongs to one operator and, once revoked, is never
  enrolled again.
* a **flow** is added or deleted, never edited: a transfer flow for one of
  the enterprise's own accounts (the seed's ``flows`` item, ``{acno: ...,
  bands: [...]}``) or the collection flow (``{collection_flow: [[...]]}``).
  Deleting a flow that instructions wait on is refused unless confirmed;
  confirmed, it cancels them (:func:`core_sim.authorization.cancel_waiting_on_flow`).
* **directed payees** are added and removed one at a time; an account with
  none pays anyone.

Each change runs inside the caller's write transaction
(:func:`core_sim.agreements.counter` opens one beside a running core, which
reads the controls from the database at its next instruction) and writes
one ``counter`` row to the audit log (:mod:`core_sim.audit`). Every refusal
is its own :class:`CounterError` subclass with a message for the teller;
nothing is written then.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import yaml

from config.errors import ConfigError
from config.seed.checks import kind
from config.seed.controls import ControlsChecker
from config.seed.loader import load_yaml
from config.seed.model import Levels
from config.seed.rules import acno_problem
from core_sim import audit, authorization, controls, flows
from core_sim.controls import COLLECTION, TRANSFER, FlowRow, OperatorRow
from core_sim.counter_errors import (
    DuplicateFlow,
    DuplicateOperator,
    DuplicatePayee,
    InstructionsWaiting,
    InvalidInput,
    KeyInUse,
    NoKey,
    NotAnApprover,
    NotTheEnterprisesAccount,
    OperatorInUse,
    OperatorRemoved,
    UnknownAccount,
    UnknownEnterprise,
    UnknownFlow,
    UnknownOperator,
    UnknownPayee,
)
from core_sim.ledger import Ledger
from protocol.keys import VerifyKey, format_fingerprint
from protocol.money import format_yuan

#: Who the counter's cancellations name (the instructions' message, the audit log).
COUNTER = "counter"


@dataclass(frozen=True, slots=True)
class Deleted:
    """A flow deleted, and the req_nos of the instructions that waited on it, cancelled."""

    flow: FlowRow
    cancelled: tuple[str, ...]


# -- describing ---------------------------------------------------------------------


def describe_levels(levels: Levels) -> str:
    """``B01 or C01, then D01``: who approves, level by level."""
    return ", then ".join(" or ".join(level) for level in levels)


def band_lines(row: FlowRow, supervisors: tuple[str, ...]) -> list[tuple[str, str]]:
    """(amounts, who approves) for each band of a flow, the band above the last included.

    The collection flow is one line for every amount.
    """
    if row.kind == COLLECTION:
        return [("every batch collection", describe_levels(row.levels))]
    flow = row.flow
    lines = [(f"up to {format_yuan(band.up_to)}", describe_levels(band.levels))
             for band in flow.bands]
    top = flow.bands[-1].up_to
    if supervisors:
        above = flows.levels_for(flow, top + 1, supervisors)
        lines.append((f"above {format_yuan(top)}", describe_levels(above)))
    else:
        lines.append((f"above {format_yuan(top)}", "no supervisor to approve last"))
    return lines


def describe_flow(row: FlowRow) -> str:
    """One line: ``flow 3 (transfer, account 3100…)`` or ``flow 4 (collection)``."""
    what = f"transfer, account {row.acno}" if row.kind == TRANSFER else "collection"
    return f"flow {row.id} ({what})"


# -- operators ------------------------------------------------------------------------


def add_operator(ledger: Ledger, corp_no: str, *, code: str, name: str, role: str,
                 now: datetime) -> OperatorRow:
    """Add an operator with ``role`` (maker, checker, deputy or supervisor)."""
    require_enterprise(ledger, corp_no)
    checker = ControlsChecker("operator")
    checker.operator({"code": code, "name": name, "role": role}, "", {})
    _raise_problems(checker)
    conn = ledger.conn
    existing = controls.operator(conn, corp_no, code)
    if existing is not None:
        if existing.status == "removed":
            raise DuplicateOperator(f"operator {code} of {corp_no} was removed; codes are not"
                                    " reused, so the audit log names one person: choose"
                                    " another code")
        raise DuplicateOperator(f"{corp_no} has an operator {code} already ({existing.name},"
                                f" {existing.role})")
    conn.execute("INSERT INTO ebank_operators (corp_no, code, name, role, changed_at)"
                 " VALUES (?, ?, ?, ?, ?)", (corp_no, code, name, role, now.isoformat()))
    _record(ledger, now, corp_no, operator=code, result="added",
            detail=f"operator {code} ({name}, {role}) added")
    return _operator(conn, corp_no, code)


def remove_operator(ledger: Ledger, corp_no: str, code: str, *, now: datetime) -> OperatorRow:
    """Remove an operator (and revoke their key); refused while an active flow needs them."""
    require_enterprise(ledger, corp_no)
    conn = ledger.conn
    row = _active_operator(conn, corp_no, code)
    named = [flow for flow in controls.flows(conn, corp_no)
             if any(code in level for level in _all_levels(flow))]
    if named:
        listed = ", ".join(describe_flow(flow) for flow in named)
        raise OperatorInUse(f"operator {code} approves in {listed}; a flow is never edited:"
                            " delete it first (`core flows delete`), then add it again without"
                            f" {code}")
    # What is left must still satisfy every active flow (above the last band of
    # a transfer flow, some supervisor approves last).
    _check_flows(ledger, corp_no, without=code, problem=f"removing operator {code}")
    revoked = row.key_status == "enrolled"
    conn.execute("UPDATE ebank_operators SET status = 'removed', key_status = CASE key_status"
                 " WHEN 'enrolled' THEN 'revoked' ELSE key_status END, changed_at = ?"
                 " WHERE corp_no = ? AND code = ?", (now.isoformat(), corp_no, code))
    detail = f"operator {code} ({row.name}, {row.role}) removed"
    if revoked:
        detail += f"; key {row.key_id} revoked"
    _record(ledger, now, corp_no, operator=code, result="removed", detail=detail)
    return _operator(conn, corp_no, code)


def enroll_operator_key(ledger: Ledger, corp_no: str, code: str, key: VerifyKey, *,
                        now: datetime) -> OperatorRow:
    """Enroll ``key`` as the operator's (replacing an earlier one); checkers and up only."""
    require_enterprise(ledger, corp_no)
    conn = ledger.conn
    row = check_key_holder(conn, corp_no, code)
    if row.key_id == key.key_id:
        if row.key_status == "enrolled":
            raise KeyInUse(f"this key (id {key.key_id}) is operator {code}'s enrolled key"
                           " already")
        raise KeyInUse(f"this key (id {key.key_id}) was revoked; a revoked key is never"
                       " enrolled again: the operator generates a new one")
    other = conn.execute("SELECT corp_no, code, key_status FROM ebank_operators"
                         " WHERE key_id = ? AND NOT (corp_no = ? AND code = ?)",
                         (key.key_id, corp_no, code)).fetchone()
    if other is not None:
        raise KeyInUse(f"this key (id {key.key_id}) is operator {other[0]}/{other[1]}'s"
                       f" ({other[2]}); each operator has a key of their own")
    conn.execute("UPDATE ebank_operators SET public_key = ?, key_id = ?,"
                 " key_status = 'enrolled', changed_at = ? WHERE corp_no = ? AND code = ?",
                 (key.raw, key.key_id, now.isoformat(), corp_no, code))
    detail = (f"key {key.key_id} enrolled for operator {code} ({row.name}, {row.role}),"
              f" fingerprint {format_fingerprint(key.fingerprint)}")
    if row.key_id and row.key_status == "enrolled":
        detail += f"; replaces key {row.key_id}"
    _record(ledger, now, corp_no, operator=code, result="enrolled", detail=detail)
    return _operator(conn, corp_no, code)


def check_key_holder(conn: sqlite3.Connection, corp_no: str, code: str) -> OperatorRow:
    """The operator, if they may hold a key: active, and not a maker (else the error)."""
    row = _active_operator(conn, corp_no, code)
    if row.role == "maker":
        raise NotAnApprover(f"operator {code} is a maker: a maker submits and approves"
                            " nothing, so has no key")
    return row


def revoke_operator_key(ledger: Ledger, corp_no: str, code: str, *,
                        now: datetime) -> OperatorRow:
    """Revoke the operator's enrolled key: their decisions are refused from now on."""
    require_enterprise(ledger, corp_no)
    conn = ledger.conn
    row = _operator(conn, corp_no, code)
    if row.key_status != "enrolled":
        state = "was revoked already" if row.key_status == "revoked" else "was never enrolled"
        raise NoKey(f"operator {code} has no enrolled key to revoke (theirs {state})")
    conn.execute("UPDATE ebank_operators SET key_status = 'revoked', changed_at = ?"
                 " WHERE corp_no = ? AND code = ?", (now.isoformat(), corp_no, code))
    _record(ledger, now, corp_no, operator=code, result="revoked",
            detail=f"key {row.key_id} of operator {code} ({row.name}, {row.role}) revoked")
    return _operator(conn, corp_no, code)


# -- flows ----------------------------------------------------------------------------


def parse_flow(text: str, source: str = "<flow>") -> Any:
    """A flow written as YAML (or JSON, which is YAML) in the seed's format, unchecked.

    ``{acno: "...", bands: [{up_to: "1000000.00", levels: [[B01]]}, ...]}`` is a
    transfer flow (an item of the seed's ``flows``); ``{collection_flow: [[B01]]}``
    is the collection flow. :func:`add_flow` checks it.
    """
    try:
        # The seed's loader: safe, and a key written twice is an error, not a guess.
        return load_yaml(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise InvalidInput(f"{source}: {where}not valid YAML:"
                           f" {exc.problem or exc.context}") from None
    except (yaml.YAMLError, ValueError, TypeError, RecursionError) as exc:
        raise InvalidInput(f"{source}: not valid YAML: {exc}") from None


def add_flow(ledger: Ledger, corp_no: str, spec: Any, *, now: datetime,
             source: str = "<flow>") -> FlowRow:
    """Add a transfer flow or the collection flow, as :func:`parse_flow` reads them."""
    require_enterprise(ledger, corp_no)
    conn = ledger.conn
    own = _own_accounts(ledger, corp_no)
    roster = _roster(conn, corp_no)
    if isinstance(spec, dict) and "collection_flow" in spec:
        others = sorted(str(key) for key in spec if key != "collection_flow")
        if others:
            raise InvalidInput(f"{source}: the collection flow is {{collection_flow: [[...]]}}"
                               f" alone; unknown key(s) beside it: {', '.join(others)}")
        checked = _checked(source, {"operators": roster,
                                    "collection_flow": spec["collection_flow"]}, own, strip="")
        existing = controls.flow_in_force(conn, corp_no, COLLECTION)
        if existing is not None:
            raise DuplicateFlow(f"{corp_no} has a collection flow already,"
                                f" {describe_flow(existing)}; a flow is never edited:"
                                " delete it first, then add the new one")
        flow_kind, acno, text = COLLECTION, "", controls.levels_spec(checked.collection_flow)
    elif isinstance(spec, dict):
        acno = spec.get("acno")
        if isinstance(acno, str) and acno_problem(acno) is None:
            _own_account(ledger, corp_no, acno)
        checked = _checked(source, {"operators": roster, "flows": [spec]}, own,
                           strip="flows[0]")
        (flow,) = checked.flows
        acno = flow.acno
        existing = controls.flow_in_force(conn, corp_no, TRANSFER, acno)
        if existing is not None:
            raise DuplicateFlow(f"{describe_flow(existing)} is in force for account {acno};"
                                " a flow is never edited: delete it first, then add the new"
                                " one")
        flow_kind, text = TRANSFER, controls.bands_spec(flow.bands)
    else:
        raise InvalidInput(f"{source}: expected a transfer flow {{acno: ..., bands: [...]}}"
                           " or the collection flow {collection_flow: [[...]]}, got"
                           f" {kind(spec)}")
    cursor = conn.execute("INSERT INTO flows (corp_no, kind, acno, spec, created_at)"
                          " VALUES (?, ?, ?, ?, ?)", (corp_no, flow_kind, acno, text,
                                                      now.isoformat()))
    row = controls.flow_by_id(conn, cursor.lastrowid)
    assert row is not None
    bands = "; ".join(f"{amounts}: {who}" for amounts, who
                      in band_lines(row, controls.supervisors(conn, corp_no)))
    _record(ledger, now, corp_no, result="added", detail=f"{describe_flow(row)} added: {bands}")
    return row


def flow_to_delete(conn: sqlite3.Connection, corp_no: str, flow_id: int
                   ) -> tuple[FlowRow, list[authorization.WaitingInstruction]]:
    """The enterprise's active flow ``flow_id`` and the instructions waiting on it."""
    row = controls.flow_by_id(conn, flow_id)
    if row is None or row.corp_no != corp_no:
        raise UnknownFlow(f"{corp_no} has no flow {flow_id}")
    if row.status != "active":
        raise UnknownFlow(f"flow {flow_id} of {corp_no} was deleted already")
    return row, authorization.waiting_on_flow(conn, flow_id)


def delete_flow(ledger: Ledger, corp_no: str, flow_id: int, *, now: datetime,
                confirmed: bool = False) -> Deleted:
    """Delete a flow; the instructions waiting on it are cancelled, but only ``confirmed``.

    Without the flow, the account's instructions (or the enterprise's batch
    collections) execute at once, unless a new flow is added.
    """
    require_enterprise(ledger, corp_no)
    conn = ledger.conn
    row, waiting = flow_to_delete(conn, corp_no, flow_id)
    if waiting and not confirmed:
        listed = ", ".join(item.req_no for item in waiting)
        count = "1 instruction waits" if len(waiting) == 1 else f"{len(waiting)} instructions wait"
        raise InstructionsWaiting(
            f"{count} on {describe_flow(row)}: {listed};"
            " deleting the flow cancels them (nothing moves): confirm to go on", row, waiting)
    cancelled = tuple(authorization.cancel_waiting_on_flow(ledger, flow_id, now, by=COUNTER)
                      if waiting else ())
    conn.execute("UPDATE flows SET status = 'deleted', deleted_at = ? WHERE id = ?",
                 (now.isoformat(), flow_id))
    detail = f"{describe_flow(row)} deleted"
    if cancelled:
        detail += f"; cancelled {len(cancelled)} waiting: {', '.join(cancelled)}"
    _record(ledger, now, corp_no, result="deleted", detail=detail)
    deleted = controls.flow_by_id(conn, flow_id)
    assert deleted is not None
    return Deleted(deleted, cancelled)


# -- directed payees ---------------------------------------------------------------------


def add_directed_payee(ledger: Ledger, corp_no: str, acno: str, payee: str, *,
                       now: datetime) -> list[str]:
    """Let ``acno`` pay ``payee``; its first payee makes it a directed account. Its payees."""
    require_enterprise(ledger, corp_no)
    _own_account(ledger, corp_no, acno)
    _checked("payee", {"directed": [{"acno": acno, "payees": [payee]}]},
             _own_accounts(ledger, corp_no), strip="directed[0].payees[0]")
    conn = ledger.conn
    payees = controls.directed(conn, corp_no).get(acno, [])
    if payee in payees:
        raise DuplicatePayee(f"account {acno} pays {payee} already")
    conn.execute("INSERT INTO directed_payees (corp_no, acno, payee_acno) VALUES (?, ?, ?)",
                 (corp_no, acno, payee))
    detail = f"directed payee {payee} added to account {acno}"
    if not payees:
        detail += f"; {acno} now pays only its directed payees"
    _record(ledger, now, corp_no, result="added", detail=detail)
    return controls.directed(conn, corp_no)[acno]


def remove_directed_payee(ledger: Ledger, corp_no: str, acno: str, payee: str, *,
                          now: datetime) -> list[str]:
    """Stop ``acno`` paying ``payee``; without payees it pays anyone again. Its payees."""
    require_enterprise(ledger, corp_no)
    _own_account(ledger, corp_no, acno)
    conn = ledger.conn
    payees = controls.directed(conn, corp_no).get(acno, [])
    if payee not in payees:
        listed = ", ".join(payees) if payees else "none: it is not a directed account"
        raise UnknownPayee(f"account {acno} has no directed payee {payee} (its payees:"
                           f" {listed})")
    conn.execute("DELETE FROM directed_payees WHERE corp_no = ? AND acno = ? AND payee_acno = ?",
                 (corp_no, acno, payee))
    detail = f"directed payee {payee} removed from account {acno}"
    left = controls.directed(conn, corp_no).get(acno, [])
    if not left:
        detail += f"; {acno} is no longer directed: it pays any payee"
    _record(ledger, now, corp_no, result="removed", detail=detail)
    return left


# -- shared ---------------------------------------------------------------------------------


def _record(ledger: Ledger, now: datetime, corp_no: str, *, result: str, detail: str,
            operator: str = "") -> None:
    audit.record(ledger.conn, at=now, biz_date=ledger.biz, corp_no=corp_no, event="counter",
                 operator=operator, result=result, detail=detail)


def require_enterprise(ledger: Ledger, corp_no: str) -> None:
    if ledger.enterprise(corp_no) is None:
        raise UnknownEnterprise(f"no enterprise {corp_no} at this bank")


def _operator(conn: sqlite3.Connection, corp_no: str, code: str) -> OperatorRow:
    row = controls.operator(conn, corp_no, code)
    if row is None:
        raise UnknownOperator(f"{corp_no} has no operator {code}")
    return row


def _active_operator(conn: sqlite3.Connection, corp_no: str, code: str) -> OperatorRow:
    row = _operator(conn, corp_no, code)
    if row.status != "active":
        raise OperatorRemoved(f"operator {code} of {corp_no} was removed ({row.name},"
                              f" {row.role})")
    return row


def _own_accounts(ledger: Ledger, corp_no: str) -> frozenset[str]:
    return frozenset(account.acno for account in ledger.customer_accounts_of(corp_no))


def _own_account(ledger: Ledger, corp_no: str, acno: str) -> None:
    account = ledger.customer_account(acno)
    if account is None:
        raise UnknownAccount(f"no account {acno} at this bank")
    if account.corp_no != corp_no:
        owner = f" (it is {account.corp_no}'s)" if account.corp_no else ""
        raise NotTheEnterprisesAccount(f"{acno} is not an account of {corp_no}{owner}")


def _roster(conn: sqlite3.Connection, corp_no: str, *, without: str = "") -> list[dict]:
    """The active operators as the seed lists them: who a flow may name."""
    return [{"code": row.code, "name": row.name, "role": row.role}
            for row in controls.operators(conn, corp_no)
            if row.status == "active" and row.code != without]


def _all_levels(row: FlowRow) -> Levels:
    if row.kind == COLLECTION:
        return row.levels
    return tuple(level for band in row.flow.bands for level in band.levels)


def _seed_item(row: FlowRow) -> dict:
    """An active transfer flow as the seed writes it, to check it again."""
    return {"acno": row.acno, "bands": [
        {"up_to": format_yuan(band.up_to), "levels": [list(level) for level in band.levels]}
        for band in row.flow.bands]}


def _check_flows(ledger: Ledger, corp_no: str, *, without: str, problem: str) -> None:
    """Every active flow, checked against the operators but ``without``."""
    active = controls.flows(ledger.conn, corp_no)
    data: dict[str, Any] = {"operators": _roster(ledger.conn, corp_no, without=without)}
    transfer = [row for row in active if row.kind == TRANSFER]
    if transfer:
        data["flows"] = [_seed_item(row) for row in transfer]
    for row in active:
        if row.kind == COLLECTION:
            data["collection_flow"] = [list(level) for level in row.levels]
    checker = ControlsChecker(problem)
    checker.controls(data, "", _own_accounts(ledger, corp_no))
    if checker.errors:
        reasons = []
        for error in checker.errors:
            where = error.path
            if where.startswith("flows["):
                index = int(where[len("flows["):where.index("]")])
                where = describe_flow(transfer[index]) + where[where.index("]") + 1:]
            elif where == "flows":
                where = "the transfer flows"
            reasons.append(f"{where}: {error.reason}" if where else error.reason)
        raise OperatorInUse(f"{problem} is refused: " + "; ".join(reasons))


def _checked(source: str, data: dict, own: frozenset[str], *, strip: str):
    """The controls in ``data`` by the seed's rules; InvalidInput listing every problem.

    ``strip`` is the path the caller wrapped the user's value in, taken off
    the paths in the messages (``flows[0].bands[1]`` is the user's ``bands[1]``).
    """
    checker = ControlsChecker(source)
    result = checker.controls(data, "", own)
    _raise_problems(checker, strip=strip)
    assert result is not None
    return result


def _raise_problems(checker: ControlsChecker, *, strip: str = "") -> None:
    if not checker.errors:
        return
    errors = []
    for error in checker.errors:
        path, reason = error.path, error.reason
        if strip:
            path = path[len(strip):].lstrip(".") if path.startswith(strip) else path
            reason = reason.replace(f"{strip}.", "")
        errors.append(ConfigError(error.source, path, reason))
    raise InvalidInput(str(ConfigError.collect(errors)))
