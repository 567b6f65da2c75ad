"""Where the client keeps its files, laid out like the bank client's own folder.

    etc/directlink.ini   the ini config (see etc/directlink.ini in the source tree)
    keys/client.key      the enterprise's Ed25519 private key, PKCS#8 encrypted with
                         the security password
    keys/client.pub      its public key (what the bank enrolls)
    keys/bank.pub        the bank's public keys; the ini pins their fingerprint
    log/directlink.log   one line per ERP request
    files/               the exchange folder (ini ``[files] dir``): the ERP's batch files
                         and the daemon's result files; the daemon creates it

``directlink up`` also keeps ``etc/password`` so that its demo can start
unattended; a production install types the password or passes a file.

The home is private to its owner whatever the umask: directories are created
0700 (the exchange folder too, wherever ``[files] dir`` puts it), the ini (it
holds the security password's hash), the keys, the password and the log 0600;
public keys may be 0644. Every file goes through
config.files.write_atomically (:func:`write_secret` here, IniFile.save for the ini).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from config.files import make_private_dir, write_atomically
from config.ini import ClientConfig, password_bytes
from protocol.keys import BankPublicKeys, KeyFileError, SigningKey, normalize_fingerprint

PASSWORD_ENV = "DIRECTLINK_PASSWORD"


class SetupError(Exception):
    """The client cannot start or act: the message says what to do."""


@dataclass(frozen=True)
class ClientHome:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "etc" / "directlink.ini"

    @property
    def password_file(self) -> Path:
        return self.root / "etc" / "password"

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def log_dir(self) -> Path:
        return self.root / "log"

    @property
    def files(self) -> Path:
        """The default exchange folder (ini ``[files] dir`` names the one in use)."""
        return self.root / "files"


def make_exchange_folder(config: ClientConfig) -> Path:
    """Create the config's exchange folder (``[files] dir``) if it is missing, 0700.

    A folder that exists keeps its mode. Raises :class:`SetupError` naming the
    file and key when the folder cannot be made or is not a folder.
    """
    folder = config.files.dir
    where = f"{config.source}: [files] dir: {folder}"
    try:
        make_private_dir(folder)
    except OSError as exc:
        raise SetupError(f"{where}: cannot create the exchange folder: "
                         f"{exc.strerror or exc}") from None
    if not folder.is_dir():
        raise SetupError(f"{where}: not a folder")
    return folder


def read_password(home: ClientHome, password_file: Path | None = None) -> str | None:
    """The security password from a file, the environment, or the home's demo file."""
    if password_file is not None:
        return password_file.read_text(encoding="utf-8").rstrip("\r\n")
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    if home.password_file.exists():
        return home.password_file.read_text(encoding="utf-8").rstrip("\r\n")
    return None


def write_secret(path: Path, data: bytes) -> None:
    """Write a file readable by its owner only (0600, in 0700 directories): atomically."""
    write_atomically(path, data, mode=0o600)


def load_signing_key(config: ClientConfig, password: str | None) -> SigningKey:
    path = config.enterprise.private_key
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SetupError(f"{path}: no private key; run `directlink keys generate`") from None
    try:
        return SigningKey.from_pem(data, password_bytes(password) if password else None)
    except KeyFileError as exc:
        raise SetupError(f"{path}: {exc}") from None


def load_bank_keys(config: ClientConfig) -> BankPublicKeys:
    """The bank's keys, checked against the fingerprint pinned in the config."""
    path = config.enterprise.bank_key
    try:
        keys = BankPublicKeys.from_text(path.read_text(encoding="ascii"))
    except FileNotFoundError:
        raise SetupError(f"{path}: no bank key; run `directlink enroll --bank-key FILE`") \
            from None
    except (KeyFileError, UnicodeDecodeError) as exc:
        raise SetupError(f"{path}: {exc}") from None
    pinned = config.enterprise.bank_fingerprint
    if not pinned:
        raise SetupError(f"{config.source}: [enterprise] bank_fingerprint: the bank's key is "
                         "not pinned; run `directlink enroll --bank-key FILE`")
    if normalize_fingerprint(pinned) != keys.fingerprint:
        raise SetupError(f"{path}: the bank key's fingerprint does not match the pinned "
                         f"[enterprise] bank_fingerprint in {config.source}")
    return keys
