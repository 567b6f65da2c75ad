"""Amounts in Chinese financial capitals (大写金额), as written on bank receipts.

:func:`amount_in_capitals` turns integer fen into the capitals of the People's
Bank of China's rules for writing bills and settlement vouchers (正确填写票据和
结算凭证的基本规定). The rules, and how this module applies them:

* Digits 零壹贰叁肆伍陆柒捌玖, place units 拾佰仟, section units 万 and 亿,
  money units 元角分. Ten is written 壹拾 wherever it stands (壹拾元整,
  壹拾万…), as in the rules' own example 壹拾万柒仟元零伍角叁分: a bare 拾 could
  be lengthened by writing a digit in front of it.
* "整" after 元 when the amount stops at 元; after 角 the rules allow "整" or
  nothing, and this module always writes "整" there too (伍角整), so that every
  amount without fen ends in 整 and nothing can be appended. After 分 nothing
  is written. Of the two permitted spellings 整 and 正, only 整 is used.
* A zero, or a run of zeros, between non-zero digits is written as one 零
  (壹仟零肆元整, 陆仟零柒元壹角肆分). Trailing zeros are not written: the units
  carry the magnitude (壹亿元整).
* The rules leave 零 optional (rule 4.3) where the 万 place or the 元 place is
  zero and the 千 place or the 角 place is not. Their examples give two
  spellings each; this module writes the first one given in every example:

  - after 万 (and, by the same reasoning, after 亿) no 零 when the next lower
    section's 千 place is non-zero: the written section unit already marks
    the place, as in speech (107,000.53 → 壹拾万柒仟元零伍角叁分, 十万七千).
    A lower section that does not fill its 千 place, or an entirely zero
    section in between, is preceded by one 零 (1,000,010.00 →
    壹佰万零壹拾元整; 100,005,000.00 → 壹亿零伍仟元整).
  - after 元 a 零 whenever the 元 place is zero and 角 or 分 follow
    (1,680.32 → 壹仟陆佰捌拾元零叁角贰分), and, as rule 4.4 requires, whenever
    the 角 place is zero and 分 is not (325.04 → 叁佰贰拾伍元零肆分). So
    100,000,001.01 is 壹亿零壹元零壹分: the seven zeros between 亿 and the 元
    digit make one 零 (rule 4.2), the zero 角 another (rule 4.4).
* An amount below one yuan has no 元 and no leading 零 (0.05 → 伍分, 0.50 →
  伍角整); zero is 零元整.

The "人民币" that the rules put immediately before the capitals belongs to the
form that shows them, not to this function. Amounts range from 0 to
:data:`protocol.money.MAX_FEN` (99,999,999,999,999.99 yuan, which reaches the
万亿 section: 玖拾玖万玖仟…亿…). Pure: no I/O, no floats.
"""

from __future__ import annotations

from protocol.money import MAX_FEN

DIGITS = "零壹贰叁肆伍陆柒捌玖"
_PLACES = ("", "拾", "佰", "仟")  # within a four-digit section, lowest place first
ZHENG = "整"


def amount_in_capitals(fen: int) -> str:
    """The amount ``fen`` (an int, 0 ≤ fen ≤ MAX_FEN) in Chinese financial capitals.

    >>> amount_in_capitals(123456)
    '壹仟贰佰叁拾肆元伍角陆分'
    >>> amount_in_capitals(100400)
    '壹仟零肆元整'

    Raises TypeError for anything but an int (float, Decimal and bool are
    refused: money is integer fen) and ValueError for a negative amount or one
    above MAX_FEN.
    """
    if not isinstance(fen, int) or isinstance(fen, bool):
        raise TypeError(f"fen must be an int, not {type(fen).__name__}")
    if fen < 0:
        raise ValueError(f"a negative amount has no capitals: {fen} fen")
    if fen > MAX_FEN:
        raise ValueError(f"amount too large: {fen} fen (at most {MAX_FEN})")
    yuan, cents = divmod(fen, 100)
    jiao, fen_digit = divmod(cents, 10)
    if yuan == 0 and cents == 0:
        return "零元" + ZHENG
    parts: list[str] = []
    if yuan:
        parts.append(_integer(yuan) + "元")
        if cents and (yuan % 10 == 0 or jiao == 0):
            parts.append(DIGITS[0])
    if jiao:
        parts.append(DIGITS[jiao] + "角")
    if fen_digit:
        parts.append(DIGITS[fen_digit] + "分")
    else:
        parts.append(ZHENG)
    return "".join(parts)


def _integer(n: int) -> str:
    """A positive integer in capitals: sections of four digits joined by 亿 and 万."""
    for unit, size in (("亿", 10**8), ("万", 10**4)):
        if n >= size:
            high, low = divmod(n, size)
            text = _integer(high) + unit
            if low:
                # A lower part that does not reach the highest place of its
                # section (10**7 under 亿, 10**3 under 万) has zeros before it.
                if low < size // 10:
                    text += DIGITS[0]
                text += _integer(low)
            return text
    return _section(n)


def _section(n: int) -> str:
    """1 ≤ n ≤ 9999: digits with place units, one 零 per inner run of zeros."""
    text = ""
    pending_zero = False
    for place in range(3, -1, -1):
        digit = n // 10**place % 10
        if digit == 0:
            pending_zero = bool(text)
            continue
        if pending_zero:
            text += DIGITS[0]
            pending_zero = False
        text += DIGITS[digit] + _PLACES[place]
    return text
