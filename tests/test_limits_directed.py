"""Directed payees and the enterprise's limits, enforced by the bank (core_sim.limits).

A directed account refuses any other payee (E027): in 210201 same bank and
``bank_flag=1``, in 210224, and per item in a 330002 batch. Each limit has its
own code (E009 single, E010 daily, E028 monthly; to individuals E029, E030,
E031), and daily and monthly usage counts what executed, not what was
refused, across business-date and month changes. In-process banks with a
fake clock, checked by ``check_ledger`` after each test.
"""

from __future__ import annotations

import sqlite3
from datetime import date, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.seed import Account, BankInfo, Enterprise, ExternalAccount, Limits, Seed
from config.seed.model import Directed, PersonalAccount, PersonalLimits
from core_sim import limits, transfers
from core_sim.bank import Bank, Request
from core_sim.check import check_ledger
from core_sim.ledger import Ledger
from protocol import codes
from tests.test_bank import FakeClock, payment, transfer
from tests.test_bank_batches import items_of
from tests.test_bank_batches import payment as batch_payment

BANK_NO, ICBC = "301290000007", "102100099996"
CORP, NAME = "0000000001", "Demo Co."
A1 = "310066726018010000001"  # the main account, rich
A2 = "310066726018010000002"  # another of the enterprise's
A3 = "310066726018010000003"
DIRECTED = "310066726018010000009"  # pays only A2, P1 and CARD
P1, P2 = "6222600100000000001", "6222600100000000002"  # individuals here
CARD = "6222020200000000001"  # an individual's UnionPay card at ICBC
CARD2 = "6222020200000000002"
CORP_EXT = "1001234509000001234"  # an enterprise account at ICBC (not a 62… card)

YUAN = 100
SINGLE, DAILY, MONTHLY = 100_000 * YUAN, 300_000 * YUAN, 500_000 * YUAN
P_SINGLE, P_DAILY, P_MONTHLY = 20_000 * YUAN, 50_000 * YUAN, 80_000 * YUAN
LIMITS = Limits(single=SINGLE, daily=DAILY, monthly=MONTHLY,
                to_personal=PersonalLimits(single=P_SINGLE, daily=P_DAILY, monthly=P_MONTHLY))


def make_seed(limits_: Limits = LIMITS, business_date: date = date(2026, 11, 28)) -> Seed:
    return Seed(
        bank=BankInfo("Simulated Bank", BANK_NO, business_date),
        enterprises=(Enterprise(
            corp_no=CORP, name=NAME, users=("001",),
            accounts=(Account(A1, NAME, balance=10_000_000 * YUAN), Account(A2, NAME),
                      Account(A3, NAME), Account(DIRECTED, NAME, balance=1_000_000 * YUAN)),
            limits=limits_,
            directed=(Directed(DIRECTED, (A2, P1, CARD)),),
        ),),
        external_accounts=(
            ExternalAccount(CARD, "张三", ICBC, "ICBC Beijing Branch"),
            ExternalAccount(CARD2, "李四", ICBC, "ICBC Beijing Branch"),
            ExternalAccount(CORP_EXT, "Supplier Co.", ICBC, "ICBC Beijing Branch"),
        ),
        personal_accounts=(PersonalAccount(P1, "张三", "110101199003070011"),
                           PersonalAccount(P2, "李四", "110101199003070022",
                                           balance=1_000 * YUAN)),
    )


def open_bank(path, seed: Seed, clock: FakeClock) -> Bank:
    bank = Bank.open(path, seed=seed, clock=clock)
    bank.path = path
    return bank


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 28, 9, 30))


@pytest.fixture
def bank(tmp_path, clock):
    bank = open_bank(tmp_path / "core.db", make_seed(), clock)
    yield bank
    bank.close()
    report = check_ledger(tmp_path / "core.db")
    assert report.ok, str(report)


_serial = iter(range(1, 10**9))


def _req() -> str:
    return f"R{next(_serial):06d}"


def same_bank(rcv: str, amt: int, pay: str = A1) -> Request:
    return transfer(_req(), amt, pay=pay, rcv=rcv)


def bank_flag_1(rcv: str, amt: int, pay: str = A1) -> Request:
    return transfer(_req(), amt, pay=pay, rcv=rcv, bank_flag="1", rcv_bank_no=ICBC)


def inter_bank(rcv: str, amt: int, pay: str = A1) -> Request:
    return payment(_req(), amt, pay=pay, rcv=rcv, pay_acname=NAME)


def code_of(bank: Bank, request: Request) -> str:
    return bank.execute(request).ret_code


def usage(bank: Bank) -> dict[tuple[str, str], int]:
    return {(scope, period): amount for scope, period, amount in bank.connection.execute(
        "SELECT scope, period, amount FROM limit_usage WHERE corp_no = ?", (CORP,))}


def daily_usage(bank: Bank) -> dict[str, int]:
    """The enterprise's daily totals by business date as YYYY-MM-DD (stored as YYYYMMDD)."""
    return {f"{day[:4]}-{day[4:6]}-{day[6:]}": total for day, total in bank.connection.execute(
        "SELECT biz_date, total FROM daily_usage WHERE corp_no = ?", (CORP,))}


def balance(bank: Bank, acno: str) -> int:
    return bank.connection.execute("SELECT balance FROM accounts WHERE acno = ?",
                                   (acno,)).fetchone()[0]


# -- directed payees ---------------------------------------------------------------------


@pytest.mark.parametrize("make", [
    lambda: same_bank(A3, 100, pay=DIRECTED),
    lambda: same_bank(P2, 100, pay=DIRECTED),
    lambda: bank_flag_1(CARD2, 100, pay=DIRECTED),
    lambda: inter_bank(CARD2, 100, pay=DIRECTED),
    lambda: inter_bank(CORP_EXT, 100, pay=DIRECTED),
], ids=["210201-own-account", "210201-personal", "210201-bank_flag-1", "210224-card",
        "210224-enterprise"])
def test_a_directed_account_refuses_an_unlisted_payee(bank, make):
    before = balance(bank, DIRECTED)
    reply = bank.execute(make())
    assert reply.ret_code == codes.DIRECTED_PAYEE.code
    assert "directed" in reply.ret_msg
    assert balance(bank, DIRECTED) == before
    assert usage(bank) == {} and daily_usage(bank) == {}  # refused: nothing counted


def test_an_unknown_payee_of_a_directed_account_is_refused_as_not_directed(bank):
    assert code_of(bank, same_bank("310066726018019999999", 100, pay=DIRECTED)) == "E027"


@pytest.mark.parametrize("make", [
    lambda: same_bank(A2, 100, pay=DIRECTED),
    lambda: same_bank(P1, 100, pay=DIRECTED),
    lambda: bank_flag_1(CARD, 100, pay=DIRECTED),
    lambda: inter_bank(CARD, 100, pay=DIRECTED),
], ids=["210201-own-account", "210201-personal", "210201-bank_flag-1", "210224"])
def test_a_directed_account_pays_a_listed_payee(bank, make):
    before = balance(bank, DIRECTED)
    assert bank.execute(make()).ok
    assert balance(bank, DIRECTED) == before - 100


def test_an_account_not_directed_pays_anyone(bank):
    for request in (same_bank(A3, 100), same_bank(P2, 100), bank_flag_1(CARD2, 100),
                    inter_bank(CORP_EXT, 100)):
        assert bank.execute(request).ok, request


def test_a_listed_payee_still_faces_the_other_checks(bank):
    bank.connection.execute("UPDATE accounts SET status = 'frozen' WHERE acno = ?", (A2,))
    assert code_of(bank, same_bank(A2, 100, pay=DIRECTED)) == codes.ACCOUNT_FROZEN.code
    # The payer is judged first: a frozen directed account is E005, not E027.
    bank.connection.execute("UPDATE accounts SET status = 'frozen' WHERE acno = ?",
                            (DIRECTED,))
    assert code_of(bank, same_bank(A3, 100, pay=DIRECTED)) == codes.ACCOUNT_FROZEN.code


def test_a_batch_payment_from_a_directed_account_fails_only_the_unlisted_item(bank):
    reply = bank.execute(batch_payment("B1", [(P1, "张三", 1_000, "ok1"),
                                              (P2, "李四", 2_000, "bad"),
                                              (P1, "张三", 3_000, "ok2")], pay_acno=DIRECTED))
    assert reply.ok
    assert items_of(bank, "B1") == {"ok1": ("F", ""), "bad": ("E", "E027"), "ok2": ("F", "")}
    err_msg = bank.connection.execute(
        "SELECT err_msg FROM batch_items WHERE busino = 'bad'").fetchone()[0]
    assert P2 in err_msg and "directed" in err_msg
    assert balance(bank, P1) == 4_000 and balance(bank, P2) == 1_000 * YUAN
    month = usage(bank)
    assert month[("all", "2026-11")] == 4_000  # executed items only
    assert month[("personal", "2026-11-28")] == month[("personal", "2026-11")] == 4_000


def test_a_batch_from_an_account_not_directed_pays_every_card(bank):
    assert bank.execute(batch_payment("B2", [(P1, "张三", 1_000, "a"), (P2, "李四", 2_000, "b")],
                                      pay_acno=A1)).ok
    assert items_of(bank, "B2") == {"a": ("F", ""), "b": ("F", "")}


def test_a_directed_list_changed_in_the_database_counts_from_the_next_instruction(bank):
    assert code_of(bank, same_bank(A3, 100, pay=DIRECTED)) == "E027"
    bank.connection.execute("INSERT INTO directed_payees (corp_no, acno, payee_acno)"
                            " VALUES (?, ?, ?)", (CORP, DIRECTED, A3))
    assert code_of(bank, same_bank(A3, 100, pay=DIRECTED)) == "0000"


# -- each limit, its own code -------------------------------------------------------------------


def test_single_limits(bank):
    assert code_of(bank, same_bank(A2, SINGLE + 1)) == codes.SINGLE_LIMIT.code
    assert code_of(bank, inter_bank(CORP_EXT, SINGLE + 1)) == codes.SINGLE_LIMIT.code
    reply = bank.execute(same_bank(P1, P_SINGLE + 1))
    assert reply.ret_code == codes.PERSONAL_SINGLE_LIMIT.code
    assert reply.ret_msg == "amount 20000.01 over 公转私单笔限额 20000.00"
    assert code_of(bank, inter_bank(CARD, P_SINGLE + 1)) == codes.PERSONAL_SINGLE_LIMIT.code
    assert code_of(bank, bank_flag_1(CARD, P_SINGLE + 1)) == codes.PERSONAL_SINGLE_LIMIT.code
    # Above the 公转私 single limit, but to an enterprise: only the enterprise's limit.
    assert bank.execute(same_bank(A2, P_SINGLE + 1)).ok
    assert bank.execute(inter_bank(CORP_EXT, SINGLE)).ok
    assert bank.execute(same_bank(P1, P_SINGLE)).ok


def test_the_daily_limit_counts_accepted_payments_and_restarts_the_next_day(bank):
    for _ in range(3):
        assert bank.execute(same_bank(A2, SINGLE)).ok
    reply = bank.execute(same_bank(A2, 1))
    assert reply.ret_code == codes.DAILY_LIMIT.code
    assert reply.ret_msg == "daily limit 300000.00: used 300000.00, requested 0.01"
    assert daily_usage(bank) == {"2026-11-28": DAILY}
    bank.end_of_day()
    assert bank.execute(same_bank(A2, 1)).ok
    assert daily_usage(bank) == {"2026-11-28": DAILY, "2026-11-29": 1}


def test_the_personal_daily_limit_counts_only_payments_to_individuals(bank):
    assert bank.execute(same_bank(P1, P_SINGLE)).ok
    assert bank.execute(inter_bank(CARD, P_SINGLE)).ok
    assert bank.execute(same_bank(A2, SINGLE)).ok  # to an enterprise: not 公转私
    assert bank.execute(inter_bank(CORP_EXT, SINGLE)).ok
    reply = bank.execute(same_bank(P2, 10_000 * YUAN + 1))
    assert reply.ret_code == codes.PERSONAL_DAILY_LIMIT.code
    assert reply.ret_msg == "公转私日限额 50000.00: used 40000.00, requested 10000.01"
    assert bank.execute(bank_flag_1(CARD, 10_000 * YUAN)).ok  # exactly up to the limit
    assert code_of(bank, inter_bank(CARD, 1)) == codes.PERSONAL_DAILY_LIMIT.code
    assert usage(bank) == {("all", "2026-11"): 2 * SINGLE + P_DAILY,
                           ("personal", "2026-11-28"): P_DAILY,
                           ("personal", "2026-11"): P_DAILY}
    bank.end_of_day()
    assert bank.execute(inter_bank(CARD, 1)).ok


def test_the_monthly_limit_spans_business_days_and_restarts_in_a_new_month(bank):
    # 28 November: 300,000.00 (the daily limit); 29 November: 200,000.00 more.
    for _ in range(3):
        assert bank.execute(same_bank(A2, SINGLE)).ok
    assert bank.end_of_day() == date(2026, 11, 29)
    assert bank.execute(same_bank(A2, SINGLE)).ok
    assert bank.execute(inter_bank(CORP_EXT, SINGLE - 1)).ok
    reply = bank.execute(same_bank(A2, 2))
    assert reply.ret_code == codes.MONTHLY_LIMIT.code
    assert reply.ret_msg == "monthly limit 500000.00: used 499999.99, requested 0.02"
    assert bank.execute(same_bank(A2, 1)).ok  # exactly the limit: the refusal did not count
    assert bank.end_of_day() == date(2026, 11, 30)
    assert code_of(bank, same_bank(A2, 1)) == codes.MONTHLY_LIMIT.code  # same month
    assert bank.end_of_day() == date(2026, 12, 1)
    assert bank.execute(same_bank(A2, SINGLE)).ok  # a new month
    assert usage(bank)[("all", "2026-11")] == MONTHLY
    assert usage(bank)[("all", "2026-12")] == SINGLE


def test_the_personal_monthly_limit_spans_days_and_restarts_in_a_new_month(bank):
    for _ in range(2):
        assert bank.execute(same_bank(P1, P_SINGLE)).ok
    bank.end_of_day()
    assert bank.execute(inter_bank(CARD, P_SINGLE)).ok
    assert bank.execute(same_bank(P2, 10_000 * YUAN)).ok
    assert code_of(bank, same_bank(P1, 10_000 * YUAN + 1)) == codes.PERSONAL_MONTHLY_LIMIT.code
    assert code_of(bank, inter_bank(CARD, 10_000 * YUAN + 1)) == \
        codes.PERSONAL_MONTHLY_LIMIT.code
    assert bank.execute(same_bank(P1, 10_000 * YUAN)).ok  # the refusals did not count
    assert code_of(bank, same_bank(P1, 1)) == codes.PERSONAL_MONTHLY_LIMIT.code
    assert bank.execute(same_bank(A2, 1)).ok  # to an enterprise: not 公转私
    bank.end_of_day()
    bank.end_of_day()  # 1 December
    assert bank.business_date == date(2026, 12, 1)
    assert bank.execute(same_bank(P1, P_SINGLE)).ok
    assert usage(bank)[("personal", "2026-11")] == P_MONTHLY
    assert usage(bank)[("personal", "2026-12")] == P_SINGLE


def test_the_enterprise_limits_come_before_the_personal_ones_and_funds_last(bank):
    # Above both single limits: E009 is answered first.
    assert code_of(bank, same_bank(P1, SINGLE + 1)) == codes.SINGLE_LIMIT.code
    # Above the 公转私 single limit and the funds: the limit comes first.
    assert code_of(bank, same_bank(P1, P_SINGLE + 1, pay=A2)) == \
        codes.PERSONAL_SINGLE_LIMIT.code
    assert code_of(bank, same_bank(P1, 100, pay=A2)) == codes.INSUFFICIENT_FUNDS.code


def test_limits_of_the_month_end_seed_across_a_month_change(tmp_path):
    clock = FakeClock(datetime(2026, 11, 30, 9, 30))
    seed = make_seed(Limits(monthly=1_000 * YUAN,
                            to_personal=PersonalLimits(daily=300 * YUAN, monthly=500 * YUAN)),
                     business_date=date(2026, 11, 30))
    bank = open_bank(tmp_path / "core.db", seed, clock)
    try:
        assert bank.execute(same_bank(P1, 300 * YUAN)).ok
        assert code_of(bank, same_bank(P1, 1)) == codes.PERSONAL_DAILY_LIMIT.code
        assert bank.execute(same_bank(A2, 700 * YUAN)).ok
        assert code_of(bank, same_bank(A2, 1)) == codes.MONTHLY_LIMIT.code
        clock.advance(days=1)
        assert bank.end_of_day() == date(2026, 12, 1)
        assert bank.execute(same_bank(P1, 300 * YUAN)).ok
        assert bank.execute(same_bank(A2, 700 * YUAN)).ok
        assert code_of(bank, same_bank(A2, 1)) == codes.MONTHLY_LIMIT.code
        assert usage(bank) == {("all", "2026-11"): 1_000 * YUAN,
                               ("all", "2026-12"): 1_000 * YUAN,
                               ("personal", "2026-11-30"): 300 * YUAN,
                               ("personal", "2026-11"): 300 * YUAN,
                               ("personal", "2026-12-01"): 300 * YUAN,
                               ("personal", "2026-12"): 300 * YUAN}
    finally:
        bank.close()
    assert check_ledger(tmp_path / "core.db").ok


def test_a_returned_inter_bank_payment_keeps_counting(bank):
    bank.connection.execute("UPDATE accounts SET status = 'closed' WHERE acno = ?", (CARD,))
    assert bank.execute(inter_bank(CARD, P_SINGLE)).ok  # accepted: clearing returns it later
    bank.run_clearing(force_batch=True)
    assert balance(bank, A1) == 10_000_000 * YUAN  # returned
    assert usage(bank)[("personal", "2026-11-28")] == P_SINGLE


# -- batches -------------------------------------------------------------------------------


def test_batch_items_meet_each_limit_with_their_own_code_and_count_when_executed(bank):
    assert bank.execute(same_bank(P1, 15_000 * YUAN)).ok  # 公转私 today: 15,000.00
    reply = bank.execute(batch_payment("B3", [
        (P1, "张三", P_SINGLE + 1, "over_single"),       # E029
        (P2, "李四", 20_000 * YUAN, "ok1"),              # 35,000.00
        (P1, "张三", 20_000 * YUAN, "over_daily"),       # would be 55,000.00: E030
        (P2, "李四", 15_000 * YUAN, "ok2"),              # exactly 50,000.00
        (P1, "张三", 1, "over_daily_2"),
    ]))
    assert reply.ok
    assert items_of(bank, "B3") == {
        "over_single": ("E", "E029"), "ok1": ("F", ""), "over_daily": ("E", "E030"),
        "ok2": ("F", ""), "over_daily_2": ("E", "E030")}
    assert usage(bank)[("personal", "2026-11-28")] == P_DAILY
    assert daily_usage(bank) == {"2026-11-28": P_DAILY}
    bank.end_of_day()
    # The month's 公转私 limit (80,000.00): 50,000.00 used; 30,000.00 left.
    reply = bank.execute(batch_payment("B4", [
        (P1, "张三", 20_000 * YUAN, "a"), (P2, "李四", 10_000 * YUAN + 1, "b"),
        (P2, "李四", 10_000 * YUAN, "c")]))
    assert items_of(bank, "B4") == {"a": ("F", ""), "b": ("E", "E031"), "c": ("F", "")}
    assert usage(bank)[("personal", "2026-11")] == P_MONTHLY


def test_a_batch_item_above_the_enterprise_single_limit_fails_with_e009(tmp_path, clock):
    seed = make_seed(Limits(single=1_000 * YUAN, daily=1_500 * YUAN))
    bank = open_bank(tmp_path / "core.db", seed, clock)
    try:
        assert bank.execute(batch_payment("B5", [
            (P1, "张三", 1_000 * YUAN + 1, "a"), (P1, "张三", 1_000 * YUAN, "b"),
            (P2, "李四", 600 * YUAN, "c"), (P2, "李四", 500 * YUAN, "d")])).ok
        assert items_of(bank, "B5") == {"a": ("E", "E009"), "b": ("F", ""),
                                        "c": ("E", "E010"), "d": ("F", "")}
        assert code_of(bank, same_bank(A2, 1)) == codes.DAILY_LIMIT.code  # shared with transfers
    finally:
        bank.close()


def test_a_file_batch_in_chunks_counts_every_chunk(tmp_path, clock):
    seed = make_seed(Limits(to_personal=PersonalLimits(daily=2_500 * YUAN)))
    bank = open_bank(tmp_path / "core.db", seed, clock)
    try:
        items = [(P1 if n % 2 else P2, "张三" if n % 2 else "李四", YUAN, f"i{n}")
                 for n in range(3000)]
        segments = [batch_payment("F1", items[i:i + 1000], file_flag="1", frag_no=k,
                                  more=k < 3, total=(3000, 3000 * YUAN))
                    for k, i in enumerate(range(0, 3000, 1000), start=1)]
        assert all(bank.execute(s).ok for s in segments)
        while not bank.run_batches(limit=700).finished:
            pass
        ok, failed = bank.connection.execute(
            "SELECT ok_count, fail_count FROM batches").fetchone()
        assert (ok, failed) == (2500, 500)
        codes_ = {c for (c,) in bank.connection.execute(
            "SELECT err_code FROM batch_items WHERE status = 'failed'")}
        assert codes_ == {"E030"}
        assert usage(bank)[("personal", "2026-11-28")] == 2_500 * YUAN
    finally:
        bank.close()
    assert check_ledger(tmp_path / "core.db").ok


def test_collections_are_not_limited_or_counted(tmp_path, clock):
    tiny = Limits(single=1, daily=1, monthly=1,
                  to_personal=PersonalLimits(single=1, daily=1, monthly=1))
    bank = open_bank(tmp_path / "core.db", make_seed(tiny), clock)
    try:
        bank.connection.execute(
            "INSERT INTO agreements (agreement_no, corp_no, rcv_acno, payer_acno, payer_name,"
            " status, created_at, updated_at) VALUES ('AG1', ?, ?, ?, '李四', 'active', '', '')",
            (CORP, A1, P2))
        reply = bank.execute(Request(CORP, "001", "330010", "C1", {
            "cert_no": "C1", "rcv_acno": A1, "sum": 1, "sum_amt": 500, "summary": "fee",
            "busi_no": "FEE", "file_flag": "0",
            "items": [{"pay_acno": P2, "pay_acname": "李四", "agreement_no": "AG1", "amt": 500,
                       "busino": "c1", "pay_bank_no": ""}]}))
        assert reply.ok
        assert items_of(bank, "C1") == {"c1": ("F", "")}
        assert usage(bank) == {} and daily_usage(bank) == {}
        assert code_of(bank, same_bank(A2, 2)) == codes.SINGLE_LIMIT.code  # the limits hold
    finally:
        bank.close()
    assert check_ledger(tmp_path / "core.db").ok


# -- the rules themselves ------------------------------------------------------------------


@pytest.mark.parametrize(("acno", "personal"), [
    ("6222020200000000001", True),     # 19 digits
    ("6222020200000001", True),        # 16
    ("622202020000001", False),        # 15
    ("62220202000000000001", False),   # 20
    ("6522020200000000001", False),    # not 62
    ("1001234509000001234", False),    # an enterprise account
    ("62220202000000000a1", False),
    ("６２２２０２０２００００００００００１", False),  # full-width digits
])
def test_which_other_bank_accounts_are_taken_as_individuals(acno, personal):
    assert limits.is_personal_card(acno) is personal


def test_check_funds_false_skips_only_insufficient_funds(bank):
    conn = bank.connection
    ledger = Ledger(conn)
    broke = same_bank(A3, 100, pay=A2)
    with pytest.raises(transfers.Refused) as caught:
        transfers._plan(ledger, broke)
    assert caught.value.code == codes.INSUFFICIENT_FUNDS
    plan = transfers._plan(ledger, broke, check_funds=False)
    assert (plan.amt, plan.to_personal) == (100, False)
    assert transfers._plan(ledger, same_bank(P1, 100, pay=A2), check_funds=False).to_personal
    assert transfers._plan(ledger, inter_bank(CARD, 100, pay=A2), check_funds=False).to_personal
    assert not transfers._plan(ledger, inter_bank(CORP_EXT, 100, pay=A2),
                               check_funds=False).to_personal
    for request, code in ((same_bank(A2, SINGLE + 1), codes.SINGLE_LIMIT),
                          (same_bank(P1, P_SINGLE + 1), codes.PERSONAL_SINGLE_LIMIT),
                          (same_bank(P2, 100, pay=DIRECTED), codes.DIRECTED_PAYEE)):
        with pytest.raises(transfers.Refused) as caught:
            transfers._plan(ledger, request, check_funds=False)
        assert caught.value.code == code


def test_record_keeps_the_daily_usage_the_daily_limit_reads(bank):
    conn = bank.connection
    conn.execute("BEGIN IMMEDIATE")
    ledger = Ledger(conn)
    limits.record(ledger, CORP, 700, to_personal=False)
    limits.record(ledger, CORP, 300, to_personal=True)
    assert ledger.daily_usage(CORP) == 1_000
    conn.execute("COMMIT")
    assert daily_usage(bank) == {"2026-11-28": 1_000}
    assert usage(bank) == {("all", "2026-11"): 1_000, ("personal", "2026-11-28"): 300,
                           ("personal", "2026-11"): 300}


# -- a property: usage is what executed, and never above a limit --------------------------------


_STEP = st.one_of(
    st.tuples(st.just("pay"), st.sampled_from([A2, P1, CARD, CORP_EXT]),
              st.integers(1, 40_000 * YUAN)),
    st.tuples(st.just("eod"), st.just(""), st.just(0)),
)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(_STEP, max_size=40))
def test_usage_is_the_sum_of_what_executed_and_never_exceeds_a_limit(tmp_path_factory, steps):
    path = tmp_path_factory.mktemp("prop") / "core.db"
    clock = FakeClock(datetime(2026, 11, 28, 9, 30))
    small = Limits(single=30_000 * YUAN, daily=60_000 * YUAN, monthly=150_000 * YUAN,
                   to_personal=PersonalLimits(single=20_000 * YUAN, daily=40_000 * YUAN,
                                              monthly=70_000 * YUAN))
    bank = open_bank(path, make_seed(small), clock)
    executed: dict[tuple[str, str], int] = {}
    try:
        for kind, payee, amt in steps:
            if kind == "eod":
                clock.advance(days=1)
                bank.end_of_day()
                continue
            day = bank.business_date.isoformat()
            request = inter_bank(payee, amt) if payee in (CARD, CORP_EXT) else \
                same_bank(payee, amt)
            if bank.execute(request).ok:
                personal = payee in (P1, CARD)
                for key in (("all", day[:7]), ("day", day)) + (
                        (("personal", day), ("personal", day[:7])) if personal else ()):
                    executed[key] = executed.get(key, 0) + amt
        recorded = usage(bank)
        days = daily_usage(bank)
    finally:
        bank.close()
    assert recorded == {k: v for k, v in executed.items() if k[0] != "day"}
    assert days == {k[1]: v for k, v in executed.items() if k[0] == "day"}
    for (scope, period), amount in recorded.items():
        cap = {("all", 7): small.monthly, ("personal", 7): small.to_personal.monthly,
               ("personal", 10): small.to_personal.daily}[(scope, len(period))]
        assert amount <= cap
    assert all(total <= small.daily for total in days.values())
    with sqlite3.connect(path) as conn:  # what executed, from the instructions themselves
        accepted = conn.execute("SELECT COALESCE(SUM(amt), 0) FROM instructions"
                                " WHERE status IN ('success', 'processing')").fetchone()[0]
    assert accepted == sum(days.values())
    assert check_ledger(path).ok

