"""protocol.capitals: amounts in Chinese financial capitals, per the PBoC rules."""

from __future__ import annotations

import doctest
from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from protocol import capitals
from protocol.capitals import amount_in_capitals
from protocol.money import MAX_FEN


def fen(figures: str) -> int:
    """'1,234.56' (or '10,0000,0000.00', grouped by four) -> 123456."""
    whole, cents = figures.replace(",", "").split(".")
    return int(whole) * 100 + int(cents)


# Worked by hand from the rules in protocol/capitals.py. "PBoC" marks the
# examples of the rules themselves (正确填写票据和结算凭证的基本规定, 4.1-4.4);
# where a rule gives two spellings the first is expected, and 整 after 角.
CASES = [
    ("0.00", "零元整"),
    ("0.01", "壹分"),
    ("0.05", "伍分"),
    ("0.10", "壹角整"),
    ("0.50", "伍角整"),
    ("0.56", "伍角陆分"),
    ("1.00", "壹元整"),
    ("1.01", "壹元零壹分"),
    ("1.10", "壹元壹角整"),
    ("10.00", "壹拾元整"),
    ("10.05", "壹拾元零伍分"),
    ("10.50", "壹拾元零伍角整"),
    ("11.00", "壹拾壹元整"),
    ("100.00", "壹佰元整"),
    ("110.00", "壹佰壹拾元整"),
    ("325.04", "叁佰贰拾伍元零肆分"),  # PBoC 4.4
    ("1,004.00", "壹仟零肆元整"),
    ("1,234.56", "壹仟贰佰叁拾肆元伍角陆分"),
    ("1,409.50", "壹仟肆佰零玖元伍角整"),  # PBoC 4.1 (which leaves out 整 after 角)
    ("1,680.32", "壹仟陆佰捌拾元零叁角贰分"),  # PBoC 4.3, first form
    ("6,007.14", "陆仟零柒元壹角肆分"),  # PBoC 4.2
    ("16,409.02", "壹万陆仟肆佰零玖元零贰分"),  # PBoC 4.4
    ("20,000.30", "贰万元零叁角整"),
    ("100,000.00", "壹拾万元整"),
    ("100,010.00", "壹拾万零壹拾元整"),
    ("107,000.53", "壹拾万柒仟元零伍角叁分"),  # PBoC 4.3, first form
    ("200,300.00", "贰拾万零叁佰元整"),
    ("1,000,010.00", "壹佰万零壹拾元整"),
    ("1,007,000.00", "壹佰万柒仟元整"),
    ("10,000,000.00", "壹仟万元整"),
    ("50,000,000.05", "伍仟万元零伍分"),
    ("100,000,000.00", "壹亿元整"),
    ("100,000,001.01", "壹亿零壹元零壹分"),
    ("100,005,000.00", "壹亿零伍仟元整"),
    ("10,0000,0000.00", "壹拾亿元整"),
    ("10,0500,0000.00", "壹拾亿零伍佰万元整"),
    ("10,5000,0000.00", "壹拾亿伍仟万元整"),
    ("1,0000,0000,0000.00", "壹万亿元整"),
    ("1,0000,0000,0000.01", "壹万亿元零壹分"),
    ("1,0000,0001,0000.00", "壹万亿零壹万元整"),
    ("1,0001,0000,0000.00", "壹万零壹亿元整"),
    ("12,3456,7890,1234.56", "壹拾贰万叁仟肆佰伍拾陆亿柒仟捌佰玖拾万壹仟贰佰叁拾肆元伍角陆分"),
    ("99,9999,9999,9999.99",
     "玖拾玖万玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
]


@pytest.mark.parametrize(("figures", "expected"), CASES)
def test_hand_worked_amounts(figures: str, expected: str) -> None:
    assert amount_in_capitals(fen(figures)) == expected


def test_the_table_covers_the_maximum() -> None:
    assert fen(CASES[-1][0]) == MAX_FEN


def test_docstring_examples() -> None:
    assert doctest.testmod(capitals).failed == 0


@pytest.mark.parametrize("amount", [-1, -100, MAX_FEN + 1, 10**20])
def test_out_of_range_amounts_are_refused(amount: int) -> None:
    with pytest.raises(ValueError, match=r"negative|too large"):
        amount_in_capitals(amount)


@pytest.mark.parametrize("amount", [1.5, 100.0, Decimal("1.00"), True, False, "100", None])
def test_only_int_fen_is_accepted(amount: object) -> None:
    with pytest.raises(TypeError, match="must be an int"):
        amount_in_capitals(amount)  # type: ignore[arg-type]


# -- an independent reader of capitals ---------------------------------------------

_DIGITS = {c: i for i, c in enumerate("零壹贰叁肆伍陆柒捌玖")}
_PLACES = {"拾": 10, "佰": 100, "仟": 1000}


def read_capitals(text: str) -> int:
    """Capitals back to fen, the way a person adds up what is written."""
    if text.endswith("整"):
        text = text[:-1]
    whole, has_yuan, fraction = text.partition("元")
    if not has_yuan:
        whole, fraction = "", text
    yi = wan = section = digit = 0
    for char in whole:
        if char in _DIGITS:
            digit = _DIGITS[char]
        elif char in _PLACES:
            section += digit * _PLACES[char]
            digit = 0
        elif char == "万":
            wan += (section + digit) * 10**4
            section = digit = 0
        elif char == "亿":
            yi = (yi + wan + section + digit) * 10**8
            wan = section = digit = 0
        else:
            raise AssertionError(f"unexpected {char!r} in {text!r}")
    yuan = yi + wan + section + digit
    cents = digit = 0
    for char in fraction:
        if char in _DIGITS:
            digit = _DIGITS[char]
        elif char in "角分":
            cents += digit * (10 if char == "角" else 1)
            digit = 0
        else:
            raise AssertionError(f"unexpected {char!r} in {text!r}")
    return yuan * 100 + cents


def test_reader_agrees_with_the_table() -> None:
    for figures, expected in CASES:
        assert read_capitals(expected) == fen(figures), figures


# Amounts rich in zeros reach the 零 rules more often than uniform ones.
zero_rich = st.lists(st.sampled_from("0000000000123456789"), min_size=1, max_size=16).map(
    lambda digits: int("".join(digits)))


@given(st.one_of(st.integers(0, MAX_FEN), zero_rich))
@example(0)
@example(MAX_FEN)
@example(fen("100,000,001.01"))
def test_capitals_read_back_to_the_same_amount(amount: int) -> None:
    text = amount_in_capitals(amount)
    assert read_capitals(text) == amount


@given(st.one_of(st.integers(0, MAX_FEN), zero_rich))
def test_capitals_are_well_formed(amount: int) -> None:
    text = amount_in_capitals(amount)
    assert set(text) <= set("零壹贰叁肆伍陆柒捌玖拾佰仟万亿元角分整")
    assert text.endswith("分") == (amount % 10 != 0)
    assert text.endswith("整") == (amount % 10 == 0)
    assert ("元" in text) == (amount >= 100 or amount == 0)
    if amount == 0:
        return
    # One 零 per run of zeros, never leading, never before a unit or the end.
    assert "零零" not in text
    assert not text.startswith("零")
    for unit in "拾佰仟万亿元角分整":
        assert "零" + unit not in text
    # Ten is always 壹拾: 拾 follows a digit.
    for index, char in enumerate(text):
        if char == "拾":
            assert text[index - 1] in _DIGITS, text
