"""Length-prefixed framing: partial reads, many frames per read, bounded buffering."""

from __future__ import annotations

import pytest

from protocol import codes
from protocol.errors import DecodeError, FrameTooLarge
from protocol.framing import DEFAULT_MAX_FRAME, PREFIX_SIZE, FrameDecoder, encode_frame
from protocol.header import HEADER_SIZE


def message(n: int, size: int = HEADER_SIZE) -> bytes:
    return bytes([n % 256]) * size


def all_frames(decoder: FrameDecoder) -> list[bytes]:
    frames = []
    while (frame := decoder.next_frame()) is not None:
        frames.append(frame)
    return frames


def test_encode_frame_prefixes_a_big_endian_length():
    body = message(7, 300)
    assert encode_frame(body) == b"\x00\x00\x01\x2c" + body


def test_encode_frame_refuses_an_oversize_message():
    with pytest.raises(FrameTooLarge) as caught:
        encode_frame(b"x" * 1001, max_frame=1000)
    assert caught.value.code is codes.FRAME_TOO_LARGE
    assert encode_frame(b"x" * 1000, max_frame=1000)[:PREFIX_SIZE] == b"\x00\x00\x03\xe8"


def test_one_frame_in_one_read():
    decoder = FrameDecoder()
    decoder.feed(encode_frame(message(1)))
    assert decoder.next_frame() == message(1)
    assert decoder.next_frame() is None
    assert decoder.at_frame_boundary and decoder.buffered == 0


def test_many_frames_in_one_read():
    sizes = [HEADER_SIZE, 300, 1000, HEADER_SIZE + 1, 4096]
    data = b"".join(encode_frame(message(n, size)) for n, size in enumerate(sizes))
    decoder = FrameDecoder()
    decoder.feed(data)
    assert all_frames(decoder) == [message(n, size) for n, size in enumerate(sizes)]
    assert decoder.bytes_received == len(data)


def test_byte_by_byte():
    frames = [message(n, HEADER_SIZE + n) for n in range(5)]
    data = b"".join(encode_frame(f) for f in frames)
    decoder = FrameDecoder()
    got = []
    for i in range(len(data)):
        decoder.feed(data[i : i + 1])
        got += all_frames(decoder)
        assert decoder.at_frame_boundary == (sum(len(f) + PREFIX_SIZE for f in got) == i + 1)
    assert got == frames


@pytest.mark.parametrize("chunk", [3, 5, 97, 256, 260, 1000])
def test_arbitrary_read_sizes(chunk):
    frames = [message(n, HEADER_SIZE + 17 * n) for n in range(8)]
    data = b"".join(encode_frame(f) for f in frames)
    decoder = FrameDecoder()
    got = []
    for start in range(0, len(data), chunk):
        decoder.feed(data[start : start + chunk])
        got += all_frames(decoder)
    assert got == frames


def test_incomplete_frame_waits_for_more_data():
    data = encode_frame(message(3, 500))
    decoder = FrameDecoder()
    decoder.feed(data[:-1])
    assert decoder.next_frame() is None
    assert decoder.buffered == len(data) - 1 and not decoder.at_frame_boundary
    decoder.feed(data[-1:])
    assert decoder.next_frame() == message(3, 500)


def test_oversize_length_is_refused_from_the_prefix_alone():
    decoder = FrameDecoder(max_frame=2048)
    decoder.feed(b"\x00\x00")
    with pytest.raises(FrameTooLarge) as caught:
        decoder.feed(b"\x08\x01")  # 2049
    assert "2049" in str(caught.value) and caught.value.code.code == "P002"
    assert decoder.buffered == PREFIX_SIZE


def test_largest_allowed_frame_passes():
    decoder = FrameDecoder(max_frame=2048)
    decoder.feed(encode_frame(message(9, 2048)))
    assert decoder.next_frame() == message(9, 2048)


def test_default_limit():
    decoder = FrameDecoder()
    assert decoder.max_frame == DEFAULT_MAX_FRAME
    with pytest.raises(FrameTooLarge):
        decoder.feed((DEFAULT_MAX_FRAME + 1).to_bytes(PREFIX_SIZE, "big"))


def test_frames_before_an_oversize_one_are_delivered_first():
    decoder = FrameDecoder(max_frame=1024)
    decoder.feed(encode_frame(message(1)) + encode_frame(message(2)) + b"\xff\xff\xff\xff")
    assert decoder.next_frame() == message(1)
    assert decoder.next_frame() == message(2)
    with pytest.raises(FrameTooLarge):
        decoder.next_frame()


def test_frame_shorter_than_a_header_is_malformed():
    decoder = FrameDecoder()
    with pytest.raises(DecodeError) as caught:
        decoder.feed((HEADER_SIZE - 1).to_bytes(PREFIX_SIZE, "big"))
    assert caught.value.code is codes.MALFORMED_FRAME
    assert "frame field length at offset 0" in str(caught.value)


def test_max_frame_must_hold_a_header():
    with pytest.raises(ValueError):
        FrameDecoder(max_frame=HEADER_SIZE - 1)
    FrameDecoder(max_frame=HEADER_SIZE)
