"""Exactly-once records of money-moving instructions.

Each money-moving request (210201, 210224) leaves one ``instructions`` row
keyed by ``(corp_no, req_no)``, whatever its outcome: the SHA-256 digest of
its content, its status (processing, success, failed, suspicious), the bank
serial number, and the reply that was sent. Like TigerBeetle's transfer ids:

* the same ``req_no`` with the same content is answered with the *original*
  reply, unchanged, and nothing is executed again (a refusal stays a refusal);
* the same ``req_no`` with different content is refused (E011) and the
  original record is left as it was.

The digest covers the transaction code and the body fields, with empty
fields dropped ("" means absent), so a retry that spells an absent field as
an empty one is still the same instruction.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from core_sim.transaction import Reply, Request

# The numbers 310204 uses for each status.
# Awaiting authorization is not final (0); rejected, cancelled and expired
# instructions moved nothing and never will (2, with the reason in err_msg).
STAT_BY_STATUS = {"processing": "0", "success": "1", "failed": "2", "suspicious": "3",
                  "awaiting": "0", "cancelled": "2", "expired": "2"}
STAT_NO_SUCH_RECORD = "4"


# Digests and replies are stored, and a retry is compared with what was stored:
# these encodings must never change by a byte. The encoders are built once
# (json.dumps with options builds a new one per call); ``encode`` of an encoder
# built with these options is exactly what json.dumps with them returns.
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
).encode
_REPLY = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def digest(tr_code: str, fields: Mapping[str, object]) -> bytes:
    """SHA-256 of a canonical encoding of the transaction code and its fields."""
    body = {key: value for key, value in fields.items() if value not in ("", None)}
    return hashlib.sha256(_CANONICAL([tr_code, body]).encode("utf-8")).digest()


def encode_reply(reply: Reply) -> str:
    return _REPLY([reply.ret_code, reply.ret_msg, reply.serial_no, reply.fields])


def decode_reply(text: str) -> Reply:
    ret_code, ret_msg, serial_no, fields = json.loads(text)
    return Reply(ret_code, ret_msg, serial_no, fields)


@dataclass(frozen=True, slots=True)
class Described:
    """What an instruction says, as far as it could be read (refusals included)."""

    route: str | None = None  # same_bank | inter_bank
    urgent: bool = False
    pay_acno: str = ""
    rcv_acno: str = ""
    rcv_acname: str = ""
    rcv_bank_no: str = ""
    amt: int | None = None
    cert_no: str = ""


@dataclass(frozen=True, slots=True)
class Instruction:
    id: int
    corp_no: str
    req_no: str
    tr_code: str
    route: str | None
    urgent: bool
    status: str
    serial_no: str
    pay_acno: str
    pay_bank_no: str
    rcv_acno: str
    rcv_acname: str
    rcv_bank_no: str
    amt: int | None
    cert_no: str
    err_msg: str


_COLUMNS = (
    "id, corp_no, req_no, tr_code, route, urgent, status, serial_no, pay_acno, pay_bank_no,"
    " rcv_acno, rcv_acname, rcv_bank_no, amt, cert_no, err_msg"
)


def find_for_retry(conn: sqlite3.Connection, corp_no: str, req_no: str
                   ) -> tuple[bytes, str] | None:
    """(digest, stored reply) of the enterprise's instruction with this req_no, if any."""
    return conn.execute(
        "SELECT digest, reply FROM instructions WHERE corp_no = ? AND req_no = ?",
        (corp_no, req_no),
    ).fetchone()


def find(conn: sqlite3.Connection, corp_no: str, req_no: str) -> Instruction | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM instructions WHERE corp_no = ? AND req_no = ?",
        (corp_no, req_no),
    ).fetchone()
    return None if row is None else _instruction(row)


_JOINED_COLUMNS = ", ".join(f"i.{name.strip()}" for name in _COLUMNS.split(","))


def find_by_serial(conn: sqlite3.Connection, corp_no: str, serial_no: str
                   ) -> Instruction | None:
    """The enterprise's instruction whose reply carried bank serial ``serial_no``, if any.

    Found through the entry the instruction posted under its own serial
    (``entries.serial_no`` is unique, so this is one index lookup, not a scan
    of the enterprise's instructions). A refusal has no serial and no entry,
    so it is found by its req_no only; an entry's other serials (a clearing
    run's settle or return, a batch item's ``flw``) are not the
    instruction's own and find nothing. Another enterprise's serial is, for
    this enterprise, no such record.
    """
    row = conn.execute(
        f"SELECT {_JOINED_COLUMNS} FROM entries e JOIN instructions i"
        " ON i.id = e.instruction_id"
        " WHERE e.serial_no = ? AND i.serial_no = e.serial_no AND i.corp_no = ?",
        (serial_no, corp_no),
    ).fetchone()
    return None if row is None else _instruction(row)


def by_id(conn: sqlite3.Connection, instruction_id: int) -> Instruction | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM instructions WHERE id = ?",
                       (instruction_id,)).fetchone()
    return None if row is None else _instruction(row)


def in_clearing(conn: sqlite3.Connection) -> list[Instruction]:
    """Inter-bank instructions still in the clearing system, oldest first."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM instructions"
        " WHERE status IN ('processing', 'suspicious') ORDER BY id"
    )
    return [_instruction(row) for row in rows]


def record(conn: sqlite3.Connection, request: Request, request_digest: bytes,
           described: Described, *, status: str, reply: Reply, pay_bank_no: str,
           biz_date: str, now: datetime) -> int:
    """Insert the instruction's record (with the reply being sent); return its id."""
    stamp = now.isoformat()
    return conn.execute(
        "INSERT INTO instructions (corp_no, req_no, user_no, tr_code, digest, route, urgent,"
        " status, serial_no, pay_acno, pay_bank_no, rcv_acno, rcv_acname, rcv_bank_no, amt,"
        " cert_no, err_msg, reply, biz_date, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            request.corp_no, request.req_no, request.user_no, request.tr_code, request_digest,
            described.route, int(described.urgent), status, reply.serial_no,
            described.pay_acno, pay_bank_no, described.rcv_acno, described.rcv_acname,
            described.rcv_bank_no, described.amt, described.cert_no,
            "" if reply.ok or status == "awaiting" else reply.ret_msg, encode_reply(reply),
            biz_date, stamp, stamp,
        ),
    ).lastrowid


def set_status(conn: sqlite3.Connection, instruction_id: int, status: str, err_msg: str,
               now: datetime) -> None:
    conn.execute(
        "UPDATE instructions SET status = ?, err_msg = ?, updated_at = ? WHERE id = ?",
        (status, err_msg, now.isoformat(), instruction_id),
    )


def _instruction(row: tuple) -> Instruction:
    values = list(row)
    values[5] = bool(values[5])
    return Instruction(*values)
