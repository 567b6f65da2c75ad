"""Per-message cost of the wire protocol against the raw cryptographic primitives.

Run by hand (not a test)::

    .venv/bin/python bench/protocol_bench.py [--seconds N] [--block N]

A 210201 (transfer) request goes through an established, in-memory
ClientSession -> ServerSession pair with certflag=1 (signed and encrypted):

* (a) send: ``client.send(request)`` + ``client.data_to_send()`` — encode the
  body, build the header, AES-256-GCM encrypt, Ed25519 sign, frame;
* (b) receive: ``server.receive_data(frame)`` + ``server.next_event()`` —
  unframe, parse the header, verify, check sequence and time, decrypt, decode.

In the same run, on the same inputs, the raw primitives the protocol uses:
Ed25519 sign and verify over a message of the same size (header ||
ciphertext) from libsodium (PyNaCl), AES-256-GCM encrypt and decrypt of the
same body with the 256-byte header as AAD, and single-shot HPKE seal and open
of 32 bytes (the handshake) and of the body (what per-message HPKE would cost),
both from ``cryptography``; and, for comparison, ``cryptography``'s own
(OpenSSL) Ed25519 sign and verify. Protocol overhead is (a) - (sign + encrypt)
and (b) - (verify + decrypt), on medians.

Every sample is one operation timed with ``time.perf_counter_ns``. Blocks of
each measurement are interleaved in a shuffled order, round after round, after
a warm-up, with the garbage collector paused inside blocks, so drift in the
machine's speed spreads evenly over all of them. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cryptography
import nacl
import nacl.signing
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from protocol.bodies import CODECS, REQUEST
from protocol.events import EnrolledKey, Request, SessionEstablished
from protocol.header import HEADER_SIZE, Header
from protocol.keys import BankKeyPair, SigningKey
from protocol.security import HANDSHAKE_INFO, HPKE_SUITE
from protocol.session import ClientSession, ServerSession

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench._common import cpu_model  # noqa: E402

CORP_NO, USER_NO = "0000000001", "001"
TARGET_OVERHEAD_US = 30.0

TRANSFER = {
    "pay_acno": "310066726018010000001",
    "pay_acname": "示范保险股份有限公司",
    "rcv_bank_name": "中国工商银行北京分行",
    "rcv_acno": "6222020200000000001",
    "rcv_acname": "张三",
    "rcv_exg_code": "102100099996",
    "rcv_bank_no": "102100099996",
    "cur_code": "CNY",
    "amt": 123456,
    "cert_no": "V20261124000001",
    "summary": "货款",
    "bank_flag": "1",
    "area_flag": "0",
}

Sampler = Callable[[int], list[int]]


def established_pair() -> tuple[ClientSession, ServerSession]:
    client_key = SigningKey.generate()
    bank = BankKeyPair.generate()
    enrolled = EnrolledKey(corp_no=CORP_NO, user_no=USER_NO, key=client_key.public)
    client = ClientSession(corp_no=CORP_NO, user_no=USER_NO, signing_key=client_key,
                           bank_keys=bank.public)
    server = ServerSession(bank_keys=bank,
                           lookup_key=lambda kid: enrolled if kid == client_key.key_id else None)
    client.start()
    server.receive_data(client.data_to_send())
    assert isinstance(server.next_event(), SessionEstablished)
    client.receive_data(server.data_to_send())
    established = client.next_event()
    assert isinstance(established, SessionEstablished) and established.secure
    return client, server


class SessionBench:
    """(a) and (b) must alternate: each request is received before the next is sent."""

    def __init__(self) -> None:
        self.client, self.server = established_pair()
        self.request = Request(tr_code="210201", req_no="BENCH0000000001", fields=TRANSFER)
        self.send: list[int] = []
        self.receive: list[int] = []
        # One message through, checked, and kept as the primitives' input.
        self.client.send(self.request)
        frame = self.client.data_to_send()
        self.server.receive_data(frame)
        event = self.server.next_event()
        assert isinstance(event, Request) and dict(event.fields) == TRANSFER, event
        self.message = frame[4:]
        header = Header.parse(self.message)
        assert header.encrypted and header.signed
        self.header = self.message[:HEADER_SIZE]
        self.signed = self.message[: HEADER_SIZE + header.body_len]
        self.body = CODECS[("210201", REQUEST)].encode(TRANSFER)

    def run(self, n: int) -> None:
        client, server, request = self.client, self.server, self.request
        clock = time.perf_counter_ns
        send, receive = self.send, self.receive
        for _ in range(n):
            t0 = clock()
            client.send(request)
            data = client.data_to_send()
            t1 = clock()
            server.receive_data(data)
            server.next_event()
            t2 = clock()
            send.append(t1 - t0)
            receive.append(t2 - t1)


def timed(op: Callable[[], object], out: list[int]) -> Sampler:
    def run(n: int) -> list[int]:
        clock = time.perf_counter_ns
        for _ in range(n):
            t0 = clock()
            op()
            out.append(clock() - t0)
        return out

    return run


def handshake_sampler(out: list[int]) -> Sampler:
    """Client start() to both ends established (new key objects reused; sessions are new)."""
    client_key = SigningKey.generate()
    bank = BankKeyPair.generate()
    enrolled = EnrolledKey(corp_no=CORP_NO, user_no=USER_NO, key=client_key.public)

    def lookup(kid: str) -> EnrolledKey | None:
        return enrolled if kid == client_key.key_id else None

    def run(n: int) -> list[int]:
        clock = time.perf_counter_ns
        for _ in range(n):
            client = ClientSession(corp_no=CORP_NO, user_no=USER_NO, signing_key=client_key,
                                   bank_keys=bank.public)
            server = ServerSession(bank_keys=bank, lookup_key=lookup)
            t0 = clock()
            client.start()
            server.receive_data(client.data_to_send())
            server.next_event()
            client.receive_data(server.data_to_send())
            client.next_event()
            out.append(clock() - t0)
        return out

    return run


def timer_overhead(samples: int = 100_000) -> float:
    clock = time.perf_counter_ns
    values = []
    for _ in range(samples):
        t0 = clock()
        values.append(clock() - t0)
    return statistics.median(values) / 1000


def summarize(values: list[int]) -> tuple[float, float]:
    median = statistics.median(values) / 1000
    p90 = statistics.quantiles(values, n=10)[8] / 1000
    return median, p90


def machine() -> list[str]:
    cpu = cpu_model()
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:
        nproc = os.cpu_count() or 0
    return [
        f"- date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {cpu}, nproc = {nproc}, {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()} ({platform.python_implementation()}), "
        f"cryptography {cryptography.__version__}, PyNaCl {nacl.__version__}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="measuring time after the warm-up (default 10)")
    parser.add_argument("--block", type=int, default=200,
                        help="operations per block; blocks are interleaved (default 200)")
    args = parser.parse_args()

    session = SessionBench()
    bank_kem = X25519PrivateKey.generate()
    bank_kem_public = bank_kem.public_key()
    info = HANDSHAKE_INFO + session.header
    signer = Ed25519PrivateKey.generate()
    verifier = signer.public_key()
    signature = signer.sign(session.signed)
    sodium_signer = nacl.signing.SigningKey(os.urandom(32))
    sodium_verifier = sodium_signer.verify_key
    sodium_signature = sodium_signer.sign(session.signed).signature
    aead = AESGCM(os.urandom(32))
    nonce = bytes(4) + (1).to_bytes(8, "big")
    ciphertext = aead.encrypt(nonce, session.body, session.header)
    secret = os.urandom(32)
    sealed_secret = HPKE_SUITE.encrypt(secret, bank_kem_public, info=info)
    sealed_body = HPKE_SUITE.encrypt(session.body, bank_kem_public, info=info)
    assert HPKE_SUITE.decrypt(sealed_body, bank_kem, info=info) == session.body
    assert len(ciphertext) + HEADER_SIZE == len(session.signed)

    body_size, signed_size = len(session.body), len(session.signed)
    samples: dict[str, list[int]] = {}

    def add(name: str, op: Callable[[], object]) -> tuple[str, Sampler]:
        samples[name] = []
        return name, timed(op, samples[name])

    samplers: list[tuple[str, Sampler]] = [
        ("session", lambda n: session.run(n)),
        add("sign", lambda: sodium_signer.sign(session.signed)),
        add("verify", lambda: sodium_verifier.verify(session.signed, sodium_signature)),
        add("openssl_sign", lambda: signer.sign(session.signed)),
        add("openssl_verify", lambda: verifier.verify(signature, session.signed)),
        add("aes_encrypt", lambda: aead.encrypt(nonce, session.body, session.header)),
        add("aes_decrypt", lambda: aead.decrypt(nonce, ciphertext, session.header)),
        add("hpke_seal_32", lambda: HPKE_SUITE.encrypt(secret, bank_kem_public, info=info)),
        add("hpke_open_32", lambda: HPKE_SUITE.decrypt(sealed_secret, bank_kem, info=info)),
        add("hpke_seal_body", lambda: HPKE_SUITE.encrypt(session.body, bank_kem_public,
                                                          info=info)),
        add("hpke_open_body", lambda: HPKE_SUITE.decrypt(sealed_body, bank_kem, info=info)),
    ]
    samples["handshake"] = []
    samplers.append(("handshake", handshake_sampler(samples["handshake"])))
    block_of = {"handshake": max(1, args.block // 10)}

    # Warm-up: a few blocks of everything, then forget the numbers.
    for _ in range(3):
        for name, run in samplers:
            run(block_of.get(name, args.block))
    for values in (*samples.values(), session.send, session.receive):
        values.clear()

    rng = random.Random(20261124)
    rounds = 0
    deadline = time.perf_counter() + args.seconds
    gc.collect()
    while time.perf_counter() < deadline or rounds < 3:
        order = samplers[:]
        rng.shuffle(order)
        for name, run in order:
            gc.disable()
            try:
                run(block_of.get(name, args.block))
            finally:
                gc.enable()
        gc.collect()
        rounds += 1

    samples["send"], samples["receive"] = session.send, session.receive
    stats = {name: summarize(values) for name, values in samples.items()}
    med = {name: value[0] for name, value in stats.items()}
    rows = [
        ("send", f"(a) send 210201: encode + encrypt + sign + frame ({signed_size + 64 + 4} "
                 "bytes out)"),
        ("receive", "(b) receive 210201: unframe + parse + verify + decrypt + decode"),
        ("sign", f"Ed25519 sign, {signed_size} bytes (libsodium, as the protocol signs)"),
        ("verify", f"Ed25519 verify, {signed_size} bytes (libsodium, as the protocol "
                   "verifies)"),
        ("openssl_sign", f"for comparison: Ed25519 sign, {signed_size} bytes "
                         "(cryptography / OpenSSL)"),
        ("openssl_verify", f"for comparison: Ed25519 verify, {signed_size} bytes "
                           "(cryptography / OpenSSL)"),
        ("aes_encrypt", f"AES-256-GCM encrypt, {body_size} bytes + 256-byte AAD"),
        ("aes_decrypt", f"AES-256-GCM decrypt, {body_size} bytes + 256-byte AAD"),
        ("hpke_seal_32", "HPKE seal (single-shot), 32 bytes"),
        ("hpke_open_32", "HPKE open (single-shot), 32 bytes"),
        ("hpke_seal_body", f"HPKE seal (single-shot), {body_size} bytes"),
        ("hpke_open_body", f"HPKE open (single-shot), {body_size} bytes"),
        ("handshake", "full handshake, HS + HA, both ends (once per connection)"),
    ]
    overhead_send = med["send"] - med["sign"] - med["aes_encrypt"]
    overhead_receive = med["receive"] - med["verify"] - med["aes_decrypt"]
    crypto_now = med["sign"] + med["verify"] + med["aes_encrypt"] + med["aes_decrypt"]
    hpke_per_message = med["hpke_seal_body"] + med["hpke_open_body"]
    verdict = ("meets" if max(overhead_send, overhead_receive) <= TARGET_OVERHEAD_US
               else "MISSES")

    out = ["Protocol benchmark (bench/protocol_bench.py)", "", *machine(),
           f"- run: {args.seconds:g} s measuring, {rounds} interleaved rounds, blocks of "
           f"{args.block}; timer overhead {timer_overhead():.2f} µs per sample (included)",
           "", "| Measurement | Median µs | p90 µs | Samples |", "|---|---:|---:|---:|"]
    for name, label in rows:
        median, p90 = stats[name]
        out.append(f"| {label} | {median:.1f} | {p90:.1f} | {len(samples[name])} |")
    out += [
        "", "| Derived (from medians) | µs |", "|---|---:|",
        f"| protocol overhead, send = (a) − sign − AES encrypt | {overhead_send:.1f} |",
        f"| protocol overhead, receive = (b) − verify − AES decrypt | {overhead_receive:.1f} |",
        f"| crypto per message today: sign + verify + AES encrypt + decrypt | {crypto_now:.1f} |",
        f"| per-message HPKE would add: seal + open of {body_size} bytes | "
        f"{hpke_per_message:.1f} |",
        "", f"Target: overhead ≤ {TARGET_OVERHEAD_US:g} µs per message in each direction — "
        f"{verdict} (send {overhead_send:.1f} µs, receive {overhead_receive:.1f} µs).",
    ]
    print("\n".join(out))


if __name__ == "__main__":
    main()
