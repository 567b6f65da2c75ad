"""Render the field tables of docs/protocol.md from the construct declarations.

The header (:mod:`protocol.header`), every body (:mod:`protocol.bodies`), the
return codes (:mod:`protocol.codes`), the protocol's constants and a set of
deterministic test vectors are rendered as markdown. In the document each one
sits between markers::

    <!-- generated: header -->
    ...
    <!-- end generated -->

and tests/test_protocol_docs.py checks that every block equals what this module
renders, so the wire spec cannot drift from the code. Everything here returns
strings; the only file write is ``python -m protocol.spec --write PATH``,
which refreshes the blocks of a document in place.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from construct import Renamed, Struct

from protocol import bodies, codes, framing, header, keys, security
from protocol.fields import Choice, FixedField, static_size

START = "<!-- generated: {name} -->"
END = "<!-- end generated -->"
_BLOCK = re.compile(
    r"^<!-- generated: (?P<name>[a-z0-9-]+) -->\n(?P<content>.*?)^<!-- end generated -->$",
    re.MULTILINE | re.DOTALL,
)


class SpecError(ValueError):
    """A document whose generated blocks cannot be refreshed or checked."""


# -- tables -------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _type(con: FixedField) -> str:
    kind = f"`{con.kind}`"
    if isinstance(con, Choice):
        return kind + ": " + " ".join(f"`{value}`" for value in con.values)
    return kind


class _Offset:
    """A byte offset that may depend on the counts of earlier repeated records."""

    def __init__(self) -> None:
        self.fixed = 0
        self.terms: list[tuple[int, str]] = []  # (record size, array name)

    def __str__(self) -> str:
        return " + ".join([str(self.fixed), *(f"{size}×n({name})" for size, name in self.terms)])


def _rows(declaration: Struct) -> Iterator[tuple[str, Renamed]]:
    for sub in declaration.subcons:
        if not isinstance(sub, Renamed):
            raise TypeError(f"unnamed field in {declaration!r}")
        yield sub.name, sub


def _table(declaration: Struct) -> tuple[str, _Offset]:
    """(markdown, size) for one record; nested record tables follow the main table."""
    lines = [
        "| Offset | Width | Field | Type | Meaning |",
        "|---:|---:|---|---|---|",
    ]
    nested: list[str] = []
    offset = _Offset()
    for name, sub in _rows(declaration):
        con = sub.subcon
        if isinstance(con, FixedField):
            lines.append(f"| {offset} | {con.width} | `{name}` | {_type(con)} | "
                         f"{_cell(sub.docs or '')} |")
            offset.fixed += con.width
        elif hasattr(con, "dl_record"):
            count = con.dl_count
            record_table, record_size = _table(con.dl_record)
            if record_size.terms:
                raise TypeError(f"field {name}: records of varying size are not supported")
            limit = count.maximum
            lines.append(
                f"| {offset} | {count.width} | `{name}` (count) | {_type(count)} | "
                f"number of records that follow (0–{limit}), each laid out as below: "
                f"{_cell(sub.docs or '')} |"
            )
            offset.fixed += count.width
            nested.append(f"\nEach `{name}` record ({_bytes(record_size)}, offsets within the "
                          f"record):\n\n{record_table}")
            offset.terms.append((record_size.fixed, name))
        else:
            raise TypeError(f"field {name}: cannot document {con!r}")
    fixed = static_size(declaration)
    if fixed is not None and (offset.terms or offset.fixed != fixed):
        raise TypeError(f"computed size {offset} disagrees with construct's {fixed}")
    return "\n".join(lines) + "\n" + "".join(nested), offset


def _bytes(size: _Offset) -> str:
    return f"{size} byte" if str(size) == "1" else f"{size} bytes"


def header_table() -> str:
    table, size = _table(header.HEADER)
    return f"{table}\nHeader size: {_bytes(size)}.\n"


def body_table(declaration: Struct) -> str:
    if not declaration.subcons:
        return "Empty body (0 bytes).\n"
    table, size = _table(declaration)
    return f"{table}\nBody size: {_bytes(size)}.\n"


def return_code_table() -> str:
    lines = ["| Code | Name | Meaning |", "|---|---|---|"]
    lines += [f"| `{rc.code}` | `{rc.name}` | {_cell(rc.message)} |" for rc in codes.ALL]
    return "\n".join(lines) + "\n"


def _bytes_literal(data: bytes) -> str:
    text = "".join(chr(b) if 0x20 <= b < 0x7F and b != 0x5C else f"\\x{b:02x}" for b in data)
    return f'`b"{text}"` ({len(data)} bytes)'


def constants_table() -> str:
    from protocol.session import DEFAULT_TIME_WINDOW

    rows = [
        ("magic", f"`{header.MAGIC}` (ASCII, header bytes 0–3)"),
        ("protocol version", f"major `{header.VERSION_MAJOR:02d}`, "
                             f"minor `{header.VERSION_MINOR:02d}`"),
        ("header size", f"{header.HEADER_SIZE} bytes"),
        ("length prefix", f"{framing.PREFIX_SIZE} bytes, big-endian unsigned"),
        ("default maximum frame", f"{framing.DEFAULT_MAX_FRAME} bytes (length prefix "
                                  "excluded)"),
        ("minimum frame", f"{header.HEADER_SIZE} bytes"),
        ("HS body size", f"{static_size(bodies.HANDSHAKE_BODY)} bytes"),
        ("HA body size", f"{static_size(bodies.HANDSHAKE_ACK_BODY)} bytes"),
        ("AES-GCM tag", f"{security.TAG_SIZE} bytes, appended to the ciphertext"),
        ("Ed25519 signature", f"{security.SIGNATURE_SIZE} bytes"),
        ("HPKE info label", _bytes_literal(security.HANDSHAKE_INFO)),
        ("HKDF info label", _bytes_literal(security.SESSION_KEYS_INFO)),
        ("client key fingerprint label", _bytes_literal(keys._CLIENT_LABEL)),
        ("bank key fingerprint label", _bytes_literal(keys._BANK_LABEL)),
        ("timestamp window", f"±{DEFAULT_TIME_WINDOW:g} s, clock in UTC+08:00"),
    ]
    lines = ["| Constant | Value |", "|---|---|"]
    lines += [f"| {name} | {_cell(value)} |" for name, value in rows]
    return "\n".join(lines) + "\n"


# -- test vectors -------------------------------------------------------------


def _hexdump(data: bytes) -> str:
    lines = []
    for pos in range(0, len(data), 16):
        chunk = data[pos : pos + 16]
        text = "".join(chr(b) if 0x21 <= b < 0x7F else "·" for b in chunk)
        lines.append(f"{pos:04x}  {chunk.hex(' '):<47}  |{text}|")
    return "\n".join(lines)


def _wrap_hex(data: bytes, width: int = 64) -> str:
    hexed = data.hex()
    return "\n".join(hexed[i : i + width] for i in range(0, len(hexed), width))


def vectors() -> str:
    """Deterministic vectors: key ids, session keys, and one sealed heartbeat."""
    client = keys.SigningKey.from_seed(bytes([0x01]) * 32)
    bank = keys.BankKeyPair.from_seeds(bytes([0x02]) * 32, bytes([0x03]) * 32)
    secret, client_nonce = bytes([0x11]) * 32, bytes([0x22]) * 32
    server_nonce, transcript = bytes([0x33]) * 32, bytes([0x44]) * 32
    c2s, s2c = security.derive_session_keys(secret, client_nonce, server_nonce, transcript)
    hb = header.Header(
        msg_type=header.MessageType.HEARTBEAT, corp_no="0000000001", user_no="001",
        tr_date="20261124", tr_time="093000", sign_flag="1", encrypt_flag="1",
        key_id=client.key_id, sign_alg=header.SIGN_ED25519, body_len=security.TAG_SIZE,
        sig_len=security.SIGNATURE_SIZE, seq_no=1,
    ).build()
    ciphertext = security.DirectionCipher(c2s).seal(1, b"", hb)
    signature = client.sign(hb + ciphertext)
    text_field = bodies.BODIES[("210201", bodies.REQUEST)].subcons[1].subcon  # pay_acname
    sample = "测试公司"
    parts = [
        "Keys from fixed 32-byte seeds (Ed25519 and X25519 private keys as in RFC 8032 / "
        "RFC 7748):",
        "",
        "```text",
        "client Ed25519 seed      01 × 32",
        f"client public key        {client.public.raw.hex()}",
        f"client fingerprint       {keys.format_fingerprint(client.public.fingerprint)}",
        f"client key id            {client.key_id}",
        "bank Ed25519 seed        02 × 32",
        "bank X25519 private key  03 × 32",
        f"bank Ed25519 public key  {bank.public.verify.raw.hex()}",
        f"bank X25519 public key   {bank.public.kem_raw.hex()}",
        f"bank fingerprint         {keys.format_fingerprint(bank.public.fingerprint)}",
        f"bank key id              {bank.key_id}",
        "```",
        "",
        "Session keys from secret = `11`×32, client_nonce = `22`×32, server_nonce = `33`×32, "
        "transcript = `44`×32:",
        "",
        "```text",
        f"client-to-bank key  {c2s.hex()}",
        f"bank-to-client key  {s2c.hex()}",
        "```",
        "",
        "A heartbeat from the client above, sequence number 1, sent at 2026-11-24 09:30:00 "
        "UTC+08:00 under the client-to-bank key. The header (256 bytes, `·` = space):",
        "",
        "```text",
        _hexdump(hb),
        "```",
        "",
        "AES-GCM nonce, then the ciphertext of the empty body (the tag alone), then the "
        "Ed25519 signature over header || ciphertext:",
        "",
        "```text",
        f"nonce       {security.DirectionCipher.nonce(1).hex()}",
        f"ciphertext  {ciphertext.hex()}",
        f"signature   {_wrap_hex(signature[:32])}",
        f"            {_wrap_hex(signature[32:])}",
        "```",
        "",
        f"A `C{text_field.width}` field holding `{sample}`: GB18030 bytes, then spaces "
        f"(`20`) up to {text_field.width} bytes:",
        "",
        "```text",
        _wrap_hex(text_field.encode(sample)),
        "```",
    ]
    return "\n".join(parts) + "\n"


def bank_key_file() -> str:
    """The bank key file of the test vectors' bank, as BankPublicKeys.to_text() writes it."""
    bank = keys.BankKeyPair.from_seeds(bytes([0x02]) * 32, bytes([0x03]) * 32)
    return f"```text\n{bank.public.to_text()}```\n"


# -- blocks -------------------------------------------------------------------


def _body_renderer(declaration: Struct) -> Callable[[], str]:
    return lambda: body_table(declaration)


def renderers() -> dict[str, Callable[[], str]]:
    """Every block this module can generate, by name, in document order."""
    out: dict[str, Callable[[], str]] = {
        "header": header_table,
        "handshake-body": _body_renderer(bodies.HANDSHAKE_BODY),
        "handshake-ack-body": _body_renderer(bodies.HANDSHAKE_ACK_BODY),
    }
    for (tr_code, direction), declaration in bodies.BODIES.items():
        out[f"body-{tr_code}-{direction}"] = _body_renderer(declaration)
    out["return-codes"] = return_code_table
    out["bank-key-file"] = bank_key_file
    out["constants"] = constants_table
    out["vectors"] = vectors
    return out


def block_names() -> list[str]:
    return list(renderers())


def render(name: str) -> str:
    try:
        renderer = renderers()[name]
    except KeyError:
        raise SpecError(f"no generated block named {name!r}") from None
    return renderer()


def extract_blocks(text: str) -> dict[str, str]:
    """The generated blocks of a document: name -> content between the markers."""
    found: dict[str, str] = {}
    for match in _BLOCK.finditer(text):
        name = match["name"]
        if name in found:
            raise SpecError(f"generated block {name!r} appears twice")
        found[name] = match["content"]
    starts = len(re.findall(r"^<!-- generated: ", text, re.MULTILINE))
    if starts != len(found):
        raise SpecError("a `<!-- generated: NAME -->` marker has no matching end marker "
                        "or a malformed name")
    return found


def stale_blocks(text: str) -> list[str]:
    """Names of blocks that are missing from ``text`` or differ from the declarations."""
    found = extract_blocks(text)
    return [name for name in block_names() if found.get(name) != render(name)]


def refresh(text: str) -> str:
    """``text`` with the content of every generated block re-rendered."""
    extract_blocks(text)  # reject duplicated or unterminated blocks first
    known = renderers()

    def replace(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in known:
            raise SpecError(f"no generated block named {name!r}")
        return f"{START.format(name=name)}\n{known[name]()}{END}"

    return _BLOCK.sub(replace, text)


def document_all() -> str:
    """Every block with its markers, for pasting into a new document."""
    return "\n".join(f"{START.format(name=name)}\n{render(name)}{END}\n"
                     for name in block_names())


if __name__ == "__main__":
    import argparse
    import pathlib
    import sys

    parser = argparse.ArgumentParser(prog="python -m protocol.spec", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", metavar="PATH", help="refresh the generated blocks in PATH")
    group.add_argument("--check", metavar="PATH",
                       help="exit 1 when a generated block in PATH is missing or stale")
    args = parser.parse_args()
    if args.write or args.check:
        path = pathlib.Path(args.write or args.check)
        original = path.read_text(encoding="utf-8")
        try:
            if args.write:
                updated = refresh(original)
                missing = [n for n in block_names() if n not in extract_blocks(updated)]
                if updated != original:
                    path.write_text(updated, encoding="utf-8")
                print(f"{path}: {'refreshed' if updated != original else 'up to date'}")
                if missing:
                    print(f"{path}: blocks not in the document: {', '.join(missing)}",
                          file=sys.stderr)
                    sys.exit(1)
            else:
                stale = stale_blocks(original)
                if stale:
                    print(f"{path}: stale or missing blocks: {', '.join(stale)}",
                          file=sys.stderr)
                    sys.exit(1)
                print(f"{path}: up to date")
        except SpecError as exc:
            sys.exit(f"{path}: {exc}")
    else:
        sys.stdout.write(document_all())
