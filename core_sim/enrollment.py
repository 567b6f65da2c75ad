"""The bank's register of enrolled enterprise keys.

One file per key under ``<core home>/enrolled/<key_id>.pem``: two comment
lines naming the enterprise and operator, then the public key in PEM. Files
are easy to inspect and to hand over, like the key letters a bank files. The
server reads the file at every handshake (once per connection, never per
message), so a key enrolled — or a file removed to revoke it — while the
core runs counts from the next handshake.
"""

from __future__ import annotations

import re
from pathlib import Path

from config.files import write_atomically
from protocol.events import EnrolledKey
from protocol.keys import KeyFileError, VerifyKey

_HEADER = re.compile(r"^# (corp_no|user_no): (\S+)$", re.M)
_KEY_ID = re.compile(r"^[0-9a-f]{16}$")


class KeyRegister:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def enroll(self, corp_no: str, user_no: str, key: VerifyKey) -> Path:
        """Register ``key`` for the operator (atomically; replaces an earlier enrollment)."""
        path = self.directory / f"{key.key_id}.pem"
        text = f"# corp_no: {corp_no}\n# user_no: {user_no}\n" + key.to_pem().decode("ascii")
        write_atomically(path, text.encode("ascii"), mode=0o644)
        return path

    def lookup(self, key_id: str) -> EnrolledKey | None:
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
