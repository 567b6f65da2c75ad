"""Arrays of records a column at a time: the same values and the same errors as construct.

protocol.codec decodes and encodes an array field by field over all its
records (one GB18030 decode per text column). A bad value anywhere must
still give exactly the error the record-by-record path gives: the first bad
field of the first bad record, at its offset.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.bodies import BODIES, CODECS
from protocol.errors import DecodeError, FieldOverflow
from tests.test_protocol_property import plain

PAGE = ("310208", "response")
SEGMENT = ("330010", "request")


def result(seq: int, **changes) -> dict:
    record = {"seq": seq, "busino": f"B{seq:07d}", "acno": f"62226{seq:014d}",
              "acname": f"客户{seq}", "amt": 1234, "suc_flg": "F",
              "flw": f"2026112400{seq:08d}", "err_code": "", "err_msg": ""}
    return {**record, **changes}


def page(records: list[dict]) -> dict:
    return {"ogl_serial_no": "B1", "total_num": len(records), "begin_no": 1,
            "more_flag": "0", "records": records}


def test_a_full_page_round_trips_and_agrees_with_construct():
    value = page([result(i, err_msg="余额不足 " if i % 7 == 0 else "") for i in range(1, 1001)])
    data = CODECS[PAGE].encode(value)
    assert data == BODIES[PAGE].build(value)
    decoded = CODECS[PAGE].decode(data)
    assert decoded == plain(BODIES[PAGE].parse(data))
    assert decoded["records"][6]["err_msg"] == "余额不足"  # trailing spaces are padding
    assert decoded == {**value, "records": [
        {**r, "err_msg": r["err_msg"].rstrip(" ")} for r in value["records"]]}


@pytest.mark.parametrize("text", ["a\x00b", "\x00", "名\x00"])
def test_a_nul_inside_a_value_reads_as_itself(text):
    value = page([result(i) for i in range(1, 50)] + [result(50, acname=text)])
    data = CODECS[PAGE].encode(value)
    assert data == BODIES[PAGE].build(value)
    assert CODECS[PAGE].decode(data)["records"][49]["acname"] == text


def _decode_error(decode, data: bytes) -> tuple:
    with pytest.raises(DecodeError) as caught:
        decode(data)
    return caught.value.field, caught.value.offset, str(caught.value)


@pytest.mark.parametrize(("record", "field", "bad"), [
    (537, "acname", b"\x81\x20"),   # a lead byte with no trail byte: not GB18030
    (999, "amt", b"12x4"),          # not digits
    (3, "suc_flg", b"X"),           # not one of the choices
    (1, "seq", b" 1"),              # a space is not a digit
])
def test_a_bad_value_deep_in_a_page_is_the_error_construct_gives(record, field, bad):
    value = page([result(i) for i in range(1, 1001)])
    data = bytearray(CODECS[PAGE].encode(value))
    start = data.index(f"B{record + 1:07d}".encode()) - 8  # records[record]'s seq field
    widths = {"seq": 0, "busino": 8, "acno": 28, "acname": 60, "amt": 120, "suc_flg": 136}
    at = start + widths[field]
    data[at:at + len(bad)] = bad
    fast = _decode_error(CODECS[PAGE].decode, bytes(data))
    slow = _decode_error(BODIES[PAGE].parse, bytes(data))
    assert fast == slow
    assert fast[0] == field and fast[1] >= at


def test_a_truncated_page_is_the_error_construct_gives():
    data = CODECS[PAGE].encode(page([result(i) for i in range(1, 101)]))[:-30]
    assert _decode_error(CODECS[PAGE].decode, data) == _decode_error(BODIES[PAGE].parse, data)


@pytest.mark.parametrize(("index", "change"), [
    (700, {"acname": "名" * 31}),          # 62 bytes in a 60-byte field
    (5, {"amt": -1}),
    (6, {"amt": True}),                    # a bool is not an amount
    (7, {"busino": b"B7"}),                # bytes are not text
    (999, {"suc_flg": "Q"}),
    (400, {"busino": "币"}),               # not ASCII
    (2, {"seq": "1"}),                     # text where a number goes
])
def test_a_bad_value_deep_in_an_array_is_refused_as_record_by_record(index, change):
    records = [result(i) for i in range(1, 1001)]
    records[index] = {**records[index], **change}
    with pytest.raises(FieldOverflow) as fast:
        CODECS[PAGE].encode(page(records))
    with pytest.raises(Exception) as slow:  # construct wraps it; the message is the same
        BODIES[PAGE].build(page(records))
    assert str(fast.value) in str(slow.value)
    assert fast.value.field == next(iter(change))


def test_a_missing_field_is_the_first_one_record_by_record():
    records = [result(i) for i in range(1, 11)]
    del records[4]["flw"]
    del records[8]["busino"]
    with pytest.raises(FieldOverflow) as caught:
        CODECS[PAGE].encode(page(records))
    assert caught.value.field == "flw"


_TEXT = st.text(st.characters(codec="gb18030"), max_size=15)  # at most 60 bytes


@settings(max_examples=80, deadline=None)
@given(names=st.lists(_TEXT, min_size=1, max_size=40),
       agreement=st.text(st.characters(min_codepoint=0, max_codepoint=0x7F), max_size=20))
def test_columns_agree_with_construct_on_any_text(names, agreement):
    items = [{"pay_acno": f"62226{i:014d}", "pay_acname": name, "agreement_no": agreement,
              "amt": i + 1, "busino": f"b{i}", "pay_bank_no": ""}
             for i, name in enumerate(names)]
    value = {"cert_no": "", "rcv_acno": "310066726018010000001", "sum": len(items),
             "sum_amt": 1, "summary": "", "busi_no": "", "file_flag": "1", "items": items}
    built = BODIES[SEGMENT].build(value)
    assert CODECS[SEGMENT].encode(value) == built
    decoded = CODECS[SEGMENT].decode(built)
    assert decoded == plain(BODIES[SEGMENT].parse(built))
    assert [i["pay_acname"] for i in decoded["items"]] == [n.rstrip(" ") for n in names]
