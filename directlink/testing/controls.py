"""A test's hands on a running bank: its business clock, scenario rules and journal.

Each works on the bank's database or files directly, from the test's own
process, exactly as ``directlink core clock``, ``directlink core rules`` and
the journal file do: a change is committed when the call returns, and the
running core acts on it from its next transaction. The fixtures
``bank_clock``, ``bank_rules`` and ``bank_journal`` are these objects for
``directlink_bank``; a :class:`~directlink.testing.harness.Bank` offers them
as ``.clock``, ``.rules`` and ``.journal`` too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from config.errors import ConfigError
from config.scenario import Scenario, parse_scenario, scenario_from_data
from core_sim.bank import Bank as Ledger
from core_sim.bank import ClockReading
from core_sim.clock import parse_duration, parse_moment
from core_sim.home import CoreHome
from protocol.money import parse_yuan


class _OnLedger:
    def __init__(self, home: CoreHome) -> None:
        self._home = home

    def _run(self, work):
        journal = self._home.journal if self._home.journal.exists() else None
        with Ledger.open(self._home.ledger, journal=journal) as bank:
            return work(bank)


class BankClock(_OnLedger):
    """The bank's business clock (:mod:`core_sim.clock`): frozen, set and moved by the test.

    ``set`` and ``advance`` return the :class:`~core_sim.bank.ClockReading`
    (``.now``, ``.business_date``, ``.days_closed``). Moving past midnight runs
    end of day for each day crossed; ``advance`` also runs one clearing cycle.
    """

    @property
    def now(self) -> datetime:
        return self.reading().now

    @property
    def business_date(self) -> date:
        return self.reading().business_date

    def reading(self) -> ClockReading:
        return self._run(lambda bank: bank.clock_reading())

    def set(self, moment: str | datetime, *, running: bool = False) -> ClockReading:
        """Set the clock (``"2026-12-01 09:00"``, a date, a datetime); frozen unless ``running``."""
        when = parse_moment(moment) if isinstance(moment, str) else moment
        return self._run(lambda bank: bank.set_clock(when, running=running))

    def freeze(self) -> ClockReading:
        """Stop the clock where it is now."""
        return self._run(lambda bank: bank.freeze_clock())

    def advance(self, span: str | timedelta | None = None, *, days: int = 0, hours: int = 0,
                minutes: int = 0, seconds: int = 0) -> ClockReading:
        """Move the clock forward: ``advance("2h")``, ``advance(days=1)``, or a timedelta."""
        delta = parse_duration(span) if isinstance(span, str) else (span or timedelta())
        delta += timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        return self._run(lambda bank: bank.advance_clock(delta))

    def end_of_day(self) -> date:
        """Close the business day now (the clock, when set, moves to the next day's start)."""
        return self._run(lambda bank: bank.end_of_day())

    def release(self) -> ClockReading:
        """Let the clock follow the machine again."""
        return self._run(lambda bank: bank.release_clock())


class BankRules(_OnLedger):
    """The bank's scenario rules (:mod:`config.scenario`), changed while it runs.

    ``load`` replaces them (YAML text, a path, or the same structure as
    Python data); ``add`` appends one rule to those in force, whoever loaded
    them. Every change starts the rules' counts again.
    """

    def load(self, rules: str | os.PathLike[str] | Mapping[str, Any] | Sequence[Any]
             ) -> Scenario:
        if isinstance(rules, os.PathLike):
            scenario = parse_scenario(Path(rules).read_text(encoding="utf-8"), os.fspath(rules))
        elif isinstance(rules, str):
            scenario = parse_scenario(rules)
        else:
            data = dict(rules) if isinstance(rules, Mapping) else {"rules": list(rules)}
            scenario = scenario_from_data(_plain(data))
        self._store(scenario)
        return scenario

    def add(self, *, then: Mapping[str, Any], when: Mapping[str, Any] | None = None,
            name: str | None = None, probability: float | None = None,
            times: int | None = None) -> Scenario:
        """Append one rule (``then={"action": "refuse", "code": "E008"}``...) to those in force."""
        current = self.scenario()
        position = len(current.rules)
        rule: dict[str, Any] = {"then": dict(then),
                                "name": name or f"rule-{position + 1}"}
        for key, value in (("when", when), ("probability", probability), ("times", times)):
            if value is not None:
                rule[key] = dict(value) if key == "when" else value
        try:
            (added,) = scenario_from_data({"rules": [_plain(rule)]}).rules
        except ConfigError as exc:  # its paths as if the rule were in place
            raise ConfigError.collect([
                ConfigError(error.source, error.path.replace("rules[0]", f"rules[{position}]", 1),
                            error.reason) for error in exc.errors]) from None
        if any(existing.name == added.name for existing in current.rules):
            raise ConfigError("<data>", f"rules[{position}].name",
                              f"name {added.name!r} is used by an earlier rule")
        scenario = Scenario((*current.rules, added), current.seed)
        self._store(scenario)
        return scenario

    def clear(self) -> None:
        self._store(Scenario())

    def scenario(self) -> Scenario:
        """The rules in force."""
        return self._run(lambda bank: bank.rules()[0])

    def counts(self) -> dict[str, tuple[int, int]]:
        """Each rule's (matched, fired) so far."""
        return self._run(lambda bank: bank.rules()[1])

    def fired(self, name: str) -> int:
        return self.counts().get(name, (0, 0))[1]

    def _store(self, scenario: Scenario) -> None:
        self._run(lambda bank: bank.load_rules(scenario))


class BankJournal:
    """The bank's journal (:mod:`core_sim.journal`): what it received, did and answered.

    ``find`` and ``assert_called`` match events by their top-level keys
    (``tr_code``, ``req_no``, ``rule``, ``sent``, ``kind``...) and the request's
    ``fields`` (``pay_acno=...``; amounts as yuan strings or Decimals, or fen
    as int). ``clear()`` forgets what was journaled so far (for a test that
    shares a bank).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._offset = 0

    def events(self, kind: str | None = None) -> list[dict]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as file:
            file.seek(self._offset)
            data = file.read()
        events = [json.loads(line) for line in data.decode("utf-8").splitlines() if line]
        return [e for e in events if kind is None or e.get("kind") == kind]

    def __iter__(self) -> Iterator[dict]:
        return iter(self.events())

    def __len__(self) -> int:
        return len(self.events())

    def requests(self, **criteria: Any) -> list[dict]:
        return self.find(**criteria)

    def find(self, kind: str = "request", **criteria: Any) -> list[dict]:
        """The events of ``kind`` (default: requests) that match every criterion."""
        wanted = {key: _fen(key, value) for key, value in criteria.items()}
        return [event for event in self.events(kind) if _matches(event, wanted)]

    def assert_called(self, *, times: int | None = None, kind: str = "request",
                      **criteria: Any) -> list[dict]:
        """Assert the bank saw a matching event (exactly ``times`` of them if given)."""
        found = self.find(kind, **criteria)
        if (times is None and not found) or (times is not None and len(found) != times):
            expected = "at least one" if times is None else f"exactly {times}"
            raise AssertionError(
                f"expected {expected} {kind} event matching {criteria}, found {len(found)};"
                f" the journal holds:\n{self.describe()}")
        return found

    def assert_not_called(self, *, kind: str = "request", **criteria: Any) -> None:
        self.assert_called(times=0, kind=kind, **criteria)

    def clear(self) -> None:
        self._offset = self.path.stat().st_size if self.path.exists() else 0

    def describe(self, limit: int = 40) -> str:
        """The last events, a line each, for assertion messages."""
        lines = []
        for event in self.events()[-limit:]:
            if event["kind"] == "request":
                reply = event["reply"]
                lines.append(f"  {event['at']} {event['tr_code']} req_no={event['req_no']}"
                             f" -> {reply['ret_code']} {reply['ret_msg']}"
                             + (f" [rule {event['rule']}, {event['sent']}]"
                                if event.get("rule") else ""))
            else:
                rest = {k: v for k, v in event.items() if k not in ("kind", "at")}
                lines.append(f"  {event['at']} {event['kind']} {rest}")
        return "\n".join(lines) or "  (nothing)"


_AMOUNT_KEYS = frozenset({"amt", "sum_amt", "amount"})


def _fen(key: str, value: Any) -> Any:
    if key in _AMOUNT_KEYS and isinstance(value, str | Decimal):
        return parse_yuan(str(value))
    if isinstance(value, float):
        raise TypeError(f"{key}: amounts are never floats; give a str, a Decimal or int fen")
    return value


def _matches(event: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    fields = event.get("fields") or {}
    for key, value in wanted.items():
        if key in event and key != "fields":
            if event[key] != value:
                return False
        elif fields.get(key) != value:
            return False
    return True


def _plain(value: Any) -> Any:
    """Decimals (amounts a test wrote as Decimal) as the strings the rules expect."""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value
