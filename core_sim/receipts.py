"""E-receipts (电子回单) as the ledger holds them: one for every executed debit or credit.

A receipt is a view of postings, which never change once written, so it
needs no table of its own: :class:`ReceiptReader` derives the
:class:`~protocol.receipt.Receipt` values of one enterprise from the
postings, entries, instructions and batch items when they are asked for
(310220, :mod:`core_sim.receipt_queries`, signs them there). Nothing is
added to the paths that move money.

Which receipts exist
--------------------
One per posting on an enterprise's account (opening balances excepted), to
the enterprise that holds the account, ``kind`` debit for a ``D`` posting
and credit for a ``C``:

* a same-bank transfer (``transfer``): the payer's debit, and the payee's
  credit when the payee is an enterprise's account here;
* an inter-bank payment: the payer's debit when it is accepted
  (``interbank_debit``) and, if the receiving bank sends it back, the
  payer's credit (``return``, its summary says why);
* a held same-bank transfer settled by clearing (``settle``): the payee's credit;
* each item of a batch payment (``batch_item``): the enterprise's debit;
  each same-bank item of a collection: the enterprise's credit;
* each other-bank item of a collection that a clearing run settled: the
  enterprise's credit. The ledger posts one credit for all the items a run
  settled (``batch_settle``, 批量入账); the receipts are still one per item,
  each with the item's amount and its serial (``flw``). The items a credit
  covers are the batch's settled other-bank items in batch order, as many
  as add up to it: clearing settles them in that order, a chunk per entry.

Payer and payee are the enterprise's account and the counterparty the
posting names (``opp_acno``/``opp_acname``); the counterparty's bank is
this bank, or for an inter-bank payment the receiving bank (named as its
external accounts name it, else by its bank number). A receipt shows the
enterprise's ``req_no`` only if the enterprise gave the instruction.

Numbers and stability
---------------------
``receipt_no`` is the bank serial of the movement and its side:
``2026112400000042-D`` (the entry's serial; for an other-bank collection
item, the item's own serial ``flw``, ``-C``). A serial names one entry and
an entry posts at most one debit and one credit to customers, so the number
is unique, and it is the same at every fetch. So is everything else:
``issued_at`` is when the entry was posted (the bank's business clock), and
the names come from accounts, which never change once created. Ed25519
signatures are deterministic, so the same receipt is signed to the same
bytes each time it is fetched.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from core_sim.ledger import Ledger, LedgerError, parse_ymd
from core_sim.transaction import Refused
from protocol import codes
from protocol.receipt import Receipt

BATCH_TR_CODES = frozenset({"330002", "330010"})

_POSTINGS = (
    "SELECT p.id, p.side, p.amount, p.biz_date, p.opp_acno, p.opp_acname,"
    " e.id, e.serial_no, e.kind, e.created_at, e.summary, e.instruction_id,"
    " a.acno, a.name, a.bank_name, a.corp_no,"
    " coalesce(i.corp_no, ''), coalesce(i.req_no, ''), coalesce(i.tr_code, ''),"
    " coalesce(i.route, ''), coalesce(i.rcv_bank_no, '')"
    " FROM postings p JOIN entries e ON e.id = p.entry_id"
    " JOIN accounts a ON a.id = p.account_id"
    " LEFT JOIN instructions i ON i.id = e.instruction_id"
)

#: SQL: a batch item (``i``) whose payer is at another bank (the parameter: this bank).
_OTHER_BANK = "i.bank_no != '' AND i.bank_no != ?"

#: The postings of one account in a date range, opening balances excepted.
_IN_RANGE = (" WHERE p.account_id = ? AND p.biz_date BETWEEN ? AND ?"
             " AND e.kind != 'opening'")


class _Posting(NamedTuple):
    id: int
    side: str
    amount: int
    biz_date: str
    opp_acno: str
    opp_acname: str
    entry_id: int
    serial_no: str
    kind: str
    created_at: str
    summary: str
    instruction_id: int | None
    acno: str
    name: str
    bank_name: str
    corp_no: str
    instructed_by: str
    req_no: str
    tr_code: str
    route: str
    rcv_bank_no: str


class _Party(NamedTuple):
    acno: str
    name: str
    bank: str


@dataclass(frozen=True, slots=True)
class _Settlement:
    """One ``batch_settle`` entry: the other-bank items it credited (a run of seqs)."""

    entry_id: int
    serial_no: str
    biz_date: str
    created_at: str
    summary: str
    first_seq: int
    count: int


@dataclass(slots=True)
class _Batch:
    id: int
    instruction_id: int
    corp_no: str
    req_no: str
    tr_code: str
    biz_date: str
    ok_count: int
    account_id: int
    own: _Party
    settlements: list[_Settlement] | None = field(default=None)
    firsts: list[int] = field(default_factory=list)  # each settlement's first_seq


@dataclass(frozen=True, slots=True)
class Page:
    """``receipts`` from number ``begin`` (1-based) of ``total`` matching."""

    total: int
    receipts: list[Receipt]


class ReceiptReader:
    """The receipts of enterprise ``corp_no``; read-only, one request at a time."""

    def __init__(self, ledger: Ledger, corp_no: str) -> None:
        self.ledger = ledger
        self.conn = ledger.conn
        self.corp_no = corp_no
        self._banks: dict[str, str] = {}
        self._batches: dict[int, _Batch | None] = {}

    # -- the three ways to ask ---------------------------------------------------------

    def by_req_no(self, req_no: str, begin: int, wanted: int) -> Page:
        """Receipts of the enterprise's instruction ``req_no``; a batch's: one per item."""
        row = self.conn.execute(
            "SELECT id, tr_code, status, pay_acno, rcv_acno, biz_date FROM instructions"
            " WHERE corp_no = ? AND req_no = ?", (self.corp_no, req_no)).fetchone()
        if row is None:
            raise Refused(codes.NO_SUCH_RECEIPT, f"no receipt: no instruction {req_no}")
        instruction_id, tr_code, status, pay_acno, rcv_acno, biz_date = row
        if tr_code in BATCH_TR_CODES:
            batch = self._batch(instruction_id)
            if batch is None or batch.ok_count == 0:
                raise Refused(codes.NO_SUCH_RECEIPT,
                              f"no receipt: no item of batch {req_no} has succeeded")
            return Page(batch.ok_count, self._batch_items(batch, begin, wanted))
        rows = self.conn.execute(
            _POSTINGS + " WHERE p.account_id IN (SELECT id FROM accounts WHERE corp_no = ?"
            " AND acno IN (?, ?)) AND p.biz_date >= ? AND e.instruction_id = ? ORDER BY p.id",
            (self.corp_no, pay_acno, rcv_acno, biz_date, instruction_id)).fetchall()
        if not rows:
            raise Refused(codes.NO_SUCH_RECEIPT,
                          f"no receipt: {req_no} moved no money ({status})")
        receipts = [self._from_posting(_Posting(*row)) for row in rows]
        return Page(len(receipts), receipts[begin - 1:begin - 1 + wanted])

    def by_serial(self, serial_no: str, begin: int, wanted: int) -> Page:
        """Receipts of the movement with bank serial ``serial_no`` (an entry's or an item's)."""
        entry = self.conn.execute(
            "SELECT id, kind, biz_date, instruction_id FROM entries WHERE serial_no = ?",
            (serial_no,)).fetchone()
        receipts: list[Receipt] = []
        if entry is not None and entry[1] == "batch_settle":
            batch = self._batch(entry[3])
            if batch is not None and batch.corp_no == self.corp_no:
                settlement = next(s for s in self._settlements(batch) if s.entry_id == entry[0])
                receipts = self._settled_items(batch, settlement, 0, settlement.count)
        elif entry is not None:
            rows = self.conn.execute(
                _POSTINGS + " WHERE p.account_id IN (SELECT id FROM accounts WHERE corp_no = ?)"
                " AND p.biz_date = ? AND p.entry_id = ? AND e.kind != 'opening' ORDER BY p.id",
                (self.corp_no, entry[2], entry[0])).fetchall()
            receipts = [self._from_posting(_Posting(*row)) for row in rows]
        else:
            receipts = self._by_flw(serial_no)
        if not receipts:
            raise Refused(codes.NO_SUCH_RECEIPT, f"no receipt with serial {serial_no}")
        return Page(len(receipts), receipts[begin - 1:begin - 1 + wanted])

    def by_account(self, account_id: int, start: str, end: str, begin: int, wanted: int
                   ) -> Page:
        """Receipts of one of the enterprise's accounts, business dates ``start``–``end``.

        In posting order; a ``batch_settle`` credit counts as its items. The
        page is found with SQL's OFFSET over the postings, after working out
        how many receipts each batch credit before it stands for.
        """
        params = (account_id, start, end)
        # How many postings, and the ordinal of each batch credit among them: one
        # pass over the range (faster than SQL's count and row_number() over it).
        postings = 0
        found = []
        for (entry_id,) in self.conn.execute(
                "SELECT CASE WHEN e.kind = 'batch_settle' THEN e.id END FROM postings p"
                " JOIN entries e ON e.id = p.entry_id" + _IN_RANGE
                + " ORDER BY p.biz_date, p.id", params):
            if entry_id is not None:
                found.append((postings, entry_id))
            postings += 1
        batch_credits = []  # (ordinal, receipts it stands for)
        for ordinal, entry_id in found:
            (instruction_id,) = self.conn.execute(
                "SELECT instruction_id FROM entries WHERE id = ?", (entry_id,)).fetchone()
            batch = self._batch(instruction_id)
            if batch is None:
                raise LedgerError(f"batch credit {entry_id} belongs to no batch")
            settlement = next(s for s in self._settlements(batch) if s.entry_id == entry_id)
            batch_credits.append((ordinal, settlement.count))
        total = postings + sum(count - 1 for _, count in batch_credits)
        if begin > total:
            return Page(total, [])
        offset, skip = _locate(begin - 1, batch_credits)
        rows = self.conn.execute(
            _POSTINGS + _IN_RANGE + " ORDER BY p.biz_date, p.id LIMIT ? OFFSET ?",
            (*params, wanted, offset)).fetchall()
        receipts: list[Receipt] = []
        for row in map(_Posting._make, rows):
            left = wanted - len(receipts)
            if left <= 0:
                break
            if row.kind == "batch_settle":
                batch = self._batch(row.instruction_id)
                assert batch is not None
                settlement = next(s for s in self._settlements(batch)
                                  if s.entry_id == row.entry_id)
                receipts += self._settled_items(batch, settlement, skip, left)
            else:
                receipts.append(self._from_posting(row))
            skip = 0
        return Page(total, receipts)

    # -- one receipt ----------------------------------------------------------------------

    def _from_posting(self, row: _Posting) -> Receipt:
        """The receipt of one posting on a customer account (not a batch credit)."""
        other_bank = ""
        if row.route == "inter_bank" and row.kind in ("interbank_debit", "return"):
            other_bank = row.rcv_bank_no
        return self._receipt(
            receipt_no=f"{row.serial_no}-{row.side}", biz_date=row.biz_date,
            debit=row.side == "D", own=_Party(row.acno, row.name, row.bank_name),
            other=self._party(row.opp_acno, row.opp_acname, other_bank), amount=row.amount,
            summary=row.summary, serial_no=row.serial_no, owner=row.corp_no,
            instructed_by=row.instructed_by, req_no=row.req_no, tr_code=row.tr_code,
            created_at=row.created_at)

    def _receipt(self, *, receipt_no: str, biz_date: str, debit: bool, own: _Party,
                 other: _Party, amount: int, summary: str, serial_no: str, owner: str,
                 instructed_by: str, req_no: str, tr_code: str, created_at: str) -> Receipt:
        # Text as a reply carries it: the wire and XML keep no space at either end.
        payer, payee = (own, other) if debit else (other, own)
        return Receipt(
            receipt_no=receipt_no, biz_date=parse_ymd(biz_date),
            kind="debit" if debit else "credit",
            payer_acno=payer.acno, payer_name=payer.name.strip(),
            payer_bank=payer.bank.strip(), payee_acno=payee.acno,
            payee_name=payee.name.strip(), payee_bank=payee.bank.strip(),
            amount=amount, summary=summary.strip(), serial_no=serial_no,
            # Only the enterprise that gave the instruction sees its req_no.
            req_no=req_no if instructed_by == owner else "", corp_no=owner, tr_code=tr_code,
            issued_at=_issued_at(created_at))

    def _party(self, acno: str, name: str, bank_no: str) -> _Party:
        """A counterparty: ``bank_no`` '' (or this bank's) for this bank.

        At another bank, the account as this bank knows it (its external
        account) gives the bank's name, and the holder's when none was given.
        """
        name, bank = name.strip(), ""
        if bank_no and bank_no != self.ledger.bank_no:
            found = self.conn.execute(
                "SELECT name, bank_name FROM accounts WHERE bank_no = ? AND acno = ?",
                (bank_no, acno)).fetchone()
            if found is not None:
                name, bank = name or found[0].strip(), found[1].strip()
        return _Party(acno, name or acno, bank or self._bank_name(bank_no))

    def _bank_name(self, bank_no: str) -> str:
        if not bank_no or bank_no == self.ledger.bank_no:
            return self.ledger.bank_name.strip()
        name = self._banks.get(bank_no)
        if name is None:
            found = self.conn.execute(
                "SELECT bank_name FROM accounts WHERE bank_no = ? AND kind = 'external'"
                " ORDER BY id LIMIT 1", (bank_no,)).fetchone()
            name = self._banks[bank_no] = (found[0].strip() if found else "") or bank_no
        return name

    # -- batches ------------------------------------------------------------------------

    def _batch(self, instruction_id: int | None) -> _Batch | None:
        if instruction_id is None:
            return None
        if instruction_id not in self._batches:
            row = self.conn.execute(
                "SELECT b.id, b.instruction_id, b.corp_no, b.req_no, b.tr_code, b.biz_date,"
                " b.ok_count, a.id, a.acno, a.name, a.bank_name FROM batches b"
                " JOIN accounts a ON a.id = b.account_id WHERE b.instruction_id = ?",
                (instruction_id,)).fetchone()
            self._batches[instruction_id] = None if row is None else _Batch(
                *row[:8], own=_Party(row[8], row[9], row[10].strip()))
        return self._batches[instruction_id]

    def _batch_items(self, batch: _Batch, begin: int, wanted: int) -> list[Receipt]:
        """Receipts of the batch's succeeded items ``begin``… in batch order."""
        here = self.ledger.bank_no
        rows = self.conn.execute(
            "SELECT i.seq, i.acno, i.amt, i.flw, i.bank_no, e.biz_date, e.created_at,"
            " e.summary, coalesce(h.name, i.acname) FROM batch_items i"
            " LEFT JOIN entries e ON e.serial_no = i.flw AND e.kind = 'batch_item'"
            " LEFT JOIN accounts h ON h.bank_no = ? AND h.acno = i.acno"
            " AND h.kind = 'personal'"
            " WHERE i.batch_id = ? AND i.status = 'success' ORDER BY i.seq LIMIT ? OFFSET ?",
            (here, batch.id, wanted, begin - 1)).fetchall()
        receipts = []
        for seq, acno, amt, flw, bank_no, biz_date, created_at, summary, name in rows:
            if bank_no and bank_no != here:
                receipts += self._settled_items(batch, self._settlement_of(batch, seq), seq,
                                                1, by_seq=True)
                continue
            if biz_date is None:
                raise LedgerError(f"batch {batch.id} item {seq}: no entry {flw}")
            receipts.append(self._receipt(
                receipt_no=f"{flw}-{'D' if batch.tr_code == '330002' else 'C'}",
                biz_date=biz_date, debit=batch.tr_code == "330002", own=batch.own,
                other=self._party(acno, name, ""), amount=amt, summary=summary,
                serial_no=flw, owner=batch.corp_no, instructed_by=batch.corp_no,
                req_no=batch.req_no, tr_code=batch.tr_code, created_at=created_at))
        return receipts

    def _settlements(self, batch: _Batch) -> list[_Settlement]:
        """The batch's clearing credits, each with the run of items it covers.

        Clearing settles a batch's other-bank items in batch order and posts
        one credit per chunk; walking the settled items in that order, each
        credit covers as many as add up to its amount.
        """
        if batch.settlements is not None:
            return batch.settlements
        credits = self.conn.execute(
            "SELECT e.id, e.serial_no, p.biz_date, e.created_at, e.summary, p.amount"
            " FROM postings p JOIN entries e ON e.id = p.entry_id"
            " WHERE p.account_id = ? AND p.biz_date >= ? AND e.kind = 'batch_settle'"
            " AND e.instruction_id = ? AND p.side = 'C' ORDER BY p.id",
            (batch.account_id, batch.biz_date, batch.instruction_id)).fetchall()
        items = self.conn.execute(
            f"SELECT i.seq, i.amt FROM batch_items i WHERE i.batch_id = ?"
            f" AND i.status = 'success' AND {_OTHER_BANK} ORDER BY i.seq",
            (batch.id, self.ledger.bank_no))
        settlements = []
        for entry_id, serial_no, biz_date, created_at, summary, amount in credits:
            first, count, left = None, 0, amount
            while left > 0:
                item = next(items, None)
                if item is None or item[1] > left:
                    raise LedgerError(f"batch {batch.id}: settled items do not add up to "
                                      f"its credit {serial_no}")
                first = item[0] if first is None else first
                count += 1
                left -= item[1]
            assert first is not None
            settlements.append(_Settlement(entry_id, serial_no, biz_date, created_at, summary,
                                           first, count))
        if next(items, None) is not None:
            raise LedgerError(f"batch {batch.id}: settled items without a credit")
        batch.settlements = settlements
        batch.firsts = [s.first_seq for s in settlements]
        return settlements

    def _settlement_of(self, batch: _Batch, seq: int) -> _Settlement:
        """The clearing credit that covered the batch's settled other-bank item ``seq``."""
        settlements = self._settlements(batch)
        index = bisect.bisect_right(batch.firsts, seq) - 1
        if index < 0:
            raise LedgerError(f"batch {batch.id} item {seq}: settled without a credit")
        return settlements[index]

    def _settled_items(self, batch: _Batch, settlement: _Settlement, skip: int, limit: int,
                       *, by_seq: bool = False) -> list[Receipt]:
        """Receipts of the items a clearing credit covers: ``limit`` after ``skip``.

        ``by_seq``: ``skip`` is the seq of the first item wanted instead.
        """
        start = skip if by_seq else settlement.first_seq
        offset = 0 if by_seq else skip
        rows = self.conn.execute(
            "SELECT i.seq, i.acno, i.acname, i.amt, i.flw, i.bank_no, x.name"
            " FROM batch_items i LEFT JOIN accounts x ON x.bank_no = i.bank_no"
            " AND x.acno = i.acno AND x.kind = 'external'"
            f" WHERE i.batch_id = ? AND i.seq >= ? AND i.status = 'success'"
            f" AND {_OTHER_BANK} ORDER BY i.seq LIMIT ? OFFSET ?",
            (batch.id, start, self.ledger.bank_no,
             min(limit, settlement.count - offset), offset)).fetchall()
        return [self._receipt(
            receipt_no=f"{flw}-C", biz_date=settlement.biz_date, debit=False, own=batch.own,
            other=self._party(acno, name or acname, bank_no), amount=amt,
            summary=settlement.summary, serial_no=flw, owner=batch.corp_no,
            instructed_by=batch.corp_no, req_no=batch.req_no, tr_code=batch.tr_code,
            created_at=settlement.created_at)
            for _, acno, acname, amt, flw, bank_no, name in rows]

    def _by_flw(self, flw: str) -> list[Receipt]:
        """The receipt of an other-bank collection item by its serial (it has no entry)."""
        row = self.conn.execute(
            "SELECT b.instruction_id, i.seq FROM batches b JOIN batch_items i"
            " ON i.batch_id = b.id WHERE b.corp_no = ? AND b.tr_code = '330010'"
            f" AND i.flw = ? AND i.status = 'success' AND {_OTHER_BANK}",
            (self.corp_no, flw, self.ledger.bank_no)).fetchone()
        if row is None:
            return []
        batch = self._batch(row[0])
        assert batch is not None
        return self._settled_items(batch, self._settlement_of(batch, row[1]), row[1], 1,
                                   by_seq=True)


def _locate(index: int, batch_credits: Iterable[tuple[int, int]]) -> tuple[int, int]:
    """Receipt ``index`` (0-based) as (posting ordinal, receipts to skip within it).

    ``batch_credits``: (ordinal, receipts) of each posting that stands for
    more than one receipt, in order; every other posting stands for one.
    """
    extra = 0
    for ordinal, count in batch_credits:
        first = ordinal + extra
        if index < first:
            break
        if index < first + count:
            return ordinal, index - first
        extra += count - 1
    return index - extra, 0


def _issued_at(created_at: str) -> datetime:
    """When the entry was posted, China time to the second (as the bank's clock gave it)."""
    return datetime.fromisoformat(created_at).replace(microsecond=0, tzinfo=None)
