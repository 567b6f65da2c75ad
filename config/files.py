"""Writing the files of a home: never half-written, and private to their owner.

A home (the client's, the bank's) holds a private key, the security
password's hash, the ledger and logs that name accounts and amounts. Every
file in it is written through :func:`write_atomically` (mode 0600 unless the
caller says the file is public, as a public key is), every directory it
creates is 0700 (:func:`make_private_dir`), and a file that another library
opens in its own way — SQLite's database, a log handler's file — is created
first, empty and 0600, by :func:`create_private`. The process umask decides
none of it: a umask of 022 would make all of these readable by every user.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def make_private_dir(path: Path) -> Path:
    """Create ``path`` and whatever of its parents is missing, each 0700.

    Directories that exist already keep their mode: an admin who made the home
    group-readable on purpose keeps that.
    """
    missing = []
    current = Path(path).absolute()
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it meanwhile
            os.mkdir(directory, PRIVATE_DIR)
    return path


def create_private(path: Path) -> Path:
    """Make sure ``path`` exists: create it empty and 0600 if it does not.

    An existing file is neither truncated nor changed. SQLite then creates
    the database's ``-wal`` and ``-shm`` files with the database file's own
    permissions, so a ledger created here keeps all three private.
    """
    make_private_dir(Path(path).absolute().parent)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE))
    return path


def write_atomically(path: Path, data: bytes, *, mode: int = PRIVATE_FILE,
                     replace: bool = True) -> None:
    """Replace ``path`` with ``data`` all at once, durably, with the given permissions.

    A temporary file in the same directory is written, flushed to disk, given
    ``mode`` and renamed over ``path``; then the directory itself is synced,
    because the rename is durable only once the directory entry is on disk.
    Missing directories are created 0700. With ``replace=False`` an existing
    ``path`` is left alone and FileExistsError raised: the file is linked into
    place, which fails rather than overwrites (two processes generating the
    same key at once: one wins, the other reads the winner's).
    """
    directory = path.absolute().parent
    make_private_dir(directory)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        if replace:
            os.replace(temp, path)
        else:
            os.link(temp, path)
            os.unlink(temp)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
