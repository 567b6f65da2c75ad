"""Fixed-width fields, the header and body declarations, and the fast record codec."""

from __future__ import annotations

from itertools import pairwise

import pytest
from construct import Enum, Int8ub, Struct

from protocol import codes
from protocol.bodies import (
    BODIES,
    CODECS,
    HANDSHAKE_ACK_BODY,
    HANDSHAKE_ACK_CODEC,
    HANDSHAKE_BODY,
    HANDSHAKE_CODEC,
    REQUEST,
    RESPONSE,
    TR_CODES,
)
from protocol.codec import RecordCodec
from protocol.errors import DecodeError, FieldOverflow
from protocol.fields import Choice, Digits, Raw, Signed, Text, field, records, static_size
from protocol.header import HEADER, HEADER_SIZE, OFFSETS, RESERVED, Header
from protocol.session import HANDSHAKE_SIZE
from tests.test_protocol_session import SAMPLE_FIELDS


def named(con, name="f"):
    field(name, con, "test field")
    return con


def plain(value):
    """construct's Containers as plain dicts and lists (without its private keys)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


# -- Text ----------------------------------------------------------------------------------


def test_text_is_left_aligned_and_space_padded():
    text = named(Text(10))
    assert text.encode("abc") == b"abc       "
    assert text.decode(b"abc       ", 0) == "abc"
    assert text.encode("") == b" " * 10


def test_text_counts_gb18030_bytes_not_characters():
    text = named(Text(6))
    assert text.encode("银企直") == "银企直".encode("gb18030")
    assert text.decode("银企直".encode("gb18030"), 0) == "银企直"
    with pytest.raises(FieldOverflow, match="8 bytes do not fit in 6"):
        text.encode("银企直联")
    four_byte = "\U00020000"  # outside the BMP: four bytes in GB18030
    assert text.encode(four_byte) == four_byte.encode("gb18030") + b"  "
    assert text.decode(text.encode(four_byte), 0) == four_byte


def test_text_refuses_instead_of_truncating():
    text = named(Text(4), "acname")
    with pytest.raises(FieldOverflow) as caught:
        text.encode("abcde")
    assert caught.value.field == "acname"
    assert caught.value.code is codes.INVALID_FIELD


def test_text_refuses_non_text_and_unencodable_values():
    text = named(Text(10), "summary")
    with pytest.raises(FieldOverflow, match="expected text"):
        text.encode(12)
    with pytest.raises(FieldOverflow, match="cannot be encoded"):
        text.encode("\udc80")


def test_ascii_text_refuses_chinese():
    text = named(Text(10, "ascii"), "acno")
    with pytest.raises(FieldOverflow, match="cannot be encoded in ascii"):
        text.encode("账号")
    with pytest.raises(DecodeError, match="field acno at offset 12: not valid ascii"):
        text.decode(b"12\xd5\xcb      ", 10)


def test_trailing_spaces_are_not_significant_but_leading_ones_are():
    text = named(Text(8))
    assert text.decode(text.encode("  ab  "), 0) == "  ab"


# -- numbers -------------------------------------------------------------------------------


def test_digits():
    digits = named(Digits(6), "begin_no")
    assert digits.encode(42) == b"000042"
    assert digits.decode(b"000042", 0) == 42
    assert digits.encode(999999) == b"999999"
    for bad in (1_000_000, -1):
        with pytest.raises(FieldOverflow, match=r"outside 0\.\.999999"):
            digits.encode(bad)
    for bad in (True, 1.0, "1"):
        with pytest.raises(FieldOverflow, match="expected an integer"):
            digits.encode(bad)


@pytest.mark.parametrize("raw", [b" 00042", b"+00042", b"0_0042", b"00004a", b"\xef\xbc\x91111"])
def test_digits_refuse_anything_but_ascii_digits(raw):
    with pytest.raises(DecodeError, match="field begin_no at offset 7: expected 6 digits"):
        named(Digits(6), "begin_no").decode(raw, 7)


def test_signed():
    signed = named(Signed(5), "balance")
    assert signed.encode(-42) == b"-0042"
    assert signed.encode(42) == b"+0042"
    assert signed.encode(0) == b"+0000"
    assert signed.decode(b"-0042", 0) == -42
    assert signed.decode(b"+9999", 0) == 9999
    with pytest.raises(FieldOverflow, match="outside ±9999"):
        signed.encode(-10000)
    for raw in (b"00042", b" 0042", b"-00a2", b"--042"):
        with pytest.raises(DecodeError, match="field balance at offset 0"):
            signed.decode(raw, 0)


# -- Choice and Raw --------------------------------------------------------------------------


def test_choice_refuses_unknown_values_both_ways():
    choice = named(Choice(2, ("34", "21", "22", "20")), "tran_status")
    assert choice.encode("34") == b"34"
    assert choice.decode(b"21", 0) == "21"
    with pytest.raises(DecodeError, match=r"field tran_status at offset 3: b'99' is not one of"):
        choice.decode(b"99", 3)
    with pytest.raises(FieldOverflow, match="'99' is not one of"):
        choice.encode("99")
    with pytest.raises(FieldOverflow):
        choice.encode(["34"])  # unhashable


def test_construct_enum_would_have_accepted_an_unknown_value():
    # Why Choice exists: construct's own Enum passes unknown values through.
    assert Enum(Int8ub, ok=0).parse(b"\x07") == 7


def test_choice_pads_short_values():
    choice = named(Choice(2, ("1", "10")), "flag")
    assert choice.encode("1") == b"1 "
    assert choice.decode(b"1 ", 0) == "1"
    with pytest.raises(DecodeError):
        choice.decode(b" 1", 0)


def test_raw_is_exactly_its_width():
    raw = named(Raw(4), "nonce")
    assert raw.encode(b"\x00\x01\x02\x03") == b"\x00\x01\x02\x03"
    assert raw.encode(bytearray(4)) == b"\x00" * 4
    for bad in (b"abc", b"abcde", "abcd"):
        with pytest.raises(FieldOverflow, match="exactly 4 bytes"):
            raw.encode(bad)


def test_descriptions_for_the_docs():
    assert Text(4, "ascii").kind == "A4" and Text(60).kind == "C60"
    assert Digits(16).describe() == "unsigned integer, 16 ASCII digits, zero-padded"
    assert Signed(17).describe() == "signed integer: `+` or `-` then 16 digits"
    assert Choice(1, ("0", "1")).describe() == "one of `0`, `1`"
    assert Raw(32).describe() == "binary, 32 bytes"
    assert Text(60).describe() == "GB18030 text, 60 bytes, space-padded"


# -- header --------------------------------------------------------------------------------


def test_header_is_256_bytes_and_its_offsets_add_up():
    assert HEADER.sizeof() == HEADER_SIZE == 256
    assert OFFSETS["magic"] == 0 and OFFSETS["reserved"] == HEADER_SIZE - len(RESERVED)
    for name, following in pairwise(OFFSETS):
        width = next(s for s in HEADER.subcons if s.name == name).sizeof()
        assert OFFSETS[following] == OFFSETS[name] + width


def test_header_round_trip_reads_like_a_form():
    header = Header(msg_type="RQ", corp_no="0000000001", user_no="001", tr_code="210201",
                    req_no="REQ0001", tr_date="20261124", tr_time="103015", ret_msg="交易成功",
                    sign_flag="1", encrypt_flag="1", key_id="a63eebeedbce0f4b",
                    sign_alg="01", body_len=326, sig_len=64, seq_no=7)
    data = header.build()
    assert len(data) == HEADER_SIZE
    assert data.startswith(b"DLNK0100RQ0000000001          001                 210201REQ0001")
    assert data[OFFSETS["seq_no"]:OFFSETS["reserved"]] == b"000000000007"
    assert data.endswith(RESERVED)
    assert Header.parse(data) == header
    assert Header.parse(data + b"body") == header


def test_header_construct_build_equals_header_build():
    header = Header(msg_type="HB", corp_no="1", seq_no=3, tr_date="20261124", tr_time="000000")
    values = {name: getattr(header, name) for name in Header.__dataclass_fields__}
    values.update(magic="DLNK", reserved=RESERVED)
    assert HEADER.build(values) == header.build()
    assert plain(HEADER.parse(header.build())) == values


def test_header_refuses_an_unknown_message_type():
    data = bytearray(Header(msg_type="RQ").build())
    data[OFFSETS["msg_type"]:OFFSETS["msg_type"] + 2] = b"XX"
    with pytest.raises(DecodeError, match="header field msg_type at offset 8"):
        Header.parse(bytes(data))


# -- bodies and the record codec -------------------------------------------------------------


def test_every_tr_code_has_both_directions():
    assert {"310101", "310201", "310301", "210201", "210224", "310204",
            "330002", "330010", "310207", "310208", "310210",
            "310230", "210230", "310220", "310240"} == TR_CODES
    assert set(BODIES) == {(code, d) for code in TR_CODES for d in (REQUEST, RESPONSE)}
    assert set(CODECS) == set(BODIES)


def test_handshake_bodies_have_fixed_sizes():
    assert HANDSHAKE_BODY.sizeof() == HANDSHAKE_SIZE == 112
    assert HANDSHAKE_ACK_BODY.sizeof() == 64
    values = {"client_nonce": bytes(32), "sealed_secret": bytes(range(80))}
    assert HANDSHAKE_CODEC.decode(HANDSHAKE_CODEC.encode(values)) == values
    ack = {"server_nonce": b"\x01" * 32, "transcript": b"\x02" * 32}
    assert HANDSHAKE_ACK_CODEC.encode(ack) == HANDSHAKE_ACK_BODY.build(ack)


def test_static_sizes():
    assert static_size(BODIES[("210224", RESPONSE)]) == 2
    assert static_size(BODIES[("310204", REQUEST)]) == 33
    assert static_size(BODIES[("310201", RESPONSE)]) is None  # has records


@pytest.mark.parametrize("key", sorted(SAMPLE_FIELDS))
def test_codec_and_construct_agree_on_the_samples(key):
    values = SAMPLE_FIELDS[key]
    data = CODECS[key].encode(values)
    assert BODIES[key].build(values) == data
    assert CODECS[key].decode(data) == values
    assert plain(BODIES[key].parse(data)) == values


def test_codec_refuses_trailing_bytes_unless_allowed():
    codec = CODECS[("210201", RESPONSE)]
    with pytest.raises(DecodeError, match="body at offset 1: 2 unexpected bytes"):
        codec.decode(b"1xx")
    assert codec.decode(b"1xx", allow_trailing=True) == {"stat": "1"}


def test_records_count_overflow():
    codec = CODECS[("310101", RESPONSE)]
    record = SAMPLE_FIELDS[("310101", RESPONSE)]["records"][0]
    with pytest.raises(FieldOverflow) as caught:
        codec.encode({"records": [record] * 10_000})
    assert caught.value.field == "records.count"


def test_records_count_larger_than_the_data():
    codec = CODECS[("310101", RESPONSE)]
    with pytest.raises(DecodeError, match="field acname at offset 4: truncated"):
        codec.decode(b"9999")
    with pytest.raises(DecodeError, match=r"field records\.count at offset 0"):
        codec.decode(b"12")


def test_codec_rejects_declarations_it_cannot_handle():
    with pytest.raises(TypeError, match="unsupported construct"):
        RecordCodec(Struct("n" / Int8ub))
    with pytest.raises(TypeError, match="unnamed field"):
        RecordCodec(Struct(Digits(2)))


def test_records_helper_names_its_count():
    array = records("rows", Struct(field("a", Digits(1), "a")), "rows")
    assert array.subcon.dl_count.field_name == "rows.count"
    codec = RecordCodec(Struct(array))
    assert codec.encode({"rows": [{"a": 1}, {"a": 2}]}) == b"000212"
