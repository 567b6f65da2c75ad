"""The security password: salted scrypt hashes, made and checked."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import unicodedata

_SCRYPT_N = 2**14
_SCRYPT_R = 8
_SCRYPT_P = 1
_SALT_BYTES = 16
_HASH_BYTES = 32
# Bounds on parameters read from a file, so a tampered config cannot make
# every password check allocate gigabytes.
_SCRYPT_MAX_MEMORY = 256 * 1024 * 1024
_UINT = re.compile(r"[0-9]+")


def password_bytes(password: str) -> bytes:
    """The password as bytes, for the hash and for encrypting the private key alike."""
    # The same characters typed through different input methods can arrive
    # composed or decomposed; NFC makes them the same password.
    return unicodedata.normalize("NFC", password).encode("utf-8")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, size: int) -> bytes:
    return hashlib.scrypt(
        password_bytes(password),
        salt=salt,
        n=n,
        r=r,
        p=p,
        dklen=size,
        maxmem=2 * _SCRYPT_MAX_MEMORY,
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise ValueError(f"{what} is not base64") from None


def parse_hash(stored: str) -> tuple[int, int, int, bytes, bytes]:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        raise ValueError("expected scrypt$N$r$p$salt$hash")
    if not all(_UINT.fullmatch(part) for part in parts[1:4]):
        raise ValueError("N, r and p must be whole numbers")
    n, r, p = (int(part) for part in parts[1:4])
    if n < 2**10 or n & (n - 1) or not 1 <= r <= 32 or not 1 <= p <= 16:
        raise ValueError("scrypt parameters out of range")
    if 128 * r * (n + p) > _SCRYPT_MAX_MEMORY:
        raise ValueError("scrypt parameters need too much memory")
    salt, digest = _unb64(parts[4], "salt"), _unb64(parts[5], "hash")
    if not 8 <= len(salt) <= 64 or not 16 <= len(digest) <= 64:
        raise ValueError("salt or hash has the wrong length")
    return n, r, p, salt, digest


def hash_password(password: str) -> str:
    """A salted scrypt hash of ``password``: ``scrypt$N$r$p$salt_b64$hash_b64``."""
    if not isinstance(password, str) or not password:
        raise ValueError("the security password must not be empty")
    salt = os.urandom(_SALT_BYTES)
    digest = _scrypt(password, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P, _HASH_BYTES)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (from :func:`hash_password`).

    The comparison takes the same time however much matches. A ``stored``
    value that is not such a hash raises ValueError (it is a broken config,
    not a wrong password).
    """
    n, r, p, salt, digest = parse_hash(stored)
    if not isinstance(password, str) or not password:
        return False
    return hmac.compare_digest(_scrypt(password, salt, n, r, p, len(digest)), digest)
