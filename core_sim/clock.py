"""The bank's business clock: what time it is at the bank, and who decides.

Everything in the bank that needs the time — entry timestamps, clearing
runs, the business date, end of day — asks the bank's clock, never the
machine's. The clock has three modes, kept in the database (``meta`` key
``clock``) so that every process working on the same bank — the core's
ledger process, ``directlink core clock``, a test's ``bank_clock`` fixture —
sees the same time:

``system``
    China Standard Time from the machine's clock (the default). The business
    date is the seed's and moves only with an end of day (``directlink core
    eod``), as at a bank whose operators close the day by hand.
``frozen``
    Time stands still at a set moment until it is set or advanced again.
    Nothing that depends on elapsed time happens by itself: the core's
    periodic clearing runs are skipped, so an inter-bank payment stays
    "processing" until the clock is advanced or a clearing run is forced.
``running``
    Time runs from a set moment at the machine's pace (the set moment plus
    the real seconds elapsed since it was set).

When the clock is set (frozen or running), the business date follows it:
once the clock's date is past the business date, the bank runs end of day
for each day crossed (a batch clearing, expiries, the date moves; see
:meth:`core_sim.bank.Bank.catch_up`). The clock never goes back before the
business date, nor — once set — before the time it already shows.

The wire protocol's freshness window (a request's timestamp must be within
minutes of the receiver's time) is about messages in transit, not business:
it always uses the machine's real clock, whatever this clock says.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from config import durations
from protocol.security import CST

SYSTEM = "system"
FROZEN = "frozen"
RUNNING = "running"
MODES = (SYSTEM, FROZEN, RUNNING)

#: The ``meta`` key the setting is stored under.
META_KEY = "clock"


class ClockError(ValueError):
    """A clock setting or a change to it that cannot be accepted; the message says why."""


def china_time() -> datetime:
    """The machine's clock as China Standard Time (naive), like the wire's tr_date/tr_time."""
    return datetime.now(CST).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class ClockSetting:
    """How the bank tells time. ``at`` and ``real_at`` are set unless the mode is system."""

    mode: str = SYSTEM
    at: datetime | None = None  # the business time it was set to (naive China time)
    real_at: float | None = None  # the machine's time.time() when it was set

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ClockError(f"clock mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if (self.mode == SYSTEM) != (self.at is None):
            raise ClockError(f"a {self.mode} clock {'has no' if self.at else 'needs a'} time")

    @property
    def is_set(self) -> bool:
        """Set by someone (frozen or running), rather than following the machine."""
        return self.mode != SYSTEM

    def now(self, system: Callable[[], datetime] = china_time,
            real: Callable[[], float] = time.time) -> datetime:
        """The business time this setting gives, the machine's clocks being ``system``/``real``."""
        if self.mode == SYSTEM:
            return system()
        assert self.at is not None
        if self.mode == FROZEN:
            return self.at
        assert self.real_at is not None
        return self.at + timedelta(seconds=max(0.0, real() - self.real_at))

    def to_text(self) -> str:
        if self.mode == SYSTEM:
            return json.dumps({"mode": SYSTEM})
        assert self.at is not None
        return json.dumps({"mode": self.mode, "at": self.at.isoformat(),
                           "real_at": self.real_at})

    @classmethod
    def from_text(cls, text: str | None) -> ClockSetting:
        if not text:
            return cls()
        try:
            data = json.loads(text)
            mode = data["mode"]
            if mode == SYSTEM:
                return cls()
            return cls(mode, datetime.fromisoformat(data["at"]), data.get("real_at"))
        except (ValueError, KeyError, TypeError) as exc:
            raise ClockError(f"stored clock setting is damaged: {text!r}") from exc


def frozen_at(moment: datetime) -> ClockSetting:
    return ClockSetting(FROZEN, _whole_seconds(moment), None)


def running_from(moment: datetime, real: Callable[[], float] = time.time) -> ClockSetting:
    return ClockSetting(RUNNING, _whole_seconds(moment), real())


def _whole_seconds(moment: datetime) -> datetime:
    if moment.tzinfo is not None:
        moment = moment.astimezone(CST).replace(tzinfo=None)
    return moment.replace(microsecond=0)


# -- parsing what people type ----------------------------------------------------------

def parse_duration(text: str) -> timedelta:
    """``"1d"``, ``"2h30m"``, ``"90s"``, ``"500ms"``: a span of business time
    (:func:`config.durations.parse_duration`, refused with a :class:`ClockError`)."""
    try:
        return durations.parse_duration(text)
    except durations.DurationError as exc:
        raise ClockError(str(exc)) from None


def parse_moment(text: str) -> datetime:
    """``YYYY-MM-DD``, ``YYYY-MM-DD HH:MM[:SS]``, ``YYYY-MM-DDTHH:MM[:SS]`` or ``YYYYMMDD``.

    A bare date means the start of that day (00:00:00). China time.
    """
    stripped = text.strip()
    if re.fullmatch(r"[0-9]{8}", stripped):
        stripped = f"{stripped[:4]}-{stripped[4:6]}-{stripped[6:]}"
    try:
        moment = datetime.fromisoformat(stripped)
    except ValueError:
        raise ClockError(f"not a date and time: {text!r} (expected e.g. 2026-12-01 09:00)"
                         ) from None
    return _whole_seconds(moment)


def start_of(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time())
