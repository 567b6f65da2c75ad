"""The ERP raw-TCP framing: the 7-byte length header and the frame decoder."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.erp_framing import (
    HEADER_LEN,
    MAX_FRAMED_LENGTH,
    ErpFrameTooLarge,
    ErpFramingError,
    FrameDecoder,
    frame_reply,
    parse_length_header,
)

MAX = 1 << 20


@pytest.mark.parametrize(
    ("header", "length"),
    [
        (b"0523   ", 523),  # the bank client's space-padded form
        (b"0000523", 523),  # zero-padded, accepted too
        (b"0052300", 52300),  # zero-padded and trailing zeros are digits
        (b"01     ", 1),
        (b"0999999", 999999),
        (b"00     ", 0),  # an empty document: answered with an XML error, not closed
        (b"0000000", 0),
    ],
)
def test_valid_headers(header: bytes, length: int) -> None:
    assert HEADER_LEN == 7
    assert parse_length_header(header, max_length=MAX) == length


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (b"", "must be 7 bytes, got 0"),
        (b"0523", "must be 7 bytes, got 4"),
        (b"0523    ", "must be 7 bytes, got 8"),
        (b"1523   ", "must start with '0'"),
        (b" 523   ", "must start with '0'"),
        (b"\x00523   ", "must start with '0'"),
        (b"0      ", "has no length"),
        (b"0 523  ", "'0', digits, then spaces"),
        (b"05 3   ", "'0', digits, then spaces"),
        (b"0-52   ", "'0', digits, then spaces"),
        (b"0+52   ", "'0', digits, then spaces"),
        (b"052a   ", "'0', digits, then spaces"),
        (b"0523\t  ", "'0', digits, then spaces"),
        (b"0523  \x00", "'0', digits, then spaces"),
        (b"0x1f   ", "'0', digits, then spaces"),
        ("0²³    ".encode()[:7], "'0', digits, then spaces"),  # non-ASCII digits
        (b"<ap><he", "must start with '0'"),  # XML without a header
    ],
)
def test_broken_headers(header: bytes, reason: str) -> None:
    with pytest.raises(ErpFramingError) as info:
        parse_length_header(header, max_length=MAX)
    assert reason in info.value.reason
    assert not isinstance(info.value, ErpFrameTooLarge)


def test_length_above_the_maximum_is_a_framing_error_that_keeps_the_length() -> None:
    with pytest.raises(ErpFrameTooLarge) as info:
        parse_length_header(b"0501   ", max_length=500)
    assert isinstance(info.value, ErpFramingError)
    assert (info.value.length, info.value.max_length) == (501, 500)
    assert "501" in info.value.reason and "500" in info.value.reason
    assert parse_length_header(b"0500   ", max_length=500) == 500


def test_frame_reply_is_space_padded() -> None:
    assert frame_reply(b"<ap/>") == b"05     <ap/>"
    assert frame_reply(b"") == b"00     "
    xml = b"x" * 523
    framed = frame_reply(xml)
    assert framed[:HEADER_LEN] == b"0523   "
    assert framed[HEADER_LEN:] == xml


def test_frame_reply_limits() -> None:
    assert frame_reply(b"x" * MAX_FRAMED_LENGTH)[:HEADER_LEN] == b"0999999"
    with pytest.raises(ValueError, match="exceeds"):
        frame_reply(b"x" * (MAX_FRAMED_LENGTH + 1))


@given(st.binary(max_size=2000))
def test_frame_reply_round_trips(xml: bytes) -> None:
    framed = frame_reply(xml)
    assert parse_length_header(framed[:HEADER_LEN], max_length=MAX) == len(xml)
    assert framed[HEADER_LEN:] == xml


@given(st.binary(min_size=7, max_size=7))
def test_any_header_parses_or_raises_framing_error(header: bytes) -> None:
    try:
        length = parse_length_header(header, max_length=MAX)
    except ErpFramingError:
        return
    assert 0 <= length <= MAX_FRAMED_LENGTH
    assert header[:1] == b"0"


# -- FrameDecoder -------------------------------------------------------------------


def _decode_in_chunks(data: bytes, sizes: list[int], *, max_length: int = MAX) -> bytes | None:
    decoder = FrameDecoder(max_length=max_length)
    pos = 0
    for size in sizes:
        if pos >= len(data):
            break
        decoder.receive_data(data[pos : pos + max(1, size)])
        pos += max(1, size)
        result = decoder.next_request()
        if result is not None:
            return result
    if pos < len(data):
        decoder.receive_data(data[pos:])
    return decoder.next_request()


@given(st.binary(max_size=3000), st.lists(st.integers(1, 700), max_size=40))
def test_decoder_reassembles_any_split(xml: bytes, sizes: list[int]) -> None:
    assert _decode_in_chunks(frame_reply(xml), sizes) == xml


def test_decoder_byte_at_a_time_and_zero_padded() -> None:
    xml = "<ap>中文</ap>".encode("gbk")
    data = b"0" + str(len(xml)).zfill(6).encode() + xml
    decoder = FrameDecoder(max_length=MAX)
    for i, byte in enumerate(data):
        assert decoder.next_request() is None
        decoder.receive_data(bytes([byte]))
        if i == HEADER_LEN - 1:
            assert decoder.expected_length == len(xml)
    assert decoder.next_request() == xml


def test_decoder_ignores_bytes_after_the_request() -> None:
    decoder = FrameDecoder(max_length=MAX)
    decoder.receive_data(frame_reply(b"<ap/>") + b"\r\nmore")
    assert decoder.next_request() == b"<ap/>"
    decoder.receive_data(b"even more")
    decoder.receive_data(b"")
    assert decoder.next_request() == b"<ap/>"


def test_decoder_empty_document() -> None:
    decoder = FrameDecoder(max_length=MAX)
    decoder.receive_data(b"00     ")
    assert decoder.next_request() == b""


def test_decoder_needs_more_data_until_complete() -> None:
    decoder = FrameDecoder(max_length=MAX)
    decoder.receive_data(b"010    <ap>")
    assert decoder.next_request() is None
    decoder.receive_data(b"</ap>!")
    assert decoder.next_request() == b"<ap></ap>!"


def test_decoder_eof_inside_header() -> None:
    decoder = FrameDecoder(max_length=MAX)
    decoder.receive_data(b"052")
    decoder.receive_data(b"")
    with pytest.raises(ErpFramingError, match="after 3 of 7 header bytes"):
        decoder.next_request()


def test_decoder_eof_inside_xml() -> None:
    decoder = FrameDecoder(max_length=MAX)
    decoder.receive_data(b"0010   <ap>")
    decoder.receive_data(b"")
    with pytest.raises(ErpFramingError, match="after 4 of 10 announced bytes"):
        decoder.next_request()


def test_decoder_eof_before_anything() -> None:
    decoder = FrameDecoder(max_length=MAX)
    decoder.receive_data(b"")
    with pytest.raises(ErpFramingError, match="after 0 of 7"):
        decoder.next_request()


def test_decoder_broken_header_raises_on_receipt() -> None:
    decoder = FrameDecoder(max_length=MAX)
    with pytest.raises(ErpFramingError):
        decoder.receive_data(b"<?xml version='1.0'?><ap/>")


def test_decoder_too_large_raises_before_buffering_the_body() -> None:
    decoder = FrameDecoder(max_length=100)
    with pytest.raises(ErpFrameTooLarge) as info:
        decoder.receive_data(b"0101   " + b"x" * 101)
    assert info.value.length == 101


def test_decoder_buffer_is_bounded() -> None:
    decoder = FrameDecoder(max_length=MAX)
    decoder.receive_data(b"05     " + b"x" * 100_000)
    assert decoder.next_request() == b"xxxxx"
    assert len(decoder._buffer) == HEADER_LEN + 5
