"""An enterprise's controls in the seed: operators, approval flows, directed accounts, limits.

The rules, as a bank's e-banking sets them up for an enterprise:

* ``operators``: a ``code`` (1-20 letters/digits, unique in the enterprise), a
  ``name`` and a ``role``: a maker (制单) submits; a checker (复核), deputy
  (副主管) or supervisor (主管) approves.
* ``flows``: at most one per account of the enterprise's own, its ``bands`` by
  strictly increasing, positive ``up_to``. Above the last band an instruction
  needs that band's levels, then a supervisor, who must exist and be free to
  approve last. ``collection_flow``: the levels of every batch collection.
* A level is a non-empty list of distinct operators who may approve (never a
  maker), any one of whom approves it; nobody is in two levels of one band or
  of the collection flow, since nobody approves one instruction twice.
* ``directed``: at most one entry per account of the enterprise's own; that
  account pays only its ``payees`` (distinct account numbers, not itself).
* ``limits``: ``single``, ``daily`` and ``monthly``, and the same again under
  ``to_personal`` for payments to individuals (公转私); each positive, none
  above a longer period's limit, and no limit to individuals above the
  enterprise's own. A missing or null key is no limit.

The operators and accounts as written (even beside a mistake) are what the
flows and directed accounts are checked against, so one mistake is reported
once, not again by everything that names it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, TypeVar

from config.seed.checks import Checker, at, kind, show
from config.seed.model import (
    OPERATOR_ROLES,
    Band,
    Directed,
    Flow,
    Levels,
    Limits,
    Operator,
    PersonalLimits,
)
from config.seed.rules import acno_problem, user_no_problem
from protocol.money import format_yuan

#: The keys of an enterprise that :meth:`ControlsChecker.controls` reads.
CONTROL_KEYS = ("operators", "flows", "collection_flow", "directed")
LIMIT_KEYS = ("single", "daily", "monthly")
#: At most this many operator codes are listed in "no such operator" messages.
_LISTED_CODES = 10

T = TypeVar("T")


def operator_code_problem(text: str) -> str | None:
    """Why ``text`` is not an operator code (1-20 letters/digits, like a user_no), or None."""
    return user_no_problem(text)


@dataclass(frozen=True, slots=True)
class Controls:
    """An enterprise's operators, flows and directed accounts, checked."""

    operators: tuple[Operator, ...] = ()
    flows: tuple[Flow, ...] = ()
    collection_flow: Levels = ()
    directed: tuple[Directed, ...] = ()


@dataclass(frozen=True, slots=True)
class _Roster:
    """The operators as written, for the levels that name them."""

    path: str  # where they are listed, e.g. enterprises[0].operators
    #: code -> role; None for a role that is not one of OPERATOR_ROLES.
    roles: dict[str, str | None]
    #: False when the list itself is unreadable: then nobody can be looked up.
    readable: bool = True

    @property
    def settled(self) -> bool:
        """Every role is known, so that a missing supervisor is a problem of its own."""
        return self.readable and None not in self.roles.values()

    @property
    def supervisors(self) -> tuple[str, ...]:
        return tuple(code for code, role in self.roles.items() if role == "supervisor")


def _roster(value: object, path: str) -> _Roster:
    if value is None:
        return _Roster(path, {})
    if not isinstance(value, list):
        return _Roster(path, {}, readable=False)
    roles: dict[str, str | None] = {}
    for item in value:
        if isinstance(item, dict) and isinstance(item.get("code"), str):
            role = item.get("role")
            roles.setdefault(item["code"], role if isinstance(role, str)
                             and role in OPERATOR_ROLES else None)
    return _Roster(path, roles)


def _codes(codes: list[str]) -> str:
    shown = ", ".join(codes[:_LISTED_CODES])
    return shown + (", ..." if len(codes) > _LISTED_CODES else "")


class ControlsChecker(Checker):
    """Checks the controls of one enterprise (see the module's rules)."""

    def controls(self, data: dict[str, Any], path: str, own: frozenset[str]) -> Controls | None:
        """The controls among the keys ``data`` of the enterprise at ``path``.

        ``own`` is the enterprise's account numbers as written.
        """
        before = len(self.errors)
        operators: tuple[Operator, ...] | None = ()
        if "operators" in data:
            operators = self.operators(data["operators"], at(path, "operators"))
        roster = _roster(data.get("operators"), at(path, "operators"))
        flows: tuple[Flow, ...] | None = ()
        if "flows" in data:
            flows = self.flows(data["flows"], at(path, "flows"), own, roster)
        collection: Levels | None = ()
        if "collection_flow" in data:
            collection = self.levels(data["collection_flow"], at(path, "collection_flow"), roster)
        directed: tuple[Directed, ...] | None = ()
        if "directed" in data:
            directed = self.directed(data["directed"], at(path, "directed"), own)
        if (len(self.errors) > before or operators is None or flows is None
                or collection is None or directed is None):
            return None
        return Controls(operators=operators, flows=flows, collection_flow=collection,
                        directed=directed)

    def each(self, value: object, path: str, what: str,
             check: Callable[[object, str], T | None]) -> tuple[T, ...] | None:
        """A list (which may be empty) of items that each pass ``check``; None if any fails."""
        if not isinstance(value, list):
            self.fail(path, f"expected a list of {what}, got {kind(value)}")
            return None
        result = [check(item, f"{path}[{index}]") for index, item in enumerate(value)]
        items = tuple(item for item in result if item is not None)
        return items if len(items) == len(value) else None

    def own_account(self, value: object, path: str, own: frozenset[str],
                    seen: dict[str, str], what: str) -> str | None:
        """One of the enterprise's accounts, named by at most one ``what`` of its list."""
        acno = self.ruled(value, path, "310066726018010000001", acno_problem)
        if acno is None:
            return None
        if acno not in own:
            self.fail(path, f"{acno!r} is not one of this enterprise's accounts")
            return None
        first = seen.setdefault(acno, path)
        if first != path:
            self.fail(path, f"duplicate {what} for account {acno!r} (first used at {first})")
            return None
        return acno

    # -- operators -----------------------------------------------------------

    def operators(self, value: object, path: str) -> tuple[Operator, ...] | None:
        seen: dict[str, str] = {}
        return self.each(value, path, "operators such as {code: B01, name: ..., role: checker}",
                         lambda item, item_path: self.operator(item, item_path, seen))

    def operator(self, value: object, path: str, seen: dict[str, str]) -> Operator | None:
        data = self.mapping(value, path, ("code", "name", "role"), ())
        if data is None:
            return None
        before = len(self.errors)
        code = name = role = None
        if "code" in data:
            code_path = at(path, "code")
            code = self.ruled(data["code"], code_path, "B01", operator_code_problem)
            if code is not None:
                first = seen.setdefault(code, code_path)
                if first != code_path:
                    self.fail(code_path,
                              f"duplicate operator code {code!r} (first used at {first})")
        if "name" in data:
            name = self.name(data["name"], at(path, "name"))
        if "role" in data:
            role = self.choice(data["role"], at(path, "role"), OPERATOR_ROLES)
        if len(self.errors) > before or code is None or name is None or role is None:
            return None
        return Operator(code=code, name=name, role=role)

    # -- approval flows --------------------------------------------------------

    def flows(self, value: object, path: str, own: frozenset[str],
              roster: _Roster) -> tuple[Flow, ...] | None:
        if isinstance(value, list) and value and roster.settled and not roster.supervisors:
            self.fail(path, "above its last band a flow needs a supervisor's approval, but "
                      f"{roster.path} has no operator with role supervisor")
        seen: dict[str, str] = {}
        return self.each(value, path, "flows such as {acno: ..., bands: [...]}",
                         lambda item, item_path: self.flow(item, item_path, own, roster, seen))

    def flow(self, value: object, path: str, own: frozenset[str], roster: _Roster,
             seen: dict[str, str]) -> Flow | None:
        data = self.mapping(value, path, ("acno", "bands"), ())
        if data is None:
            return None
        before = len(self.errors)
        acno = bands = None
        if "acno" in data:
            acno = self.own_account(data["acno"], at(path, "acno"), own, seen, "flow")
        if "bands" in data:
            bands = self.bands(data["bands"], at(path, "bands"), roster)
        if len(self.errors) > before or acno is None or bands is None:
            return None
        self.top_approver(bands[-1].levels, f"{at(path, 'bands')}[{len(bands) - 1}]", roster)
        if len(self.errors) > before:
            return None
        return Flow(acno=acno, bands=bands)

    def bands(self, value: object, path: str, roster: _Roster) -> tuple[Band, ...] | None:
        items = self.sequence(value, path, "bands")
        if items is None:
            return None
        before = len(self.errors)
        highest: tuple[int, str] | None = None  # the largest up_to so far, and its band
        result = []
        for index, item in enumerate(items):
            band_path = f"{path}[{index}]"
            data = self.mapping(item, band_path, ("up_to", "levels"), ())
            if data is None:
                continue
            up_to = levels = None
            if "up_to" in data:
                up_to = self.amount(data["up_to"], at(band_path, "up_to"), allow_zero=False)
            if up_to is not None:
                if highest is not None and up_to <= highest[0]:
                    self.fail(at(band_path, "up_to"),
                              f"must be above {format_yuan(highest[0])}, the up_to of "
                              f"{highest[1]} (bands run from the smallest amount up)")
                else:
                    highest = (up_to, band_path)
            if "levels" in data:
                levels = self.levels(data["levels"], at(band_path, "levels"), roster)
            if up_to is not None and levels is not None:
                result.append(Band(up_to=up_to, levels=levels))
        if len(self.errors) > before or len(result) != len(items):
            return None
        return tuple(result)

    def levels(self, value: object, path: str, roster: _Roster) -> Levels | None:
        """Levels in order, each a list of operators any one of whom approves it."""
        if not isinstance(value, list):
            self.fail(path, f"expected a list of levels such as [[B01], [C01, D01]], "
                      f"got {kind(value)}")
            return None
        if not value:
            self.fail(path, "at least one level is required")
            return None
        before = len(self.errors)
        seen: dict[str, str] = {}  # operator code -> where it is first listed
        result = []
        for index, level in enumerate(value):
            level_path = f"{path}[{index}]"
            if not isinstance(level, list):
                self.fail(level_path, "expected a list of operator codes such as [B01, C01] "
                          f"(any one of them approves the level), got {kind(level)}")
                continue
            if not level:
                self.fail(level_path, "at least one operator is required")
                continue
            codes = []
            for position, item in enumerate(level):
                code_path = f"{level_path}[{position}]"
                code = self.approver(item, code_path, roster)
                if code is None:
                    continue
                first = seen.setdefault(code, code_path)
                if first == code_path:
                    codes.append(code)
                elif first.startswith(f"{level_path}["):
                    self.fail(code_path, f"operator {code!r} is listed twice in this level "
                              f"(first at {first})")
                else:
                    self.fail(code_path, f"operator {code!r} is already in an earlier level "
                              f"({first}); nobody approves one instruction twice")
            result.append(tuple(codes))
        if len(self.errors) > before:
            return None
        return tuple(result)

    def approver(self, value: object, path: str, roster: _Roster) -> str | None:
        """An operator code of the enterprise whose role may approve."""
        code = self.string(value, path, "B01")
        if code is None:
            return None
        if not roster.readable:
            return code  # the list of operators is itself the problem
        if code not in roster.roles:
            codes = list(roster.roles)
            known = f"they are: {_codes(codes)}" if codes else "there are none"
            self.fail(path, f"no operator {show(code)} in {roster.path} ({known})")
            return None
        if roster.roles[code] == "maker":
            self.fail(path, f"operator {show(code)} is a maker; only a checker, deputy or "
                      "supervisor may approve")
            return None
        return code

    def top_approver(self, last: Levels, path: str, roster: _Roster) -> None:
        """Above the last band, some supervisor must still be free to approve last.

        Levels are disjoint, so a supervisor is free unless they are the only
        approver of one of the last band's levels (nobody approves twice).
        """
        supervisors = roster.supervisors
        if not roster.settled or not supervisors:
            return  # reported for the flows as a whole
        sole = {level[0] for level in last if len(level) == 1}
        if all(code in sole for code in supervisors):
            self.fail(at(path, "levels"),
                      f"above this last band a supervisor approves last, but every supervisor "
                      f"({_codes(list(supervisors))}) is the only approver of one of its levels "
                      "and nobody approves twice; add another approver to that level or "
                      "another supervisor")

    # -- directed accounts -------------------------------------------------------

    def directed(self, value: object, path: str,
                 own: frozenset[str]) -> tuple[Directed, ...] | None:
        seen: dict[str, str] = {}
        return self.each(value, path, "directed accounts such as {acno: ..., payees: [...]}",
                         lambda item, at_: self.directed_account(item, at_, own, seen))

    def directed_account(self, value: object, path: str, own: frozenset[str],
                         seen: dict[str, str]) -> Directed | None:
        data = self.mapping(value, path, ("acno", "payees"), ())
        if data is None:
            return None
        before = len(self.errors)
        acno = payees = None
        if "acno" in data:
            acno = self.own_account(data["acno"], at(path, "acno"), own, seen, "directed entry")
        if "payees" in data:
            payees = self.payees(data["payees"], at(path, "payees"), acno)
        if len(self.errors) > before or acno is None or payees is None:
            return None
        return Directed(acno=acno, payees=payees)

    def payees(self, value: object, path: str, acno: str | None) -> tuple[str, ...] | None:
        items = self.sequence(value, path, "payees")
        if items is None:
            return None
        seen: dict[str, str] = {}
        result = []
        for index, item in enumerate(items):
            payee_path = f"{path}[{index}]"
            payee = self.ruled(item, payee_path, "6222020200000000001", acno_problem)
            if payee is None:
                continue
            first = seen.setdefault(payee, payee_path)
            if first != payee_path:
                self.fail(payee_path, f"duplicate payee {payee!r} (first used at {first})")
            elif payee == acno:
                self.fail(payee_path, f"{payee!r} is the directed account itself")
            else:
                result.append(payee)
        return tuple(result) if len(result) == len(items) else None

    # -- limits ------------------------------------------------------------------

    def limits(self, value: object, path: str) -> Limits | None:
        data = self.mapping(value, path, (), (*LIMIT_KEYS, "to_personal"))
        if data is None:
            return None
        before = len(self.errors)
        single, daily, monthly = self.limit_amounts(data, path)
        to_personal = PersonalLimits()
        if "to_personal" in data:
            personal_path = at(path, "to_personal")
            personal = self.mapping(data["to_personal"], personal_path, (), LIMIT_KEYS)
            if personal is not None:
                amounts = self.limit_amounts(personal, personal_path)
                for key, mine, overall in zip(LIMIT_KEYS, amounts, (single, daily, monthly),
                                              strict=True):
                    if mine is not None and overall is not None and mine > overall:
                        self.fail(at(personal_path, key),
                                  f"{key} limit {format_yuan(mine)} exceeds the enterprise's "
                                  f"{key} limit {format_yuan(overall)} ({at(path, key)})")
                to_personal = PersonalLimits(*amounts)
        if len(self.errors) > before:
            return None
        return Limits(single=single, daily=daily, monthly=monthly, to_personal=to_personal)

    def limit_amounts(self, data: dict[str, Any],
                      path: str) -> tuple[int | None, int | None, int | None]:
        """``single``, ``daily``, ``monthly``; none above the next longer one that is set."""
        amounts = {key: self.amount(data[key], at(path, key), allow_zero=False)
                   if key in data else None for key in LIMIT_KEYS}
        given = [(key, amount) for key, amount in amounts.items() if amount is not None]
        for (key, amount), (longer, limit) in pairwise(given):
            if amount > limit:
                self.fail(at(path, key), f"{key} limit {format_yuan(amount)} exceeds the "
                          f"{longer} limit {format_yuan(limit)}")
        return amounts["single"], amounts["daily"], amounts["monthly"]
