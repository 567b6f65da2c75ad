"""The rules of authorization: the levels an amount needs, and who may approve next."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.seed import Band, Flow
from core_sim.flows import Approval, ApprovalRefused, Refusal, Status, levels_for
from protocol.money import parse_yuan

ACNO = "310066726018010000001"
SUPERVISORS = ("S01",)
ROLES = {"A01": "maker", "B01": "checker", "C01": "checker", "D01": "deputy",
         "S01": "supervisor", "S02": "supervisor"}

#: The four-band flow of DESIGN.md.
DESIGN_FLOW = Flow(ACNO, (
    Band(parse_yuan("1000000.00"), (("B01",),)),
    Band(parse_yuan("2000000.00"), (("B01",), ("C01",))),
    Band(parse_yuan("3000000.00"), (("B01", "C01"), ("D01",))),
    Band(parse_yuan("4000000.00"), (("B01",), ("C01",), ("D01",))),
))


def needs(amount: str, flow: Flow | None = DESIGN_FLOW) -> tuple[tuple[str, ...], ...]:
    return levels_for(flow, parse_yuan(amount), SUPERVISORS)


# -- the levels an amount needs -------------------------------------------------------


@pytest.mark.parametrize(("amount", "levels"), [
    ("500000.00", (("B01",),)),
    ("1500000.00", (("B01",), ("C01",))),
    ("2500000.00", (("B01", "C01"), ("D01",))),
    ("3500000.00", (("B01",), ("C01",), ("D01",))),
    ("5000000.00", (("B01",), ("C01",), ("D01",), ("S01",))),
])
def test_the_design_bands(amount: str, levels: tuple[tuple[str, ...], ...]) -> None:
    assert needs(amount) == levels


@pytest.mark.parametrize(("amount", "band"), [
    ("0.01", 0),
    ("1000000.00", 0),
    ("1000000.01", 1),
    ("2000000.00", 1),
    ("2000000.01", 2),
    ("3000000.00", 2),
    ("3000000.01", 3),
    ("4000000.00", 3),
])
def test_band_edges(amount: str, band: int) -> None:
    assert needs(amount) == DESIGN_FLOW.bands[band].levels


def test_one_fen_above_the_top() -> None:
    assert needs("4000000.01") == (*DESIGN_FLOW.bands[-1].levels, SUPERVISORS)


def test_above_the_top_every_supervisor_is_one_level() -> None:
    levels = levels_for(DESIGN_FLOW, parse_yuan("9999999.99"), ("S01", "S02"))
    assert levels[-1] == ("S01", "S02")
    assert levels[:-1] == DESIGN_FLOW.bands[-1].levels


def test_no_flow_executes_at_once() -> None:
    assert needs("99999999.99", None) == ()
    assert Approval(levels=()).complete


def test_above_the_top_without_a_supervisor_is_a_bug() -> None:
    with pytest.raises(ValueError, match="no supervisor"):
        levels_for(DESIGN_FLOW, parse_yuan("5000000.00"), ())
    assert levels_for(DESIGN_FLOW, parse_yuan("4000000.00"), ()) == DESIGN_FLOW.bands[-1].levels


@pytest.mark.parametrize("amount", [0, -1, True, 1.5, "100"])
def test_an_amount_is_positive_integer_fen(amount: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        levels_for(DESIGN_FLOW, amount, SUPERVISORS)  # type: ignore[arg-type]


# -- approvals -----------------------------------------------------------------------


def start(amount: str, maker: str = "001") -> Approval:
    return Approval(levels=needs(amount), maker=maker)


def approve(state: Approval, *codes: str) -> Approval:
    for code in codes:
        state = state.approve(code, ROLES[code])
    return state


def test_the_levels_go_in_order_to_completion() -> None:
    state = start("5000000.00")
    assert (state.status, state.next_level, state.waiting_for) == (Status.WAITING, 0, ("B01",))
    state = approve(state, "B01", "C01", "D01")
    assert (state.next_level, state.waiting_for, state.complete) == (3, ("S01",), False)
    state = approve(state, "S01")
    assert state.complete and state.status is Status.COMPLETE
    assert (state.next_level, state.waiting_for) == (None, ())
    assert state.approvers == ("B01", "C01", "D01", "S01")


def test_a_state_is_immutable() -> None:
    state = start("1500000.00")
    after = approve(state, "B01")
    assert state.approvers == () and after.approvers == ("B01",)
    with pytest.raises(AttributeError):
        state.approvers = ("B01",)  # type: ignore[misc]


@pytest.mark.parametrize("checker", ["B01", "C01"])
def test_either_checker_of_a_parallel_level_suffices(checker: str) -> None:
    state = approve(start("2500000.00"), checker)
    other = "C01" if checker == "B01" else "B01"
    assert state.waiting_for == ("D01",)
    assert state.may_approve(other, "checker") is Refusal.NOT_IN_LEVEL
    assert approve(state, "D01").complete


def test_wrong_order() -> None:
    state = start("3500000.00")
    assert state.may_approve("C01", "checker") is Refusal.WRONG_ORDER
    assert state.may_approve("D01", "deputy") is Refusal.WRONG_ORDER
    with pytest.raises(ApprovalRefused) as info:
        state.approve("D01", "deputy")
    assert info.value.reason is Refusal.WRONG_ORDER and info.value.code == "D01"
    assert "wrong_order" in str(info.value)


def test_self_approval() -> None:
    state = start("500000.00", maker="B01")
    assert state.may_approve("B01", "checker") is Refusal.SELF_APPROVAL
    with pytest.raises(ApprovalRefused, match="their own instruction"):
        state.approve("B01", "checker")
    assert start("500000.00", maker="").may_approve("B01", "checker") is None


def test_double_approval_even_at_another_level() -> None:
    flow = Flow(ACNO, (Band(100, (("B01",), ("B01", "C01"))),))  # not in a seed; still refused
    state = approve(Approval(levels=levels_for(flow, 100, SUPERVISORS)), "B01")
    assert state.may_approve("B01", "checker") is Refusal.ALREADY_APPROVED
    above = approve(Approval(levels=levels_for(DESIGN_FLOW, parse_yuan("5000000.00"),
                                               ("B01", "S01"))), "B01", "C01", "D01")
    assert above.may_approve("B01", "checker") is Refusal.ALREADY_APPROVED
    assert approve(above, "S01").complete


def test_an_operator_of_no_level() -> None:
    state = start("1500000.00")
    assert state.may_approve("D01", "deputy") is Refusal.NOT_IN_LEVEL
    assert state.may_approve("S01", "supervisor") is Refusal.NOT_IN_LEVEL
    assert state.may_approve("ZZZ", "checker") is Refusal.NOT_IN_LEVEL


def test_a_maker_never_approves() -> None:
    state = Approval(levels=(("A01", "B01"),))
    assert state.may_approve("A01", "maker") is Refusal.NOT_AN_APPROVER
    assert state.may_approve("B01", "maker") is Refusal.NOT_AN_APPROVER
    with pytest.raises(ValueError, match="unknown role"):
        state.may_approve("B01", "boss")


def test_rejection_cancels() -> None:
    state = approve(start("1500000.00"), "B01")
    assert state.may_approve("C01", "checker") is None
    with pytest.raises(ApprovalRefused) as info:
        state.reject("D01", "deputy")
    assert info.value.reason is Refusal.NOT_IN_LEVEL
    cancelled = state.reject("C01", "checker")
    assert cancelled.cancelled and cancelled.status is Status.CANCELLED
    assert (cancelled.rejected_by, cancelled.next_level, cancelled.complete) == ("C01", None, False)
    assert cancelled.may_approve("C01", "checker") is Refusal.NOT_WAITING


def test_nothing_after_completion() -> None:
    state = approve(start("500000.00"), "B01")
    assert state.may_approve("C01", "checker") is Refusal.NOT_WAITING
    with pytest.raises(ApprovalRefused):
        state.reject("B01", "checker")


def test_every_refusal_has_a_stable_name_and_text() -> None:
    assert [refusal.value for refusal in Refusal] == [
        "not_waiting", "self_approval", "not_an_approver", "already_approved", "wrong_order",
        "not_in_level",
    ]
    assert all(refusal.text for refusal in Refusal)


@pytest.mark.parametrize("fields", [
    {"levels": ((),)},
    {"levels": (("B01",),), "approvers": ("B01", "C01")},
    {"levels": (("B01",),), "approvers": ("C01",)},
    {"levels": (("B01",), ("B01",)), "approvers": ("B01", "B01")},
    {"levels": (("B01",),), "maker": "B01", "approvers": ("B01",)},
    {"levels": (("B01",),), "approvers": ("B01",), "rejected_by": "B01"},
    {"levels": (("B01",), ("C01",)), "rejected_by": "C01"},
])
def test_a_state_the_rules_cannot_reach_is_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Approval(**fields)  # type: ignore[arg-type]


def test_a_state_rebuilt_from_lists_equals_the_original() -> None:
    state = approve(start("3500000.00"), "B01")
    rebuilt = Approval(levels=[list(level) for level in state.levels], maker="001",
                       approvers=["B01"])  # type: ignore[arg-type]
    assert rebuilt == state


# -- property: completion needs exactly one approval per level, in order ---------------

CODES = ["A01", "B01", "C01", "D01", "S01", "S02", "X01"]
ROLE_OF = {**ROLES, "X01": "checker"}

levels_strategy = st.lists(
    st.lists(st.sampled_from(CODES[1:]), min_size=1, max_size=3, unique=True).map(tuple),
    min_size=1, max_size=5,
).map(tuple)
attempts_strategy = st.lists(
    st.tuples(st.sampled_from(CODES), st.booleans()), max_size=20)


def expected_refusal(levels: tuple[tuple[str, ...], ...], maker: str, done: list[str],
                     rejected: bool, code: str) -> Refusal | None:
    """The rules written out once more, from the levels and what happened so far."""
    if rejected or len(done) == len(levels):
        return Refusal.NOT_WAITING
    if maker and code == maker:
        return Refusal.SELF_APPROVAL
    if ROLE_OF[code] == "maker":
        return Refusal.NOT_AN_APPROVER
    if code in done:
        return Refusal.ALREADY_APPROVED
    if code in levels[len(done)]:
        return None
    if any(code in level for level in levels[len(done) + 1:]):
        return Refusal.WRONG_ORDER
    return Refusal.NOT_IN_LEVEL


@settings(max_examples=400, deadline=None)
@given(levels_strategy, st.sampled_from(["", "001", "B01", "S01"]), attempts_strategy)
def test_completion_iff_each_level_has_one_distinct_listed_approver_in_order(
    levels: tuple[tuple[str, ...], ...], maker: str, attempts: list[tuple[str, bool]]
) -> None:
    state = Approval(levels=levels, maker=maker)
    done: list[str] = []
    rejected = False
    for code, rejects in attempts:
        refusal = expected_refusal(levels, maker, done, rejected, code)
        assert state.may_approve(code, ROLE_OF[code]) is refusal
        act = state.reject if rejects else state.approve
        if refusal is not None:
            with pytest.raises(ApprovalRefused) as info:
                act(code, ROLE_OF[code])
            assert info.value.reason is refusal
            continue
        state = act(code, ROLE_OF[code])
        if rejects:
            rejected = True
        else:
            done.append(code)
    assert state.approvers == tuple(done)
    one_each_in_order = (
        len(done) == len(levels)
        and all(code in level for code, level in zip(done, levels, strict=True))
        and len(set(done)) == len(done)
        and maker not in done
        and all(ROLE_OF[code] != "maker" for code in done)
    )
    assert state.complete == (one_each_in_order and not rejected)
    assert state.cancelled == rejected


@settings(max_examples=400, deadline=None)
@given(levels_strategy, st.sampled_from(["", "001", "B01", "S01"]), st.data())
def test_one_pick_per_level_in_order_completes_iff_the_picks_may_approve(
    levels: tuple[tuple[str, ...], ...], maker: str, data: st.DataObject
) -> None:
    picks = [data.draw(st.sampled_from(level)) for level in levels]
    allowed = len(set(picks)) == len(picks) and maker not in picks
    state = Approval(levels=levels, maker=maker)
    try:
        for code in picks:
            state = state.approve(code, ROLE_OF[code])
    except ApprovalRefused as refused:
        assert not allowed
        assert refused.reason in (Refusal.ALREADY_APPROVED, Refusal.SELF_APPROVAL)
    else:
        assert allowed and state.complete
