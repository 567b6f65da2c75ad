"""Typed key objects: the enterprise's signing key and the bank's key pair.

* An enterprise (client) has an Ed25519 signing key. Its public half is
  enrolled with the bank.
* The bank has an Ed25519 signing key and an X25519 key to which clients seal
  their session secrets with HPKE. Clients pin the bank's public keys by
  fingerprint, as an admin would check a bank's key letter.

A fingerprint is SHA-256 over a label and the raw public key(s), shown as
sixteen groups of four hex digits; the key id carried in message headers is
its first sixteen hex digits. ``repr()`` never shows key material. Keys are
serialised to and from bytes only (PEM, PKCS#8); reading and writing files is
the caller's business.

Keys are held and serialised by ``cryptography``; signing and verification,
done once per message on both ends of every session, go through libsodium
(PyNaCl), which does them in about half the time (see docs/performance.md).
Ed25519 signatures are deterministic, so both libraries make the same bytes.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import nacl.exceptions
import nacl.signing
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

_RAW = serialization.Encoding.Raw, serialization.PublicFormat.Raw
_CLIENT_LABEL = b"directlink client key v1\x00"
_BANK_LABEL = b"directlink bank key v1\x00"


class KeyFileError(ValueError):
    """A key that cannot be loaded: wrong format, wrong type or wrong password."""


def format_fingerprint(hex_digest: str) -> str:
    """'3f2a9c01…' -> '3f2a 9c01 …' (sixteen groups of four, easy to read aloud)."""
    return " ".join(hex_digest[i : i + 4] for i in range(0, len(hex_digest), 4))


def normalize_fingerprint(text: str) -> str:
    """64 lower-case hex digits from a fingerprint written with spaces or colons.

    Raises KeyFileError (a ValueError, saying why) when ``text`` is not one.
    """
    digits = re.sub(r"[\s:]", "", text).lower()
    if not re.fullmatch(r"[0-9a-f]*", digits):
        raise KeyFileError(f"not a key fingerprint: {text!r} (expected hex digits)")
    if len(digits) != 64:
        raise KeyFileError(f"not a key fingerprint: {len(digits)} hex digits, expected "
                           "64 hex digits (e.g. '3f2a 9c01 ...')")
    return digits


class VerifyKey:
    """An Ed25519 public key (an enterprise's, as enrolled, or the bank's)."""

    __slots__ = ("_key", "_verifier", "raw")

    def __init__(self, raw: bytes) -> None:
        if not isinstance(raw, bytes) or len(raw) != 32:
            raise KeyFileError("an Ed25519 public key is 32 bytes")
        self.raw = raw
        self._key = Ed25519PublicKey.from_public_bytes(raw)
        self._verifier = nacl.signing.VerifyKey(raw)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VerifyKey) and other.raw == self.raw

    def __hash__(self) -> int:
        return hash(self.raw)

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(_CLIENT_LABEL + self.raw).hexdigest()

    @property
    def key_id(self) -> str:
        return self.fingerprint[:16]

    def verify(self, signature: bytes, data: bytes) -> bool:
        if len(signature) != 64:
            return False
        try:
            self._verifier.verify(data, signature)
        except nacl.exceptions.BadSignatureError:
            return False
        return True

    def to_pem(self) -> bytes:
        return self._key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @classmethod
    def from_pem(cls, data: bytes) -> VerifyKey:
        try:
            key = serialization.load_pem_public_key(data)
        except ValueError as exc:
            raise KeyFileError(f"not a PEM public key: {exc}") from None
        if not isinstance(key, Ed25519PublicKey):
            raise KeyFileError("not an Ed25519 public key")
        return cls(key.public_bytes(*_RAW))

    def __repr__(self) -> str:
        return f"VerifyKey(key_id={self.key_id})"


class SigningKey:
    """An Ed25519 private key. Never printed; saved only encrypted (PKCS#8)."""

    __slots__ = ("_key", "_signer", "public")

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self._signer = nacl.signing.SigningKey(key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
            serialization.NoEncryption()))
        self.public = VerifyKey(key.public_key().public_bytes(*_RAW))

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> SigningKey:
        """Deterministic key from 32 bytes: for test vectors only."""
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @property
    def key_id(self) -> str:
        return self.public.key_id

    def sign(self, data: bytes) -> bytes:
        return self._signer.sign(data).signature

    def to_pem(self, password: bytes | None) -> bytes:
        """PKCS#8 PEM, encrypted with the best available scheme when a password is given."""
        encryption = (
            serialization.BestAvailableEncryption(password)
            if password
            else serialization.NoEncryption()
        )
        return self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )

    @classmethod
    def from_pem(cls, data: bytes, password: bytes | None) -> SigningKey:
        try:
            key = serialization.load_pem_private_key(data, password=password or None)
        except (ValueError, TypeError):
            # cryptography says "Bad decrypt" or "password was not given" etc.;
            # one message for all, it never contains the password itself.
            raise KeyFileError("cannot load the private key: wrong password or not a "
                            "PKCS#8 PEM key") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyFileError("not an Ed25519 private key")
        return cls(key)

    def __repr__(self) -> str:
        return f"SigningKey(key_id={self.key_id})"


@dataclass(frozen=True, slots=True)
class BankPublicKeys:
    """The bank's published keys: Ed25519 for signatures, X25519 for HPKE."""

    verify: VerifyKey
    kem_raw: bytes

    @property
    def kem(self) -> X25519PublicKey:
        return X25519PublicKey.from_public_bytes(self.kem_raw)

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(_BANK_LABEL + self.verify.raw + self.kem_raw).hexdigest()

    @property
    def key_id(self) -> str:
        return self.fingerprint[:16]

    def to_text(self) -> str:
        """The bank key file: two labelled hex lines, easy to mail and to read."""
        return (
            "# directlink bank public keys\n"
            f"fingerprint: {format_fingerprint(self.fingerprint)}\n"
            f"ed25519: {self.verify.raw.hex()}\n"
            f"x25519: {self.kem_raw.hex()}\n"
        )

    @classmethod
    def from_text(cls, text: str) -> BankPublicKeys:
        values: dict[str, str] = {}
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, sep, value = line.partition(":")
            if not sep:
                raise KeyFileError(f"bank key file: unexpected line {line!r}")
            values[name.strip()] = value.strip()
        try:
            keys = cls(VerifyKey(bytes.fromhex(values["ed25519"])),
                       bytes.fromhex(values["x25519"]))
        except KeyError as exc:
            raise KeyFileError(f"bank key file: missing {exc.args[0]!r}") from None
        except ValueError as exc:
            raise KeyFileError(f"bank key file: {exc}") from None
        if len(keys.kem_raw) != 32:
            raise KeyFileError("bank key file: an X25519 key is 32 bytes")
        stated = values.get("fingerprint")
        if stated and normalize_fingerprint(stated) != keys.fingerprint:
            raise KeyFileError("bank key file: the stated fingerprint does not match the keys")
        return keys

    def __repr__(self) -> str:
        return f"BankPublicKeys(key_id={self.key_id})"


class BankKeyPair:
    """The bank's private keys. Never printed."""

    __slots__ = ("kem", "public", "signing")

    def __init__(self, signing: SigningKey, kem: X25519PrivateKey) -> None:
        self.signing = signing
        self.kem = kem
        self.public = BankPublicKeys(signing.public, kem.public_key().public_bytes(*_RAW))

    @classmethod
    def generate(cls) -> BankKeyPair:
        return cls(SigningKey.generate(), X25519PrivateKey.generate())

    @classmethod
    def from_seeds(cls, sign_seed: bytes, kem_seed: bytes) -> BankKeyPair:
        """Deterministic keys from 32-byte seeds: for test vectors only."""
        return cls(SigningKey.from_seed(sign_seed), X25519PrivateKey.from_private_bytes(kem_seed))

    @property
    def key_id(self) -> str:
        return self.public.key_id

    def to_pem(self, password: bytes | None) -> bytes:
        encryption = (
            serialization.BestAvailableEncryption(password)
            if password
            else serialization.NoEncryption()
        )
        kem_pem = self.kem.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )
        return self.signing.to_pem(password) + kem_pem

    @classmethod
    def from_pem(cls, data: bytes, password: bytes | None) -> BankKeyPair:
        marker = b"-----END"
        first_end = data.find(marker)
        if first_end < 0:
            raise KeyFileError("bank key pair: not PEM")
        split = data.find(b"\n", first_end) + 1
        signing = SigningKey.from_pem(data[:split], password)
        try:
            kem = serialization.load_pem_private_key(data[split:], password=password or None)
        except (ValueError, TypeError):
            raise KeyFileError("cannot load the bank's X25519 key: wrong password or "
                            "not PEM") from None
        if not isinstance(kem, X25519PrivateKey):
            raise KeyFileError("bank key pair: second key is not X25519")
        return cls(signing, kem)

    def __repr__(self) -> str:
        return f"BankKeyPair(key_id={self.key_id})"
