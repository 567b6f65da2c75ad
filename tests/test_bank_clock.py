"""The bank's business clock: modes, setting and moving it, and what moves with it.

In-process, against a real SQLite file under ``tmp_path``; the machine's
clock is a fake (``FakeClock``), or a callable that fails the test if the
bank asks it for the time while the business clock is set.
"""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import UTC, date, datetime, timedelta

import pytest

from core_sim.bank import MAX_DAYS_AHEAD, Bank
from core_sim.check import check_ledger
from core_sim.clock import (
    FROZEN,
    META_KEY,
    RUNNING,
    SYSTEM,
    ClockError,
    ClockSetting,
    china_time,
    frozen_at,
    parse_duration,
    parse_moment,
    running_from,
    start_of,
)
from core_sim.home import CoreHome
from core_sim.scenario import Scenario
from directlink.testing.controls import BankClock
from tests.test_bank import A1, A2, CORP, FakeClock, make_seed, payment, query, transfer

SEED_DATE = date(2026, 11, 24)  # make_seed()'s business date
MACHINE_NOW = datetime(2026, 11, 24, 9, 30, 0)  # FakeClock's start


@pytest.fixture
def machine() -> FakeClock:
    return FakeClock(MACHINE_NOW)


@pytest.fixture
def db(tmp_path):
    return tmp_path / "ledger.db"


@pytest.fixture
def bank(db, machine):
    bank = Bank.open(db, seed=make_seed(), clock=machine, journal=db.with_name("journal.jsonl"))
    yield bank
    bank.close()
    report = check_ledger(db)
    assert report.ok, str(report)


def journal(db) -> list[dict]:
    path = db.with_name("journal.jsonl")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def instruction(bank: Bank, req_no: str) -> tuple[str, str]:
    """(status, err_msg) of an instruction, as 310204 reports it."""
    fields = bank.execute(query("310204", query_flag="1", ogl_serial_no=req_no)).fields
    return fields["stat"], fields["err_msg"]


def settlement(db, req_no: str) -> tuple[int, str, str, str]:
    """How an instruction's settle entry came: (run batch flag, run created_at,
    entry biz_date, entry created_at)."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT r.batch, r.created_at, e.biz_date, e.created_at FROM entries e"
            " JOIN instructions i ON i.id = e.instruction_id"
            " JOIN clearing_runs r ON r.id = e.clearing_run_id"
            " WHERE i.req_no = ? AND e.kind = 'settle'", (req_no,)).fetchall()
    assert len(rows) == 1, rows
    return rows[0]


def stored_setting(db) -> ClockSetting:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (META_KEY,)).fetchone()
    return ClockSetting.from_text(row and row[0])


# -- modes and the stored setting --------------------------------------------------------


def test_a_new_bank_follows_the_machine(bank, machine):
    reading = bank.clock_reading()
    assert reading.setting == ClockSetting(SYSTEM)
    assert not reading.setting.is_set
    assert (reading.now, reading.business_date, reading.days_closed) == (
        MACHINE_NOW, SEED_DATE, 0)
    machine.advance(hours=3)
    assert bank.clock_reading().now == MACHINE_NOW + timedelta(hours=3)
    # The machine's date moving on does not move the business date.
    machine.advance(days=2)
    assert bank.clock_reading().business_date == SEED_DATE


@pytest.mark.parametrize("setting", [
    ClockSetting(),
    frozen_at(datetime(2026, 12, 1, 9, 0, 0)),
    running_from(datetime(2026, 12, 1, 9, 0, 0), real=lambda: 1_700_000_000.25),
], ids=["system", "frozen", "running"])
def test_a_setting_round_trips_through_its_text(setting):
    text = setting.to_text()
    assert json.loads(text)["mode"] == setting.mode
    assert ClockSetting.from_text(text) == setting


def test_setting_construction_and_damaged_text():
    assert ClockSetting.from_text(None) == ClockSetting()
    assert ClockSetting.from_text("") == ClockSetting()
    assert frozen_at(datetime(2026, 12, 1, 9, 0, 0, 999_999)).at == datetime(2026, 12, 1, 9)
    # An aware moment is China time once stored (UTC+8).
    assert frozen_at(datetime(2026, 12, 1, 1, 0, tzinfo=UTC)).at == \
        datetime(2026, 12, 1, 9, 0)
    with pytest.raises(ClockError, match="clock mode must be one of system, frozen, running"):
        ClockSetting("paused", datetime(2026, 12, 1))
    with pytest.raises(ClockError, match="a frozen clock needs a time"):
        ClockSetting(FROZEN)
    with pytest.raises(ClockError, match="a system clock has no time"):
        ClockSetting(SYSTEM, datetime(2026, 12, 1))
    for damaged in ('{"mode": "frozen"}', "not json", '{"mode": "frozen", "at": "soon"}',
                    "[1, 2]"):
        with pytest.raises(ClockError, match="stored clock setting is damaged"):
            ClockSetting.from_text(damaged)


def test_a_running_clock_advances_with_the_real_time_source():
    start = datetime(2026, 12, 1, 9, 0, 0)
    real = [1000.0]
    setting = running_from(start, real=lambda: real[0])
    assert setting.mode == RUNNING and setting.real_at == 1000.0
    assert setting.now(real=lambda: real[0]) == start
    real[0] = 1090.5
    assert setting.now(real=lambda: real[0]) == start + timedelta(seconds=90.5)
    real[0] = 1000.0 + 86_400
    assert setting.now(real=lambda: real[0]) == start + timedelta(days=1)
    # A real clock stepped back never takes business time back before the set moment.
    real[0] = 900.0
    assert setting.now(real=lambda: real[0]) == start


def test_a_frozen_clock_stands_still_while_the_machine_runs(bank, machine, db):
    moment = datetime(2026, 11, 24, 10, 0, 0)
    reading = bank.set_clock(moment)
    assert reading.setting == ClockSetting(FROZEN, moment, None)
    assert (reading.now, reading.business_date, reading.days_closed) == (moment, SEED_DATE, 0)
    machine.advance(hours=5)
    assert bank.clock_reading().now == moment
    assert stored_setting(db) == ClockSetting(FROZEN, moment, None)


def test_set_running_runs_from_the_moment(bank):
    moment = datetime(2026, 11, 24, 10, 0, 0)
    before = time.time()
    reading = bank.set_clock(moment, running=True)
    after = time.time()
    assert reading.setting.mode == RUNNING and reading.setting.at == moment
    assert before <= reading.setting.real_at <= after
    assert moment <= reading.now < moment + timedelta(seconds=5)


def test_release_lets_the_clock_follow_the_machine_and_keeps_the_date(bank, machine):
    bank.set_clock(datetime(2026, 11, 26, 8, 0, 0))  # two days closed
    reading = bank.release_clock()
    assert reading.setting == ClockSetting()
    assert reading.now == MACHINE_NOW
    assert reading.business_date == date(2026, 11, 26)


# -- what a change may not do ---------------------------------------------------------------


@pytest.mark.parametrize(("moment", "message"), [
    (datetime(2026, 11, 23, 23, 59, 59),
     "the business date is already 2026-11-24: the clock cannot go back to 2026-11-23 23:59:59"),
    (start_of(SEED_DATE) + timedelta(days=MAX_DAYS_AHEAD + 1),
     "2027-12-30 is more than 400 days past the business date 2026-11-24;"
     " move the clock in smaller steps"),
])
def test_set_refused_outside_the_business_dates(bank, db, moment, message):
    with pytest.raises(ClockError) as caught:
        bank.set_clock(moment)
    assert str(caught.value) == message
    assert bank.clock_reading().setting == ClockSetting()
    assert stored_setting(db) == ClockSetting()


def test_set_accepts_the_start_of_the_business_date_and_the_last_day_allowed(bank):
    assert bank.set_clock(start_of(SEED_DATE)).now == datetime(2026, 11, 24, 0, 0, 0)
    last = start_of(SEED_DATE) + timedelta(days=MAX_DAYS_AHEAD, hours=23, minutes=59)
    reading = bank.set_clock(last)
    assert reading.business_date == date(2027, 12, 29)
    assert reading.days_closed == MAX_DAYS_AHEAD


def test_a_set_clock_never_goes_back(bank):
    bank.set_clock(datetime(2026, 11, 24, 15, 0, 0))
    with pytest.raises(ClockError) as caught:
        bank.set_clock(datetime(2026, 11, 24, 14, 59, 59))
    assert str(caught.value) == ("the clock already shows 2026-11-24 15:00:00:"
                                 " it cannot go back to 2026-11-24 14:59:59")
    assert bank.clock_reading().now == datetime(2026, 11, 24, 15, 0, 0)
    # The same time again is no step back.
    assert bank.set_clock(datetime(2026, 11, 24, 15, 0, 0)).now == datetime(2026, 11, 24, 15)
    with pytest.raises(ClockError, match="the clock only moves forward"):
        bank.advance_clock(timedelta(seconds=-1))


def test_advance_beyond_the_days_allowed_is_refused(bank):
    bank.set_clock(datetime(2026, 11, 24, 12, 0, 0))
    with pytest.raises(ClockError, match="more than 400 days past the business date"):
        bank.advance_clock(timedelta(days=MAX_DAYS_AHEAD + 1))
    assert bank.clock_reading().now == datetime(2026, 11, 24, 12, 0, 0)


# -- advancing: clearing cycles and ends of day ------------------------------------------------


def test_advance_runs_one_clearing_cycle(bank, db):
    bank.set_clock(datetime(2026, 11, 24, 10, 0, 0))
    assert bank.execute(payment("U1", 10_000, urgent="1")).fields == {"tran_status": "34"}
    assert bank.execute(payment("N1", 20_000, urgent="0")).fields == {"tran_status": "34"}
    assert instruction(bank, "U1") == ("0", "")
    reading = bank.advance_clock(timedelta(minutes=1))
    assert (reading.now, reading.business_date, reading.days_closed) == (
        datetime(2026, 11, 24, 10, 1, 0), SEED_DATE, 0)
    assert instruction(bank, "U1") == ("1", "")  # urgent: settled in that cycle
    assert instruction(bank, "N1") == ("0", "")  # normal: waits for a batch clearing
    assert settlement(db, "U1") == (0, "2026-11-24T10:01:00", "20261124",
                                    "2026-11-24T10:01:00")
    clearings = [e for e in journal(db) if e["kind"] == "clearing"]
    assert [(e["at"], e["run_no"], [p["req_no"] for p in e["payments"]])
            for e in clearings] == [("2026-11-24T10:01:00", 1, ["U1"])]


def test_advance_zero_changes_nothing(bank):
    bank.set_clock(datetime(2026, 11, 24, 10, 0, 0))
    bank.execute(payment("U1", urgent="1"))
    reading = bank.advance_clock(timedelta())
    assert reading.now == datetime(2026, 11, 24, 10, 0, 0) and reading.days_closed == 0
    assert instruction(bank, "U1") == ("0", "")


def test_crossing_midnight_runs_end_of_day_and_settles_normal_payments(bank, db):
    bank.set_clock(datetime(2026, 11, 24, 16, 0, 0))
    assert bank.execute(payment("N1", 20_000, urgent="0")).ok
    reading = bank.advance_clock(timedelta(hours=9))
    assert (reading.now, reading.business_date, reading.days_closed) == (
        datetime(2026, 11, 25, 1, 0, 0), date(2026, 11, 25), 1)
    assert instruction(bank, "N1") == ("1", "")
    # Settled by the end of day's batch clearing, in the day it closed.
    assert settlement(db, "N1") == (1, "2026-11-24T23:59:59", "20261124",
                                    "2026-11-24T23:59:59")
    days = [e["business_date"] for e in journal(db) if e["kind"] == "end_of_day"]
    assert days == ["2026-11-25"]


def test_each_day_crossed_is_closed(bank, db):
    bank.set_clock(datetime(2026, 11, 24, 12, 0, 0))
    reading = bank.advance_clock(timedelta(days=3, hours=1))
    assert (reading.business_date, reading.days_closed) == (date(2026, 11, 27), 3)
    assert reading.now == datetime(2026, 11, 27, 13, 0, 0)
    days = [e["business_date"] for e in journal(db) if e["kind"] == "end_of_day"]
    assert days == ["2026-11-25", "2026-11-26", "2026-11-27"]
    # Setting the clock days ahead closes them too.
    reading = bank.set_clock(datetime(2026, 11, 29, 8, 0, 0))
    assert (reading.business_date, reading.days_closed) == (date(2026, 11, 29), 2)
    # The serials of the new day carry its date.
    assert bank.execute(transfer("T1")).serial_no.startswith("20261129")


def test_advance_from_the_machine_clock_freezes_it_ahead(bank, machine):
    reading = bank.advance_clock(timedelta(hours=2))
    assert reading.setting == ClockSetting(FROZEN, MACHINE_NOW + timedelta(hours=2), None)
    machine.advance(hours=1)
    assert bank.clock_reading().now == MACHINE_NOW + timedelta(hours=2)


def test_advance_keeps_a_running_clock_running(bank):
    bank.set_clock(datetime(2026, 11, 24, 10, 0, 0), running=True)
    reading = bank.advance_clock(timedelta(hours=1))
    assert reading.setting.mode == RUNNING
    assert datetime(2026, 11, 24, 11, 0, 0) <= reading.now < datetime(2026, 11, 24, 11, 0, 5)


def test_advance_across_midnight_stamps_every_entry_within_its_business_day(bank, db):
    bank.set_clock(datetime(2026, 11, 24, 23, 0, 0))
    bank.execute(payment("U1", 10_000, urgent="1"))
    bank.execute(payment("N1", 20_000, urgent="0"))
    bank.advance_clock(timedelta(hours=2))
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT serial_no, kind, biz_date, created_at FROM entries"
                            " ORDER BY id").fetchall()
    outside = [row for row in rows if row[3][:10].replace("-", "") != row[2]]
    assert outside == []
    stamps = [row[3] for row in rows]
    assert stamps == sorted(stamps)


# -- end of day -------------------------------------------------------------------------------


def test_end_of_day_moves_a_set_clock_to_the_next_days_start(bank, db):
    bank.set_clock(datetime(2026, 11, 24, 15, 30, 0))
    bank.execute(payment("N1", 20_000, urgent="0"))
    assert bank.end_of_day() == date(2026, 11, 25)
    reading = bank.clock_reading()
    assert reading.setting == ClockSetting(FROZEN, datetime(2026, 11, 25, 0, 0, 0), None)
    assert reading.business_date == date(2026, 11, 25)
    assert instruction(bank, "N1") == ("1", "")
    assert settlement(db, "N1")[:3] == (1, "2026-11-24T23:59:59", "20261124")


def test_end_of_day_keeps_a_running_clock_running(bank):
    bank.set_clock(datetime(2026, 11, 24, 15, 30, 0), running=True)
    assert bank.end_of_day() == date(2026, 11, 25)
    reading = bank.clock_reading()
    assert reading.setting.mode == RUNNING
    assert datetime(2026, 11, 25) <= reading.now < datetime(2026, 11, 25, 0, 0, 5)


def test_end_of_day_on_the_machine_clock_moves_only_the_date(bank, machine):
    assert bank.end_of_day() == date(2026, 11, 25)
    reading = bank.clock_reading()
    assert reading.setting == ClockSetting() and reading.now == MACHINE_NOW
    assert reading.business_date == date(2026, 11, 25)


# -- scheduled clearing and timestamps while frozen ------------------------------------------


def test_a_scheduled_clearing_run_does_nothing_while_frozen(bank, db):
    bank.set_clock(datetime(2026, 11, 24, 10, 0, 0))
    bank.execute(payment("U1", urgent="1"))
    for _ in range(4):  # a batch run would come by the third
        assert bank.run_clearing(scheduled=True) is None
    assert instruction(bank, "U1") == ("0", "")
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM clearing_runs").fetchone() == (0,)
    # A run asked for by hand still clears, at the frozen time.
    report = bank.run_clearing()
    assert report is not None and [p.req_no for p in report.settled] == ["U1"]
    assert report.run_no == 1
    assert settlement(db, "U1")[3] == "2026-11-24T10:00:00"


@pytest.mark.parametrize("running", [False, True], ids=["machine", "running"])
def test_a_scheduled_clearing_run_clears_unless_frozen(bank, running):
    if running:
        bank.set_clock(datetime(2026, 11, 24, 10, 0, 0), running=True)
    bank.execute(payment("U1", urgent="1"))
    report = bank.run_clearing(scheduled=True)
    assert report is not None and [p.req_no for p in report.settled] == ["U1"]


def test_entries_posted_while_frozen_carry_the_frozen_time(bank, machine, db):
    bank.set_clock(datetime(2026, 11, 24, 10, 15, 30))
    machine.advance(hours=4)  # the machine's time is not the bank's
    first = bank.execute(transfer("T1", 1_000))
    machine.advance(minutes=7)
    second = bank.execute(payment("U1", 2_000, urgent="1"))
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT serial_no, biz_date, created_at, tr_time FROM entries"
            " WHERE serial_no IN (?, ?) ORDER BY id",
            (first.serial_no, second.serial_no)).fetchall()
        stamps = {row[0] for row in conn.execute(
            "SELECT created_at FROM instructions WHERE req_no IN ('T1', 'U1')")}
    assert rows == [
        (first.serial_no, "20261124", "2026-11-24T10:15:30", "101530"),
        (second.serial_no, "20261124", "2026-11-24T10:15:30", "101530"),
    ]
    assert stamps == {"2026-11-24T10:15:30"}
    details = bank.execute(query("310201", acno=A1)).fields["records"]
    assert [(r["tr_date"], r["tr_time"]) for r in details[-2:]] == [
        ("20261124", "101530"), ("20261124", "101530")]
    request_events = [e for e in journal(db) if e["kind"] == "request"]
    assert {e["at"] for e in request_events} == {"2026-11-24T10:15:30"}


# -- another process on the same bank --------------------------------------------------------


def test_another_bank_object_sees_the_clock_at_its_next_transaction(bank, db):
    other = Bank.open(db, clock=FakeClock(datetime(2030, 1, 1, 0, 0, 0)))
    try:
        assert other.clock_reading().now == datetime(2030, 1, 1)  # its own machine clock
        bank.set_clock(datetime(2026, 11, 25, 11, 0, 0))  # closes 2026-11-24
        reply = other.execute(transfer("T1", 1_000))
        assert reply.serial_no.startswith("20261125")
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT created_at FROM entries WHERE serial_no = ?",
                                (reply.serial_no,)).fetchone() == ("2026-11-25T11:00:00",)
        reading = other.clock_reading()
        assert (reading.setting.mode, reading.now, reading.business_date) == (
            FROZEN, datetime(2026, 11, 25, 11, 0, 0), date(2026, 11, 25))
        # And the other way round: what the second one changes, the first one sees.
        other.advance_clock(timedelta(days=1))
        reading = bank.clock_reading()
        assert (reading.now, reading.business_date) == (
            datetime(2026, 11, 26, 11, 0, 0), date(2026, 11, 26))
        other.release_clock()
        assert bank.clock_reading().setting == ClockSetting()
    finally:
        other.close()


def test_a_running_clock_past_midnight_closes_the_day_at_the_next_transaction(bank, db):
    # As if the clock had been set running at 23:00 two hours ago (another process wrote it).
    setting = ClockSetting(RUNNING, datetime(2026, 11, 24, 23, 0, 0), time.time() - 7200)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = ?", (setting.to_text(), META_KEY))
        if conn.total_changes == 0:
            conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)",
                         (META_KEY, setting.to_text()))
    reply = bank.execute(transfer("T1", 1_000))
    assert reply.ok and reply.serial_no.startswith("20261125")
    assert bank.business_date == date(2026, 11, 25)
    days = [e["business_date"] for e in journal(db) if e["kind"] == "end_of_day"]
    assert days == ["2026-11-25"]


# -- nothing reads the machine's clock while the business clock is set ------------------------


def no_machine_clock() -> datetime:
    raise AssertionError("the bank read the machine's clock while its own clock was set")


@pytest.mark.parametrize("running", [False, True], ids=["frozen", "running"])
def test_nothing_reads_the_machine_clock_when_the_clock_is_set(db, running):
    with Bank.open(db, seed=make_seed(), clock=FakeClock()) as first:
        first.set_clock(datetime(2026, 11, 24, 10, 0, 0), running=running)
    with Bank.open(db, seed=make_seed(), clock=no_machine_clock,
                   journal=db.with_name("journal.jsonl")) as bank:
        assert bank.clock_reading().setting.mode == (RUNNING if running else FROZEN)
        assert bank.execute(transfer("T1", 1_000)).ok
        assert bank.execute(payment("U1", 2_000, urgent="1")).ok
        assert bank.execute(payment("N1", 3_000, urgent="0")).ok
        for tr_code, fields in (("310101", {"acno": A1}), ("310201", {"acno": A2}),
                                ("310204", {"query_flag": "1", "ogl_serial_no": "T1"})):
            assert bank.execute(query(tr_code, **fields)).ok
        bank.run_clearing(scheduled=True)
        bank.run_clearing()
        bank.load_rules(Scenario())
        bank.rules()
        bank.run_batches()
        bank.advance_clock(timedelta(hours=1))
        assert bank.end_of_day() == date(2026, 11, 25)
        bank.set_clock(datetime(2026, 11, 26, 9, 0, 0), running=running)
        assert bank.now().date() == date(2026, 11, 26)
        assert bank.business_date == date(2026, 11, 26)
        assert instruction(bank, "N1") == ("1", "")
    assert check_ledger(db).ok


# -- the test fixture's clock (directlink.testing.controls.BankClock) ---------------------------


@pytest.fixture
def controls(tmp_path) -> BankClock:
    home = CoreHome(tmp_path / "home")
    home.dir.mkdir(parents=True)
    Bank.open(home.ledger, seed=make_seed(), clock=FakeClock()).close()
    return BankClock(home)


def test_bank_clock_controls(controls):
    reading = controls.set("2026-11-24 10:00")
    assert (reading.setting.mode, reading.now) == (FROZEN, datetime(2026, 11, 24, 10, 0))
    assert controls.advance("1h", minutes=30).now == datetime(2026, 11, 24, 11, 30)
    assert controls.advance(days=1).business_date == date(2026, 11, 25)
    assert controls.end_of_day() == date(2026, 11, 26)
    assert controls.now == datetime(2026, 11, 26, 0, 0)
    assert controls.freeze().now == datetime(2026, 11, 26, 0, 0)
    assert controls.release().setting == ClockSetting()
    assert controls.business_date == date(2026, 11, 26)


def test_freeze_stops_the_machine_clock_where_it_is(controls):
    before = china_time().replace(microsecond=0)
    reading = controls.freeze()
    assert reading.setting.mode == FROZEN
    assert before <= reading.now <= before + timedelta(seconds=5)


def test_freeze_stops_a_running_clock_even_when_its_transaction_waits(controls, monkeypatch):
    controls.set("2026-11-24 10:00", running=True)
    original = Bank.set_clock

    def set_clock_after_waiting(self, moment, *, running=False):
        time.sleep(1.01)  # as long as another writer might hold the lock
        return original(self, moment, running=running)

    monkeypatch.setattr(Bank, "set_clock", set_clock_after_waiting)
    reading = controls.freeze()
    assert reading.setting.mode == FROZEN


# -- the journal's clock events ------------------------------------------------------------


def test_clock_changes_are_journaled(bank, db):
    bank.set_clock(datetime(2026, 11, 24, 10, 0, 0))
    bank.advance_clock(timedelta(minutes=30))
    bank.release_clock()
    events = [(e["mode"], e["at"]) for e in journal(db) if e["kind"] == "clock"]
    assert events == [("frozen", "2026-11-24T10:00:00"), ("frozen", "2026-11-24T10:30:00"),
                      ("system", MACHINE_NOW.isoformat())]


# -- parsing what people type ------------------------------------------------------------------


@pytest.mark.parametrize(("text", "span"), [
    ("1d", timedelta(days=1)),
    ("2h30m", timedelta(hours=2, minutes=30)),
    ("90s", timedelta(seconds=90)),
    ("1d12h", timedelta(days=1, hours=12)),
    ("0s", timedelta()),
    (" 1h 30m ", timedelta(hours=1, minutes=30)),
    ("45m", timedelta(minutes=45)),
    ("1d1h1m1s", timedelta(days=1, hours=1, minutes=1, seconds=1)),
])
def test_parse_duration_accepts(text, span):
    assert parse_duration(text) == span


@pytest.mark.parametrize("text", ["", "   ", "1x", "h", "1.5h", "-1h", "1h-", "1D", "10",
                                  "1 day", "PT1H", "1h30"])
def test_parse_duration_refuses(text):
    with pytest.raises(ClockError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(("text", "span"), [
    ("500ms", timedelta(milliseconds=500)),
    ("1s250ms", timedelta(seconds=1, milliseconds=250)),
])
def test_parse_duration_accepts_milliseconds(text, span):
    assert parse_duration(text) == span


@pytest.mark.parametrize(("text", "moment"), [
    ("2026-12-01", datetime(2026, 12, 1, 0, 0, 0)),
    ("20261201", datetime(2026, 12, 1, 0, 0, 0)),
    ("2026-12-01 09:00", datetime(2026, 12, 1, 9, 0, 0)),
    ("2026-12-01 09:00:30", datetime(2026, 12, 1, 9, 0, 30)),
    ("2026-12-01T09:00", datetime(2026, 12, 1, 9, 0, 0)),
    ("2026-12-01T23:59:59", datetime(2026, 12, 1, 23, 59, 59)),
    ("  2026-12-01 09:00  ", datetime(2026, 12, 1, 9, 0, 0)),
    ("2026-12-01 09:00:30.700", datetime(2026, 12, 1, 9, 0, 30)),  # whole seconds
    ("2026-12-01T01:00+00:00", datetime(2026, 12, 1, 9, 0, 0)),  # China time
])
def test_parse_moment_accepts(text, moment):
    parsed = parse_moment(text)
    assert parsed == moment and parsed.tzinfo is None


@pytest.mark.parametrize("text", ["", "2026/12/01", "yesterday", "2026-13-01", "202612011",
                                  "2026-12-01 25:00", "01-12-2026", "2026-12-32"])
def test_parse_moment_refuses(text):
    with pytest.raises(ClockError) as caught:
        parse_moment(text)
    assert str(caught.value) == (f"not a date and time: {text!r}"
                                 " (expected e.g. 2026-12-01 09:00)")


def test_a_transfer_belongs_to_the_clocks_business_day(bank, db):
    # Its serial and the enterprise's daily usage carry the date the clock moved to.
    bank.set_clock(datetime(2026, 11, 27, 9, 0, 0))
    reply = bank.execute(transfer("T1", 1_000))
    assert reply.serial_no.startswith("20261127")
    with sqlite3.connect(db) as conn:
        usage = conn.execute("SELECT biz_date, total FROM daily_usage WHERE corp_no = ?",
                             (CORP,)).fetchall()
    assert usage == [("20261127", 1_000)]
