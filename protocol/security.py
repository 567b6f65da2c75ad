"""The cryptography of a session, from standard primitives only.

* **Handshake.** The client draws a 32-byte session secret and seals it with
  single-shot HPKE (RFC 9180, base mode: DHKEM(X25519, HKDF-SHA256),
  HKDF-SHA256, AES-256-GCM) to the bank's published X25519 key; the HPKE
  ``info`` is a label plus the handshake header, so the sealed secret is bound
  to who sends it and when. The client signs the whole handshake with its
  Ed25519 key; the bank verifies, opens the secret, answers with its own nonce
  and the SHA-256 of the handshake it received, and signs that with its key.
* **Session keys.** HKDF-SHA256 over the secret, salted with both nonces and
  bound to the transcript, yields one AES-256-GCM key per direction.
* **Messages.** The body is encrypted with AES-256-GCM under the sender's
  direction key, nonce = 4 zero bytes || the 8-byte sequence number, the
  header bytes as associated data; then header and ciphertext are signed with
  Ed25519. The receiver verifies the signature first, then the sequence number
  and timestamp, and only then decrypts.

Cost per message is one Ed25519 signature, one verification and one AES-GCM
operation; HPKE runs once per connection, not per message.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from protocol.errors import AuthenticationError

HPKE_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
HANDSHAKE_INFO = b"directlink/1 handshake\x00"
SESSION_KEYS_INFO = b"directlink/1 session keys\x00"
TAG_SIZE = 16
SIGNATURE_SIZE = 64

#: tr_date / tr_time are China Standard Time.
CST = dt.timezone(dt.timedelta(hours=8), "CST")


def seal_secret(secret: bytes, bank_kem: X25519PublicKey, header: bytes) -> bytes:
    return HPKE_SUITE.encrypt(secret, bank_kem, info=HANDSHAKE_INFO + header)


def open_secret(sealed: bytes, bank_kem: X25519PrivateKey, header: bytes) -> bytes:
    try:
        return HPKE_SUITE.decrypt(sealed, bank_kem, info=HANDSHAKE_INFO + header)
    except (InvalidTag, ValueError):
        raise AuthenticationError("handshake: the sealed session secret does not open") from None


def transcript_hash(handshake_message: bytes) -> bytes:
    return hashlib.sha256(handshake_message).digest()


def derive_session_keys(
    secret: bytes, client_nonce: bytes, server_nonce: bytes, transcript: bytes
) -> tuple[bytes, bytes]:
    """(client-to-bank key, bank-to-client key)."""
    okm = HKDF(
        algorithm=hashes.SHA256(),
        length=64,
        salt=client_nonce + server_nonce,
        info=SESSION_KEYS_INFO + transcript,
    ).derive(secret)
    return okm[:32], okm[32:]


class DirectionCipher:
    """AES-256-GCM for one direction of one session; the nonce is the sequence number."""

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    @staticmethod
    def nonce(seq_no: int) -> bytes:
        return b"\x00\x00\x00\x00" + seq_no.to_bytes(8, "big")

    def seal(self, seq_no: int, plaintext: bytes, header: bytes) -> bytes:
        return self._aead.encrypt(self.nonce(seq_no), plaintext, header)

    def open(self, seq_no: int, ciphertext: bytes, header: bytes) -> bytes:
        try:
            return self._aead.decrypt(self.nonce(seq_no), ciphertext, header)
        except InvalidTag:
            raise AuthenticationError("message body fails its AES-GCM tag") from None

    def __repr__(self) -> str:
        return "DirectionCipher(<key hidden>)"


class Stamper:
    """Formats and reads the header's tr_date/tr_time, caching per second."""

    __slots__ = ("_last_in", "_last_out")

    def __init__(self) -> None:
        self._last_out: tuple[int, tuple[str, str]] = (-1, ("", ""))
        self._last_in: tuple[tuple[str, str], float | None] = (("", ""), None)

    def stamp(self, now: float) -> tuple[str, str]:
        second = int(now)
        if self._last_out[0] != second:
            local = dt.datetime.fromtimestamp(second, CST)
            self._last_out = (second, (local.strftime("%Y%m%d"), local.strftime("%H%M%S")))
        return self._last_out[1]

    def read(self, tr_date: str, tr_time: str) -> float | None:
        """Seconds since the epoch, or None when the fields are not a valid date and time."""
        key = (tr_date, tr_time)
        if self._last_in[0] == key:
            return self._last_in[1]
        value: float | None
        try:
            if not (len(tr_date) == 8 and len(tr_time) == 6 and tr_date.isdigit()
                    and tr_time.isdigit()):
                raise ValueError
            value = dt.datetime(
                int(tr_date[:4]), int(tr_date[4:6]), int(tr_date[6:]),
                int(tr_time[:2]), int(tr_time[2:4]), int(tr_time[4:]), tzinfo=CST,
            ).timestamp()
        except ValueError:
            value = None
        self._last_in = (key, value)
        return value
