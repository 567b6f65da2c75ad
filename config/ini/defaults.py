"""The complete, commented ini file for a new home; etc/directlink.ini is its output."""

from __future__ import annotations

import os

from config.ini.keys import KNOWN_KEYS
from config.ini.parsing import parse_config

_HEADER = """\
# directlink client configuration.
#
# The client daemon takes requests from ERP systems on this host, signs and
# encrypts them, and forwards them to the bank. Lines starting with # or ;
# are comments; a # after a value is part of the value. Relative paths are
# relative to this file's directory. `directlink config set SECTION KEY VALUE`
# edits a value (checking it and keeping these comments);
# `directlink config validate` checks the whole file.
"""


def _format_value(value: object) -> str:
    if isinstance(value, bool):
        raise TypeError("booleans are not config values; use 0 or 1")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, tuple | list):
        return ", ".join(str(item) for item in value)
    return str(value)


def render_default_config(
    *,
    corp_no: str,
    user_no: str,
    host: str = "127.0.0.1",
    port: int = 9003,
    erp_port: int = 30010,
    http_port: int = 8899,
    certflag: int = 1,
    password_hash: str = "",
    connect_timeout: float = 5,
    request_timeout: float = 30,
    heartbeat_interval: float = 30,
    proxy: str = "",
    max_frame: int = 1048576,
    private_key: str | os.PathLike[str] = "../keys/client.key",
    certificate: str | os.PathLike[str] = "../keys/client.pub",
    bank_key: str | os.PathLike[str] = "../keys/bank.pub",
    bank_fingerprint: str = "",
    allow: str | tuple[object, ...] | list[object] = "127.0.0.1",
    listen: str = "127.0.0.1",
    encoding: str = "GBK",
    max_request: int = 1048576,
    client_timeout: float = 30,
    log_file: str | os.PathLike[str] = "../log/directlink.log",
    dir: str | os.PathLike[str] = "../files",  # [files] dir, named after its key as all are
) -> str:
    """A complete, commented ini file with these values (the rest at their defaults).

    The result is checked before it is returned: bad values raise
    ConfigError (source ``<rendered>``) rather than produce a broken file.
    """
    given = dict(locals())  # exactly the parameters: one per key, named after it
    out = [_HEADER]
    for section, keys in KNOWN_KEYS.items():
        out.append(f"\n[{section}]\n")
        for key, spec in keys.items():
            out.append(f"# {spec.sentence}\n")
            out.extend(f"# {note}\n" for note in spec.notes)
            if spec.default is None:
                out.append("# Required.\n")
            else:
                out.append(f"# Default: {spec.default or '(empty)'}\n")
            value = _format_value(given[key])
            out.append(f"{key} = {value}".rstrip() + "\n")
            if key != list(keys)[-1]:
                out.append("\n")
    text = "".join(out)
    parse_config(text, "<rendered>")
    return text
