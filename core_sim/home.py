"""Where the bank core keeps its state: ``<home>/core/``.

    core/ledger.db      the SQLite ledger (WAL)
    core/bank-keys.pem  the bank's private keys (PKCS#8)
    core/bank.pub       the bank's public keys and fingerprint, to hand to clients
    core/enrolled/      enrolled enterprise keys (see core_sim.enrollment)
    core/seed.yaml      the seed the ledger was created from
    core/core.log       the server's and the ledger process's log
    core/journal.jsonl  the bank's journal, when it is kept (core serve --journal)

What holds money or secrets is private to the owner: directories are created
0700, the ledger (with its -wal and -shm), the seed, the keys and the log
0600, whatever the umask (see config.files). Public keys are 0644.

The same ``--home`` serves the client side too (its files live beside, in
``etc/``, ``keys/`` and ``log/``), so ``directlink up --home DIR`` and
``directlink core check --home DIR`` name one directory.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from config.files import create_private, make_private_dir, write_atomically
from core_sim.enrollment import KeyRegister
from protocol.keys import BankKeyPair, KeyFileError


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
    def journal(self) -> Path:
        return self.dir / "journal.jsonl"

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

    def create(self, seed_text: str, seed_files: Iterable[Path] = ()) -> None:
        """Lay out a new bank: its directory, a copy of the seed, an empty ledger file.

        ``seed_files`` are the CSV lists the seed names (``{file: NAME.csv}``):
        they are copied beside the copy of the seed, 0600 like it (they hold
        people's accounts), so that the copy loads as the original did. The
        ledger file is made here, 0600, before SQLite opens it: SQLite would
        create it (and then its -wal and -shm, which copy its mode) by the
        umask.
        """
        make_private_dir(self.dir)
        for source in seed_files:
            target = self.dir / source.name
            temporary = target.with_name(f".{target.name}.tmp")
            temporary.unlink(missing_ok=True)
            with source.open("rb") as data, open(create_private(temporary), "wb") as out:
                shutil.copyfileobj(data, out, 1 << 20)
            os.replace(temporary, target)
        write_atomically(self.seed, seed_text.encode("utf-8"))
        create_private(self.ledger)

    def bank_keys(self, *, create: bool = False) -> BankKeyPair:
        """The bank's key pair; generated on first use when ``create``.

        A key file that cannot be read is a :class:`KeyFileError` naming it.
        """
        if self.private_keys.exists():
            return self._read_keys()
        if not create:
            raise FileNotFoundError(f"{self.private_keys}: the bank has no keys yet")
        keys = BankKeyPair.generate()
        try:
            write_atomically(self.private_keys, keys.to_pem(None), replace=False)
        except FileExistsError:  # another process made the bank's keys meanwhile
            return self._read_keys()
        write_atomically(self.public_keys, keys.public.to_text().encode("ascii"), mode=0o644)
        return keys

    def _read_keys(self) -> BankKeyPair:
        try:
            return BankKeyPair.from_pem(self.private_keys.read_bytes(), None)
        except KeyFileError as exc:
            raise KeyFileError(f"{self.private_keys}: {exc}") from None
