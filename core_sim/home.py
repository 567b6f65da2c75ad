"""Where the bank core keeps its state: ``<home>/core/``.

    core/ledger.db      the SQLite ledger (WAL)
    core/bank-keys.pem  the bank's private keys (PKCS#8, file mode 0600)
    core/bank.pub       the bank's public keys and fingerprint, to hand to clients
    core/enrolled/      enrolled enterprise keys (see core_sim.enrollment)
    core/seed.yaml      the seed the ledger was created from

The same ``--home`` serves the client side too (its files live beside, in
``etc/``, ``keys/`` and ``log/``), so ``directlink up --home DIR`` and
``directlink core check --home DIR`` name one directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from core_sim.enrollment import KeyRegister
from protocol.keys import BankKeyPair


@dataclass(frozen=True)
class CoreHome:
    root: Path

    @property
    def dir(self) -> Path:
        return self.root / "core"

    @property
    def ledger(self) -> Path:
        return self.dir / "ledger.db"

    @property
    def log(self) -> Path:
        return self.dir / "core.log"

    @property
    def private_keys(self) -> Path:
        return self.dir / "bank-keys.pem"

    @property
    def public_keys(self) -> Path:
        return self.dir / "bank.pub"

    @property
    def seed(self) -> Path:
        return self.dir / "seed.yaml"

    @property
    def register(self) -> KeyRegister:
        return KeyRegister(self.dir / "enrolled")

    def exists(self) -> bool:
        return self.ledger.exists()

    def bank_keys(self, *, create: bool = False) -> BankKeyPair:
        """The bank's key pair; generated on first use when ``create``."""
        if self.private_keys.exists():
            return BankKeyPair.from_pem(self.private_keys.read_bytes(), None)
        if not create:
            raise FileNotFoundError(f"{self.private_keys}: the bank has no keys yet")
        keys = BankKeyPair.generate()
        self.dir.mkdir(parents=True, exist_ok=True)
        _write_private(self.private_keys, keys.to_pem(None))
        self.public_keys.write_text(keys.public.to_text(), encoding="ascii")
        return keys


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
