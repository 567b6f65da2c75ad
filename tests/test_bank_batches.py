"""Batches at the bank: segments, item rules, exactly-once, resumption and clearing.

Against a real SQLite file with a fake clock, no sockets: the ``Bank`` is
driven as the server drives it (one request per segment, ``run_batches``
for the background work, ``run_clearing`` for other-bank items).
"""

from __future__ import annotations

import pytest

from core_sim.bank import Bank, Request
from core_sim.check import check_ledger
from core_sim.ledger import Ledger, Leg, NewEntry
from protocol import codes
from protocol.bodies import SEGMENT_ITEMS
from tests.test_bank import (
    A1,
    BANK_NO,
    CORP,
    FROZEN,
    ICBC,
    OTHER_CORP,
    FakeClock,
    make_seed,
    transfer,
)

ZHANG, LI, WANG, ZHAO, QIAN = (f"62226001000000000{n:02d}" for n in range(1, 6))
EXT_PAYER, EXT_POOR, EXT_CLOSED = "6222020200000000011", "6222020200000000012", \
    "6222020200000000013"


def _personal(conn, ledger: Ledger, clock, acno: str, name: str, balance: int,
              status: str = "active") -> None:
    account_id = conn.execute(
        "INSERT INTO accounts (kind, acno, bank_no, bank_name, name, currency, status, opened,"
        " id_no) VALUES ('personal', ?, ?, 'Simulated Bank', ?, 'CNY', ?, '20260101', ?)",
        (acno, BANK_NO, name, status, "11010119900307001X")).lastrowid
    if balance:
        ledger.post_many([NewEntry(ledger.next_serial(), "opening", (
            Leg(ledger.opening_equity_id("CNY"), "D", balance), Leg(account_id, "C", balance)))],
            clock())


def _external(conn, ledger: Ledger, clock, acno: str, name: str, balance: int | None,
              status: str = "active") -> None:
    account_id = conn.execute(
        "INSERT INTO accounts (kind, acno, bank_no, bank_name, name, currency, status, opened,"
        " funds_checked) VALUES ('external', ?, ?, 'ICBC', ?, 'CNY', ?, '20260101', ?)",
        (acno, ICBC, name, status, int(balance is not None))).lastrowid
    if balance:
        ledger.post_many([NewEntry(ledger.next_serial(), "opening", (
            Leg(ledger.opening_equity_id("CNY"), "D", balance), Leg(account_id, "C", balance)))],
            clock())


def _agreement(conn, no: str, payer: str, name: str, *, max_amt: int | None = None,
               valid_to: str | None = None, status: str = "active", rcv: str = A1,
               corp: str = CORP) -> None:
    conn.execute(
        "INSERT INTO agreements (agreement_no, corp_no, rcv_acno, payer_acno, payer_name,"
        " max_amt, valid_to, status, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', '')",
        (no, corp, rcv, payer, name, max_amt, valid_to, status))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def bank(tmp_path, clock) -> Bank:
    bank = Bank.open(tmp_path / "ledger.db", seed=make_seed(), clock=clock)
    bank.path = tmp_path / "ledger.db"
    conn = bank.connection
    conn.execute("BEGIN IMMEDIATE")
    ledger = Ledger(conn)
    _personal(conn, ledger, clock, ZHANG, "张三", 500_000)
    _personal(conn, ledger, clock, LI, "李四", 1_000)
    _personal(conn, ledger, clock, WANG, "王五", 500_000, status="frozen")
    _personal(conn, ledger, clock, ZHAO, "赵六", 0, status="closed")
    _personal(conn, ledger, clock, QIAN, "钱七", 200_000)
    _external(conn, ledger, clock, EXT_PAYER, "孙八", None)
    _external(conn, ledger, clock, EXT_POOR, "周九", 1_000)
    _external(conn, ledger, clock, EXT_CLOSED, "吴十", None, status="closed")
    _agreement(conn, "AG01", ZHANG, "张三", max_amt=200_000)
    _agreement(conn, "AG02", LI, "李四")
    _agreement(conn, "AG03", WANG, "王五")
    _agreement(conn, "AG04", ZHAO, "赵六")
    _agreement(conn, "AG05", QIAN, "钱七", status="revoked")
    _agreement(conn, "AG06", QIAN, "钱七", valid_to="20261101")
    _agreement(conn, "AG07", EXT_PAYER, "孙八")
    _agreement(conn, "AG08", EXT_POOR, "周九")
    _agreement(conn, "AG09", EXT_CLOSED, "吴十")
    _agreement(conn, "AG10", QIAN, "钱七", corp=OTHER_CORP, rcv="310066726018010000101")
    ledger.flush()
    conn.execute("COMMIT")
    yield bank
    bank.close()


def collection(req_no: str, items: list[tuple], *, file_flag: str = "0", frag_no: int = 0,
               more: bool = False, total: tuple[int, int] | None = None) -> Request:
    records = [{"pay_acno": acno, "pay_acname": name, "agreement_no": agreement, "amt": amt,
                "busino": busino, "pay_bank_no": bank_no}
               for acno, name, agreement, amt, busino, bank_no in items]
    count, amount = total or (len(records), sum(r["amt"] for r in records))
    return Request(CORP, "001", "330010", req_no, {
        "cert_no": "C1", "rcv_acno": A1, "sum": count, "sum_amt": amount, "summary": "保费",
        "busi_no": "FEE", "file_flag": file_flag, "items": records}, frag_no=frag_no, more=more)


def payment(req_no: str, items: list[tuple], *, pay_acno: str = A1, file_flag: str = "0",
            frag_no: int = 0, more: bool = False, total: tuple[int, int] | None = None
            ) -> Request:
    records = [{"card_no": card, "acname": name, "card_flag": "0", "amt": amt, "busino": busino}
               for card, name, amt, busino in items]
    count, amount = total or (len(records), sum(r["amt"] for r in records))
    return Request(CORP, "001", "330002", req_no, {
        "cert_no": "P1", "pay_acno": pay_acno, "type": "S", "sum": count, "sum_amt": amount,
        "pay_month": "202611", "summary": "工资", "busi_no": "PR01", "mailflg": "N",
        "file_flag": file_flag, "items": records}, frag_no=frag_no, more=more)


def items_of(bank: Bank, req_no: str, status: str = "") -> dict[str, tuple]:
    reply = bank.execute(Request(CORP, "001", "310208", "Q" + req_no, {
        "ogl_serial_no": req_no, "status": status, "begin_no": 0, "query_num": 0}))
    assert reply.ok, reply
    return {r["busino"]: (r["suc_flg"], r["err_code"]) for r in reply.fields["records"]}


def balance(bank: Bank, acno: str) -> int:
    return bank.connection.execute("SELECT balance FROM accounts WHERE acno = ?",
                                   (acno,)).fetchone()[0]


def status(bank: Bank, req_no: str) -> dict:
    reply = bank.execute(Request(CORP, "001", "310207", "S" + req_no,
                                 {"ogl_serial_no": req_no}))
    assert reply.ok
    return reply.fields


def test_inline_collection_executes_every_item_with_its_own_reason(bank):
    before = balance(bank, A1)
    reply = bank.execute(collection("COL1", [
        (ZHANG, "张三", "AG01", 100_000, "b1", ""),        # success
        (ZHANG, "张三", "AG01", 300_000, "b2", ""),        # above max_amt 2000.00
        (LI, "李四", "AG02", 5_000, "b3", ""),             # 10.00 available
        (WANG, "王五", "AG03", 100, "b4", ""),             # frozen
        (ZHAO, "赵六", "AG04", 100, "b5", ""),             # closed
        (QIAN, "钱七", "AG05", 100, "b6", ""),             # revoked
        (QIAN, "钱七", "AG06", 100, "b7", ""),             # expired 2026-11-01
        (QIAN, "钱七", "AG99", 100, "b8", ""),             # no agreement
        (QIAN, "钱七", "AG10", 100, "b9", ""),             # another enterprise's
        (QIAN, "李四", "AG01", 100, "b10", ""),            # agreement of another payer
        (ZHANG, "张三", "AG01", 50_000, "b11", BANK_NO),   # this bank given explicitly
    ]))
    assert reply.ok, reply
    assert reply.fields["state"] == "3"
    assert items_of(bank, "COL1") == {
        "b1": ("F", ""), "b2": ("E", "E024"), "b3": ("E", "E008"), "b4": ("E", "E005"),
        "b5": ("E", "E006"), "b6": ("E", "E022"), "b7": ("E", "E023"), "b8": ("E", "E021"),
        "b9": ("E", "E025"), "b10": ("E", "E025"), "b11": ("F", ""),
    }
    assert balance(bank, A1) == before + 150_000
    assert balance(bank, ZHANG) == 500_000 - 150_000
    fields = status(bank, "COL1")
    assert (fields["ok_count"], fields["ok_amt"], fields["fail_count"]) == (2, 150_000, 9)
    assert check_ledger(bank.path).ok


def test_inline_payment_pays_personal_cards_here_only(bank):
    reply = bank.execute(payment("PAY1", [
        (ZHANG, "张三", 10_000, "p1"),
        (ICBC + "0001", "某人", 10_000, "p2"),   # not a card of this bank
        (A1[:-1] + "2", "Demo", 10_000, "p3"),   # an enterprise account, not personal
        (WANG, "王五", 10_000, "p4"),            # frozen card
        (LI, "别人", 10_000, "p5"),              # name mismatch
        (LI, "李四", 10_000, "p6"),
    ]))
    assert reply.ok and reply.fields["state"] == "3"
    assert items_of(bank, "PAY1") == {"p1": ("F", ""), "p2": ("E", "E020"), "p3": ("E", "E020"),
                                      "p4": ("E", "E005"), "p5": ("E", "E015"),
                                      "p6": ("F", "")}
    assert balance(bank, LI) == 1_000 + 10_000
    assert check_ledger(bank.path).ok


def test_310204_on_a_batch_says_how_its_items_went_and_where_to_read_them(bank):
    assert bank.execute(payment("PAY3", [(ZHANG, "张三", 100, "p1"),
                                         (WANG, "王五", 100, "p2")])).ok  # p2 frozen
    reply = bank.execute(Request(CORP, "001", "310204", "Q-PAY3",
                                 {"query_flag": "1", "ogl_serial_no": "PAY3"}))
    assert reply.ok
    assert reply.ret_msg == "batch success: see 310207, items 310208"
    assert reply.fields["err_msg"] == "batch: 1 ok, 1 failed, 0 processing; items: 310208"
    assert reply.fields["amt"] == 200


def test_a_payment_runs_out_of_money_item_by_item(bank):
    # Items are within the enterprise's limits (single 5000.00): A1 keeps 4000.00.
    assert bank.execute(transfer("T0", 400_000)).ok
    a1 = balance(bank, A1)
    reply = bank.execute(payment("PAY2", [(ZHANG, "张三", a1 - 100, "p1"),
                                          (LI, "李四", 200, "p2"), (LI, "李四", 100, "p3")]))
    assert reply.ok
    assert items_of(bank, "PAY2") == {"p1": ("F", ""), "p2": ("E", "E008"), "p3": ("F", "")}
    assert balance(bank, A1) == 0


@pytest.mark.parametrize(("request_", "code"), [
    (payment("R1", [(ZHANG, "张三", 100, "p1")], total=(2, 100)), codes.BATCH_TOTALS),
    (payment("R2", [(ZHANG, "张三", 100, "p1")], total=(1, 101)), codes.BATCH_TOTALS),
    (payment("R3", [(ZHANG, "张三", 100, "p1"), (LI, "李四", 100, "p1")]),
     codes.DUPLICATE_BUSINO),
    (payment("R4", [(ZHANG, "张三", 100, "p1")], pay_acno=FROZEN), codes.ACCOUNT_FROZEN),
    (payment("R5", [(ZHANG, "张三", 100, "p1")], pay_acno="310066726018010000101"),
     codes.NOT_OWN_ACCOUNT),
    (payment("R6", [(ZHANG, "张三", 100, "p1")], total=(3001, 100)), codes.INVALID_FIELD),
])
def test_a_batch_refused_as_a_whole_moves_nothing_and_stays_refused(bank, request_, code):
    before = bank.connection.execute("SELECT count(*) FROM postings").fetchone()[0]
    reply = bank.execute(request_)
    assert reply.ret_code == code.code, reply
    again = bank.execute(request_)
    assert again.ret_code == code.code
    assert bank.connection.execute("SELECT count(*) FROM postings").fetchone()[0] == before
    assert bank.connection.execute("SELECT count(*) FROM batch_items").fetchone()[0] == 0
    refused = status(bank, request_.req_no)
    assert (refused["state"], refused["err_code"]) == ("4", code.code)


def test_a_refused_batch_sent_again_with_other_items_is_other_content(bank):
    refused = payment("R7", [(ZHANG, "张三", 100, "p1"), (LI, "李四", 100, "p1")])
    assert bank.execute(refused).ret_code == codes.DUPLICATE_BUSINO.code
    corrected = payment("R7", [(ZHANG, "张三", 100, "p1"), (LI, "李四", 100, "p2")])
    assert bank.execute(corrected).ret_code == codes.DUPLICATE_REQ_NO.code
    assert bank.execute(refused).ret_code == codes.DUPLICATE_BUSINO.code  # as it stands
    assert status(bank, "R7")["state"] == "4"
    assert bank.connection.execute("SELECT count(*) FROM batch_items").fetchone()[0] == 0


def test_the_same_req_no_returns_the_batch_as_it_stands_and_other_content_is_e011(bank):
    request = collection("COL2", [(ZHANG, "张三", "AG01", 100, "b1", "")])
    first = bank.execute(request)
    again = bank.execute(request)
    assert first == again and first.ok
    assert balance(bank, ZHANG) == 500_000 - 100
    other = collection("COL2", [(ZHANG, "张三", "AG01", 200, "b1", "")])
    assert bank.execute(other).ret_code == codes.DUPLICATE_REQ_NO.code
    assert balance(bank, ZHANG) == 500_000 - 100


def _segments(tr_code: str, req_no: str, count: int) -> list[Request]:
    """A file collection of ``count`` items of 1.00 from ZHANG, in segments."""
    items = [(ZHANG, "张三", "AG01", 100, f"b{n}", "") for n in range(count)]
    chunks = [items[i:i + SEGMENT_ITEMS] for i in range(0, count, SEGMENT_ITEMS)]
    return [collection(req_no, chunk, file_flag="1", frag_no=n, more=n < len(chunks),
                       total=(count, 100 * count))
            for n, chunk in enumerate(chunks, start=1)]


def test_a_file_batch_is_stored_segment_by_segment_then_run_in_chunks(bank):
    segments = _segments("330010", "F1", 2500)
    replies = [bank.execute(s) for s in segments]
    assert [r.ok for r in replies] == [True, True, True]
    assert [r.fields["state"] for r in replies] == ["0", "0", "2"]
    assert [r.fields["received"] for r in replies] == [1000, 2000, 2500]
    assert balance(bank, ZHANG) == 500_000  # nothing executed while receiving
    first = bank.run_batches(limit=1000)
    assert (first.executed, first.finished) == (1000, False)
    assert status(bank, "F1")["pending_count"] == 1500
    while not bank.run_batches(limit=1000).finished:
        pass
    assert bank.run_batches().batch_id is None  # no work left
    fields = status(bank, "F1")
    assert (fields["state"], fields["ok_count"], fields["ok_amt"]) == ("3", 2500, 250_000)
    assert balance(bank, ZHANG) == 500_000 - 250_000
    assert check_ledger(bank.path).ok


def test_segments_out_of_order_retransmitted_or_changed(bank):
    segments = _segments("330010", "F2", 2500)
    assert bank.execute(segments[1]).ret_code == codes.SEGMENT_OUT_OF_ORDER.code
    assert bank.execute(segments[0]).ok
    again = bank.execute(segments[0])  # a retransmission after a reconnect
    assert again.ok and again.fields["received"] == 1000
    skipped = bank.execute(segments[2])
    assert skipped.ret_code == codes.SEGMENT_OUT_OF_ORDER.code
    assert "expected segment 2" in skipped.ret_msg
    changed = collection("F2", [(ZHANG, "张三", "AG01", 100, f"x{n}", "") for n in range(1000)],
                         file_flag="1", frag_no=1, more=True, total=(2500, 250_000))
    assert bank.execute(changed).ret_code == codes.DUPLICATE_REQ_NO.code
    assert bank.execute(segments[1]).ok and bank.execute(segments[2]).ok


def test_a_duplicate_busino_in_a_later_segment_refuses_the_whole_batch(bank):
    segments = _segments("330010", "F3", 1500)
    last = segments[1]
    items = list(last.fields["items"])
    items[10] = {**items[10], "busino": "b3"}  # already in segment 1
    segments[1] = Request(CORP, "001", "330010", "F3", {**last.fields, "items": items},
                          frag_no=2, more=False)
    assert bank.execute(segments[0]).ok
    reply = bank.execute(segments[1])
    assert reply.ret_code == codes.DUPLICATE_BUSINO.code and "b3" in reply.ret_msg
    assert status(bank, "F3")["state"] == "4"
    assert bank.run_batches().batch_id is None
    assert bank.connection.execute("SELECT count(*) FROM batch_items").fetchone()[0] == 0


def test_other_bank_payers_settle_with_the_batch_clearing_credited_together(bank):
    before = balance(bank, A1)
    reply = bank.execute(collection("COL3", [
        (EXT_PAYER, "孙八", "AG07", 30_000, "x1", ICBC),
        (EXT_PAYER, "孙八", "AG07", 20_000, "x2", ICBC),
        (EXT_POOR, "周九", "AG08", 5_000, "x3", ICBC),      # has 10.00 at its bank
        (EXT_CLOSED, "吴十", "AG09", 100, "x4", ICBC),
        (ZHANG, "张三", "AG01", 100, "x5", ""),
    ]))
    assert reply.ok and reply.fields["state"] == "2"  # processing: others are at their banks
    assert items_of(bank, "COL3") == {"x1": ("P", ""), "x2": ("P", ""), "x3": ("P", ""),
                                      "x4": ("P", ""), "x5": ("F", "")}
    report = bank.run_clearing(force_batch=True)
    assert [(b.settled, b.returned) for b in report.batches] == [(2, 2)]
    assert items_of(bank, "COL3") == {"x1": ("F", ""), "x2": ("F", ""), "x3": ("E", "E008"),
                                      "x4": ("E", "E006"), "x5": ("F", "")}
    assert balance(bank, A1) == before + 50_100
    credits = bank.connection.execute(
        "SELECT count(*) FROM entries WHERE kind = 'batch_settle'").fetchone()[0]
    assert credits == 1
    fields = status(bank, "COL3")
    assert (fields["state"], fields["ok_amt"], fields["fail_count"]) == ("3", 50_100, 2)
    assert check_ledger(bank.path).ok


def test_310210_lists_the_payers_of_an_account_paged(bank):
    first = bank.execute(Request(CORP, "001", "310210", "L1",
                                 {"rcv_acno": A1, "begin_no": 1, "query_num": 4}))
    assert first.ok and first.fields["total_num"] == 9 and first.fields["more_flag"] == "1"
    assert [r["agreement_no"] for r in first.fields["records"]] == ["AG01", "AG02", "AG03",
                                                                     "AG04"]
    last = bank.execute(Request(CORP, "001", "310210", "L2",
                                {"rcv_acno": A1, "begin_no": 9, "query_num": 4}))
    [record] = last.fields["records"]
    assert record["agreement_no"] == "AG09" and record["payer_bank_no"] == ICBC
    assert last.fields["more_flag"] == "0"
    other = bank.execute(Request(CORP, "001", "310210", "L3",
                                 {"rcv_acno": "310066726018010000101"}))
    assert other.ret_code == codes.NOT_OWN_ACCOUNT.code


def test_310208_pages_and_filters_and_another_enterprise_sees_nothing(bank):
    for segment in _segments("330010", "F4", 1200):
        assert bank.execute(segment).ok
    while not bank.run_batches().finished:
        pass
    page = bank.execute(Request(CORP, "001", "310208", "Q1", {
        "ogl_serial_no": "F4", "status": "", "begin_no": 1001, "query_num": 1000}))
    assert page.fields["total_num"] == 1200 and len(page.fields["records"]) == 200
    assert page.fields["records"][0]["seq"] == 1001 and page.fields["more_flag"] == "0"
    failed = bank.execute(Request(CORP, "001", "310208", "Q2", {
        "ogl_serial_no": "F4", "status": "E", "begin_no": 1, "query_num": 10}))
    assert failed.fields["total_num"] == 0
    foreign = bank.execute(Request(OTHER_CORP, "001", "310208", "Q3", {
        "ogl_serial_no": "F4", "status": "", "begin_no": 1, "query_num": 10}))
    assert foreign.ret_code == codes.NO_SUCH_BATCH.code
    assert status(bank, "NOPE")["state"] == "6"


def test_a_chunk_that_fails_midway_leaves_nothing_and_the_batch_resumes(bank, monkeypatch):
    for segment in _segments("330010", "F5", 2000):
        assert bank.execute(segment).ok
    assert bank.run_batches(limit=1000).executed == 1000

    from core_sim import ledger as ledger_module

    real = ledger_module.Ledger.post_pairs

    def crash(self, pairs, **kwargs):
        real(self, pairs, **kwargs)
        raise OSError("disk gone")  # after the entries, before the items' results

    monkeypatch.setattr(ledger_module.Ledger, "post_pairs", crash)
    with pytest.raises(OSError):
        bank.run_batches(limit=1000)
    monkeypatch.setattr(ledger_module.Ledger, "post_pairs", real)
    assert status(bank, "F5")["ok_count"] == 1000
    assert balance(bank, ZHANG) == 500_000 - 100_000
    assert bank.run_batches(limit=1000).finished
    assert status(bank, "F5")["ok_count"] == 2000
    assert balance(bank, ZHANG) == 500_000 - 200_000
    assert check_ledger(bank.path).ok


def test_a_reopened_bank_goes_on_where_the_batch_stopped(tmp_path, bank, clock):
    for segment in _segments("330010", "F6", 1500):
        assert bank.execute(segment).ok
    assert bank.run_batches(limit=700).executed == 700
    bank.close()
    reopened = Bank.open(bank.path, clock=clock)
    try:
        report = reopened.run_batches()
        assert (report.executed, report.finished) == (800, True)
        rows = reopened.connection.execute(
            "SELECT count(*), count(DISTINCT item_seq) FROM entries WHERE kind = 'batch_item'"
        ).fetchone()
        assert rows == (1500, 1500)
    finally:
        reopened.close()
    assert check_ledger(bank.path).ok


def test_a_version_1_ledger_is_migrated_keeping_its_data(tmp_path):
    import sqlite3
    from pathlib import Path

    from core_sim import schema

    ddl = (Path(__file__).parent / "fixtures" / "schema_v1.sql").read_text(encoding="utf-8")
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(ddl)
    conn.execute("PRAGMA user_version=1")
    conn.execute("INSERT INTO enterprises (corp_no, name) VALUES ('0000000001', 'Demo')")
    conn.execute(
        "INSERT INTO accounts (kind, acno, bank_no, bank_name, name, currency, corp_no,"
        " status, opened, balance) VALUES"
        " ('customer', 'A1', '301290000007', 'B', 'Demo', 'CNY', '0000000001', 'active',"
        "  '20260101', 5)")
    conn.close()
    migrated = schema.connect(path)
    try:
        assert migrated.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
        assert migrated.execute("SELECT acno, balance, id_no, funds_checked FROM accounts"
                                ).fetchall() == [("A1", 5, "", 0)]
        migrated.execute(
            "INSERT INTO accounts (kind, acno, bank_no, bank_name, name, currency, status,"
            " opened) VALUES ('personal', 'P1', '301290000007', 'B', 'Zhang', 'CNY',"
            " 'active', '20260101')")
        assert migrated.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        migrated.close()


def test_core_check_catches_an_item_executed_twice_and_totals_that_disagree(bank):
    assert bank.execute(collection("COL9", [(ZHANG, "张三", "AG01", 100, "b1", "")])).ok
    conn = bank.connection
    conn.execute("BEGIN IMMEDIATE")
    ledger = Ledger(conn)
    entry = conn.execute("SELECT instruction_id, item_seq FROM entries"
                         " WHERE kind = 'batch_item'").fetchone()
    zhang, a1 = (conn.execute("SELECT id FROM accounts WHERE acno = ?", (acno,)).fetchone()[0]
                 for acno in (ZHANG, A1))
    ledger.post_many([NewEntry(ledger.next_serial(), "batch_item",
                               (Leg(zhang, "D", 100), Leg(a1, "C", 100)), "",
                               entry[0], item_seq=entry[1])], bank.now())
    ledger.flush()
    conn.execute("COMMIT")
    report = check_ledger(bank.path)
    assert not report["batch_totals"].ok
    assert "2 entries" in report["batch_totals"].detail
    assert "moved 200 fen" in report["batch_totals"].detail
