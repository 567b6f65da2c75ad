"""An enterprise's controls in the seed: operators, flows, directed accounts, limits.

Each rule is checked for the exact path it reports, since that path is what
an admin uses to find the mistake in the file.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from config.errors import ConfigError
from config.seed import (
    DEMO_SEED,
    Band,
    Directed,
    Flow,
    Limits,
    Operator,
    PersonalLimits,
    load_seed,
    parse_seed,
)
from core_sim.flows import levels_for

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "etc" / "seed-controls.yaml"
ACNO = "310066726018010000001"
DIRECTED = "310066726018010000002"
E0 = "enterprises[0]"
F0 = f"{E0}.flows[0]"

Mutation = Callable[[dict[str, Any]], None]


def example() -> dict[str, Any]:
    """The example seed, as the Python structure YAML loads."""
    return yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))


def dump(document: object) -> str:
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


def failure(document: object) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_seed(dump(document))
    return info.value


def problems(document: object) -> list[tuple[str, str]]:
    return [(error.path, error.reason) for error in failure(document).errors]


def assert_error(error: ConfigError, path: str, reason: str) -> None:
    """``error`` lists a problem at exactly ``path`` whose reason contains ``reason``."""
    found = [(e.path, e.reason) for e in error.errors]
    assert any(p == path and reason in r for p, r in found), found
    assert f"<string>: {path}: " in str(error)


# -- the example seed ---------------------------------------------------------------


def test_the_example_seed_loads_to_the_documented_controls() -> None:
    enterprise = load_seed(EXAMPLE).enterprises[0]
    assert enterprise.operators == (
        Operator("A01", "甲", "maker"),
        Operator("B01", "乙", "checker"),
        Operator("C01", "丙", "checker"),
        Operator("D01", "丁", "deputy"),
        Operator("S01", "主管", "supervisor"),
    )
    assert enterprise.flows == (
        Flow(ACNO, (
            Band(100_000_000, (("B01",),)),
            Band(200_000_000, (("B01",), ("C01",))),
            Band(300_000_000, (("B01", "C01"), ("D01",))),
            Band(400_000_000, (("B01",), ("C01",), ("D01",))),
        )),
    )
    assert enterprise.collection_flow == (("B01",),)
    assert enterprise.directed == (Directed(DIRECTED, ("6222020200000000001",)),)
    assert enterprise.limits == Limits(
        single=1_000_000_000, daily=2_000_000_000, monthly=20_000_000_000,
        to_personal=PersonalLimits(single=50_000_000, daily=200_000_000,
                                   monthly=2_000_000_000),
    )
    assert enterprise.supervisors == ("S01",)
    assert enterprise.flow_for(ACNO) is enterprise.flows[0]
    assert enterprise.flow_for(DIRECTED) is None
    assert enterprise.payees_for(DIRECTED) == ("6222020200000000001",)
    assert enterprise.payees_for(ACNO) is None


def test_the_example_seed_gives_the_documented_levels() -> None:
    enterprise = load_seed(EXAMPLE).enterprises[0]
    flow = enterprise.flow_for(ACNO)
    assert levels_for(flow, 500_000_000, enterprise.supervisors) == (
        ("B01",), ("C01",), ("D01",), ("S01",))
    assert levels_for(enterprise.flow_for(DIRECTED), 500_000_000, enterprise.supervisors) == ()


def test_seeds_without_controls_load_as_before() -> None:
    seed = parse_seed(DEMO_SEED)
    insurance, trading = seed.enterprises
    assert insurance.limits == Limits(single=500_000_000, daily=2_000_000_000)
    assert insurance.limits.monthly is None
    assert insurance.limits.to_personal == PersonalLimits()
    for enterprise in seed.enterprises:
        assert (enterprise.operators, enterprise.flows, enterprise.collection_flow,
                enterprise.directed) == ((), (), (), ())
        assert enterprise.supervisors == ()
    assert trading.limits == Limits()


def test_null_and_empty_controls_are_none() -> None:
    doc = example()
    enterprise = doc["enterprises"][0]
    enterprise.update(operators=[], flows=[], collection_flow=None, directed=None)
    enterprise["limits"] = {"single": "5.00", "monthly": None, "to_personal": None}
    parsed = parse_seed(dump(doc)).enterprises[0]
    assert (parsed.operators, parsed.flows, parsed.collection_flow, parsed.directed) == (
        (), (), (), ())
    assert parsed.limits == Limits(single=500)


def test_limits_to_individuals_alone() -> None:
    doc = example()
    doc["enterprises"][0]["limits"] = {"to_personal": {"daily": "100.00"}}
    assert parse_seed(dump(doc)).enterprises[0].limits == Limits(
        to_personal=PersonalLimits(daily=10_000))


def test_a_supervisor_may_approve_a_band_if_another_can_approve_last() -> None:
    doc = example()
    doc["enterprises"][0]["flows"][0]["bands"][-1]["levels"] = [["S01", "B01"], ["C01"]]
    parse_seed(dump(doc))  # S01 takes the first level, or B01 does and S01 approves last


# -- every rule, with its path -------------------------------------------------------


def set_at(path: tuple[Any, ...], value: object) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        target: Any = doc
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return mutate


def delete_at(path: tuple[Any, ...]) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        target: Any = doc
        for step in path[:-1]:
            target = target[step]
        del target[path[-1]]

    return mutate


def both(*mutations: Mutation) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        for mutation in mutations:
            mutation(doc)

    return mutate


ENT = ("enterprises", 0)
OPS = (*ENT, "operators")
FLOW = (*ENT, "flows", 0)
BANDS = (*FLOW, "bands")
DIR = (*ENT, "directed", 0)
LIM = (*ENT, "limits")
TP = (*LIM, "to_personal")
OTHER = "310066726018010000101"

# fmt: off
RULES: list[tuple[str, Mutation, str, str]] = [
    # unknown keys
    ("unknown enterprise key", set_at((*ENT, "flow"), []), E0, "unknown key 'flow' (did you mean"),
    ("unknown operator key", set_at((*OPS, 0, "title"), "x"), f"{E0}.operators[0]", "'title'"),
    ("unknown flow key", set_at((*FLOW, "band"), []), F0, "unknown key 'band'"),
    ("unknown band key", set_at((*BANDS, 0, "upto"), "1.00"), f"{F0}.bands[0]",
     "unknown key 'upto'"),
    ("unknown directed key", set_at((*DIR, "payee"), []), f"{E0}.directed[0]", "'payee'"),
    ("unknown limits key", set_at((*LIM, "weekly"), "1.00"), f"{E0}.limits", "'weekly'"),
    ("unknown to_personal key", set_at((*TP, "yearly"), "1.00"), f"{E0}.limits.to_personal",
     "unknown key 'yearly'"),
    # operators
    ("operators not a list", set_at(OPS, {"code": "A01"}), f"{E0}.operators", "expected a list"),
    ("operator not a mapping", set_at((*OPS, 0), "A01"), f"{E0}.operators[0]",
     "expected a mapping"),
    ("no operator code", delete_at((*OPS, 0, "code")), f"{E0}.operators[0]",
     "missing required key 'code'"),
    ("no operator name", delete_at((*OPS, 0, "name")), f"{E0}.operators[0]", "'name'"),
    ("no operator role", delete_at((*OPS, 0, "role")), f"{E0}.operators[0]", "'role'"),
    ("operator code dash", set_at((*OPS, 0, "code"), "A-1"), f"{E0}.operators[0].code",
     "letters and digits only"),
    ("operator code long", set_at((*OPS, 0, "code"), "A" * 21), f"{E0}.operators[0].code",
     "at most 20"),
    ("operator code empty", set_at((*OPS, 0, "code"), ""), f"{E0}.operators[0].code",
     "must not be empty"),
    ("operator code number", set_at((*OPS, 0, "code"), 1), f"{E0}.operators[0].code", "quoted"),
    ("operator code twice", set_at((*OPS, 2, "code"), "B01"), f"{E0}.operators[2].code",
     f"duplicate operator code 'B01' (first used at {E0}.operators[1].code)"),
    ("operator name", set_at((*OPS, 0, "name"), "a|b"), f"{E0}.operators[0].name", "'|'"),
    ("operator role", set_at((*OPS, 3, "role"), "boss"), f"{E0}.operators[3].role",
     "must be one of maker, checker, deputy, supervisor, not 'boss'"),
    # flows
    ("flows not a list", set_at((*ENT, "flows"), {}), f"{E0}.flows", "expected a list of flows"),
    ("flow acno not ours", set_at((*FLOW, "acno"), OTHER), f"{F0}.acno",
     f"'{OTHER}' is not one of this enterprise's accounts"),
    ("flow acno form", set_at((*FLOW, "acno"), "31-0"), f"{F0}.acno", "digits only"),
    ("no flow acno", delete_at((*FLOW, "acno")), F0, "missing required key 'acno'"),
    ("no bands", delete_at(BANDS), F0, "missing required key 'bands'"),
    ("bands empty", set_at(BANDS, []), f"{F0}.bands", "at least one band is required"),
    ("bands not a list", set_at(BANDS, "x"), f"{F0}.bands", "expected a list of bands"),
    ("up_to below", set_at((*BANDS, 2, "up_to"), "1500000.00"), f"{F0}.bands[2].up_to",
     f"must be above 2000000.00, the up_to of {F0}.bands[1]"),
    ("up_to equal", set_at((*BANDS, 1, "up_to"), "1000000.00"), f"{F0}.bands[1].up_to",
     "must be above 1000000.00"),
    ("up_to zero", set_at((*BANDS, 0, "up_to"), "0.00"), f"{F0}.bands[0].up_to", "positive"),
    ("up_to float", set_at((*BANDS, 0, "up_to"), 1000.0), f"{F0}.bands[0].up_to", "quoted"),
    ("up_to decimals", set_at((*BANDS, 0, "up_to"), "1.001"), f"{F0}.bands[0].up_to",
     "two decimals"),
    ("no up_to", delete_at((*BANDS, 0, "up_to")), f"{F0}.bands[0]", "'up_to'"),
    ("no levels", delete_at((*BANDS, 0, "levels")), f"{F0}.bands[0]", "'levels'"),
    ("levels empty", set_at((*BANDS, 0, "levels"), []), f"{F0}.bands[0].levels",
     "at least one level is required"),
    ("levels null", set_at((*BANDS, 0, "levels"), None), f"{F0}.bands[0].levels",
     "expected a list of levels"),
    ("level flat", set_at((*BANDS, 0, "levels"), ["B01"]), f"{F0}.bands[0].levels[0]",
     "expected a list of operator codes such as [B01, C01]"),
    ("level empty", set_at((*BANDS, 1, "levels"), [["B01"], []]), f"{F0}.bands[1].levels[1]",
     "at least one operator is required"),
    ("level unknown code", set_at((*BANDS, 2, "levels"), [["B01", "Z01"], ["D01"]]),
     f"{F0}.bands[2].levels[0][1]",
     f"no operator 'Z01' in {E0}.operators (they are: A01, B01, C01, D01, S01)"),
    ("level maker", set_at((*BANDS, 0, "levels"), [["A01"]]), f"{F0}.bands[0].levels[0][0]",
     "operator 'A01' is a maker; only a checker, deputy or supervisor may approve"),
    ("level code number", set_at((*BANDS, 0, "levels"), [[1]]), f"{F0}.bands[0].levels[0][0]",
     "quoted string"),
    ("twice in a level", set_at((*BANDS, 2, "levels"), [["B01", "B01"], ["D01"]]),
     f"{F0}.bands[2].levels[0][1]",
     f"operator 'B01' is listed twice in this level (first at {F0}.bands[2].levels[0][0])"),
    ("two levels of a band", set_at((*BANDS, 3, "levels"), [["B01"], ["C01"], ["D01", "B01"]]),
     f"{F0}.bands[3].levels[2][1]",
     f"operator 'B01' is already in an earlier level ({F0}.bands[3].levels[0][0]); "
     "nobody approves one instruction twice"),
    ("no supervisor", set_at((*OPS, 4, "role"), "deputy"), f"{E0}.flows",
     "above its last band a flow needs a supervisor's approval, but "
     f"{E0}.operators has no operator with role supervisor"),
    ("no operators", delete_at(OPS), f"{F0}.bands[0].levels[0][0]",
     f"no operator 'B01' in {E0}.operators (there are none)"),
    ("supervisor cannot approve last", set_at((*BANDS, 3, "levels"), [["B01"], ["S01"]]),
     f"{F0}.bands[3].levels", "every supervisor (S01) is the only approver of one of its levels"),
    ("flow twice", lambda doc: doc["enterprises"][0]["flows"].append(
        copy.deepcopy(doc["enterprises"][0]["flows"][0])), f"{E0}.flows[1].acno",
     f"duplicate flow for account '{ACNO}' (first used at {F0}.acno)"),
    # the collection flow
    ("collection flow not a list", set_at((*ENT, "collection_flow"), "B01"),
     f"{E0}.collection_flow", "expected a list of levels such as [[B01], [C01, D01]]"),
    ("collection flow empty", set_at((*ENT, "collection_flow"), []), f"{E0}.collection_flow",
     "at least one level is required"),
    ("collection flow maker", set_at((*ENT, "collection_flow"), [["B01"], ["A01"]]),
     f"{E0}.collection_flow[1][0]", "is a maker"),
    ("collection flow twice", set_at((*ENT, "collection_flow"), [["B01"], ["C01", "B01"]]),
     f"{E0}.collection_flow[1][1]", "already in an earlier level"),
    ("collection flow unknown", set_at((*ENT, "collection_flow"), [["X9"]]),
     f"{E0}.collection_flow[0][0]", "no operator 'X9'"),
    # directed accounts
    ("directed not a list", set_at((*ENT, "directed"), {}), f"{E0}.directed", "expected a list"),
    ("directed acno not ours", set_at((*DIR, "acno"), "6222020200000000001"),
     f"{E0}.directed[0].acno", "is not one of this enterprise's accounts"),
    ("directed twice", lambda doc: doc["enterprises"][0]["directed"].append(
        {"acno": DIRECTED, "payees": ["1"]}), f"{E0}.directed[1].acno",
     f"duplicate directed entry for account '{DIRECTED}' (first used at {E0}.directed[0].acno)"),
    ("no payees", delete_at((*DIR, "payees")), f"{E0}.directed[0]", "'payees'"),
    ("payees empty", set_at((*DIR, "payees"), []), f"{E0}.directed[0].payees",
     "at least one payee is required"),
    ("payees not a list", set_at((*DIR, "payees"), "6222"), f"{E0}.directed[0].payees",
     "expected a list of payees"),
    ("payee form", set_at((*DIR, "payees"), ["6222-1"]), f"{E0}.directed[0].payees[0]",
     "digits only"),
    ("payee number", set_at((*DIR, "payees"), [6222]), f"{E0}.directed[0].payees[0]", "quoted"),
    ("payee twice", set_at((*DIR, "payees"), ["1", "2", "1"]), f"{E0}.directed[0].payees[2]",
     f"duplicate payee '1' (first used at {E0}.directed[0].payees[0])"),
    ("payee itself", set_at((*DIR, "payees"), [DIRECTED]), f"{E0}.directed[0].payees[0]",
     "is the directed account itself"),
    # limits
    ("monthly zero", set_at((*LIM, "monthly"), "0.00"), f"{E0}.limits.monthly", "positive"),
    ("monthly float", set_at((*LIM, "monthly"), 1.5), f"{E0}.limits.monthly", "quoted"),
    ("daily over monthly", set_at((*LIM, "monthly"), "100.00"), f"{E0}.limits.daily",
     "daily limit 20000000.00 exceeds the monthly limit 100.00"),
    ("single over monthly", both(delete_at((*LIM, "daily")), set_at((*LIM, "monthly"), "1.00")),
     f"{E0}.limits.single", "single limit 10000000.00 exceeds the monthly limit 1.00"),
    ("to_personal not a mapping", set_at(TP, "1.00"), f"{E0}.limits.to_personal",
     "expected a mapping with keys single, daily, monthly"),
    ("to_personal negative", set_at((*TP, "daily"), "-1.00"), f"{E0}.limits.to_personal.daily",
     "negative"),
    ("to_personal single over daily", set_at((*TP, "single"), "3000000.00"),
     f"{E0}.limits.to_personal.single", "single limit 3000000.00 exceeds the daily limit"),
    ("to_personal over the enterprise", set_at((*TP, "monthly"), "300000000.00"),
     f"{E0}.limits.to_personal.monthly",
     "monthly limit 300000000.00 exceeds the enterprise's monthly limit 200000000.00 "
     f"({E0}.limits.monthly)"),
]
# fmt: on


@pytest.mark.parametrize(
    ("mutate", "path", "reason"), [r[1:] for r in RULES], ids=[r[0] for r in RULES]
)
def test_rule_reports_its_path(mutate: Mutation, path: str, reason: str) -> None:
    doc = example()
    mutate(doc)
    assert_error(failure(doc), path, reason)


def test_the_role_message_is_exact() -> None:
    doc = example()
    doc["enterprises"][0]["operators"][3]["role"] = "boss"
    assert str(failure(doc)) == (
        "<string>: enterprises[0].operators[3].role: "
        "must be one of maker, checker, deputy, supervisor, not 'boss'"
    )


def test_the_band_order_message_is_exact() -> None:
    doc = example()
    doc["enterprises"][0]["flows"][0]["bands"][2]["up_to"] = "2000000.00"
    assert str(failure(doc)) == (
        "<string>: enterprises[0].flows[0].bands[2].up_to: must be above 2000000.00, the up_to "
        "of enterprises[0].flows[0].bands[1] (bands run from the smallest amount up)"
    )


def test_one_mistake_is_reported_once() -> None:
    doc = example()
    enterprise = doc["enterprises"][0]
    enterprise["operators"][4]["role"] = "chief"  # the flows name S01 and need a supervisor
    enterprise["operators"][1]["name"] = ""  # B01 is named by every band
    enterprise["accounts"][0]["balance"] = "x"  # the flow's account
    enterprise["accounts"][1]["name"] = ""  # the directed account
    assert [path for path, _ in problems(doc)] == [
        f"{E0}.accounts[0].balance",
        f"{E0}.accounts[1].name",
        f"{E0}.operators[1].name",
        f"{E0}.operators[4].role",
    ]


def test_unreadable_operators_are_reported_once() -> None:
    doc = example()
    doc["enterprises"][0]["operators"] = "A01, B01"
    assert [path for path, _ in problems(doc)] == [f"{E0}.operators"]


def test_every_mistake_is_reported_at_once() -> None:
    doc = example()
    enterprise = doc["enterprises"][0]
    enterprise["operators"][0]["role"] = "boss"
    enterprise["flows"][0]["bands"][1]["up_to"] = "1.00"
    enterprise["collection_flow"] = [["B01", "B01"]]
    enterprise["directed"][0]["payees"] = []
    enterprise["limits"]["to_personal"]["single"] = "0"
    assert [path for path, _ in problems(doc)] == [
        f"{E0}.limits.to_personal.single",
        f"{E0}.operators[0].role",
        f"{F0}.bands[1].up_to",
        f"{E0}.collection_flow[0][1]",
        f"{E0}.directed[0].payees",
    ]


def test_a_mistake_in_the_controls_loads_nothing() -> None:
    doc = example()
    doc["enterprises"][0]["directed"][0]["payees"] = [DIRECTED]
    with pytest.raises(ConfigError):
        parse_seed(dump(doc))


def test_controls_are_immutable() -> None:
    enterprise = load_seed(EXAMPLE).enterprises[0]
    with pytest.raises(AttributeError):
        enterprise.flows[0].bands[0].up_to = 1  # type: ignore[misc]
    with pytest.raises(AttributeError):
        enterprise.limits.to_personal.single = 1  # type: ignore[misc]
    assert isinstance(enterprise.flows[0].bands[0].levels[0], tuple)


# -- robustness --------------------------------------------------------------------------


def leaf_paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(node, dict):
        return [p for key, child in node.items() for p in leaf_paths(child, (*prefix, key))]
    if isinstance(node, list):
        return [p for i, child in enumerate(node) for p in leaf_paths(child, (*prefix, i))]
    return [prefix]


CONTROL_LEAVES = [path for path in leaf_paths(example())
                  if path[:2] == ("enterprises", 0)
                  and path[2] in ("operators", "flows", "collection_flow", "directed", "limits")]
CONTROL_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-5, 10**16), st.floats(),
              st.text(max_size=12),
              st.sampled_from(["B01", "A01", "S01", "maker", "supervisor", "1.00", ACNO])),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.sampled_from(["code", "role", "acno", "up_to", "levels", "payees",
                                         "single", "x"]), children, max_size=3),
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(CONTROL_LEAVES), CONTROL_VALUES)
def test_mutated_controls_only_raise_config_error(path: tuple[Any, ...], value: object) -> None:
    doc = example()
    set_at(path, value)(doc)
    try:
        parse_seed(dump(doc))
    except ConfigError as error:
        assert all(e.reason and e.path.startswith(E0) for e in error.errors)
