"""E-receipts at the bank (310220): which movements have one, and that each verifies.

An in-process bank with signing keys, a fake clock and a real SQLite file:
transfers, inter-bank payments settled and returned, batch payments and
collections (other-bank payers settled in clearing included). Every reply
goes through the wire codec and every receipt is rebuilt from its wire
record and verified with the bank's public key, as a client does.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from core_sim.bank import Bank, Request
from core_sim.check import check_ledger
from core_sim.ledger import Ledger
from core_sim.receipts import _locate
from protocol import codes
from protocol.bodies import CODECS
from protocol.keys import BankKeyPair
from protocol.receipt import (
    Receipt,
    ReceiptError,
    SignatureMismatch,
    SignedReceipt,
    verify_receipt,
)
from tests.test_bank import (
    A1,
    A2,
    B1,
    CLOSED_EXT,
    CORP,
    CORP_NAME,
    OTHER_CORP,
    OTHER_NAME,
    FakeClock,
    make_seed,
    payment,
    transfer,
)
from tests.test_bank import ZHANG as ZHANG_ICBC
from tests.test_bank_batches import (
    EXT_PAYER,
    EXT_POOR,
    LI,
    ZHANG,
    _agreement,
    _external,
    _personal,
    collection,
)
from tests.test_bank_batches import payment as batch_payment

KEYS = BankKeyPair.from_seeds(bytes(range(32)), bytes(range(32, 64)))
OTHER_KEYS = BankKeyPair.from_seeds(bytes(range(1, 33)), bytes(range(33, 65)))
RESPONSE = CODECS[("310220", "response")]
TODAY = "20261124"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def bank(tmp_path, clock):
    path = tmp_path / "ledger.db"
    bank = Bank.open(path, seed=make_seed(), clock=clock, receipt_keys=KEYS)
    conn = bank.connection
    conn.execute("BEGIN IMMEDIATE")
    ledger = Ledger(conn)
    _personal(conn, ledger, clock, ZHANG, "张三", 500_000)
    _personal(conn, ledger, clock, LI, "李四", 1_000)
    _external(conn, ledger, clock, EXT_PAYER, "孙八", None)
    _external(conn, ledger, clock, EXT_POOR, "周九", 1_000)
    _agreement(conn, "AG01", ZHANG, "张三")
    _agreement(conn, "AG07", EXT_PAYER, "孙八")
    _agreement(conn, "AG08", EXT_POOR, "周九")
    ledger.flush()
    conn.execute("COMMIT")
    yield bank
    bank.close()
    report = check_ledger(path)
    assert report.ok, str(report)


def ask(bank: Bank, corp: str = CORP, **fields: object):
    body: dict[str, object] = {"ogl_serial_no": "", "serial_no": "", "acno": "",
                               "start_date": "", "end_date": "", "begin_no": 0, "query_num": 0}
    body.update(fields)
    return bank.execute(Request(corp, "001", "310220", "", body))


def rebuild(record: dict) -> SignedReceipt:
    """The receipt a wire record carries (unverified), as a client rebuilds it."""
    receipt = Receipt(
        receipt_no=record["receipt_no"],
        biz_date=datetime.strptime(record["biz_date"], "%Y%m%d").date(),
        kind="debit" if record["dc_flag"] == "D" else "credit",
        payer_acno=record["payer_acno"], payer_name=record["payer_name"],
        payer_bank=record["payer_bank"], payee_acno=record["payee_acno"],
        payee_name=record["payee_name"], payee_bank=record["payee_bank"],
        amount=record["amt"], currency=record["cur_code"], summary=record["summary"],
        serial_no=record["serial_no"], req_no=record["req_no"], corp_no=record["corp_no"],
        tr_code=record["tr_code"], issued_at=datetime.fromisoformat(record["issued_at"]))
    assert record["signer_key_id"] == KEYS.key_id
    return SignedReceipt(receipt=receipt, signature=bytes.fromhex(record["signature"]),
                         signer_fingerprint=KEYS.public.fingerprint)


def fetched(bank: Bank, corp: str = CORP, **fields: object) -> list[Receipt]:
    """The receipts, each through the wire and verified with the bank's public key."""
    reply = ask(bank, corp, **fields)
    assert reply.ok, reply
    wire = RESPONSE.decode(RESPONSE.encode(reply.fields))
    assert wire == reply.fields  # nothing lost or padded on the wire
    return [verify_receipt(rebuild(record), KEYS.public) for record in wire["records"]]


def refused(bank: Bank, code: codes.ReturnCode, corp: str = CORP, **fields: object) -> str:
    reply = ask(bank, corp, **fields)
    assert reply.ret_code == code.code, reply
    assert reply.fields == {}
    return reply.ret_msg


def by_range(bank: Bank, acno: str = A1, corp: str = CORP, **page: object) -> list[Receipt]:
    return fetched(bank, corp, acno=acno, start_date=TODAY, end_date=TODAY, **page)


# -- which movements have a receipt, and what it says ---------------------------------


def test_a_same_bank_transfer_has_the_payers_debit_and_the_payees_credit(bank):
    reply = bank.execute(transfer("T1", 123_456))
    serial = reply.serial_no
    debit, credit = fetched(bank, ogl_serial_no="T1")
    assert debit == Receipt(
        receipt_no=f"{serial}-D", biz_date=date(2026, 11, 24), kind="debit",
        payer_acno=A1, payer_name=CORP_NAME, payer_bank="Simulated Bank", payee_acno=A2,
        payee_name=CORP_NAME, payee_bank="Simulated Bank", amount=123_456, summary="goods",
        serial_no=serial, req_no="T1", corp_no=CORP, tr_code="210201",
        issued_at=datetime(2026, 11, 24, 9, 30))
    assert debit.amount_in_capitals == "壹仟贰佰叁拾肆元伍角陆分"
    assert (credit.receipt_no, credit.kind) == (f"{serial}-C", "credit")
    assert (credit.payer_acno, credit.payee_acno, credit.amount) == (A1, A2, 123_456)
    assert fetched(bank, serial_no=serial) == [debit, credit]


def test_a_transfer_to_another_enterprise_gives_each_its_own_side(bank):
    serial = bank.execute(transfer("T2", 5_000, rcv=B1)).serial_no
    (debit,) = fetched(bank, ogl_serial_no="T2")
    assert (debit.kind, debit.payee_acno, debit.payee_name) == ("debit", B1, OTHER_NAME)
    (credit,) = fetched(bank, OTHER_CORP, serial_no=serial)
    assert (credit.kind, credit.corp_no, credit.payer_acno) == ("credit", OTHER_CORP, A1)
    assert credit.req_no == ""  # the payer's req_no is not the payee's business
    assert by_range(bank, B1, OTHER_CORP) == [credit]
    # The payee cannot look the payer's req_no up (it is another enterprise's).
    refused(bank, codes.NO_SUCH_RECEIPT, OTHER_CORP, ogl_serial_no="T2")


def test_a_settled_inter_bank_payment_has_the_payers_debit(bank, clock):
    serial = bank.execute(payment("P1", 10_000)).serial_no
    clock.advance(minutes=5)
    bank.run_clearing(force_batch=True)
    (debit,) = fetched(bank, ogl_serial_no="P1")
    assert debit.receipt_no == f"{serial}-D"
    assert (debit.payee_acno, debit.payee_bank) == (ZHANG_ICBC, "ICBC Beijing Branch")
    assert debit.payee_name == "Zhang San"  # not given: the receiving bank's name for it
    assert (debit.tr_code, debit.summary) == ("210224", "salary")
    assert debit.issued_at == datetime(2026, 11, 24, 9, 30)


def test_a_returned_payment_has_the_debit_and_the_return_credit(bank, clock):
    serial = bank.execute(payment("P2", 20_000, rcv=CLOSED_EXT)).serial_no
    clock.advance(minutes=5)
    bank.run_clearing(force_batch=True)
    debit, back = fetched(bank, ogl_serial_no="P2")
    assert debit.receipt_no == f"{serial}-D"
    assert back.kind == "credit" and back.amount == 20_000
    assert (back.payer_acno, back.payer_name, back.payer_bank) == (
        CLOSED_EXT, "Li Si", "ICBC Beijing Branch")
    assert back.payee_acno == A1 and back.req_no == "P2"
    assert back.summary.startswith("returned: ")
    assert back.issued_at == datetime(2026, 11, 24, 9, 35)
    assert back.receipt_no != debit.receipt_no and back.serial_no != serial
    assert fetched(bank, serial_no=back.serial_no) == [back]


def test_each_item_of_a_batch_payment_has_its_own_debit(bank):
    assert bank.execute(batch_payment("PAY1", [
        (ZHANG, "张三", 10_000, "p1"), (LI, "别人", 5_000, "p2"),  # p2: name mismatch
        (LI, "李四", 2_500, "p3")])).ok
    receipts = fetched(bank, ogl_serial_no="PAY1")
    assert [(r.payee_acno, r.payee_name, r.amount, r.kind) for r in receipts] == [
        (ZHANG, "张三", 10_000, "debit"), (LI, "李四", 2_500, "debit")]
    items = bank.execute(Request(CORP, "001", "310208", "", {
        "ogl_serial_no": "PAY1", "status": "F", "begin_no": 0, "query_num": 0}))
    flws = [item["flw"] for item in items.fields["records"]]
    assert [r.serial_no for r in receipts] == flws
    assert [r.receipt_no for r in receipts] == [f"{flw}-D" for flw in flws]
    assert all(r.tr_code == "330002" and r.summary == "工资" for r in receipts)
    assert fetched(bank, serial_no=flws[1]) == [receipts[1]]
    assert by_range(bank) == receipts


def collect_with_other_banks(bank: Bank, clock: FakeClock, req_no: str = "COL1") -> None:
    reply = bank.execute(collection(req_no, [
        (EXT_PAYER, "孙八", "AG07", 3_000, "c1", "102100099996"),
        (ZHANG, "张三", "AG01", 7_000, "c2", ""),
        (EXT_POOR, "周九", "AG08", 5_000, "c3", "102100099996"),  # only 10.00: returned
        (EXT_PAYER, "孙八", "AG07", 4_000, "c4", "102100099996"),
        (EXT_PAYER, "孙八", "AG07", 100, "c5", "102100099996")]))
    assert reply.ok and reply.fields["state"] == "2"  # other-bank items in clearing
    clock.advance(minutes=10)
    bank.run_clearing(force_batch=True)


def test_each_item_of_a_collection_has_its_own_credit_other_banks_included(bank, clock):
    collect_with_other_banks(bank, clock)
    receipts = fetched(bank, ogl_serial_no="COL1")
    assert [(r.payer_acno, r.amount) for r in receipts] == [
        (EXT_PAYER, 3_000), (ZHANG, 7_000), (EXT_PAYER, 4_000), (EXT_PAYER, 100)]
    assert all(r.kind == "credit" and r.payee_acno == A1 for r in receipts)
    assert [r.payer_bank for r in receipts] == ["ICBC", "Simulated Bank", "ICBC", "ICBC"]
    # Settled at the clearing run, ten minutes after the same-bank item.
    assert [r.issued_at.minute for r in receipts] == [40, 30, 40, 40]
    items = bank.execute(Request(CORP, "001", "310208", "", {
        "ogl_serial_no": "COL1", "status": "F", "begin_no": 0, "query_num": 0}))
    assert [r.serial_no for r in receipts] == [i["flw"] for i in items.fields["records"]]
    assert len({r.receipt_no for r in receipts}) == 4
    # The clearing run credited the three other-bank items at once: its serial finds them.
    lump = bank.connection.execute(
        "SELECT serial_no FROM entries WHERE kind = 'batch_settle'").fetchone()[0]
    assert fetched(bank, serial_no=lump) == [receipts[0], receipts[2], receipts[3]]
    assert fetched(bank, serial_no=receipts[2].serial_no) == [receipts[2]]
    # Details show the one credit; receipts show each item, in posting order.
    assert by_range(bank) == [receipts[1], receipts[0], receipts[2], receipts[3]]


def test_the_same_receipt_is_the_same_bytes_however_and_whenever_fetched(bank, clock):
    bank.execute(transfer("T3", 777))
    collect_with_other_banks(bank, clock)
    first = ask(bank, acno=A1, start_date=TODAY, end_date=TODAY).fields["records"]
    clock.advance(hours=3)
    assert ask(bank, acno=A1, start_date=TODAY, end_date=TODAY).fields["records"] == first
    assert len(first) == 5  # A1: T3's debit, COL1's four items
    on_a2 = ask(bank, acno=A2, start_date=TODAY, end_date=TODAY).fields["records"]
    by_number = {record["receipt_no"]: record for record in first + on_a2}
    assert len(by_number) == 6
    for req_no in ("T3", "COL1"):
        for record in ask(bank, ogl_serial_no=req_no).fields["records"]:
            assert record == by_number[record["receipt_no"]]
    for record in by_number.values():
        assert record in ask(bank, serial_no=record["serial_no"]).fields["records"]


# -- signatures ---------------------------------------------------------------------------


def test_every_receipt_verifies_and_a_one_byte_change_fails(bank, clock):
    bank.execute(transfer("T4", 405_060))
    bank.execute(payment("P4", 1, rcv=CLOSED_EXT))
    collect_with_other_banks(bank, clock)
    receipts = by_range(bank)
    assert len(receipts) == 7
    signed_part_checked = 0
    for receipt in receipts:
        record = next(r for r in ask(bank, acno=A1, start_date=TODAY, end_date=TODAY)
                      .fields["records"] if r["receipt_no"] == receipt.receipt_no)
        text = rebuild(record).to_bytes()
        assert verify_receipt(SignedReceipt.from_bytes(text), KEYS.public) == receipt
        signed = text[:text.index(b"signature_algorithm=")]
        for position in range(len(signed)):
            changed = bytearray(text)
            changed[position] = ord("7") if changed[position] != ord("7") else ord("8")
            with pytest.raises(ReceiptError):
                verify_receipt(SignedReceipt.from_bytes(bytes(changed)), KEYS.public)
            signed_part_checked += 1
        # A changed field that still reads as a receipt fails on the signature.
        with pytest.raises(SignatureMismatch):
            verify_receipt(rebuild({**record, "amt": record["amt"] + 1}), KEYS.public)
    assert signed_part_checked > 7 * 400


def test_receipts_are_signed_with_the_banks_key_not_another(bank):
    bank.execute(transfer("T5", 100))
    (record,) = ask(bank, ogl_serial_no="T5").fields["records"][:1]
    with pytest.raises(ReceiptError, match="key id"):
        verify_receipt(rebuild(record), OTHER_KEYS.public)


# -- paging -------------------------------------------------------------------------------


def test_pages_by_account_cross_batch_credits_exactly(bank, clock):
    bank.execute(transfer("T6", 1_000))
    collect_with_other_banks(bank, clock, "COL2")
    bank.execute(transfer("T7", 2_000))
    collect_with_other_banks(bank, clock, "COL3")
    bank.execute(transfer("T8", 3_000))
    everything = by_range(bank, query_num=500)
    assert len(everything) == 3 + 2 * 4  # A1: each transfer's debit, each item
    for size in (1, 2, 3, 5):
        pages, begin = [], 1
        while True:
            reply = ask(bank, acno=A1, start_date=TODAY, end_date=TODAY, begin_no=begin,
                        query_num=size)
            assert reply.ok and reply.fields["total_num"] == len(everything)
            assert reply.fields["begin_no"] == begin
            got = fetched(bank, acno=A1, start_date=TODAY, end_date=TODAY, begin_no=begin,
                          query_num=size)
            assert got == everything[begin - 1:begin - 1 + size], (size, begin)
            pages += got
            begin += len(got)
            if reply.fields["more_flag"] == "0":
                break
        assert pages == everything
    beyond = ask(bank, acno=A1, start_date=TODAY, end_date=TODAY, begin_no=100)
    assert beyond.ok and beyond.fields["records"] == [] and beyond.fields["more_flag"] == "0"


def test_pages_by_req_no_of_a_batch(bank, clock):
    assert bank.execute(batch_payment("PAY2", [
        (ZHANG, "张三", 100 + n, f"p{n}") if n % 3 else (LI, "别人", 100, f"p{n}")
        for n in range(1, 11)])).ok  # every third item fails (name mismatch)
    collect_with_other_banks(bank, clock, "COL4")
    for req_no, count in (("PAY2", 7), ("COL4", 4)):
        everything = fetched(bank, ogl_serial_no=req_no, query_num=500)
        assert len(everything) == count
        for size in (1, 2, 3):
            pages = []
            for begin in range(1, count + 1, size):
                reply = ask(bank, ogl_serial_no=req_no, begin_no=begin, query_num=size)
                assert reply.fields["total_num"] == count
                assert reply.fields["more_flag"] == ("1" if begin - 1 + size < count else "0")
                pages += fetched(bank, ogl_serial_no=req_no, begin_no=begin, query_num=size)
            assert pages == everything


def test_a_batch_settled_over_several_clearing_runs(bank, clock):
    # A file batch runs two items at a time, a clearing run after each chunk:
    # its other-bank items are credited by three entries, items in batch order.
    items = [(EXT_PAYER, "孙八", "AG07", 1_000 + n, f"f{n}", "102100099996") for n in range(6)]
    items[1] = (ZHANG, "张三", "AG01", 500, "f1", "")
    items[3] = (EXT_POOR, "周九", "AG08", 5_000, "f3", "102100099996")  # returned
    assert bank.execute(collection("FILE1", items, file_flag="1", frag_no=1)).ok
    for _ in range(3):
        assert bank.run_batches(limit=2).executed == 2
        clock.advance(minutes=1)
        bank.execute(transfer(f"T{clock.now.minute}", 100))  # a posting in between
        bank.run_clearing(force_batch=True)
    receipts = fetched(bank, ogl_serial_no="FILE1")
    assert [r.amount for r in receipts] == [1_000, 500, 1_002, 1_004, 1_005]
    lumps = [row[0] for row in bank.connection.execute(
        "SELECT serial_no FROM entries WHERE kind = 'batch_settle' ORDER BY id")]
    assert len(lumps) == 3
    assert [[r.amount for r in fetched(bank, serial_no=lump)] for lump in lumps] == [
        [1_000], [1_002], [1_004, 1_005]]
    assert [r.issued_at.minute for r in receipts] == [31, 30, 32, 33, 33]
    for receipt in receipts:
        assert fetched(bank, serial_no=receipt.serial_no) == [receipt]
    everything = by_range(bank)
    assert len(everything) == 3 + 5
    assert sorted(r.receipt_no for r in everything if r.tr_code == "330010") == sorted(
        r.receipt_no for r in receipts)
    for size in (1, 2, 4):
        pages = []
        for begin in range(1, len(everything) + 1, size):
            pages += by_range(bank, begin_no=begin, query_num=size)
        assert pages == everything


def test_locate_maps_receipt_numbers_to_postings():
    # Postings 0..5; posting 2 stands for 3 receipts, posting 4 for 2.
    credits = [(2, 3), (4, 2)]
    expected = [(0, 0), (1, 0), (2, 0), (2, 1), (2, 2), (3, 0), (4, 0), (4, 1), (5, 0)]
    assert [_locate(index, credits) for index in range(9)] == expected


# -- who sees what, and refusals ------------------------------------------------------------


def test_another_enterprise_sees_nothing(bank, clock):
    serial = bank.execute(transfer("T9", 100)).serial_no
    collect_with_other_banks(bank, clock)
    (item,) = fetched(bank, ogl_serial_no="COL1")[:1]
    for fields in ({"ogl_serial_no": "T9"}, {"serial_no": serial},
                   {"ogl_serial_no": "COL1"}, {"serial_no": item.serial_no}):
        refused(bank, codes.NO_SUCH_RECEIPT, OTHER_CORP, **fields)
    refused(bank, codes.NOT_OWN_ACCOUNT, OTHER_CORP, acno=A1, start_date=TODAY,
            end_date=TODAY)


def test_nothing_matches_is_E039(bank):
    assert "no instruction NOPE" in refused(bank, codes.NO_SUCH_RECEIPT, ogl_serial_no="NOPE")
    assert not bank.execute(transfer("POOR", 100_000_000)).ok  # insufficient funds
    assert "moved no money" in refused(bank, codes.NO_SUCH_RECEIPT, ogl_serial_no="POOR")
    refused(bank, codes.NO_SUCH_RECEIPT, serial_no="2026112499999999")
    opening = bank.connection.execute(
        "SELECT serial_no FROM entries WHERE kind = 'opening' LIMIT 1").fetchone()[0]
    refused(bank, codes.NO_SUCH_RECEIPT, serial_no=opening)  # opening balances are no movement
    refused(bank, codes.NO_SUCH_RECEIPT, acno=A2, start_date=TODAY, end_date=TODAY)
    assert bank.execute(batch_payment("PAYX", [(LI, "别人", 100, "x1")])).ok
    assert "no item" in refused(bank, codes.NO_SUCH_RECEIPT, ogl_serial_no="PAYX")


@pytest.mark.parametrize(("fields", "code"), [
    ({}, codes.INVALID_FIELD),
    ({"ogl_serial_no": "T1", "serial_no": "2026112400000001"}, codes.INVALID_FIELD),
    ({"ogl_serial_no": "T1", "acno": A1}, codes.INVALID_FIELD),
    ({"start_date": TODAY, "end_date": TODAY}, codes.INVALID_FIELD),
    ({"acno": A1, "start_date": TODAY}, codes.INVALID_FIELD),
    ({"acno": A1, "start_date": "20261125", "end_date": TODAY}, codes.INVALID_DATE_RANGE),
    ({"acno": A1, "start_date": "20250101", "end_date": TODAY}, codes.INVALID_DATE_RANGE),
    ({"acno": A1, "start_date": "2026-11-2", "end_date": TODAY}, codes.INVALID_DATE_RANGE),
    ({"acno": "999", "start_date": TODAY, "end_date": TODAY}, codes.UNKNOWN_ACCOUNT),
    ({"ogl_serial_no": "T1", "query_num": 501}, codes.INVALID_FIELD),
])
def test_refusals(bank, fields, code):
    bank.execute(transfer("T1", 100))
    refused(bank, code, **fields)


def test_a_bank_without_its_key_refuses_310220_clearly(tmp_path, clock):
    with Bank.open(tmp_path / "nokey.db", seed=make_seed(), clock=clock) as bank:
        bank.execute(transfer("T1", 100))
        message = refused(bank, codes.INTERNAL_ERROR, ogl_serial_no="T1")
        assert message == "e-receipts unavailable: the bank has no signing key"
