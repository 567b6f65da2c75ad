"""The protocol test vectors in tests/vectors/*.json.

Each vector is checked both ways: decoding its bytes yields the stated header,
body fields and intermediate values; re-encoding the stated fields with the
stated keys, clock and sequence number yields exactly its bytes. The whole set
is also replayed through real ClientSession/ServerSession objects.

The handshake's HPKE encapsulation cannot be reproduced (cryptography draws its
ephemeral key itself), so the HS vector records it: the tests check that the
bank's key opens it to the stated secret and that a ServerSession accepts the
recorded HS and answers with exactly the HA vector. Everything after the
handshake derives from the recorded transcript and is byte-exact.

These tests never regenerate the vectors (see tests/vectors/generate.py).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from protocol import session_client as session_module
from protocol.bodies import CODECS, HANDSHAKE_ACK_CODEC, HANDSHAKE_CODEC, REQUEST, RESPONSE
from protocol.events import (
    NEED_DATA,
    EnrolledKey,
    ErrorMessage,
    Heartbeat,
    Request,
    Response,
    SessionEstablished,
)
from protocol.framing import PREFIX_SIZE, encode_frame
from protocol.header import HEADER_SIZE, Header
from protocol.keys import BankKeyPair, SigningKey
from protocol.security import (
    HANDSHAKE_INFO,
    DirectionCipher,
    derive_session_keys,
    open_secret,
    transcript_hash,
)
from protocol.session import ClientSession, ServerSession

VECTOR_DIR = Path(__file__).parent / "vectors"
VECTORS = {path.stem: json.loads(path.read_text("utf-8"))
           for path in sorted(VECTOR_DIR.glob("*.json"))}
NAMES = sorted(VECTORS, key=lambda name: VECTORS[name]["step"])
CONVERSATION = [name for name in NAMES if VECTORS[name]["message_type"] not in ("HS", "HA")]
EVENT_TYPES = {cls.__name__: cls for cls in (Request, Response, ErrorMessage, Heartbeat,
                                             SessionEstablished)}


def event_of(data: dict):
    data = dict(data)
    return EVENT_TYPES[data.pop("type")](**data)


def client_key(v: dict) -> SigningKey:
    return SigningKey.from_seed(bytes.fromhex(v["keys"]["client_sign_seed"]))


def bank_keys(v: dict) -> BankKeyPair:
    return BankKeyPair.from_seeds(bytes.fromhex(v["keys"]["bank_sign_seed"]),
                                  bytes.fromhex(v["keys"]["bank_kem_seed"]))


def signer(v: dict) -> SigningKey:
    return client_key(v) if v["direction"] == "client_to_bank" else bank_keys(v).signing


def direction_key(v: dict) -> bytes:
    name = "key_client_to_bank" if v["direction"] == "client_to_bank" else "key_bank_to_client"
    return bytes.fromhex(v["session"][name])


def body_codec(v: dict):
    if v["message_type"] == "HS":
        return HANDSHAKE_CODEC
    if v["message_type"] == "HA":
        return HANDSHAKE_ACK_CODEC
    if not v["body_fields"]:
        return None  # heartbeat, error, refusal: empty body
    direction = REQUEST if v["message_type"] == "RQ" else RESPONSE
    return CODECS[(v["header"]["tr_code"], direction)]


def stated_fields(v: dict) -> dict:
    """The body fields with the handshake's binary fields as bytes."""
    if v["message_type"] in ("HS", "HA"):
        return {name: bytes.fromhex(value) for name, value in v["body_fields"].items()}
    return v["body_fields"]


def hx(v: dict, name: str) -> bytes:
    return bytes.fromhex(v["intermediate"][name])


def enrolment(v: dict):
    key = client_key(v)
    return {key.key_id: EnrolledKey(corp_no=v["corp_no"], user_no=v["user_no"],
                                    key=key.public)}.get


def stream(data: bytes):
    """An injected ``random`` that hands out ``data`` in order, and nothing more."""
    pos = 0

    def draw(n: int) -> bytes:
        nonlocal pos
        pos += n
        assert pos <= len(data), "the vector's random bytes are used up"
        return data[pos - n : pos]

    return draw


def take_events(session, data: bytes) -> list:
    session.receive_data(data)
    events = []
    while (event := session.next_event()) is not NEED_DATA:
        events.append(event)
    return events


# -- coverage ------------------------------------------------------------------------------------


def test_vectors_cover_every_message_type_and_tr_code():
    kinds = {(v["message_type"], v["header"]["tr_code"]) for v in VECTORS.values()}
    codes = ("310101", "310201", "310301", "210201", "210224", "310204", "330010", "310207",
             "310208", "310210")
    required = {("HS", ""), ("HA", ""), ("ER", ""), ("HB", "")}
    required |= {(kind, code) for kind in ("RQ", "RS") for code in codes}
    assert required <= {(kind, code if kind in ("RQ", "RS") else "") for kind, code in kinds}
    assert [VECTORS[n]["step"] for n in NAMES] == list(range(1, len(NAMES) + 1))
    assert VECTORS["rs_210224_refused"]["header"]["ret_code"] != "0000"
    segments = [VECTORS[f"rq_330010_segment_{n}"]["header"] for n in (1, 2)]
    assert [(h["frag_no"], h["more_flag"]) for h in segments] == [(1, "1"), (2, "0")]


# -- each vector, both ways ----------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_keys_follow_from_the_seeds(name):
    v = VECTORS[name]
    client, bank = client_key(v), bank_keys(v)
    assert client.public.raw.hex() == v["keys"]["client_public"]
    assert client.key_id == v["keys"]["client_key_id"]
    assert bank.public.verify.raw.hex() == v["keys"]["bank_sign_public"]
    assert bank.public.kem_raw.hex() == v["keys"]["bank_kem_public"]
    assert bank.key_id == v["keys"]["bank_key_id"]


@pytest.mark.parametrize("name", NAMES)
def test_session_keys_follow_from_the_handshake(name):
    v = VECTORS[name]
    s = {k: bytes.fromhex(value) for k, value in v["session"].items()}
    assert s["transcript"] == transcript_hash(bytes.fromhex(VECTORS["hs"]["message_hex"]))
    c2s, s2c = derive_session_keys(s["secret"], s["client_nonce"], s["server_nonce"],
                                   s["transcript"])
    assert (c2s, s2c) == (s["key_client_to_bank"], s["key_bank_to_client"])


@pytest.mark.parametrize("name", NAMES)
def test_decoding_yields_the_stated_values(name):
    v = VECTORS[name]
    frame = bytes.fromhex(v["frame_hex"])
    message = frame[PREFIX_SIZE:]
    assert int.from_bytes(frame[:PREFIX_SIZE], "big") == len(message)
    assert message.hex() == v["message_hex"]

    header_bytes = message[:HEADER_SIZE]
    assert header_bytes == hx(v, "header_hex")
    header = Header.parse(header_bytes)
    assert header == Header(**v["header"])
    assert header.msg_type == v["message_type"]

    signed_end = HEADER_SIZE + header.body_len
    wire_body, signature = message[HEADER_SIZE:signed_end], message[signed_end:]
    assert signature == hx(v, "signature_hex") and len(signature) == header.sig_len
    assert signer(v).public.verify(signature, message[:signed_end])

    if header.encrypted:
        assert wire_body == hx(v, "wire_body_hex")
        assert DirectionCipher.nonce(header.seq_no) == hx(v, "nonce_hex")
        plaintext = DirectionCipher(direction_key(v)).open(header.seq_no, wire_body,
                                                           header_bytes)
    else:
        assert v["message_type"] in ("HS", "HA")  # only the handshake goes unencrypted
        plaintext = wire_body
    assert plaintext == hx(v, "plaintext_body_hex")
    codec = body_codec(v)
    assert (codec.decode(plaintext) if codec else {}) == stated_fields(v)
    if "fields" in v["event"]:
        assert v["event"]["fields"] == v["body_fields"]


@pytest.mark.parametrize("name", NAMES)
def test_encoding_the_stated_values_yields_the_bytes(name):
    v = VECTORS[name]
    header = Header(**v["header"]).build()
    assert header == hx(v, "header_hex")
    codec = body_codec(v)
    plaintext = codec.encode(stated_fields(v)) if codec else b""
    assert plaintext == hx(v, "plaintext_body_hex")
    if v["header"]["encrypt_flag"] == "1":
        seq_no = v["header"]["seq_no"]
        wire_body = DirectionCipher(direction_key(v)).seal(seq_no, plaintext, header)
        assert wire_body == hx(v, "wire_body_hex")
    else:
        wire_body = plaintext
    signature = signer(v).sign(header + wire_body)
    assert signature == hx(v, "signature_hex")
    assert encode_frame(header + wire_body + signature).hex() == v["frame_hex"]


# -- the handshake ---------------------------------------------------------------------------------


def test_recorded_handshake_opens_to_the_stated_secret():
    v = VECTORS["hs"]
    header = hx(v, "header_hex")
    sealed = bytes.fromhex(v["body_fields"]["sealed_secret"])
    assert hx(v, "hpke_info_hex") == HANDSHAKE_INFO + header
    assert hx(v, "hpke_enc_hex") == sealed[:32]
    assert open_secret(sealed, bank_keys(v).kem, header).hex() == v["session"]["secret"]
    assert v["body_fields"]["client_nonce"] == v["session"]["client_nonce"]


def test_server_session_opens_the_recorded_handshake_and_answers_with_the_ha_vector():
    hs, ha = VECTORS["hs"], VECTORS["ha"]
    server = ServerSession(bank_keys=bank_keys(hs), lookup_key=enrolment(hs),
                           clock=lambda: hs["clock"],
                           random=stream(bytes.fromhex(hs["session"]["server_nonce"])))
    assert take_events(server, bytes.fromhex(hs["frame_hex"])) == [event_of(hs["event"])]
    assert server.data_to_send().hex() == ha["frame_hex"]


def test_ha_vector_binds_the_transcript():
    ha = VECTORS["ha"]
    assert ha["body_fields"]["transcript"] == ha["session"]["transcript"]
    assert ha["body_fields"]["server_nonce"] == ha["session"]["server_nonce"]


# -- the whole conversation, through real sessions -----------------------------------------


def test_conversation_replays_byte_for_byte(monkeypatch):
    hs = VECTORS["hs"]
    sealed = bytes.fromhex(hs["body_fields"]["sealed_secret"])
    secret = bytes.fromhex(hs["session"]["secret"])
    bank = bank_keys(hs)

    def recorded_seal(secret_arg, bank_kem, header):
        # The one step that cannot be reproduced: hand back the recorded encapsulation.
        assert secret_arg == secret and header == hx(hs, "header_hex")
        assert bank_kem.public_bytes_raw() == bank.public.kem_raw
        return sealed

    monkeypatch.setattr(session_module, "seal_secret", recorded_seal)
    client = ClientSession(
        corp_no=hs["corp_no"], user_no=hs["user_no"], signing_key=client_key(hs),
        bank_keys=bank.public, clock=lambda: hs["clock"],
        random=stream(bytes.fromhex(hs["session"]["client_nonce"]) + secret))
    server = ServerSession(bank_keys=bank, lookup_key=enrolment(hs),
                           clock=lambda: hs["clock"],
                           random=stream(bytes.fromhex(hs["session"]["server_nonce"])))
    client.start()
    data = client.data_to_send()
    assert data.hex() == hs["frame_hex"]
    assert take_events(server, data) == [event_of(hs["event"])]
    data = server.data_to_send()
    assert data.hex() == VECTORS["ha"]["frame_hex"]
    assert take_events(client, data) == [event_of(VECTORS["ha"]["event"])]

    for name in CONVERSATION:
        v = VECTORS[name]
        sender, receiver = ((client, server) if v["direction"] == "client_to_bank"
                            else (server, client))
        event = event_of(v["event"])
        sender.send(event)
        data = sender.data_to_send()
        assert data.hex() == v["frame_hex"], name
        assert take_events(receiver, data) == [event], name


def test_vector_files_are_what_the_generator_writes():
    # Formatting only (the generator is not run): UTF-8 JSON, two-space indent, Chinese
    # unescaped, one trailing newline -- so a regenerated file diffs cleanly.
    for name, v in VECTORS.items():
        text = (VECTOR_DIR / f"{name}.json").read_text("utf-8")
        assert text == json.dumps(v, ensure_ascii=False, indent=2) + "\n"
    assert hashlib.sha256(bytes.fromhex(VECTORS["hs"]["message_hex"])).hexdigest() == \
        VECTORS["hs"]["session"]["transcript"]
