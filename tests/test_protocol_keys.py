"""protocol.keys: Ed25519 through libsodium agrees with cryptography's, byte for byte."""

from __future__ import annotations

import os

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given
from hypothesis import strategies as st

from protocol.keys import SigningKey, VerifyKey

KEY = SigningKey.from_seed(bytes(range(32)))


@given(st.binary(max_size=2048))
def test_signatures_are_those_cryptography_makes_and_accepts(data: bytes) -> None:
    signature = KEY.sign(data)
    assert signature == KEY._key.sign(data)
    Ed25519PublicKey.from_public_bytes(KEY.public.raw).verify(signature, data)
    assert KEY.public.verify(signature, data)


def test_rfc8032_test_vector_1() -> None:
    key = SigningKey.from_seed(bytes.fromhex(
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"))
    assert key.public.raw.hex() == (
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    assert key.sign(b"").hex() == (
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e"
        "39701cf9b46bd25bf5f0595bbe24655141438e7a100b")


@pytest.mark.parametrize("tamper", ["signature", "data", "key", "short", "empty"])
def test_verify_refuses_what_cryptography_refuses(tamper: str) -> None:
    data = os.urandom(300)
    signature = KEY.sign(data)
    public = KEY.public
    if tamper == "signature":
        signature = bytes([signature[0] ^ 1]) + signature[1:]
    elif tamper == "data":
        data = data[:-1] + bytes([data[-1] ^ 0x80])
    elif tamper == "key":
        public = SigningKey.generate().public
    elif tamper == "short":
        signature = signature[:63]
    else:
        signature = b""
    assert not public.verify(signature, data)
    with pytest.raises((InvalidSignature, ValueError)):
        Ed25519PublicKey.from_public_bytes(public.raw).verify(signature, data)


def test_keys_never_show_their_material() -> None:
    seed = bytes(range(32))
    for text in (repr(KEY), repr(KEY.public), str(KEY)):
        assert seed.hex() not in text and "key_id=" in text
    assert VerifyKey(KEY.public.raw) == KEY.public
