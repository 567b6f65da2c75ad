"""Length-prefixed framing between the client daemon and the bank core.

A frame is a 4-byte big-endian unsigned length followed by that many bytes of
message (``header | body | signature``). The decoder takes bytes as they
arrive — partial reads, several frames in one read — and hands out whole
frames. The declared length is checked against the maximum frame size as soon
as its four bytes are in, before anything is buffered for it.
"""

from __future__ import annotations

from protocol.errors import DecodeError, FrameTooLarge
from protocol.header import HEADER_SIZE

PREFIX_SIZE = 4
DEFAULT_MAX_FRAME = 1 << 20  # 1 MiB


def encode_frame(message: bytes, *, max_frame: int = DEFAULT_MAX_FRAME) -> bytes:
    if len(message) > max_frame:
        raise FrameTooLarge(f"message of {len(message)} bytes exceeds the maximum frame "
                            f"size of {max_frame}")
    return len(message).to_bytes(PREFIX_SIZE, "big") + message


class FrameDecoder:
    """Turns a byte stream into frames. Raises instead of buffering past the limit."""

    def __init__(self, *, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        if max_frame < HEADER_SIZE:
            raise ValueError(f"max_frame must be at least {HEADER_SIZE}")
        self.max_frame = max_frame
        self._buffer = bytearray()
        self._need: int | None = None  # length of the frame being collected
        self.bytes_received = 0

    def feed(self, data: bytes) -> None:
        self._buffer += data
        self.bytes_received += len(data)
        # Check a new frame's length the moment it is known (before buffering it).
        self._read_prefix()

    def _read_prefix(self) -> None:
        if self._need is None and len(self._buffer) >= PREFIX_SIZE:
            length = int.from_bytes(self._buffer[:PREFIX_SIZE], "big")
            if length > self.max_frame:
                raise FrameTooLarge(f"frame of {length} bytes exceeds the maximum of "
                                    f"{self.max_frame}")
            if length < HEADER_SIZE:
                raise DecodeError(f"frame of {length} bytes is shorter than a header "
                                  f"({HEADER_SIZE})", field="length", offset=0, part="frame")
            self._need = length

    def next_frame(self) -> bytes | None:
        """The next complete frame's message bytes, or None until more data arrives."""
        # The following frame's prefix is checked here, not after taking a frame, so the
        # frames before a bad one are all handed out first.
        self._read_prefix()
        need = self._need
        if need is None or len(self._buffer) < PREFIX_SIZE + need:
            return None
        end = PREFIX_SIZE + need
        frame = bytes(self._buffer[PREFIX_SIZE:end])
        del self._buffer[:end]
        self._need = None
        return frame

    @property
    def buffered(self) -> int:
        """Bytes held that do not yet form a complete frame."""
        return len(self._buffer)

    @property
    def at_frame_boundary(self) -> bool:
        return not self._buffer

    @property
    def holds_whole_frames(self) -> bool:
        """Whether the buffer is nothing but complete frames (possibly none)."""
        pos, size = 0, len(self._buffer)
        while pos < size:
            if size - pos < PREFIX_SIZE:
                return False
            pos += PREFIX_SIZE + int.from_bytes(self._buffer[pos:pos + PREFIX_SIZE], "big")
        return pos == size
