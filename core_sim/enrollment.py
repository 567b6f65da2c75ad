"""The bank's register of enrolled enterprise keys.

One file per key under ``<core home>/enrolled/<key_id>.pem``: two comment
lines naming the enterprise and operator, then the public key in PEM. Files
are easy to inspect and to hand over, like the key letters a bank files; the
server reads a key on first use and caches it, so a key enrolled while the
core runs is seen at the next handshake.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from protocol.events import EnrolledKey
from protocol.keys import KeyFileError, VerifyKey

_HEADER = re.compile(r"^# (corp_no|user_no): (\S+)$", re.M)
_KEY_ID = re.compile(r"^[0-9a-f]{16}$")


class KeyRegister:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._cache: dict[str, EnrolledKey] = {}

    def enroll(self, corp_no: str, user_no: str, key: VerifyKey) -> Path:
        """Register ``key`` for the operator (atomically; replaces an earlier enrollment)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{key.key_id}.pem"
        text = f"# corp_no: {corp_no}\n# user_no: {user_no}\n" + key.to_pem().decode("ascii")
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text, encoding="ascii")
        os.replace(tmp, path)
        self._cache.pop(key.key_id, None)
        return path

    def lookup(self, key_id: str) -> EnrolledKey | None:
        cached = self._cache.get(key_id)
        if cached is not None:
            return cached
        if not _KEY_ID.match(key_id):
            return None
        path = self.directory / f"{key_id}.pem"
        try:
            text = path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError):
            return None
        enrolled = _parse(text)
        if enrolled is None or enrolled.key.key_id != key_id:
            return None
        self._cache[key_id] = enrolled
        return enrolled

    def all(self) -> list[EnrolledKey]:
        found = []
        for path in sorted(self.directory.glob("*.pem")):
            enrolled = self.lookup(path.stem)
            if enrolled is not None:
                found.append(enrolled)
        return found


def _parse(text: str) -> EnrolledKey | None:
    values = dict(_HEADER.findall(text))
    if set(values) != {"corp_no", "user_no"}:
        return None
    try:
        key = VerifyKey.from_pem(text.encode("ascii"))
    except KeyFileError:
        return None
    return EnrolledKey(corp_no=values["corp_no"], user_no=values["user_no"], key=key)
