"""Scenario rules: how a test makes the simulated bank misbehave on purpose.

A rules document (YAML, or the same structure as Python data) is a list of
rules, each a ``when`` (conditions, all of which must hold) and a ``then``
(what the bank does instead of its usual answer). The first rule whose
conditions hold fires; the others are not consulted::

    seed: 7                          # optional: makes `probability` reproducible
    rules:
      - name: third-payment-returns  # optional; default rule-1, rule-2, ...
        when:
          tr_code: ["210201", "210224"]   # one code or a list
          corp_no: "0000000001"
          pay_acno: "310066726018010000001"  # exact, or a pattern with * and ?
          rcv_acno: "6222*"
          req_no: "ERP-*"
          amount: {min: "100.00", max: "5000.00"}   # yuan, both ends included
          between: ["09:00", "11:30"]              # business time, to 11:30:59 included
          nth: 3                     # only the 3rd request of the business day that matches
        then:
          action: return
          message: "account closed at the receiving bank"
        probability: 0.5             # optional: fires on about half of its matches
        times: 1                     # optional: fires at most this many times

Actions (``then.action``):

``delay``               answer ``ms`` milliseconds late (the work is done at once);
``refuse``              refuse with ``code`` (a bank return code, default E016) and
                        ``message``; nothing is executed;
``unknown``             execute, then answer "outcome unknown" (P020);
``drop_after_commit``   execute, commit, then drop the connection without answering;
``hold``                accept a transfer as processing, then after ``after`` of
                        business time settle it (``settle: true``, the default)
                        or return it with ``message`` (``settle: false``);
``return``              accept an inter-bank payment, then have the receiving bank
                        return it at its clearing with ``message``;
``return_after_settle`` settle an inter-bank payment as usual, then ``after`` of
                        business time later have it returned with ``message``;
``fail_item``           fail a batch item with ``code`` (default E016) and ``message``.

For batch items (``fail_item``) the conditions are read from the item:
``pay_acno`` and ``rcv_acno`` are the item's payer and payee, ``amount`` its
amount, ``req_no`` the batch's. This module only reads and checks documents;
:mod:`core_sim.scenario` applies them.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import time, timedelta
from typing import Any

import yaml

from config.durations import DurationError, parse_duration
from config.errors import ConfigError
from config.seed.checks import Checker, at, kind, show

ACTIONS = ("delay", "refuse", "unknown", "drop_after_commit", "hold", "return",
           "return_after_settle", "fail_item")
#: Actions that only make sense for a money-moving instruction of a kind.
TRANSFER_ACTIONS = ("hold", "return", "return_after_settle")
MAX_DELAY_MS = 60_000
_CODE = re.compile(r"[A-Z][0-9]{3}")
_TIME = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?")
_PATTERN_CHARS = re.compile(r"[0-9A-Za-z*?_.-]+")

_WHEN_KEYS = ("tr_code", "corp_no", "pay_acno", "rcv_acno", "req_no", "amount", "between",
              "nth")
_THEN_KEYS = ("action", "ms", "code", "message", "settle", "after")


@dataclass(frozen=True, slots=True)
class When:
    tr_codes: tuple[str, ...] = ()
    corp_no: str = ""  # "" = any; the text fields are exact values or * / ? patterns
    pay_acno: str = ""
    rcv_acno: str = ""
    req_no: str = ""
    min_amt: int | None = None  # fen
    max_amt: int | None = None
    between: tuple[str, str] | None = None  # ("HH:MM:SS", "HH:MM:SS"), business time
    nth: int | None = None


@dataclass(frozen=True, slots=True)
class Then:
    action: str
    ms: int = 0
    code: str = "E016"
    message: str = ""
    settle: bool = True
    after_seconds: int = 0


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    when: When
    then: Then
    probability: float | None = None
    times: int | None = None


@dataclass(frozen=True, slots=True)
class Scenario:
    rules: tuple[Rule, ...] = ()
    seed: int = 0
    source: str = field(default="<string>", compare=False)

    def to_json(self) -> str:
        """The checked rules as JSON: what the bank stores and reads back."""
        return json.dumps({"seed": self.seed, "rules": [asdict(r) for r in self.rules]},
                          ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Scenario:
        data = json.loads(text)
        rules = []
        for rule in data["rules"]:
            when = dict(rule["when"])
            when["tr_codes"] = tuple(when["tr_codes"])
            if when["between"] is not None:
                when["between"] = tuple(when["between"])
            rules.append(Rule(rule["name"], When(**when), Then(**rule["then"]),
                              rule["probability"], rule["times"]))
        return cls(tuple(rules), data["seed"], "<stored>")


def parse_scenario(text: str, source: str = "<string>") -> Scenario:
    """Parse and check a rules document (YAML); every problem is reported with its path."""
    try:
        document = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(source, where, f"not valid YAML: {exc.problem or exc}") from None
    except (yaml.YAMLError, ValueError, TypeError, RecursionError) as exc:
        raise ConfigError(source, "", f"not valid YAML: {exc}") from None
    return scenario_from_data(document, source)


def scenario_from_data(document: Any, source: str = "<data>") -> Scenario:
    """Check rules given as Python data (the structure the YAML describes)."""
    checker = Checker(source)
    if document is None:
        document = {"rules": []}
    if isinstance(document, list):  # a bare list of rules
        document = {"rules": document}
    data = checker.mapping(document, "", ("rules",), ("seed",))
    if data is None:
        raise ConfigError.collect(checker.errors)
    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        checker.fail("seed", f"expected a whole number, got {kind(seed)}")
    rules: list[Rule] = []
    raw = data.get("rules")
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        checker.fail("rules", f"expected a list of rules, got {kind(raw)}")
        raw = []
    names: set[str] = set()
    for index, item in enumerate(raw):
        path = f"rules[{index}]"
        rule = _rule(checker, item, path, index)
        if rule is None:
            continue
        if rule.name in names:
            checker.fail(at(path, "name"), f"name {rule.name!r} is used by an earlier rule")
            continue
        names.add(rule.name)
        rules.append(rule)
    if checker.errors:
        raise ConfigError.collect(checker.errors)
    return Scenario(tuple(rules), seed if isinstance(seed, int) else 0, source)


def _rule(checker: Checker, value: object, path: str, index: int) -> Rule | None:
    data = checker.mapping(value, path, ("then",), ("name", "when", "probability", "times"))
    if data is None or "then" not in data:
        return None
    errors = len(checker.errors)
    name = data.get("name", f"rule-{index + 1}")
    if not isinstance(name, str) or not name.strip() or len(name) > 60:
        checker.fail(at(path, "name"), f"expected a name of 1-60 characters, got {kind(name)}")
    when = _when(checker, data.get("when", {}), at(path, "when"))
    then = _then(checker, data["then"], at(path, "then"))
    probability = data.get("probability")
    if probability is not None and (
            isinstance(probability, bool) or not isinstance(probability, int | float)
            or not 0 < probability <= 1):
        checker.fail(at(path, "probability"),
                     f"expected a number greater than 0 and at most 1, got {show(probability)}")
    times = data.get("times")
    if times is not None and (isinstance(times, bool) or not isinstance(times, int)
                              or times < 1):
        checker.fail(at(path, "times"), f"expected a whole number of at least 1, got "
                                        f"{show(times)}")
    if len(checker.errors) > errors or when is None or then is None:
        return None
    return Rule(name, when, then, None if probability is None else float(probability), times)


def _when(checker: Checker, value: object, path: str) -> When | None:
    data = checker.mapping(value, path, (), _WHEN_KEYS)
    if data is None:
        return None
    errors = len(checker.errors)
    codes = data.get("tr_code", [])
    codes = [codes] if isinstance(codes, str) else codes
    tr_codes: list[str] = []
    if not isinstance(codes, list):
        checker.fail(at(path, "tr_code"), f"expected a code or a list of codes, got "
                                          f"{kind(codes)}")
    else:
        for position, code in enumerate(codes):
            text = checker.string(code, f"{at(path, 'tr_code')}[{position}]", "210201")
            if text is not None and not (len(text) == 6 and text.isdigit()):
                checker.fail(f"{at(path, 'tr_code')}[{position}]",
                             f"a tr_code is 6 digits, not {show(text)}")
            elif text is not None:
                tr_codes.append(text)
    patterns = {}
    for key in ("corp_no", "pay_acno", "rcv_acno", "req_no"):
        if key in data:
            text = checker.string(data[key], at(path, key), "6222*")
            if text is not None and not _PATTERN_CHARS.fullmatch(text):
                checker.fail(at(path, key), "expected letters, digits and the wildcards * and ?"
                                            f", got {show(text)}")
            patterns[key] = text or ""
    min_amt = max_amt = None
    if "amount" in data:
        amount = checker.mapping(data["amount"], at(path, "amount"), (), ("min", "max"))
        if amount is not None:
            if "min" in amount:
                min_amt = checker.amount(amount["min"], at(path, "amount.min"), allow_zero=True)
            if "max" in amount:
                max_amt = checker.amount(amount["max"], at(path, "amount.max"), allow_zero=True)
            if min_amt is not None and max_amt is not None and min_amt > max_amt:
                checker.fail(at(path, "amount"), "min is more than max")
    between = None
    if "between" in data:
        window = data["between"]
        if (not isinstance(window, list) or len(window) != 2
                or not all(isinstance(t, str) and _TIME.fullmatch(t) for t in window)):
            checker.fail(at(path, "between"),
                         f'expected two times such as ["09:00", "11:30"], got {show(window)}')
        else:
            # Both ends included: "11:30" runs to the end of that minute.
            start = time.fromisoformat(window[0]).isoformat()
            end = time.fromisoformat(window[1] if window[1].count(":") == 2
                                     else f"{window[1]}:59").isoformat()
            if start > end:
                checker.fail(at(path, "between"), "the window ends before it starts")
            between = (start, end)
    nth = data.get("nth")
    if nth is not None and (isinstance(nth, bool) or not isinstance(nth, int) or nth < 1):
        checker.fail(at(path, "nth"), f"expected a whole number of at least 1, got {show(nth)}")
    if len(checker.errors) > errors:
        return None
    return When(tuple(tr_codes), patterns.get("corp_no", ""), patterns.get("pay_acno", ""),
                patterns.get("rcv_acno", ""), patterns.get("req_no", ""), min_amt, max_amt,
                between, nth)


def _then(checker: Checker, value: object, path: str) -> Then | None:
    data = checker.mapping(value, path, ("action",), _THEN_KEYS[1:])
    if data is None or "action" not in data:
        return None
    errors = len(checker.errors)
    action = checker.choice(data["action"], at(path, "action"), ACTIONS)
    allowed = {"delay": ("ms",), "refuse": ("code", "message"), "unknown": (),
               "drop_after_commit": (), "hold": ("after", "settle", "message"),
               "return": ("message",), "return_after_settle": ("after", "message"),
               "fail_item": ("code", "message")}.get(action or "", _THEN_KEYS[1:])
    for key in data:
        if key not in ("action", *allowed):
            checker.fail(at(path, key), f"not used by action {action!r}"
                                        f" (it takes {', '.join(allowed) or 'nothing more'})")
    ms = data.get("ms", 0)
    if action == "delay" and (isinstance(ms, bool) or not isinstance(ms, int)
                              or not 0 < ms <= MAX_DELAY_MS):
        checker.fail(at(path, "ms"), f"expected milliseconds from 1 to {MAX_DELAY_MS},"
                                     f" got {show(ms)}")
    code = data.get("code", "E016")
    if not isinstance(code, str) or not _CODE.fullmatch(code) or code == "0000":
        checker.fail(at(path, "code"), f"expected a return code such as E008, got {show(code)}")
    message = data.get("message", "")
    if not isinstance(message, str) or len(message.encode("gb18030", "replace")) > 60:
        checker.fail(at(path, "message"),
                     f"expected a text of at most 60 bytes in GB18030, got {show(message)}")
    settle = data.get("settle", True)
    if not isinstance(settle, bool):
        checker.fail(at(path, "settle"), f"expected true or false, got {kind(settle)}")
    after = data.get("after", "0s")
    seconds = 0
    try:
        span = parse_duration(after) if isinstance(after, str) else None
    except DurationError:
        span = None
    if span is None or span % timedelta(seconds=1):
        checker.fail(at(path, "after"), f"expected a duration in whole seconds such as 10m or"
                                        f" 1h30m, got {show(after)}")
    else:
        seconds = int(span.total_seconds())
    if len(checker.errors) > errors or action is None:
        return None
    return Then(action, ms if action == "delay" else 0, code, message, settle, seconds)

