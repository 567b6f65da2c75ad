"""Fixed-width field types for construct, and the ``field()`` helper that names them.

Every field of every message is one of these types, declared once in
:mod:`protocol.header` and :mod:`protocol.bodies`; the same declaration parses,
builds and generates the field tables of docs/protocol.md.

* ``Text(n)`` — text in GB18030 (or ASCII), left-aligned and space-padded to
  exactly ``n`` bytes. Trailing spaces are not significant. A value whose
  encoding is longer than ``n`` bytes is refused, never truncated.
* ``Digits(n)`` — a non-negative integer as ``n`` ASCII digits, zero-padded.
* ``Signed(n)`` — an integer as a sign (``+``/``-``) and ``n - 1`` digits.
* ``Choice(n, values)`` — text that must be one of ``values`` (construct's own
  ``Enum`` accepts unknown values silently; this one refuses them).
* ``Raw(n)`` — exactly ``n`` bytes (nonces, key material in the handshake).

Decoding errors raise :class:`~protocol.errors.DecodeError` naming the field
and the byte offset within the part being decoded; building errors raise
:class:`~protocol.errors.FieldOverflow` naming the field.
"""

from __future__ import annotations

from construct import Construct, PrefixedArray, Renamed, SizeofError, Struct

from protocol.errors import DecodeError, FieldOverflow

TEXT_ENCODING = "gb18030"
_DIGITS = frozenset(b"0123456789")


class FixedField(Construct):
    """Base of the fixed-width fields.

    Subclasses implement ``encode(value) -> bytes`` (exactly ``width`` bytes, or
    :class:`FieldOverflow`) and ``decode(raw, offset) -> value`` (or
    :class:`DecodeError`). construct's parse/build call them, and so does the
    fast record codec in :mod:`protocol.codec`; both paths share one definition.
    """

    kind = "?"

    def __init__(self, width: int) -> None:
        super().__init__()
        self.width = width
        self.field_name = "?"
        self.part = "header"

    def encode(self, value) -> bytes:
        raise NotImplementedError

    def decode(self, raw: bytes, offset: int):
        raise NotImplementedError

    def describe(self) -> str:
        """Short description for the field tables in the docs."""
        return self.kind

    # -- whole columns, for arrays of records (protocol.codec) ------------------

    def decode_column(self, raws: tuple[bytes, ...]) -> list:
        """Decode this field of every record of an array at once.

        Any exception means "not all valid": the caller then decodes record by
        record with :meth:`decode`, which says which field at which offset.
        Subclasses override it with one comprehension instead of a call per value.
        """
        return [self.decode(raw, 0) for raw in raws]

    def encode_column(self, values: list) -> list[bytes]:
        """Encode this field of every record of an array; any exception as above."""
        return [self.encode(value) for value in values]

    # -- construct plumbing ---------------------------------------------------

    def _sizeof(self, context, path):
        return self.width

    def _parse(self, stream, context, path):
        offset = stream.tell()
        raw = stream.read(self.width)
        if len(raw) != self.width:
            raise self.fail(offset, f"truncated: needs {self.width} bytes, {len(raw)} left")
        return self.decode(raw, offset)

    def _build(self, obj, stream, context, path):
        stream.write(self.encode(obj))
        return obj

    def fail(self, offset: int, reason: str) -> DecodeError:
        return DecodeError(reason, field=self.field_name, offset=offset, part=self.part)

    def overflow(self, reason: str) -> FieldOverflow:
        return FieldOverflow(self.field_name, reason)


class Text(FixedField):
    def __init__(self, width: int, encoding: str = TEXT_ENCODING) -> None:
        super().__init__(width)
        self.encoding = encoding
        self.kind = f"{'A' if encoding == 'ascii' else 'C'}{width}"

    def decode(self, raw, offset):
        try:
            return raw.decode(self.encoding).rstrip(" ")
        except UnicodeDecodeError as exc:
            raise self.fail(offset + exc.start, f"not valid {self.encoding}") from None

    def encode(self, value):
        if not isinstance(value, str):
            raise self.overflow(f"expected text, got {type(value).__name__}")
        try:
            data = value.encode(self.encoding)
        except UnicodeEncodeError:
            raise self.overflow(f"cannot be encoded in {self.encoding}: {value!r}") from None
        if len(data) > self.width:
            raise self.overflow(f"{len(data)} bytes do not fit in {self.width}: {value!r}")
        return data.ljust(self.width, b" ")

    def decode_column(self, raws):
        # One decode for the whole column: the values without their padding,
        # joined by NUL. Neither a space nor a NUL is ever part of a multi-byte
        # GB18030 character, so this reads exactly what decode() reads value by
        # value; a value holding a NUL itself shows as one piece too many.
        values = b"\0".join([raw.rstrip(b" ") for raw in raws]).decode(self.encoding)
        pieces = values.split("\0")
        if len(pieces) != len(raws):
            raise ValueError("a value holds a NUL")
        return pieces

    def encode_column(self, values):
        width = self.width
        # One encode for the whole column, as decode_column reads it (join
        # refuses anything but text).
        data = "\0".join(values).encode(self.encoding).split(b"\0")
        if len(data) != len(values):
            raise ValueError("a value holds a NUL")
        if max(map(len, data), default=0) > width:
            raise ValueError("too long")
        return [item.ljust(width, b" ") for item in data]

    def describe(self) -> str:
        what = "ASCII" if self.encoding == "ascii" else "GB18030 text"
        return f"{what}, {self.width} bytes, space-padded"


class Digits(FixedField):
    def __init__(self, width: int) -> None:
        super().__init__(width)
        self.kind = f"N{width}"
        self.maximum = 10**width - 1

    def decode(self, raw, offset):
        # bytes.isdigit() is ASCII-only; int() alone would accept " 12" or "1_0".
        if not raw.isdigit():
            raise self.fail(offset, f"expected {self.width} digits, got {raw!r}")
        return int(raw)

    def encode(self, value):
        if value.__class__ is not int:
            raise self.overflow(f"expected an integer, got {type(value).__name__}")
        if not 0 <= value <= self.maximum:
            raise self.overflow(f"{value} is outside 0..{self.maximum}")
        return b"%0*d" % (self.width, value)

    def decode_column(self, raws):
        if not all(map(bytes.isdigit, raws)):
            raise ValueError("not all digits")
        return list(map(int, raws))

    def encode_column(self, values):
        if set(map(type, values)) != {int} or min(values) < 0 or max(values) > self.maximum:
            raise ValueError("not all integers in range")  # bool is not int here either
        pattern = b"%%0%dd" % self.width
        return [pattern % value for value in values]

    def describe(self) -> str:
        return f"unsigned integer, {self.width} ASCII digits, zero-padded"


class Signed(FixedField):
    def __init__(self, width: int) -> None:
        super().__init__(width)
        self.kind = f"S{width}"
        self.maximum = 10 ** (width - 1) - 1

    def decode(self, raw, offset):
        sign, digits = raw[:1], raw[1:]
        if sign not in (b"+", b"-") or not digits.isdigit():
            raise self.fail(offset, f"expected a sign and {self.width - 1} digits, got {raw!r}")
        value = int(digits)
        return -value if sign == b"-" else value

    def encode(self, value):
        if value.__class__ is not int:
            raise self.overflow(f"expected an integer, got {type(value).__name__}")
        if abs(value) > self.maximum:
            raise self.overflow(f"{value} is outside ±{self.maximum}")
        return b"%c%0*d" % (45 if value < 0 else 43, self.width - 1, abs(value))

    def describe(self) -> str:
        return f"signed integer: `+` or `-` then {self.width - 1} digits"


class Choice(FixedField):
    def __init__(self, width: int, values: tuple[str, ...]) -> None:
        super().__init__(width)
        self.kind = f"A{width}"
        self.values = tuple(values)
        self._decode = {v.encode("ascii").ljust(width, b" "): v for v in values}
        self._encode = {v: k for k, v in self._decode.items()}

    def decode(self, raw, offset):
        try:
            return self._decode[raw]
        except KeyError:
            raise self.fail(offset, f"{raw!r} is not one of {list(self.values)}") from None

    def encode(self, value):
        try:
            return self._encode[value]
        except (KeyError, TypeError):
            raise self.overflow(f"{value!r} is not one of {list(self.values)}") from None

    def decode_column(self, raws):
        return list(map(self._decode.__getitem__, raws))

    def encode_column(self, values):
        return list(map(self._encode.__getitem__, values))

    def describe(self) -> str:
        return "one of " + ", ".join(f"`{v}`" for v in self.values)


class Raw(FixedField):
    def __init__(self, width: int) -> None:
        super().__init__(width)
        self.kind = f"B{width}"

    def decode(self, raw, offset):
        return bytes(raw)

    def encode(self, value):
        if not isinstance(value, bytes | bytearray) or len(value) != self.width:
            raise self.overflow(f"expected exactly {self.width} bytes")
        return bytes(value)

    def describe(self) -> str:
        return f"binary, {self.width} bytes"


def field(name: str, con: Construct, doc: str, *, part: str = "body") -> Renamed:
    """Name a field (for construct, for error messages and for the docs)."""
    if isinstance(con, FixedField):
        con.field_name = name
        con.part = part
    return Renamed(con, newname=name, newdocs=doc)


def static_size(con: Construct) -> int | None:
    """The fixed size of ``con`` in bytes, or None when it varies."""
    try:
        return con.sizeof()
    except SizeofError:
        return None


def records(name: str, record: Struct, doc: str, *, count_width: int = 4) -> Renamed:
    """A repeated record: a count (``count_width`` digits) then that many records."""
    count = Digits(count_width)
    count.field_name = f"{name}.count"
    count.part = "body"
    array = PrefixedArray(count, record)
    # Remembered for protocol.codec and the docs generator.
    array.dl_count = count
    array.dl_record = record
    return Renamed(array, newname=name, newdocs=doc)
