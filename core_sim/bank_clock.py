"""The bank's business day and clock: end of day, catching up, setting and moving the clock.

Part of :class:`core_sim.bank.Bank` (its methods use the bank's ledger,
transactions, clearing and journal); the clock's modes and rules are in
:mod:`core_sim.clock`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from core_sim import authorization, clock
from core_sim.clock import ClockError, ClockSetting

#: The furthest one change of the clock may move the business date (each day crossed
#: is an end of day): a typo in a year must not keep the bank busy for hours.
MAX_DAYS_AHEAD = 400


@dataclass(frozen=True, slots=True)
class ClockReading:
    """The bank's clock as a change left it (or as it is)."""

    setting: ClockSetting
    now: datetime  # business time
    business_date: date
    days_closed: int = 0  # ends of day the change ran


class BusinessDay:
    """End of day and the business clock, for :class:`~core_sim.bank.Bank`."""

    def end_of_day(self) -> date:
        """Close the business day (a batch clearing, then the date moves on); return the new date.

        While the business clock is set, the clock moves to the start of the
        next day first, so the two stay together.
        """

        def work() -> date:
            setting = self._ledger.clock_setting
            if setting.is_set:
                tomorrow = clock.start_of(self._ledger.business_date + timedelta(days=1))
                if self.now() < tomorrow:
                    self._ledger.set_clock(self._moved(setting, tomorrow))
                self._catch_up()
            else:
                self._close_day(self.now())
            return self._ledger.business_date

        return self._in_transaction(work)

    def _close_day(self, now: datetime) -> None:
        self._clear(force_batch=True, now=now)
        # What still awaits authorization expires with its business day: nothing moved.
        expired = authorization.expire(self._conn, self._ledger.business_date, now)
        if expired:
            self._note("expiry", at=now, req_nos=expired)
        self._ledger.advance_business_date(self._ledger.business_date + timedelta(days=1))
        self._note("end_of_day", at=now, business_date=self._ledger.business_date.isoformat())

    def _catch_up(self) -> int:
        """Close every business day the set clock has left behind; return how many."""
        setting = self._ledger.clock_setting
        if not setting.is_set:
            return 0
        today = self.now().date()
        days = 0
        while self._ledger.business_date < today:
            # The day's last second: its entries are stamped within the day they close.
            end = clock.start_of(self._ledger.business_date + timedelta(days=1))
            self._close_day(end - timedelta(seconds=1))
            days += 1
        return days

    # -- the business clock --------------------------------------------------------------

    def clock_reading(self) -> ClockReading:
        """The clock's setting, the business time and date (after any catch-up)."""
        return self._in_transaction(lambda: self._reading(0))

    def set_clock(self, moment: datetime, *, running: bool = False) -> ClockReading:
        """Set the business clock to ``moment``, frozen there (or running from it).

        Refused (:class:`ClockError`) before the start of the business date,
        before the time a set clock already shows, or more than
        ``MAX_DAYS_AHEAD`` days past the business date. Days crossed are closed.
        """

        def work() -> ClockReading:
            setting = clock.running_from(moment) if running else clock.frozen_at(moment)
            self._check_move(setting.now(self._system_clock))
            self._ledger.set_clock(setting)
            return self._clock_changed(self._catch_up())

        return self._in_transaction(work)

    def advance_clock(self, span: timedelta) -> ClockReading:
        """Move the business clock forward by ``span``: the days crossed close, then one cycle.

        A clock that follows the machine is frozen at its time plus ``span``;
        a frozen one stays frozen, a running one keeps running.
        """
        if span < timedelta():
            raise ClockError("the clock only moves forward")

        def work() -> ClockReading:
            setting = self._ledger.clock_setting
            target = self.now() + span
            self._check_move(target)
            self._ledger.set_clock(self._moved(setting, target))
            # The days crossed close first (their entries stamped within them); the
            # cycle then runs at the new time, on the new business date.
            days = self._catch_up()
            if span:
                self._clear(force_batch=False)
            return self._clock_changed(days)

        return self._in_transaction(work)

    def freeze_clock(self) -> ClockReading:
        """Stop the business clock at the time it shows now."""

        def work() -> ClockReading:
            self._ledger.set_clock(clock.frozen_at(self.now()))
            return self._clock_changed(self._catch_up())

        return self._in_transaction(work)

    def release_clock(self) -> ClockReading:
        """Let the clock follow the machine again; the business date stays where it is."""

        def work() -> ClockReading:
            self._ledger.set_clock(ClockSetting())
            return self._clock_changed(0)

        return self._in_transaction(work)

    def _moved(self, setting: ClockSetting, target: datetime) -> ClockSetting:
        if setting.mode == clock.RUNNING:
            return clock.running_from(target)
        return clock.frozen_at(target)

    def _check_move(self, target: datetime) -> None:
        business_date = self._ledger.business_date
        if target.date() < business_date:
            raise ClockError(f"the business date is already {business_date.isoformat()}:"
                             f" the clock cannot go back to {target.isoformat(sep=' ')}")
        setting = self._ledger.clock_setting
        if setting.is_set and target < setting.now(self._system_clock).replace(microsecond=0):
            shown = self.now().replace(microsecond=0).isoformat(sep=" ")
            raise ClockError(f"the clock already shows {shown}:"
                             f" it cannot go back to {target.isoformat(sep=' ')}")
        if (target.date() - business_date).days > MAX_DAYS_AHEAD:
            raise ClockError(f"{target.date().isoformat()} is more than {MAX_DAYS_AHEAD} days"
                             f" past the business date {business_date.isoformat()};"
                             " move the clock in smaller steps")

    def _reading(self, days_closed: int) -> ClockReading:
        return ClockReading(self._ledger.clock_setting, self.now(),
                            self._ledger.business_date, days_closed)

    def _clock_changed(self, days_closed: int) -> ClockReading:
        reading = self._reading(days_closed)
        self._note("clock", mode=reading.setting.mode)
        return reading
