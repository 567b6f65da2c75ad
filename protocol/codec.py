"""Fast encoding and decoding of records declared with construct.

construct's generic machinery costs tens of microseconds per message; this
module walks a declaration once and derives a codec that slices a record with
one ``struct`` call and converts each field with the *same* field objects
(:mod:`protocol.fields`). Tests check that it agrees with construct's own
parse/build on random values, so the declaration stays the single authority.

Supported declarations: a ``Struct`` of fixed fields (:class:`FixedField`)
and counted arrays (:func:`protocol.fields.records`) of such structs.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

from construct import Renamed, Struct

from protocol.errors import DecodeError, FieldOverflow
from protocol.fields import FixedField


class _Flat:
    """A run of consecutive fixed-width fields."""

    __slots__ = ("decoders", "encoders", "fields", "names", "offsets", "size", "struct",
                 "unpack")

    def __init__(self, fields: list[tuple[str, FixedField]]) -> None:
        self.fields = fields
        self.names = [name for name, _ in fields]
        self.struct = fmt = struct.Struct("".join(f"{f.width}s" for _, f in fields))
        self.unpack = fmt.unpack_from
        self.size = fmt.size
        self.offsets = []
        pos = 0
        for _, f in fields:
            self.offsets.append(pos)
            pos += f.width
        self.decoders = [f.decode for _, f in fields]
        self.encoders = [(name, f.encode) for name, f in fields]

    def decode_into(self, out: dict, data: bytes, pos: int) -> int:
        if len(data) - pos < self.size:
            self._truncated(data, pos)
        raws = self.unpack(data, pos)
        for name, dec, raw, off in zip(self.names, self.decoders, raws, self.offsets, strict=True):
            out[name] = dec(raw, pos + off)
        return pos + self.size

    def _truncated(self, data: bytes, pos: int) -> None:
        for (_, f), off in zip(self.fields, self.offsets, strict=True):
            if pos + off + f.width > len(data):
                raise f.fail(pos + off, f"truncated: needs {f.width} bytes, "
                                        f"{max(0, len(data) - pos - off)} left")

    def encode_into(self, parts: list[bytes], values: Mapping) -> None:
        for name, enc in self.encoders:
            try:
                value = values[name]
            except KeyError:
                raise FieldOverflow(name, "missing") from None
            parts.append(enc(value))


class _Array:
    """A counted array of records.

    An array of flat records (every one in this protocol) is decoded and
    encoded a column at a time: one ``struct.iter_unpack`` over all its bytes,
    then each field's :meth:`~protocol.fields.FixedField.decode_column` over
    that field of every record, so a page of a thousand records costs one call
    per field rather than one per value. Anything wrong in a column sends the
    array back through the record-by-record path, which raises exactly the
    error construct would (the first bad field of the first bad record).
    """

    __slots__ = ("columns", "count", "name", "record", "row")

    def __init__(self, name: str, count: FixedField, record: RecordCodec) -> None:
        self.name = name
        self.count = count
        self.record = record
        flat = record.segments[0] if len(record.segments) == 1 else None
        self.row = flat if isinstance(flat, _Flat) else None
        self.columns = self.row.struct.iter_unpack if self.row is not None else None

    def decode_into(self, out: dict, data: bytes, pos: int) -> int:
        end = pos + self.count.width
        if end > len(data):
            raise self.count.fail(pos, "truncated record count")
        n = self.count.decode(data[pos:end], pos)
        row = self.row
        if row is not None and end + n * row.size <= len(data):
            stop = end + n * row.size
            try:
                out[self.name] = self._decode_columns(memoryview(data)[end:stop], n)
                return stop
            except Exception:  # the record-by-record path below says what is wrong
                pass
        items = []
        pos = end
        for _ in range(n):
            item: dict = {}
            pos = self.record.decode_at(item, data, pos)
            items.append(item)
        out[self.name] = items
        return pos

    def _decode_columns(self, view: memoryview, n: int) -> list[dict]:
        if n == 0:
            return []
        row = self.row
        columns = zip(*self.columns(view), strict=True)
        values = [f.decode_column(raws) for (_, f), raws in zip(row.fields, columns, strict=True)]
        names = row.names
        return [dict(zip(names, record, strict=True)) for record in zip(*values, strict=True)]

    def encode_into(self, parts: list[bytes], values: Mapping) -> None:
        try:
            items = values[self.name]
        except KeyError:
            raise FieldOverflow(self.name, "missing") from None
        parts.append(self.count.encode(len(items)))
        if self.row is not None and items:
            try:
                columns = [f.encode_column([item[name] for item in items])
                           for name, f in self.row.fields]
                parts.append(b"".join(map(b"".join, zip(*columns, strict=True))))
                return
            except Exception:  # the record-by-record path below says what is wrong
                pass
        for item in items:
            self.record.encode_parts(parts, item)


class RecordCodec:
    """Encoder/decoder for one declared record (a header or a message body)."""

    def __init__(self, declaration: Struct) -> None:
        self.declaration = declaration
        self.segments: list[_Flat | _Array] = []
        pending: list[tuple[str, FixedField]] = []
        for sub in declaration.subcons:
            if not isinstance(sub, Renamed):
                raise TypeError(f"unnamed field in {declaration!r}")
            con = sub.subcon
            if isinstance(con, FixedField):
                pending.append((sub.name, con))
            elif hasattr(con, "dl_record"):
                if pending:
                    self.segments.append(_Flat(pending))
                    pending = []
                self.segments.append(_Array(sub.name, con.dl_count, RecordCodec(con.dl_record)))
            else:
                raise TypeError(f"field {sub.name}: unsupported construct {con!r}")
        if pending:
            self.segments.append(_Flat(pending))
        self.names = [sub.name for sub in declaration.subcons]

    def decode_at(self, out: dict, data: bytes, pos: int) -> int:
        for segment in self.segments:
            pos = segment.decode_into(out, data, pos)
        return pos

    def decode(self, data: bytes, *, allow_trailing: bool = False) -> dict:
        """Decode a whole record; bytes left over are an error unless allowed."""
        out: dict = {}
        end = self.decode_at(out, data, 0)
        if end != len(data) and not allow_trailing:
            raise DecodeError(f"{len(data) - end} unexpected bytes after the last field",
                              offset=end, part="body")
        return out

    def encode_parts(self, parts: list[bytes], values: Mapping) -> None:
        for segment in self.segments:
            segment.encode_into(parts, values)

    def encode(self, values: Mapping) -> bytes:
        parts: list[bytes] = []
        self.encode_parts(parts, values)
        return b"".join(parts)
