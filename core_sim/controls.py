"""An enterprise's controls as the bank keeps them: operators, flows, directed payees.

The seed's controls (:mod:`config.seed.controls`) are stored by
:func:`store_seed_controls` (adding what is missing, like the rest of a seed);
the bank counter changes them afterwards (:mod:`core_sim.counter`). Here is
how the bank reads them while it executes: always from the database, inside
the caller's transaction, so a change at the counter counts from the next
instruction even while the core runs.

A flow's ``spec`` is JSON: a transfer flow's bands as
``[{"up_to": fen, "levels": [["B01"], ...]}, ...]``, the collection flow's
levels as ``[["B01"], ...]``.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime

from config.seed.model import Band, Enterprise, Flow, Levels

TRANSFER, COLLECTION = "transfer", "collection"


@dataclass(frozen=True, slots=True)
class OperatorRow:
    corp_no: str
    code: str
    name: str
    role: str
    status: str  # active | removed
    public_key: bytes | None
    key_id: str | None
    key_status: str  # none | enrolled | revoked


@dataclass(frozen=True, slots=True)
class FlowRow:
    id: int
    corp_no: str
    kind: str  # transfer | collection
    acno: str  # '' for the collection flow
    spec: str
    status: str
    created_at: str

    @property
    def flow(self) -> Flow:
        """A transfer flow as :class:`Flow` (ValueError for the collection flow)."""
        if self.kind != TRANSFER:
            raise ValueError("the collection flow has levels, not bands")
        return flow_from_spec(self.acno, self.spec)

    @property
    def levels(self) -> Levels:
        """The collection flow's levels (ValueError for a transfer flow)."""
        if self.kind != COLLECTION:
            raise ValueError("a transfer flow has bands, not one list of levels")
        return levels_from_json(json.loads(self.spec))


_OPERATOR_COLUMNS = "corp_no, code, name, role, status, public_key, key_id, key_status"
_FLOW_COLUMNS = "id, corp_no, kind, acno, spec, status, created_at"


# -- the JSON of a flow ---------------------------------------------------------


def levels_to_json(levels: Levels) -> list[list[str]]:
    return [list(level) for level in levels]


def levels_from_json(value: list) -> Levels:
    return tuple(tuple(str(code) for code in level) for level in value)


def bands_spec(bands: tuple[Band, ...]) -> str:
    return json.dumps([{"up_to": band.up_to, "levels": levels_to_json(band.levels)}
                       for band in bands], ensure_ascii=False, separators=(",", ":"))


def levels_spec(levels: Levels) -> str:
    return json.dumps(levels_to_json(levels), ensure_ascii=False, separators=(",", ":"))


def flow_from_spec(acno: str, spec: str) -> Flow:
    return Flow(acno=acno, bands=tuple(
        Band(up_to=int(band["up_to"]), levels=levels_from_json(band["levels"]))
        for band in json.loads(spec)))


# -- reading --------------------------------------------------------------------


def operator(conn: sqlite3.Connection, corp_no: str, code: str) -> OperatorRow | None:
    row = conn.execute(f"SELECT {_OPERATOR_COLUMNS} FROM ebank_operators"
                       " WHERE corp_no = ? AND code = ?", (corp_no, code)).fetchone()
    return None if row is None else OperatorRow(*row)


def operators(conn: sqlite3.Connection, corp_no: str | None = None) -> list[OperatorRow]:
    sql = f"SELECT {_OPERATOR_COLUMNS} FROM ebank_operators"
    rows = (conn.execute(sql + " ORDER BY corp_no, code") if corp_no is None else
            conn.execute(sql + " WHERE corp_no = ? ORDER BY code", (corp_no,)))
    return [OperatorRow(*row) for row in rows]


def supervisors(conn: sqlite3.Connection, corp_no: str) -> tuple[str, ...]:
    """The enterprise's active supervisors' codes (the level above a flow's last band)."""
    return tuple(code for (code,) in conn.execute(
        "SELECT code FROM ebank_operators WHERE corp_no = ? AND role = 'supervisor'"
        " AND status = 'active' ORDER BY code", (corp_no,)))


def flow_in_force(conn: sqlite3.Connection, corp_no: str, kind: str,
                  acno: str = "") -> FlowRow | None:
    """The active transfer flow of account ``acno``, or the collection flow (``acno`` '')."""
    row = conn.execute(f"SELECT {_FLOW_COLUMNS} FROM flows WHERE corp_no = ? AND kind = ?"
                       " AND acno = ? AND status = 'active'", (corp_no, kind, acno)).fetchone()
    return None if row is None else FlowRow(*row)


def flow_by_id(conn: sqlite3.Connection, flow_id: int) -> FlowRow | None:
    row = conn.execute(f"SELECT {_FLOW_COLUMNS} FROM flows WHERE id = ?", (flow_id,)).fetchone()
    return None if row is None else FlowRow(*row)


def flows(conn: sqlite3.Connection, corp_no: str | None = None, *,
          include_deleted: bool = False) -> list[FlowRow]:
    where, params = [], []
    if corp_no is not None:
        where.append("corp_no = ?")
        params.append(corp_no)
    if not include_deleted:
        where.append("status = 'active'")
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    return [FlowRow(*row) for row in conn.execute(
        f"SELECT {_FLOW_COLUMNS} FROM flows{clause} ORDER BY id", params)]


def directed_payees(conn: sqlite3.Connection, acno: str) -> frozenset[str] | None:
    """The payees account ``acno`` may pay, or None when it is not a directed account."""
    payees = frozenset(payee for (payee,) in conn.execute(
        "SELECT payee_acno FROM directed_payees WHERE acno = ?", (acno,)))
    return payees or None


def directed(conn: sqlite3.Connection, corp_no: str | None = None) -> dict[str, list[str]]:
    """Every directed account (of ``corp_no``) and its payees."""
    sql = "SELECT acno, payee_acno FROM directed_payees"
    rows = (conn.execute(sql + " ORDER BY acno, payee_acno") if corp_no is None else
            conn.execute(sql + " WHERE corp_no = ? ORDER BY acno, payee_acno", (corp_no,)))
    found: dict[str, list[str]] = {}
    for acno, payee in rows:
        found.setdefault(acno, []).append(payee)
    return found


# -- the seed -------------------------------------------------------------------


def store_seed_controls(conn: sqlite3.Connection, enterprise: Enterprise,
                        now: datetime) -> None:
    """Add the seed's operators, flows and directed payees the bank lacks (never change any)."""
    stamp = now.isoformat()
    conn.executemany(
        "INSERT INTO ebank_operators (corp_no, code, name, role, changed_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (corp_no, code) DO NOTHING",
        [(enterprise.corp_no, op.code, op.name, op.role, stamp) for op in enterprise.operators])
    existing = {(row.kind, row.acno) for row in flows(conn, enterprise.corp_no,
                                                       include_deleted=True)}
    for flow in enterprise.flows:
        if (TRANSFER, flow.acno) not in existing:
            conn.execute("INSERT INTO flows (corp_no, kind, acno, spec, created_at)"
                         " VALUES (?, ?, ?, ?, ?)",
                         (enterprise.corp_no, TRANSFER, flow.acno, bands_spec(flow.bands),
                          stamp))
    if enterprise.collection_flow and (COLLECTION, "") not in existing:
        conn.execute("INSERT INTO flows (corp_no, kind, acno, spec, created_at)"
                     " VALUES (?, ?, '', ?, ?)",
                     (enterprise.corp_no, COLLECTION, levels_spec(enterprise.collection_flow),
                      stamp))
    conn.executemany(
        "INSERT INTO directed_payees (corp_no, acno, payee_acno) VALUES (?, ?, ?)"
        " ON CONFLICT (acno, payee_acno) DO NOTHING",
        [(enterprise.corp_no, entry.acno, payee) for entry in enterprise.directed
         for payee in entry.payees])
