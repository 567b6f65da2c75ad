"""The bank core's transactions, refusals, exactly-once, group commit and clearing.

Everything runs against a real SQLite file under ``tmp_path`` with a fake
clock; no sockets, no trio.
"""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, timedelta

import pytest

from config.seed import Account, BankInfo, Enterprise, ExternalAccount, Limits, Seed
from core_sim.bank import Bank, ClearingPolicy, Reply, Request
from core_sim.check import check_ledger
from core_sim.ledger import CLEARING_IN_TRANSIT
from protocol import codes

BANK_NO = "301290000007"
ICBC = "102100099996"
CCB = "105100000017"
CORP, OTHER_CORP = "0000000001", "0000000002"
CORP_NAME, OTHER_NAME = "Demo Insurance Co., Ltd.", "Other Trading Co."

A1 = "310066726018010000001"  # 8000.00
A2 = "310066726018010000002"  # 1000.00
FROZEN = "310066726018010000003"
CLOSED = "310066726018010000004"
HELD = "310066726018010000005"  # 300.00 with 100.00 held
USD = "310066726018010000006"
B1 = "310066726018010000101"  # the other enterprise's
B_FROZEN = "310066726018010000102"
B_CLOSED = "310066726018010000103"
ZHANG = "6222020200000000001"  # active, ICBC
CLOSED_EXT = "6222020200000000002"  # closed, ICBC
WANG = "6227000000000000003"  # active, CCB
SINGLE_LIMIT, DAILY_LIMIT = 500_000, 1_000_000
START = datetime(2026, 11, 24, 9, 30, 0)


class FakeClock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def make_seed(*, extra_accounts: tuple[Account, ...] = (), bank_no: str = BANK_NO) -> Seed:
    return Seed(
        bank=BankInfo("Simulated Bank", bank_no, date(2026, 11, 24)),
        enterprises=(
            Enterprise(
                corp_no=CORP,
                name=CORP_NAME,
                users=("001", "002"),
                accounts=(
                    Account(A1, CORP_NAME, balance=800_000, opened=date(2020, 1, 1)),
                    Account(A2, CORP_NAME, balance=100_000),
                    Account(FROZEN, CORP_NAME, balance=50_000, status="frozen"),
                    Account(CLOSED, CORP_NAME, status="closed"),
                    Account(HELD, CORP_NAME, balance=30_000, hold=10_000),
                    Account(USD, CORP_NAME, currency="USD", balance=100_000),
                    *extra_accounts,
                ),
                limits=Limits(single=SINGLE_LIMIT, daily=DAILY_LIMIT),
            ),
            Enterprise(
                corp_no=OTHER_CORP,
                name=OTHER_NAME,
                users=("001",),
                accounts=(
                    Account(B1, OTHER_NAME, balance=500_000),
                    Account(B_FROZEN, OTHER_NAME, status="frozen"),
                    Account(B_CLOSED, OTHER_NAME, status="closed"),
                ),
            ),
        ),
        external_accounts=(
            ExternalAccount(ZHANG, "Zhang San", ICBC, "ICBC Beijing Branch"),
            ExternalAccount(CLOSED_EXT, "Li Si", ICBC, "ICBC Beijing Branch", status="closed"),
            ExternalAccount(WANG, "Wang Wu", CCB, "CCB Shanghai Branch"),
        ),
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db(tmp_path):
    return tmp_path / "core.db"


@pytest.fixture
def bank(db, clock):
    bank = Bank.open(db, seed=make_seed(), clock=clock)
    yield bank
    bank.close()
    report = check_ledger(db)
    assert report.ok, str(report)


def balances(db) -> dict[str, int]:
    """Every account's balance, read through a fresh connection."""
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT acno, balance FROM accounts"))


def transfer(req_no: str, amt: int = 10_000, *, pay: str = A1, rcv: str = A2,
             corp: str = CORP, **extra: object) -> Request:
    fields: dict[str, object] = {
        "pay_acno": pay, "pay_acname": "", "rcv_bank_name": "", "rcv_acno": rcv,
        "rcv_acname": "", "rcv_exg_code": "", "rcv_bank_no": "", "cur_code": "CNY",
        "amt": amt, "cert_no": f"V{req_no}", "summary": "goods", "bank_flag": "0",
        "area_flag": "0",
    }
    fields.update(extra)
    return Request(corp, "001", "210201", req_no, fields)


def payment(req_no: str, amt: int = 10_000, *, rcv: str = ZHANG, partyid: str = ICBC,
            urgent: str = "1", pay: str = A1, **extra: object) -> Request:
    fields: dict[str, object] = {
        "pay_acno": pay, "pay_acname": CORP_NAME, "rcv_acno": rcv, "rcv_acname": "",
        "partyid": partyid, "amt": amt, "cert_no": f"V{req_no}", "purpose": "salary",
        "summary": "", "urgent_flag": urgent,
    }
    fields.update(extra)
    return Request(CORP, "001", "210224", req_no, fields)


def query(tr_code: str, corp: str = CORP, **fields: object) -> Request:
    return Request(corp, "001", tr_code, "", fields)


#: 310204's authorization fields for an instruction that needed no approval.
NO_APPROVAL = {"auth_state": "0", "auth_level": 0, "auth_levels": 0, "waiting_for": ""}


def status_of(bank: Bank, req_no: str, corp: str = CORP) -> dict:
    reply = bank.execute(query("310204", corp, query_flag="1", ogl_serial_no=req_no))
    assert reply.ret_code == "0000"
    return reply.fields


# -- 310101 balance --------------------------------------------------------------------


def test_balance_of_all_accounts(bank):
    reply = bank.execute(query("310101", acno=""))
    assert reply.ret_code == "0000" and reply.serial_no == ""
    records = {r["acno"]: r for r in reply.fields["records"]}
    assert set(records) == {A1, A2, FROZEN, CLOSED, HELD, USD}
    assert records[A1] == {
        "acname": CORP_NAME, "acno": A1, "cur_code": "CNY", "balance": 800_000,
        "avail_balance": 800_000, "open_date": "20200101", "acc_type": "01",
        "open_bank": "Simulated Bank", "err_msg": "", "succ_flag": "0",
    }
    assert records[A2]["open_date"] == "20261124"  # no date in the seed: the business date
    assert records[HELD]["balance"] == 30_000
    assert records[HELD]["avail_balance"] == 20_000
    assert records[USD]["cur_code"] == "USD"


def test_balance_of_one_account(bank):
    reply = bank.execute(query("310101", acno=A2))
    assert [r["acno"] for r in reply.fields["records"]] == [A2]


@pytest.mark.parametrize(
    ("acno", "code"),
    [("999", codes.UNKNOWN_ACCOUNT), (B1, codes.NOT_OWN_ACCOUNT),
     (ZHANG, codes.UNKNOWN_ACCOUNT), (CLEARING_IN_TRANSIT, codes.UNKNOWN_ACCOUNT)],
)
def test_balance_refusals(bank, acno, code):
    reply = bank.execute(query("310101", acno=acno))
    assert reply.ret_code == code.code
    assert acno in reply.ret_msg
    assert reply.fields == {} and reply.serial_no == ""


def test_unknown_tr_code(bank):
    reply = bank.execute(Request(CORP, "001", "999999", "R1", {}))
    assert reply.ret_code == codes.UNKNOWN_TR_CODE.code
    assert "999999" in reply.ret_msg


# -- 210201 same-bank transfer ------------------------------------------------------------


def test_same_bank_transfer_moves_money_at_once(bank, db):
    reply = bank.execute(transfer("T1", 12_345))
    assert reply.ret_code == "0000"
    assert reply.fields == {"stat": "1"}
    assert reply.serial_no == "2026112400000007"  # business date + sequence, after 6 openings
    after = balances(db)
    assert after[A1] == 800_000 - 12_345
    assert after[A2] == 100_000 + 12_345
    assert status_of(bank, "T1") == {
        "ogl_serial_no": "T1", "stat": "1", "err_msg": "", "pay_acno": A1,
        "pay_bank_no": BANK_NO, "rcv_acno": A2, "rcv_bank_no": BANK_NO, "amt": 12_345,
        "cert_no": "VT1", **NO_APPROVAL,
    }


def test_transfer_to_another_enterprise_shows_in_both_details(bank, clock):
    clock.advance(hours=1)
    reply = bank.execute(transfer("T1", 5_000, rcv=B1, rcv_acname=OTHER_NAME))
    assert reply.ret_code == "0000"
    mine = bank.execute(query("310201", acno=A1)).fields["records"]
    theirs = bank.execute(query("310201", OTHER_CORP, acno=B1)).fields["records"]
    assert mine[-1] == {
        "tr_date": "20261124", "tr_time": "103000", "serial_no": reply.serial_no,
        "dc_flag": "D", "amt": 5_000, "balance": 795_000, "opp_acno": B1,
        "opp_acname": OTHER_NAME, "summary": "goods", "req_no": "T1", "cert_no": "VT1",
    }
    # The payee sees the money come in, but not the payer's req_no or voucher.
    assert theirs[-1]["dc_flag"] == "C" and theirs[-1]["balance"] == 505_000
    assert theirs[-1]["opp_acno"] == A1 and theirs[-1]["req_no"] == ""


def test_available_balance_excludes_holds(bank):
    assert bank.execute(transfer("T1", 20_000, pay=HELD)).ret_code == "0000"
    reply = bank.execute(transfer("T2", 1, pay=HELD))
    assert reply.ret_code == codes.INSUFFICIENT_FUNDS.code
    assert reply.ret_msg == "insufficient funds: available 0.00, requested 0.01"


# Each refusal: (request, expected code, words the message must contain).
REFUSALS = [
    (transfer("R", pay_acno=""), codes.INVALID_FIELD, "pay_acno"),
    (transfer("R", rcv_acno=""), codes.INVALID_FIELD, "rcv_acno"),
    (transfer("R", amt=""), codes.INVALID_FIELD, "amt"),
    (transfer("R", amt="10.00"), codes.INVALID_FIELD, "amt"),
    (transfer("R", bank_flag="2"), codes.INVALID_FIELD, "bank_flag"),
    (transfer("R", area_flag="x"), codes.INVALID_FIELD, "area_flag"),
    (payment("R", partyid="1021"), codes.INVALID_FIELD, "partyid"),
    (payment("R", partyid=""), codes.INVALID_FIELD, "partyid"),
    (payment("R", urgent_flag="9"), codes.INVALID_FIELD, "urgent_flag"),
    (transfer("R", 0), codes.INVALID_AMOUNT, "positive"),
    (transfer("R", -100), codes.INVALID_AMOUNT, "positive"),
    (payment("R", 0), codes.INVALID_AMOUNT, "positive"),
    (transfer("R", pay="310066726018019999999"), codes.UNKNOWN_ACCOUNT, "payer"),
    (transfer("R", rcv="310066726018019999999"), codes.UNKNOWN_ACCOUNT, "payee"),
    (transfer("R", rcv=ZHANG), codes.UNKNOWN_ACCOUNT, ZHANG),
    (payment("R", pay="310066726018019999999"), codes.UNKNOWN_ACCOUNT, "payer"),
    (transfer("R", pay=B1, rcv=A1), codes.NOT_OWN_ACCOUNT, B1),
    (payment("R", pay=B1), codes.NOT_OWN_ACCOUNT, B1),
    (transfer("R", pay=FROZEN), codes.ACCOUNT_FROZEN, "payer"),
    (transfer("R", rcv=B_FROZEN), codes.ACCOUNT_FROZEN, "payee"),
    (payment("R", pay=FROZEN), codes.ACCOUNT_FROZEN, "payer"),
    (transfer("R", pay=CLOSED), codes.ACCOUNT_CLOSED, "payer"),
    (transfer("R", rcv=B_CLOSED), codes.ACCOUNT_CLOSED, "payee"),
    (transfer("R", cur_code="USD"), codes.CURRENCY_MISMATCH, "USD"),
    (transfer("R", rcv=USD), codes.CURRENCY_MISMATCH, "USD"),
    (transfer("R", pay=USD, rcv=A2, cur_code=""), codes.CURRENCY_MISMATCH, "USD"),
    (payment("R", pay=USD), codes.CURRENCY_MISMATCH, "CNY"),
    (transfer("R", 100_001, pay=A2, rcv=A1), codes.INSUFFICIENT_FUNDS,
     "available 1000.00, requested 1000.01"),
    (payment("R", 100_001, pay=A2), codes.INSUFFICIENT_FUNDS, "available 1000.00"),
    (transfer("R", 20_001, pay=HELD), codes.INSUFFICIENT_FUNDS, "available 200.00"),
    (transfer("R", SINGLE_LIMIT + 1), codes.SINGLE_LIMIT, "5000.00"),
    (payment("R", SINGLE_LIMIT + 1), codes.SINGLE_LIMIT, "5000.01"),
    (transfer("R", rcv=A1), codes.SAME_ACCOUNT, A1),
    (transfer("R", rcv_bank_no=ICBC), codes.WRONG_BANK, ICBC),
    (transfer("R", bank_flag="1", rcv_bank_no=BANK_NO, rcv_acno=ZHANG), codes.WRONG_BANK,
     BANK_NO),
    (payment("R", partyid=BANK_NO, rcv=A2), codes.WRONG_BANK, "same-bank"),
    (transfer("R", rcv_acname="Somebody Else"), codes.ACCOUNT_NAME_MISMATCH, "rcv_acname"),
    (transfer("R", pay_acname="Somebody Else"), codes.ACCOUNT_NAME_MISMATCH, "pay_acname"),
]


@pytest.mark.parametrize(("request_", "code", "words"), REFUSALS,
                         ids=[f"{c.code}-{i}" for i, (_, c, _) in enumerate(REFUSALS)])
def test_refusal_has_its_own_code_and_moves_nothing(bank, db, request_, code, words):
    before = balances(db)
    reply = bank.execute(request_)
    assert reply.ret_code == code.code, reply
    assert words in reply.ret_msg
    assert len(reply.ret_msg.encode("gb18030")) <= 60
    assert reply.serial_no == "" and reply.fields == {}
    assert balances(db) == before
    # The refusal is recorded: the status query says failed, with the reason.
    status = status_of(bank, "R")
    assert status["stat"] == "2" and status["err_msg"] == reply.ret_msg


def test_refusals_follow_the_documented_order(bank):
    # Closed payee and too much money: the payee's status is checked first.
    assert bank.execute(transfer("R1", 10**9, rcv=B_CLOSED)).ret_code == "E006"
    # Over the single limit and more than the balance: the limit comes first.
    assert bank.execute(transfer("R2", SINGLE_LIMIT + 1, pay=A2, rcv=A1)).ret_code == "E009"
    # Another enterprise's closed account: E004, without revealing the status.
    assert bank.execute(transfer("R3", pay=B_CLOSED)).ret_code == "E004"


def test_daily_limit_counts_accepted_transfers_including_processing(bank, db):
    assert bank.execute(transfer("D1", 400_000)).ret_code == "0000"
    assert bank.execute(payment("D2", 400_000, urgent="0", pay=A2)).ok  # processing
    before = balances(db)
    reply = bank.execute(transfer("D3", 200_001))
    assert reply.ret_code == codes.DAILY_LIMIT.code
    assert reply.ret_msg == "daily limit 10000.00: used 8000.00, requested 2000.01"
    assert balances(db) == before
    # Refusals do not use up the limit: exactly the rest still goes through.
    assert bank.execute(transfer("D4", 25_000, pay=HELD, rcv=A1)).ret_code == "E008"
    assert bank.execute(transfer("D5", 200_000, pay=A1, rcv=A2)).ret_code == "0000"
    assert bank.execute(transfer("D6", 1, pay=A1, rcv=A2)).ret_code == codes.DAILY_LIMIT.code
    # The other enterprise has no limits at all.
    assert bank.execute(transfer("D7", 450_000, pay=B1, rcv=A1, corp=OTHER_CORP)).ok


def test_money_moving_request_without_req_no_or_enterprise(bank, db):
    before = balances(db)
    assert bank.execute(transfer("")).ret_code == codes.INVALID_FIELD.code
    stranger = Request("9999999999", "001", "210201", "X1", dict(transfer("X1").fields))
    assert bank.execute(stranger).ret_code == codes.NOT_ENROLLED.code
    assert balances(db) == before


# -- exactly once ------------------------------------------------------------------------


def test_retry_returns_the_original_reply_and_executes_nothing(bank, db):
    first = bank.execute(transfer("T1", 10_000))
    after_first = balances(db)
    second = bank.execute(transfer("T1", 10_000))
    assert second == first
    assert balances(db) == after_first
    # Also within one batch, and when "" is spelled as an absent field.
    fields = {k: v for k, v in transfer("T1", 10_000).fields.items() if v != ""}
    third, fourth = bank.execute_batch([transfer("T1", 10_000),
                                        Request(CORP, "002", "210201", "T1", fields)])
    assert third == first and fourth == first
    assert balances(db) == after_first


def test_retry_of_a_refusal_is_the_same_refusal(bank, db):
    refused = bank.execute(transfer("T1", 150_000, pay=A2, rcv=A1))
    assert refused.ret_code == codes.INSUFFICIENT_FUNDS.code
    assert bank.execute(transfer("T2", 100_000, pay=A1, rcv=A2)).ok  # now there is money
    before = balances(db)
    assert bank.execute(transfer("T1", 150_000, pay=A2, rcv=A1)) == refused
    assert balances(db) == before


def test_same_req_no_with_other_content_is_refused_and_changes_nothing(bank, db):
    original = bank.execute(transfer("T1", 10_000))
    before = balances(db)
    for changed in (transfer("T1", 10_001), transfer("T1", 10_000, rcv=B1),
                    payment("T1", 10_000), transfer("T1", 10_000, summary="other")):
        reply = bank.execute(changed)
        assert reply.ret_code == codes.DUPLICATE_REQ_NO.code
        assert reply.ret_msg == "req_no already used with different content"
        assert reply.serial_no == "" and reply.fields == {}
    assert balances(db) == before
    assert status_of(bank, "T1")["amt"] == 10_000
    assert bank.execute(transfer("T1", 10_000)) == original


def test_req_no_is_per_enterprise(bank):
    assert bank.execute(transfer("SAME", 1_000)).ok
    other = bank.execute(transfer("SAME", 1_000, pay=B1, rcv=A1, corp=OTHER_CORP))
    assert other.ok and other.fields == {"stat": "1"}
    assert status_of(bank, "SAME", OTHER_CORP)["pay_acno"] == B1


# -- group commit and durability ---------------------------------------------------------


def test_batch_commits_once_and_a_refusal_in_the_middle_stays_alone(bank, db):
    statements: list[str] = []
    bank.connection.set_trace_callback(statements.append)
    requests = [transfer(f"B{i:02d}", 100 + i) for i in range(50)]
    requests[25] = transfer("B25", 200_000, pay=A2, rcv=A1)  # more than A2 has
    before = balances(db)
    commits_before = bank.commits
    replies = bank.execute_batch(requests)
    bank.connection.set_trace_callback(None)
    assert [s for s in statements if s.strip().upper().startswith("COMMIT")] == ["COMMIT"]
    assert bank.commits == commits_before + 1
    assert replies[25].ret_code == codes.INSUFFICIENT_FUNDS.code
    assert all(r.ok for i, r in enumerate(replies) if i != 25)
    moved = sum(100 + i for i in range(50) if i != 25)
    after = balances(db)
    assert after[A1] == before[A1] - moved
    assert after[A2] == before[A2] + moved
    assert len({r.serial_no for r in replies if r.ok}) == 49


def test_unexpected_failure_rolls_back_only_its_request(bank, db, monkeypatch):
    from core_sim.ledger import Ledger

    original = Ledger.add_daily_usage

    def failing(self, corp_no, amount):
        if amount == 13:  # after the instruction, the entry and the balances were written
            raise RuntimeError("disk on fire")
        return original(self, corp_no, amount)

    monkeypatch.setattr(Ledger, "add_daily_usage", failing)
    before = balances(db)
    replies = bank.execute_batch([transfer("F1", 10), transfer("F2", 13), transfer("F3", 20)])
    assert [r.ret_code for r in replies] == ["0000", codes.INTERNAL_ERROR.code, "0000"]
    after = balances(db)
    assert after[A1] == before[A1] - 30
    assert status_of(bank, "F2")["stat"] == "4"  # nothing recorded: a retry may run it
    monkeypatch.setattr(Ledger, "add_daily_usage", original)
    assert bank.execute(transfer("F2", 13)).ok


def test_a_batch_that_runs_through_takes_no_savepoints(bank, db):
    statements: list[str] = []
    bank.connection.set_trace_callback(statements.append)
    replies = bank.execute_batch([transfer("N1", 10), transfer("N2", 20, pay=A2, rcv=A1)])
    bank.connection.set_trace_callback(None)
    assert all(r.ok for r in replies)
    words = [s.split()[0].upper() for s in statements]
    assert "SAVEPOINT" not in words and "ROLLBACK" not in words
    assert words.count("BEGIN") == 1 and words.count("COMMIT") == 1
    # One UPDATE moves both balances, one INSERT writes both postings, in leg order.
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT a.acno, p.side, p.amount, p.balance_after FROM postings p"
            " JOIN accounts a ON a.id = p.account_id JOIN entries e ON e.id = p.entry_id"
            " WHERE e.serial_no IN (?, ?) ORDER BY p.id",
            (replies[0].serial_no, replies[1].serial_no),
        ).fetchall()
    assert rows == [(A1, "D", 10, 800_000 - 10), (A2, "C", 10, 100_000 + 10),
                    (A2, "D", 20, 100_000 + 10 - 20), (A1, "C", 20, 800_000 - 10 + 20)]


def test_an_unexpected_failure_runs_the_batch_again_with_savepoints(bank, db, monkeypatch):
    from core_sim.ledger import Ledger

    original = Ledger.add_daily_usage

    def failing(self, corp_no, amount):
        if amount == 13:
            raise RuntimeError("disk on fire")
        return original(self, corp_no, amount)

    monkeypatch.setattr(Ledger, "add_daily_usage", failing)
    statements: list[str] = []
    bank.connection.set_trace_callback(statements.append)
    replies = bank.execute_batch([transfer("G1", 10), transfer("G2", 13), transfer("G3", 20),
                                  query("310101", acno=A1)])
    bank.connection.set_trace_callback(None)
    assert [r.ret_code for r in replies] == ["0000", codes.INTERNAL_ERROR.code, "0000", "0000"]
    words = [s.split()[0].upper() for s in statements]
    # The first attempt stopped at G2 and was rolled back whole; the second ran
    # each money-moving request in its own savepoint and committed once.
    assert words.count("BEGIN") == 2 and words.count("COMMIT") == 1
    assert words.count("SAVEPOINT") == 3
    assert statements.index("ROLLBACK") < statements.index("SAVEPOINT request")
    assert replies[3].fields["records"][0]["balance"] == 800_000 - 30  # it saw G1 and G3 only
    assert balances(db)[A1] == 800_000 - 30
    with sqlite3.connect(db) as conn:
        assert [r for (r,) in conn.execute("SELECT req_no FROM instructions ORDER BY id")
                ] == ["G1", "G3"]


def test_a_failure_the_second_run_does_not_meet_executes_once(bank, db, monkeypatch):
    from core_sim.ledger import Ledger

    original = Ledger.add_daily_usage
    failures = []

    def failing_once(self, corp_no, amount):
        if amount == 13 and not failures:
            failures.append(amount)
            raise RuntimeError("transient")
        return original(self, corp_no, amount)

    monkeypatch.setattr(Ledger, "add_daily_usage", failing_once)
    replies = bank.execute_batch([transfer("H1", 10), transfer("H2", 13), transfer("H3", 20)])
    assert failures and all(r.ok for r in replies)
    assert len({r.serial_no for r in replies}) == 3
    assert balances(db)[A1] == 800_000 - 43
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM entries WHERE kind = 'transfer'"
                            ).fetchone() == (3,)


def test_a_rolled_back_request_does_not_count_towards_the_daily_limit(bank, db, monkeypatch):
    from core_sim.ledger import Ledger

    original = Ledger.add_daily_usage

    def failing_after(self, corp_no, amount):
        original(self, corp_no, amount)
        if amount == 300_001:  # after its usage was added: its savepoint must undo it
            raise RuntimeError("disk on fire")

    monkeypatch.setattr(Ledger, "add_daily_usage", failing_after)
    replies = bank.execute_batch([
        transfer("U1", 400_000), transfer("U2", 300_001), transfer("U3", 399_999),
        transfer("U4", 200_002, pay=A2, rcv=A1),
    ])
    assert [r.ret_code for r in replies] == [
        "0000", codes.INTERNAL_ERROR.code, "0000", codes.DAILY_LIMIT.code]
    assert replies[3].ret_msg == "daily limit 10000.00: used 7999.99, requested 2000.02"


def test_the_daily_limit_holds_across_two_writers(bank, db, clock):
    other = Bank.open(db, clock=clock)
    try:
        assert bank.execute(transfer("X1", 500_000)).ok
        assert other.execute(transfer("X2", 400_000, pay=A2, rcv=A1)).ok
        reply = bank.execute(transfer("X3", 100_001))
        assert reply.ret_code == codes.DAILY_LIMIT.code, reply
        assert other.execute(transfer("X4", 100_000)).ok
        assert bank.execute(transfer("X5", 1)).ret_code == codes.DAILY_LIMIT.code
    finally:
        other.close()


def test_a_business_date_another_writer_moved_is_picked_up(bank, db, clock):
    assert bank.execute(transfer("Y1", 1)).serial_no.startswith("20261124")
    other = Bank.open(db, clock=clock)
    try:
        other.end_of_day()
    finally:
        other.close()
    assert bank.execute(transfer("Y2", 1)).serial_no == "2026112500000001"
    assert bank.business_date == date(2026, 11, 25)


def test_clearing_run_numbers_survive_runs_that_draw_no_serial(bank, db, clock):
    first = bank.run_clearing()
    other = Bank.open(db, clock=clock)
    try:
        assert other.run_clearing().run_no == first.run_no + 1
    finally:
        other.close()
    assert bank.run_clearing().run_no == first.run_no + 2
    assert bank.execute(transfer("Z1", 1)).serial_no == "2026112400000007"


def test_digests_and_stored_replies_keep_their_bytes():
    # Stored in every database: a retry of an old request must still match.
    from decimal import Decimal

    from core_sim import instructions

    fields = {
        "pay_acno": "310066726018010000001", "pay_acname": "Demo Insurance Co., Ltd.",
        "rcv_bank_name": "", "rcv_acno": "310066726018010000002",
        "rcv_acname": "上海某某贸易有限公司", "rcv_exg_code": "", "rcv_bank_no": None,
        "cur_code": "CNY", "amt": 123456, "cert_no": "V1", "summary": '货款 "q" \\ \n',
        "bank_flag": "0", "area_flag": "0", "zero": 0, "odd": Decimal("1.50"),
        "day": date(2026, 11, 24),
    }
    assert instructions.digest("210201", fields).hex() == (
        "d1b77003218232577efcd549fb5e2e2bd69b12d8962ce09ee1057a5000c37c43")
    assert instructions.encode_reply(
        Reply("0000", "transfer completed", "2026112400000001", {"stat": "1"})
    ) == '["0000","transfer completed","2026112400000001",{"stat":"1"}]'
    refusal = Reply("E015", "收款人户名不符")
    assert instructions.encode_reply(refusal) == '["E015","收款人户名不符","",{}]'


def test_an_entry_may_post_to_one_account_twice(bank, db):
    from core_sim.ledger import Ledger, Leg

    ledger = Ledger(bank.connection)
    ids = dict(bank.connection.execute("SELECT acno, id FROM accounts"))
    bank.connection.execute("BEGIN IMMEDIATE")
    ledger.post(serial_no="2026112499999999", kind="opening", now=START, legs=(
        Leg(ids[A1], "D", 10), Leg(ids[A2], "C", 4), Leg(ids[A2], "C", 6)))
    bank.connection.execute("COMMIT")
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT p.account_id, p.side, p.amount, p.balance_after FROM postings p"
            " JOIN entries e ON e.id = p.entry_id WHERE e.serial_no = '2026112499999999'"
            " ORDER BY p.id").fetchall()
    assert rows == [(ids[A1], "D", 10, 800_000 - 10), (ids[A2], "C", 4, 100_000 + 4),
                    (ids[A2], "C", 6, 100_000 + 10)]


def test_replies_are_durable_when_execute_batch_returns(bank, db):
    replies = bank.execute_batch([transfer("P1", 1_000), payment("P2", 2_000)])
    # A separate connection (as after kill -9 and restart) sees both.
    with sqlite3.connect(db) as other:
        rows = dict(other.execute("SELECT req_no, status FROM instructions"))
        assert rows == {"P1": "success", "P2": "processing"}
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert balances(db)[A1] == 800_000 - 3_000
    assert all(r.ok for r in replies)


def test_failed_commit_returns_no_replies_and_keeps_nothing(bank, db, monkeypatch):
    from core_sim import transfers

    def explode(*args, **kwargs):
        raise KeyboardInterrupt  # not an Exception: the whole batch must roll back

    before = balances(db)
    monkeypatch.setattr(transfers, "execute", explode)
    with pytest.raises(KeyboardInterrupt):
        bank.execute_batch([transfer("K1")])
    monkeypatch.undo()
    assert balances(db) == before
    assert not bank.connection.in_transaction
    assert status_of(bank, "K1")["stat"] == "4"
    # The rolled-back serial is handed out again: the sequence has no gap.
    assert bank.execute(transfer("K2", 1)).serial_no == "2026112400000007"


def test_serial_numbers_are_unique_and_dated(bank, db):
    replies = bank.execute_batch([transfer(f"S{i}", 1) for i in range(5)])
    serials = [r.serial_no for r in replies]
    assert serials == sorted(serials) and len(set(serials)) == 5
    assert all(s.startswith("20261124") and len(s) == 16 for s in serials)
    bank.end_of_day()
    assert bank.execute(transfer("S9", 1)).serial_no == "2026112500000001"


# -- inter-bank payments and clearing ---------------------------------------------------------


def test_urgent_payment_settles_at_the_next_clearing_run(bank, db):
    reply = bank.execute(payment("I1", 25_000, rcv_acname="Zhang San"))
    assert reply.ret_code == "0000" and reply.fields == {"tran_status": "34"}
    after_accept = balances(db)
    assert after_accept[A1] == 800_000 - 25_000
    assert after_accept[CLEARING_IN_TRANSIT] == 25_000
    assert status_of(bank, "I1")["stat"] == "0"
    report = bank.run_clearing()
    assert [(p.req_no, p.outcome) for p in report.payments] == [("I1", "settled")]
    after = balances(db)
    assert after[CLEARING_IN_TRANSIT] == 0
    assert after[ZHANG] == 25_000
    assert after[A1] == 800_000 - 25_000
    assert status_of(bank, "I1") == {
        "ogl_serial_no": "I1", "stat": "1", "err_msg": "", "pay_acno": A1,
        "pay_bank_no": BANK_NO, "rcv_acno": ZHANG, "rcv_bank_no": ICBC, "amt": 25_000,
        "cert_no": "VI1", **NO_APPROVAL,
    }
    # A retry still gets the original reply (accepted), and nothing moves.
    assert bank.execute(payment("I1", 25_000, rcv_acname="Zhang San")) == reply
    assert balances(db) == after


def test_normal_payment_waits_for_the_batch_run(bank, db):
    assert bank.execute(payment("N1", 1_000, urgent="0")).ok
    assert bank.execute(payment("N2", 2_000, urgent="")).ok  # "" means normal
    first = bank.run_clearing()
    assert not first.batch and first.payments == () and first.pending == 2
    assert bank.run_clearing().payments == ()
    third = bank.run_clearing()  # every third run is a batch run
    assert third.batch and {p.req_no for p in third.settled} == {"N1", "N2"}
    assert status_of(bank, "N1")["stat"] == "1"
    assert balances(db)[ZHANG] == 3_000


def test_force_batch_and_end_of_day_settle_normal_payments(bank):
    assert bank.execute(payment("N1", 1_000, urgent="0")).ok
    assert bank.run_clearing(force_batch=True).settled[0].req_no == "N1"
    assert bank.execute(payment("N2", 1_000, urgent="0")).ok
    bank.end_of_day()
    assert status_of(bank, "N2")["stat"] == "1"


def test_batch_every_is_configurable(db, clock):
    with Bank.open(db, seed=make_seed(), clock=clock,
                   clearing=ClearingPolicy(batch_every=1)) as bank:
        assert bank.execute(payment("N1", 1_000, urgent="0")).ok
        assert bank.run_clearing().batch
        assert status_of(bank, "N1")["stat"] == "1"
    with pytest.raises(ValueError, match="batch_every"):
        ClearingPolicy(batch_every=0)


@pytest.mark.parametrize(
    ("rcv", "partyid", "extra", "reason"),
    [
        (CLOSED_EXT, ICBC, {}, "closed"),
        ("6222029999999999999", ICBC, {}, "no account"),
        (WANG, ICBC, {}, f"held at bank {CCB}"),
        (ZHANG, ICBC, {"rcv_acname": "Not Zhang"}, "name does not match"),
    ],
)
def test_payment_the_receiving_bank_cannot_credit_is_returned(bank, db, clock, rcv, partyid,
                                                              extra, reason):
    assert bank.execute(payment("I1", 30_000, rcv=rcv, partyid=partyid, **extra)).ok
    assert balances(db)[A1] == 770_000
    clock.advance(minutes=5)
    report = bank.run_clearing()
    assert [(p.req_no, p.outcome) for p in report.payments] == [("I1", "returned")]
    assert reason in report.returned[0].reason
    after = balances(db)
    assert after[A1] == 800_000  # the money is back
    assert after[CLEARING_IN_TRANSIT] == 0
    status = status_of(bank, "I1")
    assert status["stat"] == "2" and reason in status["err_msg"]
    assert status["err_msg"].startswith("returned: ")
    details = bank.execute(query("310201", acno=A1)).fields["records"]
    assert [(d["dc_flag"], d["amt"]) for d in details[-2:]] == [("D", 30_000), ("C", 30_000)]
    assert details[-1]["tr_time"] == "093500" and details[-1]["balance"] == 800_000
    assert details[-1]["req_no"] == "I1"


def test_transfer_with_bank_flag_1_takes_the_inter_bank_path(bank, db):
    reply = bank.execute(transfer("T1", 7_000, bank_flag="1", rcv_acno=WANG,
                                  rcv_bank_no=CCB, rcv_acname="Wang Wu"))
    assert reply.ret_code == "0000" and reply.fields == {"stat": "0"}
    assert status_of(bank, "T1")["stat"] == "0"
    bank.run_clearing()  # a 210201 inter-bank transfer clears as urgent
    assert status_of(bank, "T1")["stat"] == "1"
    assert balances(db)[WANG] == 7_000


def test_unanswered_bank_makes_a_payment_suspicious_until_it_answers(bank, db):
    assert bank.execute(payment("I1", 5_000)).ok
    bank.clearing_policy = ClearingPolicy(unanswered_banks=frozenset({ICBC}))
    report = bank.run_clearing()
    assert [(p.req_no, p.outcome) for p in report.suspicious] == [("I1", "suspicious")]
    status = status_of(bank, "I1")
    assert status["stat"] == "3" and "no answer" in status["err_msg"]
    assert balances(db)[CLEARING_IN_TRANSIT] == 5_000
    assert bank.run_clearing().payments == ()  # still no answer, nothing new to report
    assert check_ledger(db).ok
    bank.clearing_policy = ClearingPolicy()
    assert bank.run_clearing().settled[0].req_no == "I1"  # asked again at the next run
    assert status_of(bank, "I1")["stat"] == "1"


# -- 310204 status for every stat ---------------------------------------------------------------


def test_status_query_answers_every_stat(bank):
    bank.execute_batch([
        payment("PROCESSING", 1_000, urgent="0"),
        transfer("SUCCESS", 1_000),
        transfer("REFUSED", 10**7, pay=A2, rcv=A1),
        payment("SUSPICIOUS", 1_000, rcv=WANG, partyid=CCB),
        payment("RETURNED", 1_000, rcv=CLOSED_EXT),
    ])
    bank.clearing_policy = ClearingPolicy(unanswered_banks=frozenset({CCB}))
    bank.run_clearing()
    stats = {req_no: status_of(bank, req_no)["stat"]
             for req_no in ("PROCESSING", "SUCCESS", "REFUSED", "SUSPICIOUS", "RETURNED",
                            "NEVER-SENT")}
    assert stats == {"PROCESSING": "0", "SUCCESS": "1", "REFUSED": "2", "SUSPICIOUS": "3",
                     "RETURNED": "2", "NEVER-SENT": "4"}
    assert status_of(bank, "REFUSED")["err_msg"].startswith("amount 100000.00 over single")
    # Another enterprise cannot see this one's instructions.
    assert status_of(bank, "SUCCESS", OTHER_CORP)["stat"] == "4"


def test_status_query_field_errors(bank):
    assert bank.execute(query("310204", query_flag="1")).ret_code == codes.INVALID_FIELD.code
    reply = bank.execute(query("310204", query_flag="9", ogl_serial_no="X"))
    assert reply.ret_code == codes.INVALID_FIELD.code and "query_flag" in reply.ret_msg


# -- details: 310201 today, 310301 history -------------------------------------------------------


def test_today_details_and_end_of_day(bank, clock):
    bank.execute(transfer("T1", 1_000))
    bank.execute(transfer("T2", 2_000))
    today = bank.execute(query("310201", acno=A2))
    assert today.fields["acno"] == A2
    assert [(r["dc_flag"], r["amt"], r["balance"]) for r in today.fields["records"]] == [
        ("C", 100_000, 100_000), ("C", 1_000, 101_000), ("C", 2_000, 103_000)]
    assert today.fields["records"][0]["summary"] == "opening balance"
    assert bank.end_of_day() == date(2026, 11, 25)
    assert bank.business_date == date(2026, 11, 25)
    assert bank.execute(query("310201", acno=A2)).fields["records"] == []
    clock.advance(days=1)
    bank.execute(transfer("T3", 3_000))
    records = bank.execute(query("310201", acno=A2)).fields["records"]
    assert [(r["tr_date"], r["req_no"]) for r in records] == [("20261125", "T3")]


def test_today_details_refusals(bank):
    assert bank.execute(query("310201", acno="")).ret_code == codes.INVALID_FIELD.code
    assert bank.execute(query("310201", acno=B1)).ret_code == codes.NOT_OWN_ACCOUNT.code
    assert bank.execute(query("310201", acno="42")).ret_code == codes.UNKNOWN_ACCOUNT.code


def test_end_of_day_resets_the_daily_limit(bank):
    assert bank.execute(transfer("D1", 500_000)).ok
    assert bank.execute(transfer("D2", 500_000, pay=A2, rcv=A1)).ok
    refused = bank.execute(transfer("D3", 1))
    assert refused.ret_code == codes.DAILY_LIMIT.code
    assert bank.end_of_day() == date(2026, 11, 25)
    assert bank.execute(transfer("D3", 1)) == refused  # a retry is still the same refusal
    assert bank.execute(transfer("D4", 1)).ok
    assert bank.execute(transfer("D5", 500_000)).ok


def test_history_paging(bank):
    for day in range(3):
        for i in range(3):
            assert bank.execute(transfer(f"H{day}{i}", 100 * (day * 3 + i + 1))).ok
        bank.end_of_day()
    base = {"acno": A2, "start_date": "20261124", "end_date": "20261126"}
    first = bank.execute(query("310301", **base, begin_no=0, query_num=4)).fields
    assert (first["total_num"], first["begin_no"], first["more_flag"]) == (10, 1, "1")
    assert [r["amt"] for r in first["records"]] == [100_000, 100, 200, 300]
    assert [r["tr_date"] for r in first["records"]] == ["20261124"] * 4
    second = bank.execute(query("310301", **base, begin_no=5, query_num=4)).fields
    assert [r["amt"] for r in second["records"]] == [400, 500, 600, 700]
    assert second["more_flag"] == "1" and second["begin_no"] == 5
    last = bank.execute(query("310301", **base, begin_no=9, query_num=4)).fields
    assert [r["amt"] for r in last["records"]] == [800, 900]
    assert last["more_flag"] == "0"
    beyond = bank.execute(query("310301", **base, begin_no=11, query_num=4)).fields
    assert beyond["records"] == [] and beyond["more_flag"] == "0"
    everything = bank.execute(query("310301", **base, begin_no=1, query_num=0)).fields
    assert len(everything["records"]) == 10 and everything["more_flag"] == "0"
    one_day = bank.execute(query("310301", acno=A2, start_date="20261125",
                                 end_date="20261125", begin_no="1", query_num="9")).fields
    assert [r["amt"] for r in one_day["records"]] == [400, 500, 600]
    balances_shown = [r["balance"] for r in everything["records"]]
    assert balances_shown[-1] == 100_000 + sum(100 * k for k in range(1, 10))


def test_history_page_size_is_capped(bank):
    bank.execute_batch([transfer(f"H{i}", 1) for i in range(600)])
    reply = bank.execute(query("310301", acno=A2, start_date="20261124",
                               end_date="20261124", query_num=9999))
    assert len(reply.fields["records"]) == 500 and reply.fields["more_flag"] == "1"
    assert reply.fields["total_num"] == 601  # the opening balance and 600 transfers


@pytest.mark.parametrize(
    ("start", "end", "code"),
    [
        ("2026-11-24", "20261124", codes.INVALID_DATE_RANGE),
        ("20261324", "20261124", codes.INVALID_DATE_RANGE),
        ("20260231", "20260301", codes.INVALID_DATE_RANGE),
        ("yesterday", "20261124", codes.INVALID_DATE_RANGE),
        ("20261125", "20261124", codes.INVALID_DATE_RANGE),
        ("20251123", "20261124", codes.INVALID_DATE_RANGE),  # 367 days
        ("", "20261124", codes.INVALID_FIELD),
    ],
)
def test_history_date_refusals(bank, start, end, code):
    reply = bank.execute(query("310301", acno=A2, start_date=start, end_date=end))
    assert reply.ret_code == code.code, reply


def test_history_of_a_full_year_is_allowed(bank):
    reply = bank.execute(query("310301", acno=A2, start_date="20251124", end_date="20261124"))
    assert reply.ok and reply.fields["total_num"] == 1


# -- opening, seeding, keys ------------------------------------------------------------------------


def test_opening_balances_are_journal_entries(bank, db):
    with sqlite3.connect(db) as conn:
        kinds = conn.execute("SELECT kind, COUNT(*) FROM entries GROUP BY kind").fetchall()
        equity = dict(conn.execute(
            "SELECT currency, balance FROM accounts WHERE acno LIKE '#OPENING-EQUITY-%'"))
    # A1, A2, FROZEN, HELD, USD, B1 have opening balances (CLOSED and the others are empty).
    assert kinds == [("opening", 6)]
    assert equity == {"CNY": -(800_000 + 100_000 + 50_000 + 30_000 + 500_000), "USD": -100_000}


def test_reopening_does_not_duplicate_money_and_adds_new_accounts(bank, db, clock):
    bank.execute(transfer("T1", 1_000))
    bank.close()
    before = balances(db)
    with Bank.open(db, seed=make_seed(), clock=clock) as again:
        assert balances(db) == before
        assert again.execute(transfer("T1", 1_000)).ok  # the retry still recognised
    new = Account("310066726018010000009", CORP_NAME, balance=4_200)
    with Bank.open(db, seed=make_seed(extra_accounts=(new,)), clock=clock) as again:
        after = balances(db)
        assert after[new.acno] == 4_200
        assert {k: v for k, v in after.items() if k != new.acno and "EQUITY" not in k} == {
            k: v for k, v in before.items() if "EQUITY" not in k}
    with Bank.open(db, clock=clock) as again:  # no seed needed once seeded
        assert again.business_date == date(2026, 11, 24)
    with pytest.raises(ValueError, match="bank"):
        Bank.open(db, seed=make_seed(bank_no="999999999999"), clock=clock)


def test_new_database_needs_a_seed(tmp_path):
    with pytest.raises(ValueError, match="seed"):
        Bank.open(tmp_path / "empty.db")


def test_business_date_defaults_to_the_clock(tmp_path):
    seed = make_seed()
    seed = Seed(BankInfo("Simulated Bank", BANK_NO, None), seed.enterprises,
                seed.external_accounts)
    with Bank.open(tmp_path / "b.db", seed=seed,
                   clock=lambda: datetime(2030, 5, 6, 7, 8, 9)) as bank:
        assert bank.business_date == date(2030, 5, 6)
        # The six opening entries came first.
        assert bank.execute(transfer("T1", 1)).serial_no == "2030050600000007"


def test_operators(bank):
    assert bank.has_operator(CORP, "001") and bank.has_operator(CORP, "002")
    assert not bank.has_operator(CORP, "003") and not bank.has_operator("nope", "001")


def test_ledger_check_passes_after_a_busy_day(bank, db):
    bank.execute_batch([transfer(f"T{i}", 1_000 + i) for i in range(20)]
                       + [payment(f"P{i}", 500, rcv=[ZHANG, CLOSED_EXT][i % 2],
                                  urgent=str(i % 2)) for i in range(10)])
    bank.run_clearing()
    bank.end_of_day()
    report = check_ledger(db)
    assert report.ok, str(report)
    assert len(str(report).splitlines()) == len(report.checks) >= 8
    assert isinstance(bank.execute(transfer("T0", 1_000)), Reply)


def test_two_writers_on_one_ledger_never_collide(bank, db, clock):
    # An offline `core clear` while a core runs, or two cores by mistake: each
    # transaction must start from the counters on disk, not from a stale cache.
    other = Bank.open(db, clock=clock)
    try:
        serials = []
        for i in range(6):
            writer = bank if i % 2 == 0 else other
            reply = writer.execute(transfer(f"W{i}", 100 + i))
            assert reply.ret_code == "0000", reply
            serials.append(reply.serial_no)
        other.run_clearing()
        serials.append(bank.execute(transfer("W-last", 1)).serial_no)
    finally:
        other.close()
    assert len(set(serials)) == len(serials)
    assert serials == sorted(serials)
