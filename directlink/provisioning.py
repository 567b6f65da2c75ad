"""A client home enrolled with a bank in one step, for a bank and client kept together.

``directlink up`` and the test harness (:mod:`directlink.testing.harness`)
hold both halves, so they do at once what ``directlink config init``
(certflag=1), ``core enroll``, ``core export-key`` and ``enroll --bank-key``
do apart: a fresh Ed25519 key encrypted with the security password, its
public half in the bank's register, the bank's key copied and its
fingerprint pinned in the client's ini (written 0600: it holds the
password's hash).
"""

from __future__ import annotations

import shutil

from config.ini import IniFile, hash_password, password_bytes, render_default_config
from core_sim.home import CoreHome
from daemon.home import ClientHome, write_secret
from protocol.keys import BankKeyPair, SigningKey


def provision_client(client: ClientHome, core_home: CoreHome, bank_keys: BankKeyPair, *,
                     corp_no: str, user_no: str, password: str,
                     password_hash: str | None = None) -> SigningKey:
    """Make ``client`` a home for ``corp_no``/``user_no``, enrolled with ``core_home``.

    ``password_hash`` saves the scrypt hash (~50 ms) when the caller has it
    already. Returns the client's new signing key.
    """
    key = SigningKey.generate()
    write_secret(client.keys / "client.key", key.to_pem(password_bytes(password)))
    (client.keys / "client.pub").write_bytes(key.public.to_pem())
    shutil.copyfile(core_home.public_keys, client.keys / "bank.pub")
    IniFile.from_text(client.config, render_default_config(
        corp_no=corp_no, user_no=user_no, certflag=1,
        password_hash=password_hash or hash_password(password),
        bank_fingerprint=bank_keys.public.fingerprint,
    )).save()
    # The core reads its register at every handshake: enrolling while it runs counts.
    core_home.register.enroll(corp_no, user_no, key.public)
    return key
