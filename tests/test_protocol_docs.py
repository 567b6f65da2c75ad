"""docs/protocol.md must agree with the declarations in protocol/.

The generated blocks must equal what protocol/spec.py renders (refresh them
with ``python -m protocol.spec --write docs/protocol.md``), the return-code
table must list every code, the tables' offsets must be where the codec really
puts each field, and the cryptography the prose describes must be what the
sessions do, recomputed here from the primitives.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from protocol import codes, spec
from protocol.bodies import BODIES, CODECS, HANDSHAKE_ACK_CODEC, TR_CODES
from protocol.events import EnrolledKey, Heartbeat, SessionEstablished
from protocol.fields import Choice, Digits, FixedField, Raw, Signed, Text
from protocol.header import HEADER, HEADER_SIZE, Header, MessageType
from protocol.keys import BankKeyPair, SigningKey
from protocol.security import HPKE_SUITE, DirectionCipher, derive_session_keys
from protocol.session import ClientSession, ServerSession

ROOT = Path(__file__).resolve().parent.parent
DOC_PATH = ROOT / "docs" / "protocol.md"
REFRESH = "run `python -m protocol.spec --write docs/protocol.md`"


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC_PATH.read_text(encoding="utf-8")


def section(doc: str, title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", doc, re.M | re.S)
    assert match, f"docs/protocol.md has no '## {title}' section"
    return match[1]


# -- generated blocks ----------------------------------------------------------


@pytest.mark.parametrize("name", spec.block_names())
def test_generated_block_matches_declarations(doc: str, name: str) -> None:
    blocks = spec.extract_blocks(doc)
    assert name in blocks, f"block {name!r} is missing from docs/protocol.md; {REFRESH}"
    assert blocks[name] == spec.render(name), f"block {name!r} is stale; {REFRESH}"


def test_document_has_no_unknown_blocks(doc: str) -> None:
    unknown = set(spec.extract_blocks(doc)) - set(spec.block_names())
    assert not unknown, f"blocks spec.py does not generate: {sorted(unknown)}"


def test_drift_is_detected_and_refresh_repairs_it(doc: str) -> None:
    assert spec.refresh(doc) == doc
    drifted = doc.replace("| 215 | 8 | `body_len` |", "| 215 | 9 | `body_len` |", 1)
    assert drifted != doc
    assert spec.stale_blocks(drifted) == ["header"]
    assert spec.refresh(drifted) == doc


def test_unterminated_or_unknown_blocks_are_refused() -> None:
    with pytest.raises(spec.SpecError):
        spec.refresh("<!-- generated: header -->\nno end marker\n")
    with pytest.raises(spec.SpecError):
        spec.refresh("<!-- generated: no-such-block -->\n<!-- end generated -->\n")


def test_cli_check_and_write(tmp_path: Path, doc: str) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "protocol.spec", *args], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)

    assert run("--check", str(DOC_PATH)).returncode == 0
    stale = tmp_path / "protocol.md"
    stale.write_text(doc.replace("| 0 | 4 | `magic` |", "| 0 | 5 | `magic` |"),
                     encoding="utf-8")
    assert run("--check", str(stale)).returncode == 1
    assert run("--write", str(stale)).returncode == 0
    assert stale.read_text(encoding="utf-8") == doc


# -- return codes, transactions, message types --------------------------------------


def test_every_return_code_is_in_the_code_table(doc: str) -> None:
    rows = {
        m["code"]: (m["name"], m["message"])
        for m in re.finditer(r"^\| `(?P<code>[0-9A-Z]{4})` \| `(?P<name>\w+)` \| "
                             r"(?P<message>.*) \|$", section(doc, "Return codes"), re.M)
    }
    missing = [rc.code for rc in codes.ALL if rc.code not in rows]
    assert not missing, f"return codes missing from docs/protocol.md: {missing}; {REFRESH}"
    for rc in codes.ALL:
        assert rows[rc.code] == (rc.name, rc.message.replace("|", "\\|")), rc.code


def test_every_tr_code_has_a_section(doc: str) -> None:
    for tr_code in TR_CODES:
        assert re.search(rf"^### {tr_code} ", doc, re.M), f"no section for {tr_code}"


def test_every_message_type_is_described(doc: str) -> None:
    described = section(doc, "Message types")
    for msg_type in MessageType.ALL:
        assert f"| `{msg_type}` " in described, msg_type


# -- the tables put every field where the codec does ------------------------------

_ROW = re.compile(
    r"^\| (?P<offset>\d+) \| (?P<width>\d+) \| `(?P<name>\w+)`(?P<count> \(count\))? \|", re.M
)


def sample(con: FixedField, index: int) -> object:
    """A value for a field that differs from its neighbours' encodings."""
    if isinstance(con, Choice):
        return con.values[index % len(con.values)]
    if isinstance(con, Text):
        return chr(ord("A") + index % 26)
    if isinstance(con, Digits):
        return (index + 1) % (con.maximum + 1)
    if isinstance(con, Signed):
        return -(index + 1)
    if isinstance(con, Raw):
        return bytes([index % 256]) * con.width
    raise TypeError(con)


def sample_values(declaration) -> dict:
    values: dict = {}
    for index, sub in enumerate(declaration.subcons):
        con = sub.subcon
        if isinstance(con, FixedField):
            values[sub.name] = sample(con, index)
        else:  # one repeated record
            values[sub.name] = [sample_values(con.dl_record)]
    return values


def check_rows(block: str, declaration, encoded: bytes, values: dict) -> None:
    """Each row's [offset, offset + width) of ``encoded`` holds that field's encoding."""
    fields = {sub.name: sub.subcon for sub in declaration.subcons}
    rows = list(_ROW.finditer(block))
    assert [row["name"] for row in rows[: len(fields)]] == list(fields)
    for row in rows[: len(fields)]:
        start, width, name = int(row["offset"]), int(row["width"]), row["name"]
        con = fields[name]
        if row["count"]:
            assert encoded[start : start + width] == con.dl_count.encode(1), name
            nested = block[block.index(f"Each `{name}` record") :]
            check_rows(nested, con.dl_record, encoded[start + width :], values[name][0])
        else:
            assert width == con.width, name
            assert encoded[start : start + width] == con.encode(values[name]), name


def test_header_table_offsets_match_the_codec(doc: str) -> None:
    values = sample_values(HEADER)
    values["magic"] = "DLNK"
    encoded = Header(**{k: v for k, v in values.items()
                        if k not in ("magic", "reserved")}).build()
    values["reserved"] = b" " * 17
    assert len(encoded) == HEADER_SIZE
    check_rows(spec.extract_blocks(doc)["header"], HEADER, encoded, values)


@pytest.mark.parametrize("key", sorted(BODIES), ids="-".join)
def test_body_table_offsets_match_the_codec(doc: str, key: tuple[str, str]) -> None:
    declaration = BODIES[key]
    values = sample_values(declaration)
    encoded = CODECS[key].encode(values)
    check_rows(spec.extract_blocks(doc)["body-{}-{}".format(*key)], declaration, encoded,
               values)


# -- the cryptography described is the cryptography done ---------------------------


def test_handshake_and_message_crypto_follow_the_prose() -> None:
    client_key = SigningKey.from_seed(b"\x05" * 32)
    bank = BankKeyPair.from_seeds(b"\x06" * 32, b"\x07" * 32)
    enrolled = EnrolledKey(corp_no="0000000001", user_no="001", key=client_key.public)
    draws = iter([b"\x21" * 32, b"\x22" * 32, b"\x23" * 32])  # client nonce, secret, bank nonce
    now = 1_795_000_000.0
    client = ClientSession(corp_no="0000000001", user_no="001", signing_key=client_key,
                           bank_keys=bank.public, clock=lambda: now,
                           random=lambda n: next(draws))
    server = ServerSession(bank_keys=bank, lookup_key=lambda kid: enrolled,
                           clock=lambda: now, random=lambda n: next(draws))
    client.start()
    hs_frame = client.data_to_send()
    hs = hs_frame[4:]
    header, body, signature = hs[:HEADER_SIZE], hs[HEADER_SIZE:-64], hs[-64:]
    assert len(hs) == 432 and len(body) == 112
    # Signed: header || body. HPKE info: label || HS header, empty AAD.
    assert client_key.public.verify(signature, header + body)
    secret = HPKE_SUITE.decrypt(body[32:], bank.kem,
                                info=b"directlink/1 handshake\x00" + header)
    assert secret == b"\x22" * 32
    server.receive_data(hs_frame)
    assert isinstance(server.next_event(), SessionEstablished)
    ha_frame = server.data_to_send()
    ha = ha_frame[4:]
    assert bank.public.verify.verify(ha[-64:], ha[:-64])
    ack = HANDSHAKE_ACK_CODEC.decode(ha[HEADER_SIZE:-64])
    transcript = hashlib.sha256(hs).digest()
    assert ack == {"server_nonce": b"\x23" * 32, "transcript": transcript}
    client.receive_data(ha_frame)
    assert isinstance(client.next_event(), SessionEstablished)

    okm = HKDF(algorithm=hashes.SHA256(), length=64, salt=b"\x21" * 32 + b"\x23" * 32,
               info=b"directlink/1 session keys\x00" + transcript).derive(secret)
    assert derive_session_keys(secret, b"\x21" * 32, b"\x23" * 32, transcript) == (
        okm[:32], okm[32:])

    # First message: seq 1, nonce 0000 || seq, AAD = header, signature over header || ct.
    client.send(Heartbeat())
    hb = client.data_to_send()[4:]
    hb_header = Header.parse(hb)
    assert (hb_header.seq_no, hb_header.body_len, hb_header.key_id) == (
        1, 16, client_key.key_id)
    ct = hb[HEADER_SIZE:-64]
    assert AESGCM(okm[:32]).decrypt(bytes(4) + (1).to_bytes(8, "big"), ct,
                                    hb[:HEADER_SIZE]) == b""
    assert DirectionCipher(okm[:32]).seal(1, b"", hb[:HEADER_SIZE]) == ct
    assert client_key.public.verify(hb[-64:], hb[:-64])


def test_fingerprints_follow_the_prose() -> None:
    client_key = SigningKey.from_seed(b"\x01" * 32)
    bank = BankKeyPair.from_seeds(b"\x02" * 32, b"\x03" * 32)
    fingerprint = hashlib.sha256(b"directlink client key v1\x00" + client_key.public.raw)
    assert client_key.public.fingerprint == fingerprint.hexdigest()
    assert client_key.key_id == fingerprint.hexdigest()[:16]
    bank_fp = hashlib.sha256(b"directlink bank key v1\x00" + bank.public.verify.raw
                             + bank.public.kem_raw).hexdigest()
    assert (bank.public.fingerprint, bank.key_id) == (bank_fp, bank_fp[:16])
