"""Regenerate the protocol test vectors in this directory (tests/vectors/*.json).

How to run, from the repository root::

    .venv/bin/python tests/vectors/generate.py                  # rewrite the vectors
    .venv/bin/python tests/vectors/generate.py --check          # exit 1 if any would change
    .venv/bin/python tests/vectors/generate.py --new-handshake  # draw a new HPKE encapsulation

The tests (tests/test_vectors.py) only read these files; they never run this script.

Every input is fixed: Ed25519/X25519 keys from 32-byte seeds
(``SigningKey.from_seed``, ``BankKeyPair.from_seeds``), the clock, the bytes the
injected ``random`` callables return, and every field value. Every output is
therefore reproducible byte for byte -- except the HPKE encapsulation inside the
handshake (``sealed_secret``), whose ephemeral key cryptography draws itself and
cannot be injected. So this script reuses the encapsulation recorded in hs.json
as long as it still opens under the bank's key and the handshake header; with
``--new-handshake`` (or after changing an input the header depends on) it draws a
fresh one, and since the session keys hash the whole handshake, every vector
after it changes too.

The vectors are one conversation, in ``step`` order: the handshake (HS, HA),
then for each tr_code a request (RQ) and its response (RS), heartbeats (HB)
and errors (ER) both ways, and a refused request. They are produced by the real
ClientSession/ServerSession, and the intermediate values are recomputed here from
the primitives and checked against the frames.

A vector file holds:

* ``keys`` -- the seeds, the public keys and key ids;
* ``clock`` -- the injected time (seconds since the epoch; tr_date/tr_time are CST);
* ``session`` -- client_nonce, secret (the HPKE plaintext), server_nonce, the
  transcript (SHA-256 of the whole HS message) and the two AES-256-GCM keys
  (HKDF-SHA256, salt = client_nonce || server_nonce, info = label || transcript);
* ``event`` -- the protocol event that was sent (and that the peer receives);
* ``header`` -- every header field; ``body_fields`` -- the decoded body (money in fen;
  Raw handshake fields as hex);
* ``intermediate`` -- header, plaintext body, AES-GCM nonce (4 zero bytes || seq_no
  as 8 bytes), body on the wire (ciphertext || tag), signature (Ed25519 over
  header || wire body), all hex; for HS also the HPKE info and ``sealed_secret``;
* ``message_hex`` (header || body || signature) and ``frame_hex`` (4-byte
  big-endian length || message).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from protocol import session_client as session_module  # noqa: E402
from protocol.bodies import (  # noqa: E402
    CODECS,
    HANDSHAKE_ACK_CODEC,
    HANDSHAKE_CODEC,
    REQUEST,
    RESPONSE,
)
from protocol.errors import AuthenticationError  # noqa: E402
from protocol.events import (  # noqa: E402
    NEED_DATA,
    EnrolledKey,
    ErrorMessage,
    Heartbeat,
    Request,
    Response,
)
from protocol.framing import PREFIX_SIZE, encode_frame  # noqa: E402
from protocol.header import HEADER_SIZE, Header  # noqa: E402
from protocol.keys import BankKeyPair, SigningKey  # noqa: E402
from protocol.security import (  # noqa: E402
    HANDSHAKE_INFO,
    DirectionCipher,
    derive_session_keys,
    open_secret,
    seal_secret,
    transcript_hash,
)
from protocol.session import ClientSession, ServerSession  # noqa: E402

# -- fixed inputs ------------------------------------------------------------------------------

CLIENT_SIGN_SEED = bytes(range(0x00, 0x20))
BANK_SIGN_SEED = bytes(range(0x20, 0x40))
BANK_KEM_SEED = bytes(range(0x40, 0x60))
CLOCK = 1_795_487_415.0  # 2026-11-24 10:30:15 China Standard Time
CLIENT_NONCE = bytes.fromhex("c0" * 16 + "c1" * 16)
SECRET = bytes.fromhex("5e" * 32)
SERVER_NONCE = bytes.fromhex("b0" * 16 + "b1" * 16)
CORP_NO = "0000000001"
USER_NO = "001"

ACNO = "310066726018010000001"
RCV_ACNO = "6222020200000000001"
ENTRY = {
    "tr_date": "20261124", "tr_time": "093000", "serial_no": "SB2026112400000001",
    "dc_flag": "D", "amt": 1_250_000, "balance": 98_750_000, "opp_acno": RCV_ACNO,
    "opp_acname": "张三", "summary": "十一月货款", "req_no": "REQ20261124000001",
    "cert_no": "CERT0001",
}
#: The authorization fields of an instruction that needed no approval.
NO_APPROVAL = {"auth_state": "0", "auth_level": 0, "auth_levels": 0, "waiting_for": ""}
FIELDS: dict[tuple[str, str], dict] = {
    ("310101", REQUEST): {"acno": ACNO},
    ("310101", RESPONSE): {"records": [{
        "acname": "示例保险有限公司", "acno": ACNO, "cur_code": "CNY",
        "balance": 98_750_000, "avail_balance": 98_750_000, "open_date": "20200101",
        "acc_type": "01", "open_bank": "模拟银行上海分行", "err_msg": "", "succ_flag": "0",
    }]},
    ("310201", REQUEST): {"acno": ACNO},
    ("310201", RESPONSE): {"acno": ACNO, "records": [ENTRY]},
    ("310301", REQUEST): {"acno": ACNO, "start_date": "20261101", "end_date": "20261124",
                          "begin_no": 1, "query_num": 100},
    ("310301", RESPONSE): {"acno": ACNO, "total_num": 2, "begin_no": 1, "more_flag": "0",
                           "records": [
                               {**ENTRY, "tr_date": "20261102", "dc_flag": "C",
                                "amt": 100_000_000, "balance": 100_000_000,
                                "serial_no": "SB2026110200000007", "summary": "注资",
                                "req_no": "", "cert_no": ""},
                               ENTRY,
                           ]},
    ("210201", REQUEST): {
        "pay_acno": ACNO, "pay_acname": "示例保险有限公司", "rcv_bank_name": "工商银行北京分行",
        "rcv_acno": RCV_ACNO, "rcv_acname": "张三", "rcv_exg_code": "",
        "rcv_bank_no": "102100099996", "cur_code": "CNY", "amt": 1_250_000,
        "cert_no": "CERT0001", "summary": "十一月货款", "bank_flag": "1", "area_flag": "1",
    },
    ("210201", RESPONSE): {"stat": "0"},
    ("210224", REQUEST): {
        "pay_acno": ACNO, "pay_acname": "示例保险有限公司", "rcv_acno": RCV_ACNO,
        "rcv_acname": "张三", "partyid": "102100099996", "amt": 880_000,
        "cert_no": "CERT0002", "purpose": "工资", "summary": "十一月工资", "urgent_flag": "0",
    },
    ("210224", RESPONSE): {"tran_status": "34"},
    ("310204", REQUEST): {"query_flag": "1", "ogl_serial_no": "REQ20261124000001"},
    ("310204", RESPONSE): {
        "ogl_serial_no": "REQ20261124000001", "stat": "1", "err_msg": "",
        "pay_acno": ACNO, "pay_bank_no": "301290000007", "rcv_acno": RCV_ACNO,
        "rcv_bank_no": "102100099996", "amt": 1_250_000, "cert_no": "CERT0001",
        **NO_APPROVAL,
    },
}
PAYER = "6222600100000000001"
BATCH_FIELDS = {"cert_no": "COL202611", "rcv_acno": ACNO, "sum": 3, "sum_amt": 90_000,
                "summary": "十一月保费", "busi_no": "FEE01", "file_flag": "1"}
BATCH_ITEMS = [
    {"pay_acno": PAYER, "pay_acname": "张三", "agreement_no": "AG0000000001", "amt": 30_000,
     "busino": "C0001", "pay_bank_no": ""},
    {"pay_acno": "6222600100000000002", "pay_acname": "李四", "agreement_no": "AG0000000002",
     "amt": 30_000, "busino": "C0002", "pay_bank_no": ""},
    {"pay_acno": RCV_ACNO, "pay_acname": "王五", "agreement_no": "AG0000000003",
     "amt": 30_000, "busino": "C0003", "pay_bank_no": "102100099996"},
]
_STATUS = {"received": 0, "ok_count": 0, "ok_amt": 0, "fail_count": 0, "fail_amt": 0,
           "pending_count": 0, "pending_amt": 0, "err_code": "", "err_msg": ""}
RECEIVING = {**_STATUS, "state": "0", "received": 2}
PROCESSING = {**_STATUS, "state": "2", "received": 3, "pending_count": 3, "pending_amt": 90_000}
FINISHED = {**_STATUS, "state": "3", "received": 3, "ok_count": 2, "ok_amt": 60_000,
            "fail_count": 1, "fail_amt": 30_000}
FIELDS[("310207", REQUEST)] = {"ogl_serial_no": "COL20261124000001"}
FIELDS[("310207", RESPONSE)] = {"ogl_serial_no": "COL20261124000001", "batch_tr_code": "330010",
                                "sum": 3, "sum_amt": 90_000, **FINISHED, **NO_APPROVAL}
FIELDS[("310208", REQUEST)] = {"ogl_serial_no": "COL20261124000001", "status": "E",
                               "begin_no": 1, "query_num": 1000}
FIELDS[("310208", RESPONSE)] = {
    "ogl_serial_no": "COL20261124000001", "total_num": 1, "begin_no": 1, "more_flag": "0",
    "records": [{"seq": 2, "busino": "C0002", "acno": "6222600100000000002", "acname": "李四",
                 "amt": 30_000, "suc_flg": "E", "flw": "", "err_code": "E008",
                 "err_msg": "insufficient funds"}]}
FIELDS[("310210", REQUEST)] = {"rcv_acno": ACNO, "begin_no": 1, "query_num": 2}
FIELDS[("310210", RESPONSE)] = {
    "rcv_acno": ACNO, "total_num": 3, "begin_no": 1, "more_flag": "1",
    "records": [{"agreement_no": "AG0000000001", "payer_acno": PAYER, "payer_name": "张三",
                 "payer_bank_no": "301290000007", "max_amt": 200_000, "valid_to": "20271231",
                 "status": "0"},
                {"agreement_no": "AG0000000002", "payer_acno": "6222600100000000002",
                 "payer_name": "李四", "payer_bank_no": "301290000007", "max_amt": 0,
                 "valid_to": "", "status": "0"}]}
TR_CODES = ("310101", "310201", "310301", "210201", "210224", "310204")
SERIALS = {code: f"SB20261124{n:014d}" for n, code in enumerate(TR_CODES, start=11)}


def conversation() -> list[tuple[str, str, object, str]]:
    """(file name, sender, event, description), in the order they are sent."""
    steps: list[tuple[str, str, object, str]] = []
    for n, code in enumerate(TR_CODES, start=1):
        req_no = f"REQ2026112400010{n}"
        steps.append((f"rq_{code}", "client", Request(
            tr_code=code, req_no=req_no, fields=FIELDS[(code, REQUEST)],
            corp_no=CORP_NO, user_no=USER_NO), f"request {code}"))
        steps.append((f"rs_{code}", "bank", Response(
            tr_code=code, req_no=req_no, serial_no=SERIALS[code], ret_code="0000",
            ret_msg="交易成功", fields=FIELDS[(code, RESPONSE)]), f"response {code}"))
    steps += [
        ("hb_client", "client", Heartbeat(), "heartbeat, client to bank"),
        ("hb_bank", "bank", Heartbeat(), "heartbeat, bank to client"),
        ("er_client", "client", ErrorMessage(ret_code="P001", ret_msg="malformed message"),
         "error message, client to bank"),
        ("er_bank", "bank", ErrorMessage(
            ret_code="P005", ret_msg="unknown transaction code",
            req_no="REQ20261124000199", tr_code="999999"), "error message, bank to client"),
        ("rq_210224_over_limit", "client", Request(
            tr_code="210224", req_no="REQ20261124000107",
            fields={**FIELDS[("210224", REQUEST)], "amt": 900_000_000},
            corp_no=CORP_NO, user_no=USER_NO), "request 210224 (to be refused)"),
        ("rs_210224_refused", "bank", Response(
            tr_code="210224", req_no="REQ20261124000107", ret_code="E009",
            ret_msg="超过单笔限额"), "refusal: ret_code E009, no body"),
    ]
    # A batch collection in two segments (frag_no 1 with more_flag 1, then the last),
    # each answered with the batch's status, then its status, items and payers.
    batch_no = "COL20261124000001"
    for frag_no, more, items, status in ((1, True, BATCH_ITEMS[:2], RECEIVING),
                                         (2, False, BATCH_ITEMS[2:], PROCESSING)):
        steps.append((f"rq_330010_segment_{frag_no}", "client", Request(
            tr_code="330010", req_no=batch_no, fields={**BATCH_FIELDS, "items": items},
            corp_no=CORP_NO, user_no=USER_NO, frag_no=frag_no, more=more),
            f"request 330010, segment {frag_no}" + (" (more follow)" if more else " (last)")))
        steps.append((f"rs_330010_segment_{frag_no}", "bank", Response(
            tr_code="330010", req_no=batch_no, serial_no="SB2026112400000031",
            ret_msg=f"segment {frag_no} stored" if more else "batch accepted",
            fields=status, frag_no=frag_no), f"response to segment {frag_no}"))
    for n, code in enumerate(("310207", "310208", "310210"), start=1):
        req_no = f"REQ2026112400020{n}"
        steps.append((f"rq_{code}", "client", Request(
            tr_code=code, req_no=req_no, fields=FIELDS[(code, REQUEST)],
            corp_no=CORP_NO, user_no=USER_NO), f"request {code}"))
        steps.append((f"rs_{code}", "bank", Response(
            tr_code=code, req_no=req_no, ret_code="0000", ret_msg="交易成功",
            fields=FIELDS[(code, RESPONSE)]), f"response {code}"))
    return steps


# -- helpers ---------------------------------------------------------------------------------------


def stream(data: bytes):
    """An injected ``random`` that hands out ``data`` in order, and nothing more."""
    pos = 0

    def draw(n: int) -> bytes:
        nonlocal pos
        if pos + n > len(data):
            raise RuntimeError("the vector's random bytes are used up")
        pos += n
        return data[pos - n : pos]

    return draw


def hexed(value):
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {k: hexed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [hexed(v) for v in value]
    return value


def event_json(event) -> dict:
    if isinstance(event, Heartbeat):
        return {"type": "Heartbeat"}
    names = type(event).__slots__
    return {"type": type(event).__name__, **{n: hexed(getattr(event, n)) for n in names}}


def header_json(header: Header) -> dict:
    return {name: getattr(header, name) for name in Header.__dataclass_fields__}


def drain(session) -> list:
    events = []
    while (event := session.next_event()) is not NEED_DATA:
        events.append(event)
    return events


def one_message(data: bytes) -> bytes:
    length = int.from_bytes(data[:PREFIX_SIZE], "big")
    assert len(data) == PREFIX_SIZE + length, "expected exactly one frame"
    return data[PREFIX_SIZE:]


# -- generation -----------------------------------------------------------------------------------


def generate(*, new_handshake: bool) -> dict[str, dict]:
    client_key = SigningKey.from_seed(CLIENT_SIGN_SEED)
    bank = BankKeyPair.from_seeds(BANK_SIGN_SEED, BANK_KEM_SEED)
    keys = {
        "client_sign_seed": CLIENT_SIGN_SEED.hex(),
        "client_public": client_key.public.raw.hex(),
        "client_key_id": client_key.key_id,
        "bank_sign_seed": BANK_SIGN_SEED.hex(),
        "bank_kem_seed": BANK_KEM_SEED.hex(),
        "bank_sign_public": bank.public.verify.raw.hex(),
        "bank_kem_public": bank.public.kem_raw.hex(),
        "bank_key_id": bank.key_id,
    }

    recorded = None
    hs_file = HERE / "hs.json"
    if hs_file.exists() and not new_handshake:
        recorded = bytes.fromhex(json.loads(hs_file.read_text("utf-8"))
                                 ["body_fields"]["sealed_secret"])

    def seal(secret, bank_kem, header):
        # Reuse the recorded encapsulation while it still opens for this header.
        if recorded is not None:
            with contextlib.suppress(AuthenticationError):
                if open_secret(recorded, bank.kem, header) == secret:
                    return recorded
            print("the recorded HPKE encapsulation no longer opens; drawing a new one")
        return seal_secret(secret, bank_kem, header)

    session_module.seal_secret = seal
    try:
        client = ClientSession(corp_no=CORP_NO, user_no=USER_NO, signing_key=client_key,
                               bank_keys=bank.public, clock=lambda: CLOCK,
                               random=stream(CLIENT_NONCE + SECRET))
        client.start()
    finally:
        session_module.seal_secret = seal_secret
    server = ServerSession(
        bank_keys=bank, clock=lambda: CLOCK, random=stream(SERVER_NONCE),
        lookup_key={client_key.key_id: EnrolledKey(corp_no=CORP_NO, user_no=USER_NO,
                                                   key=client_key.public)}.get)

    hs_frame = client.data_to_send()
    hs = one_message(hs_frame)
    server.receive_data(hs_frame)
    [server_established] = drain(server)
    ha_frame = server.data_to_send()
    ha = one_message(ha_frame)
    client.receive_data(ha_frame)
    [client_established] = drain(client)
    assert server_established == client_established

    transcript = transcript_hash(hs)
    c2s, s2c = derive_session_keys(SECRET, CLIENT_NONCE, SERVER_NONCE, transcript)
    session = {
        "client_nonce": CLIENT_NONCE.hex(), "secret": SECRET.hex(),
        "server_nonce": SERVER_NONCE.hex(), "transcript": transcript.hex(),
        "key_client_to_bank": c2s.hex(), "key_bank_to_client": s2c.hex(),
    }
    common = {"keys": keys, "clock": CLOCK, "corp_no": CORP_NO, "user_no": USER_NO,
              "session": session}
    vectors: dict[str, dict] = {}

    # HS
    header = hs[:HEADER_SIZE]
    parsed = Header.parse(header)
    body = hs[HEADER_SIZE : HEADER_SIZE + parsed.body_len]
    hello = HANDSHAKE_CODEC.decode(body)
    assert hello["client_nonce"] == CLIENT_NONCE
    assert open_secret(hello["sealed_secret"], bank.kem, header) == SECRET
    signature = hs[HEADER_SIZE + parsed.body_len :]
    assert client_key.sign(header + body) == signature
    vectors["hs"] = {
        "description": "HS handshake, client to bank: client_nonce and the session secret "
                       "sealed with HPKE to the bank's X25519 key (info = label || header), "
                       "signed with the client's Ed25519 key. The HPKE encapsulation is "
                       "recorded, not reproducible: check that it opens to session.secret.",
        "message_type": "HS", "direction": "client_to_bank", "step": 1, **common,
        "event": event_json(server_established),
        "header": header_json(parsed),
        "body_fields": hexed(hello),
        "intermediate": {
            "header_hex": header.hex(), "plaintext_body_hex": body.hex(),
            "hpke_info_hex": (HANDSHAKE_INFO + header).hex(),
            "hpke_enc_hex": hello["sealed_secret"][:32].hex(),
            "signature_hex": signature.hex(),
        },
        "message_hex": hs.hex(), "frame_hex": hs_frame.hex(),
    }

    # HA
    header = ha[:HEADER_SIZE]
    parsed = Header.parse(header)
    body = ha[HEADER_SIZE : HEADER_SIZE + parsed.body_len]
    ack = HANDSHAKE_ACK_CODEC.decode(body)
    assert ack == {"server_nonce": SERVER_NONCE, "transcript": transcript}
    signature = ha[HEADER_SIZE + parsed.body_len :]
    assert bank.signing.sign(header + body) == signature
    vectors["ha"] = {
        "description": "HA handshake accepted, bank to client: server_nonce and the SHA-256 "
                       "of the HS message, signed with the bank's Ed25519 key, not encrypted.",
        "message_type": "HA", "direction": "bank_to_client", "step": 2, **common,
        "event": event_json(client_established),
        "header": header_json(parsed),
        "body_fields": hexed(ack),
        "intermediate": {"header_hex": header.hex(), "plaintext_body_hex": body.hex(),
                         "signature_hex": signature.hex()},
        "message_hex": ha.hex(), "frame_hex": ha_frame.hex(),
    }

    # the conversation
    for step, (name, sender, event, description) in enumerate(conversation(), start=3):
        source, sink = (client, server) if sender == "client" else (server, client)
        key, signer = (c2s, client_key) if sender == "client" else (s2c, bank.signing)
        source.send(event)
        frame = source.data_to_send()
        sink.receive_data(frame)
        assert drain(sink) == [event], name
        message = one_message(frame)
        header = message[:HEADER_SIZE]
        parsed = Header.parse(header)
        wire_body = message[HEADER_SIZE : HEADER_SIZE + parsed.body_len]
        signature = message[HEADER_SIZE + parsed.body_len :]
        cipher = DirectionCipher(key)
        plaintext = cipher.open(parsed.seq_no, wire_body, header)
        fields = dict(getattr(event, "fields", {}))
        if fields:
            assert CODECS[(parsed.tr_code, REQUEST if sender == "client" else RESPONSE)] \
                .encode(fields) == plaintext
        else:
            assert plaintext == b""
        assert cipher.seal(parsed.seq_no, plaintext, header) == wire_body
        assert signer.sign(header + wire_body) == signature
        assert encode_frame(header + wire_body + signature) == frame
        vectors[name] = {
            "description": f"{parsed.msg_type} {description}: body encrypted with AES-256-GCM "
                           "under the sender's direction key (header as associated data), "
                           "then header || ciphertext signed with the sender's Ed25519 key.",
            "message_type": parsed.msg_type,
            "direction": "client_to_bank" if sender == "client" else "bank_to_client",
            "step": step, **common,
            "event": event_json(event),
            "header": header_json(parsed),
            "body_fields": fields,
            "intermediate": {
                "header_hex": header.hex(), "plaintext_body_hex": plaintext.hex(),
                "nonce_hex": DirectionCipher.nonce(parsed.seq_no).hex(),
                "wire_body_hex": wire_body.hex(), "signature_hex": signature.hex(),
            },
            "message_hex": message.hex(), "frame_hex": frame.hex(),
        }
    return vectors


def render(vector: dict) -> str:
    return json.dumps(vector, ensure_ascii=False, indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if a vector file would change")
    parser.add_argument("--new-handshake", action="store_true",
                        help="draw a new HPKE encapsulation instead of reusing hs.json's")
    args = parser.parse_args(argv)
    vectors = generate(new_handshake=args.new_handshake)
    changed = []
    for name, vector in vectors.items():
        path = HERE / f"{name}.json"
        text = render(vector)
        if not path.exists() or path.read_text("utf-8") != text:
            changed.append(path.name)
            if not args.check:
                path.write_text(text, "utf-8")
    stale = sorted(p.name for p in HERE.glob("*.json") if p.stem not in vectors)
    for name in stale:
        print(f"not a current vector (remove it by hand): {name}")
    verb = "would change" if args.check else "written"
    print(f"{len(vectors)} vectors; {verb}: {', '.join(changed) or 'none'}")
    return 1 if args.check and (changed or stale) else 0


if __name__ == "__main__":
    sys.exit(main())
